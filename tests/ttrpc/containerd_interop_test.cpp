// Our ttrpc client and codec against containerd's own ttrpc server (Go ttrpc 1.1): the
// Events service a shim publishes to, and the protocol corners PROTOCOL.md describes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "github.com/containerd/containerd/api/events/task.pb.h"
#include "github.com/containerd/containerd/api/services/ttrpc/events/v1/events.pb.h"
#include "test_support.h"
#include "ttrpc/unix_socket.h"

namespace runwasi::ttrpc {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::RawConnection;
using testing::ScratchDir;

constexpr char kEvents[] = "containerd.services.events.ttrpc.v1.Events";

// Starts a program with stdout (and stderr) going to `out`; returns its pid.
pid_t spawn(const std::vector<std::string>& argv, int out) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out, STDOUT_FILENO);
    ::dup2(out, STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

void terminate(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  int status;
  ::waitpid(pid, &status, 0);
}

// A private containerd in a temporary directory (no CRI), for the whole suite.
class ContainerdInterop : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (std::string(RUNWASI_CONTAINERD).empty() || std::string(RUNWASI_CTR).empty()) {
      skipReason_ = "containerd is not installed (apt-get install containerd)";
      return;
    }
    if (::geteuid() != 0) {
      skipReason_ = "containerd needs root";
      return;
    }
    dir_ = new ScratchDir();
    auto path = [](const char* name) { return (dir_->path() / name).string(); };
    std::ofstream(path("config.toml"))
        << "version = 2\n"
        << "root = \"" << path("root") << "\"\nstate = \"" << path("state") << "\"\n"
        << "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
        << "[grpc]\n  address = \"" << path("containerd.sock") << "\"\n"
        << "[ttrpc]\n  address = \"" << path("containerd.sock.ttrpc") << "\"\n"
        << "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"" << path("opt") << "\"\n";
    UniqueFd log(::open(path("containerd.log").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    pid_ = spawn({RUNWASI_CONTAINERD, "--config", path("config.toml")}, log.get());
    ttrpcAddress_ = path("containerd.sock.ttrpc");
    grpcAddress_ = path("containerd.sock");
    bool up = eventually([] { return connectUnix(ttrpcAddress_).has_value(); }, 10s);
    // Installed but not starting is a failure, not a reason to skip.
    if (!up) failReason_ = "containerd did not start; see " + path("containerd.log");
  }

  static void TearDownTestSuite() {
    terminate(pid_);
    pid_ = -1;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    if (!skipReason_.empty()) GTEST_SKIP() << skipReason_;
    if (!failReason_.empty()) GTEST_FAIL() << failReason_;
  }

  static containerd::services::events::ttrpc::v1::ForwardRequest exitEvent(
      const std::string& topic) {
    containerd::services::events::ttrpc::v1::ForwardRequest request;
    auto* envelope = request.mutable_envelope();
    auto now = std::chrono::system_clock::now().time_since_epoch();
    envelope->mutable_timestamp()->set_seconds(
        std::chrono::duration_cast<std::chrono::seconds>(now).count());
    envelope->set_namespace_("default");
    envelope->set_topic(topic);
    containerd::events::TaskExit exit;
    exit.set_container_id("runwasi-interop");
    exit.set_exit_status(7);
    envelope->mutable_event()->set_type_url("containerd.events.TaskExit");
    envelope->mutable_event()->set_value(exit.SerializeAsString());
    return request;
  }

  static inline ScratchDir* dir_ = nullptr;
  static inline pid_t pid_ = -1;
  static inline std::string ttrpcAddress_;
  static inline std::string grpcAddress_;
  static inline std::string skipReason_;
  static inline std::string failReason_;
};

TEST_F(ContainerdInterop, ForwardedEventReachesSubscribers) {
  int pipeFds[2];
  ASSERT_EQ(::pipe2(pipeFds, O_CLOEXEC | O_NONBLOCK), 0);
  UniqueFd readEnd(pipeFds[0]), writeEnd(pipeFds[1]);
  pid_t ctr = spawn({RUNWASI_CTR, "-a", grpcAddress_, "events"}, writeEnd.get());
  writeEnd.reset();

  auto client = Client::connect(ttrpcAddress_);
  ASSERT_TRUE(client) << client.error().message;
  std::string seen;
  // The subscriber attaches at some point after starting: forward until it reports one.
  bool delivered = eventually(
      [&] {
        auto reply = (*client)->call<google::protobuf::Empty>(kEvents, "Forward",
                                                              exitEvent("/tasks/exit"), 5s);
        EXPECT_TRUE(reply) << reply.error().message;
        char buffer[4096];
        ssize_t n;
        while ((n = ::read(readEnd.get(), buffer, sizeof(buffer))) > 0) seen.append(buffer, n);
        return seen.find("/tasks/exit") != std::string::npos;
      },
      10s);
  terminate(ctr);
  EXPECT_TRUE(delivered) << "ctr events printed: " << seen;
  EXPECT_NE(seen.find("runwasi-interop"), std::string::npos) << seen;
}

TEST_F(ContainerdInterop, GoServerStatusesReachTheCaller) {
  auto client = Client::connect(ttrpcAddress_);
  ASSERT_TRUE(client);
  auto invalid =
      (*client)->call(kEvents, "Forward", exitEvent("tasks/exit").SerializeAsString(), 5s);
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().code, Code::kInvalidArgument) << invalid.error().message;
  EXPECT_NE(invalid.error().message.find("must start with '/'"), std::string::npos);

  auto noMethod = (*client)->call(kEvents, "Nope", "", 5s);
  ASSERT_FALSE(noMethod);
  EXPECT_EQ(noMethod.error().code, Code::kUnimplemented);
  auto noService = (*client)->call("no.such.Service", "Forward", "", 5s);
  ASSERT_FALSE(noService);
  EXPECT_EQ(noService.error().code, Code::kUnimplemented);
}

