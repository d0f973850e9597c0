// The containerd Task API (containerd.task.v2.Task) over the shim's instances: one method
// per RPC, the task state machine deciding which are valid when, events for every change.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"
#include "github.com/containerd/containerd/runtime/v2/task/shim.pb.h"
#include "shim/event_publisher.h"
#include "shim/instance.h"
#include "shim/oom_watcher.h"
#include "shim/task_state.h"
#include "ttrpc/server.h"

namespace runwasi::shim {

inline constexpr std::string_view kTaskServiceName = "containerd.task.v2.Task";

class TaskService {
 public:
  // `events` may be null (no TTRPC_ADDRESS: events are logged only). `requestShutdown`
  // is called when Shutdown finds no task left (the daemon stops its server).
  TaskService(InstanceEnvironment& env, EventPublisher* events,
              std::function<void()> requestShutdown);
  ~TaskService();
  TaskService(const TaskService&) = delete;
  TaskService& operator=(const TaskService&) = delete;

  // Registers every Task RPC. Checkpoint answers Unimplemented, saying why.
  void registerWith(ttrpc::Server& server);

  size_t taskCount() const;
  // SIGKILLs every task's process, waits (up to `timeout`) for their exits, and releases
  // their rootfs mounts: what the daemon does before it exits with tasks still there.
  void killAll(std::chrono::milliseconds timeout);

  // The RPCs (public for tests, which call them without a socket). Those taking an
  // exec_id act on that exec process of the task (an empty one, or the task's own id,
  // means the task's own process).
  Expected<containerd::task::v2::CreateTaskResponse> create(
      const containerd::task::v2::CreateTaskRequest& request);
  Expected<containerd::task::v2::StartResponse> start(
      const containerd::task::v2::StartRequest& request);
  Expected<void> kill(const containerd::task::v2::KillRequest& request);
  Expected<containerd::task::v2::DeleteResponse> remove(
      const containerd::task::v2::DeleteRequest& request);
  Expected<containerd::task::v2::StateResponse> state(
      const containerd::task::v2::StateRequest& request);
  // Every process of the container (its cgroup's), an exec's with its exec id in a
  // containerd.runc.v1.ProcessDetails, as runc's shim answers.
  Expected<containerd::task::v2::PidsResponse> pids(
      const containerd::task::v2::PidsRequest& request);
  Expected<containerd::task::v2::StatsResponse> stats(
      const containerd::task::v2::StatsRequest& request);
  Expected<containerd::task::v2::ConnectResponse> connect(
      const containerd::task::v2::ConnectRequest& request);
  Expected<void> closeIO(const containerd::task::v2::CloseIORequest& request);
  Expected<void> shutdown(const containerd::task::v2::ShutdownRequest& request);
  // A process run in the running (or created) container; Start with its exec_id runs it.
  Expected<void> exec(const containerd::task::v2::ExecProcessRequest& request);
  // The cgroup freezer; /tasks/paused, /tasks/resumed.
  Expected<void> pause(const containerd::task::v2::PauseRequest& request);
  Expected<void> resume(const containerd::task::v2::ResumeRequest& request);
  // The runtime-spec LinuxResources JSON in `resources`, written to the cgroup.
  Expected<void> update(const containerd::task::v2::UpdateTaskRequest& request);
  Expected<void> resizePty(const containerd::task::v2::ResizePtyRequest& request);
  // Unimplemented, with the reason.
  Expected<void> checkpoint(const containerd::task::v2::CheckpointTaskRequest& request);
  // Answers when the process has exited (a long poll: does not hold a handler thread).
  void wait(const containerd::task::v2::WaitRequest& request,
            std::function<void(Expected<containerd::task::v2::WaitResponse>)> reply);

 private:
  struct Process;
  struct Task;
  struct Found {
    std::shared_ptr<Task> task;
    std::shared_ptr<Process> process;
  };

  Expected<std::shared_ptr<Task>> findTask(const std::string& id) const;
  Expected<Found> find(const std::string& id, const std::string& execId) const;
  // The reaper's report: records the exit, publishes it (unless a start holds it), answers
  // the waiters.
  void onExit(const std::shared_ptr<Task>& task, const std::shared_ptr<Process>& process,
              const ProcessExit& exit);
  // Publishes /tasks/exit for an applied exit and answers the process's waiters.
  void exitApplied(Task& task, Process& process, const ExitInfo& exit);
  // Publishes /tasks/oom when the cgroup counts OOM kills not reported yet.
  void reportOom(Task& task);
  void publish(const google::protobuf::Message& event);

  InstanceEnvironment& env_;
  EventPublisher* events_;
  std::function<void()> requestShutdown_;
  std::unique_ptr<OomWatcher> oomWatcher_;  // null when it could not start

  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Task>> tasks_;  // guarded by mutex_
};

}  // namespace runwasi::shim
