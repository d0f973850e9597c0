// Where a shim daemon listens: containerd's socket naming, and the bundle's address file.
#pragma once

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

// True when something accepts connections on the socket at path.
bool canConnect(const std::string& path);

// Unlinks a socket file; a missing file is not an error.
Expected<void> removeSocket(const std::string& path);

// Writes <bundle>/address atomically (containerd reads it to reconnect after a restart).
Expected<void> writeAddressFile(const std::filesystem::path& bundle, std::string_view address);

}  // namespace runwasi::shim
