#include "shim/stdio_fifo.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <string_view>

namespace runwasi::shim {
namespace {

// "scheme://..." (RFC 3986 scheme syntax): containerd's log URIs (`ctr run --log-uri`).
// file:// is supported for stdout and stderr; binary:// (a logging program) is not yet.
bool hasUriScheme(std::string_view path) {
  size_t sep = path.find("://");
  if (sep == std::string_view::npos || sep == 0) return false;
  auto isAlpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!isAlpha(path[0])) return false;
  for (char c : path.substr(0, sep)) {
    bool ok = isAlpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// The fds were opened non-blocking only so open(2) could not wait for the other end; the
// container process expects ordinary blocking I/O.
Expected<void> makeBlocking(int fd, std::string_view what) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
    return makeSysError("clearing O_NONBLOCK on " + std::string(what));
  return {};
}

Expected<UniqueFd> openStream(std::string_view stream, const std::string& path, bool input) {
  if (path.empty()) return UniqueFd();
  constexpr std::string_view kFileScheme = "file://";
  if (!input && path.starts_with(kFileScheme) && path.size() > kFileScheme.size() &&
      path[kFileScheme.size()] == '/') {
    // A log file, created as containerd's shims create it.
    std::string file = path.substr(kFileScheme.size());
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return makeSysError(std::string(stream) + ": opening the log file " + file);
    return UniqueFd(fd);
  }
  if (hasUriScheme(path))
    return makeError(ErrorCode::kInvalidArgument,
                     std::string(stream) + ": unsupported URI scheme in " + path +
                         ": only FIFO paths, file paths and file:// URIs are supported");
  const std::string what = std::string(stream) + " FIFO " + path;
  int fd = -1;
  if (input) {
    fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  } else {
    // O_APPEND serves a regular file and is harmless on a FIFO or /dev/null.
    fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC);
    // ENXIO: a FIFO with no reader yet. Holding the read side ourselves lets the open
    // succeed and keeps what the process writes until containerd's reader arrives.
    if (fd < 0 && errno == ENXIO) fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  }
  if (fd < 0) return makeSysError("opening " + what);
  UniqueFd owned(fd);
  TRY_VOID(makeBlocking(owned.get(), what));
  return owned;
}

}  // namespace

Expected<StdioFds> openStdio(const StdioPaths& paths) {
  StdioFds fds;
  TRY(fds.in, openStream("stdin", paths.stdinPath, true));
  TRY(fds.out, openStream("stdout", paths.stdoutPath, false));
  if (!paths.stderrPath.empty() && paths.stderrPath == paths.stdoutPath) {
    // One open file description for both, as a shell's 2>&1 would give.
    int dup = ::fcntl(fds.out.get(), F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return makeSysError("duplicating stdout for stderr " + paths.stderrPath);
    fds.err.reset(dup);
  } else {
    TRY(fds.err, openStream("stderr", paths.stderrPath, false));
  }
  return fds;
}

std::vector<UniqueFd> holdOutputReaders(const StdioPaths& paths) {
  std::vector<UniqueFd> readers;
  for (const std::string* path : {&paths.stdoutPath, &paths.stderrPath}) {
    struct stat st {};
    if (path->empty() || ::stat(path->c_str(), &st) != 0 || !S_ISFIFO(st.st_mode)) continue;
    UniqueFd reader(::open(path->c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (reader) readers.push_back(std::move(reader));
  }
  return readers;
}

UniqueFd holdStdinWriter(const StdioPaths& paths) {
  struct stat st {};
  if (paths.stdinPath.empty() || ::stat(paths.stdinPath.c_str(), &st) != 0 || !S_ISFIFO(st.st_mode))
    return UniqueFd();
  // Non-blocking so that the open cannot wait (a reader exists: the process's stdin).
  return UniqueFd(::open(paths.stdinPath.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
}

}  // namespace runwasi::shim
