#include "child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

extern char** environ;

namespace runwasi::stress {
namespace {

int msUntil(Deadline deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 60'000));
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// posix_spawn's file actions, destroyed with the object.
class SpawnActions {
 public:
  SpawnActions() { ::posix_spawn_file_actions_init(&actions_); }
  ~SpawnActions() { ::posix_spawn_file_actions_destroy(&actions_); }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

}  // namespace

bool ChildResult::succeeded() const {
  return WIFEXITED(waitStatus) && WEXITSTATUS(waitStatus) == 0;
}

std::string ChildResult::describe() const {
  if (WIFEXITED(waitStatus)) return fmt::format("exit status {}", WEXITSTATUS(waitStatus));
  if (WIFSIGNALED(waitStatus)) return fmt::format("killed by signal {}", WTERMSIG(waitStatus));
  return fmt::format("wait status {:#x}", waitStatus);
}

Expected<ChildResult> runChild(const ChildCommand& command, Deadline deadline) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return makeSysError("pipe2");
  UniqueFd readEnd(fds[0]);
  UniqueFd writeEnd(fds[1]);
  // posix_spawn (vfork-like) rather than fork: this process has many threads and memory.
  // The pipe is close-on-exec, so concurrent spawns never inherit each other's.
  SpawnActions actions;
  ::posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(actions.get(), writeEnd.get(), STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(actions.get(), writeEnd.get(), STDERR_FILENO);
  if (!command.cwd.empty())
    ::posix_spawn_file_actions_addchdir_np(actions.get(), command.cwd.c_str());
  std::vector<std::string> argv = command.argv;
  std::vector<std::string> env = command.env;
  pid_t pid = 0;
  int err = ::posix_spawn(&pid, argv.at(0).c_str(), actions.get(), nullptr, pointers(argv).data(),
                          pointers(env).data());
  if (err != 0) return makeSysError(fmt::format("cannot run {}", command.argv[0]), err);
  writeEnd.reset();

  ChildResult result;
  bool timedOut = false;
  char buf[4096];
  for (;;) {
    pollfd p{readEnd.get(), POLLIN, 0};
    int ready = ::poll(&p, 1, msUntil(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      timedOut = true;
      break;
    }
    ssize_t n = ::read(readEnd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buf, static_cast<size_t>(n));
  }
  if (timedOut) ::kill(pid, SIGKILL);
  while (::waitpid(pid, &result.waitStatus, 0) < 0 && errno == EINTR) {
  }
  if (timedOut)
    return makeError(ErrorCode::kUnavailable,
                     fmt::format("{} did not finish in time (killed){}", command.argv[0],
                                 result.output.empty() ? "" : ": " + result.output));
  return result;
}

std::vector<std::string> environmentWith(const std::vector<std::string>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    std::string_view key = entry.substr(0, entry.find('=') + 1);
    bool replaced = std::any_of(overrides.begin(), overrides.end(),
                                [&](const std::string& o) { return o.starts_with(key); });
    if (!replaced) env.emplace_back(entry);
  }
  env.insert(env.end(), overrides.begin(), overrides.end());
  return env;
}

UniqueFd openPidfd(pid_t pid) {
  // pidfd_open's fds are always close-on-exec.
  return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
}

bool waitPidfd(int pidfd, Deadline deadline) {
  for (;;) {
    pollfd p{pidfd, POLLIN, 0};
    int ready = ::poll(&p, 1, msUntil(deadline));
    if (ready < 0 && errno == EINTR) continue;
    return ready > 0;
  }
}

std::chrono::nanoseconds processCpuTime(pid_t pid, bool reapedChildren) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The fields after the command name (which may hold anything, up to the last ')').
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream fields(stat.substr(close + 1));
  std::vector<std::string> f;
  for (std::string field; fields >> field;) f.push_back(field);
  // f[0] is field 3 (state); utime, stime, cutime, cstime are fields 14 to 17.
  if (f.size() < 15) return {};
  int64_t ticks = std::stoll(f[11]) + std::stoll(f[12]);
  if (reapedChildren) ticks += std::stoll(f[13]) + std::stoll(f[14]);
  static const int64_t kTicksPerSecond = ::sysconf(_SC_CLK_TCK);
  return std::chrono::nanoseconds(ticks * 1'000'000'000 / kTicksPerSecond);
}

std::vector<pid_t> childrenOf(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/task/{}/children", pid, pid));
  std::vector<pid_t> out;
  for (pid_t child; in >> child;) out.push_back(child);
  return out;
}

std::string ProcessInfo::describe() const {
  return fmt::format("{}: {}", pid, fmt::join(argv, " "));
}

std::vector<ProcessInfo> processesMentioning(std::string_view needle) {
  std::vector<ProcessInfo> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    if (std::stoi(name) == ::getpid()) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    std::string cmdline = s.str();
    if (cmdline.find(needle) == std::string::npos) continue;
    ProcessInfo info{std::stoi(name), {}};
    for (size_t pos = 0; pos < cmdline.size();) {
      size_t end = cmdline.find('\0', pos);
      if (end == std::string::npos) end = cmdline.size();
      info.argv.push_back(cmdline.substr(pos, end - pos));
      pos = end + 1;
    }
    found.push_back(std::move(info));
  }
  return found;
}

}  // namespace runwasi::stress
