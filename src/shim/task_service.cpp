#include "shim/task_service.h"

#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>
#include <google/protobuf/empty.pb.h>

#include "common/log.h"
#include "github.com/containerd/containerd/api/events/task.pb.h"
#include "github.com/containerd/containerd/runtime/v2/runc/options/oci.pb.h"
#include "oci/runtime_spec.h"
#include "shim/proto_time.h"
#include "shim/task_metrics.h"

namespace runwasi::shim {
namespace {

namespace taskv2 = containerd::task::v2;
namespace events = containerd::events;
using google::protobuf::Empty;

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

struct TaskService::Process {
  Process(std::string taskId, std::string execIdIn)
      : execId(std::move(execIdIn)),
        state(execId.empty() ? taskId : execId, execId.empty() ? "task" : "exec process") {}

  const std::string execId;  // empty: the container's own process
  TaskState state;
  StdioPaths stdio;
  bool terminal = false;
  pid_t pid = 0;
  TaskProcess* io = nullptr;           // guarded by TaskService::mutex_; set once it exists
  std::unique_ptr<TaskProcess> owned;  // an exec's (the container's own is its Instance's)

  std::mutex mutex;  // guards what follows, and orders exits with the events around them
  std::condition_variable exited;
  bool announced = false;  // /tasks/create (exec-added) was published: exits may be now
  std::vector<std::function<void(Expected<taskv2::WaitResponse>)>> waiters;
};

struct TaskService::Task {
  explicit Task(const std::string& idIn) : id(idIn), init(std::make_shared<Process>(idIn, "")) {}

  const std::string id;
  const std::shared_ptr<Process> init;
  std::filesystem::path bundle;
  std::unique_ptr<Instance> instance;  // guarded by TaskService::mutex_; set once created
  std::map<std::string, std::shared_ptr<Process>> execs;  // guarded by TaskService::mutex_

