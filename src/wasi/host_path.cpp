// path_* functions. Every guest path goes through PathResolver, so none can leave the
// directory fd it is relative to.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "wasi/host_impl.h"
#include "wasi/path_resolver.h"

namespace runwasi::wasi {
namespace {

Errno check(int rc) {
  return rc == 0 ? Errno::kSuccess : lastErrno();
}

int nofollowUnless(uint32_t lookupFlags) {
  return (lookupFlags & kLookupSymlinkFollow) ? 0 : O_NOFOLLOW;
}

// open(2) flags for path_open's arguments. The host fd is always opened non-blocking (a
// FIFO must not hang the open); path_open clears that again unless the guest asked for it.
int openFlags(uint32_t dirFlags, uint32_t oflags, Rights base, uint32_t fdflags) {
  constexpr Rights kWriteRights = right::kFdWrite | right::kFdAllocate | right::kFdFilestatSetSize;
  const bool write = (base & kWriteRights) != 0;
  const bool read = (base & (right::kFdRead | right::kFdReaddir)) != 0 || !write;
  int flags = O_NOCTTY | O_NONBLOCK | nofollowUnless(dirFlags);
  flags |= read && write ? O_RDWR : write ? O_WRONLY : O_RDONLY;
  if (oflags & oflag::kCreat) flags |= O_CREAT;
  if (oflags & oflag::kDirectory) flags |= O_DIRECTORY;
  if (oflags & oflag::kExcl) flags |= O_EXCL;
  if (oflags & oflag::kTrunc) flags |= O_TRUNC;
  if (fdflags & fdflag::kAppend) flags |= O_APPEND;
  if (fdflags & fdflag::kDsync) flags |= O_DSYNC;
  if (fdflags & (fdflag::kSync | fdflag::kRsync)) flags |= O_SYNC;  // O_RSYNC == O_SYNC here
  return flags;
}

}  // namespace

Errno HostImpl::path_open(M m, uint32_t fd, uint32_t dirFlags, uint32_t path, uint32_t pathLen,
                          uint32_t oflags, uint64_t base, uint64_t inheriting, uint32_t fdflags,
                          uint32_t fdOut) {
  Rights needed = right::kPathOpen;
  if (oflags & oflag::kCreat) needed |= right::kPathCreateFile;
  if (oflags & oflag::kTrunc) needed |= right::kPathFilestatSetSize;
  WASI_TRY(FdEntry * dir, fds_.getDirectory(fd, needed));
  if ((oflags & ~uint32_t{oflag::kAll}) != 0 || (fdflags & ~uint32_t{fdflag::kAll}) != 0)
    return Errno::kInval;
  WASI_TRY(std::string_view guestPath, guestString(m, path, pathLen));
  WASI_CHECK(checkOut(m, fdOut, sizeof(uint32_t)));

  WASI_TRY(UniqueFd file, PathResolver::open(dir->host.get(), guestPath,
                                             openFlags(dirFlags, oflags, base, fdflags), 0666));
  if (!(fdflags & fdflag::kNonblock)) {
    int fl = fcntl(file.get(), F_GETFL);
    if (fl < 0 || fcntl(file.get(), F_SETFL, fl & ~O_NONBLOCK) != 0) return lastErrno();
  }
  struct stat st {};
  if (fstat(file.get(), &st) != 0) return lastErrno();

  FdEntry entry;
  entry.type = filetypeOf(st, file.get());
  entry.host = std::move(file);
  // New rights: what was asked, within what the directory passes on and what this kind of
  // descriptor can do at all.
  const Rights possible = entry.isDirectory() ? right::kDirectory : right::kRegularFile;
  entry.base = base & dir->inheriting & possible;
  entry.inheriting = inheriting & dir->inheriting;
  entry.syncFlags = fdflags & (fdflag::kDsync | fdflag::kRsync | fdflag::kSync);
  WASI_TRY(Fd newFd, fds_.add(std::move(entry)));
  return storeOut<uint32_t>(m, fdOut, newFd);
}

Errno HostImpl::path_create_directory(M m, uint32_t fd, uint32_t path, uint32_t pathLen) {
  WASI_TRY(FdEntry * dir, fds_.getDirectory(fd, right::kPathCreateDirectory));
  WASI_TRY(std::string_view guestPath, guestString(m, path, pathLen));
  WASI_TRY(auto parent, PathResolver::parent(dir->host.get(), guestPath));
  return check(mkdirat(parent.dir.get(), parent.name.c_str(), 0777));
}

Errno HostImpl::path_filestat_get(M m, uint32_t fd, uint32_t flags, uint32_t path, uint32_t pathLen,
                                  uint32_t statOut) {
  WASI_TRY(FdEntry * dir, fds_.getDirectory(fd, right::kPathFilestatGet));
  WASI_TRY(std::string_view guestPath, guestString(m, path, pathLen));
  WASI_CHECK(checkOut(m, statOut, sizeof(Filestat)));
  WASI_TRY(UniqueFd target,
           PathResolver::open(dir->host.get(), guestPath, O_PATH | nofollowUnless(flags)));
  struct stat st {};
  if (fstat(target.get(), &st) != 0) return lastErrno();
  return storeOut(m, statOut, toFilestat(st, -1));
}

Errno HostImpl::path_filestat_set_times(M m, uint32_t fd, uint32_t flags, uint32_t path,
                                        uint32_t pathLen, uint64_t atim, uint64_t mtim,
                                        uint32_t fstFlags) {
  WASI_TRY(FdEntry * dir, fds_.getDirectory(fd, right::kPathFilestatSetTimes));
  WASI_TRY(std::string_view guestPath, guestString(m, path, pathLen));
  WASI_TRY(auto times, toTimespecs(atim, mtim, fstFlags));
  WASI_TRY(UniqueFd target,
           PathResolver::open(dir->host.get(), guestPath, O_PATH | nofollowUnless(flags)));
  // On an O_PATH fd of a symlink this sets the link's own times.
  return check(utimensat(target.get(), "", times.data(), AT_EMPTY_PATH));
}

Errno HostImpl::path_link(M m, uint32_t oldFd, uint32_t oldFlags, uint32_t oldPath, uint32_t oldLen,
                          uint32_t newFd, uint32_t newPath, uint32_t newLen) {
  WASI_TRY(FdEntry * oldDir, fds_.getDirectory(oldFd, right::kPathLinkSource));
  WASI_TRY(FdEntry * newDir, fds_.getDirectory(newFd, right::kPathLinkTarget));
  WASI_TRY(std::string_view oldGuestPath, guestString(m, oldPath, oldLen));
  WASI_TRY(std::string_view newGuestPath, guestString(m, newPath, newLen));
  WASI_TRY(auto to, PathResolver::parent(newDir->host.get(), newGuestPath));

  if (oldFlags & kLookupSymlinkFollow) {
    // Link what the path resolves to (inside the sandbox).
    WASI_TRY(UniqueFd source, PathResolver::open(oldDir->host.get(), oldGuestPath, O_PATH));
    if (linkat(source.get(), "", to.dir.get(), to.syscallName().c_str(), AT_EMPTY_PATH) == 0)
      return Errno::kSuccess;
    // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the fd's /proc link does not. (The host
    // names that link itself: it is the already resolved source, not a guest path.)
    if (errno != ENOENT) return lastErrno();
    const std::string procPath = "/proc/self/fd/" + std::to_string(source.get());
    return check(linkat(AT_FDCWD, procPath.c_str(), to.dir.get(), to.syscallName().c_str(),
                        AT_SYMLINK_FOLLOW));
  }
  WASI_TRY(auto from, PathResolver::parent(oldDir->host.get(), oldGuestPath));
  if (from.trailingSlash) {
    // "name/" means a directory, which cannot be hard-linked; the kernel would follow a
    // symlink here, so resolve it ourselves.
    auto target = PathResolver::open(oldDir->host.get(), oldGuestPath, O_PATH | O_DIRECTORY);
    return target ? Errno::kPerm : target.error();
  }
  return check(
      linkat(from.dir.get(), from.name.c_str(), to.dir.get(), to.syscallName().c_str(), 0));
}

Errno HostImpl::path_readlink(M m, uint32_t fd, uint32_t path, uint32_t pathLen, uint32_t buf,
                              uint32_t bufLen, uint32_t bufUsedOut) {
  WASI_TRY(FdEntry * dir, fds_.getDirectory(fd, right::kPathReadlink));
  WASI_TRY(std::string_view guestPath, guestString(m, path, pathLen));
  auto out = m.bytes(buf, bufLen);
  if (!out) return Errno::kFault;
  WASI_CHECK(checkOut(m, bufUsedOut, sizeof(uint32_t)));
  WASI_TRY(UniqueFd link, PathResolver::open(dir->host.get(), guestPath, O_PATH | O_NOFOLLOW));
  char target[PATH_MAX];
  ssize_t n = readlinkat(link.get(), "", target, sizeof target);
  if (n < 0) return errno == ENOENT ? Errno::kInval : lastErrno();  // not a symlink
  // A short buffer gets the first bufLen bytes of the target.
  const size_t used = std::min(static_cast<size_t>(n), out->size());
  std::memcpy(out->data(), target, used);
  return storeOut<uint32_t>(m, bufUsedOut, static_cast<uint32_t>(used));
}

Errno HostImpl::path_remove_directory(M m, uint32_t fd, uint32_t path, uint32_t pathLen) {
  WASI_TRY(FdEntry * dir, fds_.getDirectory(fd, right::kPathRemoveDirectory));
  WASI_TRY(std::string_view guestPath, guestString(m, path, pathLen));
  WASI_TRY(auto parent, PathResolver::parent(dir->host.get(), guestPath));
  return check(unlinkat(parent.dir.get(), parent.syscallName().c_str(), AT_REMOVEDIR));
}

Errno HostImpl::path_rename(M m, uint32_t oldFd, uint32_t oldPath, uint32_t oldLen, uint32_t newFd,
                            uint32_t newPath, uint32_t newLen) {
  WASI_TRY(FdEntry * oldDir, fds_.getDirectory(oldFd, right::kPathRenameSource));
  WASI_TRY(FdEntry * newDir, fds_.getDirectory(newFd, right::kPathRenameTarget));
  WASI_TRY(std::string_view oldGuestPath, guestString(m, oldPath, oldLen));
  WASI_TRY(std::string_view newGuestPath, guestString(m, newPath, newLen));
  WASI_TRY(auto from, PathResolver::parent(oldDir->host.get(), oldGuestPath));
  WASI_TRY(auto to, PathResolver::parent(newDir->host.get(), newGuestPath));
  return check(
      renameat(from.dir.get(), from.syscallName().c_str(), to.dir.get(), to.syscallName().c_str()));
}

Errno HostImpl::path_symlink(M m, uint32_t target, uint32_t targetLen, uint32_t fd, uint32_t path,
                             uint32_t pathLen) {
  WASI_TRY(FdEntry * dir, fds_.getDirectory(fd, right::kPathSymlink));
  WASI_TRY(std::string_view linkTarget, guestString(m, target, targetLen));
  WASI_TRY(std::string_view guestPath, guestString(m, path, pathLen));
  if (auto ok = PathResolver::validate(linkTarget); !ok) return ok.error();
  // An absolute target could only ever point outside the sandbox.
  if (linkTarget.front() == '/') return Errno::kNotcapable;
  WASI_TRY(auto parent, PathResolver::parent(dir->host.get(), guestPath));
  return check(
      symlinkat(std::string(linkTarget).c_str(), parent.dir.get(), parent.syscallName().c_str()));
}

Errno HostImpl::path_unlink_file(M m, uint32_t fd, uint32_t path, uint32_t pathLen) {
  WASI_TRY(FdEntry * dir, fds_.getDirectory(fd, right::kPathUnlinkFile));
  WASI_TRY(std::string_view guestPath, guestString(m, path, pathLen));
  WASI_TRY(auto parent, PathResolver::parent(dir->host.get(), guestPath));
  return check(unlinkat(parent.dir.get(), parent.syscallName().c_str(), 0));
}

}  // namespace runwasi::wasi
