#include "shim/rootfs_mount.h"

#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <string_view>
#include <system_error>

namespace runwasi::shim {
namespace {

namespace fs = std::filesystem;


// Flags a bind mount ignores on creation and only takes from a MS_REMOUNT|MS_BIND call.
constexpr unsigned long kPerMountFlags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |
                                         MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME;

std::string describe(const RootfsMount& m, const fs::path& target) {
  return m.source + " (" + (m.type.empty() ? "none" : m.type) + ") on " + target.string();
}

// Mounts one entry; counts it in `mounted` as soon as a new mount exists, so a failing
// follow-up call still gets it rolled back.
Expected<void> mountOne(const RootfsMount& m, const fs::path& target, int& mounted) {
  MountOptions opts = parseMountOptions(m.options);
  unsigned long flags = opts.flags;
  if (m.type == "bind") flags |= MS_BIND;
  if (m.type == "rbind") flags |= MS_BIND | MS_REC;

  const char* type = m.type.empty() ? nullptr : m.type.c_str();
  const char* data = opts.data.empty() ? nullptr : opts.data.c_str();
  if (::mount(m.source.c_str(), target.c_str(), type, flags, data) != 0)
    return makeSysError("mounting " + describe(m, target));
  if (!(flags & MS_REMOUNT)) ++mounted;

  const bool newBind = (flags & MS_BIND) && !(flags & MS_REMOUNT);
  if (newBind && (flags & kPerMountFlags)) {
    if (::mount("", target.c_str(), nullptr, MS_REMOUNT | MS_BIND | (flags & kPerMountFlags),
                nullptr) != 0)
      return makeSysError("remounting " + describe(m, target) + " with its flags");
  }
  if (opts.propagation) {
    if (::mount("", target.c_str(), nullptr, opts.propagation, nullptr) != 0)
      return makeSysError("setting the propagation of " + describe(m, target));
  }
  return {};
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescapeMountinfo(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    auto isOctal = [&](size_t j) { return field[j] >= '0' && field[j] <= '7'; };
    if (field[i] == '\\' && i + 3 < field.size() && isOctal(i + 1) && isOctal(i + 2) &&
        isOctal(i + 3)) {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                               (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

bool isAtOrBelow(std::string_view point, std::string_view dir) {
  if (dir == "/") return true;
  if (point.substr(0, dir.size()) != dir) return false;
  return point.size() == dir.size() || point[dir.size()] == '/';
}

// Mount points (field 5 of mountinfo) at or below dir, which must be canonical.
Expected<std::vector<std::string>> mountPointsAtOrBelow(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return makeSysError("reading /proc/self/mountinfo");
  std::vector<std::string> points;
  std::string line;
  while (std::getline(in, line)) {
    std::string_view rest = line;
    for (int skip = 0; skip < 4 && !rest.empty(); ++skip) {
      size_t space = rest.find(' ');
      rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    }
    std::string point = unescapeMountinfo(rest.substr(0, rest.find(' ')));
    if (!point.empty() && isAtOrBelow(point, dir)) points.push_back(std::move(point));
  }
  return points;
}

}  // namespace


Expected<void> mountRootfs(const std::vector<RootfsMount>& mounts, const fs::path& target) {
  int mounted = 0;  // new mounts this call stacked on target
  for (const RootfsMount& m : mounts) {
    auto result = mountOne(m, target, mounted);
    if (!result) {
      // Each one sits on top of the previous, so detaching the top `mounted` times undoes
      // exactly this call's work (a detach also takes an rbind's submounts).
      for (; mounted > 0; --mounted) ::umount2(target.c_str(), MNT_DETACH);
      return result;
    }
  }
  return {};
}

Expected<void> unmountRootfs(const fs::path& target) {
  std::error_code ec;
  const fs::path dir = fs::canonical(target, ec);  // mountinfo shows resolved paths
  if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) return {};
  if (ec) return makeSysError("resolving " + target.string(), ec.value());

  // Re-read after every unmount: detaching a mount also detaches the ones below it, and one
  // point may hold stacked mounts. The bound stops a mount that can never be removed.
  constexpr int kMaxUnmounts = 4096;
  for (int i = 0; i < kMaxUnmounts; ++i) {
    TRY(std::vector<std::string> points, mountPointsAtOrBelow(dir.string()));
    if (points.empty()) return {};
    auto depth = [](const std::string& p) { return std::count(p.begin(), p.end(), '/'); };
    const std::string& deepest = *std::max_element(
        points.begin(), points.end(),
        [&](const std::string& a, const std::string& b) { return depth(a) < depth(b); });
    // EINVAL/ENOENT: already gone with a parent that was detached since the read.
    if (::umount2(deepest.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
      return makeSysError("unmounting " + deepest);
  }
  return makeError(ErrorCode::kInternal,
                   "mounts remain at or below " + target.string() + " after unmounting");
}

}  // namespace runwasi::shim
