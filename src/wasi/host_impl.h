// The concrete WASI host behind Host: the fd table plus one member per WASI function.
//
// Semantics chosen where the spec leaves room (each one also noted at its function):
// - Rights: every function checks the rights the spec names (ENOTCAPABLE), before any side
//   effect; path_open grants what was asked masked by the directory's inheriting rights and
//   by what the file type can use (a directory never gets fd_read/fd_seek, say).
// - Paths resolve beneath their directory fd (PathResolver); escapes are ENOTCAPABLE.
// - Results are written only after every pointer was checked: EFAULT leaves no side effect.
// - proc_exit and terminating proc_raise signals set exitCode() and return; the engine
//   unwinds. fd_pwrite writes at its offset even in append mode (POSIX, not Linux).
// - A borrowed host fd that is non-blocking (shared with its opener) looks and behaves
//   blocking to the guest until the guest sets fdflags::nonblock itself.
#pragma once

#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

#include <array>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wasi/abi.h"
#include "wasi/fd_table.h"
#include "wasi/host.h"

namespace runwasi::wasi {

class HostImpl final : public Host {
 public:
  static Expected<std::unique_ptr<Host>> create(Config config);

  uint32_t call(FunctionId id, GuestMemory memory, const uint64_t* args) override;
  std::optional<uint32_t> exitCode() const override { return exitCode_; }

  // One member per wasi_snapshot_preview1 function, named as in the witx so that call()
  // can dispatch from functions.def; parameters follow its signature letters (i32 ->
  // uint32_t, i64 -> uint64_t) and are checked against them at compile time.
  using M = const GuestMemory&;
  // host_args_clock.cpp
  Errno args_get(M m, uint32_t argv, uint32_t argvBuf);
  Errno args_sizes_get(M m, uint32_t argcOut, uint32_t bufSizeOut);
  Errno environ_get(M m, uint32_t environ, uint32_t environBuf);
  Errno environ_sizes_get(M m, uint32_t countOut, uint32_t bufSizeOut);
  Errno clock_res_get(M m, uint32_t id, uint32_t resolutionOut);
  Errno clock_time_get(M m, uint32_t id, uint64_t precision, uint32_t timeOut);
  Errno proc_exit(M m, uint32_t code);
  Errno proc_raise(M m, uint32_t signal);
  Errno sched_yield(M m);
  Errno random_get(M m, uint32_t buf, uint32_t bufLen);
  // host_fd.cpp
  Errno fd_advise(M m, uint32_t fd, uint64_t offset, uint64_t len, uint32_t advice);
  Errno fd_allocate(M m, uint32_t fd, uint64_t offset, uint64_t len);
  Errno fd_close(M m, uint32_t fd);
  Errno fd_datasync(M m, uint32_t fd);
  Errno fd_fdstat_get(M m, uint32_t fd, uint32_t statOut);
  Errno fd_fdstat_set_flags(M m, uint32_t fd, uint32_t flags);
  Errno fd_fdstat_set_rights(M m, uint32_t fd, uint64_t base, uint64_t inheriting);
  Errno fd_filestat_get(M m, uint32_t fd, uint32_t statOut);
  Errno fd_filestat_set_size(M m, uint32_t fd, uint64_t size);
  Errno fd_filestat_set_times(M m, uint32_t fd, uint64_t atim, uint64_t mtim, uint32_t flags);
  Errno fd_prestat_get(M m, uint32_t fd, uint32_t prestatOut);
  Errno fd_prestat_dir_name(M m, uint32_t fd, uint32_t path, uint32_t pathLen);
  Errno fd_renumber(M m, uint32_t from, uint32_t to);
  Errno fd_seek(M m, uint32_t fd, uint64_t offset, uint32_t whence, uint32_t newOffsetOut);
  Errno fd_sync(M m, uint32_t fd);
  Errno fd_tell(M m, uint32_t fd, uint32_t offsetOut);
  // host_io.cpp
  Errno fd_pread(M m, uint32_t fd, uint32_t iovs, uint32_t iovsLen, uint64_t offset,
                 uint32_t nreadOut);
  Errno fd_pwrite(M m, uint32_t fd, uint32_t iovs, uint32_t iovsLen, uint64_t offset,
                  uint32_t nwrittenOut);
  Errno fd_read(M m, uint32_t fd, uint32_t iovs, uint32_t iovsLen, uint32_t nreadOut);
  Errno fd_write(M m, uint32_t fd, uint32_t iovs, uint32_t iovsLen, uint32_t nwrittenOut);
  Errno fd_readdir(M m, uint32_t fd, uint32_t buf, uint32_t bufLen, uint64_t cookie,
                   uint32_t bufUsedOut);
  // host_path.cpp
  Errno path_create_directory(M m, uint32_t fd, uint32_t path, uint32_t pathLen);
  Errno path_filestat_get(M m, uint32_t fd, uint32_t flags, uint32_t path, uint32_t pathLen,
                          uint32_t statOut);
  Errno path_filestat_set_times(M m, uint32_t fd, uint32_t flags, uint32_t path, uint32_t pathLen,
                                uint64_t atim, uint64_t mtim, uint32_t fstFlags);
  Errno path_link(M m, uint32_t oldFd, uint32_t oldFlags, uint32_t oldPath, uint32_t oldLen,
                  uint32_t newFd, uint32_t newPath, uint32_t newLen);
  Errno path_open(M m, uint32_t fd, uint32_t dirFlags, uint32_t path, uint32_t pathLen,
                  uint32_t oflags, uint64_t base, uint64_t inheriting, uint32_t fdflags,
                  uint32_t fdOut);
  Errno path_readlink(M m, uint32_t fd, uint32_t path, uint32_t pathLen, uint32_t buf,
                      uint32_t bufLen, uint32_t bufUsedOut);
  Errno path_remove_directory(M m, uint32_t fd, uint32_t path, uint32_t pathLen);
  Errno path_rename(M m, uint32_t oldFd, uint32_t oldPath, uint32_t oldLen, uint32_t newFd,
                    uint32_t newPath, uint32_t newLen);
  Errno path_symlink(M m, uint32_t target, uint32_t targetLen, uint32_t fd, uint32_t path,
                     uint32_t pathLen);
  Errno path_unlink_file(M m, uint32_t fd, uint32_t path, uint32_t pathLen);
  // host_poll.cpp
  Errno poll_oneoff(M m, uint32_t in, uint32_t out, uint32_t nsubscriptions, uint32_t neventsOut);
  // host_sock.cpp
  Errno sock_accept(M m, uint32_t fd, uint32_t flags, uint32_t fdOut);
  Errno sock_recv(M m, uint32_t fd, uint32_t riData, uint32_t riDataLen, uint32_t riFlags,
                  uint32_t roDataLenOut, uint32_t roFlagsOut);
  Errno sock_send(M m, uint32_t fd, uint32_t siData, uint32_t siDataLen, uint32_t siFlags,
                  uint32_t soDataLenOut);
  Errno sock_shutdown(M m, uint32_t fd, uint32_t how);

