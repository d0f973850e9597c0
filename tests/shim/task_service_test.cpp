// TaskService driven directly (no containerd, no socket): bundles written here, container
// processes forked from a real zygote holding the wasm2c engine, exits collected by a real
// Reaper, events only logged (no publisher). The fixture is task_service_fixture.h.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "github.com/containerd/cgroups/stats/v1/metrics.pb.h"
#include "task_service_fixture.h"

namespace runwasi::shim {
namespace {

namespace types = containerd::v1::types;
using namespace std::chrono_literals;

[[maybe_unused]] const bool kUsesZygote = registerZygoteSuite("TaskServiceTest");

using TaskServiceTest = TaskServiceFixture;

TEST_F(TaskServiceTest, HelloRunsThroughTheWholeLifecycle) {
  auto created = create("hello");
  ASSERT_TRUE(created) << created.error().message;
  pid_t pid = static_cast<pid_t>(created->pid());
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(isOurChild(pid));
  EXPECT_EQ(service_->taskCount(), 1u);

  auto s = state("hello");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->status(), types::CREATED);
  EXPECT_EQ(s->pid(), created->pid());
  EXPECT_EQ(s->id(), "hello");
  EXPECT_EQ(s->stdout(), (scratch_.path() / "hello.out").string());
  EXPECT_NE(s->bundle().find("hello-bundle-"), std::string::npos) << s->bundle();
  EXPECT_EQ(out("hello"), "") << "the module ran before Start";

  auto started = start("hello");
  ASSERT_TRUE(started) << started.error().message;
  EXPECT_EQ(started->pid(), created->pid());

  auto waited = wait("hello");
  ASSERT_TRUE(waited) << waited.error().message;
  EXPECT_EQ(waited->exit_status(), 0u);
  EXPECT_GT(waited->exited_at().seconds(), 0);
  EXPECT_EQ(out("hello"), "hello from wasm\n");
  EXPECT_EQ(err("hello"), "");

  s = state("hello");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->status(), types::STOPPED);
  EXPECT_EQ(s->exit_status(), 0u);
  EXPECT_EQ(s->exited_at().seconds(), waited->exited_at().seconds());

  // A second Wait after the exit answers at once.
  auto again = wait("hello", "", 1s);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->exit_status(), 0u);

  auto deleted = remove("hello");
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_EQ(deleted->exit_status(), 0u);
  EXPECT_EQ(deleted->pid(), created->pid());
  EXPECT_EQ(deleted->exited_at().seconds(), waited->exited_at().seconds());
  expectError(state("hello"), ErrorCode::kNotFound, "hello");
  expectError(remove("hello"), ErrorCode::kNotFound, "hello");
  EXPECT_EQ(service_->taskCount(), 0u);
  EXPECT_FALSE(isOurChild(pid));
}

TEST_F(TaskServiceTest, ExitCodeIsTheStatus) {
  ASSERT_TRUE(create("exit42", withModule("exit42")));
  EXPECT_EQ(runToExit("exit42"), 42u);
}

TEST_F(TaskServiceTest, TrapIs134WithTheMessageOnStderr) {
  ASSERT_TRUE(create("trap", withModule("trap_unreachable")));
  EXPECT_EQ(runToExit("trap"), 134u);
  EXPECT_EQ(out("trap"), "before trap\n");
  EXPECT_NE(err("trap").find("wasm trap"), std::string::npos) << err("trap");
}

