#include "engine/wasm2c/artifact.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/core.h>

#include <cstring>

namespace runwasi::engine::wasm2c {
namespace {

constexpr char kMagic[8] = {'R', 'W', '2', 'C', 'S', 'O', '0', '1'};
constexpr size_t kTailSize = 16;           // stamp length + magic
constexpr uint64_t kMaxStamp = 64 * 1024;  // far above any real stamp

std::string stamp(std::string_view moduleDigest, std::string_view loadKey,
                  std::string_view soDigest) {
  return fmt::format("runwasi wasm2c artifact\nmodule {}\nkey {}\nso {}\n", moduleDigest, loadKey,
                     soDigest);
}

bool preadAll(int fd, void* buf, size_t size, off_t offset) {
  auto* p = static_cast<uint8_t*>(buf);
  while (size > 0) {
    ssize_t n = ::pread(fd, p, size, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
  return true;
}

Expected<void> notLoadable(std::string why) {
  return makeError(ErrorCode::kInvalidArgument, "not a wasm2c artifact for this module: " + why);
}

}  // namespace

Bytes sealArtifact(Bytes so, std::string_view moduleDigest, std::string_view loadKey) {
  std::string s = stamp(moduleDigest, loadKey, sha256Hex(so));
  so.insert(so.end(), s.begin(), s.end());
  uint64_t length = s.size();
  for (int i = 0; i < 8; ++i) so.push_back(static_cast<uint8_t>(length >> (8 * i)));
  so.insert(so.end(), std::begin(kMagic), std::end(kMagic));
  return so;
}

Expected<void> verifyArtifact(int fd, std::string_view moduleDigest, std::string_view loadKey) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return makeSysError("fstat on the artifact");
  auto size = static_cast<uint64_t>(st.st_size);
  uint8_t tail[kTailSize];
  if (size < kTailSize || !preadAll(fd, tail, kTailSize, static_cast<off_t>(size - kTailSize)))
    return notLoadable("too short");
  if (std::memcmp(tail + 8, kMagic, sizeof kMagic) != 0) return notLoadable("no trailer");
  uint64_t length = 0;
  for (int i = 0; i < 8; ++i) length |= static_cast<uint64_t>(tail[i]) << (8 * i);
  if (length > kMaxStamp || length > size - kTailSize) return notLoadable("bad trailer");
  uint64_t soSize = size - kTailSize - length;
  std::string got(length, '\0');
  if (!preadAll(fd, got.data(), length, static_cast<off_t>(soSize)))
    return notLoadable("unreadable trailer");
  // Cheap checks first: the digest of the ELF part is only computed for a matching stamp.
  if (got.find(fmt::format("\nmodule {}\nkey {}\n", moduleDigest, loadKey)) == std::string::npos)
    return notLoadable("made for another module or toolchain");
  if (soSize == 0) return notLoadable("empty");
  void* map = ::mmap(nullptr, soSize, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) return makeSysError("mapping the artifact");
  std::string soDigest = sha256Hex({static_cast<const uint8_t*>(map), soSize});
  ::munmap(map, soSize);
  if (got != stamp(moduleDigest, loadKey, soDigest)) return notLoadable("corrupted");
  return {};
}

}  // namespace runwasi::engine::wasm2c
