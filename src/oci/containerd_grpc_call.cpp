// What every gRPC call of the containerd client shares: the channel, the metadata and
// deadline of a call, and errors in containerd's terms.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/core.h>

#include "common/unique_fd.h"
#include "oci/containerd_grpc.h"

namespace runwasi::oci {
namespace {

// gRPC's codes as containerd's error kinds (containerd's errdefs maps them the same way).
struct CodeMapping {
  grpc::StatusCode grpc;
  ErrorCode ours;
};
constexpr CodeMapping kCodes[] = {
    {grpc::StatusCode::NOT_FOUND, ErrorCode::kNotFound},
    {grpc::StatusCode::ALREADY_EXISTS, ErrorCode::kAlreadyExists},
    {grpc::StatusCode::INVALID_ARGUMENT, ErrorCode::kInvalidArgument},
    {grpc::StatusCode::OUT_OF_RANGE, ErrorCode::kInvalidArgument},
    {grpc::StatusCode::FAILED_PRECONDITION, ErrorCode::kFailedPrecondition},
    {grpc::StatusCode::ABORTED, ErrorCode::kFailedPrecondition},
    {grpc::StatusCode::PERMISSION_DENIED, ErrorCode::kFailedPrecondition},
    {grpc::StatusCode::UNAVAILABLE, ErrorCode::kUnavailable},
    // Worth retrying later, as Unavailable is.
    {grpc::StatusCode::DEADLINE_EXCEEDED, ErrorCode::kUnavailable},
    {grpc::StatusCode::RESOURCE_EXHAUSTED, ErrorCode::kUnavailable},
    {grpc::StatusCode::UNIMPLEMENTED, ErrorCode::kUnimplemented},
    {grpc::StatusCode::INTERNAL, ErrorCode::kInternal},
    {grpc::StatusCode::DATA_LOSS, ErrorCode::kInternal},
};

ErrorCode errorCodeOf(grpc::StatusCode code) {
  for (const CodeMapping& mapping : kCodes)
    if (mapping.grpc == code) return mapping.ours;
  return ErrorCode::kUnknown;
}

// Why nothing answers at `path`, as connect(2) sees it: gRPC's channel states say only
// that connecting failed. Called on that error path only (a probe connection would show up
// in containerd's log).
std::string whyUnreachable(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return std::strerror(errno);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0)
    return std::strerror(errno);
  return "it accepts connections but does not speak gRPC";
}

}  // namespace

void prepareContext(grpc::ClientContext& context, const CallSettings& settings,
                    std::optional<std::chrono::milliseconds> timeout, std::string_view leaseId) {
  context.AddMetadata("containerd-namespace", settings.ns);
  if (!leaseId.empty()) context.AddMetadata("containerd-lease", std::string(leaseId));
  if (timeout) context.set_deadline(std::chrono::system_clock::now() + *timeout);
}

Error callError(const grpc::Status& status, const CallSettings& settings, std::string_view method,
                std::string_view subject) {
  std::string what = fmt::format("containerd {}{}{}", method, subject.empty() ? "" : " ", subject);
  grpc::StatusCode grpcCode = status.error_code();
  // containerd sees our deadline too: when its context expires first it answers Unknown
  // with Go's "context deadline exceeded", which is the same event as ours.
  if (grpcCode == grpc::StatusCode::UNKNOWN &&
      status.error_message().find("context deadline exceeded") != std::string::npos)
    grpcCode = grpc::StatusCode::DEADLINE_EXCEEDED;
  ErrorCode code = errorCodeOf(grpcCode);
  switch (grpcCode) {
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Error{code, 0,
                   fmt::format("{}: no answer from {} within the deadline ({})", what,
                               settings.socketPath, status.error_message())};
    case grpc::StatusCode::UNAVAILABLE:
      return Error{code, 0,
                   fmt::format("{}: {} (containerd socket {})", what, status.error_message(),
                               settings.socketPath)};
    default:
      return Error{code, 0, fmt::format("{}: {}", what, status.error_message())};
  }
}

Expected<std::shared_ptr<grpc::Channel>> connectChannel(const CallSettings& settings) {
  const std::string& path = settings.socketPath;
  if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path))
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("containerd socket path \"{}\": empty or longer than {} bytes",
                                 path, sizeof(sockaddr_un::sun_path) - 1));
  // Fail at once on what gRPC would only retry with back-off.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return tl::unexpected(
        Error{ErrorCode::kUnavailable, errno,
              fmt::format("containerd socket {}: {}", path, std::strerror(errno))});
  if (!S_ISSOCK(st.st_mode))
    return makeError(ErrorCode::kUnavailable,
                     fmt::format("containerd socket {}: not a socket", path));

  grpc::ChannelArguments args;
  // containerd 1.6 sends and accepts messages up to 16 MiB (defaults.DefaultMaxRecvMsgSize).
  args.SetMaxReceiveMessageSize(16 << 20);
  // Never route a unix socket through $http_proxy.
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  // A connection of its own rather than one shared through gRPC's global subchannel pool:
  // destroying the client then closes it.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel("unix:" + path, grpc::InsecureChannelCredentials(), args);

  auto deadline = std::chrono::system_clock::now() + settings.options.connectTimeout;
  for (grpc_connectivity_state state = channel->GetState(true); state != GRPC_CHANNEL_READY;
       state = channel->GetState(true)) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN)
      return makeError(
          ErrorCode::kUnavailable,
          fmt::format("cannot connect to containerd at {}: {}", path, whyUnreachable(path)));
    if (!channel->WaitForStateChange(state, deadline))
      return makeError(ErrorCode::kUnavailable,
                       fmt::format("containerd at {} did not answer within {} ms", path,
                                   settings.options.connectTimeout.count()));
  }
  return channel;
}

Expected<void> checkSha256Digest(std::string_view digest) {
  constexpr std::string_view kPrefix = "sha256:";
  bool ok = digest.size() == kPrefix.size() + 64 && digest.starts_with(kPrefix);
  for (size_t i = kPrefix.size(); ok && i < digest.size(); ++i)
    ok = (digest[i] >= '0' && digest[i] <= '9') || (digest[i] >= 'a' && digest[i] <= 'f');
  if (!ok)
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("\"{}\" is not a sha256 digest (sha256:<64 hex digits>)", digest));
  return {};
}

Labels toLabels(const google::protobuf::Map<std::string, std::string>& labels) {
  return Labels(labels.begin(), labels.end());
}

void copyLabels(const Labels& labels, google::protobuf::Map<std::string, std::string>* out) {
  for (const auto& [key, value] : labels) (*out)[key] = value;
}

std::chrono::system_clock::time_point toTimePoint(const google::protobuf::Timestamp& timestamp) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(timestamp.seconds()) + std::chrono::nanoseconds(timestamp.nanos())));
}

}  // namespace runwasi::oci
