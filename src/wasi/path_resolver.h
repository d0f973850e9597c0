// Sandboxed resolution of guest paths: nothing a guest names can leave the directory it
// names it from.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/unique_fd.h"
#include "wasi/abi.h"

namespace runwasi::wasi {

// Resolves guest paths relative to a directory fd with openat2(2) and RESOLVE_BENEATH:
// the kernel walks the whole path (symlinks included) and refuses any step outside the
// directory, atomically, so there is no window for a race. Escapes (absolute paths, `..`
// above the directory, absolute or escaping symlinks) fail with ENOTCAPABLE; symlink loops
// with ELOOP; NUL bytes with EINVAL; over-long paths with ENAMETOOLONG.
class PathResolver {
 public:
  // The last component of a path and the directory that holds it, for the functions that
  // act on a name without following it (mkdir, unlink, rmdir, rename, symlink, link).
  struct Parent {
    UniqueFd dir;        // an O_PATH directory fd beneath the starting directory
    std::string name;    // one component, never empty, "." for paths ending in "." or ".."
    bool trailingSlash;  // the guest path ended in '/'

    // The name to pass to the *at system call: with one '/' when the guest wrote one, so
    // the kernel applies its trailing-slash rules (it never follows the final component
    // for these calls).
    std::string syscallName() const { return trailingSlash ? name + "/" : name; }
  };

  // open(2) `path` beneath `dirFd`. Symlinks are followed inside the directory only; the
  // final one not at all with O_NOFOLLOW (ELOOP, or the link itself with O_PATH).
  static Result<UniqueFd> open(int dirFd, std::string_view path, int flags, mode_t mode = 0);

  // The parent directory and last component of `path`, resolved beneath `dirFd`.
  static Result<Parent> parent(int dirFd, std::string_view path);

  // EINVAL for a NUL byte, ENAMETOOLONG past PATH_MAX, ENOENT for an empty path.
  static Result<void> validate(std::string_view path);
};

}  // namespace runwasi::wasi
