// EventPublisher against a real containerd (scripts/containerd-private.sh): a TaskExit it
// publishes shows up in `ctr events`. Skips only when containerd is not installed or we
// are not root; a containerd that is installed but does not start fails the test.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../support/scratch_dir.h"
#include "common/unique_fd.h"
#include "github.com/containerd/containerd/api/events/task.pb.h"
#include "shim/event_publisher.h"

namespace runwasi::shim {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const fs::path kScript =
    fs::path(__FILE__).parent_path().parent_path().parent_path() / "scripts/containerd-private.sh";

std::optional<fs::path> findInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    fs::path candidate = fs::path(dir) / name;
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

// Runs argv with stdout (and stderr when `both`) into `out`; returns the pid.
pid_t spawn(const std::vector<std::string>& argv, int out, bool both) {
  // Built before fork: the child of a threaded process must not allocate.
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out, STDOUT_FILENO);
    if (both) ::dup2(out, STDERR_FILENO);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

// Reads what is available on a non-blocking fd.
void drain(int fd, std::string& into) {
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) into.append(buffer, n);
}

// Runs argv to completion; its exit status and stdout.
std::pair<int, std::string> run(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {-1, ""};
  UniqueFd readEnd(fds[0]), writeEnd(fds[1]);
  pid_t pid = spawn(argv, writeEnd.get(), false);
  writeEnd.reset();
  std::string out;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(readEnd.get(), buffer, sizeof(buffer))) > 0) out.append(buffer, n);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

// The value of `export NAME=value` in the script's output (paths it prints need no quoting).
std::string exported(const std::string& output, const std::string& name) {
  std::string key = "export " + name + "=";
  auto at = output.find(key);
  if (at == std::string::npos) return "";
  auto end = output.find('\n', at);
  return output.substr(at + key.size(), end - at - key.size());
}

TEST(EventPublisherInterop, TaskExitReachesCtrEvents) {
  if (!findInPath("containerd") || !findInPath("ctr")) {
    GTEST_SKIP() << "containerd is not installed (apt-get install containerd)";
  }
  if (::geteuid() != 0) GTEST_SKIP() << "a private containerd needs root";
  ASSERT_TRUE(fs::exists(kScript)) << kScript;

  runwasi::testing::ScratchDir scratch("runwasi-events-");
  const std::string dir = (scratch.path() / "containerd").string();
  auto [started, exports] = run({"bash", kScript.string(), "start", dir});
  // Stopped whatever happens below (idempotent, also after a failed start).
  struct Stop {
    std::string dir;
    ~Stop() { run({"bash", kScript.string(), "stop", dir}); }
  } stopLater{dir};
  ASSERT_EQ(started, 0) << "containerd is installed but did not start; see " << dir
                        << "/containerd.log";
  std::string grpc = exported(exports, "CONTAINERD_ADDRESS");
  std::string ttrpcAddress = exported(exports, "CONTAINERD_TTRPC_ADDRESS");
  ASSERT_FALSE(ttrpcAddress.empty()) << exports;

  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
  UniqueFd readEnd(fds[0]), writeEnd(fds[1]);
  pid_t ctr = spawn({"ctr", "--address", grpc, "events"}, writeEnd.get(), true);
  writeEnd.reset();

  auto publisher = EventPublisher::create(ttrpcAddress, "runwasi-interop");
  ASSERT_TRUE(publisher) << publisher.error().message;
  containerd::events::TaskExit exit;
  exit.set_container_id("runwasi-publisher-interop");
  exit.set_id("runwasi-publisher-interop");
  exit.set_pid(4242);
  exit.set_exit_status(42);

  // ctr subscribes some time after it starts: publish until it shows one.
  std::string seen;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  bool delivered = false;
  while (!delivered && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE((*publisher)->publish(exit));
    ASSERT_TRUE((*publisher)->flush(10s));
    std::this_thread::sleep_for(100ms);
    drain(readEnd.get(), seen);
    delivered = seen.find("runwasi-publisher-interop") != std::string::npos;
  }
  ::kill(ctr, SIGTERM);
  int status;
  ::waitpid(ctr, &status, 0);
  ASSERT_TRUE(delivered) << "ctr events printed: " << seen;
  EXPECT_NE(seen.find("/tasks/exit"), std::string::npos) << seen;
  EXPECT_NE(seen.find("runwasi-interop"), std::string::npos) << seen;  // the namespace
  EXPECT_EQ((*publisher)->stats().abandoned, 0u);
}

}  // namespace
}  // namespace runwasi::shim