  std::mutex oomMutex;
  uint64_t oomReported = 0;  // guarded by oomMutex: OOM kills already published
};

TaskService::TaskService(InstanceEnvironment& env, EventPublisher* events,
                         std::function<void()> requestShutdown)
    : env_(env), events_(events), requestShutdown_(std::move(requestShutdown)) {
  auto watcher = OomWatcher::start();
  if (watcher) {
    oomWatcher_ = std::move(*watcher);
  } else {
    log::warn("OOM events will be sent only at exits: {}", watcher.error().message);
  }
}

TaskService::~TaskService() {
  oomWatcher_.reset();  // its callbacks use the tasks
}

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
  addRpc<taskv2::ExecProcessRequest>(server, "Exec", [this](const auto& r) { return exec(r); });
  addRpc<taskv2::PauseRequest>(server, "Pause", [this](const auto& r) { return pause(r); });
  addRpc<taskv2::ResumeRequest>(server, "Resume", [this](const auto& r) { return resume(r); });
  addRpc<taskv2::UpdateTaskRequest>(server, "Update", [this](const auto& r) { return update(r); });
  addRpc<taskv2::ResizePtyRequest>(server, "ResizePty",
                                   [this](const auto& r) { return resizePty(r); });
  addRpc<taskv2::CheckpointTaskRequest>(server, "Checkpoint",
                                        [this](const auto& r) { return checkpoint(r); });

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
}

size_t TaskService::taskCount() const {
  std::lock_guard lock(mutex_);
  return tasks_.size();
}

Expected<std::shared_ptr<TaskService::Task>> TaskService::findTask(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = tasks_.find(id);
  if (it == tasks_.end() || !it->second->instance)
    return makeError(ErrorCode::kNotFound, fmt::format("task {} not found", id));
  return it->second;
}

Expected<TaskService::Found> TaskService::find(const std::string& id,
                                               const std::string& execId) const {
  std::lock_guard lock(mutex_);
  auto it = tasks_.find(id);
  if (it == tasks_.end() || !it->second->instance)
    return makeError(ErrorCode::kNotFound, fmt::format("task {} not found", id));
  const std::shared_ptr<Task>& task = it->second;
  if (execId.empty() || execId == id) return Found{task, task->init};
  auto exec = task->execs.find(execId);
  if (exec == task->execs.end() || !exec->second->io)
    return makeError(ErrorCode::kNotFound,
                     fmt::format("task {} has no exec process {}", id, execId));
  return Found{task, exec->second};
}

void TaskService::publish(const google::protobuf::Message& event) {
  if (!events_) {
    log::debug("event {} (no TTRPC_ADDRESS to publish it to): {}", event.GetTypeName(),
               event.ShortDebugString());
    return;
  }
  if (auto published = events_->publish(event); !published)
    log::warn("cannot publish {}: {}", event.GetTypeName(), published.error().message);
}

void TaskService::exitApplied(Task& task, Process& process, const ExitInfo& exit) {
  events::TaskExit event;
  event.set_container_id(task.id);
  event.set_id(process.execId.empty() ? task.id : process.execId);
  event.set_pid(static_cast<uint32_t>(process.pid));
  event.set_exit_status(exit.status);
  setTimestamp(event.mutable_exited_at(), exit.exitedAt);
  publish(event);
  log::info("{}{}{}: pid {} exited with status {}", task.id, process.execId.empty() ? "" : "/",
            process.execId, process.pid, exit.status);

  taskv2::WaitResponse response;
  response.set_exit_status(exit.status);
  setTimestamp(response.mutable_exited_at(), exit.exitedAt);
  for (auto& reply : std::exchange(process.waiters, {})) reply(response);
  process.exited.notify_all();
}

void TaskService::reportOom(Task& task) {
  const Instance* instance;
  {
    std::lock_guard lock(mutex_);
    instance = task.instance.get();
  }
  if (!instance) return;
  uint64_t kills = instance->oomKillCount();
  std::lock_guard lock(task.oomMutex);
  if (kills <= task.oomReported) return;
  task.oomReported = kills;
  log::warn("{}: the container was OOM-killed (memory limit reached; {} kill{} so far)", task.id,
            kills, kills == 1 ? "" : "s");
  events::TaskOOM event;
  event.set_container_id(task.id);
  publish(event);  // under oomMutex: an exit reported after this waits for it
}

void TaskService::onExit(const std::shared_ptr<Task>& task, const std::shared_ptr<Process>& process,
                         const ProcessExit& exit) {
  // Before the exit is announced: a client that sees it closes its FIFOs at once.
  // (No process yet: it died while being made, before anyone read its output.)
  const TaskProcess* io;
  {
    std::lock_guard lock(mutex_);
    io = process->io;
  }
  if (io) io->waitForOutputDrained(std::chrono::milliseconds(100), std::chrono::seconds(2));
  // An OOM kill comes before the exit it caused.
  reportOom(*task);
  std::lock_guard lock(process->mutex);
  ExitInfo info{static_cast<uint32_t>(exit.status), exit.exitedAt};
  // Not applied: a start in progress holds it (Start publishes it after its event).
  if (process->state.setExited(info) && process->announced) exitApplied(*task, *process, info);
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
  Process& init = *task->init;
  task->bundle = r.bundle();
  init.stdio = StdioPaths{r.stdin(), r.stdout(), r.stderr()};
  init.terminal = r.terminal();

  InstanceRequest request;
  request.id = r.id();
  request.bundle = r.bundle();
  for (const auto& m : r.rootfs())
    request.rootfs.push_back(
        RootfsMount{m.type(), m.source(), {m.options().begin(), m.options().end()}});
  request.stdio = init.stdio;
  request.terminal = r.terminal();
  // The runc shim's options (CRI sends them for runc-like runtimes, ctr with --runc-*).
  if (r.has_options() && r.options().type_url().ends_with("containerd.runc.v1.Options")) {
    containerd::runc::v1::Options options;
    if (options.ParseFromString(r.options().value()))
      request.systemdCgroup = options.systemd_cgroup();
  }
  std::weak_ptr<Task> weak = task;
  auto instance = Instance::create(request, env_, [this, weak](const ProcessExit& exit) {
    if (auto t = weak.lock()) onExit(t, t->init, exit);
  });
  if (!instance) {
    std::lock_guard lock(mutex_);
    tasks_.erase(r.id());
    log::warn("{}: create failed: {}", r.id(), instance.error().message);
    return tl::unexpected(std::move(instance).error());
  }

  std::lock_guard taskLock(init.mutex);
  init.pid = (*instance)->pid();
  init.terminal = (*instance)->process().terminal();
  {
    std::lock_guard lock(mutex_);
    task->instance = std::move(*instance);
    init.io = &task->instance->process();
  }
  if (const sandbox::Cgroup* cgroup = task->instance->cgroup(); cgroup && oomWatcher_) {
    auto notifier = cgroup->oomNotifier();
    auto watched = notifier ? oomWatcher_->watch(r.id(), std::move(*notifier),
                                                 [this, weak] {
                                                   if (auto t = weak.lock()) reportOom(*t);
                                                 })
                            : Expected<void>(tl::unexpected(notifier.error()));
    if (!watched)
      log::warn("{}: OOM kills will be reported only at its exit: {}", r.id(),
                watched.error().message);
  }
  events::TaskCreate event;
  event.set_container_id(r.id());
  event.set_bundle(r.bundle());
  *event.mutable_rootfs() = r.rootfs();
  event.mutable_io()->set_stdin(r.stdin());
  event.mutable_io()->set_stdout(r.stdout());
  event.mutable_io()->set_stderr(r.stderr());
  event.mutable_io()->set_terminal(init.terminal);
  event.set_checkpoint(r.checkpoint());
  event.set_pid(static_cast<uint32_t>(init.pid));
  publish(event);
  init.announced = true;
  // The process may have failed its set-up already (its reason is on its stderr).
  if (auto exit = init.state.exit(); exit && init.state.status() == TaskStatus::kStopped)
    exitApplied(*task, init, *exit);

  taskv2::CreateTaskResponse response;
  response.set_pid(static_cast<uint32_t>(init.pid));
  return response;
}

Expected<void> TaskService::exec(const taskv2::ExecProcessRequest& r) {
  if (r.exec_id().empty())
    return makeError(ErrorCode::kInvalidArgument, "Exec: the exec id is empty");
  if (r.spec().value().empty())
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("Exec {}: the process spec is missing", r.exec_id()));
  TRY(auto task, findTask(r.id()));
  // As runc's shim: a created or running container takes execs; a paused or stopped one not.
  if (TaskStatus status = task->init->state.status();
      status != TaskStatus::kCreated && status != TaskStatus::kRunning)
    return makeError(ErrorCode::kFailedPrecondition, fmt::format("cannot exec in task {}: it is {}",
                                                                 r.id(), taskStatusName(status)));
  auto process = std::make_shared<Process>(r.id(), r.exec_id());
  process->stdio = StdioPaths{r.stdin(), r.stdout(), r.stderr()};
  process->terminal = r.terminal();
  {
    std::lock_guard lock(mutex_);
    if (r.exec_id() == r.id())
      return makeError(ErrorCode::kAlreadyExists,
                       fmt::format("exec id {} is the task's own id", r.exec_id()));
    // An entry without a process reserves the exec id while it is being made.
    if (!task->execs.emplace(r.exec_id(), process).second)
      return makeError(
          ErrorCode::kAlreadyExists,
          fmt::format("exec process {} already exists in task {}", r.exec_id(), r.id()));
  }
  ExecRequest request;
  request.execId = r.exec_id();
  request.processJson = r.spec().value();
  request.stdio = process->stdio;
  request.terminal = r.terminal();
  std::weak_ptr<Task> weakTask = task;
  std::weak_ptr<Process> weakProcess = process;
  auto made = task->instance->exec(request, [this, weakTask, weakProcess](const ProcessExit& exit) {
    auto t = weakTask.lock();
    auto p = weakProcess.lock();
    if (t && p) onExit(t, p, exit);
  });
  if (!made) {
    std::lock_guard lock(mutex_);
    task->execs.erase(r.exec_id());
    log::warn("{}: exec {} failed: {}", r.id(), r.exec_id(), made.error().message);
    return tl::unexpected(std::move(made).error());
  }
  std::lock_guard processLock(process->mutex);
  process->pid = (*made)->pid();
  process->terminal = (*made)->terminal();
  {
    std::lock_guard lock(mutex_);
    process->owned = std::move(*made);
    process->io = process->owned.get();
  }
  events::TaskExecAdded event;
  event.set_container_id(r.id());
  event.set_exec_id(r.exec_id());
  publish(event);
  process->announced = true;
  if (auto exit = process->state.exit(); exit && process->state.status() == TaskStatus::kStopped)
    exitApplied(*task, *process, *exit);
  return {};
}

