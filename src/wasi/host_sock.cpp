// sock_* functions on the sockets the host was given (Config::sockets) and their accepts.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <climits>

#include "wasi/host_impl.h"

namespace runwasi::wasi {
// A socket entry: EBADF when there is none, ENOTSOCK for another kind of fd, ENOTCAPABLE
// without `rights` (in that order, so a plain fd reports what it is).
static Result<FdEntry*> socketEntry(FdTable& fds, Fd fd, Rights rights) {
  auto entry = fds.get(fd);
  if (!entry) return entry;
  if (!(*entry)->isSocket()) return fail(Errno::kNotsock);
  return fds.get(fd, rights);
}

Errno HostImpl::sock_accept(M m, uint32_t fd, uint32_t flags, uint32_t fdOut) {
  WASI_TRY(FdEntry * listener, socketEntry(fds_, fd, right::kSockAccept));
  if ((flags & ~uint32_t{fdflag::kNonblock}) != 0) return Errno::kInval;
  WASI_CHECK(checkOut(m, fdOut, sizeof(uint32_t)));
  int socketFlags = SOCK_CLOEXEC | ((flags & fdflag::kNonblock) ? SOCK_NONBLOCK : 0);
  UniqueFd conn(static_cast<int>(listener->blockingIo(POLLIN, [&] {
    return static_cast<ssize_t>(accept4(listener->host.get(), nullptr, nullptr, socketFlags));
  })));
  if (!conn) return lastErrno();
  struct stat st {};
  if (fstat(conn.get(), &st) != 0) return lastErrno();
  FdEntry entry;
  entry.type = filetypeOf(st, conn.get());
  entry.base = right::kSocket & ~right::kSockAccept;
  entry.host = std::move(conn);
  WASI_TRY(Fd newFd, fds_.add(std::move(entry)));
  return storeOut<uint32_t>(m, fdOut, newFd);
}

Errno HostImpl::sock_recv(M m, uint32_t fd, uint32_t riData, uint32_t riDataLen, uint32_t riFlags,
                          uint32_t roDataLenOut, uint32_t roFlagsOut) {
  WASI_TRY(FdEntry * entry, socketEntry(fds_, fd, right::kFdRead));
  if ((riFlags & ~uint32_t{kRiRecvPeek | kRiRecvWaitall}) != 0) return Errno::kInval;
  WASI_TRY(auto iov, hostIovecs(m, riData, riDataLen));
  WASI_CHECK(checkOut(m, roDataLenOut, sizeof(uint32_t)));
  WASI_CHECK(checkOut(m, roFlagsOut, sizeof(uint16_t)));
  struct msghdr msg {};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov.size();
  int flags =
      ((riFlags & kRiRecvPeek) ? MSG_PEEK : 0) | ((riFlags & kRiRecvWaitall) ? MSG_WAITALL : 0);
  ssize_t n = entry->blockingIo(POLLIN, [&] { return recvmsg(entry->host.get(), &msg, flags); });
  if (n < 0) return lastErrno();
  uint16_t roFlags = (msg.msg_flags & MSG_TRUNC) ? kRoRecvDataTruncated : 0;
  m.store<uint32_t>(roDataLenOut, static_cast<uint32_t>(n));
  m.store<uint16_t>(roFlagsOut, roFlags);
  return Errno::kSuccess;
}

Errno HostImpl::sock_send(M m, uint32_t fd, uint32_t siData, uint32_t siDataLen, uint32_t siFlags,
                          uint32_t soDataLenOut) {
  WASI_TRY(FdEntry * entry, socketEntry(fds_, fd, right::kFdWrite));
  if (siFlags != 0) return Errno::kInval;  // siflags has no bits defined
  WASI_TRY(auto iov, hostIovecs(m, siData, siDataLen));
  WASI_CHECK(checkOut(m, soDataLenOut, sizeof(uint32_t)));
  struct msghdr msg {};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov.size();
  // MSG_NOSIGNAL: EPIPE, never SIGPIPE.
  ssize_t n =
      entry->blockingIo(POLLOUT, [&] { return sendmsg(entry->host.get(), &msg, MSG_NOSIGNAL); });
  if (n < 0) return lastErrno();
  return storeOut<uint32_t>(m, soDataLenOut, static_cast<uint32_t>(n));
}

Errno HostImpl::sock_shutdown(M, uint32_t fd, uint32_t how) {
  WASI_TRY(FdEntry * entry, socketEntry(fds_, fd, right::kSockShutdown));
  int hostHow;
  switch (how) {
    case kSdRd:
      hostHow = SHUT_RD;
      break;
    case kSdWr:
      hostHow = SHUT_WR;
      break;
    case kSdRd | kSdWr:
      hostHow = SHUT_RDWR;
      break;
    default:
      return Errno::kInval;
  }
  return shutdown(entry->host.get(), hostHow) == 0 ? Errno::kSuccess : lastErrno();
}

}  // namespace runwasi::wasi
