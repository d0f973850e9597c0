// Where a cgroup is on this machine, for checks that a container's cgroup is gone.
#pragma once

#include <filesystem>
#include <string_view>
#include <vector>

namespace runwasi::sandbox {

// The directories of cgroupsPath (absolute) that exist, in any hierarchy: each v1
// controller and the unified one under /sys/fs/cgroup (hybrid), or /sys/fs/cgroup itself
// where it is the unified hierarchy alone (v2).
std::vector<std::filesystem::path> cgroupDirs(std::string_view cgroupsPath);

}  // namespace runwasi::sandbox
