#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

namespace runwasi::log {
namespace {
std::atomic<Level> gLevel{Level::kWarn};
std::atomic<int> gFd{STDERR_FILENO};

std::string_view levelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "?";
}
}  // namespace

void setLevel(Level level) {
  gLevel = level;
}
void setFd(int fd) {
  gFd = fd;
}
Level level() {
  return gLevel;
}

void write(Level level, std::string_view message) {
  // One write(2) per line so concurrent writers never interleave within a line.
  std::string line = fmt::format("runwasi {}: {}\n", levelName(level), message);
  [[maybe_unused]] ssize_t n = ::write(gFd.load(), line.data(), line.size());
}

}  // namespace runwasi::log
