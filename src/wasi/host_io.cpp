// Reading and writing: fd_read/write, fd_pread/pwrite and fd_readdir.
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

#include "common/scope_exit.h"
#include "wasi/host_impl.h"

namespace runwasi::wasi {
namespace {

Errno storeCount(const GuestMemory& m, uint32_t out, ssize_t n) {
  if (n < 0) return lastErrno();
  return storeOut<uint32_t>(m, out, static_cast<uint32_t>(n));
}

Filetype direntType(unsigned char type, int dirFd, const char* name) {
  switch (type) {
    case DT_REG:
      return Filetype::kRegularFile;
    case DT_DIR:
      return Filetype::kDirectory;
    case DT_LNK:
      return Filetype::kSymbolicLink;
    case DT_CHR:
      return Filetype::kCharacterDevice;
    case DT_BLK:
      return Filetype::kBlockDevice;
    case DT_SOCK:
      return Filetype::kSocketStream;
    case DT_FIFO:
      return Filetype::kUnknown;
    default: {
      struct stat st {};
      if (fstatat(dirFd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return Filetype::kUnknown;
      return filetypeOf(st, -1);
    }
  }
}

// The kernel's getdents64 record.
struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

}  // namespace

Result<std::vector<struct iovec>> hostIovecs(const GuestMemory& m, uint32_t iovs,
                                             uint32_t iovsLen) {
  auto buffers = m.iovecs(iovs, iovsLen);
  if (!buffers) return fail(Errno::kFault);
  std::vector<struct iovec> result;
  result.reserve(std::min<size_t>(buffers->size(), IOV_MAX));
  for (const auto& b : *buffers) {
    if (result.size() == IOV_MAX) break;
    result.push_back({b.data(), b.size()});
  }
  return result;
}

Errno HostImpl::fd_read(M m, uint32_t fd, uint32_t iovs, uint32_t iovsLen, uint32_t nreadOut) {
  WASI_TRY(FdEntry * entry, fds_.get(fd, right::kFdRead));
  WASI_TRY(auto iov, hostIovecs(m, iovs, iovsLen));
  WASI_CHECK(checkOut(m, nreadOut, sizeof(uint32_t)));
  return storeCount(m, nreadOut, entry->blockingIo(POLLIN, [&] {
    return readv(entry->host.get(), iov.data(), static_cast<int>(iov.size()));
  }));
}

Errno HostImpl::fd_write(M m, uint32_t fd, uint32_t iovs, uint32_t iovsLen, uint32_t nwrittenOut) {
  WASI_TRY(FdEntry * entry, fds_.get(fd, right::kFdWrite));
  WASI_TRY(auto iov, hostIovecs(m, iovs, iovsLen));
  WASI_CHECK(checkOut(m, nwrittenOut, sizeof(uint32_t)));
  return storeCount(m, nwrittenOut, entry->blockingIo(POLLOUT, [&] {
    return writev(entry->host.get(), iov.data(), static_cast<int>(iov.size()));
  }));
}

Errno HostImpl::fd_pread(M m, uint32_t fd, uint32_t iovs, uint32_t iovsLen, uint64_t offset,
                         uint32_t nreadOut) {
  WASI_TRY(FdEntry * entry, fds_.get(fd, right::kFdRead | right::kFdSeek));
  WASI_TRY(auto iov, hostIovecs(m, iovs, iovsLen));
  WASI_CHECK(checkOut(m, nreadOut, sizeof(uint32_t)));
  if (offset > INT64_MAX) return Errno::kInval;
  return storeCount(m, nreadOut,
                    preadv(entry->host.get(), iov.data(), static_cast<int>(iov.size()),
                           static_cast<off_t>(offset)));
}

// POSIX semantics even on an append-mode fd: the data goes at `offset` (Linux would append
// it). The file position is untouched either way.
Errno HostImpl::fd_pwrite(M m, uint32_t fd, uint32_t iovs, uint32_t iovsLen, uint64_t offset,
                          uint32_t nwrittenOut) {
  WASI_TRY(FdEntry * entry, fds_.get(fd, right::kFdWrite | right::kFdSeek));
  WASI_TRY(auto iov, hostIovecs(m, iovs, iovsLen));
  WASI_CHECK(checkOut(m, nwrittenOut, sizeof(uint32_t)));
  if (offset > INT64_MAX) return Errno::kInval;
  const int hostFd = entry->host.get();
  const int fl = fcntl(hostFd, F_GETFL);
  const bool append = fl >= 0 && (fl & O_APPEND);
  if (append && fcntl(hostFd, F_SETFL, fl & ~O_APPEND) != 0) return lastErrno();
  ScopeExit restore([&] {
    if (append) fcntl(hostFd, F_SETFL, fl);
  });
  return storeCount(
      m, nwrittenOut,
      pwritev(hostFd, iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(offset)));
}

// Entries come from getdents64 on the entry's directory stream, positioned at the cookie,
// which is the kernel's d_off (the position after an entry): so `.` and `..` are included
// and a d_next cookie resumes right after its entry. The last entry is truncated to fill
// the buffer, as the spec says; bufused == buf_len then tells the guest to go on.
Errno HostImpl::fd_readdir(M m, uint32_t fd, uint32_t buf, uint32_t bufLen, uint64_t cookie,
                           uint32_t bufUsedOut) {
  WASI_TRY(FdEntry * entry, fds_.get(fd, right::kFdReaddir));
  auto out = m.bytes(buf, bufLen);
  if (!out) return Errno::kFault;
  WASI_CHECK(checkOut(m, bufUsedOut, sizeof(uint32_t)));
  if (cookie > INT64_MAX) return Errno::kInval;

  // A stream of our own: the guest's fd may be O_PATH, and its position is not ours to move.
  if (!entry->readdirStream) {
    entry->readdirStream.reset(openat(entry->host.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!entry->readdirStream) return lastErrno();
  }
  const int dir = entry->readdirStream.get();
  if (lseek(dir, static_cast<off_t>(cookie), SEEK_SET) < 0) return lastErrno();

  alignas(LinuxDirent64) std::byte records[32 * 1024];
  size_t used = 0;
  while (used < out->size()) {
    long n = syscall(SYS_getdents64, dir, records, sizeof records);
    if (n < 0) return lastErrno();
    if (n == 0) break;  // end of directory
    for (long pos = 0; pos < n && used < out->size();) {
      const auto* rec = reinterpret_cast<const LinuxDirent64*>(records + pos);
      pos += rec->d_reclen;
      const size_t nameLen = std::strlen(rec->d_name);
      auto dirent = zeroed<Dirent>();
      dirent.dNext = static_cast<uint64_t>(rec->d_off);
      dirent.dIno = rec->d_ino;
      dirent.dNamlen = static_cast<uint32_t>(nameLen);
      dirent.dType = direntType(rec->d_type, dir, rec->d_name);
      // Header then name, cut at the end of the buffer.
      size_t take = std::min(sizeof dirent, out->size() - used);
      std::memcpy(out->data() + used, &dirent, take);
      used += take;
      take = std::min(nameLen, out->size() - used);
      std::memcpy(out->data() + used, rec->d_name, take);
      used += take;
    }
  }
  return storeOut<uint32_t>(m, bufUsedOut, static_cast<uint32_t>(used));
}

}  // namespace runwasi::wasi
