// gRPC status codes and the status a ttrpc call ends with.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "common/error.h"

namespace runwasi::ttrpc {

// The gRPC codes, numbered as on the wire (google.rpc.Code).
enum class Code : int32_t {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

std::string_view codeName(Code code);

// A non-OK outcome of a call. Kept apart from runwasi::Error because containerd tells
// gRPC codes apart that ErrorCode merges (DeadlineExceeded, ResourceExhausted, ...), and
// a status received from a peer must round-trip unchanged.
struct Status {
  Code code = Code::kUnknown;
  std::string message;
};

// A call's result: the response payload (serialized protobuf) or a non-OK status.
template <typename T>
using StatusOr = tl::expected<T, Status>;

inline tl::unexpected<Status> makeStatus(Code code, std::string message) {
  return tl::unexpected(Status{code, std::move(message)});
}

// The status a handler's Error becomes on the wire, and back.
Status statusFromError(const Error& error);
Error errorFromStatus(const Status& status);

}  // namespace runwasi::ttrpc
