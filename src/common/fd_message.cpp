#include "common/fd_message.h"

#include <sys/socket.h>

#include <array>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace runwasi {
namespace {

using Control = std::array<char, CMSG_SPACE(sizeof(int) * kMaxMessageFds)>;

}  // namespace

Expected<void> sendFdMessage(int socket, std::string_view data, std::span<const int> fds,
                             std::string_view peer) {
  if (fds.size() > kMaxMessageFds)
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} fds for the {}, limit {}", fds.size(), peer, kMaxMessageFds));
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) Control control{};
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    int err = errno;
    if (err == EPIPE || err == ECONNRESET)
      return tl::unexpected(Error{ErrorCode::kUnavailable, err, fmt::format("the {} has exited", peer)});
    return makeSysError(fmt::format("cannot send to the {}", peer), err);
  }
  return {};
}

Expected<std::string> receiveFdMessage(int socket, std::vector<UniqueFd>& fds, size_t maxSize,
                                       std::string_view peer) {
  // Not zero-filled: a string of maxSize + 1 zeros (1 MiB for the zygote's and the engine
  // host's messages, most of which are a few hundred bytes) cost 257 page faults and a
  // 1 MiB memset on every message, several per container.
  std::unique_ptr<char[]> buffer(new char[maxSize + 1]);
  iovec iov{buffer.get(), maxSize + 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) Control control{};
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n;
  do n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == ECONNRESET)  // the peer died with our message unread
    return tl::unexpected(Error{ErrorCode::kUnavailable, ECONNRESET, fmt::format("the {} has exited", peer)});
  if (n < 0) return makeSysError(fmt::format("cannot receive from the {} socket", peer));
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fds.emplace_back(fd);
    }
  }
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || static_cast<size_t>(n) > maxSize)
    return makeError(ErrorCode::kInvalidArgument, fmt::format("{} message truncated", peer));
  return std::string(buffer.get(), static_cast<size_t>(n));
}

}  // namespace runwasi
