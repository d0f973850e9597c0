#include "wasi/path_resolver.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace runwasi::wasi {
namespace {

// RESOLVE_BENEATH fails with EAGAIN when a concurrent rename or mount might have let a
// `..` step escape; a retry is then safe.
constexpr int kMaxAttempts = 16;

}  // namespace

Result<void> PathResolver::validate(std::string_view path) {
  if (path.find('\0') != std::string_view::npos) return fail(Errno::kInval);
  if (path.size() >= PATH_MAX) return fail(Errno::kNametoolong);
  if (path.empty()) return fail(Errno::kNoent);
  return {};
}

Result<UniqueFd> PathResolver::open(int dirFd, std::string_view path, int flags, mode_t mode) {
  if (auto ok = validate(path); !ok) return fail(ok.error());
  const std::string cpath(path);
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  // (O_TMPFILE includes the O_DIRECTORY bit, so test it whole.)
  const bool creates = (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
  how.mode = creates ? mode : 0;  // openat2 rejects a mode it would not use
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (int attempt = 0;; ++attempt) {
    long fd = syscall(SYS_openat2, dirFd, cpath.c_str(), &how, sizeof how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    int err = errno;
    if ((err == EAGAIN || err == EINTR) && attempt < kMaxAttempts) continue;
    if (err == EXDEV) return fail(Errno::kNotcapable);  // the walk tried to leave dirFd
    return fail(errnoFromHost(err));
  }
}

Result<PathResolver::Parent> PathResolver::parent(int dirFd, std::string_view path) {
  if (auto ok = validate(path); !ok) return fail(ok.error());
  std::string_view trimmed = path;
  while (!trimmed.empty() && trimmed.back() == '/') trimmed.remove_suffix(1);
  const bool trailingSlash = trimmed.size() != path.size();
  if (trimmed.empty() || trimmed.front() == '/') return fail(Errno::kNotcapable);  // absolute

  const size_t slash = trimmed.rfind('/');
  std::string_view name = slash == std::string_view::npos ? trimmed : trimmed.substr(slash + 1);
  std::string_view dirPart = slash == std::string_view::npos ? "." : trimmed.substr(0, slash + 1);
  if (name == "." || name == "..") {
    // The path names a directory itself: resolve all of it and act on its ".".
    dirPart = trimmed;
    name = ".";
  }
  auto dir = open(dirFd, dirPart, O_PATH | O_DIRECTORY);
  if (!dir) return fail(dir.error());
  return Parent{std::move(*dir), std::string(name), trailingSlash};
}

}  // namespace runwasi::wasi