TEST_F(TaskServiceTest, KillARunningTask) {
  auto created = create("sleeper", withModule("sleep", {"/sleep.wasm", "60000"}));
  ASSERT_TRUE(created) << created.error().message;
  ASSERT_TRUE(start("sleeper"));
  auto s = state("sleeper");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status(), types::RUNNING);

  auto listed = pids("sleeper");
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->processes_size(), 1);
  EXPECT_EQ(listed->processes(0).pid(), created->pid());

  taskv2::StatsRequest statsRequest;
  statsRequest.set_id("sleeper");
  auto stats = service_->stats(statsRequest);
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->stats().type_url(), "io.containerd.cgroups.v1.Metrics");
  io::containerd::cgroups::v1::Metrics metrics;
  ASSERT_TRUE(metrics.ParseFromString(stats->stats().value()));
  EXPECT_EQ(metrics.pids().current(), 1u);
  EXPECT_GT(metrics.memory().rss(), 0u);

  // Still running a while later: the sleep is real.
  EXPECT_FALSE(wait("sleeper", "", 200ms)) << "the sleep module exited early";

  ASSERT_TRUE(kill("sleeper", SIGKILL));
  auto waited = wait("sleeper");
  ASSERT_TRUE(waited) << waited.error().message;
  EXPECT_EQ(waited->exit_status(), 137u);

  listed = pids("sleeper");
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_EQ(listed->processes_size(), 0);
  expectError(service_->stats(statsRequest), ErrorCode::kNotFound, "sleeper");

  expectError(kill("sleeper", SIGKILL), ErrorCode::kNotFound, "process already finished");
  auto all = kill("sleeper", SIGKILL, /*all=*/true);
  EXPECT_TRUE(all) << all.error().message;

  auto deleted = remove("sleeper");
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_EQ(deleted->exit_status(), 137u);
}

TEST_F(TaskServiceTest, DeleteOfARunningTaskIsRefused) {
  ASSERT_TRUE(create("running", withModule("sleep", {"/sleep.wasm", "60000"})));
  ASSERT_TRUE(start("running"));
  expectError(remove("running"), ErrorCode::kFailedPrecondition, "running");
  auto s = state("running");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status(), types::RUNNING);

  ASSERT_TRUE(kill("running", SIGTERM));
  auto waited = wait("running");
  ASSERT_TRUE(waited) << waited.error().message;
  EXPECT_EQ(waited->exit_status(), 128u + SIGTERM);
  ASSERT_TRUE(remove("running"));
}

TEST_F(TaskServiceTest, DeleteOfACreatedTaskKillsIt) {
  auto created = create("never-started");
  ASSERT_TRUE(created) << created.error().message;
  pid_t pid = static_cast<pid_t>(created->pid());
  auto deleted = remove("never-started");
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_EQ(deleted->pid(), created->pid());
  EXPECT_EQ(deleted->exit_status(), 137u);  // SIGKILLed, as runc does
  EXPECT_FALSE(isOurChild(pid));
  EXPECT_EQ(out("never-started"), "") << "the module ran without Start";
  expectError(state("never-started"), ErrorCode::kNotFound, "never-started");
  EXPECT_EQ(service_->taskCount(), 0u);
}

TEST_F(TaskServiceTest, StartTwiceIsRefused) {
  ASSERT_TRUE(create("twice"));
  ASSERT_TRUE(start("twice"));
  ASSERT_TRUE(wait("twice"));
  expectError(start("twice"), ErrorCode::kFailedPrecondition, "twice");
  ASSERT_TRUE(remove("twice"));
}

TEST_F(TaskServiceTest, CreateOfAnExistingIdIsRefused) {
  auto first = create("dup");
  ASSERT_TRUE(first) << first.error().message;
  expectError(create("dup"), ErrorCode::kAlreadyExists, "dup");
  // The first task is untouched.
  auto s = state("dup");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status(), types::CREATED);
  EXPECT_EQ(s->pid(), first->pid());
  EXPECT_EQ(service_->taskCount(), 1u);
  EXPECT_EQ(runToExit("dup"), 0u);
  EXPECT_EQ(out("dup"), "hello from wasm\n");
}