Expected<taskv2::StartResponse> TaskService::start(const taskv2::StartRequest& r) {
  TRY(Found found, find(r.id(), r.exec_id()));
  Process& process = *found.process;
  TRY_VOID(process.state.beginStart());
  if (auto started = process.io->start(); !started) {
    process.state.finishStart(false);
    return tl::unexpected(std::move(started).error());
  }
  // Published while the start still holds exits, so /tasks/exit cannot come first.
  if (process.execId.empty()) {
    events::TaskStart event;
    event.set_container_id(r.id());
    event.set_pid(static_cast<uint32_t>(process.pid));
    publish(event);
  } else {
    events::TaskExecStarted event;
    event.set_container_id(r.id());
    event.set_exec_id(process.execId);
    event.set_pid(static_cast<uint32_t>(process.pid));
    publish(event);
  }
  {
    std::lock_guard lock(process.mutex);
    if (auto held = process.state.finishStart(true)) exitApplied(*found.task, process, *held);
  }
  taskv2::StartResponse response;
  response.set_pid(static_cast<uint32_t>(process.pid));
  return response;
}

Expected<void> TaskService::kill(const taskv2::KillRequest& r) {
  TRY(Found found, find(r.id(), r.exec_id()));
  Process& process = *found.process;
  const bool all = r.all() && process.execId.empty();
  TRY(TaskStatus status, process.state.transition(all ? TaskEvent::kKillAll : TaskEvent::kKill));
  if (status == TaskStatus::kStopped) return {};  // kill --all of a finished task
  const int signal = static_cast<int>(r.signal());
  Expected<void> sent = process.io->kill(signal);
  if (all) {
    // Every process of the container, as runc's kill --all.
    if (auto pids = found.task->instance->pids())
      for (pid_t pid : *pids) ::kill(pid, signal);
    if (!sent && sent.error().code == ErrorCode::kNotFound) sent = {};
  }
  // A frozen process dies only once thawed (runc thaws after a SIGKILL too).
  if (signal == SIGKILL && found.task->init->state.status() == TaskStatus::kPaused) {
    if (auto thawed = found.task->instance->setPaused(false); !thawed)
      log::warn("{}: thawing after SIGKILL: {}", r.id(), thawed.error().message);
  }
  return sent;
}

