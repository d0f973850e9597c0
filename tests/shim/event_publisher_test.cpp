// EventPublisher against our own ttrpc server serving containerd's Events service: order,
// envelope, retries across server outages, overflow, flush and stop.
#include "shim/event_publisher.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../support/scratch_dir.h"
#include "github.com/containerd/containerd/api/events/task.pb.h"
#include "github.com/containerd/containerd/api/services/ttrpc/events/v1/events.pb.h"
#include "ttrpc/server.h"

namespace runwasi::shim {
namespace {

namespace eventsv1 = containerd::services::events::ttrpc::v1;
constexpr char kEventsService[] = "containerd.services.events.ttrpc.v1.Events";

// Containerd's side of Events/Forward: records envelopes; can hold its answers (a slow
// containerd) and reject a topic (InvalidArgument, as containerd does for bad envelopes).
// stop() and start() again on the same path make a containerd restart.
class EventsServer {
 public:
  explicit EventsServer(std::string path) : path_(std::move(path)) {}
  ~EventsServer() {
    releaseAnswers();
    stop();
  }
  const std::string& path() const { return path_; }

  void start() {
    auto server = ttrpc::Server::create();
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::move(*server);
    server_->addMethod(kEventsService, "Forward",
                       [this](const ttrpc::Call& call) { return forward(call); });
    auto listening = server_->listen(path_);
    ASSERT_TRUE(listening) << listening.error().message;
    thread_ = std::thread([this] { (void)server_->run(); });
  }
  void stop() {
    if (!server_) return;
    server_->stop();
    thread_.join();
    server_.reset();
  }

  std::vector<eventsv1::Envelope> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }
  void holdAnswers() {
    std::lock_guard lock(mutex_);
    holding_ = true;
  }
  void releaseAnswers() {
    std::lock_guard lock(mutex_);
    holding_ = false;
    released_.notify_all();
  }
  size_t heldCount() {
    std::lock_guard lock(mutex_);
    return held_;
  }
  void rejectTopic(std::string topic) {
    std::lock_guard lock(mutex_);
    rejected_ = std::move(topic);
  }

 private:
  ttrpc::StatusOr<std::string> forward(const ttrpc::Call& call) {
    eventsv1::ForwardRequest request;
    if (!request.ParseFromString(call.payload)) {
      return ttrpc::makeStatus(ttrpc::Code::kInvalidArgument, "bad ForwardRequest");
    }
    std::unique_lock lock(mutex_);
    if (request.envelope().topic() == rejected_) {
      return ttrpc::makeStatus(ttrpc::Code::kInvalidArgument, "rejected topic");
    }
    ++held_;
    released_.wait(lock, [&] { return !holding_; });
    --held_;
    received_.push_back(request.envelope());
    return std::string();  // google.protobuf.Empty
  }

  const std::string path_;
  std::unique_ptr<ttrpc::Server> server_;
  std::thread thread_;  // runs server_

  std::mutex mutex_;
  std::condition_variable released_;          // holding_ went false
  std::vector<eventsv1::Envelope> received_;  // guarded by mutex_
  bool holding_ = false;                      // guarded by mutex_
  size_t held_ = 0;                           // guarded by mutex_
  std::string rejected_;                      // guarded by mutex_
};

// Waits until pred() holds or the timeout passes; returns pred().
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// Threads of this process, from /proc/self/task.
size_t threadCount() {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/self/task")) {
    ++count;
  }
  return count;
}

containerd::events::TaskExit exitEvent(const std::string& id, uint32_t status) {
  containerd::events::TaskExit exit;
  exit.set_container_id(id);
  exit.set_id(id);
  exit.set_exit_status(status);
  return exit;
}

containerd::events::TaskStart startEvent(const std::string& id, uint32_t pid) {
  containerd::events::TaskStart start;
  start.set_container_id(id);
  start.set_pid(pid);
  return start;
}

// container_id is field 1 of every task event: any of them reads it (the other fields
// land in unknown fields).
std::string containerIdOf(const eventsv1::Envelope& envelope) {
  containerd::events::TaskStart start;
  start.ParseFromString(envelope.event().value());
  return start.container_id();
}

using namespace std::chrono_literals;
using runwasi::testing::ScratchDir;

// Fast retries so the tests do not wait on production backoffs.
EventPublisherOptions fastOptions() {
  EventPublisherOptions options;
  options.initialBackoff = 10ms;
  options.maxBackoff = 50ms;
  options.maxAttempts = 1000;
  options.giveUpAfter = 30s;
  return options;
}

