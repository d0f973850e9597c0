#include "mock_driver.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "bundle.h"
#include "child_process.h"
#include "common/temp_dir.h"
#include "event_sink.h"
#include "github.com/containerd/containerd/runtime/v2/task/shim.pb.h"
#include "host_state.h"
#include "sandbox/cgroup_dirs.h"
#include "shim_process.h"

namespace runwasi::stress {
namespace {

namespace fs = std::filesystem;
namespace taskv2 = containerd::task::v2;
using namespace std::chrono_literals;

// Time for what is not a task's measured life: starting the shared shim, cleaning up after a
// failed task, shutting the shared shim down.
constexpr auto kSetUpTime = 30s;
constexpr auto kCleanUpTime = 10s;
// How long leftovers get to disappear (a zygote ends just after its daemon).
constexpr auto kSettleTime = 2s;

// The topics every task must have produced, by how far it got.
constexpr std::string_view kCreate = "/tasks/create", kStart = "/tasks/start",
                           kExit = "/tasks/exit", kDelete = "/tasks/delete";

// How far a task got, for the events check.
struct TaskProgress {
  bool createSent = false;  // Create went out: the task may exist even if the call failed
  bool created = false, started = false, exited = false, deleted = false;
};

bool isExecutableFile(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

std::optional<fs::path> onPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    std::string_view dir = dirs.substr(0, dirs.find(':'));
    dirs.remove_prefix(std::min(dirs.size(), dir.size() + 1));
    fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
    if (isExecutableFile(candidate)) return fs::absolute(candidate);
  }
  return std::nullopt;
}

// True when `path` is a mount point: its mount differs from its parent's. Two statx calls,
// not a read of mountinfo: it runs after every task.
bool isMountPoint(const fs::path& path) {
  struct statx self {
  }, parent{};
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &self) != 0 ||
      ::statx(AT_FDCWD, path.parent_path().c_str(), 0, STATX_MNT_ID, &parent) != 0)
    return false;
  return self.stx_mnt_id != parent.stx_mnt_id;
}

class MockDriver;

class MockTask final : public TaskRun {
 public:
  MockTask(MockDriver& driver, std::string id, fs::path bundle)
      : driver_(driver), id_(std::move(id)), bundle_(std::move(bundle)) {}
  ~MockTask() override { (void)cleanUp(); }

  Expected<void> create(Deadline deadline) override;
  Expected<void> start(Deadline deadline) override;
  Expected<uint32_t> wait(Deadline deadline) override;
  Expected<void> remove(Deadline deadline) override;
  Expected<void> cleanUp() override;
  std::string output() const override {
    return readText(bundle_ / "stdout") + readText(bundle_ / "stderr");
  }

 private:
  ttrpc::Client& client();
  // A Task API request about this task.
  template <typename Request>
  Request request() const {
    Request r;
    r.set_id(id_);
    return r;
  }

  MockDriver& driver_;
  const std::string id_;
  const fs::path bundle_;
  std::unique_ptr<ShimProcess> shim_;  // --shim-per-task: this task's own
  TaskProgress progress_;
  bool cleanedUp_ = false;
};

class MockDriver final : public Driver {
 public:
  explicit MockDriver(MockConfig config) : config_(std::move(config)) {}

  nlohmann::json describe() const override {
    return {{"shim", config_.shim.string()},
            {"shims", config_.shimPerTask ? "one per task"
                                          : "one for all tasks (a pod: sandbox-id annotation)"},
            {"namespace", config_.ns}};
  }

  Expected<void> setUp() override;
  Expected<std::unique_ptr<TaskRun>> prepare(const std::string& id) override;
  DriverSummary tearDown() override;

  const ShimCommand& command() const { return command_; }
  bool shimPerTask() const { return config_.shimPerTask; }
  ttrpc::Client& sharedClient() { return shared_->client(); }
  void started(const ShimProcess& shim) {
    std::lock_guard lock(mutex_);
    sockets_.insert(shim.socketPath());
    ++shimsStarted_;
  }
  void finished(const std::string& id, const TaskProgress& progress) {
    std::lock_guard lock(mutex_);
    progress_[id] = progress;
  }
  void stopped(const ShimProcess& shim) {
    std::lock_guard lock(mutex_);
    shimCpu_ += shim.cpuTime();
  }