Expected<taskv2::DeleteResponse> TaskService::remove(const taskv2::DeleteRequest& r) {
  TRY(Found found, find(r.id(), r.exec_id()));
  Task& task = *found.task;
  Process& process = *found.process;
  if (process.state.status() == TaskStatus::kCreated) {
    // Never started: end the waiting process as runc does (SIGKILL) and wait for its exit.
    (void)process.io->kill(SIGKILL);
    std::unique_lock lock(process.mutex);
    if (!process.exited.wait_for(lock, std::chrono::seconds(10),
                                 [&] { return process.state.status() == TaskStatus::kStopped; }))
      return makeError(
          ErrorCode::kInternal,
          fmt::format("task {}: pid {} did not exit after SIGKILL", r.id(), process.pid));
  }
  TRY_VOID(process.state.transition(TaskEvent::kDelete));
  ExitInfo exit = process.state.exit().value_or(ExitInfo{});
  taskv2::DeleteResponse response;
  response.set_pid(static_cast<uint32_t>(process.pid));
  response.set_exit_status(exit.status);
  setTimestamp(response.mutable_exited_at(), exit.exitedAt);

  if (!process.execId.empty()) {
    // runc's shim publishes no event for an exec's delete.
    std::shared_ptr<Process> gone;
    {
      std::lock_guard lock(mutex_);
      auto it = task.execs.find(process.execId);
      if (it != task.execs.end()) gone = std::move(it->second);
      task.execs.erase(process.execId);
    }
    if (gone && gone->owned) gone->owned->release();
    return response;
  }

  if (oomWatcher_) oomWatcher_->unwatch(r.id());  // before the cgroup goes
  std::map<std::string, std::shared_ptr<Process>> execs;
  {
    std::lock_guard lock(mutex_);
    execs = std::move(task.execs);
    task.execs.clear();
  }
  // Exec processes still running (a container without a pid namespace of its own).
  for (auto& [id, exec] : execs)
    if (exec->io && exec->state.status() != TaskStatus::kStopped) (void)exec->io->kill(SIGKILL);
  if (auto destroyed = task.instance->destroy(); !destroyed)
    log::warn("{}: {}", r.id(), destroyed.error().message);
  for (auto& [id, exec] : execs)
    if (exec->owned) exec->owned->release();
  {
    std::lock_guard lock(mutex_);
    tasks_.erase(r.id());
  }
  events::TaskDelete event;
  event.set_container_id(r.id());
  event.set_id(r.id());
  event.set_pid(static_cast<uint32_t>(process.pid));
  event.set_exit_status(exit.status);
  setTimestamp(event.mutable_exited_at(), exit.exitedAt);
  publish(event);
  return response;
}

