#include "shim/task_service.h"

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <google/protobuf/empty.pb.h>

#include "common/log.h"
#include "github.com/containerd/cgroups/stats/v1/metrics.pb.h"
#include "github.com/containerd/cgroups/v2/stats/metrics.pb.h"
#include "github.com/containerd/containerd/api/events/task.pb.h"
#include "github.com/containerd/containerd/runtime/v2/runc/options/oci.pb.h"
#include "shim/proto_time.h"

namespace runwasi::shim {
namespace {

namespace taskv2 = containerd::task::v2;
namespace events = containerd::events;
namespace cgroupsv1 = io::containerd::cgroups::v1;
namespace cgroupsv2 = io::containerd::cgroups::v2;
using google::protobuf::Empty;

// A process's CPU time (ns) and resident memory (bytes), from /proc: the metrics of a task
// whose spec has no linux section, hence no cgroup.
struct ProcessUsage {
  uint64_t userNs = 0, kernelNs = 0, rssBytes = 0;
};

Expected<ProcessUsage> readUsage(pid_t pid) {
  std::ifstream statFile(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(statFile)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold spaces.
  size_t close = stat.rfind(')');
  if (close == std::string::npos)
    return makeError(ErrorCode::kNotFound, fmt::format("process {} is gone", pid));
  std::istringstream fields(stat.substr(close + 2));
  std::vector<std::string> f{std::istream_iterator<std::string>(fields), {}};
  // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
  if (f.size() < 13) return makeError(ErrorCode::kInternal, "unexpected /proc/PID/stat");
  const uint64_t nsPerTick = 1'000'000'000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  ProcessUsage usage;
  usage.userNs = std::stoull(f[11]) * nsPerTick;
  usage.kernelNs = std::stoull(f[12]) * nsPerTick;
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("VmRSS:")) usage.rssBytes = std::stoull(line.substr(6)) * 1024;
  return usage;
}

// containerd's metrics types: v1 where the memory controller is a v1 hierarchy (hybrid
// machines too), v2 on unified-only machines.
cgroupsv1::Metrics metricsV1(const sandbox::CgroupStats& s) {
  cgroupsv1::Metrics m;
  m.mutable_pids()->set_current(s.pidsCurrent);
  m.mutable_pids()->set_limit(s.pidsLimit);
  auto* usage = m.mutable_cpu()->mutable_usage();
  usage->set_total(s.cpuUsageNs);
  usage->set_user(s.cpuUserNs);
  usage->set_kernel(s.cpuKernelNs);
  auto* throttling = m.mutable_cpu()->mutable_throttling();
  throttling->set_periods(s.cpuPeriods);
  throttling->set_throttled_periods(s.cpuThrottledPeriods);
  throttling->set_throttled_time(s.cpuThrottledNs);
  auto* memory = m.mutable_memory();
  memory->set_rss(s.memoryRss);
  memory->set_cache(s.memoryCache);
  memory->mutable_usage()->set_usage(s.memoryUsage);
  memory->mutable_usage()->set_max(s.memoryMaxUsage);
  memory->mutable_usage()->set_limit(s.memoryLimit);
  memory->mutable_usage()->set_failcnt(s.memoryFailcnt);
  return m;
}

cgroupsv2::Metrics metricsV2(const sandbox::CgroupStats& s) {
  cgroupsv2::Metrics m;
  m.mutable_pids()->set_current(s.pidsCurrent);
  m.mutable_pids()->set_limit(s.pidsLimit);
  auto* cpu = m.mutable_cpu();
  cpu->set_usage_usec(s.cpuUsageNs / 1000);
  cpu->set_user_usec(s.cpuUserNs / 1000);
  cpu->set_system_usec(s.cpuKernelNs / 1000);
  cpu->set_nr_periods(s.cpuPeriods);
  cpu->set_nr_throttled(s.cpuThrottledPeriods);
  cpu->set_throttled_usec(s.cpuThrottledNs / 1000);
  auto* memory = m.mutable_memory();
  memory->set_usage(s.memoryUsage);
  memory->set_usage_limit(s.memoryLimit);
  memory->set_anon(s.memoryRss);
  memory->set_file(s.memoryCache);
  m.mutable_memory_events()->set_oom_kill(s.oomKills);
  return m;
}

template <typename Response>
ttrpc::StatusOr<std::string> toWire(Expected<Response> result) {
  if (!result) return tl::unexpected(ttrpc::statusFromError(result.error()));
  return result->SerializeAsString();
}

ttrpc::StatusOr<std::string> toWire(Expected<void> result) {
  if (!result) return tl::unexpected(ttrpc::statusFromError(result.error()));
  return Empty().SerializeAsString();
}

// Registers `handler` for method `name`: parses the request, maps the result onto the wire.
template <typename Request, typename Handler>
void addRpc(ttrpc::Server& server, const char* name, Handler handler) {
  server.addMethod(std::string(kTaskServiceName), name,
                   [name, handler](const ttrpc::Call& call) -> ttrpc::StatusOr<std::string> {
                     Request request;
                     if (!request.ParseFromString(call.payload))
                       return ttrpc::makeStatus(ttrpc::Code::kInvalidArgument,
                                                fmt::format("malformed {} request", name));
                     return toWire(handler(request));
                   });
}

}  // namespace

struct TaskService::Task {
  explicit Task(std::string id) : state(std::move(id)) {}