 private:
  // A bundle's `log`: where the shim started in it writes its log, when asked for.
  Expected<void> linkLog(const fs::path& bundle, const std::string& id) const;
  void checkEvents(DriverSummary& summary);
  void checkLeftovers(DriverSummary& summary);

  const MockConfig config_;
  std::optional<TempDir> work_;
  std::unique_ptr<EventSink> events_;
  ShimCommand command_;
  std::unique_ptr<ShimProcess> shared_;  // the one shim, unless shimPerTask

  std::mutex mutex_;
  std::map<std::string, TaskProgress> progress_;  // guarded by mutex_; every task prepared
  std::set<std::string> sockets_;                 // guarded by mutex_; every shim's socket
  size_t shimsStarted_ = 0;                       // guarded by mutex_
  std::chrono::nanoseconds shimCpu_{};            // guarded by mutex_; of shims stopped
};

ttrpc::Client& MockTask::client() {
  return shim_ ? shim_->client() : driver_.sharedClient();
}

Expected<void> MockTask::create(Deadline deadline) {
  if (driver_.shimPerTask()) {
    TRY(shim_, ShimProcess::start(driver_.command(), id_, bundle_, deadline));
    driver_.started(*shim_);
  }
  auto create = request<taskv2::CreateTaskRequest>();
  create.set_bundle(bundle_.string());
  create.set_stdout((bundle_ / "stdout").string());
  create.set_stderr((bundle_ / "stderr").string());
  progress_.createSent = true;
  TRY_VOID(callTask(client(), "Create", create, deadline));
  progress_.created = true;
  return {};
}

Expected<void> MockTask::start(Deadline deadline) {
  TRY_VOID(callTask(client(), "Start", request<taskv2::StartRequest>(), deadline));
  progress_.started = true;
  return {};
}

Expected<uint32_t> MockTask::wait(Deadline deadline) {
  TRY(auto answer,
      callTask<taskv2::WaitResponse>(client(), "Wait", request<taskv2::WaitRequest>(), deadline));
  progress_.exited = true;
  return answer.exit_status();
}

Expected<void> MockTask::remove(Deadline deadline) {
  TRY_VOID(callTask(client(), "Delete", request<taskv2::DeleteRequest>(), deadline));
  progress_.deleted = true;
  // containerd shuts a task's own shim down as part of deleting the task.
  if (shim_) TRY_VOID(shim_->stop(deadline));
  return {};
}

Expected<void> MockTask::cleanUp() {
  if (cleanedUp_) return {};
  cleanedUp_ = true;
  std::vector<std::string> problems;
  Deadline deadline = Clock::now() + kCleanUpTime;
  // A task a failed step left: killed, waited for and deleted, as containerd would. One
  // whose Create failed (a timeout) may exist all the same: then NotFound is no problem.
  if (progress_.createSent && !progress_.deleted) {
    auto kill = request<taskv2::KillRequest>();
    kill.set_signal(SIGKILL);
    kill.set_all(true);
    (void)callTask(client(), "Kill", kill, deadline);  // it may have exited already
    auto waited = callTask(client(), "Wait", request<taskv2::WaitRequest>(), deadline);
    auto removed = callTask(client(), "Delete", request<taskv2::DeleteRequest>(), deadline);
    for (const auto* result : {&waited, &removed})
      if (!*result && (progress_.created || result->error().code != ErrorCode::kNotFound))
        problems.push_back(result->error().message);
  }
  if (shim_) {
    if (auto stopped = shim_->stop(deadline); !stopped) problems.push_back(stopped.error().message);
    driver_.stopped(*shim_);
    shim_.reset();
  }
  // Never remove the bundle through a mount that is still there (the whole work directory
  // is checked for mounts at the end).
  if (isMountPoint(bundle_ / "rootfs")) {
    problems.push_back(fmt::format("the rootfs mount {} was left", (bundle_ / "rootfs").string()));
    ::umount2((bundle_ / "rootfs").c_str(), MNT_DETACH);
  }
  std::error_code ec;
  fs::remove_all(bundle_, ec);
  if (ec) problems.push_back(fmt::format("removing {}: {}", bundle_.string(), ec.message()));
  driver_.finished(id_, progress_);
  if (!problems.empty())
    return makeError(ErrorCode::kInternal,
                     fmt::format("cleaning up: {}", fmt::join(problems, "; ")));
  return {};
}

