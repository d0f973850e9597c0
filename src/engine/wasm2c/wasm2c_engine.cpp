#include "engine/wasm2c/wasm2c_engine.h"

#include <sys/mman.h>
#include <unistd.h>

#include <fmt/core.h>

#include <exception>
#include <string>

#include "common/log.h"
#include "common/unique_fd.h"
#include "engine/module_info.h"
#include "engine/wasm2c/loaded_module.h"
#include "engine/wasm2c/precompiler.h"
#include "engine/wasm2c/runtime.h"

namespace runwasi::engine {
namespace {

using wasm2c::LoadedModule;

// What the glue's host callback reaches: the WASI host, and what went wrong in it.
struct HostBridge {
  wasi::Host& host;
  std::string failure;  // set when the host call could not complete; the guest unwinds
};

// The glue calls this for every WASI import. It always returns normally (noexcept, every
// exception caught): the glue, not this function, longjmps out of the guest afterwards,
// so no C++ frame with a destructor is ever skipped.
uint32_t hostCall(void* ctx, uint32_t id, uint8_t* memory, uint64_t memorySize,
                  const uint64_t* args, int* unwind) noexcept {
  wasm2c::HostCodeScope hostCode;
  auto* bridge = static_cast<HostBridge*>(ctx);
  if (id >= static_cast<uint32_t>(wasi::FunctionId::kCount)) {
    bridge->failure = fmt::format("unknown WASI function id {}", id);
    *unwind = 1;
    return 0;
  }
  auto function = static_cast<wasi::FunctionId>(id);
  try {
    uint32_t result = bridge->host.call(function, wasi::GuestMemory(memory, memorySize), args);
    if (bridge->host.exitCode()) {
      *unwind = 1;
    } else if (function == wasi::FunctionId::proc_exit) {
      bridge->failure = "proc_exit returned without an exit code";
      *unwind = 1;
    }
    return result;
  } catch (const std::exception& e) {
    bridge->failure = fmt::format("WASI host failed: {}", e.what());
  } catch (...) {
    bridge->failure = "WASI host failed";
  }
  *unwind = 1;
  return 0;
}

Expected<UniqueFd> memfdWith(std::span<const uint8_t> bytes) {
  UniqueFd fd(::memfd_create("runwasi-wasm2c", MFD_CLOEXEC));
  if (!fd) return makeSysError("memfd_create");
  for (size_t off = 0; off < bytes.size();) {
    ssize_t n = ::write(fd.get(), bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return makeSysError("writing the shared object to a memfd");
    off += static_cast<size_t>(n);
  }
  return fd;
}

RunResult resultOf(const runwasi_w2c_outcome& outcome, wasi::Host& host) {
  RunResult r;
  switch (outcome.status) {
    case RUNWASI_W2C_UNWOUND:
      r.kind = RunResult::Kind::kExited;
      r.exitCode = host.exitCode().value_or(0);
      return r;
    case RUNWASI_W2C_STUB_CALLED:
      r.kind = RunResult::Kind::kTrapped;
      r.exitCode = kTrapExitCode;
      r.trapMessage = fmt::format("called the unknown import {} (a stub that traps)",
                                  outcome.detail ? outcome.detail : "?");
      return r;
    case RUNWASI_W2C_TRAPPED:
      r.kind = RunResult::Kind::kTrapped;
      r.exitCode = kTrapExitCode;
      r.trapMessage = wasm2c::trapMessage(outcome.trap);
      return r;
    default:
      return r;  // returned
  }
}

class Wasm2cEngine final : public Engine {
 public:
  explicit Wasm2cEngine(wasm2c::ToolchainOptions options) : precompiler_(std::move(options)) {}

  std::string_view name() const override { return "wasm2c"; }
  std::string version() const override {
    return fmt::format("wabt {} (wasm2c AOT, glue abi {})", wasm2c::wabtVersion(),
                       RUNWASI_W2C_ABI_VERSION);
  }
  const Precompiler* precompiler() const override { return &precompiler_; }

  Expected<RunResult> run(const ModuleSource& module, int artifactFd, const RunOptions& options,
                          wasi::Host& host) override {
    auto result = runModule(module, artifactFd, options, host);
    if (!result) return tl::unexpected(std::move(result).error().context(module.name));
    return result;
  }

 private:
  Expected<LoadedModule> load(const ModuleSource& module, int artifactFd) const {
    const std::string& key = precompiler_.toolchain().loadKey();
    if (artifactFd >= 0) {
      auto loaded = LoadedModule::load(artifactFd, module.digest, key);
      if (loaded) return loaded;
      log::warn("wasm2c: ignoring the artifact for {} ({}); compiling it now", module.name,
                loaded.error().message);
    }
    TRY(Bytes artifact, precompiler_.precompile(module));
    TRY(UniqueFd fd, memfdWith(artifact));
    return LoadedModule::load(fd.get(), module.digest, key);
  }

  Expected<RunResult> runModule(const ModuleSource& module, int artifactFd,
                                const RunOptions& options, wasi::Host& host) const {
    TRY(ModuleInfo info, readModuleInfo(module.bytes));
    TRY_VOID(checkLinkable(info, options.function, options.stubUnknownImports));
    TRY_VOID(wasm2c::checkRuntimeExported());
    TRY(LoadedModule loaded, load(module, artifactFd));
    TRY(wasm2c::RuntimeLease lease, wasm2c::RuntimeLease::acquire());
    if (options.beforeInstantiate) options.beforeInstantiate();

    HostBridge bridge{host, {}};
    const runwasi_w2c_host callbacks{&bridge, &hostCall};
    runwasi_w2c_outcome outcome{};
    int32_t rc;
    {
      // INVARIANT: from here to the glue's setjmp there is no C++ frame, and every longjmp
      // (trap, proc_exit, stub) lands in the glue's runwasi_w2c_run, which returns
      // normally. Objects above (bridge, loaded, lease) are destroyed as usual.
      wasm2c::GuestCodeScope guestCode;
      rc = loaded.entry()(&callbacks, options.function.c_str(), &outcome);
    }
    if (rc != 0) return makeError(ErrorCode::kInternal, "out of memory instantiating the module");
    if (outcome.status == RUNWASI_W2C_NO_SUCH_EXPORT)
      return makeError(
          ErrorCode::kNotFound,
          fmt::format("no exported function \"{}\" callable without arguments", options.function));
    if (!bridge.failure.empty()) return makeError(ErrorCode::kInternal, bridge.failure);
    return resultOf(outcome, host);
  }

  wasm2c::Wasm2cPrecompiler precompiler_;
};

}  // namespace

std::unique_ptr<Engine> makeWasm2cEngine() {
  return makeWasm2cEngine({});
}

std::unique_ptr<Engine> makeWasm2cEngine(wasm2c::ToolchainOptions options) {
  return std::make_unique<Wasm2cEngine>(std::move(options));
}

}  // namespace runwasi::engine