  explicit HostImpl(Config config) : config_(std::move(config)) {}

 private:
  // host_args_clock.cpp: args_get / environ_get share one layout.
  static Errno writeStrings(M m, const std::vector<std::string>& strings, uint32_t ptrs,
                            uint32_t buf);
  static Errno writeStringSizes(M m, const std::vector<std::string>& strings, uint32_t countOut,
                                uint32_t bufSizeOut);
  // host.cpp: setup.
  Expected<void> openPreopens();
  Expected<void> adoptStdio();
  Expected<void> adoptSockets();

  Config config_;
  FdTable fds_;
  std::optional<uint32_t> exitCode_;
};

// ---- Helpers shared by the host_*.cpp files. ----

// A T with every byte zero (padding included: structs are copied to guest memory whole).
template <typename T>
T zeroed() {
  T value;
  std::memset(static_cast<void*>(&value), 0, sizeof value);
  return value;
}

// Stores a result; EFAULT when the pointer is out of bounds.
template <typename T>
Errno storeOut(const GuestMemory& m, uint32_t ptr, const T& value) {
  return m.store(ptr, value) ? Errno::kSuccess : Errno::kFault;
}
// EFAULT unless `size` bytes at `ptr` can take a result (checked before side effects).
inline Errno checkOut(const GuestMemory& m, uint32_t ptr, uint64_t size) {
  return m.bytes(ptr, size) ? Errno::kSuccess : Errno::kFault;
}

// Guest text (a path, a symlink target); EFAULT when out of bounds.
inline Result<std::string_view> guestString(const GuestMemory& m, uint32_t ptr, uint32_t len) {
  auto s = m.string(ptr, len);
  if (!s) return fail(Errno::kFault);
  return *s;
}

// Returns the errno of a failed Result<T> expression from the enclosing function.
#define WASI_TRY(decl, expr)                                                    \
  auto&& RUNWASI_TRY_NAME_(__LINE__) = (expr);                                  \
  if (!RUNWASI_TRY_NAME_(__LINE__)) return RUNWASI_TRY_NAME_(__LINE__).error(); \
  decl = std::move(*RUNWASI_TRY_NAME_(__LINE__))
#define WASI_CHECK(expr)                                                                   \
  do {                                                                                     \
    if (Errno wasi_check_e = (expr); wasi_check_e != Errno::kSuccess) return wasi_check_e; \
  } while (0)

// The guest's iovec array as host iovecs (at most IOV_MAX: a short transfer is allowed).
Result<std::vector<struct iovec>> hostIovecs(const GuestMemory& m, uint32_t iovs, uint32_t iovsLen);
// The host clock of a WASI clockid; EINVAL for an unknown one.
Result<clockid_t> hostClock(uint32_t id);
uint64_t toNanos(const struct timespec& ts);

Filetype filetypeOf(const struct stat& st, int hostFd);
Filestat toFilestat(const struct stat& st, int hostFd);
// timespec for utimensat(2) from the WASI arguments; EINVAL for contradictory flags.
Result<std::array<struct timespec, 2>> toTimespecs(uint64_t atim, uint64_t mtim, uint32_t fstFlags);

}  // namespace runwasi::wasi
