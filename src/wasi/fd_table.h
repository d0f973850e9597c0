// The guest's file descriptors: host fds with their WASI type, rights and flags.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "wasi/abi.h"

namespace runwasi::wasi {

struct FdEntry {
  UniqueFd host;
  Filetype type = Filetype::kUnknown;
  Rights base = 0;        // what this descriptor may do
  Rights inheriting = 0;  // what descriptors opened through it may do at most
  // The sync fdflags it was opened with: Linux cannot report O_RSYNC apart from O_SYNC.
  uint16_t syncFlags = 0;
  std::optional<std::string> preopenName;  // the guest path of a preopened directory
  // The host fd is non-blocking but the guest never asked for that (a borrowed stdio fd,
  // say): reads and writes wait for readiness, and fdstat does not report nonblock.
  bool blockingEmulated = false;
  // fd_readdir's own open of the directory (opened on first use): its position is moved to
  // each call's cookie, so the guest's cookies stay positions in one directory stream.
  UniqueFd readdirStream;

  bool isDirectory() const { return type == Filetype::kDirectory; }
  bool isSocket() const {
    return type == Filetype::kSocketStream || type == Filetype::kSocketDgram;
  }
  // Runs `io` (a read or write returning ssize_t) and, when the guest sees this fd as
  // blocking but the host fd is not, waits for `events` (POLLIN/POLLOUT) and retries.
  template <typename Io>
  ssize_t blockingIo(short events, Io io) const;
};

// The guest's fd numbers. New descriptors take the lowest free number from 3 up, so a
// closed stdio number is never reused behind the guest's back.
class FdTable {
 public:
  // The entry of `fd`: EBADF when there is none, ENOTCAPABLE when it lacks any of `base`
  // or `inheriting`.
  Result<FdEntry*> get(Fd fd, Rights base = 0, Rights inheriting = 0);
  // Like get(), but a non-directory fails with ENOTDIR first (the *at functions).
  Result<FdEntry*> getDirectory(Fd fd, Rights base, Rights inheriting = 0);

  // Adds an entry under a new number.
  Result<Fd> add(FdEntry entry);
  // Puts an entry at `fd` (create-time setup: stdio, preopens, sockets).
  void put(Fd fd, FdEntry entry);
  Result<void> close(Fd fd);
  // Moves `from` over `to` (both must be open), closing what `to` held.
  Result<void> renumber(Fd from, Fd to);

 private:
  static constexpr Fd kFirstAllocated = 3;
  std::vector<std::optional<FdEntry>> entries_;
};

template <typename Io>
ssize_t FdEntry::blockingIo(short events, Io io) const {
  for (;;) {
    ssize_t n = io();
    if (n >= 0 || errno != EAGAIN || !blockingEmulated) return n;
    struct pollfd pfd {
      host.get(), events, 0
    };
    if (poll(&pfd, 1, -1) < 0 && errno != EINTR) return -1;
  }
}

}  // namespace runwasi::wasi