class EventPublisherTest : public ::testing::Test {
 protected:
  std::unique_ptr<EventPublisher> makePublisher(EventPublisherOptions options = fastOptions()) {
    auto publisher = EventPublisher::create(server_.path(), "test-ns", options);
    EXPECT_TRUE(publisher) << publisher.error().message;
    return std::move(*publisher);
  }

  ScratchDir dir_;
  EventsServer server_{(dir_ / "events.sock").string()};
};

TEST(EventTopics, TableNamesEveryTaskEvent) {
  EXPECT_EQ(topic::kTaskCreate, "/tasks/create");
  EXPECT_EQ(topic::kTaskStart, "/tasks/start");
  EXPECT_EQ(topic::kTaskExit, "/tasks/exit");
  EXPECT_EQ(topic::kTaskDelete, "/tasks/delete");
  EXPECT_EQ(topicOf(containerd::events::TaskExit()), "/tasks/exit");
  EXPECT_EQ(topicOf(containerd::events::TaskOOM()), "/tasks/oom");
  EXPECT_EQ(topicOf(containerd::events::TaskCheckpointed()), "/tasks/checkpointed");
  EXPECT_EQ(topicOf(containerd::events::TaskIO()), std::nullopt);
  // Each entry names a message the generated protos know, under that exact name.
  for (const auto& entry : kEventTopics) {
    EXPECT_TRUE(entry.eventType.starts_with("containerd.events.Task")) << entry.eventType;
    EXPECT_TRUE(entry.topic.starts_with("/tasks/")) << entry.topic;
  }
}

TEST(EventPublisherCreate, RejectsMissingAddressOrNamespace) {
  EXPECT_FALSE(EventPublisher::create("", "ns"));
  EXPECT_FALSE(EventPublisher::create("/x.sock", ""));
  EventPublisherOptions options;
  options.queueCapacity = 0;
  EXPECT_FALSE(EventPublisher::create("/x.sock", "ns", options));
}

TEST_F(EventPublisherTest, DeliversInOrderWithEnvelopeAndAny) {
  server_.start();
  auto publisher = makePublisher();
  auto before = std::chrono::system_clock::now();
  containerd::events::TaskCreate create;
  create.set_container_id("c1");
  create.set_bundle("/run/bundle/c1");
  ASSERT_TRUE(publisher->publish(create));
  ASSERT_TRUE(publisher->publish(topic::kTaskStart, startEvent("c1", 4242)));
  ASSERT_TRUE(publisher->publish(exitEvent("c1", 42)));
  containerd::events::TaskDelete del;
  del.set_container_id("c1");
  del.set_exit_status(42);
  ASSERT_TRUE(publisher->publish(del));
  ASSERT_TRUE(publisher->flush(5s));

  auto got = server_.received();
  ASSERT_EQ(got.size(), 4u);
  const char* topics[] = {"/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"};
  const char* types[] = {"containerd.events.TaskCreate", "containerd.events.TaskStart",
                         "containerd.events.TaskExit", "containerd.events.TaskDelete"};
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].topic(), topics[i]);
    EXPECT_EQ(got[i].namespace_(), "test-ns");
    EXPECT_EQ(got[i].event().type_url(), types[i]);  // bare: no type.googleapis.com/
    auto stamp =
        std::chrono::system_clock::time_point(std::chrono::seconds(got[i].timestamp().seconds()) +
                                              std::chrono::nanoseconds(got[i].timestamp().nanos()));
    EXPECT_GE(stamp, before - 1s);
    EXPECT_LE(stamp, std::chrono::system_clock::now());
  }
  containerd::events::TaskExit exit;
  ASSERT_TRUE(exit.ParseFromString(got[2].event().value()));
  EXPECT_EQ(exit.container_id(), "c1");
  EXPECT_EQ(exit.exit_status(), 42u);
  containerd::events::TaskStart start;
  ASSERT_TRUE(start.ParseFromString(got[1].event().value()));
  EXPECT_EQ(start.pid(), 4242u);
  EXPECT_EQ(publisher->stats().delivered, 4u);
}

