// Pseudo-terminals for `terminal: true`: made by the container process in its own root (so
// the slave lives in the container's devpts and ttyname() works there, as with runc), the
// master handed to the shim over a socket, which copies between it and the stdio FIFOs.
#pragma once

#include "common/error.h"
#include "common/unique_fd.h"

namespace runwasi::sandbox {

// In the container process, once it is in its root: opens a new pty from /dev/ptmx,
// starts a new session with the slave as its controlling terminal and stdin, stdout and
// stderr, and sends the master over `socket` (SCM_RIGHTS). InvalidArgument naming
// process.terminal, with the errno, when any step fails.
Expected<void> setupConsole(int socket);

// In the shim, after the process reported its set-up: the master setupConsole sent.
// Internal when there is none (the process died or failed before sending it).
Expected<UniqueFd> receiveConsole(int socket);

}  // namespace runwasi::sandbox
