#include "shim/event_publisher.h"

#include <google/protobuf/descriptor.h>

#include <algorithm>
#include <utility>

#include "common/log.h"
#include "github.com/containerd/containerd/api/services/ttrpc/events/v1/events.pb.h"
#include "shim/proto_time.h"

namespace runwasi::shim {

namespace eventsv1 = containerd::services::events::ttrpc::v1;
using namespace std::chrono_literals;

namespace {

constexpr char kEventsService[] = "containerd.services.events.ttrpc.v1.Events";
constexpr char kUnixScheme[] = "unix://";

bool isExit(std::string_view topic) {
  return topic == topic::kTaskExit;
}

// Statuses that say the event itself is unacceptable: sending it again cannot help.
bool isPermanent(ttrpc::Code code) {
  switch (code) {
    case ttrpc::Code::kInvalidArgument:
    case ttrpc::Code::kNotFound:
    case ttrpc::Code::kAlreadyExists:
    case ttrpc::Code::kPermissionDenied:
    case ttrpc::Code::kUnimplemented:
    case ttrpc::Code::kUnauthenticated:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::optional<std::string_view> topicOf(const google::protobuf::Message& event) {
  const std::string& name = event.GetDescriptor()->full_name();
  for (const auto& entry : kEventTopics) {
    if (entry.eventType == name) return entry.topic;
  }
  return std::nullopt;
}

Expected<std::unique_ptr<EventPublisher>> EventPublisher::create(std::string address,
                                                                 std::string ns,
                                                                 EventPublisherOptions options) {
  if (address.starts_with(kUnixScheme)) address.erase(0, sizeof(kUnixScheme) - 1);
  if (address.empty()) {
    return makeError(ErrorCode::kInvalidArgument, "event publisher: no ttrpc address");
  }
  if (ns.empty()) return makeError(ErrorCode::kInvalidArgument, "event publisher: no namespace");
  if (options.queueCapacity == 0 || options.maxAttempts < 1) {
    return makeError(ErrorCode::kInvalidArgument,
                     "event publisher: queue capacity and attempts must be positive");
  }
  return std::unique_ptr<EventPublisher>(
      new EventPublisher(std::move(address), std::move(ns), options));
}

EventPublisher::EventPublisher(std::string address, std::string ns, EventPublisherOptions options)
    : address_(std::move(address)),
      namespace_(std::move(ns)),
      options_(options),
      worker_([this] { run(); }) {}

EventPublisher::~EventPublisher() {
  stop();
}

Expected<void> EventPublisher::publish(std::string_view topic,
                                       const google::protobuf::Message& event) {
  if (!topic.starts_with('/')) {
    return makeError(ErrorCode::kInvalidArgument,
                     "event topic " + std::string(topic) + " must start with '/'");
  }
  eventsv1::ForwardRequest request;
  auto* envelope = request.mutable_envelope();
  // Stamped now, not when sent: containerd orders and shows events by this time.
  setTimestamp(envelope->mutable_timestamp(), std::chrono::system_clock::now());
  envelope->set_namespace_(namespace_);
  envelope->set_topic(std::string(topic));
  // containerd's typeurl registers its events under the bare full name (PROTOCOL.md).
  envelope->mutable_event()->set_type_url(event.GetDescriptor()->full_name());
  if (!event.SerializeToString(envelope->mutable_event()->mutable_value())) {
    return makeError(ErrorCode::kInternal, "cannot serialize the " + std::string(topic) + " event");
  }

  std::lock_guard lock(mutex_);
  if (stopping_) {
    return makeError(ErrorCode::kFailedPrecondition,
                     "event publisher stopped: " + std::string(topic) + " not sent");
  }
  enqueueLocked(Item{std::string(topic), request.SerializeAsString()});
  changed_.notify_all();
  return {};
}

Expected<void> EventPublisher::publish(const google::protobuf::Message& event) {
  auto topic = topicOf(event);
  if (!topic) {
    return makeError(ErrorCode::kInvalidArgument,
                     "no task event topic for " + event.GetDescriptor()->full_name());
  }
  return publish(*topic, event);
}

void EventPublisher::enqueueLocked(Item item) {
  if (queue_.size() >= options_.queueCapacity) {
    // The oldest non-exit event goes; that is the new one when every queued one is an exit.
    auto victim = std::find_if(queue_.begin(), queue_.end(),
                               [](const Item& queued) { return !isExit(queued.topic); });
    if (victim != queue_.end()) {
      log::warn("event queue full ({} events): dropping a {} event", queue_.size(), victim->topic);
      queue_.erase(victim);
      ++stats_.dropped;
    } else if (!isExit(item.topic)) {
      log::warn("event queue full of exit events: dropping a {} event", item.topic);
      ++stats_.dropped;
      return;
    } else {
      log::warn("event queue full of exit events: keeping {} events", queue_.size() + 1);
    }
  }
  queue_.push_back(std::move(item));
}

Expected<void> EventPublisher::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  bool drained =
      changed_.wait_for(lock, timeout, [&] { return (queue_.empty() && !inFlight_) || stopping_; });
  size_t pending = queue_.size() + (inFlight_ ? 1 : 0);
  if (!drained || pending > 0) {
    return makeError(ErrorCode::kUnavailable,
                     "event publisher: " + std::to_string(pending) + " events still pending");
  }
  return {};
}

void EventPublisher::stop() {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      stopping_ = true;
      // Cuts off a Forward in flight; the worker sees stopping_ and ends.
      if (client_) client_->close();
      changed_.notify_all();
    }
  }
  if (worker_.joinable() && worker_.get_id() != std::this_thread::get_id()) worker_.join();
}

EventPublisherStats EventPublisher::stats() const {
  std::lock_guard lock(mutex_);
  EventPublisherStats stats = stats_;
  stats.pending = queue_.size() + (inFlight_ ? 1 : 0);
  return stats;
}

void EventPublisher::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) break;
    // Popped while sent, so a full queue never drops the event on the wire; the next one
    // waits for it, which keeps the order.
    Item item = std::move(queue_.front());
    queue_.pop_front();
    inFlight_ = true;
    lock.unlock();
    deliver(item);
    lock.lock();
    inFlight_ = false;
    changed_.notify_all();
  }
  if (!queue_.empty()) {
    log::warn("event publisher stopped with {} events unsent", queue_.size());
    stats_.abandoned += queue_.size();
    queue_.clear();
  }
  // Destroyed here, on the worker, the only thread that uses it for calls.
  client_.reset();
  changed_.notify_all();
}

