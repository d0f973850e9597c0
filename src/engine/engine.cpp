#include "engine/engine.h"

#include <algorithm>

#include "oci/media_types.h"

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
  return {std::string(oci::media_type::kWasmLayer), std::string(oci::media_type::kWasm)};
}

}  // namespace runwasi::engine
