// The rest of the Task API through TaskService (issue 5): Exec of native programs and Wasm
// modules into a running container (its namespaces, cgroup and root, the exec's own
// identity and stdio), Pids with the exec ids, Pause/Resume with the cgroup freezer,
// Update of the cgroup's limits, terminals (a pty for Create and Exec, ResizePty), CloseIO,
// /tasks/oom while the container runs, Checkpoint refused, and every error path leaving
// no process, cgroup, fd (FIFO or pty) behind. Events are read from the shim's log (the
// fixture has no publisher: each event is logged at debug level).
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/file.h"
#include "common/log.h"
#include "common/unique_fd.h"
#include "github.com/containerd/containerd/runtime/v2/runc/options/oci.pb.h"
#include "task_service_fixture.h"

namespace runwasi::shim {
namespace {

namespace fs = std::filesystem;
namespace types = containerd::v1::types;
using nlohmann::json;
using namespace std::chrono_literals;

[[maybe_unused]] const bool kUsesZygote = registerZygoteSuite("TaskApiTest");

// This process's open fds, with what they point at.
std::map<int, std::string> openFds() {
  std::map<int, std::string> fds;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    fds[std::stoi(entry.path().filename().string())] = fs::read_symlink(entry.path(), ec).string();
  }
  return fds;
}

// The fds `after` has that `before` had not (the directory iterator's own aside).
std::vector<std::string> newFds(const std::map<int, std::string>& before,
                                const std::map<int, std::string>& after) {
  std::vector<std::string> out;
  for (const auto& [fd, target] : after) {
    auto it = before.find(fd);
    if (it == before.end() || it->second != target)
      if (!target.starts_with("/proc/") || target.find("/fd") == std::string::npos)
        out.push_back(fmt::format("{} -> {}", fd, target));
  }
  return out;
}

// Polls `check` every 10 ms for up to `timeout`.
template <typename Check>
bool eventually(Check check, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!check()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// The shim's log (events are logged at debug level without a publisher), while it lives.
class LogCapture {
 public:
  LogCapture() : fd_(::memfd_create("shim-log", MFD_CLOEXEC)) {
    log::setFd(fd_.get());
    log::setLevel(log::Level::kDebug);
  }
  ~LogCapture() {
    log::setLevel(log::Level::kInfo);
    log::setFd(STDERR_FILENO);
  }
  std::string text() const {
    auto bytes = readFd(fd_.get(), "the log");
    return bytes ? std::string(bytes->begin(), bytes->end()) : std::string();
  }
  // The event lines ("event containerd.events.X ...: fields"), in order.
  std::vector<std::string> events() const {
    std::vector<std::string> out;
    std::istringstream in(text());
    for (std::string line; std::getline(in, line);)
      if (size_t at = line.find("event containerd.events."); at != std::string::npos)
        out.push_back(line.substr(at + 24));
    return out;
  }

 private:
  UniqueFd fd_;
};

class TaskApiTest : public TaskServiceFixture {
 protected:
  // A full spec (ociSpec) whose rootfs holds busybox, the native and Wasm probes and the
  // modules sleep.wasm and memory_grow.wasm.
  Bundle container(const json& spec) {
    std::vector<RootfsFile> files = busyboxFiles();
    files.push_back({nativeProbePath(), "/sandbox_probe"});
    files.push_back({modulePath("sandbox_probe"), "/sandbox_probe.wasm"});
    files.push_back({modulePath("memory_grow"), "/memory_grow.wasm"});
    return withSpec(spec, files, "sleep");
  }

  // Creates and starts task `id` running `args` in container(); its pid.
  pid_t running(const std::string& id, std::vector<std::string> args, json* specOut = nullptr,
                std::function<void(json&)> edit = {}) {
    json spec = ociSpec(id, std::move(args));
    if (edit) edit(spec);
    auto created = create(id, container(spec));
    EXPECT_TRUE(created) << created.error().message;
    if (!created) return -1;
    auto started = start(id);
    EXPECT_TRUE(started) << started.error().message;
    if (specOut) *specOut = spec;
    return static_cast<pid_t>(created->pid());
  }

  // The container's process spec with other args, as `ctr task exec` makes it.
  static json execProcess(const json& spec, std::vector<std::string> args) {
    json process = spec["process"];
    process["args"] = std::move(args);
    return process;
  }

  std::string execOut(const std::string& id, const std::string& execId) {
    return slurp(scratch_.path() / (id + "." + execId + ".out"));
  }
  std::string execErr(const std::string& id, const std::string& execId) {
    return slurp(scratch_.path() / (id + "." + execId + ".err"));
  }

  // Runs exec `execId` to its end and deletes it; its exit status.
  uint32_t runExec(const std::string& id, const std::string& execId) {
    auto started = start(id, execId);
    EXPECT_TRUE(started) << started.error().message;
    auto waited = wait(id, execId);
    EXPECT_TRUE(waited) << waited.error().message;
    auto deleted = remove(id, execId);
    EXPECT_TRUE(deleted) << deleted.error().message;
    if (!waited || !deleted) return 9999;
    EXPECT_EQ(deleted->exit_status(), waited->exit_status());
    return waited->exit_status();
  }

  // SIGKILLs task `id`, waits, deletes it and checks that nothing is left.
  void finish(const std::string& id) {
    auto status = state(id);
    if (status && status->status() != types::STOPPED) {
      ASSERT_TRUE(kill(id, SIGKILL));
      ASSERT_TRUE(wait(id));
    }
    auto deleted = remove(id);
    ASSERT_TRUE(deleted) << deleted.error().message;
    EXPECT_EQ(service_->taskCount(), 0u);
    EXPECT_EQ(childrenOfThisProcess().size(), 1u) << "a process was left behind";
    EXPECT_EQ(cgroupDirs(cgroupsPathFor(id)), std::vector<fs::path>{}) << "cgroup left behind";
    EXPECT_EQ(mountsUnder(scratch_.path()), std::vector<std::string>{}) << "mount left behind";
  }

  // The container's cgroup directory of a v1 controller (or the unified one).
  fs::path cgroupFile(const std::string& id, const std::string& file) {
    for (const fs::path& dir : cgroupDirs(cgroupsPathFor(id)))
      if (fs::exists(dir / file)) return dir / file;
    return {};
  }
};

TEST_F(TaskApiTest, ExecRunsNativeAndWasmInsideTheRunningContainer) {
  LogCapture log;
  json spec;
  pid_t init = running("ex", {"/sleep.wasm", "60000"}, &spec);
  ASSERT_GT(init, 0);

  // A native shell: its own stdout, stderr and exit status.
  json shell = execProcess(spec, {"/bin/sh", "-c", "echo out; echo err >&2; exit 7"});
  ASSERT_TRUE(exec("ex", "sh", shell));
  auto created = state("ex", "sh");
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->status(), types::CREATED);
  EXPECT_EQ(created->exec_id(), "sh");
  EXPECT_GT(created->pid(), 0u);
  EXPECT_NE(created->pid(), static_cast<uint32_t>(init));
  auto started = start("ex", "sh");
  ASSERT_TRUE(started) << started.error().message;
  EXPECT_EQ(started->pid(), created->pid());
  auto waited = wait("ex", "sh");
  ASSERT_TRUE(waited) << waited.error().message;
  EXPECT_EQ(waited->exit_status(), 7u);
  EXPECT_EQ(execOut("ex", "sh"), "out\n");
  EXPECT_EQ(execErr("ex", "sh"), "err\n");
  auto stopped = state("ex", "sh");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->status(), types::STOPPED);
  EXPECT_EQ(stopped->exit_status(), 7u);
  // The container goes on.
  auto task = state("ex");
  ASSERT_TRUE(task);
  EXPECT_EQ(task->status(), types::RUNNING);
  auto deleted = remove("ex", "sh");
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_EQ(deleted->exit_status(), 7u);
  expectError(state("ex", "sh"), ErrorCode::kNotFound, "sh");

