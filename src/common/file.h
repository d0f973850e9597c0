// Whole-file helpers and content digests.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace runwasi {

using Bytes = std::vector<uint8_t>;

Expected<Bytes> readFile(const std::filesystem::path& path);
// Reads everything from offset 0 of an open file (pread: the fd's offset is untouched).
Expected<Bytes> readFd(int fd, std::string_view what);
// An anonymous file (memfd, close-on-exec) holding the bytes: for handing data to another
// process as an fd.
Expected<UniqueFd> memfdWith(std::span<const uint8_t> bytes, const char* name);
// Writes atomically: a temporary file in the same directory, then rename(2).
Expected<void> writeFileAtomic(const std::filesystem::path& path, std::span<const uint8_t> data);

using Sha256Digest = std::array<uint8_t, 32>;

// The sha256 of the data (OpenSSL), raw and as lower-case hex.
Sha256Digest sha256(std::span<const uint8_t> data);
std::string sha256Hex(std::span<const uint8_t> data);

}  // namespace runwasi
