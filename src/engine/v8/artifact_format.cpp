#include "engine/v8/artifact_format.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace runwasi::engine::v8engine {
namespace {

constexpr char kMagic[8] = {'R', 'W', 'V', '8', 'C', 'O', 'D', 'E'};
constexpr size_t kVersionOffset = 8;
constexpr size_t kHeaderSizeOffset = 12;
constexpr size_t kLengthOffset = 16;
constexpr size_t kPayloadDigestOffset = 24;
constexpr size_t kModuleDigestOffset = 56;
constexpr size_t kKeyDigestOffset = 88;
static_assert(kKeyDigestOffset + 32 == kArtifactHeaderSize);

template <typename T>
void storeLE(uint8_t* out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
}

template <typename T>
T loadLE(const uint8_t* in) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= static_cast<T>(in[i]) << (8 * i);
  return value;
}

bool sameDigest(const uint8_t* stored, const Digest& expected) {
  return std::memcmp(stored, expected.data(), expected.size()) == 0;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

tl::unexpected<Error> invalid(std::string why) {
  return makeError(ErrorCode::kInvalidArgument, "invalid V8 artifact: " + std::move(why));
}

}  // namespace

Digest sha256(std::string_view text) {
  return sha256(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

Digest moduleDigest(std::string_view digestHex, std::span<const uint8_t> moduleBytes) {
  Digest digest;
  if (digestHex.size() == 2 * digest.size()) {
    bool ok = true;
    for (size_t i = 0; i < digest.size() && ok; ++i) {
      int hi = hexValue(digestHex[2 * i]);
      int lo = hexValue(digestHex[2 * i + 1]);
      ok = hi >= 0 && lo >= 0;
      digest[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    if (ok) return digest;
  }
  return sha256(moduleBytes);
}

Bytes encodeArtifact(std::span<const uint8_t> payload, const Digest& module,
                     std::string_view cacheKey) {
  Bytes out(kArtifactHeaderSize + payload.size());
  std::memcpy(out.data(), kMagic, sizeof(kMagic));
  storeLE<uint32_t>(out.data() + kVersionOffset, kArtifactFormatVersion);
  storeLE<uint32_t>(out.data() + kHeaderSizeOffset, kArtifactHeaderSize);
  storeLE<uint64_t>(out.data() + kLengthOffset, payload.size());
  Digest payloadDigest = sha256(payload);
  std::memcpy(out.data() + kPayloadDigestOffset, payloadDigest.data(), payloadDigest.size());
  std::memcpy(out.data() + kModuleDigestOffset, module.data(), module.size());
  Digest keyDigest = sha256(cacheKey);
  std::memcpy(out.data() + kKeyDigestOffset, keyDigest.data(), keyDigest.size());
  if (!payload.empty())
    std::memcpy(out.data() + kArtifactHeaderSize, payload.data(), payload.size());
  return out;
}

Expected<std::span<const uint8_t>> verifyArtifact(std::span<const uint8_t> artifact,
                                                  const Digest& module, std::string_view cacheKey) {
  if (artifact.size() < kArtifactHeaderSize)
    return invalid("truncated header (" + std::to_string(artifact.size()) + " bytes)");
  const uint8_t* header = artifact.data();
  if (std::memcmp(header, kMagic, sizeof(kMagic)) != 0) return invalid("bad magic");
  uint32_t version = loadLE<uint32_t>(header + kVersionOffset);
  if (version != kArtifactFormatVersion)
    return invalid("format version " + std::to_string(version) + ", expected " +
                   std::to_string(kArtifactFormatVersion));
  if (loadLE<uint32_t>(header + kHeaderSizeOffset) != kArtifactHeaderSize)
    return invalid("bad header size");
  uint64_t length = loadLE<uint64_t>(header + kLengthOffset);
  if (length == 0 || length != artifact.size() - kArtifactHeaderSize)
    return invalid("payload length " + std::to_string(length) + " but " +
                   std::to_string(artifact.size() - kArtifactHeaderSize) + " bytes present");
  if (!sameDigest(header + kKeyDigestOffset, sha256(cacheKey)))
    return invalid("made under another cache key (engine version or flags)");
  if (!sameDigest(header + kModuleDigestOffset, module)) return invalid("made from another module");
  std::span<const uint8_t> payload = artifact.subspan(kArtifactHeaderSize);
  if (!sameDigest(header + kPayloadDigestOffset, sha256(payload)))
    return invalid("payload digest mismatch");
  return payload;
}

Expected<Bytes> readArtifact(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return makeSysError("cannot stat the V8 artifact");
  if (!S_ISREG(st.st_mode)) return invalid("not a regular file");
  if (static_cast<uint64_t>(st.st_size) > kMaxArtifactSize)
    return invalid("too large (" + std::to_string(st.st_size) + " bytes)");
  Bytes data(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pread(fd, data.data() + done, data.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return makeSysError("cannot read the V8 artifact");
    if (n == 0) break;  // shrank under us: the digests will say so
    done += static_cast<size_t>(n);
  }
  data.resize(done);
  return data;
}

}  // namespace runwasi::engine::v8engine
