#include "ttrpc/server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "test_support.h"
#include "ttrpc/unix_socket.h"

namespace runwasi::ttrpc {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::RawConnection;
using testing::RunningServer;

constexpr char kService[] = "test.v1.Echo";
constexpr uint8_t kRequest = static_cast<uint8_t>(FrameType::kRequest);

void addEcho(Server& server) {
  server.addMethod(kService, "Echo",
                   [](const Call& call) -> StatusOr<std::string> { return call.payload; });
}

TEST(Server, AnswersAUnaryCall) {
  RunningServer running;
  addEcho(running.server());
  running.start();
  auto client = running.connect();
  auto reply = client->call(kService, "Echo", "ping", 5s);
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(*reply, "ping");
}

TEST(Server, AnswersOutOfOrderWhileASlowCallIsHeld) {
  RunningServer running;
  std::mutex mutex;
  std::optional<Responder> held;
  running.server().addAsyncMethod(kService, "Wait", [&](Call, Responder responder) {
    std::lock_guard lock(mutex);
    held = responder;  // answered later, from the test thread
  });
  addEcho(running.server());
  running.start();

  RawConnection raw(running.socketPath());
  raw.sendRequest(1, kService, "Wait");
  raw.sendRequest(3, kService, "Echo", "fast");
  uint32_t streamId = 0;
  auto first = raw.receiveResponse(&streamId);
  ASSERT_TRUE(first);
  EXPECT_EQ(streamId, 3u);
  EXPECT_EQ(first->payload(), "fast");

  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mutex);
    return held.has_value();
  }));
  std::thread([&] { held->reply("slow"); }).join();
  auto second = raw.receiveResponse(&streamId);
  ASSERT_TRUE(second);
  EXPECT_EQ(streamId, 1u);
  EXPECT_EQ(second->payload(), "slow");
  EXPECT_FALSE(second->has_status());
}

TEST(Server, UnknownServiceOrMethodIsUnimplemented) {
  RunningServer running;
  addEcho(running.server());
  running.start();
  RawConnection raw(running.socketPath());
  raw.sendRequest(1, "no.such.Service", "Echo");
  auto response = raw.receiveResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status().code(), 12);
  EXPECT_NE(response->status().message().find("no.such.Service"), std::string::npos);

  raw.sendRequest(3, kService, "Nope");
  response = raw.receiveResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status().code(), 12);
  EXPECT_NE(response->status().message().find("Nope"), std::string::npos);

  // Names that are not UTF-8 come back escaped, so the status stays a valid string.
  raw.sendRequest(5, std::string("bad\xff\x01", 5), "M");
  response = raw.receiveResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status().code(), 12);
  EXPECT_EQ(response->status().message(), "service bad\\xff\\x01 not implemented");
}

TEST(Server, EvenStreamIdIsInvalidArgumentOnThatStream) {
  RunningServer running;
  addEcho(running.server());
  running.start();
  RawConnection raw(running.socketPath());
  raw.sendRequest(2, kService, "Echo", "x");
  uint32_t streamId = 0;
  auto response = raw.receiveResponse(&streamId);
  ASSERT_TRUE(response);
  EXPECT_EQ(streamId, 2u);
  EXPECT_EQ(response->status().code(), 3);
  // The connection still serves.
  raw.sendRequest(5, kService, "Echo", "y");
  response = raw.receiveResponse(&streamId);
  ASSERT_TRUE(response);
  EXPECT_EQ(streamId, 5u);
  EXPECT_EQ(response->payload(), "y");
}

TEST(Server, MalformedRequestIsInvalidArgument) {
  RunningServer running;
  addEcho(running.server());
  running.start();
  RawConnection raw(running.socketPath());
  raw.sendFrame(1, kRequest, "\x0a\xff\xff\xff\xff\x0f");  // field 1, impossible length
  auto response = raw.receiveResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status().code(), 3);
  raw.sendRequest(3, kService, "Echo", "still here");
  response = raw.receiveResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->payload(), "still here");
}

TEST(Server, IgnoresUnknownFrameTypes) {
  RunningServer running;
  addEcho(running.server());
  running.start();
  RawConnection raw(running.socketPath());
  raw.sendFrame(1, 3, "stream data");
  raw.sendFrame(3, 0x2, "a response the server did not ask for");
  raw.sendRequest(5, kService, "Echo", "z");
  uint32_t streamId = 0;
  auto response = raw.receiveResponse(&streamId);
  ASSERT_TRUE(response);
  EXPECT_EQ(streamId, 5u);
  EXPECT_FALSE(raw.receiveFrame(100ms));
}

