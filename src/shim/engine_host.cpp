#include "shim/engine_host.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/fd_message.h"
#include "common/file.h"
#include "common/log.h"
#include "sandbox/file_pages.h"
#include "shim/engine_host_wire.h"

namespace runwasi::shim {
namespace {

using namespace host_wire;

using Clock = std::chrono::steady_clock;
// The binary this process runs, for a host of its own.
const std::filesystem::path kSelf = "/proc/self/exe";

std::string textOf(const std::filesystem::path& path) {
  auto bytes = readFile(path);
  return bytes ? std::string(bytes->begin(), bytes->end()) : std::string("?");
}

// The daemon's command line as ps shows it: start's, as when start forks it, written over
// the host's in place (PR_SET_MM needs CAP_SYS_RESOURCE, which containerd's hosts may lack).
// Cut to the room there is; the rest stays NUL, the last byte too, so that the kernel
// shows the whole area.
void showCommandLine(const std::vector<std::string>& argv) {
  std::string stat = textOf("/proc/self/stat");
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return;
  std::vector<unsigned long> fields;  // from field 3 (state) on
  std::istringstream in(stat.substr(close + 2));
  std::string word;
  while (in >> word) fields.push_back(std::strtoul(word.c_str(), nullptr, 10));
  // arg_start and arg_end are fields 48 and 49 (proc(5)).
  if (fields.size() < 47) return;
  auto* begin = reinterpret_cast<char*>(fields[45]);
  auto* end = reinterpret_cast<char*>(fields[46]);
  if (begin == nullptr || end <= begin) return;
  std::string joined;
  for (const std::string& arg : argv) joined.append(arg).push_back('\0');
  size_t room = static_cast<size_t>(end - begin) - 1;
  std::memset(begin, 0, static_cast<size_t>(end - begin));
  std::memcpy(begin, joined.data(), std::min(room, joined.size()));
  std::string name = std::filesystem::path(argv[0]).filename().string();
  ::prctl(PR_SET_NAME, name.c_str(), 0, 0, 0);
}

// The host's child for one start: waits for start's "go" (EOF: start gave up and forks its
// own daemon), takes on start's environment, then becomes the daemon. Never returns.
[[noreturn]] void runHostedDaemon(int connection, HostedStart start, UniqueFd listener,
                                  engine::Engine* engine, const DaemonMain& daemonMain) {
  char go[8];
  ssize_t n;
  do {
    n = ::read(connection, go, sizeof go);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(kGo.size()) || std::string_view(go, kGo.size()) != kGo) ::_exit(0);
  ::close(connection);

  ::clearenv();
  for (const std::string& entry : start.env) ::putenv(::strdup(entry.c_str()));
  if (::chdir(start.cwd.c_str()) != 0) ::_exit(1);
  ::umask(start.umask);
  setOwnOomScore(start.oomScoreAdj);
  showCommandLine(start.argv);

  std::vector<std::string> args(start.argv.begin() + 1, start.argv.end());
  auto flags = parseShimFlags(args);
  if (!flags) ::_exit(1);
  DaemonContext context;
  context.flags = *flags;
  context.socketPath = start.socketPath;
  context.runtimeOptions = std::move(start.runtimeOptions);
  // The zygote takes over the engine the host loaded; nothing ever deletes it (every
  // process that holds it ends with _exit or exit, without unwinding to its owner).
  context.engine = [engine]() -> Expected<std::unique_ptr<engine::Engine>> {
    return std::unique_ptr<engine::Engine>(engine);
  };
  runForkedDaemon(std::move(context), listener.get(), daemonMain);
}

}  // namespace

Expected<std::string> inheritedIdentity(pid_t pid) {
  std::filesystem::path proc = fmt::format("/proc/{}", pid);
  std::string out;
  for (const char* ns : {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(proc / "ns" / ns, ec);
    out += fmt::format("ns {}: {}\n", ns, ec ? "-" : target.string());
  }
  std::error_code ec;
  auto root = std::filesystem::read_symlink(proc / "root", ec);
  if (ec) return makeError(ErrorCode::kUnavailable, fmt::format("process {} is gone", pid));
  out += "root: " + root.string() + "\n";
  out += "cgroup:\n" + textOf(proc / "cgroup");
  out += "limits:\n" + textOf(proc / "limits");
  out += "lsm: " + textOf(proc / "attr" / "current") + "\n";
  std::string status = textOf(proc / "status");
  for (std::string_view text = status; !text.empty();) {
    std::string_view line = text.substr(0, text.find('\n'));
    text.remove_prefix(std::min(text.size(), line.size() + 1));
    for (std::string_view key : {"Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:", "CapEff:",
                                 "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:"})
      if (line.starts_with(key)) out.append(line).push_back('\n');
  }
  return out;
}

EngineHost::EngineHost(ShimIdentity identity, sandbox::EngineFactory makeEngine,
                       DaemonMain daemonMain)
    : identity_(std::move(identity)),
      makeEngine_(std::move(makeEngine)),
      daemonMain_(std::move(daemonMain)) {}

std::string EngineHost::socketName() const {
  return engineHostSocketName(identity_.name, kSelf);
}

Expected<pid_t> EngineHost::forkDaemon(const HostedStart& start, int listener) const {
  return forkHostedDaemon(identity_.name, kSelf, start, listener);
}

int EngineHost::run() const {
  ::prctl(PR_SET_NAME, "runwasi-host", 0, 0, 0);
  if (::chdir("/") != 0) return 1;
  std::string name = socketName();
  if (name.empty()) return 1;
  UniqueFd socket(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!socket) return 1;
  socklen_t length;
  sockaddr_un address = abstractAddress(name, length);
  // Bound before loading: a second host launched meanwhile ends here. Starts that connect
  // before listen() get ECONNREFUSED and fork their daemon themselves.
  if (::bind(socket.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) return 0;

  // From here on the process holds the engine: it ends with _exit, never through the
  // engine's static destructors (libnode's, V8's), as a zygote does.
  auto filesBefore = sandbox::mappedFiles();
  auto engine = makeEngine_();
  if (!engine) ::_exit(1);
  if (auto prepared = (*engine)->prepare(); !prepared) ::_exit(1);
  (*engine)->prepareForks();
  if (sandbox::threadCount() != 1) ::_exit(1);  // forks would lose threads
  if (filesBefore) (void)sandbox::releaseCleanFilePages(*filesBefore);
  auto own = inheritedIdentity(::getpid());
  if (!own) ::_exit(1);
  if (::listen(socket.get(), 128) != 0) ::_exit(1);

  auto lastRequest = Clock::now();
  for (;;) {
    pollfd fd{socket.get(), POLLIN, 0};
    int ready = ::poll(&fd, 1, 1000);
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (ready < 0 && errno != EINTR) ::_exit(1);
    if (ready <= 0) {
      if (Clock::now() - lastRequest > std::chrono::seconds(kIdleExitSeconds)) ::_exit(0);
      continue;
    }
    lastRequest = Clock::now();
    UniqueFd connection(::accept4(socket.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!connection) continue;
    setTimeouts(connection.get(), kReplyTimeoutMs);

    auto reply = [&](const nlohmann::json& j) {
      (void)sendMessage(connection.get(), j.dump(), "start");
    };
    ucred peer{};
    socklen_t peerLength = sizeof peer;
    if (::getsockopt(connection.get(), SOL_SOCKET, SO_PEERCRED, &peer, &peerLength) != 0 ||
        peer.uid != ::geteuid()) {
      reply({{"error", "not the host's user"}});
      continue;
    }
    std::vector<UniqueFd> fds;
    auto message = receiveFdMessage(connection.get(), fds, kMaxMessage, "start");
    if (!message || fds.size() != 1) {
      reply({{"error", "no start request"}});
      continue;
    }
    auto start = decode(*message);
    if (!start) {
      reply({{"error", start.error().message}});
      continue;
    }
    auto theirs = inheritedIdentity(peer.pid);
    if (!theirs || *theirs != *own) {
      reply({{"error", "start's process differs from the host's (namespaces, cgroups, "
                       "credentials or limits)"}});
      continue;
    }
    pid_t pid = ::fork();
    if (pid == 0) {
      socket.reset();
      runHostedDaemon(connection.get(), std::move(*start), std::move(fds[0]), engine->get(),
                      daemonMain_);
    }
    if (pid < 0) {
      reply({{"error", fmt::format("fork: {}", std::strerror(errno))}});
      continue;
    }
    reply({{"pid", pid}});
  }
}

}  // namespace runwasi::shim
