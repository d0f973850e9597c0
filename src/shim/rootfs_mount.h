// Mounting containerd's rootfs mounts (CreateTaskRequest.rootfs) and tearing them down.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"
#include "sandbox/mount_options.h"

namespace runwasi::shim {

// One entry of CreateTaskRequest.rootfs (containerd's types.Mount, without the target).
struct RootfsMount {
  std::string type, source;
  std::vector<std::string> options;
};

// Mounts each entry onto `target` in order, as containerd's mount.All does. On failure,
// unmounts what this call mounted and returns an error naming source, type and target:
// "mounting overlay (overlay) on /x/rootfs: No such file or directory".
Expected<void> mountRootfs(const std::vector<RootfsMount>& mounts,
                           const std::filesystem::path& target);

// Unmounts (detaching) everything at or below `target`, deepest first, including mounts
// stacked on one point. Nothing mounted, or a missing target, is success.
Expected<void> unmountRootfs(const std::filesystem::path& target);

// Option parsing lives with the container's own mounts (src/sandbox).
using sandbox::MountOptions;
using sandbox::parseMountOptions;

}  // namespace runwasi::shim
