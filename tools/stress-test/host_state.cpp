#include "host_state.h"

#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/vfs.h>

#include <fstream>
#include <iterator>
#include <string_view>

#include "common/file.h"

namespace runwasi::stress {

namespace fs = std::filesystem;

fs::path defaultWorkBase() {
  struct statfs fs {};
  if (::statfs("/dev/shm", &fs) == 0 && fs.f_type == TMPFS_MAGIC) return "/dev/shm";
  return {};
}

std::vector<std::string> mountPoints() {
  std::vector<std::string> out;
  auto info = readFile("/proc/self/mountinfo");
  if (!info) return out;
  std::string_view text(reinterpret_cast<const char*>(info->data()), info->size());
  while (!text.empty()) {
    std::string_view line = text.substr(0, text.find('\n'));
    text.remove_prefix(std::min(text.size(), line.size() + 1));
    // Fields: id parent major:minor root mount-point ...
    size_t field = 0, pos = 0;
    for (; field < 4 && pos != std::string_view::npos; ++field) {
      pos = line.find(' ', pos);
      if (pos != std::string_view::npos) ++pos;
    }
    if (pos == std::string_view::npos) continue;
    out.emplace_back(line.substr(pos, line.find(' ', pos) - pos));
  }
  return out;
}

std::vector<std::string> mountsUnder(const fs::path& dir) {
  std::vector<std::string> out;
  const std::string prefix = dir.string();
  for (std::string& point : mountPoints())
    if (point == prefix || (point.starts_with(prefix) &&
                            std::string_view(point).substr(prefix.size()).starts_with('/')))
      out.push_back(std::move(point));
  return out;
}

std::chrono::nanoseconds toolCpuTime() {
  auto of = [](int who) {
    struct rusage u {};
    ::getrusage(who, &u);
    auto time = [](const timeval& t) {
      return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
    };
    return std::chrono::nanoseconds(time(u.ru_utime) + time(u.ru_stime));
  };
  return of(RUSAGE_SELF) + of(RUSAGE_CHILDREN);
}

double msPerTask(std::chrono::nanoseconds cpu, size_t tasks) {
  return tasks == 0
             ? 0
             : std::chrono::duration<double, std::milli>(cpu).count() / static_cast<double>(tasks);
}

std::string readText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace runwasi::stress