Expected<void> MockDriver::linkLog(const fs::path& bundle, const std::string& id) const {
  if (config_.shimLog.empty()) return {};
  // One file per shim: the shim opens `log` without O_APPEND, so two would overwrite.
  fs::path target =
      config_.shimPerTask ? fs::path(config_.shimLog.string() + "." + id) : config_.shimLog;
  std::error_code ec;
  fs::create_symlink(fs::absolute(target), bundle / "log", ec);
  if (ec)
    return makeError(ErrorCode::kInternal, fmt::format("linking the shim log: {}", ec.message()));
  std::ofstream(target, std::ios::trunc);  // the shim only opens an existing file
  return {};
}

Expected<void> MockDriver::setUp() {
  TRY(work_, TempDir::create("stress-test-",
                             config_.workBase.empty() ? defaultWorkBase() : config_.workBase));
  std::error_code ec;
  fs::create_directory(work_->path() / "bundles", ec);
  if (ec) return makeError(ErrorCode::kInternal, "creating the bundles directory: " + ec.message());
  // Named as containerd names its sockets; the gRPC one never exists (nothing in mock mode
  // calls containerd), but it names the shims' sockets, so they are this run's own.
  std::string ttrpcSocket = (work_->path() / "containerd.sock.ttrpc").string();
  TRY(events_, EventSink::start(ttrpcSocket, config_.ns));
  command_.binary = config_.shim;
  command_.ns = config_.ns;
  command_.address = (work_->path() / "containerd.sock").string();
  command_.publishBinary = onPath("containerd").value_or("/usr/bin/containerd").string();
  command_.debug = config_.debug;
  // containerd 1.6 adds exactly these two to its own environment.
  command_.env = environmentWith({"TTRPC_ADDRESS=" + ttrpcSocket, "GOMAXPROCS=2"});
  if (config_.shimPerTask) return {};

  // The pod's shim: started for a sandbox bundle, as CRI starts it for the pause container.
  std::string sandboxId = config_.idPrefix + "-sandbox";
  fs::path bundle = work_->path() / "sandbox";
  BundleSpec spec{config_.ns, config_.module, config_.args, sandboxId};
  TRY_VOID(writeBundle(bundle, sandboxId, spec));
  TRY_VOID(linkLog(bundle, sandboxId));
  TRY(shared_, ShimProcess::start(command_, sandboxId, bundle, Clock::now() + kSetUpTime));
  started(*shared_);
  return {};
}

Expected<std::unique_ptr<TaskRun>> MockDriver::prepare(const std::string& id) {
  fs::path bundle = work_->path() / "bundles" / id;
  {
    std::lock_guard lock(mutex_);
    progress_[id];  // its cgroup is checked at the end, however far it gets
  }
  std::optional<std::string> sandboxId;
  if (!config_.shimPerTask) sandboxId = config_.idPrefix + "-sandbox";
  auto written =
      writeBundle(bundle, id, BundleSpec{config_.ns, config_.module, config_.args, sandboxId});
  if (written && config_.shimPerTask) written = linkLog(bundle, id);
  if (!written) {
    std::error_code ec;
    fs::remove_all(bundle, ec);
    return tl::unexpected(std::move(written).error());
  }
  return std::make_unique<MockTask>(*this, id, bundle);
}

void MockDriver::checkEvents(DriverSummary& summary) {
  EventTally tally = events_->tally();
  for (const std::string& why : tally.rejected) summary.problems.push_back("event refused: " + why);
  std::lock_guard lock(mutex_);
  for (const auto& [id, progress] : progress_) {
    const std::pair<std::string_view, bool> expected[] = {{kCreate, progress.created},
                                                          {kStart, progress.started},
                                                          {kExit, progress.exited},
                                                          {kDelete, progress.deleted}};
    const auto& got = tally.byTask[id];
    for (auto [topic, due] : expected) {
      auto it = got.find(std::string(topic));
      size_t count = it == got.end() ? 0 : it->second;
      if (due && count == 0) summary.problems.push_back(fmt::format("{}: no {} event", id, topic));
      if (count > 1) summary.problems.push_back(fmt::format("{}: {} {} events", id, count, topic));
    }
  }
  for (const auto& [id, topics] : tally.byTask)
    if (!progress_.contains(id) && id != config_.idPrefix + "-sandbox")
      summary.problems.push_back(fmt::format("events for a task never made: {}", id));
  summary.details["events"] = {{"received", tally.total}, {"by_topic", tally.byTopic}};
}

