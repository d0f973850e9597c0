// containerd's side of task events for the mock: the Events ttrpc service
// (containerd.services.events.ttrpc.v1.Events/Forward) on the socket that TTRPC_ADDRESS
// names, counting what the shims publish.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "ttrpc/server.h"

namespace runwasi::stress {

// What has arrived so far.
struct EventTally {
  size_t total = 0;                                             // Forward calls answered OK
  std::map<std::string, size_t> byTopic;                        // topic -> count
  std::map<std::string, std::map<std::string, size_t>> byTask;  // container id -> topic -> count
  // Forwards refused (wrong namespace, unknown topic, a type that does not match the
  // topic, undecodable): each a line saying why. containerd would refuse them too.
  std::vector<std::string> rejected;
};

class EventSink {
 public:
  // Serves Forward at `socketPath` (which must not exist) for namespace `ns`.
  static Expected<std::unique_ptr<EventSink>> start(const std::string& socketPath, std::string ns);
  // Stops serving; the socket is removed.
  ~EventSink();
  EventSink(const EventSink&) = delete;
  EventSink& operator=(const EventSink&) = delete;

  EventTally tally() const;

 private:
  explicit EventSink(std::string ns) : ns_(std::move(ns)) {}
  // The Forward handler: checks and counts one event.
  ttrpc::StatusOr<std::string> forward(const ttrpc::Call& call);

  const std::string ns_;
  mutable std::mutex mutex_;
  EventTally tally_;  // guarded by mutex_
  std::unique_ptr<ttrpc::Server> server_;
  std::thread loop_;  // runs server_
};

}  // namespace runwasi::stress
