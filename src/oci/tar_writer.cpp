#include "oci/tar_writer.h"

#include <algorithm>
#include <cstring>
#include <string>

#include <fmt/core.h>

namespace runwasi::oci {
namespace {

constexpr size_t kBlock = 512;
// ustar header fields: offset, width.
constexpr size_t kName = 0, kNameLen = 100, kMode = 100, kUid = 108, kGid = 116, kSize = 124;
constexpr size_t kMtime = 136, kChecksum = 148, kChecksumLen = 8, kType = 156, kMagic = 257;
constexpr size_t kPrefix = 345, kPrefixLen = 155;

tl::unexpected<Error> invalid(std::string message) {
  return makeError(ErrorCode::kInvalidArgument, std::move(message));
}

// Octal, zero-padded to width - 1 digits and NUL-terminated, as ustar's numeric fields.
bool putOctal(uint8_t* field, size_t width, uint64_t value) {
  std::string digits = fmt::format("{:0{}o}", value, width - 1);
  if (digits.size() > width - 1) return false;
  std::memcpy(field, digits.data(), digits.size());
  field[width - 1] = '\0';
  return true;
}

// The header's checksum: the sum of its bytes with the checksum field read as spaces.
unsigned headerChecksum(std::span<const uint8_t> header) {
  unsigned sum = 0;
  for (size_t i = 0; i < kBlock; ++i)
    sum += (i >= kChecksum && i < kChecksum + kChecksumLen) ? ' ' : header[i];
  return sum;
}

}  // namespace

Expected<void> TarWriter::addFile(std::string_view path, std::span<const uint8_t> content,
                                  uint32_t mode) {
  TRY_VOID(addHeader(path, '0', mode, content.size()));
  out_.insert(out_.end(), content.begin(), content.end());
  out_.resize(out_.size() + (kBlock - content.size() % kBlock) % kBlock, 0);
  return {};
}

Expected<void> TarWriter::addDirectory(std::string_view path, uint32_t mode) {
  return addHeader(std::string(path) + "/", '5', mode, 0);
}

Bytes TarWriter::finish() && {
  out_.resize(out_.size() + 2 * kBlock, 0);
  return std::move(out_);
}

Expected<void> TarWriter::addHeader(std::string_view path, char type, uint32_t mode,
                                    uint64_t size) {
  uint8_t header[kBlock] = {};
  // Longer paths go into the prefix field, split at a '/' (the '/' itself is implied).
  std::string_view prefix, name = path;
  if (path.size() > kNameLen) {
    name = {};
    for (size_t slash = path.find('/'); slash != path.npos && slash <= kPrefixLen;
         slash = path.find('/', slash + 1)) {
      size_t rest = path.size() - slash - 1;
      if (slash > 0 && rest > 0 && rest <= kNameLen) {
        prefix = path.substr(0, slash);
        name = path.substr(slash + 1);
        break;
      }
    }
    if (name.empty()) return invalid(fmt::format("path too long for a ustar entry: {}", path));
  }
  // std::copy: memcpy from an empty view's null data() is undefined.
  std::copy(name.begin(), name.end(), header + kName);
  std::copy(prefix.begin(), prefix.end(), header + kPrefix);
  putOctal(header + kMode, 8, mode & 07777);
  putOctal(header + kUid, 8, 0);
  putOctal(header + kGid, 8, 0);
  if (!putOctal(header + kSize, 12, size))
    return invalid(fmt::format("{} is too large for a ustar entry (8 GiB or more)", path));
  putOctal(header + kMtime, 12, 0);
  header[kType] = static_cast<uint8_t>(type);
  static constexpr char kMagicAndVersion[8] = {'u', 's', 't', 'a', 'r', '\0', '0', '0'};
  std::memcpy(header + kMagic, kMagicAndVersion, sizeof(kMagicAndVersion));
  // Six digits, NUL, space: the checksum field as tar writes it.
  putOctal(header + kChecksum, 7, headerChecksum(header));
  header[kChecksum + 7] = ' ';
  out_.insert(out_.end(), header, header + kBlock);
  return {};
}

bool looksLikeTar(std::span<const uint8_t> archive) {
  if (archive.empty() || archive.size() % kBlock != 0) return false;
  auto header = archive.first(kBlock);
  if (std::all_of(header.begin(), header.end(), [](uint8_t b) { return b == 0; })) return true;
  // The stored checksum: octal digits, padded with leading spaces or zeros, ended by NUL or
  // space (writers differ).
  unsigned stored = 0;
  size_t i = kChecksum;
  while (i < kChecksum + kChecksumLen && header[i] == ' ') ++i;
  size_t digits = 0;
  for (; i < kChecksum + kChecksumLen && header[i] >= '0' && header[i] <= '7'; ++i, ++digits)
    stored = stored * 8 + (header[i] - '0');
  return digits > 0 && stored == headerChecksum(header);
}

}  // namespace runwasi::oci
