// Where a shim daemon listens: containerd's socket naming, and the bundle's address file.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"

namespace runwasi::shim {

// containerd's fixed directory for shim sockets (defaults.DefaultStateDir + "/s"), used
// even by a containerd with a private state directory.
inline constexpr std::string_view kSocketDir = "/run/containerd/s";

// Go's filepath.Clean: the shortest lexically equivalent path ("" becomes ".").
std::string goCleanPath(std::string_view path);

// containerd's shim.SocketAddress: "unix:///run/containerd/s/" + hex(sha256(
// filepath.Join(containerdAddress, ns, group))). Containers of one group share it.
std::string socketAddress(std::string_view containerdAddress, std::string_view ns,
                          std::string_view group);

// The filesystem path of a "unix://PATH" address (abstract sockets are not supported).
Expected<std::string> socketPathOf(std::string_view address);

// True when a shim daemon serves the socket at path: it answers a Task request (with
// any status) within `timeout`. A connection alone proves nothing: the listener of a
// daemon that is being killed still completes connections from its backlog for a few
// milliseconds after containerd has seen the daemon's connection close, and `delete`
// runs in exactly that window.
bool daemonAnswers(const std::string& path,
                   std::chrono::milliseconds timeout = std::chrono::seconds(2));

// Unlinks a socket file; a missing file is not an error.
Expected<void> removeSocket(const std::string& path);

// Writes <bundle>/address atomically (containerd reads it to reconnect after a restart).
Expected<void> writeAddressFile(const std::filesystem::path& bundle, std::string_view address);

}  // namespace runwasi::shim
