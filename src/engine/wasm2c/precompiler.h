// wasm -> C (wasm2c) -> shared object (the system C compiler), in a private temp dir.
#pragma once

#include "engine/engine.h"
#include "engine/wasm2c/toolchain.h"

namespace runwasi::engine::wasm2c {

class Wasm2cPrecompiler final : public Precompiler {
 public:
  explicit Wasm2cPrecompiler(ToolchainOptions options) : toolchain_(std::move(options)) {}

  // "wasm2c <wabt version>; glue abi N; cflags ...; wasm2c <path> (size, mtime); cc <path>
  // (size, mtime) [version line]": no subprocess (Toolchain::cacheKey).
  std::string cacheKey() const override { return toolchain_.cacheKey(); }
  // A sealed artifact (see artifact.h). Errors quote the failing tool's first lines.
  Expected<Bytes> precompile(const ModuleSource& module) const override;

  const Toolchain& toolchain() const { return toolchain_; }

 private:
  Toolchain toolchain_;
};

}  // namespace runwasi::engine::wasm2c