  // The native probe with an identity of its own: the container's namespaces and cgroup.
  json probe = execProcess(spec, {"/sandbox_probe"});
  probe["user"] = {{"uid", 1000}, {"gid", 1000}, {"additionalGids", {5}}};
  probe["env"] = {"PATH=/bin", "EXEC=native"};
  probe["cwd"] = "/run";
  ASSERT_TRUE(exec("ex", "probe", probe));
  EXPECT_EQ(runExec("ex", "probe"), 0u) << execErr("ex", "probe");
  // And the Wasm probe as root.
  ASSERT_TRUE(exec("ex", "wasm", execProcess(spec, {"/sandbox_probe.wasm"})));
  EXPECT_EQ(runExec("ex", "wasm"), 0u) << execErr("ex", "wasm");

  for (const char* execId : {"probe", "wasm"}) {
    SCOPED_TRACE(execId);
    Report report = parseReport(execOut("ex", execId));
    EXPECT_NE(one(report, "pid"), "1");
    EXPECT_NE(one(report, "pid"), "<missing>");
    for (const char* ns : {"pid", "mnt", "net", "ipc", "uts"})
      EXPECT_EQ(one(report, fmt::format("ns {}", ns)),
                fs::read_symlink(fmt::format("/proc/{}/ns/{}", init, ns)).string())
          << ns;
    ASSERT_FALSE(report["cgroup"].empty());
    for (const std::string& line : report["cgroup"])
      EXPECT_TRUE(line.ends_with(":" + cgroupsPathFor("ex"))) << line;
    // The container's mounts: its /proc, /dev, /run.
    for (const char* mount : {"/proc proc", "/dev tmpfs", "/run tmpfs"})
      EXPECT_NE(std::find(report["mount"].begin(), report["mount"].end(), mount),
                report["mount"].end())
          << mount;
    EXPECT_EQ(one(report, "NoNewPrivs"), "1");
  }
  Report native = parseReport(execOut("ex", "probe"));
  EXPECT_EQ(one(native, "uid"), "1000 1000 1000 1000");
  EXPECT_EQ(one(native, "gid"), "1000 1000 1000 1000");
  EXPECT_EQ(one(native, "groups"), "5");
  EXPECT_EQ(one(native, "CapEff"), "0000000000000000");  // non-root after execve
  EXPECT_EQ(native["env"], (std::vector<std::string>{"PATH=/bin", "EXEC=native", "HOME=/"}));
  Report wasm = parseReport(execOut("ex", "wasm"));
  EXPECT_EQ(one(wasm, "uid"), "0 0 0 0");
  EXPECT_EQ(one(wasm, "CapEff"), kDefaultCapabilitiesMask);
  EXPECT_EQ(wasm["env"], spec["process"]["env"].get<std::vector<std::string>>());

