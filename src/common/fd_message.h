// One message over a SOCK_SEQPACKET unix socket, with file descriptors (SCM_RIGHTS): the
// zygote's protocol and the engine host's use it.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace runwasi {

// Sends `data` and `fds` (at most kMaxMessageFds) as one message. Errors name `peer`:
// "the <peer> has exited" (Unavailable) when it closed its end.
Expected<void> sendFdMessage(int socket, std::string_view data, std::span<const int> fds,
                             std::string_view peer);

// Receives one message of at most `maxSize` bytes; its fds (close-on-exec, owned) are
// appended to `fds`. An empty string without error is EOF. Errors name `peer`, as above.
Expected<std::string> receiveFdMessage(int socket, std::vector<UniqueFd>& fds, size_t maxSize,
                                       std::string_view peer);

inline constexpr size_t kMaxMessageFds = 64;

}  // namespace runwasi
