#include "shim_process.h"

#include <signal.h>

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "child_process.h"
#include "common/log.h"
#include "github.com/containerd/containerd/runtime/v2/task/shim.pb.h"
#include "ttrpc/status.h"

namespace runwasi::stress {
namespace {

namespace taskv2 = containerd::task::v2;
using namespace std::chrono_literals;

// What `delete` may take at most, after the task's own deadline if need be: the shim's
// leftovers must go whatever happened before.
constexpr auto kDeleteTime = 10s;

std::string trimmed(std::string_view s) {
  size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(begin, end - begin + 1));
}

// start's output: "unix:///run/containerd/s/HASH", or containerd 1.7's JSON form.
Expected<std::string> socketPathFrom(const std::string& output) {
  std::string address = trimmed(output);
  if (address.starts_with('{')) {
    auto json = nlohmann::json::parse(address, nullptr, false);
    if (!json.is_object() || !json.contains("address") || !json["address"].is_string())
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("start printed JSON without an address: {}", address));
    address = json["address"].get<std::string>();
  }
  constexpr std::string_view kUnix = "unix://";
  if (!address.starts_with(kUnix) || address.size() == kUnix.size())
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("start printed \"{}\", not a unix:// address", address));
  return address.substr(kUnix.size());
}

}  // namespace

std::vector<std::string> ShimCommand::argv(const std::string& id,
                                           const std::filesystem::path& bundle,
                                           std::string_view action) const {
  std::vector<std::string> out = {binary.string(), "-namespace",      ns,           "-address",
                                  address,         "-publish-binary", publishBinary};
  if (debug) out.push_back("-debug");
  out.insert(out.end(), {"-id", id});
  // containerd names the bundle only for delete (start runs in it).
  if (action == "delete") out.insert(out.end(), {"-bundle", bundle.string()});
  out.emplace_back(action);
  return out;
}

Expected<std::string> callTask(ttrpc::Client& client, std::string_view method,
                               const google::protobuf::MessageLite& request, Deadline deadline) {
  auto left = std::max(std::chrono::milliseconds(1),
                       std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()));
  auto answer = client.call(kTaskService, method, request.SerializeAsString(), left);
  if (!answer) {
    Error error = ttrpc::errorFromStatus(answer.error());
    error.message = fmt::format("{} failed ({}): {}", method, ttrpc::codeName(answer.error().code),
                                answer.error().message);
    return tl::unexpected(std::move(error));
  }
  return std::move(*answer);
}

Expected<std::unique_ptr<ShimProcess>> ShimProcess::start(const ShimCommand& command,
                                                          std::string id,
                                                          std::filesystem::path bundle,
                                                          Deadline deadline) {
  ChildCommand start{command.argv(id, bundle, "start"), command.env, bundle};
  TRY(ChildResult started, runChild(start, deadline));
  if (!started.succeeded())
    return makeError(ErrorCode::kInternal,
                     fmt::format("{} start: {}: {}", command.binary.filename().string(),
                                 started.describe(), trimmed(started.output)));
  std::unique_ptr<ShimProcess> shim(new ShimProcess(command, std::move(id), std::move(bundle)));
  // From here a daemon may run: the destructor stops it if connecting fails.
  auto connected = shim->connect(started.output, deadline);
  if (!connected) return tl::unexpected(std::move(connected).error().context("after start"));
  return shim;
}

Expected<void> ShimProcess::connect(const std::string& address, Deadline deadline) {
  TRY(socketPath_, socketPathFrom(address));
  TRY(client_, ttrpc::Client::connect(socketPath_));
  // What containerd asks first, too; it tells the daemon's pid (start's child, not ours).
  taskv2::ConnectRequest request;
  request.set_id(id_);
  TRY(auto answer, callTask<taskv2::ConnectResponse>(*client_, "Connect", request, deadline));
  pid_ = static_cast<pid_t>(answer.shim_pid());
  pidfd_ = openPidfd(pid_);
  if (!pidfd_)
    return makeError(ErrorCode::kInternal,
                     fmt::format("the shim daemon (pid {}) is gone right after Connect", pid_));
  return {};
}

void ShimProcess::kill() {
  if (pidfd_) {
    // pidfd_send_signal would be exact; the pidfd pins the pid until we close it anyway.
    ::kill(pid_, SIGKILL);
    waitPidfd(pidfd_.get(), Clock::now() + 2s);
    return;
  }
  // start has exited: what still has its -address and -id is the daemon (or its zygote
  // and containers, which go with it anyway).
  for (const ProcessInfo& p : processesMentioning(command_.address)) {
    auto id = std::find(p.argv.begin(), p.argv.end(), "-id");
    if (id != p.argv.end() && std::next(id) != p.argv.end() && *std::next(id) == id_)
      ::kill(p.pid, SIGKILL);
  }
}

std::chrono::nanoseconds ShimProcess::cpuTime() const {
  if (stopped_) return cpuAtStop_;
  if (pid_ == 0) return {};
  std::chrono::nanoseconds total = processCpuTime(pid_, true);
  for (pid_t child : childrenOf(pid_)) total += processCpuTime(child, false);
  return total;
}

Expected<void> ShimProcess::stop(Deadline deadline) {
  if (stopped_) return {};
  cpuAtStop_ = cpuTime();
  stopped_ = true;
  std::optional<Error> problem;
  if (client_) {
    taskv2::ShutdownRequest request;
    request.set_id(id_);
    if (auto shut = callTask(*client_, "Shutdown", request, deadline); !shut)
      problem = shut.error();
    client_.reset();
  }
  bool exited = pidfd_ && waitPidfd(pidfd_.get(), deadline);
  if (!exited) {
    kill();
    problem = Error{ErrorCode::kUnavailable, 0,
                    fmt::format("the shim daemon{} did not exit after Shutdown{}; killed",
                                pid_ ? fmt::format(" (pid {})", pid_) : std::string(),
                                problem ? " (" + problem->message + ")" : std::string())};
  }
  // containerd runs delete whenever a shim's connection closes: it removes what a dead
  // daemon left (its socket, the bundle's cgroup and rootfs mount).
  ChildCommand remove{command_.argv(id_, bundle_, "delete"), command_.env, bundle_};
  auto deleted = runChild(remove, std::max(deadline, Clock::now() + kDeleteTime));
  if (!deleted) {
    problem = deleted.error();
  } else if (!deleted->succeeded()) {
    problem = Error{
        ErrorCode::kInternal, 0,
        fmt::format("{} delete: {}", command_.binary.filename().string(), deleted->describe())};
  }
  if (problem) return tl::unexpected(std::move(*problem));
  return {};
}

ShimProcess::~ShimProcess() {
  if (auto stopped = stop(Clock::now() + 5s); !stopped)
    log::warn("shim for {}: {}", id_, stopped.error().message);
}

}  // namespace runwasi::stress
