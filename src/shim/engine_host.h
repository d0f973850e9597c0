// The engine host: one long-lived process per node and shim binary that has loaded and
// prepared the engine once, and forks the shim daemons.
//
// Without it every shim daemon's zygote loads the engine's runtime itself: for V8, libnode
// (60k symbol relocations: ~16 ms of CPU) and an isolate (~3 ms), on every `ctr run` and
// every pod. With it, `start` hands its request (argv, environment, working directory,
// runtime options, the listening socket) to the host over a unix socket in the abstract
// namespace; the host forks the daemon, which therefore starts with the engine loaded and
// prepared, and forks its zygote and containers from there (copy-on-write). The daemon is
// the host's child only until it runs: containers stay the daemon's children (its waitpid,
// its subreaper), and a host that dies takes no daemon or container with it.
//
// Nothing depends on the host: `start` forks the daemon itself whenever the host is not
// there (it then launches one for the next starts), not ready, refuses, or does not answer.
// The host refuses a start whose process differs from its own in anything a daemon
// inherits (namespaces, cgroups, root, credentials, capabilities, rlimits, seccomp, LSM
// label): such a daemon is forked by start, as without a host.
//
// Handshake, so that exactly one daemon serves the socket: the host forks the daemon, which
// waits; the host replies with its pid; start answers "go", and only then the daemon runs.
// A start that gave up (timeout) closes the connection instead: the waiting daemon sees EOF
// and exits, and start forks its own.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "sandbox/zygote.h"
#include "shim/bootstrap.h"

namespace runwasi::shim {

// What a start hands over (besides the listening socket).
struct HostedStart {
  std::vector<std::string> argv;  // start's command line, program name first
  std::vector<std::string> env;   // start's environment
  std::string cwd;                // start's working directory (the bundle)
  std::string socketPath;         // the listening socket's path
  std::string runtimeOptions;     // what start read on stdin
  int oomScoreAdj = 0;            // start's (the daemon takes one more, as without a host)
  unsigned umask = 022;
};

class EngineHost {
 public:
  // `makeEngine` loads the engine (in the host only); `daemonMain` is the daemon's body,
  // run in the host's fork with DaemonContext::engine set to the host's loaded engine.
  EngineHost(ShimIdentity identity, sandbox::EngineFactory makeEngine, DaemonMain daemonMain);

  // The abstract socket this binary's host listens on: the shim's name, the identity of the
  // binary (device, inode, size, mtime: an upgraded binary gets a new host) and a digest of
  // the environment the engine reads when it loads ($RUNWASI_*, $LD_*: other V8 flags, other
  // host). Empty when the binary cannot be identified.
  std::string socketName() const;

  // start's side: the daemon forked by the host, or the reason there is none (start then
  // forks it itself). Launches a host when none listens.
  Expected<pid_t> forkDaemon(const HostedStart& start, int listener) const;

  // The host process (`<shim> engine-host`): loads and prepares the engine, then serves
  // starts until it has had none for kIdleExitSeconds. Returns an exit code only before
  // the engine is loaded (e.g. 0 when another host has the name); then ends with _exit.
  int run() const;

  static constexpr int kIdleExitSeconds = 600;

 private:
  ShimIdentity identity_;
  sandbox::EngineFactory makeEngine_;
  DaemonMain daemonMain_;
};

// The abstract socket name of the host of `binary` (EngineHost::socketName for another
// binary than this process's). Empty when the binary cannot be identified.
std::string engineHostSocketName(std::string_view shimName, const std::filesystem::path& binary);

// EngineHost::forkDaemon for the host of `binary`, a shim binary named `shimName` whose
// `engine-host` action runs one: what a start that is not that binary itself (the shim's
// front, front.h) asks. Launches `binary engine-host` when no host listens.
Expected<pid_t> forkHostedDaemon(std::string_view shimName, const std::filesystem::path& binary,
                                 const HostedStart& start, int listener);

// Whether starts may use the host: not when $RUNWASI_ENGINE_HOST is "0" (start's
// environment, i.e. containerd's).
bool engineHostEnabled();

// The description of process `pid` that must match between a start and the host.
Expected<std::string> inheritedIdentity(pid_t pid);

}  // namespace runwasi::shim
