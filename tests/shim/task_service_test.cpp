// TaskService driven directly (no containerd, no socket): bundles written here, container
// processes forked from a real zygote holding the wasm2c engine, exits collected by a real
// Reaper, events only logged (no publisher).
#include "shim/task_service.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "../support/scratch_dir.h"
#include "engine/wasm2c/wasm2c_engine.h"
#include "github.com/containerd/cgroups/stats/v1/metrics.pb.h"
#include "sandbox/zygote.h"
#include "shim/reaper.h"

namespace runwasi::shim {
namespace {

namespace fs = std::filesystem;
namespace taskv2 = containerd::task::v2;
namespace types = containerd::v1::types;
using namespace std::chrono_literals;

constexpr char kShimName[] = "containerd-shim-wasm2c-v1";
constexpr char kSuiteName[] = "TaskServiceTest";

fs::path modulePath(std::string_view name) {
  return fs::path(RUNWASI_TEST_MODULES_DIR) / (std::string(name) + ".wasm");
}

// What every TaskServiceTest shares: one zygote (forked while this process has one thread,
// before any test runs), the shim's engine, and one artifact cache, so each module is
// precompiled once per process.
struct SharedState {
  std::optional<sandbox::Zygote> zygote;
  std::unique_ptr<engine::Engine> engine;
  std::optional<runwasi::testing::ScratchDir> cacheDir;
  std::string error;  // why the above could not be made
};
SharedState* shared = nullptr;

class ZygoteEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    // This binary doubles as a shim for bootstrap_process_test: nothing to do there.
    if (std::getenv("RUNWASI_BOOTSTRAP_TEST_SHIM") != nullptr) return;
    if (!selected()) return;  // no zygote, no SIGCHLD mask for runs without these tests
    shared = new SharedState;
    // As the daemon does: SIGCHLD blocked before any thread exists, so that every thread
    // (the reaper's, and those other tests start) inherits the mask and only the reaper's
    // signalfd sees it; then the zygote, forked while this is the only thread.
    if (auto blocked = Reaper::blockSigchld(); !blocked) {
      shared->error = blocked.error().message;
      return;
    }
    auto zygote = sandbox::Zygote::start(
        []() -> Expected<std::unique_ptr<engine::Engine>> { return engine::makeWasm2cEngine(); });
    if (!zygote) {
      shared->error = "starting the zygote: " + zygote.error().message;
      return;
    }
    shared->zygote.emplace(std::move(*zygote));
    if (auto ready = shared->zygote->waitReady(); !ready) {
      shared->error = "the zygote has no engine: " + ready.error().message;
      return;
    }
    shared->engine = engine::makeWasm2cEngine();
    shared->cacheDir.emplace("task-service-cache-");
  }

  void TearDown() override {
    if (!shared) return;
    if (shared->zygote) shared->zygote->stop();
    delete shared;
    shared = nullptr;
  }

 private:
  static bool selected() {
    auto* unit = ::testing::UnitTest::GetInstance();
    for (int i = 0; i < unit->total_test_suite_count(); ++i) {
      const auto* suite = unit->GetTestSuite(i);
      if (std::string_view(suite->name()) == kSuiteName && suite->should_run()) return true;
    }
    return false;
  }
};

[[maybe_unused]] auto* const kZygoteEnvironment =
    ::testing::AddGlobalTestEnvironment(new ZygoteEnvironment);

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The pids of this process's children (the zygote and the containers: all are children of
// the main thread, which forked the zygote; containers come with CLONE_PARENT).
std::vector<pid_t> childrenOfThisProcess() {
  std::istringstream in(slurp(fmt::format("/proc/self/task/{}/children", ::getpid())));
  std::vector<pid_t> out;
  for (pid_t pid; in >> pid;) out.push_back(pid);
  return out;
}

bool isOurChild(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0;
}

struct Bundle {
  std::string module = "hello";   // copied from the test modules as /<module>.wasm
  std::vector<std::string> args;  // default: {"/<module>.wasm"}
  bool processTerminal = false;
  std::optional<std::string> rawConfig;  // config.json as is, instead of the above
};

Bundle withModule(std::string module, std::vector<std::string> args = {}) {
  Bundle b;
  b.module = std::move(module);
  b.args = std::move(args);
  return b;
}

Bundle withProcessTerminal() {
  Bundle b;
  b.processTerminal = true;
  return b;
}

Bundle withConfig(std::string config) {
  Bundle b;
  b.rawConfig = std::move(config);
  return b;
}

class TaskServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(shared, nullptr) << "the zygote environment did not run";
    ASSERT_TRUE(shared->error.empty()) << shared->error;
    auto reaper = Reaper::start();
    ASSERT_TRUE(reaper) << reaper.error().message;
    reaper_ = std::move(*reaper);
    env_.shimName = kShimName;
    env_.zygote = &*shared->zygote;
    env_.reaper = reaper_.get();
    env_.engine = shared->engine.get();
    env_.cache = engine::ArtifactCache(shared->cacheDir->path());
    service_ = std::make_unique<TaskService>(env_, nullptr, [] {});
  }

  void TearDown() override {
    if (service_) {
      // A failed test may leave tasks: kill them (and wait for their exits) first.
      if (service_->taskCount() != 0 && !HasFailure())
        ADD_FAILURE() << service_->taskCount() << " task(s) left behind";
      service_->killAll(5s);
      service_.reset();
    }
    if (reaper_) reaper_->stop();
    // Nothing left behind: the zygote is this process's only child.
    std::vector<pid_t> children = childrenOfThisProcess();
    for (pid_t pid : children) {
      if (shared && shared->zygote && pid == shared->zygote->pid()) continue;
      ADD_FAILURE() << "child process " << pid << " left behind";
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }

  // Writes <scratch>/<name>/config.json and rootfs/ with the module; returns the bundle.
  fs::path makeBundle(const std::string& name, const Bundle& b) {
    fs::path bundle = scratch_.path() / name;
    fs::create_directories(bundle / "rootfs");
    if (!b.module.empty()) {
      fs::path source = b.module.starts_with('/') ? fs::path(b.module) : modulePath(b.module);
      fs::copy_file(source, bundle / "rootfs" / (source.stem().string() + ".wasm"));
    }
    std::string config;
    if (b.rawConfig) {
      config = *b.rawConfig;
    } else {
      nlohmann::json spec;
      spec["ociVersion"] = "1.0.2";
      spec["process"]["terminal"] = b.processTerminal;
      spec["process"]["args"] =
          b.args.empty() ? std::vector<std::string>{"/" + b.module + ".wasm"} : b.args;
      spec["process"]["env"] = {"PATH=/usr/bin:/bin"};
      spec["process"]["cwd"] = "/";
      spec["root"]["path"] = "rootfs";
      config = spec.dump(2);
    }
    std::ofstream(bundle / "config.json") << config;
    return bundle;
  }

  taskv2::CreateTaskRequest createRequest(const std::string& id, const fs::path& bundle) {
    taskv2::CreateTaskRequest r;
    r.set_id(id);
    r.set_bundle(bundle.string());
    // Regular files (openStdio appends to them; it creates only FIFOs' peers, not files).
    for (const char* ext : {".out", ".err"})
      if (!fs::exists(scratch_.path() / (id + ext))) std::ofstream(scratch_.path() / (id + ext));
    r.set_stdout((scratch_.path() / (id + ".out")).string());
    r.set_stderr((scratch_.path() / (id + ".err")).string());
    return r;
  }

  Expected<taskv2::CreateTaskResponse> create(const std::string& id, const Bundle& b = {}) {
    return service_->create(
        createRequest(id, makeBundle(id + "-bundle-" + std::to_string(++n_), b)));
  }

  std::string out(const std::string& id) { return slurp(scratch_.path() / (id + ".out")); }
  std::string err(const std::string& id) { return slurp(scratch_.path() / (id + ".err")); }

  Expected<taskv2::StartResponse> start(const std::string& id, const std::string& execId = "") {
    taskv2::StartRequest r;
    r.set_id(id);
    r.set_exec_id(execId);
    return service_->start(r);
  }

  Expected<taskv2::StateResponse> state(const std::string& id, const std::string& execId = "") {
    taskv2::StateRequest r;
    r.set_id(id);
    r.set_exec_id(execId);
    return service_->state(r);
  }

  Expected<void> kill(const std::string& id, int signal, bool all = false,
                      const std::string& execId = "") {
    taskv2::KillRequest r;
    r.set_id(id);
    r.set_signal(static_cast<uint32_t>(signal));
    r.set_all(all);
    r.set_exec_id(execId);
    return service_->kill(r);
  }

  Expected<taskv2::DeleteResponse> remove(const std::string& id, const std::string& execId = "") {
    taskv2::DeleteRequest r;
    r.set_id(id);
    r.set_exec_id(execId);
    return service_->remove(r);
  }

  Expected<taskv2::PidsResponse> pids(const std::string& id) {
    taskv2::PidsRequest r;
    r.set_id(id);
    return service_->pids(r);
  }

  // Wait, answered when the task exits; Unavailable when it has not within `timeout`.
  Expected<taskv2::WaitResponse> wait(const std::string& id, const std::string& execId = "",
                                      std::chrono::milliseconds timeout = 30s) {
    auto promise = std::make_shared<std::promise<Expected<taskv2::WaitResponse>>>();
    auto future = promise->get_future();
    taskv2::WaitRequest r;
    r.set_id(id);
    r.set_exec_id(execId);
    service_->wait(r, [promise](Expected<taskv2::WaitResponse> result) {
      promise->set_value(std::move(result));
    });
    if (future.wait_for(timeout) != std::future_status::ready)
      return makeError(ErrorCode::kUnavailable, "Wait did not answer in time");
    return future.get();
  }

  // Expects `result` to be an error with `code` whose message contains `needle`.
  template <typename T>
  void expectError(const Expected<T>& result, ErrorCode code, std::string_view needle) {
    ASSERT_FALSE(result) << "succeeded, expected " << errorCodeName(code);
    EXPECT_EQ(result.error().code, code)
        << errorCodeName(result.error().code) << ": " << result.error().message;
    EXPECT_NE(result.error().message.find(needle), std::string::npos)
        << "\"" << result.error().message << "\" does not contain \"" << needle << "\"";
  }

  // Runs a created task to its end and deletes it; returns the exit status.
  uint32_t runToExit(const std::string& id) {
    auto started = start(id);
    EXPECT_TRUE(started) << started.error().message;
    auto waited = wait(id);
    EXPECT_TRUE(waited) << waited.error().message;
    auto deleted = remove(id);
    EXPECT_TRUE(deleted) << deleted.error().message;
    if (!waited || !deleted) return 9999;
    EXPECT_EQ(deleted->exit_status(), waited->exit_status());
    return waited->exit_status();
  }

  runwasi::testing::ScratchDir scratch_{"task-service-test-"};
  std::unique_ptr<Reaper> reaper_;
  InstanceEnvironment env_;
  std::unique_ptr<TaskService> service_;
  int n_ = 0;
};

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
      {"terminal", {}, true, ErrorCode::kInvalidArgument, "terminal"},
      {"process.terminal", withProcessTerminal(), false, ErrorCode::kInvalidArgument,
       "process.terminal"},
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