  finish("ex");
  // The events, in order, with the exec ids.
  std::vector<std::string> events = log.events();
  std::vector<std::string> wanted = {
      "TaskCreate",    "TaskStart",       "TaskExecAdded", "TaskExecStarted", "TaskExit",
      "TaskExecAdded", "TaskExecStarted", "TaskExit",      "TaskExecAdded",   "TaskExecStarted",
      "TaskExit",      "TaskExit",        "TaskDelete"};
  ASSERT_EQ(events.size(), wanted.size()) << log.text();
  for (size_t i = 0; i < wanted.size(); ++i)
    EXPECT_TRUE(events[i].starts_with(wanted[i])) << i << ": " << events[i];
  EXPECT_NE(events[2].find("exec_id: \"sh\""), std::string::npos) << events[2];
  EXPECT_NE(events[3].find("exec_id: \"sh\""), std::string::npos) << events[3];
  EXPECT_NE(events[4].find("id: \"sh\""), std::string::npos) << events[4];
  EXPECT_NE(events[4].find("exit_status: 7"), std::string::npos) << events[4];
  EXPECT_NE(events[11].find("id: \"ex\""), std::string::npos) << events[11];
}

TEST_F(TaskApiTest, PidsListsTheContainersProcessesWithExecIds) {
  json spec;
  pid_t init = running("pids", {"/bin/sh", "-c", "sleep 60 & wait"}, &spec);
  ASSERT_GT(init, 0);
  ASSERT_TRUE(exec("pids", "sleeper", execProcess(spec, {"/bin/sh", "-c", "exec sleep 60"})));
  auto started = start("pids", "sleeper");
  ASSERT_TRUE(started) << started.error().message;
  pid_t execPid = static_cast<pid_t>(started->pid());

  taskv2::PidsResponse listed;
  ASSERT_TRUE(eventually([&] {  // the shell's child sleep may not be forked yet
    auto p = pids("pids");
    if (!p) return false;
    listed = *p;
    return listed.processes_size() == 3;
  })) << listed.ShortDebugString();
  std::map<pid_t, std::string> infos;
  for (const auto& process : listed.processes()) {
    std::string execId = "-";
    if (process.has_info()) {
      EXPECT_EQ(process.info().type_url(), "containerd.runc.v1.ProcessDetails");
      containerd::runc::v1::ProcessDetails details;
      ASSERT_TRUE(details.ParseFromString(process.info().value()));
      execId = details.exec_id();
    }
    infos[static_cast<pid_t>(process.pid())] = execId;
  }
  EXPECT_EQ(infos[init], "-");
  EXPECT_EQ(infos[execPid], "sleeper");

  ASSERT_TRUE(kill("pids", SIGTERM, false, "sleeper"));
  auto waited = wait("pids", "sleeper");
  ASSERT_TRUE(waited);
  EXPECT_EQ(waited->exit_status(), 143u);
  expectError(kill("pids", SIGTERM, false, "sleeper"), ErrorCode::kNotFound, "already finished");
  ASSERT_TRUE(remove("pids", "sleeper"));
  auto after = pids("pids");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->processes_size(), 2) << after->ShortDebugString();
  finish("pids");
}