TEST(Server, OversizedFrameIsResourceExhaustedAndItsBodyDropped) {
  RunningServer running;
  addEcho(running.server());
  running.start();
  RawConnection raw(running.socketPath());
  std::string header(kFrameHeaderSize, '\0');
  encodeHeader(FrameHeader{kMaxFrameBody + 1, 7, kRequest, 0},
               std::span<uint8_t, kFrameHeaderSize>(reinterpret_cast<uint8_t*>(header.data()),
                                                    kFrameHeaderSize));
  raw.sendBytes(header);
  // Answered from the header alone, before any of the body arrives.
  uint32_t streamId = 0;
  auto response = raw.receiveResponse(&streamId);
  ASSERT_TRUE(response);
  EXPECT_EQ(streamId, 7u);
  EXPECT_EQ(response->status().code(), 8);

  raw.sendBytes(std::string(kMaxFrameBody + 1, '\x01'));
  raw.sendRequest(9, kService, "Echo", "after");
  response = raw.receiveResponse(&streamId);
  ASSERT_TRUE(response);
  EXPECT_EQ(streamId, 9u);
  EXPECT_EQ(response->payload(), "after");
}

TEST(Server, SurvivesTruncatedFramesAndTellsWhenIdle) {
  std::atomic<int> idle{0};
  ServerOptions options;
  options.onIdle = [&] { ++idle; };
  RunningServer running(options);
  addEcho(running.server());
  running.start();
  {
    RawConnection raw(running.socketPath());
    std::string frame =
        *encodeFrame(1, FrameType::kRequest, testing::requestBody(kService, "Echo"));
    raw.sendBytes(frame.substr(0, frame.size() - 3));
  }
  {
    RawConnection raw(running.socketPath());
    raw.sendBytes(std::string("\x00\x00", 2));  // half a header
  }
  // Both were accepted (or are still queued) before they closed; either way the server
  // saw an idle moment and goes on serving.
  ASSERT_TRUE(eventually([&] { return idle.load() >= 1; }));
  auto reply = running.connect()->call(kService, "Echo", "ok", 5s);
  ASSERT_TRUE(reply);
  EXPECT_EQ(*reply, "ok");
}

TEST(Server, SurvivesGarbageFromManyClients) {
  RunningServer running;
  addEcho(running.server());
  running.start();
  std::mt19937 rng(42);
  for (int client = 0; client < 40; ++client) {
    RawConnection raw(running.socketPath());
    for (int piece = 0; piece < 6; ++piece) {
      std::string bytes(rng() % 300, '\0');
      for (char& c : bytes) c = static_cast<char>(rng());
      switch (rng() % 3) {
        case 0:
          raw.sendBytes(bytes);
          break;  // raw noise, often a huge announced length
        case 1:
          raw.sendFrame(static_cast<uint32_t>(rng()), kRequest, bytes);
          break;
        case 2:
          raw.sendRequest(static_cast<uint32_t>(rng()) | 1, bytes, "Echo", bytes);
          break;
      }
    }
  }  // each closes without reading its answers
  auto reply = running.connect()->call(kService, "Echo", "still serving", 5s);
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(*reply, "still serving");
}

TEST(Server, HandlerFailuresBecomeStatuses) {
  RunningServer running;
  running.server().addMethod(kService, "Fail", [](const Call&) -> StatusOr<std::string> {
    return makeStatus(Code::kNotFound, "container c1 not found");
  });
  running.server().addMethod(kService, "Throw", [](const Call&) -> StatusOr<std::string> {
    throw std::runtime_error("boom");
  });
  running.server().addAsyncMethod(kService, "Drop", [](Call, Responder) {});
  running.start();
  auto client = running.connect();

  auto failed = client->call(kService, "Fail", "", 5s);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, Code::kNotFound);
  EXPECT_EQ(failed.error().message, "container c1 not found");

  auto thrown = client->call(kService, "Throw", "", 5s);
  ASSERT_FALSE(thrown);
  EXPECT_EQ(thrown.error().code, Code::kInternal);
  EXPECT_NE(thrown.error().message.find("boom"), std::string::npos);

  auto dropped = client->call(kService, "Drop", "", 5s);
  ASSERT_FALSE(dropped);
  EXPECT_EQ(dropped.error().code, Code::kInternal);
}

TEST(Server, ResponseOverTheFrameLimitBecomesResourceExhausted) {
  RunningServer running;
  running.server().addMethod(kService, "Huge", [](const Call&) -> StatusOr<std::string> {
    return std::string(kMaxFrameBody + 1, 'h');
  });
  running.start();
  auto reply = running.connect()->call(kService, "Huge", "", 5s);
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, Code::kResourceExhausted);
}

TEST(Server, OnlyTheFirstAnswerCounts) {
  RunningServer running;
  running.server().addAsyncMethod(kService, "Twice", [](Call, Responder responder) {
    Responder copy = responder;
    copy.reply("first");
    responder.fail(Status{Code::kInternal, "second"});
    EXPECT_TRUE(responder.answered());
  });
  addEcho(running.server());
  running.start();
  RawConnection raw(running.socketPath());
  raw.sendRequest(1, kService, "Twice");
  auto response = raw.receiveResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->payload(), "first");
  raw.sendRequest(3, kService, "Echo", "next");
  uint32_t streamId = 0;
  response = raw.receiveResponse(&streamId);
  ASSERT_TRUE(response);
  EXPECT_EQ(streamId, 3u);  // no second answer for stream 1 came first
}