Expected<taskv2::StateResponse> TaskService::state(const taskv2::StateRequest& r) {
  TRY(Found found, find(r.id(), r.exec_id()));
  const Process& process = *found.process;
  taskv2::StateResponse response;
  response.set_id(r.id());
  response.set_exec_id(r.exec_id());
  response.set_bundle(found.task->bundle.string());
  response.set_pid(static_cast<uint32_t>(process.pid));
  response.set_status(process.state.protoStatus());
  response.set_stdin(process.stdio.stdinPath);
  response.set_stdout(process.stdio.stdoutPath);
  response.set_stderr(process.stdio.stderrPath);
  response.set_terminal(process.terminal);
  if (auto exit = process.state.exit(); exit && process.state.status() == TaskStatus::kStopped) {
    response.set_exit_status(exit->status);
    setTimestamp(response.mutable_exited_at(), exit->exitedAt);
  }
  return response;
}

Expected<taskv2::PidsResponse> TaskService::pids(const taskv2::PidsRequest& r) {
  TRY(auto task, findTask(r.id()));
  taskv2::PidsResponse response;
  if (task->init->state.status() == TaskStatus::kStopped) return response;
  TRY(std::vector<pid_t> pids, task->instance->pids());
  std::map<pid_t, std::string> execIds;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, exec] : task->execs)
      if (exec->io && exec->state.status() != TaskStatus::kStopped) execIds[exec->pid] = id;
  }
  for (pid_t pid : pids) {
    auto* info = response.add_processes();
    info->set_pid(static_cast<uint32_t>(pid));
    if (auto it = execIds.find(pid); it != execIds.end()) {
      containerd::runc::v1::ProcessDetails details;
      details.set_exec_id(it->second);
      info->mutable_info()->set_type_url(details.GetDescriptor()->full_name());
      details.SerializeToString(info->mutable_info()->mutable_value());
    }
  }
  return response;
}
Expected<taskv2::StatsResponse> TaskService::stats(const taskv2::StatsRequest& r) {
  TRY(auto task, findTask(r.id()));
  if (task->init->state.status() == TaskStatus::kStopped)
    return makeError(ErrorCode::kNotFound, fmt::format("task {} has exited", r.id()));
  const sandbox::Cgroup* cgroup = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (task->instance) cgroup = task->instance->cgroup();
  }
  taskv2::StatsResponse response;
  TRY(*response.mutable_stats(), taskMetrics(cgroup, task->init->pid));
  return response;
}

Expected<taskv2::ConnectResponse> TaskService::connect(const taskv2::ConnectRequest& r) {
  taskv2::ConnectResponse response;
  response.set_shim_pid(static_cast<uint32_t>(::getpid()));
  if (auto task = findTask(r.id()))
    response.set_task_pid(static_cast<uint32_t>((*task)->init->pid));
  return response;
}

Expected<void> TaskService::closeIO(const taskv2::CloseIORequest& r) {
  // The client closed its end of stdin; the shim's own writer goes too, so the process
  // reads EOF (runc's shim holds and closes one the same way).
  TRY(Found found, find(r.id(), r.exec_id()));
  if (r.stdin()) found.process->io->closeStdin();
  return {};
}

Expected<void> TaskService::pause(const taskv2::PauseRequest& r) {
  TRY(auto task, findTask(r.id()));
  TRY_VOID(nextStatus(task->init->state.status(), TaskEvent::kPause, r.id()));
  TRY_VOID(task->instance->setPaused(true).map_error(
      [&](Error e) { return std::move(e).context(fmt::format("cannot pause task {}", r.id())); }));
  if (auto paused = task->init->state.transition(TaskEvent::kPause); !paused) {
    (void)task->instance->setPaused(false);  // it exited meanwhile
    return tl::unexpected(std::move(paused).error());
  }
  events::TaskPaused event;
  event.set_container_id(r.id());
  publish(event);
  log::info("{}: paused", r.id());
  return {};
}

