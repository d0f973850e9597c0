#include "common/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/core.h>

#include "common/unique_fd.h"

namespace runwasi {

Expected<Bytes> readFile(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return makeSysError("cannot open " + path.string());
  return readFd(fd.get(), path.string());
}

Expected<Bytes> readFd(int fd, std::string_view what) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return makeSysError(fmt::format("cannot stat {}", what));
  if (S_ISDIR(st.st_mode)) return makeSysError(fmt::format("cannot read {}", what), EISDIR);
  Bytes data(static_cast<size_t>(st.st_size));
  size_t off = 0;
  for (;;) {
    if (off == data.size()) data.resize(data.size() + 65536);
    ssize_t n = ::pread(fd, data.data() + off, data.size() - off, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return makeSysError(fmt::format("cannot read {}", what));
    if (n == 0) break;
    off += static_cast<size_t>(n);
  }
  data.resize(off);
  return data;
}

Expected<UniqueFd> memfdWith(std::span<const uint8_t> bytes, const char* name) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC));
  if (!fd) return makeSysError("memfd_create");
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd.get(), bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return makeSysError(fmt::format("writing {} to a memfd", name));
    off += static_cast<size_t>(n);
  }
  return fd;
}

Expected<void> writeFileAtomic(const std::filesystem::path& path, std::span<const uint8_t> data) {
  std::string tmp = path.string() + ".tmp." + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return makeSysError("cannot create " + tmp);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return makeSysError("cannot write " + tmp, err);
    }
    off += static_cast<size_t>(n);
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return makeSysError("cannot rename " + tmp + " to " + path.string(), err);
  }
  return {};
}

}  // namespace runwasi