TEST(Server, AnswerAfterTheClientLeftIsDropped) {
  RunningServer running;
  std::promise<Responder> heldPromise;
  running.server().addAsyncMethod(
      kService, "Wait", [&](Call, Responder responder) { heldPromise.set_value(responder); });
  addEcho(running.server());
  running.start();
  {
    RawConnection raw(running.socketPath());
    raw.sendRequest(1, kService, "Wait");
    auto held = heldPromise.get_future().get();
    raw.close();
    ASSERT_TRUE(eventually([&] { return running.server().connectionCount() == 0; }));
    held.reply("nobody listens");
  }
  auto reply = running.connect()->call(kService, "Echo", "alive", 5s);
  ASSERT_TRUE(reply);
}

TEST(Server, PassesMetadataAndDeadline) {
  RunningServer running;
  std::promise<Call> seen;
  running.server().addMethod(kService, "Look", [&](const Call& call) -> StatusOr<std::string> {
    seen.set_value(call);
    return std::string();
  });
  running.start();
  auto before = std::chrono::steady_clock::now();
  auto reply = running.connect()->call(kService, "Look", "p", 3s, {{"ns", "default"}, {"k", "v"}});
  ASSERT_TRUE(reply);
  Call call = seen.get_future().get();
  EXPECT_EQ(call.service, kService);
  EXPECT_EQ(call.method, "Look");
  EXPECT_EQ(call.payload, "p");
  EXPECT_EQ(call.streamId, 1u);
  ASSERT_EQ(call.metadata.size(), 2u);
  EXPECT_EQ(call.metadata[0], (std::pair<std::string, std::string>{"ns", "default"}));
  ASSERT_TRUE(call.deadline);
  EXPECT_GT(*call.deadline, before + 2s);
  EXPECT_LT(*call.deadline, before + 4s);
}

TEST(Server, ShutdownAnswerIsWrittenBeforeStopping) {
  RunningServer running;
  Server* server = &running.server();
  // As the shim's Shutdown does: answer, then stop.
  running.server().addAsyncMethod(kService, "Shutdown", [server](Call, Responder responder) {
    responder.reply("bye");
    server->stop();
  });
  running.start();
  RawConnection raw(running.socketPath());
  raw.sendRequest(1, kService, "Shutdown");
  auto response = raw.receiveResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->payload(), "bye");
  EXPECT_TRUE(raw.closedByPeer());
  running.stopAndJoin();
}

TEST(Server, StopFromAnotherThreadClosesConnections) {
  testing::HeldResponders held;
  RunningServer running;
  running.server().addAsyncMethod(kService, "Hang",
                                  [&](Call, Responder responder) { held.hold(responder); });
  running.start();
  RawConnection raw(running.socketPath());
  raw.sendRequest(1, kService, "Hang");  // left unanswered
  ASSERT_TRUE(eventually([&] { return held.count() == 1; }));
  running.stopAndJoin();
  EXPECT_TRUE(raw.closedByPeer());
  EXPECT_EQ(running.server().connectionCount(), 0u);
  EXPECT_FALSE(std::filesystem::exists(running.socketPath()));  // the socket file is gone
}

TEST(Server, RefusesPeersOfAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as another user";
  RunningServer running;
  addEcho(running.server());
  running.start();
  // Let the other user reach the socket: only the server's own check should refuse it.
  auto dir = std::filesystem::path(running.socketPath()).parent_path();
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(running.socketPath().c_str(), 0777), 0);
  // Everything the child needs is prepared before fork: it only makes system calls.
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, running.socketPath().c_str(), sizeof(addr.sun_path) - 1);
  std::string frame =
      *encodeFrame(1, FrameType::kRequest, testing::requestBody(kService, "Echo", "x"));
  pid_t child = ::fork();
  if (child == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) _exit(2);
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) _exit(3);
    [[maybe_unused]] ssize_t sent = ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL);
    char byte;
    _exit(::recv(fd, &byte, 1, 0) <= 0 ? 0 : 1);  // 0: closed without an answer
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "2/3: child setup failed; 1: the server answered";
  // The same request as root is answered.
  auto reply = running.connect()->call(kService, "Echo", "x", 5s);
  EXPECT_TRUE(reply);
}

TEST(Server, ServesAnInheritedListeningSocket) {
  testing::ScratchDir dir;
  std::string path = (dir.path() / "inherited.sock").string();
  auto fd = listenUnix(path);
  ASSERT_TRUE(fd) << fd.error().message;
  auto server = Server::create();
  ASSERT_TRUE(server);
  addEcho(**server);
  ASSERT_TRUE((*server)->listen(std::move(*fd)));
  std::thread loop([&] { (*server)->run(); });
  auto client = Client::connect(path);
  ASSERT_TRUE(client);
  auto reply = (*client)->call(kService, "Echo", "inherited", 5s);
  EXPECT_TRUE(reply && *reply == "inherited");
  (*server)->stop();
  loop.join();
}

}  // namespace
}  // namespace runwasi::ttrpc
