// Errors as values: every fallible operation returns Expected<T>.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace runwasi {

// The error kinds containerd understands (they map onto gRPC status codes).
enum class ErrorCode {
  kUnknown,
  kNotFound,
  kAlreadyExists,
  kInvalidArgument,
  kFailedPrecondition,
  kUnavailable,
  kUnimplemented,
  kInternal,
};

std::string_view errorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kUnknown;
  int sysErrno = 0;     // the errno behind the error, 0 when none
  std::string message;  // what a user can act on, with its context prefixes

  // Prefixes the message: "while X: <message>".
  Error context(std::string_view what) &&;
  Error context(std::string_view what) const&;
};

template <typename T>
using Expected = tl::expected<T, Error>;

inline tl::unexpected<Error> makeError(ErrorCode code, std::string message) {
  return tl::unexpected(Error{code, 0, std::move(message)});
}

// An error from errno: "<message>: <strerror(err)>".
tl::unexpected<Error> makeSysError(std::string_view message, int err = errno);

}  // namespace runwasi

// Propagates an error out of a function returning Expected<...>.
#define RUNWASI_TRY_CONCAT_(a, b) a##b
#define RUNWASI_TRY_NAME_(line) RUNWASI_TRY_CONCAT_(runwasi_try_, line)
#define TRY_VOID(expr)                                                       \
  do {                                                                       \
    auto&& RUNWASI_TRY_NAME_(__LINE__) = (expr);                             \
    if (!RUNWASI_TRY_NAME_(__LINE__))                                        \
      return tl::unexpected(std::move(RUNWASI_TRY_NAME_(__LINE__)).error()); \
  } while (0)
// `TRY(auto x, expr);` declares x from the value of a successful expr.
#define TRY(decl, expr)                                                    \
  auto&& RUNWASI_TRY_NAME_(__LINE__) = (expr);                             \
  if (!RUNWASI_TRY_NAME_(__LINE__))                                        \
    return tl::unexpected(std::move(RUNWASI_TRY_NAME_(__LINE__)).error()); \
  decl = std::move(*RUNWASI_TRY_NAME_(__LINE__))
