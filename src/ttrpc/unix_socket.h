// Unix stream sockets for ttrpc: listening, connecting, non-blocking mode.
#pragma once

#include <string>

#include "common/error.h"
#include "common/unique_fd.h"

namespace runwasi::ttrpc {

// Binds and listens on a filesystem path (which must not exist yet), close-on-exec.
Expected<UniqueFd> listenUnix(const std::string& path);
// Connects to a listening socket path, close-on-exec, blocking.
Expected<UniqueFd> connectUnix(const std::string& path);
Expected<void> setNonBlocking(int fd);

}  // namespace runwasi::ttrpc