void EventPublisher::deliver(const Item& item) {
  auto firstAttempt = std::chrono::steady_clock::now();
  auto backoff = options_.initialBackoff;
  for (int attempts = 1;; ++attempts) {
    auto result = attempt(item);
    std::unique_lock lock(mutex_);
    if (result) {
      ++stats_.delivered;
      if (attempts > 1) log::info("event {} delivered after {} attempts", item.topic, attempts);
      return;
    }
    if (stopping_) {
      ++stats_.abandoned;
      log::warn("event publisher stopped: {} event not delivered", item.topic);
      return;
    }
    ++stats_.failedAttempts;
    const auto& status = result.error();
    if (isPermanent(status.code)) {
      ++stats_.abandoned;
      log::error("containerd rejected the {} event ({}): {}; dropped", item.topic,
                 ttrpc::codeName(status.code), status.message);
      return;
    }
    auto elapsed = std::chrono::steady_clock::now() - firstAttempt;
    if (attempts >= options_.maxAttempts || elapsed + backoff > options_.giveUpAfter) {
      ++stats_.abandoned;
      log::error("giving up on the {} event after {} attempts over {} ms: {}", item.topic, attempts,
                 std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(),
                 status.message);
      return;
    }
    // The first failure is worth a warning; the retries that follow only at debug level.
    if (attempts == 1) {
      log::warn("forwarding the {} event failed: {}; retrying", item.topic, status.message);
    } else {
      log::debug("forwarding the {} event failed (attempt {}): {}; retrying in {} ms", item.topic,
                 attempts, status.message, backoff.count());
    }
    // Only stop() cuts the wait short; publish() must not speed up a retry.
    changed_.wait_for(lock, backoff, [&] { return stopping_; });
    backoff = std::min(backoff * 2, options_.maxBackoff);
  }
}

ttrpc::StatusOr<void> EventPublisher::attempt(const Item& item) {
  ttrpc::Client* client = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return ttrpc::makeStatus(ttrpc::Code::kCancelled, "stopping");
    if (client_ && !client_->connected()) client_.reset();  // lost: reconnect below
    client = client_.get();
  }
  if (!client) {
    auto connected = ttrpc::Client::connect(address_);
    if (!connected) {
      return ttrpc::makeStatus(ttrpc::Code::kUnavailable,
                               "cannot connect to " + address_ + ": " + connected.error().message);
    }
    std::lock_guard lock(mutex_);
    client_ = std::move(*connected);
    ++stats_.connects;
    if (stopping_) return ttrpc::makeStatus(ttrpc::Code::kCancelled, "stopping");
    client = client_.get();
  }
  auto reply = client->call(kEventsService, "Forward", item.request, options_.callTimeout);
  if (reply) return {};
  // A call that timed out may be stuck behind a hung connection: start afresh. (The event
  // may have arrived: delivery is at least once, as containerd's own publisher.)
  if (reply.error().code == ttrpc::Code::kDeadlineExceeded ||
      reply.error().code == ttrpc::Code::kUnavailable) {
    std::lock_guard lock(mutex_);
    client_.reset();
  }
  return tl::unexpected(std::move(reply).error());
}

}  // namespace runwasi::shim
