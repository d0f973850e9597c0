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
#include "shim/reaper.h"
#include "shim/rootfs_mount.h"
#include "shim/stdio_fifo.h"

namespace runwasi::shim {

// What the instances of one shim share.
struct InstanceEnvironment {
  std::string shimName;        // for messages, e.g. "containerd-shim-v8-v1"
  sandbox::Zygote* zygote;     // forks every container and precompile process
  Reaper* reaper;              // collects their exits
  const engine::Engine* engine;  // the shim's own copy: precompiler key, canHandle
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

class Instance {
 public:
  // Reads and checks the spec, mounts the rootfs, resolves the entrypoint, creates the
  // cgroup, compiles the seccomp profile, opens stdio, precompiles (or finds in the cache)
  // a module's artifact, and forks the container process, which sets up its sandbox,
  // reports how that went (a failure fails Create with its reason) and waits for start(). `onExit` runs once when that process exits (on the reaper's
  // thread, or at once when it has already). Nothing is left behind on error.
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
  // After the exit: whether the kernel's OOM killer killed a process of the container.
  bool oomKilled() const;

  // Lets the process run its module.
  Expected<void> start();
  // Sends `signal` to the process; NotFound once it is gone.
  Expected<void> kill(int signal) const;
  // After the process exited: waits while containerd is still reading what it wrote to the
  // stdout/stderr FIFOs (bytes left in a pipe, and that number shrinking), so that a client
  // that tears its FIFOs down as soon as Wait returns (`ctr run --rm`) loses nothing. Gives
  // up when nobody reads (a detached task) for `idle`, and after `limit` in any case.
  void waitForOutputDrained(std::chrono::milliseconds idle, std::chrono::milliseconds limit) const;
  // Removes the cgroup (killing what is left in it), unmounts the rootfs (when Create
  // mounted it) and releases the start gate. Call it after the process has exited.
  // Idempotent.
  Expected<void> destroy();

 private:
  Instance() = default;

  std::string id_;
  oci::RuntimeSpec spec_;
  std::filesystem::path rootfs_;
  bool mounted_ = false;
  std::unique_ptr<sandbox::Cgroup> cgroup_;
  std::vector<UniqueFd> outputReaders_;  // see holdOutputReaders
  UniqueFd startGate_;  // the write end; a byte starts the process, closing it ends it
  pid_t pid_ = -1;
};

}  // namespace runwasi::shim
