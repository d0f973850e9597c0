// A ttrpc client on a unix socket: calls from any number of threads share one connection,
// each waits for its own response (matched by stream id) or its timeout.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include <google/protobuf/message_lite.h>

#include "common/error.h"
#include "common/unique_fd.h"
#include "ttrpc/call.h"
#include "ttrpc/frame.h"
#include "ttrpc/status.h"

namespace runwasi::ttrpc {

// Waits as long as it takes (as does any timeout over a year).
inline constexpr std::chrono::milliseconds kNoTimeout = std::chrono::milliseconds::max();

class Client {
 public:
  static Expected<std::unique_ptr<Client>> connect(const std::string& path);
  // Takes over a connected stream socket.
  static Expected<std::unique_ptr<Client>> adopt(UniqueFd connected);
  // Closes the connection. Every call must have returned (calls from other threads fail
  // with Unavailable once close() runs; destroy the client after they are done).
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request and waits for its response: the serialized response message, or
  // the server's status, DeadlineExceeded after `timeout` (also sent to the server as
  // the request's timeout), Unavailable when the connection is or gets lost.
  StatusOr<std::string> call(std::string_view service, std::string_view method,
                             std::string_view payload, std::chrono::milliseconds timeout,
                             const Metadata& metadata = {});

  // The same with protobuf messages; a response that does not parse is Internal.
  template <typename Response>
  StatusOr<Response> call(std::string_view service, std::string_view method,
                          const google::protobuf::MessageLite& request,
                          std::chrono::milliseconds timeout, const Metadata& metadata = {}) {
    auto payload = call(service, method, request.SerializeAsString(), timeout, metadata);
    if (!payload) return tl::unexpected(std::move(payload).error());
    Response response;
    if (!response.ParseFromString(*payload)) {
      return makeStatus(Code::kInternal, "ttrpc: cannot parse the response of " +
                                             std::string(service) + "/" + std::string(method));
    }
    return response;
  }

  // Closes the connection now (from any thread); pending and later calls fail.
  void close();
  bool connected() const;

 private:
  struct PendingCall {
    std::condition_variable answered;
    std::optional<StatusOr<std::string>> result;  // guarded by Client::mutex_
  };

  explicit Client(UniqueFd fd);
  void readLoop();
  void deliver(uint32_t streamId, StatusOr<std::string> result);
  void failAll(const std::string& why);
  // Writes a whole frame before the deadline, or breaks the connection: a partly written
  // frame leaves the stream unusable.
  StatusOr<void> writeFrame(const std::string& frame,
                            std::optional<std::chrono::steady_clock::time_point> deadline);

  UniqueFd fd_;
  std::mutex writeMutex_;  // one frame at a time on the socket

  mutable std::mutex mutex_;
  uint64_t nextStreamId_ = 1;                                           // guarded by mutex_
  std::unordered_map<uint32_t, std::shared_ptr<PendingCall>> pending_;  // guarded by mutex_
  std::optional<std::string> closedReason_;  // guarded by mutex_; set once the connection is gone

  std::thread reader_;  // owns reading: decodes responses and fails everyone at EOF
};

}  // namespace runwasi::ttrpc
