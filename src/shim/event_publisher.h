// Publishes containerd task events: Events/Forward on containerd's ttrpc socket
// (TTRPC_ADDRESS), from a bounded queue drained in order by one worker thread that
// reconnects and retries.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <google/protobuf/message.h>

#include "common/error.h"
#include "ttrpc/client.h"

namespace runwasi::shim {

// The task topics (containerd runtime/events.go) and the event message each carries
// (runtime/v2/runc/util.go GetTopic): the one table of them.
struct EventTopic {
  std::string_view topic;
  std::string_view eventType;  // protobuf full name, also the Any's type_url
};
inline constexpr std::array<EventTopic, 10> kEventTopics = {{
    {"/tasks/create", "containerd.events.TaskCreate"},
    {"/tasks/start", "containerd.events.TaskStart"},
    {"/tasks/exit", "containerd.events.TaskExit"},
    {"/tasks/delete", "containerd.events.TaskDelete"},
    {"/tasks/exec-added", "containerd.events.TaskExecAdded"},
    {"/tasks/exec-started", "containerd.events.TaskExecStarted"},
    {"/tasks/oom", "containerd.events.TaskOOM"},
    {"/tasks/paused", "containerd.events.TaskPaused"},
    {"/tasks/resumed", "containerd.events.TaskResumed"},
    {"/tasks/checkpointed", "containerd.events.TaskCheckpointed"},
}};
namespace topic {
inline constexpr std::string_view kTaskCreate = kEventTopics[0].topic;
inline constexpr std::string_view kTaskStart = kEventTopics[1].topic;
inline constexpr std::string_view kTaskExit = kEventTopics[2].topic;
inline constexpr std::string_view kTaskDelete = kEventTopics[3].topic;
inline constexpr std::string_view kTaskExecAdded = kEventTopics[4].topic;
inline constexpr std::string_view kTaskExecStarted = kEventTopics[5].topic;
inline constexpr std::string_view kTaskOOM = kEventTopics[6].topic;
inline constexpr std::string_view kTaskPaused = kEventTopics[7].topic;
inline constexpr std::string_view kTaskResumed = kEventTopics[8].topic;
inline constexpr std::string_view kTaskCheckpointed = kEventTopics[9].topic;
}  // namespace topic

// The topic of a task event message, by its type; nullopt for other messages.
std::optional<std::string_view> topicOf(const google::protobuf::Message& event);

struct EventPublisherOptions {
  // Queued events at most; when full, the oldest event that is not a /tasks/exit is dropped
  // (exits are never dropped, the queue grows past the limit for them instead).
  size_t queueCapacity = 256;
  // Deadline of one Forward call (containerd's own publisher uses 5 s).
  std::chrono::milliseconds callTimeout = std::chrono::seconds(5);
  // Backoff between failed attempts: doubles from initialBackoff up to maxBackoff.
  std::chrono::milliseconds initialBackoff = std::chrono::milliseconds(50);
  std::chrono::milliseconds maxBackoff = std::chrono::seconds(2);
  // An event is given up (and logged) after this many failed attempts, or once this long
  // has passed since its first attempt, whichever comes first; the next one goes on.
  int maxAttempts = 30;
  std::chrono::milliseconds giveUpAfter = std::chrono::seconds(60);
};

// Counters, for logs and tests.
struct EventPublisherStats {
  uint64_t delivered = 0;       // Forward answered OK
  uint64_t dropped = 0;         // pushed out of a full queue
  uint64_t abandoned = 0;       // given up after retries, rejected, or left at stop()
  uint64_t failedAttempts = 0;  // Forward calls that failed (each retry counts)
  uint64_t connects = 0;        // connections made
  size_t pending = 0;           // queued plus the one being sent
};

class EventPublisher {
 public:
  // `address`: containerd's ttrpc socket (a path, or unix://path); `ns`: the namespace
  // every envelope carries. Starts the worker; connects lazily (containerd may come later).
  static Expected<std::unique_ptr<EventPublisher>> create(std::string address, std::string ns,
                                                          EventPublisherOptions options = {});
  // stop()s.
  ~EventPublisher();
  EventPublisher(const EventPublisher&) = delete;
  EventPublisher& operator=(const EventPublisher&) = delete;

  // Queues Envelope{timestamp: now, namespace, topic, Any{type_url: full name of event,
  // value}} without blocking. InvalidArgument for a topic not starting with '/' (containerd
  // would reject it), FailedPrecondition after stop().
  Expected<void> publish(std::string_view topic, const google::protobuf::Message& event);
  // The same on the event's own topic (kEventTopics); InvalidArgument for other messages.
  Expected<void> publish(const google::protobuf::Message& event);

  // Waits until every event queued so far is delivered or given up. Unavailable when some
  // are still pending after `timeout`. The shim calls it before exiting, so the final
  // /tasks/exit and /tasks/delete reach containerd.
  Expected<void> flush(std::chrono::milliseconds timeout);

  // Ends the worker now: a call in flight is cut off, events still queued are abandoned
  // (logged). Idempotent; publish() fails afterwards.
  void stop();

  EventPublisherStats stats() const;

 private:
  struct Item {
    std::string topic;
    std::string request;  // serialized ForwardRequest
  };

  EventPublisher(std::string address, std::string ns, EventPublisherOptions options);
  void run();
  // Sends one event until delivered, given up or stopped.
  void deliver(const Item& item);
  // One Forward call, connecting first when needed.
  ttrpc::StatusOr<void> attempt(const Item& item);
  void enqueueLocked(Item item);

  const std::string address_;
  const std::string namespace_;
  const EventPublisherOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;  // queue, inFlight_ or stopping_ changed
  std::deque<Item> queue_;           // guarded by mutex_
  bool inFlight_ = false;            // guarded by mutex_; the worker holds a popped item
  bool stopping_ = false;            // guarded by mutex_
  // Guarded by mutex_ so stop() can close it under a blocked call; only the worker
  // creates and destroys it.
  std::unique_ptr<ttrpc::Client> client_;
  EventPublisherStats stats_;  // guarded by mutex_ (pending is computed)

  std::thread worker_;  // last: started once everything above exists
};

}  // namespace runwasi::shim