TEST_F(ContainerdInterop, ManyConcurrentForwards) {
  auto client = Client::connect(ttrpcAddress_);
  ASSERT_TRUE(client);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto reply = (*client)->call<google::protobuf::Empty>(kEvents, "Forward",
                                                              exitEvent("/tasks/exit"), 10s);
        if (reply) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 200);
}

// What PROTOCOL.md and server.h claim about Go's server, checked on the real one.
TEST_F(ContainerdInterop, GoServerRejectsEvenIdsAndOversizedFramesButKeepsTheConnection) {
  RawConnection raw(ttrpcAddress_);
  raw.sendRequest(2, kEvents, "Forward");
  uint32_t streamId = 0;
  auto response = raw.receiveResponse(&streamId);
  ASSERT_TRUE(response);
  EXPECT_EQ(streamId, 2u);
  EXPECT_EQ(response->status().code(), static_cast<int>(Code::kInvalidArgument));

  std::string header(kFrameHeaderSize, '\0');
  encodeHeader(FrameHeader{kMaxFrameBody + 1, 7, 1, 0},
               std::span<uint8_t, kFrameHeaderSize>(reinterpret_cast<uint8_t*>(header.data()),
                                                    kFrameHeaderSize));
  raw.sendBytes(header + std::string(kMaxFrameBody + 1, '\0'));
  response = raw.receiveResponse(&streamId);
  ASSERT_TRUE(response);
  EXPECT_EQ(streamId, 7u);
  EXPECT_EQ(response->status().code(), static_cast<int>(Code::kResourceExhausted));

  raw.sendFrame(9, 7, "unknown frame type");  // ignored
  raw.sendRequest(11, kEvents, "Forward", exitEvent("/tasks/exit").SerializeAsString());
  response = raw.receiveResponse(&streamId);
  ASSERT_TRUE(response);
  EXPECT_EQ(streamId, 11u);
  EXPECT_FALSE(response->has_status()) << response->status().message();
}

}  // namespace
}  // namespace runwasi::ttrpc