Expected<void> TaskService::resume(const taskv2::ResumeRequest& r) {
  TRY(auto task, findTask(r.id()));
  TRY_VOID(nextStatus(task->init->state.status(), TaskEvent::kResume, r.id()));
  TRY_VOID(task->instance->setPaused(false).map_error(
      [&](Error e) { return std::move(e).context(fmt::format("cannot resume task {}", r.id())); }));
  // Fails only when the task exited meanwhile (stopped), which stays so.
  TRY_VOID(task->init->state.transition(TaskEvent::kResume));
  events::TaskResumed event;
  event.set_container_id(r.id());
  publish(event);
  log::info("{}: resumed", r.id());
  return {};
}

Expected<void> TaskService::update(const taskv2::UpdateTaskRequest& r) {
  TRY(auto task, findTask(r.id()));
  if (TaskStatus status = task->init->state.status(); status == TaskStatus::kStopped)
    return makeError(ErrorCode::kFailedPrecondition, fmt::format("cannot update task {}: it is {}",
                                                                 r.id(), taskStatusName(status)));
  TRY(oci::Resources resources,
      oci::parseLinuxResources(r.resources().value()).map_error([&](Error e) {
        return std::move(e).context(fmt::format("cannot update task {}", r.id()));
      }));
  TRY_VOID(task->instance->update(resources).map_error(
      [&](Error e) { return std::move(e).context(fmt::format("cannot update task {}", r.id())); }));
  log::info("{}: resources updated", r.id());
  return {};
}

Expected<void> TaskService::resizePty(const taskv2::ResizePtyRequest& r) {
  TRY(Found found, find(r.id(), r.exec_id()));
  return found.process->io->resize(r.width(), r.height());
}

Expected<void> TaskService::checkpoint(const taskv2::CheckpointTaskRequest& r) {
  TRY(auto task, findTask(r.id()));
  return makeError(ErrorCode::kUnimplemented,
                   fmt::format("checkpoint is not supported by {}: this runtime has no CRIU "
                               "integration, and a Wasm guest's engine state (JIT code, "
                               "linear memory) cannot be dumped and restored by it",
                               env_.shimName));
}

Expected<void> TaskService::shutdown(const taskv2::ShutdownRequest&) {
  // With tasks left (other containers of the pod) the shim stays; the caller stops the
  // server when none is left.
  return {};
}

void TaskService::wait(const taskv2::WaitRequest& r,
                       std::function<void(Expected<taskv2::WaitResponse>)> reply) {
  auto found = find(r.id(), r.exec_id());
  if (!found) return reply(tl::unexpected(std::move(found).error()));
  Process& process = *found->process;
  std::unique_lock lock(process.mutex);
  auto exit = process.state.exit();
  TaskStatus status = process.state.status();
  if (exit && (status == TaskStatus::kStopped || status == TaskStatus::kDeleted) &&
      process.announced) {
    lock.unlock();
    taskv2::WaitResponse response;
    response.set_exit_status(exit->status);
    setTimestamp(response.mutable_exited_at(), exit->exitedAt);
    return reply(response);
  }
  process.waiters.push_back(std::move(reply));
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
    Process& init = *task->init;
    if (init.state.status() != TaskStatus::kStopped) {
      (void)task->instance->kill(SIGKILL);
      if (init.state.status() == TaskStatus::kPaused) (void)task->instance->setPaused(false);
    }
    std::unique_lock lock(init.mutex);
    init.exited.wait_until(lock, deadline,
                           [&] { return init.state.status() == TaskStatus::kStopped; });
    lock.unlock();
    if (oomWatcher_) oomWatcher_->unwatch(task->id);
    std::map<std::string, std::shared_ptr<Process>> execs;
    {
      std::lock_guard mapLock(mutex_);
      execs = task->execs;
    }
    for (auto& [id, exec] : execs)
      if (exec->io && exec->state.status() != TaskStatus::kStopped) (void)exec->io->kill(SIGKILL);
    (void)task->instance->destroy();
    for (auto& [id, exec] : execs) {
      std::unique_lock execLock(exec->mutex);
      exec->exited.wait_until(execLock, deadline,
                              [&] { return exec->state.status() == TaskStatus::kStopped; });
    }
  }
}

}  // namespace runwasi::shim
