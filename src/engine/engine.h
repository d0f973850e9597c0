// The Engine interface: what every WebAssembly engine offers the runtime and the shims.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/file.h"
#include "wasi/host.h"

namespace runwasi::engine {

// A module to run: its bytes (binary wasm) and where they came from.
struct ModuleSource {
  std::string name;    // for messages: a file path or a layer digest
  Bytes bytes;         // the module's binary form
  std::string digest;  // lower-case hex sha256 of bytes
};

ModuleSource makeModuleSource(std::string name, Bytes bytes);

struct RunOptions {
  std::string function = "_start";  // the export to call: () -> ()
  bool stubUnknownImports = false;  // link non-WASI imports as functions that trap
  // Called once the module is loaded (artifact mapped, V8's isolate made), just before
  // the instance is made: the first moment guest code could run (a start section). A
  // container process waits for Start here, so that loading overlaps containerd's
  // Create-to-Start round trip. Not called when loading fails. May be empty.
  std::function<void()> beforeInstantiate;
  // The caller ends the process (_exit) as soon as run() returns: the engine may leave what
  // the exit frees anyway (V8: the isolate's teardown) instead of freeing it itself.
  bool processExitsAfterRun = false;
};

struct RunResult {
  enum class Kind { kReturned, kExited, kTrapped };
  Kind kind = Kind::kReturned;
  uint32_t exitCode = 0;    // 0 when returned, the proc_exit code, kTrapExitCode on a trap
  std::string trapMessage;  // set when trapped, e.g. "unreachable executed"
};

inline constexpr uint32_t kTrapExitCode = 134;  // as wasmtime, and as runc's SIGABRT

// Turns a module into a form the engine loads faster (code cache, shared object).
class Precompiler {
 public:
  virtual ~Precompiler() = default;
  // Everything besides the module's bytes that the artifact depends on (engine version,
  // flags, compiler): an artifact made under another key must not be loaded.
  virtual std::string cacheKey() const = 0;
  virtual Expected<Bytes> precompile(const ModuleSource& module) const = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;

  virtual std::string_view name() const = 0;
  virtual std::string version() const = 0;
  // Default: the bytes start with the wasm magic "\0asm".
  virtual bool canHandle(std::span<const uint8_t> bytes) const;
  // OCI layer media types this engine runs.
  virtual std::vector<std::string> supportedLayerTypes() const;
  // nullptr when the engine has no precompiled form.
  virtual const Precompiler* precompiler() const { return nullptr; }
  // The engine's once-per-process start-up (V8::Initialize), done early: the zygote calls it
  // before its first fork, so that each container only makes its own instance. Must not
  // leave a thread running (the zygote refuses to fork a threaded process). Idempotent.
  virtual Expected<void> prepare() { return {}; }

  // Zygote only (a process that forks the processes that call run() and never runs a
  // module itself). Module-independent work that every later fork then starts from, shared
  // copy-on-write (V8: an isolate and a context, made once). The zygote calls it when no
  // request is waiting. Must not start a thread or run guest code. Idempotent.
  virtual void prepareForks() {}
  // Zygote only: forks of this process will probably run `module` again (`artifactFd`: its
  // precompiled artifact, or -1). The engine may load it now, without running any of it,
  // so that those forks start from it instead of loading it each. Failures change nothing
  // (the forks then load the module as usual); the engine logs them.
  virtual void prepareModuleForForks(const ModuleSource& module, int artifactFd) {
    (void)module;
    (void)artifactFd;
  }

  // Loads the module (from `artifact` when it is a valid fd holding precompiled output
  // made under precompiler()->cacheKey(); otherwise from module.bytes), links the WASI
  // imports to `host`, and calls options.function. Returns an Error for load, validation
  // and link failures; guest exits and traps are RunResults. Runs on the calling thread.
  virtual Expected<RunResult> run(const ModuleSource& module, int artifactFd,
                                  const RunOptions& options, wasi::Host& host) = 0;
};

}  // namespace runwasi::engine
