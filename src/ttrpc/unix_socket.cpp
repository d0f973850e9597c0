#include "ttrpc/unix_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace runwasi::ttrpc {
namespace {

Expected<sockaddr_un> unixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // sun_path needs room for the terminating NUL.
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return makeError(ErrorCode::kInvalidArgument,
                     "unix socket path '" + path + "' is empty or longer than " +
                         std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

}  // namespace

Expected<UniqueFd> listenUnix(const std::string& path) {
  TRY(sockaddr_un addr, unixAddress(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return makeSysError("socket(AF_UNIX)");
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return makeSysError("bind " + path);
  }
  if (::listen(fd.get(), SOMAXCONN) != 0) return makeSysError("listen " + path);
  return fd;
}

Expected<UniqueFd> connectUnix(const std::string& path) {
  TRY(sockaddr_un addr, unixAddress(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return makeSysError("socket(AF_UNIX)");
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return makeSysError("connect " + path);
  return fd;
}

Expected<void> setNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return makeSysError("fcntl(O_NONBLOCK)");
  }
  return {};
}

}  // namespace runwasi::ttrpc
