// sha256() and sha256Hex() (file.h), OpenSSL's: in a file of their own, so that a program
// that only reads and writes files (the shim's front, shim/front.h) does not load OpenSSL.
#include "common/file.h"

// The low-level SHA-256 calls run the same (SHA-NI) code as EVP without EVP's first-use cost:
// fetching the default provider and reading openssl.cnf takes ~0.9 ms, a third of a
// precompiled wasm2c start. OpenSSL 3 deprecates them but ships them.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "common/sha256_portable.h"

namespace runwasi {

Sha256Digest sha256(std::span<const uint8_t> data) {
  Sha256Digest md;
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data.data(), data.size());
  SHA256_Final(md.data(), &ctx);
  return md;
}

std::string sha256Hex(std::span<const uint8_t> data) { return lowerHex(sha256(data)); }

}  // namespace runwasi
