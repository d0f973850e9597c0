// One container as the shim runs it: the bundle's spec, the rootfs, the module and its
// precompiled artifact, the stdio FIFOs, and the process forked from the zygote.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "engine/artifact_cache.h"
#include "engine/engine.h"
#include "oci/runtime_spec.h"
#include "sandbox/cgroup.h"
#include "sandbox/zygote.h"
#include "shim/containerd_link.h"
#include "shim/reaper.h"
#include "shim/rootfs_mount.h"
#include "shim/stdio_fifo.h"
#include "shim/task_process.h"

namespace runwasi::shim {

// What the instances of one shim share.
struct InstanceEnvironment {
  std::string shimName;        // for messages, e.g. "containerd-shim-v8-v1"
  sandbox::Zygote* zygote;     // forks every container and precompile process
  Reaper* reaper;              // collects their exits
  const engine::Engine* engine;  // the shim's own copy: precompiler key, canHandle
  // For modules that come as image layers, and their artifacts; null: rootfs files only.
  ContainerdLink* containerd = nullptr;
  // Artifacts of modules that come as rootfs files.
  engine::ArtifactCache cache{engine::ArtifactCache::defaultDir()};
};

// What Create asks for.
struct InstanceRequest {
  std::string id;
  std::filesystem::path bundle;
  std::vector<RootfsMount> rootfs;  // empty: the bundle's root is ready as it is
  StdioPaths stdio;
  bool terminal = false;
  bool systemdCgroup = false;  // the runtime option SystemdCgroup
};

// What a spec's process runs, resolved inside the rootfs: a WebAssembly module the engine
// runs in-process, or a native executable (ELF, or a #! script) the sandbox execve's.
struct ResolvedEntrypoint {
  std::string pathInRootfs;  // as found, e.g. "/app.wasm"
  bool native = false;
  std::string function;         // the export to call (modules)
  engine::ModuleSource source;  // the module (modules)
};

// Finds args[0] ("path[#func]") inside `rootfs` as the container would see it: absolute
// paths from the rootfs' root, relative ones with a '/' from cwd, bare names along the
// spec's PATH. Symlinks resolve inside the rootfs (openat2 RESOLVE_IN_ROOT), never to the
// host. A file starting with ELF magic or "#!" is native; anything else must be a module
// `engine` runs and that links. NotFound for a missing entrypoint, InvalidArgument for a
// file that is neither, or an invalid or unlinkable module.
Expected<ResolvedEntrypoint> resolveEntrypoint(const oci::ProcessSpec& process,
                                               const std::filesystem::path& rootfs,
                                               const engine::Engine& engine);

// What Exec asks for: an exec id, the runtime-spec Process (JSON), its stdio.
struct ExecRequest {
  std::string execId;
  std::string processJson;  // ExecProcessRequest.spec's value
  StdioPaths stdio;
  bool terminal = false;
};

class Instance {
 public:
  // Reads and checks the spec, mounts the rootfs, resolves the entrypoint, creates the
  // cgroup, compiles the seccomp profile, opens stdio (or has the process make a pty),
  // precompiles (or finds in the cache) a module's artifact, and forks the container
  // process, which sets up its sandbox, reports how that went (a failure fails Create with
  // its reason) and waits for start(). `onExit` runs once when that process exits (on the
  // reaper's thread, or at once when it has already). Nothing is left behind on error.
  static Expected<std::unique_ptr<Instance>> create(const InstanceRequest& request,
                                                    InstanceEnvironment& env,
                                                    Reaper::OnExit onExit);
  ~Instance();  // destroy()
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  pid_t pid() const { return pid_; }
  const oci::RuntimeSpec& spec() const { return spec_; }
  // The container's cgroup; null when the spec has no linux section.
  const sandbox::Cgroup* cgroup() const { return cgroup_.get(); }
  // The container's own process (its stdio, console, start gate).
  TaskProcess& process() { return *process_; }

  // An exec: a native program or a module, resolved in the container's root as it is
  // now, run by a process the zygote forks into the running container's namespaces,
  // cgroup and root, with the exec's own user, capabilities, env, cwd, rlimits and stdio
  // (or pty) and the container's seccomp profile. Like create(), it waits on its start
  // gate once its set-up has succeeded; `onExit` runs once when it exits. InvalidArgument
  // for a bad process spec, NotFound for a missing program; nothing is left on error.
  Expected<std::unique_ptr<TaskProcess>> exec(const ExecRequest& request, Reaper::OnExit onExit);

  // Freezes or thaws the container's cgroup (Pause, Resume).
  Expected<void> setPaused(bool paused);
  // Update: writes `resources` to the cgroup.
  Expected<void> update(const oci::Resources& resources);
  // Every process of the container: its cgroup's, or just its own process without one.
  Expected<std::vector<pid_t>> pids() const;
  // How many processes of the container the kernel's OOM killer has killed so far (0
  // without a cgroup).
  uint64_t oomKillCount() const;

  // Lets the process run its module.
  Expected<void> start() { return process_->start(); }
  // Sends `signal` to the process; NotFound once it is gone.
  Expected<void> kill(int signal) const { return process_->kill(signal); }
  // Removes the cgroup (killing what is left in it), unmounts the rootfs (when Create
  // mounted it) and releases the process's stdio. Call it after the process has exited.
  // Idempotent.
  Expected<void> destroy();

 private:
  Instance() = default;

  // What create() and exec() share: stdio (or the console), the start gate, the status
  // pipe, the zygote's spawn, the set-up status, the reaper's watch.
  Expected<std::unique_ptr<TaskProcess>> launch(sandbox::SpawnRequest& spawn,
                                                const StdioPaths& stdio, bool terminal,
                                                bool reportsStatus, const std::string& name,
                                                Reaper::OnExit onExit);

  InstanceEnvironment* env_ = nullptr;
  std::string id_;
  std::string config_;  // config.json as read
  oci::RuntimeSpec spec_;
  std::filesystem::path rootfs_;
  bool mounted_ = false;
  std::unique_ptr<sandbox::Cgroup> cgroup_;
  std::unique_ptr<TaskProcess> process_;
  pid_t pid_ = -1;
};

}  // namespace runwasi::shim