// After each failed create the id is free again, nothing is left running, and a good
// bundle under the same id works.
TEST_F(TaskServiceTest, CreateErrorsLeaveTheIdFree) {
  struct Case {
    const char* name;
    Bundle bundle;
    bool terminal;
    ErrorCode code;
    std::string needle;
  };
  std::vector<Case> cases = {
      {"missing entrypoint", withModule("hello", {"/missing.wasm"}), false, ErrorCode::kNotFound,
       "/missing.wasm"},
      {"not wasm", withModule("not_wasm"), false, ErrorCode::kInvalidArgument,
       "neither a WebAssembly module nor a native executable"},
      {"missing rootfs",
       withConfig(R"({"process": {"args": ["/hello.wasm"]}, "root": {"path": "/no/such/rootfs"}})"),
       false, ErrorCode::kInvalidArgument, "root.path: /no/such/rootfs is not a directory"},
      {"unknown namespace type",
       withConfig(R"({"process": {"args": ["/hello.wasm"]},
                      "linux": {"namespaces": [{"type": "pid"}, {"type": "sound"}]}})"),
       false, ErrorCode::kInvalidArgument, "linux.namespaces[1].type"},
      {"invalid module", withModule("invalid"), false, ErrorCode::kInvalidArgument, "invalid.wasm"},
      {"malformed config.json", withConfig("{\"process\": {\"args\": [\"/hello.wasm\"]"), false,
       ErrorCode::kInvalidArgument, "config.json"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.name);
    std::string id = "bad" + std::to_string(i);
    auto request = createRequest(id, makeBundle(id + "-broken", c.bundle));
    request.set_terminal(c.terminal);
    auto created = service_->create(request);
    expectError(created, c.code, c.needle);
    if (created) {
      (void)remove(id);
      continue;
    }
    EXPECT_EQ(service_->taskCount(), 0u);
    expectError(state(id), ErrorCode::kNotFound, id);
    EXPECT_EQ(childrenOfThisProcess().size(), 1u) << "a failed create left a process behind";
    auto good = create(id);
    ASSERT_TRUE(good) << good.error().message;
    EXPECT_EQ(runToExit(id), 0u);
    EXPECT_EQ(out(id), "hello from wasm\n");
  }
}

TEST_F(TaskServiceTest, UnknownIdsAreNotFound) {
  expectError(wait("nope"), ErrorCode::kNotFound, "nope");
  expectError(state("nope"), ErrorCode::kNotFound, "nope");
  expectError(start("nope"), ErrorCode::kNotFound, "nope");
  expectError(kill("nope", SIGKILL), ErrorCode::kNotFound, "nope");
  expectError(remove("nope"), ErrorCode::kNotFound, "nope");
  expectError(pids("nope"), ErrorCode::kNotFound, "nope");
  taskv2::CreateTaskRequest empty;
  expectError(service_->create(empty), ErrorCode::kInvalidArgument, "id");
}

TEST_F(TaskServiceTest, ExecIdsOtherThanTheTasksAreNotFound) {
  auto created = create("task");
  ASSERT_TRUE(created) << created.error().message;
  expectError(state("task", "exec1"), ErrorCode::kNotFound, "exec1");
  expectError(start("task", "exec1"), ErrorCode::kNotFound, "exec1");
  expectError(kill("task", SIGKILL, false, "exec1"), ErrorCode::kNotFound, "exec1");
  expectError(remove("task", "exec1"), ErrorCode::kNotFound, "exec1");
  expectError(wait("task", "exec1"), ErrorCode::kNotFound, "exec1");
  // The task's own id as exec id is the task itself.
  auto s = state("task", "task");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->status(), types::CREATED);
  EXPECT_EQ(runToExit("task"), 0u);
}

TEST_F(TaskServiceTest, ConnectReportsTheShimAndTaskPids) {
  taskv2::ConnectRequest r;
  r.set_id("none");
  auto none = service_->connect(r);
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_EQ(none->shim_pid(), static_cast<uint32_t>(::getpid()));
  EXPECT_EQ(none->task_pid(), 0u);

  auto created = create("conn");
  ASSERT_TRUE(created) << created.error().message;
  r.set_id("conn");
  auto connected = service_->connect(r);
  ASSERT_TRUE(connected) << connected.error().message;
  EXPECT_EQ(connected->shim_pid(), static_cast<uint32_t>(::getpid()));
  EXPECT_EQ(connected->task_pid(), created->pid());
  ASSERT_TRUE(remove("conn"));
}

}  // namespace
}  // namespace runwasi::shim
