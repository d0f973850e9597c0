#include "shim/bootstrap.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "common/log.h"
#include "common/scope_exit.h"
#include "github.com/containerd/containerd/runtime/v2/task/shim.pb.h"
#include "oci/runtime_spec.h"
#include "sandbox/cgroup.h"
#include "shim/engine_host.h"
#include "shim/proto_time.h"
#include "shim/rootfs_mount.h"
#include "shim/shim_address.h"
#include "ttrpc/unix_socket.h"

extern char** environ;

namespace runwasi::shim {
namespace {

constexpr int kListenerFd = 3;
constexpr std::string_view kGroupAnnotation = "io.kubernetes.cri.sandbox-id";
// What runc's shim reports from delete when the exit status is unknown: 128 + SIGKILL.
constexpr uint32_t kUnknownExitStatus = 137;
constexpr int kOomScoreAdjMin = -1000;
constexpr int kOomScoreAdjMax = 1000;

std::filesystem::path bundleOf(const ShimFlags& flags) {
  if (!flags.bundle.empty()) return flags.bundle;
  std::error_code ec;
  std::filesystem::path cwd = std::filesystem::current_path(ec);
  return ec ? std::filesystem::path(".") : cwd;
}

Expected<std::string> readAll(int fd, std::string_view what) {
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return makeSysError("reading " + std::string(what));
    if (n == 0) return data;
    data.append(buf, static_cast<size_t>(n));
  }
}

Expected<void> writeAll(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return makeSysError("writing " + std::string(what));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

// As containerd's shims do: the daemon one point more killable than containerd, so under
// memory pressure the OOM killer takes a shim before containerd. The daemon inherited
// containerd's score through start; it raises its own before it forks anything, so its
// zygote and containers inherit the raised score. Raising needs no privilege; best effort.
void raiseOwnOomScore() {
  if (auto score = ownOomScore())
    setOwnOomScore(std::clamp(*score + 1, kOomScoreAdjMin, kOomScoreAdjMax));
}

// The node-wide lock of our shims' starts (a file beside the sockets, never removed).
Expected<UniqueFd> lockStarts() {
  std::string path = std::string(kSocketDir) + "/.runwasi-start.lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return makeSysError("opening " + path);
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return makeSysError("locking " + path);
  }
  return fd;
}

}  // namespace

HostedStart hostedStart(const std::vector<std::string>& argv, const std::string& runtimeOptions,
                        const std::string& socketPath) {
  HostedStart s;
  s.argv = argv;
  for (char** e = environ; e && *e; ++e) s.env.emplace_back(*e);
  std::error_code ec;
  s.cwd = std::filesystem::current_path(ec).string();
  s.socketPath = socketPath;
  s.runtimeOptions = runtimeOptions;
  mode_t mask = ::umask(0);
  ::umask(mask);
  s.umask = mask;
  s.oomScoreAdj = ownOomScore().value_or(0);
  return s;
}

