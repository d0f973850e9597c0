// fd_* functions on the descriptor itself (the I/O ones are in host_io.cpp).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "wasi/host_impl.h"

namespace runwasi::wasi {
namespace {

struct timespec fromNanos(uint64_t ns) {
  struct timespec ts {};
  ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000u);
  ts.tv_nsec = static_cast<long>(ns % 1'000'000'000u);
  return ts;
}

// fdflags from the host's F_GETFL, plus the sync flags recorded at open.
uint16_t fdflagsOf(const FdEntry& entry) {
  int fl = fcntl(entry.host.get(), F_GETFL);
  uint16_t flags = entry.syncFlags;
  if (fl >= 0) {
    if (fl & O_APPEND) flags |= fdflag::kAppend;
    if ((fl & O_NONBLOCK) && !entry.blockingEmulated) flags |= fdflag::kNonblock;
  }
  return flags;
}

constexpr int kAdvice[] = {POSIX_FADV_NORMAL,   POSIX_FADV_SEQUENTIAL, POSIX_FADV_RANDOM,
                           POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED,   POSIX_FADV_NOREUSE};

}  // namespace

Filetype filetypeOf(const struct stat& st, int hostFd) {
  switch (st.st_mode & S_IFMT) {
    case S_IFREG:
      return Filetype::kRegularFile;
    case S_IFDIR:
      return Filetype::kDirectory;
    case S_IFCHR:
      return Filetype::kCharacterDevice;
    case S_IFBLK:
      return Filetype::kBlockDevice;
    case S_IFLNK:
      return Filetype::kSymbolicLink;
    case S_IFSOCK: {
      int type = 0;
      socklen_t len = sizeof type;
      if (hostFd >= 0 && getsockopt(hostFd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
          type == SOCK_DGRAM)
        return Filetype::kSocketDgram;
      return Filetype::kSocketStream;
    }
    default:
      return Filetype::kUnknown;  // FIFOs have no WASI type
  }
}

Filestat toFilestat(const struct stat& st, int hostFd) {
  auto fs = zeroed<Filestat>();
  fs.dev = st.st_dev;
  fs.ino = st.st_ino;
  fs.filetype = filetypeOf(st, hostFd);
  fs.nlink = st.st_nlink;
  fs.size = static_cast<uint64_t>(st.st_size);
  fs.atim = toNanos(st.st_atim);
  fs.mtim = toNanos(st.st_mtim);
  fs.ctim = toNanos(st.st_ctim);
  return fs;
}

Result<std::array<struct timespec, 2>> toTimespecs(uint64_t atim, uint64_t mtim,
                                                   uint32_t fstFlags) {
  using namespace fstflag;
  if ((fstFlags & ~uint32_t{kAll}) != 0) return fail(Errno::kInval);
  if ((fstFlags & kAtim) && (fstFlags & kAtimNow)) return fail(Errno::kInval);
  if ((fstFlags & kMtim) && (fstFlags & kMtimNow)) return fail(Errno::kInval);
  auto pick = [](uint32_t flags, uint16_t set, uint16_t now, uint64_t value) {
    struct timespec ts {};
    if (flags & set) return fromNanos(value);
    ts.tv_nsec = (flags & now) ? UTIME_NOW : UTIME_OMIT;
    return ts;
  };
  return std::array<struct timespec, 2>{pick(fstFlags, kAtim, kAtimNow, atim),
                                        pick(fstFlags, kMtim, kMtimNow, mtim)};
}

Errno HostImpl::fd_advise(M, uint32_t fd, uint64_t offset, uint64_t len, uint32_t advice) {
  WASI_TRY(FdEntry * entry, fds_.get(fd, right::kFdAdvise));
  if (advice >= std::size(kAdvice)) return Errno::kInval;
  if (offset > INT64_MAX || len > INT64_MAX) return Errno::kInval;
  if (entry->isDirectory()) return Errno::kIsdir;
  int err = posix_fadvise(entry->host.get(), static_cast<off_t>(offset), static_cast<off_t>(len),
                          kAdvice[advice]);
  return err == 0 ? Errno::kSuccess : errnoFromHost(err);
}

Errno HostImpl::fd_allocate(M, uint32_t fd, uint64_t offset, uint64_t len) {
  WASI_TRY(FdEntry * entry, fds_.get(fd, right::kFdAllocate));
  if (offset > INT64_MAX || len > INT64_MAX || offset + len > INT64_MAX) return Errno::kInval;
  if (entry->isDirectory()) return Errno::kIsdir;
  if (len == 0) return Errno::kInval;  // as posix_fallocate(3)
  int err = posix_fallocate(entry->host.get(), static_cast<off_t>(offset), static_cast<off_t>(len));
  return err == 0 ? Errno::kSuccess : errnoFromHost(err);
}

Errno HostImpl::fd_close(M, uint32_t fd) {
  auto closed = fds_.close(fd);
  return closed ? Errno::kSuccess : closed.error();
}

Errno HostImpl::fd_datasync(M, uint32_t fd) {
  WASI_TRY(FdEntry * entry, fds_.get(fd, right::kFdDatasync));
  return fdatasync(entry->host.get()) == 0 ? Errno::kSuccess : lastErrno();
}

Errno HostImpl::fd_sync(M, uint32_t fd) {
  WASI_TRY(FdEntry * entry, fds_.get(fd, right::kFdSync));
  return fsync(entry->host.get()) == 0 ? Errno::kSuccess : lastErrno();
}

Errno HostImpl::fd_fdstat_get(M m, uint32_t fd, uint32_t statOut) {
  WASI_TRY(FdEntry * entry, fds_.get(fd));
  auto stat = zeroed<Fdstat>();
  stat.fsFiletype = entry->type;
  stat.fsFlags = fdflagsOf(*entry);
  stat.fsRightsBase = entry->base;
  stat.fsRightsInheriting = entry->inheriting;
  return storeOut(m, statOut, stat);
}

Errno HostImpl::fd_fdstat_set_flags(M, uint32_t fd, uint32_t flags) {
  WASI_TRY(FdEntry * entry, fds_.get(fd, right::kFdFdstatSetFlags));
  if ((flags & ~uint32_t{fdflag::kAll}) != 0) return Errno::kInval;
  // Linux cannot change the sync flags of an open file.
  constexpr uint16_t kSyncFlags = fdflag::kDsync | fdflag::kRsync | fdflag::kSync;
  if ((flags & kSyncFlags) != entry->syncFlags) return Errno::kNotsup;
  int fl = fcntl(entry->host.get(), F_GETFL);
  if (fl < 0) return lastErrno();
  fl &= ~O_APPEND;
  if (flags & fdflag::kAppend) fl |= O_APPEND;
  if (entry->blockingEmulated) {
    // The host fd stays non-blocking (others share it); only the guest's view changes.
    if (flags & fdflag::kNonblock) entry->blockingEmulated = false;
  } else {
    fl &= ~O_NONBLOCK;
    if (flags & fdflag::kNonblock) fl |= O_NONBLOCK;
  }
  return fcntl(entry->host.get(), F_SETFL, fl) == 0 ? Errno::kSuccess : lastErrno();
}

Errno HostImpl::fd_fdstat_set_rights(M, uint32_t fd, uint64_t base, uint64_t inheriting) {
  WASI_TRY(FdEntry * entry, fds_.get(fd));
  // Rights can only be dropped.
  if ((base & ~entry->base) != 0 || (inheriting & ~entry->inheriting) != 0)
    return Errno::kNotcapable;
  entry->base = base;
  entry->inheriting = inheriting;
  return Errno::kSuccess;
}

Errno HostImpl::fd_filestat_get(M m, uint32_t fd, uint32_t statOut) {
  WASI_TRY(FdEntry * entry, fds_.get(fd, right::kFdFilestatGet));
  struct stat st {};
  if (fstat(entry->host.get(), &st) != 0) return lastErrno();
  return storeOut(m, statOut, toFilestat(st, entry->host.get()));
}

Errno HostImpl::fd_filestat_set_size(M, uint32_t fd, uint64_t size) {
  WASI_TRY(FdEntry * entry, fds_.get(fd, right::kFdFilestatSetSize));
  if (size > INT64_MAX) return Errno::kFbig;
  if (entry->isDirectory()) return Errno::kIsdir;
  return ftruncate(entry->host.get(), static_cast<off_t>(size)) == 0 ? Errno::kSuccess
                                                                     : lastErrno();
}

Errno HostImpl::fd_filestat_set_times(M, uint32_t fd, uint64_t atim, uint64_t mtim,
                                      uint32_t flags) {
  WASI_TRY(FdEntry * entry, fds_.get(fd, right::kFdFilestatSetTimes));
  WASI_TRY(auto times, toTimespecs(atim, mtim, flags));
  if (futimens(entry->host.get(), times.data()) == 0) return Errno::kSuccess;
  // An O_PATH descriptor (a preopen we could not open for reading) needs the path form.
  if (errno == EBADF && utimensat(entry->host.get(), "", times.data(), AT_EMPTY_PATH) == 0)
    return Errno::kSuccess;
  return lastErrno();
}

Errno HostImpl::fd_prestat_get(M m, uint32_t fd, uint32_t prestatOut) {
  WASI_TRY(FdEntry * entry, fds_.get(fd));
  if (!entry->preopenName) return Errno::kBadf;
  auto prestat = zeroed<Prestat>();
  prestat.tag = Preopentype::kDir;
  prestat.dir.prNameLen = static_cast<Size>(entry->preopenName->size());
  return storeOut(m, prestatOut, prestat);
}

Errno HostImpl::fd_prestat_dir_name(M m, uint32_t fd, uint32_t path, uint32_t pathLen) {
  WASI_TRY(FdEntry * entry, fds_.get(fd));
  if (!entry->preopenName) return Errno::kBadf;
  const std::string& name = *entry->preopenName;
  if (pathLen < name.size()) return Errno::kNametoolong;
  auto dest = m.bytes(path, name.size());
  if (!dest) return Errno::kFault;
  std::memcpy(dest->data(), name.data(), name.size());
  return Errno::kSuccess;
}

Errno HostImpl::fd_renumber(M, uint32_t from, uint32_t to) {
  auto moved = fds_.renumber(from, to);
  return moved ? Errno::kSuccess : moved.error();
}

Errno HostImpl::fd_seek(M m, uint32_t fd, uint64_t offset, uint32_t whence, uint32_t newOffsetOut) {
  // seek(0, cur) only reads the position: fd_tell's right is enough for it.
  const bool tellOnly = offset == 0 && whence == static_cast<uint32_t>(Whence::kCur);
  auto entry = fds_.get(fd, right::kFdSeek);
  if (!entry && tellOnly && entry.error() == Errno::kNotcapable)
    entry = fds_.get(fd, right::kFdTell);
  if (!entry) return entry.error();
  static constexpr int kWhence[] = {SEEK_SET, SEEK_CUR, SEEK_END};
  if (whence >= std::size(kWhence)) return Errno::kInval;
  if ((*entry)->isDirectory()) return Errno::kIsdir;
  WASI_CHECK(checkOut(m, newOffsetOut, sizeof(uint64_t)));
  off_t pos = lseek((*entry)->host.get(), static_cast<off_t>(offset), kWhence[whence]);
  if (pos < 0) return lastErrno();
  return storeOut<uint64_t>(m, newOffsetOut, static_cast<uint64_t>(pos));
}

Errno HostImpl::fd_tell(M m, uint32_t fd, uint32_t offsetOut) {
  WASI_TRY(FdEntry * entry, fds_.get(fd, right::kFdTell));
  if (entry->isDirectory()) return Errno::kIsdir;
  WASI_CHECK(checkOut(m, offsetOut, sizeof(uint64_t)));
  off_t pos = lseek(entry->host.get(), 0, SEEK_CUR);
  if (pos < 0) return lastErrno();
  return storeOut<uint64_t>(m, offsetOut, static_cast<uint64_t>(pos));
}

}  // namespace runwasi::wasi
