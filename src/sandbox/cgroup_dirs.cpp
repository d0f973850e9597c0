#include "sandbox/cgroup_dirs.h"

namespace runwasi::sandbox {

namespace fs = std::filesystem;

std::vector<fs::path> cgroupDirs(std::string_view cgroupsPath) {
  std::vector<fs::path> out;
  fs::path relative = fs::path(cgroupsPath).relative_path();
  std::error_code ec;
  for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    fs::path dir = hierarchy.path() / relative;
    if (fs::is_directory(dir, ec)) out.push_back(dir);
  }
  fs::path unified = fs::path("/sys/fs/cgroup") / relative;
  if (fs::exists("/sys/fs/cgroup/cgroup.controllers", ec) && fs::is_directory(unified, ec))
    out.push_back(unified);
  return out;
}

}  // namespace runwasi::sandbox
