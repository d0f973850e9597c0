// A minimal POSIX ustar writer for OCI image tarballs and their layers.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/error.h"
#include "common/file.h"

namespace runwasi::oci {

// Regular files and directories, uid/gid 0, mtime 0, no extended headers, so its output
// depends on nothing but the entries and their order.
class TarWriter {
 public:
  // Paths up to 255 bytes (split into ustar's prefix and name at a '/'); sizes < 8 GiB.
  Expected<void> addFile(std::string_view path, std::span<const uint8_t> content,
                         uint32_t mode = 0644);
  Expected<void> addDirectory(std::string_view path, uint32_t mode = 0755);
  // Appends the two zero blocks that end an archive and returns it.
  Bytes finish() &&;

 private:
  Expected<void> addHeader(std::string_view path, char type, uint32_t mode, uint64_t size);

  Bytes out_;
};

// True when the bytes start like a tar archive (ustar, GNU or v7): a whole number of
// 512-byte blocks whose first header's checksum holds, or an archive of zero blocks only.
// A cheap check that catches a wrong file given as a tar layer, not a full validation.
bool looksLikeTar(std::span<const uint8_t> archive);

}  // namespace runwasi::oci
