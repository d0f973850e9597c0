// A module's shared object, dlopen'ed from a verified artifact; dlclose'd on destruction.
#pragma once

#include <string_view>

#include "common/error.h"
#include "common/unique_fd.h"
#include "engine/wasm2c/glue_abi.h"

namespace runwasi::engine::wasm2c {

class LoadedModule {
 public:
  // Verifies the artifact open at `fd` (see artifact.h), then loads it through
  // /proc/self/fd. Errors say why it cannot be used (the caller may compile instead).
  static Expected<LoadedModule> load(int fd, std::string_view moduleDigest,
                                     std::string_view loadKey);

  LoadedModule(LoadedModule&& other) noexcept;
  LoadedModule& operator=(LoadedModule&& other) noexcept;
  LoadedModule(const LoadedModule&) = delete;
  LoadedModule& operator=(const LoadedModule&) = delete;
  ~LoadedModule();

  // The glue's entry point: instantiates, calls the export, frees the instance.
  runwasi_w2c_run_fn entry() const { return run_; }

 private:
  LoadedModule(UniqueFd fd, void* handle) : fd_(std::move(fd)), handle_(handle) {}
  // Our own duplicate of the artifact fd, open as long as the object is loaded: glibc
  // matches dlopen paths by name, so "/proc/self/fd/N" must not name another file while
  // this object is still loaded under it.
  UniqueFd fd_;
  void* handle_ = nullptr;
  runwasi_w2c_run_fn run_ = nullptr;
};

// Fails when this executable does not export the wasm2c runtime to loaded objects (it
// must be linked with runwasi_engine_wasm2c's interface link options).
Expected<void> checkRuntimeExported();

}  // namespace runwasi::engine::wasm2c