  TaskState state;
  std::filesystem::path bundle;
  StdioPaths stdio;
  bool terminal = false;
  std::unique_ptr<Instance> instance;  // set once Create succeeded
  pid_t pid = 0;

  std::mutex mutex;  // guards what follows, and orders exits with the events around them
  std::condition_variable exited;
  bool announced = false;  // /tasks/create was published: exits may be published now
  std::vector<std::function<void(Expected<taskv2::WaitResponse>)>> waiters;
};

TaskService::TaskService(InstanceEnvironment& env, EventPublisher* events,
                         std::function<void()> requestShutdown)
    : env_(env), events_(events), requestShutdown_(std::move(requestShutdown)) {}

TaskService::~TaskService() = default;

void TaskService::registerWith(ttrpc::Server& server) {
  addRpc<taskv2::CreateTaskRequest>(server, "Create", [this](const auto& r) { return create(r); });
  addRpc<taskv2::StartRequest>(server, "Start", [this](const auto& r) { return start(r); });
  addRpc<taskv2::KillRequest>(server, "Kill", [this](const auto& r) { return kill(r); });
  addRpc<taskv2::DeleteRequest>(server, "Delete", [this](const auto& r) { return remove(r); });
  addRpc<taskv2::StateRequest>(server, "State", [this](const auto& r) { return state(r); });
  addRpc<taskv2::PidsRequest>(server, "Pids", [this](const auto& r) { return pids(r); });
  addRpc<taskv2::StatsRequest>(server, "Stats", [this](const auto& r) { return stats(r); });
  addRpc<taskv2::ConnectRequest>(server, "Connect", [this](const auto& r) { return connect(r); });
  addRpc<taskv2::CloseIORequest>(server, "CloseIO", [this](const auto& r) { return closeIO(r); });

  // Shutdown answers before the server stops, or containerd would see the call fail.
  server.addAsyncMethod(std::string(kTaskServiceName), "Shutdown",
                        [this](ttrpc::Call call, ttrpc::Responder responder) {
                          taskv2::ShutdownRequest request;
                          if (!request.ParseFromString(call.payload)) {
                            responder.fail({ttrpc::Code::kInvalidArgument,
                                            "malformed Shutdown request"});
                            return;
                          }
                          responder.finish(toWire(shutdown(request)));
                          if (taskCount() == 0 && requestShutdown_) requestShutdown_();
                        });
  server.addAsyncMethod(std::string(kTaskServiceName), "Wait",
                        [this](ttrpc::Call call, ttrpc::Responder responder) {
                          taskv2::WaitRequest request;
                          if (!request.ParseFromString(call.payload)) {
                            responder.fail({ttrpc::Code::kInvalidArgument,
                                            "malformed Wait request"});
                            return;
                          }
                          wait(request, [responder](Expected<taskv2::WaitResponse> result) {
                            responder.finish(toWire(std::move(result)));
                          });
                        });

  for (const char* method : {"Exec", "Pause", "Resume", "Update", "ResizePty", "Checkpoint"}) {
    server.addMethod(std::string(kTaskServiceName), method,
                     [this, method](const ttrpc::Call&) -> ttrpc::StatusOr<std::string> {
                       return ttrpc::makeStatus(
                           ttrpc::Code::kUnimplemented,
                           fmt::format("{} is not supported by {} yet", method, env_.shimName));
                     });
  }
}

size_t TaskService::taskCount() const {
  std::lock_guard lock(mutex_);
  return tasks_.size();
}

Expected<std::shared_ptr<TaskService::Task>> TaskService::find(const std::string& id,
                                                               const std::string& execId) const {
  std::lock_guard lock(mutex_);
  auto it = tasks_.find(id);
  if (it == tasks_.end() || !it->second->instance)
    return makeError(ErrorCode::kNotFound, fmt::format("task {} not found", id));
  if (!execId.empty() && execId != id)
    return makeError(ErrorCode::kNotFound,
                     fmt::format("task {} has no exec process {}", id, execId));
  return it->second;
}

void TaskService::publish(const google::protobuf::Message& event) {
  if (!events_) {
    log::debug("event {} (no TTRPC_ADDRESS to publish it to)", event.GetTypeName());
    return;
  }
  if (auto published = events_->publish(event); !published)
    log::warn("cannot publish {}: {}", event.GetTypeName(), published.error().message);
}

void TaskService::exitApplied(Task& task, const ExitInfo& exit) {
  events::TaskExit event;
  event.set_container_id(task.state.id());
  event.set_id(task.state.id());
  event.set_pid(static_cast<uint32_t>(task.pid));
  event.set_exit_status(exit.status);
  setTimestamp(event.mutable_exited_at(), exit.exitedAt);
  publish(event);
  log::info("{}: pid {} exited with status {}", task.state.id(), task.pid, exit.status);

  taskv2::WaitResponse response;
  response.set_exit_status(exit.status);
  setTimestamp(response.mutable_exited_at(), exit.exitedAt);
  for (auto& reply : std::exchange(task.waiters, {})) reply(response);
  task.exited.notify_all();
}

void TaskService::onExit(const std::shared_ptr<Task>& task, const ProcessExit& exit) {
  // Before the exit is announced: a client that sees it closes its FIFOs at once.
  // (No instance yet: the process died during Create, before anyone read its output.)
  const Instance* instance;
  {
    std::lock_guard lock(mutex_);
    instance = task->instance.get();
  }
  if (instance) instance->waitForOutputDrained(std::chrono::milliseconds(100), std::chrono::seconds(2));
  std::lock_guard lock(task->mutex);
  if (instance && instance->oomKilled()) {
    log::warn("{}: the container was OOM-killed (memory limit reached)", task->state.id());
    events::TaskOOM event;
    event.set_container_id(task->state.id());
    publish(event);
  }
  ExitInfo info{static_cast<uint32_t>(exit.status), exit.exitedAt};
  // Not applied: a start in progress holds it (Start publishes it after /tasks/start).
  if (task->state.setExited(info) && task->announced) exitApplied(*task, info);
}

Expected<taskv2::CreateTaskResponse> TaskService::create(const taskv2::CreateTaskRequest& r) {
  if (r.id().empty()) return makeError(ErrorCode::kInvalidArgument, "Create: the task id is empty");
  if (!r.checkpoint().empty())
    return makeError(ErrorCode::kUnimplemented,
                     fmt::format("{} cannot restore checkpoints", env_.shimName));
  auto task = std::make_shared<Task>(r.id());
  {
    std::lock_guard lock(mutex_);
    // An entry without an instance reserves the id while Create runs.
    if (!tasks_.emplace(r.id(), task).second)
      return makeError(ErrorCode::kAlreadyExists, fmt::format("task {} already exists", r.id()));
  }
  task->bundle = r.bundle();
  task->stdio = StdioPaths{r.stdin(), r.stdout(), r.stderr()};
  task->terminal = r.terminal();

  InstanceRequest request;
  request.id = r.id();
  request.bundle = r.bundle();
  for (const auto& m : r.rootfs())
    request.rootfs.push_back(
        RootfsMount{m.type(), m.source(), {m.options().begin(), m.options().end()}});
  request.stdio = task->stdio;
  request.terminal = r.terminal();
  // The runc shim's options (CRI sends them for runc-like runtimes, ctr with --runc-*).
  if (r.has_options() && r.options().type_url().ends_with("containerd.runc.v1.Options")) {
    containerd::runc::v1::Options options;
    if (options.ParseFromString(r.options().value()))
      request.systemdCgroup = options.systemd_cgroup();
  }
  std::weak_ptr<Task> weak = task;
  auto instance = Instance::create(request, env_, [this, weak](const ProcessExit& exit) {
    if (auto t = weak.lock()) onExit(t, exit);
  });
  if (!instance) {
    std::lock_guard lock(mutex_);
    tasks_.erase(r.id());
    log::warn("{}: create failed: {}", r.id(), instance.error().message);
    return tl::unexpected(std::move(instance).error());
  }

  std::lock_guard taskLock(task->mutex);
  task->pid = (*instance)->pid();
  {
    std::lock_guard lock(mutex_);
    task->instance = std::move(*instance);
  }
  events::TaskCreate event;
  event.set_container_id(r.id());
  event.set_bundle(r.bundle());
  *event.mutable_rootfs() = r.rootfs();
  event.mutable_io()->set_stdin(r.stdin());
  event.mutable_io()->set_stdout(r.stdout());
  event.mutable_io()->set_stderr(r.stderr());
  event.mutable_io()->set_terminal(r.terminal());
  event.set_checkpoint(r.checkpoint());
  event.set_pid(static_cast<uint32_t>(task->pid));
  publish(event);
  task->announced = true;
  // The process may have failed its set-up already (its reason is on its stderr).
  if (auto exit = task->state.exit(); exit && task->state.status() == TaskStatus::kStopped)
    exitApplied(*task, *exit);

  taskv2::CreateTaskResponse response;
  response.set_pid(static_cast<uint32_t>(task->pid));
  return response;
}

Expected<taskv2::StartResponse> TaskService::start(const taskv2::StartRequest& r) {
  TRY(auto task, find(r.id(), r.exec_id()));
  TRY_VOID(task->state.beginStart());
  if (auto started = task->instance->start(); !started) {
    task->state.finishStart(false);
    return tl::unexpected(std::move(started).error());
  }
  // Published while the start still holds exits, so /tasks/exit cannot come first.
  events::TaskStart event;
  event.set_container_id(r.id());
  event.set_pid(static_cast<uint32_t>(task->pid));
  publish(event);
  {
    std::lock_guard lock(task->mutex);
    if (auto held = task->state.finishStart(true)) exitApplied(*task, *held);
  }
  taskv2::StartResponse response;
  response.set_pid(static_cast<uint32_t>(task->pid));
  return response;
}

Expected<void> TaskService::kill(const taskv2::KillRequest& r) {
  TRY(auto task, find(r.id(), r.exec_id()));
  TRY(TaskStatus status, task->state.transition(r.all() ? TaskEvent::kKillAll : TaskEvent::kKill));
  if (status == TaskStatus::kStopped) return {};  // kill --all of a finished task
  auto sent = task->instance->kill(static_cast<int>(r.signal()));
  if (!sent && sent.error().code == ErrorCode::kNotFound && r.all()) return {};
  return sent;
}

Expected<taskv2::DeleteResponse> TaskService::remove(const taskv2::DeleteRequest& r) {
  TRY(auto task, find(r.id(), r.exec_id()));
  if (task->state.status() == TaskStatus::kCreated) {
    // Never started: end the waiting process as runc does (SIGKILL) and wait for its exit.
    (void)task->instance->kill(SIGKILL);
    std::unique_lock lock(task->mutex);
    if (!task->exited.wait_for(lock, std::chrono::seconds(10),
                               [&] { return task->state.status() == TaskStatus::kStopped; }))
      return makeError(ErrorCode::kInternal,
                       fmt::format("task {}: pid {} did not exit after SIGKILL", r.id(), task->pid));
  }
  TRY_VOID(task->state.transition(TaskEvent::kDelete));
  if (auto destroyed = task->instance->destroy(); !destroyed)
    log::warn("{}: {}", r.id(), destroyed.error().message);
  {
    std::lock_guard lock(mutex_);
    tasks_.erase(r.id());
  }
  ExitInfo exit = task->state.exit().value_or(ExitInfo{});
  events::TaskDelete event;
  event.set_container_id(r.id());
  event.set_id(r.id());
  event.set_pid(static_cast<uint32_t>(task->pid));
  event.set_exit_status(exit.status);
  setTimestamp(event.mutable_exited_at(), exit.exitedAt);
  publish(event);

  taskv2::DeleteResponse response;
  response.set_pid(static_cast<uint32_t>(task->pid));
  response.set_exit_status(exit.status);
  setTimestamp(response.mutable_exited_at(), exit.exitedAt);
  return response;
}

Expected<taskv2::StateResponse> TaskService::state(const taskv2::StateRequest& r) {
  TRY(auto task, find(r.id(), r.exec_id()));
  taskv2::StateResponse response;
  response.set_id(r.id());
  response.set_exec_id(r.exec_id());
  response.set_bundle(task->bundle.string());
  response.set_pid(static_cast<uint32_t>(task->pid));
  response.set_status(task->state.protoStatus());
  response.set_stdin(task->stdio.stdinPath);
  response.set_stdout(task->stdio.stdoutPath);
  response.set_stderr(task->stdio.stderrPath);
  response.set_terminal(task->terminal);
  if (auto exit = task->state.exit(); exit && task->state.status() == TaskStatus::kStopped) {
    response.set_exit_status(exit->status);
    setTimestamp(response.mutable_exited_at(), exit->exitedAt);
  }
  return response;
}

Expected<taskv2::PidsResponse> TaskService::pids(const taskv2::PidsRequest& r) {
  TRY(auto task, find(r.id(), ""));
  taskv2::PidsResponse response;
  if (task->state.status() != TaskStatus::kStopped)
    response.add_processes()->set_pid(static_cast<uint32_t>(task->pid));
  return response;
}

Expected<taskv2::StatsResponse> TaskService::stats(const taskv2::StatsRequest& r) {
  TRY(auto task, find(r.id(), ""));
  if (task->state.status() == TaskStatus::kStopped)
    return makeError(ErrorCode::kNotFound, fmt::format("task {} has exited", r.id()));
  const sandbox::Cgroup* cgroup = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (task->instance) cgroup = task->instance->cgroup();
  }
  taskv2::StatsResponse response;
  auto pack = [&](const google::protobuf::Message& metrics) {
    response.mutable_stats()->set_type_url(metrics.GetDescriptor()->full_name());
    metrics.SerializeToString(response.mutable_stats()->mutable_value());
    return response;
  };
  if (!cgroup) {  // no linux section in the spec: the process's own usage
    TRY(ProcessUsage usage, readUsage(task->pid));
    sandbox::CgroupStats stats;
    stats.cpuUsageNs = usage.userNs + usage.kernelNs;
    stats.cpuUserNs = usage.userNs;
    stats.cpuKernelNs = usage.kernelNs;
    stats.memoryUsage = stats.memoryRss = usage.rssBytes;
    stats.pidsCurrent = 1;
    return pack(metricsV1(stats));
  }
  TRY(sandbox::CgroupStats stats, cgroup->stats());
  auto mode = sandbox::detectCgroupMode();
  if (mode && *mode == sandbox::CgroupMode::kV2) return pack(metricsV2(stats));
  return pack(metricsV1(stats));
}

