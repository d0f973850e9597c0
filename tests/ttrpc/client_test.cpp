#include "ttrpc/client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "github.com/containerd/containerd/runtime/v2/task/shim.pb.h"
#include "test_support.h"
#include "ttrpc/unix_socket.h"

namespace runwasi::ttrpc {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::RunningServer;

constexpr char kService[] = "test.v1.Echo";

TEST(Client, FailsToConnectToAMissingSocket) {
  testing::ScratchDir dir;
  auto client = Client::connect((dir.path() / "absent.sock").string());
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code, ErrorCode::kNotFound);
}

TEST(Client, UsesOddStreamIdsInOrder) {
  testing::ScratchDir dir;
  std::string path = (dir.path() / "raw.sock").string();
  auto listener = listenUnix(path);
  ASSERT_TRUE(listener);
  std::vector<uint32_t> seen;
  std::thread peer([&] {
    UniqueFd conn(::accept(listener->get(), nullptr, nullptr));
    FrameDecoder decoder;
    char buffer[4096];
    while (seen.size() < 3) {
      ssize_t n = ::recv(conn.get(), buffer, sizeof(buffer), 0);
      if (n <= 0) return;
      decoder.feed(std::string_view(buffer, static_cast<size_t>(n)));
      while (auto decoded = decoder.next()) {
        auto& frame = std::get<Frame>(*decoded);
        seen.push_back(frame.header.streamId);
        wire::Response response;
        response.set_payload(std::to_string(frame.header.streamId));
        std::string out =
            *encodeFrame(frame.header.streamId, FrameType::kResponse, response.SerializeAsString());
        ::send(conn.get(), out.data(), out.size(), MSG_NOSIGNAL);
      }
    }
  });
  auto client = Client::connect(path);
  ASSERT_TRUE(client);
  for (const char* expected : {"1", "3", "5"}) {
    auto reply = (*client)->call(kService, "Any", "", 5s);
    ASSERT_TRUE(reply) << reply.error().message;
    EXPECT_EQ(*reply, expected);
  }
  peer.join();
  EXPECT_EQ(seen, (std::vector<uint32_t>{1, 3, 5}));
}

TEST(Client, TimesOutAndIgnoresTheLateAnswer) {
  RunningServer running;
  std::promise<Responder> held;
  running.server().addAsyncMethod(kService, "Slow",
                                  [&](Call, Responder responder) { held.set_value(responder); });
  running.server().addMethod(
      kService, "Echo", [](const Call& call) -> StatusOr<std::string> { return call.payload; });
  running.start();
  auto client = running.connect();

  auto start = std::chrono::steady_clock::now();
  auto reply = client->call(kService, "Slow", "", 200ms);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, Code::kDeadlineExceeded);
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 2s);

  held.get_future().get().reply("too late");
  auto next = client->call(kService, "Echo", "on time", 5s);
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(*next, "on time");
}

TEST(Client, ConnectionLossFailsPendingAndLaterCalls) {
  testing::ScratchDir dir;
  std::string path = (dir.path() / "raw.sock").string();
  auto listener = listenUnix(path);
  ASSERT_TRUE(listener);
  std::atomic<int> requests{0};
  std::thread peer([&] {
    // Reads three requests, then hangs up without answering any.
    UniqueFd conn(::accept(listener->get(), nullptr, nullptr));
    FrameDecoder decoder;
    char buffer[4096];
    while (requests < 3) {
      ssize_t n = ::recv(conn.get(), buffer, sizeof(buffer), 0);
      if (n <= 0) return;
      decoder.feed(std::string_view(buffer, static_cast<size_t>(n)));
      while (decoder.next()) ++requests;
    }
  });
  auto client = Client::connect(path);
  ASSERT_TRUE(client);
  std::vector<std::future<StatusOr<std::string>>> calls;
  for (int i = 0; i < 3; ++i) {
    calls.push_back(
        std::async(std::launch::async, [&] { return (*client)->call(kService, "Any", "", 10s); }));
  }
  auto start = std::chrono::steady_clock::now();
  for (auto& call : calls) {
    auto reply = call.get();
    ASSERT_FALSE(reply);
    EXPECT_EQ(reply.error().code, Code::kUnavailable);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  peer.join();
  EXPECT_FALSE((*client)->connected());
  auto later = (*client)->call(kService, "Any", "", 1s);
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().code, Code::kUnavailable);
}

