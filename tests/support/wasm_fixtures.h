// Test support: the smallest Wasm binaries the image tests need, and content digests.
#pragma once

#include <string>

#include "common/file.h"

namespace runwasi::testing {

// The smallest valid core module: magic and version 1.
inline const Bytes kEmptyModule = {0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00};

// A valid module that differs from every other `name`: an empty custom section so named.
inline Bytes moduleNamed(char name) {
  Bytes module = kEmptyModule;
  module.insert(module.end(), {0x00, 0x02, 0x01, static_cast<uint8_t>(name)});
  return module;
}

// A component's header (version 0x0d, layer 1): Wasm, but not a core module.
inline const Bytes kComponentHeader = {0x00, 'a', 's', 'm', 0x0d, 0x00, 0x01, 0x00};

// "sha256:<hex>", as OCI descriptors name content.
inline std::string digestOf(const Bytes& content) {
  return "sha256:" + sha256Hex(content);
}

}  // namespace runwasi::testing
