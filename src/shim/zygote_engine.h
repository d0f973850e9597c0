// The zygote's engine as the shim sees it: name, version and cache key from the zygote's
// hello (sandbox::EngineFacts). The shim only reads modules and keys its artifact cache;
// running and precompiling happen in processes forked from the zygote, so the shim never
// loads the engine's runtime and serves containerd while the zygote still loads it.
#pragma once

#include <mutex>

#include "engine/engine.h"
#include "sandbox/zygote.h"

namespace runwasi::shim {

class ZygoteEngine final : public engine::Engine, private engine::Precompiler {
 public:
  // `zygote` must outlive this.
  explicit ZygoteEngine(sandbox::Zygote& zygote) : zygote_(zygote) {}

  // These wait for the zygote's hello (the first call only). canHandle (the wasm magic)
  // does not: the shim reads and checks a module while the zygote still loads its engine.
  std::string_view name() const override;
  std::string version() const override;
  std::vector<std::string> supportedLayerTypes() const override;
  const engine::Precompiler* precompiler() const override;
  // Never called in the shim: both run in zygote children. They answer Internal.
  Expected<engine::RunResult> run(const engine::ModuleSource& module, int artifactFd,
                          const engine::RunOptions& options, wasi::Host& host) override;

 private:
  std::string cacheKey() const override;
  Expected<Bytes> precompile(const engine::ModuleSource& module) const override;
  // The hello's facts; empty ones when the zygote has no engine (every spawn then says why).
  const sandbox::EngineFacts& facts() const;

  sandbox::Zygote& zygote_;
  mutable std::once_flag once_;
  mutable sandbox::EngineFacts facts_;
};

}  // namespace runwasi::shim