TEST(Client, CloseFailsAWaitingCall) {
  testing::HeldResponders held;
  RunningServer running;
  running.server().addAsyncMethod(kService, "Hang",
                                  [&](Call, Responder responder) { held.hold(responder); });
  running.start();
  auto client = running.connect();
  auto call = std::async(std::launch::async,
                         [&] { return client->call(kService, "Hang", "", kNoTimeout); });
  ASSERT_TRUE(eventually([&] { return held.count() == 1; }));
  client->close();
  auto reply = call.get();
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, Code::kUnavailable);
}

TEST(Client, ServerStopFailsPendingCalls) {
  testing::HeldResponders held;
  RunningServer running;
  running.server().addAsyncMethod(kService, "Wait",
                                  [&](Call, Responder responder) { held.hold(responder); });
  running.start();
  auto client = running.connect();
  auto call =
      std::async(std::launch::async, [&] { return client->call(kService, "Wait", "", 10s); });
  ASSERT_TRUE(eventually([&] { return held.count() == 1; }));
  running.stopAndJoin();
  auto reply = call.get();
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, Code::kUnavailable);
}

TEST(Client, RefusesAnOversizedRequestWithoutSending) {
  RunningServer running;
  running.server().addMethod(
      kService, "Echo", [](const Call& call) -> StatusOr<std::string> { return call.payload; });
  running.start();
  auto client = running.connect();
  auto reply = client->call(kService, "Echo", std::string(kMaxFrameBody, 'x'), 5s);
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, Code::kResourceExhausted);
  auto small = client->call(kService, "Echo", "small", 5s);
  ASSERT_TRUE(small) << small.error().message;
}

TEST(Client, ManyConcurrentCallsFromManyThreads) {
  ServerOptions options;
  options.handlerThreads = 4;
  RunningServer running(options);
  // Half the answers come from other threads after a random delay, so responses overtake
  // each other on the connection.
  running.server().addAsyncMethod(kService, "Echo", [](Call call, Responder responder) {
    if (call.payload.back() % 2 == 0) {
      responder.reply(call.payload);
      return;
    }
    std::thread([call = std::move(call), responder] {
      std::this_thread::sleep_for(std::chrono::microseconds(call.payload.size() * 7 % 3000));
      responder.reply(call.payload);
    }).detach();
  });
  running.start();
  auto client = running.connect();
  constexpr int kThreads = 16;
  constexpr int kCallsPerThread = 150;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kCallsPerThread; ++i) {
        std::string payload = std::to_string(t) + ":" + std::to_string(i) +
                              std::string(rng() % 5000, 'p') + std::to_string(rng() % 10);
        auto reply = client->call(kService, "Echo", payload, 10s);
        if (reply && *reply == payload) ++good;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(good.load(), kThreads * kCallsPerThread);
}

TEST(Client, TypedCallWithTheShimProtos) {
  RunningServer running;
  running.server().addMethod("containerd.task.v2.Task", "State",
                             [](const Call& call) -> StatusOr<std::string> {
                               containerd::task::v2::StateRequest request;
                               if (!request.ParseFromString(call.payload))
                                 return makeStatus(Code::kInvalidArgument, "bad");
                               containerd::task::v2::StateResponse response;
                               response.set_id(request.id());
                               response.set_pid(42);
                               response.set_status(containerd::v1::types::RUNNING);
                               return response.SerializeAsString();
                             });
  running.start();
  auto client = running.connect();
  containerd::task::v2::StateRequest request;
  request.set_id("c1");
  auto reply = client->call<containerd::task::v2::StateResponse>("containerd.task.v2.Task", "State",
                                                                 request, 5s);
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->id(), "c1");
  EXPECT_EQ(reply->pid(), 42u);
  EXPECT_EQ(reply->status(), containerd::v1::types::RUNNING);
}

}  // namespace
}  // namespace runwasi::ttrpc