TEST_F(TaskApiTest, PauseFreezesTheContainerAndResumeThawsIt) {
  LogCapture log;
  pid_t init = running("pause", {"/bin/sh", "-c", "while true; do echo tick; sleep 0.02; done"});
  ASSERT_GT(init, 0);
  auto ticks = [&] { return out("pause").size(); };
  ASSERT_TRUE(eventually([&] { return ticks() > 0; }));
  expectError(service_->resume([] {
    taskv2::ResumeRequest r;
    r.set_id("pause");
    return r;
  }()),
              ErrorCode::kFailedPrecondition, "it is running");

  taskv2::PauseRequest pause;
  pause.set_id("pause");
  ASSERT_TRUE(service_->pause(pause));
  auto paused = state("pause");
  ASSERT_TRUE(paused);
  EXPECT_EQ(paused->status(), types::PAUSED);
  fs::path freezer = cgroupFile("pause", "freezer.state");
  if (!freezer.empty()) {
    EXPECT_EQ(slurp(freezer), "FROZEN\n");
  }
  size_t frozenAt = ticks();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(ticks(), frozenAt) << "the container made progress while paused";
  expectError(service_->pause(pause), ErrorCode::kFailedPrecondition, "it is paused");
  expectError(exec("pause", "e", json{{"args", {"/bin/sh"}}, {"cwd", "/"}}),
              ErrorCode::kFailedPrecondition, "it is paused");
  expectError(remove("pause"), ErrorCode::kFailedPrecondition, "it is paused");

  taskv2::ResumeRequest resume;
  resume.set_id("pause");
  ASSERT_TRUE(service_->resume(resume));
  auto resumed = state("pause");
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->status(), types::RUNNING);
  if (!freezer.empty()) {
    EXPECT_EQ(slurp(freezer), "THAWED\n");
  }
  EXPECT_TRUE(eventually([&] { return ticks() > frozenAt; })) << "no progress after resume";

  // A paused task still dies of SIGKILL (thawed after the signal, as runc does).
  ASSERT_TRUE(service_->pause(pause));
  ASSERT_TRUE(kill("pause", SIGKILL));
  auto waited = wait("pause", "", 5s);
  ASSERT_TRUE(waited) << waited.error().message;
  EXPECT_EQ(waited->exit_status(), 137u);
  expectError(service_->pause(pause), ErrorCode::kFailedPrecondition, "it is stopped");
  finish("pause");

  std::string events;
  for (const std::string& e : log.events()) events += e.substr(0, e.find(' ')) + " ";
  EXPECT_EQ(events, "TaskCreate TaskStart TaskPaused TaskResumed TaskPaused TaskExit TaskDelete ");
}

