// Minimal leveled logging to stderr (the shim later redirects it to its log FIFO).
#pragma once

#include <string_view>

#include <fmt/core.h>

namespace runwasi::log {

enum class Level { kDebug, kInfo, kWarn, kError };

void setLevel(Level level);
Level level();
// Where lines go: stderr by default. A container process sends the runtime's own lines
// to the shim's log, keeping its stderr for the workload.
void setFd(int fd);
void write(Level level, std::string_view message);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::kDebug) write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::kInfo) write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::kWarn) write(Level::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace runwasi::log
