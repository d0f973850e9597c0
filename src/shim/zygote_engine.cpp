#include "shim/zygote_engine.h"

#include <fmt/format.h>

namespace runwasi::shim {

const sandbox::EngineFacts& ZygoteEngine::facts() const {
  std::call_once(once_, [this] { facts_ = zygote_.waitReady().value_or(sandbox::EngineFacts{}); });
  return facts_;
}

std::string_view ZygoteEngine::name() const {
  std::string_view name = facts().name;
  return name.empty() ? "unknown" : name;
}

std::string ZygoteEngine::version() const {
  std::string version = facts().version;
  return version.empty() ? "unknown (the zygote has no engine)" : version;
}

std::vector<std::string> ZygoteEngine::supportedLayerTypes() const {
  return facts().layerTypes;
}

const engine::Precompiler* ZygoteEngine::precompiler() const {
  return facts().cacheKey.empty() ? nullptr : this;
}

std::string ZygoteEngine::cacheKey() const {
  return facts().cacheKey;
}

Expected<Bytes> ZygoteEngine::precompile(const engine::ModuleSource& module) const {
  return makeError(ErrorCode::kInternal,
                   fmt::format("{}: the shim precompiles in a zygote child, not in-process",
                               module.name));
}

Expected<engine::RunResult> ZygoteEngine::run(const engine::ModuleSource& module, int,
                                      const engine::RunOptions&, wasi::Host&) {
  return makeError(ErrorCode::kInternal,
                   fmt::format("{}: the shim runs modules in zygote children, not in-process",
                               module.name));
}

}  // namespace runwasi::shim