TEST_F(EventPublisherTest, RejectsBadTopicsAndPublishAfterStop) {
  auto publisher = makePublisher();
  auto bad = publisher->publish("tasks/exit", exitEvent("c1", 0));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  auto unknown = publisher->publish(containerd::events::TaskIO());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kInvalidArgument);
  publisher->stop();
  auto late = publisher->publish(exitEvent("c1", 0));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(EventPublisherTest, ServerDownAtFirstThenDeliveredAfterRetry) {
  auto publisher = makePublisher();
  ASSERT_TRUE(publisher->publish(exitEvent("c1", 1)));
  ASSERT_TRUE(eventually([&] { return publisher->stats().failedAttempts >= 3; }));
  EXPECT_EQ(server_.received().size(), 0u);
  server_.start();
  ASSERT_TRUE(publisher->flush(10s));
  auto got = server_.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic(), "/tasks/exit");
  EXPECT_EQ(publisher->stats().delivered, 1u);
  EXPECT_EQ(publisher->stats().connects, 1u);
}

TEST_F(EventPublisherTest, ServerRestartMidStreamLosesNoEventAndKeepsOrder) {
  server_.start();
  auto publisher = makePublisher();
  std::vector<std::string> published;
  auto publishPair = [&](int i) {
    std::string id = "c" + std::to_string(i);
    ASSERT_TRUE(publisher->publish(topic::kTaskStart, startEvent(id, i)));
    ASSERT_TRUE(publisher->publish(exitEvent(id, i)));
    published.push_back("/tasks/start " + id);
    published.push_back("/tasks/exit " + id);
  };
  for (int i = 0; i < 20; ++i) publishPair(i);
  ASSERT_TRUE(eventually([&] { return server_.received().size() >= 10; }));
  server_.stop();
  for (int i = 20; i < 40; ++i) publishPair(i);
  ASSERT_TRUE(eventually([&] { return publisher->stats().failedAttempts >= 2; }));
  server_.start();
  for (int i = 40; i < 50; ++i) publishPair(i);
  ASSERT_TRUE(publisher->flush(10s));

  // At least once: an answer lost in the restart makes the same event arrive twice, back
  // to back; apart from that the stream is exactly what was published.
  std::vector<std::string> seen;
  for (const auto& envelope : server_.received()) {
    std::string line = envelope.topic() + " " + containerIdOf(envelope);
    if (seen.empty() || seen.back() != line) seen.push_back(line);
  }
  EXPECT_EQ(seen, published);
  EXPECT_EQ(publisher->stats().abandoned, 0u);
  EXPECT_GE(publisher->stats().connects, 2u);
}

TEST_F(EventPublisherTest, OverflowDropsTheOldestNonExitEventsOnly) {
  auto options = fastOptions();
  options.queueCapacity = 4;
  auto publisher = makePublisher(options);
  // The first event is taken off the queue and retried while the server is down.
  ASSERT_TRUE(publisher->publish(topic::kTaskStart, startEvent("c0", 0)));
  ASSERT_TRUE(eventually([&] { return publisher->stats().failedAttempts >= 1; }));
  for (int i = 1; i <= 3; ++i) {
    std::string id = "c" + std::to_string(i);
    ASSERT_TRUE(publisher->publish(topic::kTaskStart, startEvent(id, i)));
    ASSERT_TRUE(publisher->publish(exitEvent(id, i)));
  }
  // [start1 exit1 start2 exit2] + start3 drops start1, + exit3 drops start2.
  EXPECT_EQ(publisher->stats().dropped, 2u);
  EXPECT_EQ(publisher->stats().pending, 5u);
  server_.start();
  ASSERT_TRUE(publisher->flush(10s));
  std::vector<std::string> seen;
  for (const auto& envelope : server_.received()) {
    seen.push_back(envelope.topic() + " " + containerIdOf(envelope));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"/tasks/start c0", "/tasks/exit c1", "/tasks/exit c2",
                                            "/tasks/start c3", "/tasks/exit c3"}));
}

TEST_F(EventPublisherTest, AQueueFullOfExitsGrowsAndDropsTheNewNonExit) {
  auto options = fastOptions();
  options.queueCapacity = 2;
  auto publisher = makePublisher(options);
  ASSERT_TRUE(publisher->publish(exitEvent("c0", 0)));
  ASSERT_TRUE(eventually([&] { return publisher->stats().failedAttempts >= 1; }));
  for (int i = 1; i <= 3; ++i)
    ASSERT_TRUE(publisher->publish(exitEvent("c" + std::to_string(i), i)));
  ASSERT_TRUE(publisher->publish(topic::kTaskStart, startEvent("c9", 9)));
  EXPECT_EQ(publisher->stats().dropped, 1u);
  server_.start();
  ASSERT_TRUE(publisher->flush(10s));
  auto got = server_.received();
  ASSERT_EQ(got.size(), 4u);
  for (const auto& envelope : got) EXPECT_EQ(envelope.topic(), "/tasks/exit");
}

