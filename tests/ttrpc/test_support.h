// Shared by the ttrpc tests: a server running on its own thread in a temporary directory,
// and a raw socket that speaks frames byte for byte.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "../support/scratch_dir.h"
#include "common/unique_fd.h"
#include "runwasi/ttrpc/wire.pb.h"
#include "ttrpc/client.h"
#include "ttrpc/frame.h"
#include "ttrpc/server.h"

namespace runwasi::ttrpc {
// Readable codes in gtest failures.
inline std::ostream& operator<<(std::ostream& out, Code code) {
  return out << codeName(code);
}
}  // namespace runwasi::ttrpc

namespace runwasi::ttrpc::testing {

using runwasi::testing::ScratchDir;

// Keeps responders unanswered until the test ends (a dropped one answers Internal).
class HeldResponders {
 public:
  void hold(Responder responder) {
    std::lock_guard lock(mutex_);
    held_.push_back(std::move(responder));
  }
  size_t count() {
    std::lock_guard lock(mutex_);
    return held_.size();
  }

 private:
  std::mutex mutex_;
  std::vector<Responder> held_;
};

// A server listening on <tempdir>/ttrpc.sock, served on a background thread. Register
// methods through server() before start().
class RunningServer {
 public:
  explicit RunningServer(ServerOptions options = {});
  ~RunningServer();
  Server& server() { return *server_; }
  const std::string& socketPath() const { return socketPath_; }
  void start();
  // stop() and wait for run() to return.
  void stopAndJoin();
  std::unique_ptr<Client> connect();

 private:
  ScratchDir dir_;
  std::string socketPath_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

// A connected blocking socket with a receive timeout, for protocol-level tests.
class RawConnection {
 public:
  explicit RawConnection(const std::string& path);
  void sendBytes(std::string_view bytes);
  void sendFrame(uint32_t streamId, uint8_t type, std::string_view body);
  void sendRequest(uint32_t streamId, const std::string& service, const std::string& method,
                   const std::string& payload = "");
  // The next frame, or nullopt on EOF or after `timeout` without one.
  std::optional<Frame> receiveFrame(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Same, parsed as a Response.
  std::optional<wire::Response> receiveResponse(
      uint32_t* streamId = nullptr, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True when the peer closed the connection within `timeout`.
  bool closedByPeer(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  void close() { fd_.reset(); }

 private:
  UniqueFd fd_;
  FrameDecoder decoder_;
};

std::string requestBody(const std::string& service, const std::string& method,
                        const std::string& payload = "");

// Waits until pred() holds or the timeout passes; returns pred().
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace runwasi::ttrpc::testing
