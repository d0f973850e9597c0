#include "ttrpc/status.h"

namespace runwasi::ttrpc {

std::string_view codeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kCancelled:
      return "Canceled";
    case Code::kUnknown:
      return "Unknown";
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kDeadlineExceeded:
      return "DeadlineExceeded";
    case Code::kNotFound:
      return "NotFound";
    case Code::kAlreadyExists:
      return "AlreadyExists";
    case Code::kPermissionDenied:
      return "PermissionDenied";
    case Code::kResourceExhausted:
      return "ResourceExhausted";
    case Code::kFailedPrecondition:
      return "FailedPrecondition";
    case Code::kAborted:
      return "Aborted";
    case Code::kOutOfRange:
      return "OutOfRange";
    case Code::kUnimplemented:
      return "Unimplemented";
    case Code::kInternal:
      return "Internal";
    case Code::kUnavailable:
      return "Unavailable";
    case Code::kDataLoss:
      return "DataLoss";
    case Code::kUnauthenticated:
      return "Unauthenticated";
  }
  return "Unknown";
}

Status statusFromError(const Error& error) {
  Code code = Code::kUnknown;
  switch (error.code) {
    case ErrorCode::kUnknown:
      code = Code::kUnknown;
      break;
    case ErrorCode::kNotFound:
      code = Code::kNotFound;
      break;
    case ErrorCode::kAlreadyExists:
      code = Code::kAlreadyExists;
      break;
    case ErrorCode::kInvalidArgument:
      code = Code::kInvalidArgument;
      break;
    case ErrorCode::kFailedPrecondition:
      code = Code::kFailedPrecondition;
      break;
    case ErrorCode::kUnavailable:
      code = Code::kUnavailable;
      break;
    case ErrorCode::kUnimplemented:
      code = Code::kUnimplemented;
      break;
    case ErrorCode::kInternal:
      code = Code::kInternal;
      break;
  }
  return Status{code, error.message};
}

Error errorFromStatus(const Status& status) {
  ErrorCode code = ErrorCode::kUnknown;
  switch (status.code) {
    case Code::kNotFound:
      code = ErrorCode::kNotFound;
      break;
    case Code::kAlreadyExists:
      code = ErrorCode::kAlreadyExists;
      break;
    case Code::kInvalidArgument:
    case Code::kOutOfRange:
      code = ErrorCode::kInvalidArgument;
      break;
    case Code::kFailedPrecondition:
      code = ErrorCode::kFailedPrecondition;
      break;
    case Code::kUnavailable:
    case Code::kDeadlineExceeded:
      code = ErrorCode::kUnavailable;
      break;
    case Code::kUnimplemented:
      code = ErrorCode::kUnimplemented;
      break;
    case Code::kInternal:
    case Code::kDataLoss:
      code = ErrorCode::kInternal;
      break;
    default:
      code = ErrorCode::kUnknown;
      break;
  }
  return Error{code, 0, std::string(codeName(status.code)) + ": " + status.message};
}

}  // namespace runwasi::ttrpc