TEST_F(EventPublisherTest, FlushWaitsUntilDelivered) {
  server_.holdAnswers();
  server_.start();
  auto publisher = makePublisher();
  ASSERT_TRUE(publisher->flush(1s));  // nothing queued: at once
  ASSERT_TRUE(publisher->publish(exitEvent("c1", 0)));
  ASSERT_TRUE(publisher->publish(topic::kTaskStart, startEvent("c2", 0)));
  auto start = std::chrono::steady_clock::now();
  auto early = publisher->flush(200ms);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(publisher->stats().pending, 2u);
  std::thread release([&] {
    std::this_thread::sleep_for(100ms);
    server_.releaseAnswers();
  });
  EXPECT_TRUE(publisher->flush(10s));
  release.join();
  EXPECT_EQ(server_.received().size(), 2u);
  EXPECT_EQ(publisher->stats().pending, 0u);
}

TEST_F(EventPublisherTest, GivesUpAfterMaxAttemptsAndGoesOn) {
  auto options = fastOptions();
  options.maxAttempts = 3;
  auto publisher = makePublisher(options);
  ASSERT_TRUE(publisher->publish(exitEvent("lost", 0)));
  ASSERT_TRUE(eventually([&] { return publisher->stats().abandoned == 1; }));
  EXPECT_EQ(publisher->stats().failedAttempts, 3u);
  server_.start();
  ASSERT_TRUE(publisher->publish(exitEvent("kept", 0)));
  ASSERT_TRUE(publisher->flush(10s));
  auto got = server_.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(containerIdOf(got[0]), "kept");
}

TEST_F(EventPublisherTest, GivesUpAfterTheTimeLimit) {
  auto options = fastOptions();
  options.giveUpAfter = 300ms;
  auto publisher = makePublisher(options);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(publisher->publish(exitEvent("lost", 0)));
  ASSERT_TRUE(eventually([&] { return publisher->stats().abandoned == 1; }));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, 2s);
  EXPECT_GE(publisher->stats().failedAttempts, 3u);
}

TEST_F(EventPublisherTest, RejectedEventIsNotRetried) {
  server_.rejectTopic("/tasks/oom");
  server_.start();
  auto publisher = makePublisher();
  ASSERT_TRUE(publisher->publish(containerd::events::TaskOOM()));
  ASSERT_TRUE(publisher->publish(exitEvent("c1", 0)));
  ASSERT_TRUE(publisher->flush(5s));
  auto stats = publisher->stats();
  EXPECT_EQ(stats.abandoned, 1u);
  EXPECT_EQ(stats.failedAttempts, 1u);
  EXPECT_EQ(stats.delivered, 1u);
}

TEST_F(EventPublisherTest, StopIsPromptAndLeavesNoThread) {
  size_t baseline = threadCount();
  auto publisher = makePublisher();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(publisher->publish(exitEvent("c1", i)));
  ASSERT_TRUE(eventually([&] { return publisher->stats().failedAttempts >= 2; }));
  auto start = std::chrono::steady_clock::now();
  publisher->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(publisher->stats().abandoned, 10u);
  EXPECT_EQ(publisher->stats().pending, 0u);
  publisher->stop();  // idempotent
  publisher.reset();
  // A joined thread can linger in /proc/self/task for a moment after join returns.
  EXPECT_TRUE(eventually([&] { return threadCount() == baseline; }, 2s))
      << threadCount() << " threads, " << baseline << " before";
}

TEST_F(EventPublisherTest, StopCutsOffACallInFlight) {
  server_.holdAnswers();
  server_.start();
  size_t baseline = threadCount();
  auto publisher = makePublisher();  // 5 s call timeout
  ASSERT_TRUE(publisher->publish(exitEvent("c1", 0)));
  ASSERT_TRUE(eventually([&] { return server_.heldCount() == 1; }));
  auto start = std::chrono::steady_clock::now();
  publisher.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  // A joined thread can linger in /proc/self/task for a moment after join returns.
  EXPECT_TRUE(eventually([&] { return threadCount() == baseline; }, 2s))
      << threadCount() << " threads, " << baseline << " before";
  server_.releaseAnswers();
}

}  // namespace
}  // namespace runwasi::shim
