#include "shim/front.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "common/file.h"
#include "common/plugin_library.h"
#include "shim/engine_host.h"

namespace runwasi::shim {
namespace {

constexpr int kListenerFd = 3;

// The daemon when no engine host forks it: a child that execs the daemon binary's hidden
// `daemon` action with the listener as fd 3 and the runtime options on stdin. stdout and
// stderr go to /dev/null first: containerd reads start's output until every copy closes.
// An exec that fails fails the start with its errno (through a close-on-exec pipe).
Expected<void> execDaemon(const std::filesystem::path& binary, const std::vector<std::string>& argv,
                          const std::string& runtimeOptions, const std::string& socketPath,
                          int listener) {
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(runtimeOptions.data()),
                                 runtimeOptions.size());
  TRY(UniqueFd options, memfdWith(bytes, "runtime-options"));
  std::vector<const char*> args = {argv.at(0).c_str(), kDaemonAction.data(), socketPath.c_str()};
  for (size_t i = 1; i < argv.size(); ++i) args.push_back(argv[i].c_str());
  args.push_back(nullptr);
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return makeSysError("pipe");
  UniqueFd reportRead(report[0]), reportWrite(report[1]);
  pid_t pid = ::fork();
  if (pid < 0) return makeSysError("fork for the shim daemon");
  if (pid > 0) {
    reportWrite.reset();
    int err = 0;
    ssize_t n;
    do n = ::read(reportRead.get(), &err, sizeof err);
    while (n < 0 && errno == EINTR);
    if (n == sizeof err) {
      ::waitpid(pid, nullptr, 0);
      return makeSysError("exec " + binary.string(), err);
    }
    return {};
  }
  // The report pipe above fd 3 first, so that no dup2 below lands on it.
  int reportFd = ::fcntl(reportWrite.get(), F_DUPFD_CLOEXEC, kListenerFd + 1);
  int devNull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  bool ok = reportFd > kListenerFd && devNull >= 0 && ::lseek(options.get(), 0, SEEK_SET) == 0 &&
            ::dup2(options.get(), STDIN_FILENO) == STDIN_FILENO &&
            ::dup2(devNull, STDOUT_FILENO) == STDOUT_FILENO &&
            ::dup2(devNull, STDERR_FILENO) == STDERR_FILENO &&
            ::dup2(listener, kListenerFd) == kListenerFd &&
            ::fcntl(kListenerFd, F_SETFD, 0) == 0 &&
            (reportFd == kListenerFd + 1 ||
             ::syscall(SYS_close_range, kListenerFd + 1, reportFd - 1, 0) == 0) &&
            ::syscall(SYS_close_range, reportFd + 1, ~0U, 0) == 0;
  if (ok) ::execv(binary.c_str(), const_cast<char* const*>(args.data()));
  int err = errno;
  (void)!::write(reportFd > kListenerFd ? reportFd : reportWrite.get(), &err, sizeof err);
  ::_exit(127);
}

}  // namespace

Expected<std::filesystem::path> findShimDaemonBinary(const ShimIdentity& identity,
                                                     const std::filesystem::path& buildDir) {
  std::string searched;
  for (const std::filesystem::path& dir : pluginSearchDirs(buildDir)) {
    std::filesystem::path candidate = dir / identity.name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    searched += (searched.empty() ? "" : ", ") + dir.string();
  }
  return makeError(ErrorCode::kNotFound,
                   fmt::format("the shim daemon binary {} is in none of: {}", identity.name,
                               searched));
}

int runShimFront(int argc, char** argv, const ShimIdentity& identity,
                 const std::filesystem::path& daemonBuildDir) {
  auto binary = [&] { return findShimDaemonBinary(identity, daemonBuildDir); };
  if (argc >= 2 && (std::string_view(argv[1]) == "engine-host" ||
                    std::string_view(argv[1]) == kDaemonAction)) {
    auto found = binary();
    if (!found) return printShimError(identity, found.error());
    ::execv(found->c_str(), argv);
    return printShimError(identity, makeSysError("exec " + found->string()).value());
  }
  std::vector<std::string> command(argv, argv + argc);
  return runShimCommand(
      argc, argv, identity,
      [&](const ShimFlags& flags, const std::string& runtimeOptions) -> Expected<std::string> {
        TRY(std::filesystem::path daemon, binary());
        return startShimWith(flags, [&](const std::string& path, int listener) -> Expected<void> {
          if (engineHostEnabled() &&
              forkHostedDaemon(identity.name, daemon, hostedStart(command, runtimeOptions, path),
                               listener))
            return {};
          return execDaemon(daemon, command, runtimeOptions, path, listener);
        });
      });
}

}  // namespace runwasi::shim
