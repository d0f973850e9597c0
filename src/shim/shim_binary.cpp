// The shim binary's own entry (runShim) and start (startShim): the parts of bootstrap.h that
// run the daemon in this binary or have its engine host fork it. Apart from bootstrap.cpp
// so that the shim's front (front.h), which links bootstrap.cpp, links no daemon.
#include <unistd.h>

#include <algorithm>
#include <string_view>
#include <vector>

#include "shim/bootstrap.h"
#include "shim/engine_host.h"

namespace runwasi::shim {
namespace {

// The daemon is start's own fork, not a re-executed binary: exec and the dynamic loader
// cost ~2.3 ms per shim here (3 ms to run `-v` vs 0.6 ms for an empty program), on every
// container's critical path. start is single-threaded, so the fork is safe. Never returns
// in the child.
Expected<pid_t> forkDaemon(const ShimFlags& flags, const std::string& runtimeOptions, int listener,
                           const std::string& socketPath, const DaemonMain& daemonMain) {
  pid_t pid = ::fork();
  if (pid < 0) return makeSysError("fork for the shim daemon");
  if (pid > 0) return pid;
  DaemonContext context;
  context.flags = flags;
  context.socketPath = socketPath;
  context.runtimeOptions = runtimeOptions;
  runForkedDaemon(std::move(context), listener, daemonMain);
}

}  // namespace

Expected<std::string> startShim(const ShimFlags& flags, const std::string& runtimeOptions,
                                const DaemonMain& daemonMain, const EngineHost* host,
                                const std::vector<std::string>& argv) {
  return startShimWith(flags, [&](const std::string& path, int listener) -> Expected<void> {
    // The engine host's fork if it can (engine_host.h), else our own.
    bool hosted = host && !argv.empty() && engineHostEnabled() &&
                  host->forkDaemon(hostedStart(argv, runtimeOptions, path), listener);
    if (!hosted) TRY_VOID(forkDaemon(flags, runtimeOptions, listener, path, daemonMain));
    return {};
  });
}

int runShim(int argc, char** argv, const ShimIdentity& identity, const DaemonMain& daemonMain,
            const EngineHost* host) {
  // The engine host: "<shim> engine-host" and the empty arguments that make room for its
  // daemons' command lines (engine_host.cpp).
  if (argc >= 2 && std::string_view(argv[1]) == "engine-host" &&
      std::all_of(argv + 2, argv + argc, [](const char* arg) { return *arg == '\0'; })) {
    if (host) return host->run();
    return printShimError(identity,
                          Error{ErrorCode::kInvalidArgument, 0, "this shim has no engine host"});
  }
  // A daemon that a start outside this binary made ready (front.h).
  if (argc >= 3 && std::string_view(argv[1]) == kDaemonAction) {
    return printShimError(identity, runExecedDaemon(argc, argv, daemonMain).error());
  }
  return runShimCommand(argc, argv, identity,
                        [&](const ShimFlags& flags, const std::string& runtimeOptions) {
                          return startShim(flags, runtimeOptions, daemonMain, host,
                                           std::vector<std::string>(argv, argv + argc));
                        });
}

}  // namespace runwasi::shim
