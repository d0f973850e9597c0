#include "sandbox/pty.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace runwasi::sandbox {
namespace {

tl::unexpected<Error> terminalError(std::string_view what, int err = errno) {
  return tl::unexpected(Error{ErrorCode::kInvalidArgument, err,
                              fmt::format("process.terminal: {}: {}", what, std::strerror(err))});
}

}  // namespace

Expected<void> setupConsole(int socket) {
  UniqueFd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) return terminalError("opening /dev/ptmx");
  if (::unlockpt(master.get()) != 0) return terminalError("unlocking the pty");
  // TIOCGPTPEER opens the slave through the master, without a path lookup.
  int slave = ::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (slave < 0) {
    std::array<char, 64> name{};
    if (::ptsname_r(master.get(), name.data(), name.size()) != 0)
      return terminalError("naming the pty's slave");
    slave = ::open(name.data(), O_RDWR | O_NOCTTY);
    if (slave < 0) return terminalError(fmt::format("opening {}", name.data()));
  }
  UniqueFd slaveFd(slave);
  if (::setsid() < 0) return terminalError("starting a session");
  if (::ioctl(slaveFd.get(), TIOCSCTTY, 0) != 0)
    return terminalError("making the pty the controlling terminal");
  for (int target : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO})
    if (::dup2(slaveFd.get(), target) < 0) return terminalError("binding the pty to stdio");
  if (slaveFd.get() <= STDERR_FILENO) (void)slaveFd.release();

  int fd = master.get();
  char byte = 't';
  iovec iov{&byte, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t n;
  while ((n = ::sendmsg(socket, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  if (n != 1) return terminalError("sending the pty to the shim");
  return {};
}

Expected<UniqueFd> receiveConsole(int socket) {
  char byte = 0;
  iovec iov{&byte, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * 4)> control{};
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n;
  while ((n = ::recvmsg(socket, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n < 0 && errno != EAGAIN) return makeSysError("receiving the process's pty");
  UniqueFd master;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); n > 0 && c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (!master) {
        master.reset(fd);
      } else {
        ::close(fd);
      }
    }
  }
  if (!master)
    return makeError(ErrorCode::kInternal, "the container process sent no pseudo-terminal");
  return master;
}

}  // namespace runwasi::sandbox
