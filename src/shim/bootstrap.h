// The shim binary protocol: what containerd runs the binary for (`start`, `delete`, `-v`),
// and the hand-over from `start` to the long-lived daemon.
//
// `start` forks the daemon (no exec: its command line stays start's): the child makes its
// own session, puts stdio on /dev/null, keeps the cwd (the bundle) and, of all descriptors,
// only the listening socket at /run/containerd/s/<hash> (start created it), as fd 3. It
// calls the DaemonMain with a DaemonContext holding that socket and start's stdin (the
// runtime options, a serialized google.protobuf.Any, possibly empty), and exits with its
// result; start prints the address and exits at once. (A shim with an engine host has the
// host fork it, engine_host.h; V8's front, which holds no daemon, execs its daemon binary
// for it when there is no host, front.h.)
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "sandbox/zygote.h"
#include "shim/bootstrap_flags.h"

namespace runwasi::shim {

// What `-v` reports; each engine's binary passes its own.
struct ShimIdentity {
  std::string name;                  // e.g. "containerd-shim-v8-v1"
  std::string version;               // e.g. "0.1.0"
  std::string revision = "unknown";  // git describe of the build, when known
};

// Everything the daemon starts from.
struct DaemonContext {
  ShimFlags flags;
  UniqueFd listener;             // the listening ttrpc socket (fd 3), close-on-exec
  std::string socketPath;        // its path, for removal when the daemon exits
  std::filesystem::path bundle;  // -bundle, else the working directory
  std::string ttrpcAddress;      // $TTRPC_ADDRESS: containerd's ttrpc socket (events)
  std::string runtimeOptions;    // the serialized options Any start read on stdin
  // Set in a daemon the engine host forked: the engine the host loaded, for the zygote.
  sandbox::EngineFactory engine;
};

// The daemon's body: serve ttrpc on context.listener until shutdown; returns the exit code.
using DaemonMain = std::function<int(DaemonContext&)>;

class EngineHost;
struct HostedStart;

// The whole binary: parses argv, runs the action, prints errors as "<name>: <message>" on
// stderr; returns the process exit code (0, or 1 on error as Go's shims do). With `host`,
// start asks that binary's engine host to fork the daemon (engine_host.h), and the hidden
// action `engine-host` runs the host.
int runShim(int argc, char** argv, const ShimIdentity& identity, const DaemonMain& daemonMain,
            const EngineHost* host = nullptr);

// The pieces runShim is made of, exposed for tests and for the shim's front (front.h).

// Prints "<name>: <message>" on stderr, as the shim reports every error; returns 1.
int printShimError(const ShimIdentity& identity, const Error& error);

// The `-v` text, laid out as containerd's Go shims print it.
std::string versionText(const ShimIdentity& identity);

// The group a container's shim is shared by: the bundle config.json's annotation
// io.kubernetes.cri.sandbox-id, else the container id. A missing or malformed config.json
// is an error.
Expected<std::string> readGroupId(const std::filesystem::path& bundle, const std::string& id);

// How a start sets a new daemon going on the group's socket, listening at `listener`
// (`socketPath`); an error fails the start (and the socket is removed).
using DaemonLauncher = std::function<Expected<void>(const std::string& socketPath, int listener)>;

// `start` without the daemon: reuses a live daemon for the group, else makes the group's
// socket and calls `launch`; writes <bundle>/address and returns the address to print. Starts
// of one node are serialized from the socket's check to `launch`'s return.
Expected<std::string> startShimWith(const ShimFlags& flags, const DaemonLauncher& launch);

// `start` of this binary: startShimWith, the daemon forked running daemonMain (or by the
// engine host, given `host` and start's whole command line `argv`). runtimeOptions is what
// was read from stdin. Must be called by a single-threaded process (it forks).
Expected<std::string> startShim(const ShimFlags& flags, const std::string& runtimeOptions,
                                const DaemonMain& daemonMain, const EngineHost* host = nullptr,
                                const std::vector<std::string>& argv = {});

// What start hands to an engine host: itself (command line `argv`, environment, working
// directory, umask, OOM score), as the daemon would have inherited it.
HostedStart hostedStart(const std::vector<std::string>& argv, const std::string& runtimeOptions,
                        const std::string& socketPath);

// What `start` does once its runtime options are read: the address to print.
using StartAction =
    std::function<Expected<std::string>(const ShimFlags& flags, const std::string& runtimeOptions)>;

// The shim's command line without the hidden actions: flags, `-v`, `start` (by `start`),
// `delete`; errors printed as "<name>: <message>". Returns the exit code.
int runShimCommand(int argc, char** argv, const ShimIdentity& identity, const StartAction& start);

// The hidden action "<shim> daemon SOCKET-PATH <start's arguments>": the daemon of a start
// made by another program (the shim's front, front.h), exec'd with the group's listening
// socket as fd 3 and the runtime options on stdin. runForkedDaemon from there; returns only
// the error that stops it before.
inline constexpr std::string_view kDaemonAction = "daemon";
Expected<void> runExecedDaemon(int argc, char** argv, const DaemonMain& daemonMain);

// This process's /proc/self/oom_score_adj, and setting it (best effort: lowering it needs
// CAP_SYS_RESOURCE).
std::optional<int> ownOomScore();
void setOwnOomScore(int score);

// The daemon side of a fork made for a start (by start itself or by the engine host): a
// new session, stdio on /dev/null, `listener` as fd 3 and no other descriptor, the OOM
// score one above the process's, then daemonMain with `context` completed (listener,
// bundle, $TTRPC_ADDRESS). Exits with daemonMain's result.
[[noreturn]] void runForkedDaemon(DaemonContext context, int listener,
                                  const DaemonMain& daemonMain);

// `delete`: removes what a dead daemon left for this id (its socket file when nothing
// answers on it) and returns the serialized DeleteResponse to print. Never fails on
// things already gone.
Expected<std::string> deleteShim(const ShimFlags& flags);

}  // namespace runwasi::shim
