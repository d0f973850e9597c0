// One incoming ttrpc request as a server handler sees it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace runwasi::ttrpc {

// Request metadata (ttrpc KeyValue pairs), in the order sent; keys may repeat.
using Metadata = std::vector<std::pair<std::string, std::string>>;

struct Call {
  std::string service;  // e.g. "containerd.task.v2.Task"
  std::string method;   // e.g. "Create"
  std::string payload;  // the serialized request message
  uint32_t streamId = 0;
  // From the request's timeout_nano, when the client set one. Advisory, as in ttrpc: the
  // server does not answer on its own when it passes.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  Metadata metadata;
};

}  // namespace runwasi::ttrpc