std::optional<int> ownOomScore() {
  auto current = readFile("/proc/self/oom_score_adj");
  if (!current) return std::nullopt;
  try {
    return std::stoi(std::string(current->begin(), current->end()));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void setOwnOomScore(int score) {
  UniqueFd fd(::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC));
  if (fd) (void)writeAll(fd.get(), std::to_string(score), "oom_score_adj");
}

[[noreturn]] void runForkedDaemon(DaemonContext context, int listener,
                                  const DaemonMain& daemonMain) {
  // Detached: own session, stdio on /dev/null (so containerd's read of start's output ends
  // when start exits); of all descriptors only the listener, as fd 3.
  int devNull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  ::setsid();
  bool ok = devNull >= 0 && ::dup2(devNull, 0) == 0 && ::dup2(devNull, 1) == 1 &&
            ::dup2(devNull, 2) == 2 && ::dup2(listener, kListenerFd) == kListenerFd;
  // Nothing else of start's (or containerd's, or the engine host's) descriptors stays.
  if (!ok || ::syscall(SYS_close_range, kListenerFd + 1, ~0U, 0) != 0) ::_exit(127);
  // The listener must not reach the container processes the daemon starts.
  ::fcntl(kListenerFd, F_SETFD, FD_CLOEXEC);
  raiseOwnOomScore();

  context.listener.reset(kListenerFd);
  context.bundle = bundleOf(context.flags);
  if (const char* ttrpc = std::getenv("TTRPC_ADDRESS")) context.ttrpcAddress = ttrpc;
  int code = daemonMain(context);
  std::exit(code);
}

Expected<void> runExecedDaemon(int argc, char** argv, const DaemonMain& daemonMain) {
  std::vector<std::string> args(argv + 3, argv + argc);
  TRY(ShimFlags flags, parseShimFlags(args));
  int accepting = 0;
  socklen_t length = sizeof accepting;
  if (::getsockopt(kListenerFd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) != 0 ||
      !accepting)
    return makeError(ErrorCode::kInvalidArgument,
                     "the daemon action needs the shim's listening socket as fd 3");
  TRY(std::string options, readAll(STDIN_FILENO, "the runtime options on stdin"));
  DaemonContext context;
  context.flags = std::move(flags);
  context.socketPath = argv[2];
  context.runtimeOptions = std::move(options);
  runForkedDaemon(std::move(context), kListenerFd, daemonMain);
}

int printShimError(const ShimIdentity& identity, const Error& error) {
  std::fprintf(stderr, "%s: %s\n", identity.name.c_str(), error.message.c_str());
  return 1;
}

std::string versionText(const ShimIdentity& identity) {
  // Go's shims: Printf("%s:\n"), Println("  Version: ", v), Println("  Revision:", r),
  // then a Go version line and a blank line. Println's separating space aligns the values.
  return identity.name + ":\n  Version:  " + identity.version +
         "\n  Revision: " + identity.revision + "\n\n";
}

Expected<std::string> readGroupId(const std::filesystem::path& bundle, const std::string& id) {
  std::filesystem::path configPath = bundle / "config.json";
  auto bytes = readFile(configPath);
  if (!bytes) return tl::unexpected(std::move(bytes).error().context("reading the OCI spec"));
  nlohmann::json spec;
  try {
    spec = nlohmann::json::parse(bytes->begin(), bytes->end());
  } catch (const nlohmann::json::parse_error& e) {
    return makeError(ErrorCode::kInvalidArgument,
                     configPath.string() + " is not valid JSON: " + e.what());
  }
  if (!spec.is_object()) {
    return makeError(ErrorCode::kInvalidArgument, configPath.string() + " is not a JSON object");
  }
  auto annotations = spec.find("annotations");
  if (annotations == spec.end() || annotations->is_null()) return id;
  if (!annotations->is_object()) {
    return makeError(ErrorCode::kInvalidArgument,
                     configPath.string() + ": \"annotations\" is not an object");
  }
  auto group = annotations->find(kGroupAnnotation);
  if (group == annotations->end()) return id;
  if (!group->is_string()) {
    return makeError(
        ErrorCode::kInvalidArgument,
        configPath.string() + ": annotation " + std::string(kGroupAnnotation) + " is not a string");
  }
  return group->get<std::string>();
}

Expected<std::string> startShimWith(const ShimFlags& flags, const DaemonLauncher& launch) {
  std::filesystem::path bundle = bundleOf(flags);
  TRY(std::string group, readGroupId(bundle, flags.id));
  std::string address = socketAddress(flags.address, flags.ns, group);
  TRY(std::string path, socketPathOf(address));

  std::error_code ec;
  std::filesystem::create_directories(kSocketDir, ec);
  if (ec) {
    return makeError(ErrorCode::kInternal,
                     "creating " + std::string(kSocketDir) + ": " + ec.message());
  }
  // Starts of one group may race (two containers of a new pod at once): between another
  // start's bind and its listen, its socket looks like a dead daemon's and would be taken
  // over. One lock for the node's starts makes check-and-create atomic; held for the few
  // hundred microseconds until the daemon is forked (the daemon closes its copy).
  TRY(UniqueFd startLock, lockStarts());
  auto listener = ttrpc::listenUnix(path);
  if (!listener && listener.error().sysErrno == EADDRINUSE) {
    // The group's shim answers: this container joins it (containerd's shim grouping).
    if (daemonAnswers(path)) {
      TRY_VOID(writeAddressFile(bundle, address));
      return address;
    }
    // Left by a daemon that died: take the name over.
    TRY_VOID(removeSocket(path));
    listener = ttrpc::listenUnix(path);
  }
  if (!listener) {
    return tl::unexpected(std::move(listener).error().context("creating the shim socket"));
  }
  ScopeExit removeOnError([&] { (void)removeSocket(path); });
  if (::chmod(path.c_str(), 0600) != 0) return makeSysError("chmod " + path);
  TRY_VOID(writeAddressFile(bundle, address));
  ScopeExit removeAddressOnError([&] { ::unlink((bundle / "address").c_str()); });
  TRY_VOID(launch(path, listener->get()));
  removeAddressOnError.dismiss();
  removeOnError.dismiss();
  return address;
}

// Removes the cgroup the bundle's spec names, as `runc delete` does for a container whose
// runtime died: whatever is left in it is killed first. Errors are only logged.
void removeCgroupOf(const std::filesystem::path& bundle, const std::string& id) {
  auto spec = oci::readRuntimeSpec(bundle);
  if (!spec || !spec->linux) return;  // no spec left, or a container without a cgroup
  // Opened, not created: after a clean exit the daemon removed it already, and making a
  // cgroup in every hierarchy only to remove it costs more than the rest of delete.
  auto cgroup = sandbox::openCgroup(spec->linux->cgroupsPath, id);
  if (!cgroup) {
    if (cgroup.error().code != ErrorCode::kNotFound)
      log::warn("delete: the cgroup of {}: {}", id, cgroup.error().message);
    return;
  }
  if (auto removed = (*cgroup)->destroy(); !removed)
    log::warn("delete: {}", removed.error().message);
}

Expected<std::string> deleteShim(const ShimFlags& flags) {
  std::filesystem::path bundle = bundleOf(flags);
  // Candidates: the group's computed address (config.json may be gone: then the id) and
  // whatever the bundle's address file names.
  std::vector<std::string> addresses;
  if (!flags.address.empty()) {
    std::string group = readGroupId(bundle, flags.id).value_or(flags.id);
    addresses.push_back(socketAddress(flags.address, flags.ns, group));
  }
  if (auto recorded = readFile(bundle / "address"); recorded && !recorded->empty()) {
    addresses.emplace_back(recorded->begin(), recorded->end());
  }
  for (const std::string& address : addresses) {
    auto path = socketPathOf(address);
    if (!path) continue;
    std::error_code ec;
    // A live socket belongs to a daemon still serving this group's other containers.
    if (!std::filesystem::exists(*path, ec) || daemonAnswers(*path)) continue;
    if (auto removed = removeSocket(*path); !removed) {
      log::warn("delete: {}", removed.error().message);
    }
  }

  // A daemon that died (SIGKILL) left the container's cgroup (its processes died with it)
  // and the rootfs it mounted in Create.
  removeCgroupOf(bundle, flags.id);
  if (auto unmounted = unmountRootfs(bundle / "rootfs"); !unmounted) {
    log::warn("delete: {}", unmounted.error().message);
  }

  containerd::task::v2::DeleteResponse response;
  response.set_pid(0);
  response.set_exit_status(kUnknownExitStatus);
  setTimestamp(response.mutable_exited_at(), std::chrono::system_clock::now());
  return response.SerializeAsString();
}

int runShimCommand(int argc, char** argv, const ShimIdentity& identity,
                   const StartAction& start) {
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  auto flags = parseShimFlags(args);
  if (!flags) {
    printShimError(identity, flags.error());
    return 1;
  }
  if (flags->version) {
    std::string text = versionText(identity);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  if (flags->debug) log::setLevel(log::Level::kDebug);

  Expected<std::string> output;
  switch (flags->action) {
    case ShimAction::kStart: {
      // containerd reads start's stdout and stderr together as the address: print nothing
      // else on success.
      auto options = readAll(STDIN_FILENO, "the runtime options on stdin");
      if (!options) {
        output = tl::unexpected(std::move(options).error());
        break;
      }
      output = start(*flags, *options);
      break;
    }
    case ShimAction::kDelete:
      output = deleteShim(*flags);
      break;
    case ShimAction::kNone:
      break;
  }
  if (!output) {
    printShimError(identity, output.error());
    return 1;
  }
  if (!writeAll(STDOUT_FILENO, *output, "stdout")) return 1;
  return 0;
}

}  // namespace runwasi::shim
