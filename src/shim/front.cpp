#include "shim/front.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "common/file.h"
#include "common/plugin_library.h"
#include "shim/engine_host.h"

namespace runwasi::shim {
namespace {

constexpr int kListenerFd = 3;

int fail(const ShimIdentity& identity, const Error& error) {
  std::fprintf(stderr, "%s: %s\n", identity.name.c_str(), error.message.c_str());
  return 1;
}

// The daemon when no engine host forks it: a child that execs the daemon binary's hidden
// `daemon` action with the listener as fd 3 and the runtime options on stdin. stdout and
// stderr go to /dev/null first: containerd reads start's output until every copy closes.
Expected<void> execDaemon(const std::filesystem::path& binary, const std::vector<std::string>& argv,
                          const std::string& runtimeOptions, const std::string& socketPath,
                          int listener) {
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(runtimeOptions.data()),
                                 runtimeOptions.size());
  TRY(UniqueFd options, memfdWith(bytes, "runtime-options"));
  std::vector<const char*> args = {argv.at(0).c_str(), kDaemonAction.data(), socketPath.c_str()};
  for (size_t i = 1; i < argv.size(); ++i) args.push_back(argv[i].c_str());
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return makeSysError("fork for the shim daemon");
  if (pid > 0) return {};
  int devNull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  bool ok = devNull >= 0 && ::lseek(options.get(), 0, SEEK_SET) == 0 &&
            ::dup2(options.get(), STDIN_FILENO) == STDIN_FILENO &&
            ::dup2(devNull, STDOUT_FILENO) == STDOUT_FILENO &&
            ::dup2(devNull, STDERR_FILENO) == STDERR_FILENO &&
            ::dup2(listener, kListenerFd) == kListenerFd &&
            ::fcntl(kListenerFd, F_SETFD, 0) == 0 &&
            ::syscall(SYS_close_range, kListenerFd + 1, ~0U, 0) == 0;
  if (ok) ::execv(binary.c_str(), const_cast<char* const*>(args.data()));
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
    if (!found) return fail(identity, found.error());
    ::execv(found->c_str(), argv);
    return fail(identity, Error{ErrorCode::kInternal, errno, "exec " + found->string() + ": " +
                                                               std::strerror(errno)});
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
