// The zygote's wire protocol: one SOCK_SEQPACKET message per request or reply, fds riding
// along as SCM_RIGHTS.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "sandbox/zygote.h"

namespace runwasi::sandbox::protocol {

// Larger than any sane argv + env, and below the default AF_UNIX send buffer.
inline constexpr size_t kMaxMessage = 128 * 1024;
inline constexpr size_t kMaxFds = 64;

// A request as the zygote sees it: the fds it received are owned here.
struct ReceivedRequest {
  SpawnRequest request;  // its fd fields are -1; the fds are below
  UniqueFd stdinFd, stdoutFd, stderrFd, moduleFd, artifactFd, startGateFd, seccompFd, statusFd,
      consoleSocketFd;
  std::vector<UniqueFd> cgroupProcsFds;
  std::vector<UniqueFd> namespaceFds;  // one per request.namespaceTypes entry
};

// Encodes a request with its fds (as borrowed by `request`) and sends it.
Expected<void> sendRequest(int socket, const SpawnRequest& request);
// Receives one request; an empty optional on EOF (the requester closed its end).
Expected<std::optional<ReceivedRequest>> receiveRequest(int socket);

// A reply carries a pid or an Error. The zygote's first message, "ready", is a reply too.
Expected<void> sendReply(int socket, const Expected<pid_t>& reply);
// Receives one reply; Unavailable when the zygote has gone.
Expected<pid_t> receiveReply(int socket);

// The hello's second message, after a successful "ready" reply.
Expected<void> sendEngineFacts(int socket, const EngineFacts& facts);
Expected<EngineFacts> receiveEngineFacts(int socket);

}  // namespace runwasi::sandbox::protocol