Expected<taskv2::ConnectResponse> TaskService::connect(const taskv2::ConnectRequest& r) {
  taskv2::ConnectResponse response;
  response.set_shim_pid(static_cast<uint32_t>(::getpid()));
  if (auto task = find(r.id(), "")) response.set_task_pid(static_cast<uint32_t>((*task)->pid));
  return response;
}

Expected<void> TaskService::closeIO(const taskv2::CloseIORequest& r) {
  // The container holds the FIFOs itself: when containerd closes its end of stdin the
  // process reads EOF; the shim keeps no copy that would hold it open.
  TRY(auto task, find(r.id(), r.exec_id()));
  return {};
}

Expected<void> TaskService::shutdown(const taskv2::ShutdownRequest&) {
  // With tasks left (other containers of the pod) the shim stays; the caller stops the
  // server when none is left.
  return {};
}

void TaskService::wait(const taskv2::WaitRequest& r,
                       std::function<void(Expected<taskv2::WaitResponse>)> reply) {
  auto task = find(r.id(), r.exec_id());
  if (!task) return reply(tl::unexpected(std::move(task).error()));
  std::unique_lock lock((*task)->mutex);
  auto exit = (*task)->state.exit();
  TaskStatus status = (*task)->state.status();
  if (exit && (status == TaskStatus::kStopped || status == TaskStatus::kDeleted) &&
      (*task)->announced) {
    lock.unlock();
    taskv2::WaitResponse response;
    response.set_exit_status(exit->status);
    setTimestamp(response.mutable_exited_at(), exit->exitedAt);
    return reply(response);
  }
  (*task)->waiters.push_back(std::move(reply));
}

void TaskService::killAll(std::chrono::milliseconds timeout) {
  std::vector<std::shared_ptr<Task>> tasks;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, task] : tasks_)
      if (task->instance) tasks.push_back(task);
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& task : tasks) {
    if (task->state.status() != TaskStatus::kStopped) (void)task->instance->kill(SIGKILL);
    std::unique_lock lock(task->mutex);
    task->exited.wait_until(lock, deadline,
                            [&] { return task->state.status() == TaskStatus::kStopped; });
    lock.unlock();
    (void)task->instance->destroy();
  }
}

}  // namespace runwasi::shim
