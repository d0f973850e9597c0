// The engine host's protocol (engine_host.h), shared by its two sides: the host, and
// whichever start asks it (the shim binary's own, or the shim's front).
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.h"
#include "shim/engine_host.h"

namespace runwasi::shim::host_wire {

// What start sends once it has the daemon's pid: the daemon may run.
inline constexpr std::string_view kGo = "go";
// How long each side waits for the other's next message.
inline constexpr int kReplyTimeoutMs = 2000;
inline constexpr size_t kMaxMessage = 1 << 20;
// The host's command line has room for a daemon's: "<shim> engine-host" and then this
// many empty arguments (NUL bytes).
inline constexpr int kCommandLineRoom = 4096;

sockaddr_un abstractAddress(const std::string& name, socklen_t& length);
// SO_RCVTIMEO and SO_SNDTIMEO.
void setTimeouts(int fd, int ms);
// One SOCK_SEQPACKET message, with `fd` attached when not -1.
Expected<void> sendMessage(int socket, std::string_view data, std::string_view peer, int fd = -1);

// A start request as JSON, and back.
std::string encode(const HostedStart& start);
Expected<HostedStart> decode(std::string_view text);

}  // namespace runwasi::shim::host_wire
