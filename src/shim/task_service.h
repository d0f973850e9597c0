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

  // Registers every Task RPC. Unimplemented ones (Exec, Pause, Resume, Update, ResizePty,
  // Checkpoint) answer Unimplemented naming the RPC.
  void registerWith(ttrpc::Server& server);

  size_t taskCount() const;
  // SIGKILLs every task's process, waits (up to `timeout`) for their exits, and releases
  // their rootfs mounts: what the daemon does before it exits with tasks still there.
  void killAll(std::chrono::milliseconds timeout);

  // The RPCs (public for tests, which call them without a socket).
  Expected<containerd::task::v2::CreateTaskResponse> create(
      const containerd::task::v2::CreateTaskRequest& request);
  Expected<containerd::task::v2::StartResponse> start(
      const containerd::task::v2::StartRequest& request);
  Expected<void> kill(const containerd::task::v2::KillRequest& request);
  Expected<containerd::task::v2::DeleteResponse> remove(
      const containerd::task::v2::DeleteRequest& request);
  Expected<containerd::task::v2::StateResponse> state(
      const containerd::task::v2::StateRequest& request);
  Expected<containerd::task::v2::PidsResponse> pids(
      const containerd::task::v2::PidsRequest& request);
  Expected<containerd::task::v2::StatsResponse> stats(
      const containerd::task::v2::StatsRequest& request);
  Expected<containerd::task::v2::ConnectResponse> connect(
      const containerd::task::v2::ConnectRequest& request);
  Expected<void> closeIO(const containerd::task::v2::CloseIORequest& request);
  Expected<void> shutdown(const containerd::task::v2::ShutdownRequest& request);
  // Answers when the task has exited (a long poll: does not hold a handler thread).
  void wait(const containerd::task::v2::WaitRequest& request,
            std::function<void(Expected<containerd::task::v2::WaitResponse>)> reply);

 private:
  struct Task;

  Expected<std::shared_ptr<Task>> find(const std::string& id, const std::string& execId) const;
  // The reaper's report: records the exit, publishes it (unless a start holds it), answers
  // the waiters.
  void onExit(const std::shared_ptr<Task>& task, const ProcessExit& exit);
  // Publishes /tasks/exit for an applied exit and answers the task's waiters.
  void exitApplied(Task& task, const ExitInfo& exit);
  void publish(const google::protobuf::Message& event);

  InstanceEnvironment& env_;
  EventPublisher* events_;
  std::function<void()> requestShutdown_;

  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Task>> tasks_;  // guarded by mutex_
};

}  // namespace runwasi::shim
