// The task state machine: which task RPCs are valid in which state, with the errors
// containerd's runc shim gives (pkg/process/init_state.go, deleted_state.go), and the
// exit bookkeeping that keeps an exit during Start from being lost.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "github.com/containerd/containerd/api/types/task/task.pb.h"

namespace runwasi::shim {

enum class TaskStatus { kCreated, kRunning, kPaused, kStopped, kDeleted };

// What happens to a task: the RPCs (create, start, kill, kill with `all`, delete, pause,
// resume) and the reaper's exit.
enum class TaskEvent { kCreate, kStart, kExit, kKill, kKillAll, kDelete, kPause, kResume };

std::string_view taskStatusName(TaskStatus status);  // "created", "running", ...
std::string_view taskEventName(TaskEvent event);     // "create", "start", "kill-all", ...

// The status a State response carries. A deleted task reports STOPPED, as runc's
// deletedState does.
containerd::v1::types::Status toProtoStatus(TaskStatus status);

// The state `event` leads to from `from`, or why it may not happen to task `id`:
//   create: AlreadyExists in every state (a task object exists once it is created).
//   start: created -> running; otherwise FailedPrecondition ("cannot start task X: it is
//     running"), NotFound once deleted.
//   exit: created/running/paused -> stopped; stopped and deleted stay (a no-op, as
//     runc's SetExited there). Never an error: an exit is a fact, not a request.
//   kill: allowed (state unchanged; the exit follows) while created, running or paused;
//     stopped: NotFound "process already finished" (runc's checkKillError); deleted:
//     NotFound.
//   kill all: as kill, but also allowed (a no-op) when stopped: runc's Signal(all) on a
//     stopped container returns nil or signals what is left in its cgroup.
//   delete: created/stopped -> deleted; running/paused: FailedPrecondition; deleted:
//     NotFound.
//   pause: running -> paused; resume: paused -> running; otherwise FailedPrecondition
//     (NotFound once deleted).
// runc's shim returns plain errors (gRPC Unknown) for the invalid starts, deletes, pauses
// and resumes; here they are FailedPrecondition, as runwasi's shim answers, which
// containerd's clients treat as "not now".
// `noun` names what `id` is in messages: "task", or "exec process" for an exec.
Expected<TaskStatus> nextStatus(TaskStatus from, TaskEvent event, std::string_view id,
                                std::string_view noun = "task");

// How the task's process ended.
struct ExitInfo {
  uint32_t status = 0;  // exit code, or 128+N when killed by signal N
  std::chrono::system_clock::time_point exitedAt;
};

// One task's state and exit, safe to use from the RPC threads and the reaper at once.
//
// Early exits (the runc shim's rule, containerd 1.6 task/service.go Start + checkProcesses,
// and 1.7's preStart/handleStarted): the process may exit before Start has returned, and
// its exit must neither be lost nor published before /tasks/start. So Start runs as
// beginStart() ... finishStart(): an exit reported in between is recorded but held; the
// state only becomes running in finishStart(), which then applies the held exit (running ->
// stopped) and hands it back for the caller to publish after /tasks/start. An exit outside
// a start is applied at once. The first exit recorded wins; later ones are ignored.
class TaskState {
 public:
  // A task (or, with noun "exec process", an exec) that has just been made: status created.
  explicit TaskState(std::string id, std::string noun = "task");

  const std::string& id() const { return id_; }
  TaskStatus status() const;
  containerd::v1::types::Status protoStatus() const { return toProtoStatus(status()); }
  // The exit, once recorded (held exits included).
  std::optional<ExitInfo> exit() const;

  // Applies an RPC's event (create, kill, delete, pause, resume) when nextStatus allows
  // it; on error the state is unchanged. kStart is beginStart + finishStart(true) in one
  // step; kExit is setExited with status 0 now (prefer setExited).
  Expected<TaskStatus> transition(TaskEvent event);

  // Checks that the task may start and marks a start in progress.
  Expected<void> beginStart();
  // Ends the start begun by beginStart: running when `started`, else still created (the
  // process never ran). Returns the exit that arrived during the start, if any, now
  // applied: publish its /tasks/exit after /tasks/start.
  std::optional<ExitInfo> finishStart(bool started);

  // Records the process's exit. True when it was applied now (publish /tasks/exit now);
  // false when a start in progress holds it (finishStart returns it) or an exit was
  // already recorded.
  bool setExited(ExitInfo exit);

 private:
  Expected<TaskStatus> transitionLocked(TaskEvent event);

  const std::string id_;
  const std::string noun_;
  mutable std::mutex mutex_;
  TaskStatus status_ = TaskStatus::kCreated;  // guarded by mutex_
  std::optional<ExitInfo> exit_;              // guarded by mutex_
  bool starting_ = false;                     // guarded by mutex_; between begin/finishStart
  bool exitHeld_ = false;                     // guarded by mutex_; exit_ awaits finishStart
};

}  // namespace runwasi::shim
