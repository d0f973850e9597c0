// The V8 engine's artifact: a small verified header around V8's serialized module.
//
// Layout (little-endian):
//   0  char[8]  magic "RWV8CODE"
//   8  u32      format version (kArtifactFormatVersion)
//  12  u32      header size (kArtifactHeaderSize)
//  16  u64      payload length
//  24  u8[32]   sha256 of the payload
//  56  u8[32]   sha256 of the wasm module the payload was compiled from
//  88  u8[32]   sha256 of the Precompiler::cacheKey() it was made under
// 120  payload  CompiledWasmModule::Serialize() output
//
// V8 aborts the process on a truncated payload and silently accepts a flipped byte, so
// every field is checked before the payload reaches V8.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/error.h"
#include "common/file.h"

namespace runwasi::engine::v8engine {

inline constexpr uint32_t kArtifactFormatVersion = 1;
inline constexpr size_t kArtifactHeaderSize = 120;
// Larger artifacts are refused unread (a 660 KB module serializes to ~2 MB).
inline constexpr uint64_t kMaxArtifactSize = 1ull << 30;

using Digest = Sha256Digest;

using runwasi::sha256;
Digest sha256(std::string_view text);
// The digest of a module: its hex `digestHex` when well-formed, otherwise computed.
Digest moduleDigest(std::string_view digestHex, std::span<const uint8_t> moduleBytes);

Bytes encodeArtifact(std::span<const uint8_t> payload, const Digest& module,
                     std::string_view cacheKey);

// The payload, after checking magic, version, length and all three digests; the error
// says which check failed.
Expected<std::span<const uint8_t>> verifyArtifact(std::span<const uint8_t> artifact,
                                                  const Digest& module, std::string_view cacheKey);

// Reads a whole artifact from `fd` with pread from offset 0 (the fd's offset is ignored
// and left alone).
Expected<Bytes> readArtifact(int fd);

}  // namespace runwasi::engine::v8engine
