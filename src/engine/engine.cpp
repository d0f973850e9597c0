#include "engine/engine.h"

#include <algorithm>

namespace runwasi::engine {

ModuleSource makeModuleSource(std::string name, Bytes bytes) {
  std::string digest = sha256Hex(bytes);
  return ModuleSource{std::move(name), std::move(bytes), std::move(digest)};
}

bool Engine::canHandle(std::span<const uint8_t> bytes) const {
  static constexpr uint8_t kMagic[] = {0x00, 0x61, 0x73, 0x6d};
  return bytes.size() >= 4 && std::equal(std::begin(kMagic), std::end(kMagic), bytes.begin());
}

std::vector<std::string> Engine::supportedLayerTypes() const {
  return {"application/vnd.bytecodealliance.wasm.component.layer.v0+wasm", "application/wasm"};
}

}  // namespace runwasi::engine