TEST_F(TaskApiTest, UpdateWritesTheCgroupsLimits) {
  json spec;
  pid_t init = running("update", {"/sleep.wasm", "60000"}, &spec);
  ASSERT_GT(init, 0);
  auto update = [&](const std::string& resources) {
    taskv2::UpdateTaskRequest r;
    r.set_id("update");
    r.mutable_resources()->set_type_url(
        "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources");
    r.mutable_resources()->set_value(resources);
    return service_->update(r);
  };
  ASSERT_TRUE(update(R"({"memory": {"limit": 67108864}, "pids": {"limit": 42}})"));
  fs::path memory = cgroupFile("update", "memory.limit_in_bytes");
  if (memory.empty()) memory = cgroupFile("update", "memory.max");
  ASSERT_FALSE(memory.empty());
  EXPECT_EQ(slurp(memory), "67108864\n");
  fs::path pidsMax = cgroupFile("update", "pids.max");
  ASSERT_FALSE(pidsMax.empty());
  EXPECT_EQ(slurp(pidsMax), "42\n");

  expectError(update("{\"memory\": "), ErrorCode::kInvalidArgument,
              "cannot update task update: linux.resources: not valid JSON");
  expectError(update(R"({"memory": {"limit": "lots"}})"), ErrorCode::kInvalidArgument,
              "linux.resources.memory.limit");
  expectError(update(R"({"cpu": {"shares": 1}})"), ErrorCode::kInvalidArgument,
              "linux.resources.cpu.shares");
  EXPECT_EQ(slurp(memory), "67108864\n") << "a refused update changed the limit";
  finish("update");
  taskv2::UpdateTaskRequest gone;
  gone.set_id("update");
  expectError(service_->update(gone), ErrorCode::kNotFound, "update");
}

