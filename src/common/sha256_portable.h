// SHA-256 (FIPS 180-4) in portable C++, for the few short strings a program hashes that
// must not load OpenSSL: the shim's front (shim/front.h) names sockets by the digest of a
// path, and loading libcrypto costs it ~0.8 ms per run. Bulk data goes through sha256()
// (file.h): OpenSSL's SHA-NI code is several times faster.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace runwasi {

std::array<uint8_t, 32> portableSha256(std::string_view data);
// The digest as lower-case hex.
std::string portableSha256Hex(std::string_view data);

// Bytes as lower-case hex, two digits each.
std::string lowerHex(std::span<const uint8_t> bytes);

}  // namespace runwasi