void MockDriver::checkLeftovers(DriverSummary& summary) {
  auto& problems = summary.problems;
  std::lock_guard lock(mutex_);
  for (const std::string& socket : sockets_) {
    std::error_code ec;
    if (fs::exists(socket, ec)) {
      problems.push_back("shim socket left: " + socket);
      ::unlink(socket.c_str());
    }
  }
  // Every shim's command line names the work directory (-address); so do its zygote's
  // and containers'.
  std::string needle = work_->path().string() + "/";
  std::vector<ProcessInfo> left = processesMentioning(needle);
  for (auto until = Clock::now() + kSettleTime; !left.empty() && Clock::now() < until;) {
    std::this_thread::sleep_for(50ms);
    left = processesMentioning(needle);
  }
  for (const ProcessInfo& p : left) {
    problems.push_back("process left (killed): " + p.describe());
    ::kill(p.pid, SIGKILL);
  }
  for (const auto& [id, progress] : progress_)
    for (const fs::path& dir : sandbox::cgroupDirs(fmt::format("/{}/{}", config_.ns, id))) {
      problems.push_back("cgroup left: " + dir.string());
      ::rmdir(dir.c_str());
    }
  // The namespace level that the tasks' cgroups were made under, if nothing else uses it.
  for (const fs::path& dir : sandbox::cgroupDirs("/" + config_.ns)) ::rmdir(dir.c_str());
  for (const std::string& point : mountsUnder(work_->path())) {
    problems.push_back("mount left: " + point);
    ::umount2(point.c_str(), MNT_DETACH);
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(work_->path() / "bundles", ec))
    problems.push_back("bundle left: " + entry.path().string());
  summary.details["shims_started"] = shimsStarted_;
  // Where the CPU went, per task run (warm-up included): the shims (daemon, zygote and
  // containers), and this tool (with the shim binaries' start and delete it ran). Kernel
  // work done later in kernel threads (cgroup and namespace teardown) is in neither.
  // /proc counts a process's CPU time in clock ticks (10 ms here), so the shims' is told
  // only when one shim ran every task: a shim per task would round most of its own to 0.
  summary.details["cpu_ms_per_task"] = {
      {"shims", config_.shimPerTask ? nlohmann::json(nullptr)
                                    : nlohmann::json(msPerTask(shimCpu_, progress_.size()))},
      {"tool", msPerTask(toolCpuTime(), progress_.size())}};
}

DriverSummary MockDriver::tearDown() {
  DriverSummary summary;
  if (shared_) {
    if (auto stopped = shared_->stop(Clock::now() + kCleanUpTime); !stopped)
      summary.problems.push_back("the shim: " + stopped.error().message);
    stopped(*shared_);
    shared_.reset();
  }
  // Every daemon has exited by now, and each flushed its events before it did.
  if (events_) checkEvents(summary);
  if (work_) checkLeftovers(summary);
  events_.reset();
  work_.reset();
  return summary;
}

}  // namespace

Expected<fs::path> findShimBinary(const Options& options) {
  if (!options.shim.empty()) {
    if (!isExecutableFile(options.shim))
      return makeError(ErrorCode::kNotFound,
                       fmt::format("--shim {}: not an executable file", options.shim));
    return fs::absolute(options.shim);
  }
  if (options.runtime.starts_with('/')) {
    if (!isExecutableFile(options.runtime))
      return makeError(ErrorCode::kNotFound,
                       fmt::format("runtime {}: not an executable file", options.runtime));
    return fs::path(options.runtime);
  }
  TRY(std::string name, shimBinaryName(options.runtime));
  if (auto found = onPath(name)) return *found;
  std::error_code ec;
  fs::path beside = fs::read_symlink("/proc/self/exe", ec).parent_path() / name;
  if (!ec && isExecutableFile(beside)) return beside;
  return makeError(ErrorCode::kNotFound,
                   fmt::format("runtime {}: no {} on PATH or beside stress-test (or give --shim)",
                               options.runtime, name));
}

Expected<std::unique_ptr<Driver>> makeMockDriver(MockConfig config) {
  std::error_code ec;
  if (!fs::is_regular_file(config.module, ec) || ::access(config.module.c_str(), R_OK) != 0)
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("--image {}: not a readable file (mock mode takes a .wasm module)",
                                 config.module.string()));
  config.module = fs::absolute(config.module);
  if (!config.shimLog.empty()) config.shimLog = fs::absolute(config.shimLog);
  return std::make_unique<MockDriver>(std::move(config));
}

}  // namespace runwasi::stress