TEST_F(TaskApiTest, TerminalsForCreateAndExec) {
  // Create with a terminal: the process's stdio is a pty of the container's devpts; its
  // stdin comes from a FIFO through the shim.
  fs::path input = scratch_.path() / "tty.in";
  ASSERT_EQ(::mkfifo(input.c_str(), 0600), 0);
  json spec = ociSpec(
      "tty", {"/bin/sh", "-c", "tty; /sandbox_probe tty; read line; echo got:$line; sleep 60"});
  auto request = createRequest("tty", makeBundle("tty-bundle", container(spec)));
  request.set_terminal(true);
  request.set_stdin(input.string());
  request.set_stderr("");
  auto created = service_->create(request);
  ASSERT_TRUE(created) << created.error().message;
  auto st = state("tty");
  ASSERT_TRUE(st);
  EXPECT_TRUE(st->terminal());
  ASSERT_TRUE(resize("tty", "", 100, 40));
  ASSERT_TRUE(start("tty"));
  UniqueFd writer(::open(input.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  ASSERT_TRUE(writer);
  ASSERT_EQ(::write(writer.get(), "hello\n", 6), 6);
  ASSERT_TRUE(eventually([&] { return out("tty").find("got:hello") != std::string::npos; }))
      << out("tty");
  Report report = parseReport(out("tty"));
  EXPECT_EQ(report["tty"], (std::vector<std::string>{"0 yes", "1 yes", "2 yes"})) << out("tty");
  EXPECT_EQ(one(report, "ttyname"), "/dev/pts/0") << out("tty");
  EXPECT_EQ(one(report, "winsize"), "40 100") << out("tty");
  EXPECT_NE(out("tty").find("/dev/pts/0\r\n"), std::string::npos) << out("tty");
  EXPECT_NE(out("tty").find("hello\r\n"), std::string::npos) << "no echo: " << out("tty");

  // Exec with a terminal: native (resized before it starts) and Wasm.
  ASSERT_TRUE(exec("tty", "t1", execProcess(spec, {"/sandbox_probe", "tty"}), true));
  ASSERT_TRUE(resize("tty", "t1", 120, 30));
  EXPECT_EQ(runExec("tty", "t1"), 0u);
  Report exec1 = parseReport(execOut("tty", "t1"));
  EXPECT_EQ(exec1["tty"], (std::vector<std::string>{"0 yes", "1 yes", "2 yes"}));
  EXPECT_EQ(one(exec1, "winsize"), "30 120");
  EXPECT_EQ(one(exec1, "ttyname"), "/dev/pts/1") << execOut("tty", "t1");
  ASSERT_TRUE(exec("tty", "t2", execProcess(spec, {"/sandbox_probe.wasm", "tty"}), true));
  EXPECT_EQ(runExec("tty", "t2"), 0u);
  EXPECT_EQ(parseReport(execOut("tty", "t2"))["tty"],
            (std::vector<std::string>{"0 yes", "1 yes", "2 yes"}))
      << execOut("tty", "t2");
  // Without a terminal, the same probe sees none.
  ASSERT_TRUE(exec("tty", "t3", execProcess(spec, {"/sandbox_probe.wasm", "tty"})));
  EXPECT_EQ(runExec("tty", "t3"), 0u);
  EXPECT_EQ(parseReport(execOut("tty", "t3"))["tty"],
            (std::vector<std::string>{"0 no", "1 no", "2 no"}));
  writer.reset();
  finish("tty");

  // A module with no linux section and process.terminal alone gets a pty as well.
  auto plain = create("plain", withProcessTerminal());
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(runToExit("plain"), 0u);
  EXPECT_EQ(out("plain"), "hello from wasm\r\n");
}

TEST_F(TaskApiTest, CloseIOEndsStdin) {
  fs::path input = scratch_.path() / "cat.in";
  ASSERT_EQ(::mkfifo(input.c_str(), 0600), 0);
  json spec = ociSpec("cat", {"/bin/sh", "-c", "cat; echo eof"});
  auto request = createRequest("cat", makeBundle("cat-bundle", container(spec)));
  request.set_stdin(input.string());
  auto created = service_->create(request);
  ASSERT_TRUE(created) << created.error().message;
  ASSERT_TRUE(start("cat"));
  {
    UniqueFd writer(::open(input.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    ASSERT_TRUE(writer);
    ASSERT_EQ(::write(writer.get(), "abc\n", 4), 4);
  }
  // Our writer is gone, the shim's is not: cat still waits.
  ASSERT_TRUE(eventually([&] { return out("cat") == "abc\n"; })) << out("cat");
  std::this_thread::sleep_for(200ms);
  auto st = state("cat");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status(), types::RUNNING);
  ASSERT_TRUE(closeStdin("cat"));
  auto waited = wait("cat", "", 5s);
  ASSERT_TRUE(waited) << waited.error().message;
  EXPECT_EQ(waited->exit_status(), 0u);
  EXPECT_EQ(out("cat"), "abc\neof\n");
  finish("cat");
}

TEST_F(TaskApiTest, OomOfAnExecIsReportedWhileTheContainerRuns) {
  LogCapture log;
  json spec;
  pid_t init = running("oomx", {"/sleep.wasm", "60000"}, &spec, [](json& s) {
    s["linux"]["resources"]["memory"] = {{"limit", 32 * 1024 * 1024}};
  });
  ASSERT_GT(init, 0);
  ASSERT_TRUE(exec("oomx", "hog", execProcess(spec, {"/memory_grow.wasm", "256"})));
  ASSERT_TRUE(start("oomx", "hog"));
  auto waited = wait("oomx", "hog");
  ASSERT_TRUE(waited);
  EXPECT_EQ(waited->exit_status(), 137u) << execErr("oomx", "hog");
  auto st = state("oomx");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status(), types::RUNNING);
  ASSERT_TRUE(remove("oomx", "hog"));
  finish("oomx");
  // One /tasks/oom, before the exec's exit; none again at the container's own exit.
  std::string events;
  for (const std::string& e : log.events()) events += e.substr(0, e.find(' ')) + " ";
  EXPECT_EQ(events,
            "TaskCreate TaskStart TaskExecAdded TaskExecStarted TaskOOM TaskExit TaskExit "
            "TaskDelete ")
      << log.text();
}

TEST_F(TaskApiTest, ErrorPathsSayWhyAndLeaveNothing) {
  json spec;
  pid_t init = running("err", {"/sleep.wasm", "60000"}, &spec);
  ASSERT_GT(init, 0);
  auto fdsBefore = openFds();
  size_t childrenBefore = childrenOfThisProcess().size();

  expectError(exec("err", "", execProcess(spec, {"/bin/sh"})), ErrorCode::kInvalidArgument,
              "exec id is empty");
  expectError(exec("err", "bad", std::string("{\"args\": [")), ErrorCode::kInvalidArgument,
              "the exec process spec: process: not valid JSON");
  expectError(exec("err", "bad", json{{"cwd", "/"}}), ErrorCode::kInvalidArgument,
              "process.args is missing");
  expectError(exec("err", "bad", json{{"args", json::array()}}), ErrorCode::kInvalidArgument,
              "process.args is empty");
  json relative = execProcess(spec, {"/bin/sh"});
  relative["cwd"] = "run";
  expectError(exec("err", "bad", relative), ErrorCode::kInvalidArgument, "process.cwd");
  expectError(exec("err", "bad", execProcess(spec, {"/no/such/program"})), ErrorCode::kNotFound,
              "the entrypoint /no/such/program does not exist");
  json badCwd = execProcess(spec, {"/bin/sh"});
  badCwd["cwd"] = "/no/such/dir";
  expectError(exec("err", "bad", badCwd), ErrorCode::kInvalidArgument, "process.cwd: /no/such/dir");
  json badTerminal = execProcess(spec, {"/bin/sh"});
  expectError(exec("err", "bad", badTerminal, true, "/no/such/fifo"), ErrorCode::kNotFound,
              "/no/such/fifo");
  expectError(exec("nope", "e", execProcess(spec, {"/bin/sh"})), ErrorCode::kNotFound,
              "task nope not found");
  expectError(start("err", "bad"), ErrorCode::kNotFound, "no exec process bad");

  // A duplicate exec id, and the task's own id.
  ASSERT_TRUE(exec("err", "dup", execProcess(spec, {"/bin/sh"})));
  expectError(exec("err", "dup", execProcess(spec, {"/bin/sh"})), ErrorCode::kAlreadyExists,
              "exec process dup already exists in task err");
  expectError(exec("err", "err", execProcess(spec, {"/bin/sh"})), ErrorCode::kAlreadyExists,
              "the task's own id");
  // Deleting a created exec ends its waiting process.
  auto deleted = remove("err", "dup");
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_EQ(deleted->exit_status(), 137u);

  taskv2::CheckpointTaskRequest checkpoint;
  checkpoint.set_id("err");
  expectError(service_->checkpoint(checkpoint), ErrorCode::kUnimplemented,
              "checkpoint is not supported by containerd-shim-wasm2c-v1");
  expectError(resize("err", "nope", 1, 1), ErrorCode::kNotFound, "nope");

  EXPECT_EQ(childrenOfThisProcess().size(), childrenBefore) << "a process was left behind";
  EXPECT_EQ(newFds(fdsBefore, openFds()), std::vector<std::string>{}) << "an fd was left open";

  // Once the container has stopped: no exec, pause, resume or update.
  ASSERT_TRUE(kill("err", SIGKILL));
  ASSERT_TRUE(wait("err"));
  expectError(exec("err", "late", execProcess(spec, {"/bin/sh"})), ErrorCode::kFailedPrecondition,
              "cannot exec in task err: it is stopped");
  taskv2::PauseRequest pause;
  pause.set_id("err");
  expectError(service_->pause(pause), ErrorCode::kFailedPrecondition,
              "cannot pause task err: it is stopped");
  taskv2::UpdateTaskRequest update;
  update.set_id("err");
  update.mutable_resources()->set_value(R"({"pids": {"limit": 10}})");
  expectError(service_->update(update), ErrorCode::kFailedPrecondition,
              "cannot update task err: it is stopped");
  finish("err");
  EXPECT_EQ(newFds(fdsBefore, openFds()), std::vector<std::string>{}) << "an fd was left open";
}

}  // namespace
}  // namespace runwasi::shim
