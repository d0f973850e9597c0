#include "common/error.h"

#include <cstring>

namespace runwasi {

std::string_view errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnknown:
      return "Unknown";
    case ErrorCode::kNotFound:
      return "NotFound";
    case ErrorCode::kAlreadyExists:
      return "AlreadyExists";
    case ErrorCode::kInvalidArgument:
      return "InvalidArgument";
    case ErrorCode::kFailedPrecondition:
      return "FailedPrecondition";
    case ErrorCode::kUnavailable:
      return "Unavailable";
    case ErrorCode::kUnimplemented:
      return "Unimplemented";
    case ErrorCode::kInternal:
      return "Internal";
  }
  return "Unknown";
}

Error Error::context(std::string_view what) && {
  message = std::string(what) + ": " + message;
  return std::move(*this);
}

Error Error::context(std::string_view what) const& {
  return Error(*this).context(what);
}

tl::unexpected<Error> makeSysError(std::string_view message, int err) {
  ErrorCode code = ErrorCode::kInternal;
  if (err == ENOENT) code = ErrorCode::kNotFound;
  if (err == EEXIST) code = ErrorCode::kAlreadyExists;
  if (err == EINVAL) code = ErrorCode::kInvalidArgument;
  return tl::unexpected(Error{code, err, std::string(message) + ": " + std::strerror(err)});
}

}  // namespace runwasi
