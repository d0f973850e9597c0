// The zygote: a process forked from the shim before any thread exists, holding an engine
// whose libraries are already loaded; every container process is forked from it.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "engine/engine.h"
#include "wasi/host.h"

namespace runwasi::sandbox {

// What one container process runs. Fds are borrowed: spawn() sends copies, the caller
// keeps (and closes) its own.
struct SpawnRequest {
  std::string containerId;              // for messages and the process name
  std::string modulePath;               // the module on the host; its name when moduleFd >= 0
  int moduleFd = -1;                    // an open module (e.g. an OCI layer blob)
  int artifactFd = -1;                  // the engine's precompiled artifact, or -1
  std::string function = "_start";      // the export to call
  bool stubUnknownImports = false;      // see engine::RunOptions
  std::vector<std::string> args;        // argv, args[0] the program name
  std::vector<std::string> env;         // "KEY=VALUE"
  std::string rootfs;                   // host directory preopened as "/"
  std::string cwd = "/";                // inside rootfs; the process's working directory
  std::vector<wasi::Preopen> preopens;  // more preopens, after "/"
  int stdinFd = -1;                     // -1: /dev/null
  int stdoutFd = -1;                    // -1: /dev/null
  int stderrFd = -1;                    // -1: /dev/null
  // Instead of running the module, write the engine's precompiled artifact to stdoutFd
  // (and exit 0), or the reason there is none to stderrFd (and exit 125). The shim
  // precompiles this way so that neither the engine's runtime (V8) nor its compiler's
  // child processes (wasm2c's gcc) ever live in the shim process itself.
  bool precompileOnly = false;
  // When valid: the process gets ready (stdio, working directory, WASI host) and then
  // waits for one byte on this fd before running the module: Create makes the process,
  // Start releases it. EOF instead of a byte ends the process (exit 0) without running.
  int startGateFd = -1;

  // The Linux sandbox (container_init.h). An empty sandboxSpec means none: the process
  // stays in the zygote's namespaces and cgroup, with the rootfs preopened as "/" (the
  // runwasi CLI). Otherwise the process is cloned into new namespaces, joins its cgroup,
  // pivots into `rootfs` and reports the outcome on statusFd before waiting on the gate.
  std::string sandboxSpec;            // the bundle's config.json, as the shim checked it
  uint64_t cloneFlags = 0;            // CLONE_NEW* for the new namespaces
  std::string pidNamespace;           // a pid namespace to join, or empty
  std::vector<int> cgroupProcsFds;    // cgroup.procs files the process joins
  int seccompFd = -1;                 // the compiled filter (BPF), or -1
  uint32_t seccompFlags = 0;          // SECCOMP_FILTER_FLAG_*
  int statusFd = -1;                  // the write end of the set-up status pipe
  std::string nativePath;             // execve this path (inside the container), no module

  // An exec: instead of a new sandbox, the process joins a running container's
  // (sandboxSpec then holds the container's spec with the exec's process): its cgroup
  // (cgroupProcsFds), the namespaces below (the zygote enters a pid namespace around the
  // fork, so the process is inside it; the process joins the others), and its root.
  bool exec = false;
  std::vector<std::string> namespaceTypes;  // spec types: "pid", "mount", "network", ...
  std::vector<int> namespaceFds;            // /proc/<init>/ns/... of each, in that order
  // When valid: the process gets a pseudo-terminal made in its own root (its /dev/ptmx)
  // as stdin/stdout/stderr and controlling tty, and sends the master here (SCM_RIGHTS)
  // before it reports its set-up status; stdinFd/stdoutFd/stderrFd are unused then.
  int consoleSocketFd = -1;
};

// Exit status of a container process that could not load or start its module after the
// fork (the message is on its stderr); errors found before the fork are spawn()'s Error.
inline constexpr int kContainerSetupFailedExit = 125;

using EngineFactory = std::function<Expected<std::unique_ptr<engine::Engine>>()>;

// Threads of this process, from /proc/self/task; -1 when it cannot be read. A process
// that forks processes which go on running (a zygote, the engine host) must have one.
int threadCount();

// What the zygote's engine is, from its hello: all the shim needs to key its artifact
// cache and name the engine, so that the engine's runtime (V8's libnode, tens of
// milliseconds to load) is loaded in the zygote only, while the shim already serves.
struct EngineFacts {
  std::string name;
  std::string version;
  std::string cacheKey;  // Precompiler::cacheKey(); empty when the engine has none
  std::vector<std::string> layerTypes;
};

// Reaping: the zygote forks each container with CLONE_PARENT, so the container process is a
// direct child of the process that called start() (the shim), which waitpid()s it and sees
// its real exit status or signal; the zygote itself never has children and never reaps.
// The caller must reap the zygote only through stop() (a waitpid(-1) reaper must skip pid()).
class Zygote {
 public:
  // Forks the zygote, which then makes the engine with `factory` (libraries loaded) and
  // prepares it (Engine::prepare: V8 initialises once, single-threaded, before any fork). FailedPrecondition
  // when the calling process has more than one thread. Does not wait for the engine: an
  // engine error is returned by waitReady() and by every spawn().
  static Expected<Zygote> start(EngineFactory factory);

  Zygote(Zygote&& other) noexcept;
  Zygote& operator=(Zygote&& other) noexcept;
  Zygote(const Zygote&) = delete;
  Zygote& operator=(const Zygote&) = delete;
  ~Zygote();  // stop()

  // Waits until the zygote has made its engine (or reports why it could not).
  Expected<EngineFacts> waitReady();

  // Forks a container process and returns its pid, a child of the caller. Errors found
  // before the fork (module unreadable, invalid or not linkable; zygote gone) create no
  // process. Thread-safe: requests are serialized.
  Expected<pid_t> spawn(const SpawnRequest& request);

  // Closes the socket (the zygote exits on EOF) and reaps the zygote. Idempotent. Container
  // processes are not affected: they are the caller's children.
  void stop();

  pid_t pid() const { return pid_; }

 private:
  Zygote(UniqueFd socket, pid_t pid);
  Expected<EngineFacts> waitReadyLocked();

  UniqueFd socket_;
  pid_t pid_ = -1;
  std::unique_ptr<std::mutex> mutex_;  // serializes request/reply pairs on socket_
  bool readyChecked_ = false;          // guarded by *mutex_
  std::optional<Error> startError_;    // guarded by *mutex_: the engine could not be made
  EngineFacts facts_;                  // guarded by *mutex_: from the hello
};

}  // namespace runwasi::sandbox
