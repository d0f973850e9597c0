#include "engine/wasm2c/loaded_module.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <wasm-rt.h>

#include <fmt/core.h>

#include <cstring>

#include "engine/wasm2c/artifact.h"

namespace runwasi::engine::wasm2c {

Expected<void> checkRuntimeExported() {
  // The module .so files resolve wasm_rt_* against the global scope; it must find the
  // copy linked into this executable, or there would be two runtime states.
  void* found = ::dlsym(RTLD_DEFAULT, "wasm_rt_trap");
  if (found != reinterpret_cast<void*>(&wasm_rt_trap))
    return makeError(ErrorCode::kFailedPrecondition,
                     "this executable does not export the wasm2c runtime (wasm_rt_*): link it "
                     "with runwasi_engine_wasm2c's link options (-Wl,--export-dynamic-symbol)");
  return {};
}

Expected<LoadedModule> LoadedModule::load(int fd, std::string_view moduleDigest,
                                          std::string_view loadKey) {
  TRY_VOID(verifyArtifact(fd, moduleDigest, loadKey));
  TRY_VOID(checkRuntimeExported());
  if (::access("/proc/self/fd", X_OK) != 0)
    return makeSysError("loading a wasm2c shared object needs /proc mounted");
  UniqueFd own(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
  if (!own) return makeSysError("duplicating the artifact fd");
  std::string path = fmt::format("/proc/self/fd/{}", own.get());
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("cannot load the wasm2c shared object: {}", why ? why : "?"));
  }
  LoadedModule loaded(std::move(own), handle);
  auto* info =
      static_cast<const runwasi_w2c_module_info*>(::dlsym(handle, RUNWASI_W2C_INFO_SYMBOL));
  auto run = reinterpret_cast<runwasi_w2c_run_fn>(::dlsym(handle, RUNWASI_W2C_RUN_SYMBOL));
  if (!info || !run || info->abi_version != RUNWASI_W2C_ABI_VERSION ||
      moduleDigest != info->module_digest || loadKey != info->load_key)
    return makeError(ErrorCode::kInvalidArgument,
                     "the wasm2c shared object was not built by this engine for this module");
  loaded.run_ = run;
  return loaded;
}

LoadedModule::LoadedModule(LoadedModule&& other) noexcept
    : fd_(std::move(other.fd_)),
      handle_(std::exchange(other.handle_, nullptr)),
      run_(std::exchange(other.run_, nullptr)) {}

LoadedModule& LoadedModule::operator=(LoadedModule&& other) noexcept {
  if (this != &other) {
    if (handle_) ::dlclose(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
    fd_ = std::move(other.fd_);
    run_ = std::exchange(other.run_, nullptr);
  }
  return *this;
}

LoadedModule::~LoadedModule() {
  if (handle_) ::dlclose(handle_);
}

}  // namespace runwasi::engine::wasm2c
