#include "shim/task_state.h"

#include <fmt/core.h>

#include <utility>

namespace runwasi::shim {

namespace types = containerd::v1::types;

std::string_view taskStatusName(TaskStatus status) {
  switch (status) {
    case TaskStatus::kCreated:
      return "created";
    case TaskStatus::kRunning:
      return "running";
    case TaskStatus::kPaused:
      return "paused";
    case TaskStatus::kStopped:
      return "stopped";
    case TaskStatus::kDeleted:
      return "deleted";
  }
  return "unknown";
}

std::string_view taskEventName(TaskEvent event) {
  switch (event) {
    case TaskEvent::kCreate:
      return "create";
    case TaskEvent::kStart:
      return "start";
    case TaskEvent::kExit:
      return "exit";
    case TaskEvent::kKill:
      return "kill";
    case TaskEvent::kKillAll:
      return "kill-all";
    case TaskEvent::kDelete:
      return "delete";
    case TaskEvent::kPause:
      return "pause";
    case TaskEvent::kResume:
      return "resume";
  }
  return "unknown";
}

types::Status toProtoStatus(TaskStatus status) {
  switch (status) {
    case TaskStatus::kCreated:
      return types::CREATED;
    case TaskStatus::kRunning:
      return types::RUNNING;
    case TaskStatus::kPaused:
      return types::PAUSED;
    case TaskStatus::kStopped:
      return types::STOPPED;
    case TaskStatus::kDeleted:
      return types::STOPPED;
  }
  return types::UNKNOWN;
}

namespace {

tl::unexpected<Error> refuse(ErrorCode code, TaskEvent event, std::string_view id,
                             std::string_view why, std::string_view noun = "task") {
  std::string_view verb = event == TaskEvent::kKillAll ? "kill" : taskEventName(event);
  return makeError(code, fmt::format("cannot {} {} {}: {}", verb, noun, id, why));
}

tl::unexpected<Error> notNow(TaskEvent event, std::string_view id, TaskStatus status,
                             std::string_view noun) {
  return refuse(ErrorCode::kFailedPrecondition, event, id,
                fmt::format("it is {}", taskStatusName(status)), noun);
}

}  // namespace

Expected<TaskStatus> nextStatus(TaskStatus from, TaskEvent event, std::string_view id,
                                std::string_view noun) {
  using S = TaskStatus;
  // Exits are facts: they always apply (a no-op once stopped or deleted).
  if (event == TaskEvent::kExit) {
    return from == S::kDeleted ? S::kDeleted : S::kStopped;
  }
  if (event == TaskEvent::kCreate) {
    return refuse(ErrorCode::kAlreadyExists, event, id, "it already exists", noun);
  }
  // runc's deletedState wraps kill and delete in ErrNotFound; the shim has forgotten the
  // task by then anyway, so every request is NotFound.
  if (from == S::kDeleted) return refuse(ErrorCode::kNotFound, event, id, "it is deleted", noun);

  switch (event) {
    case TaskEvent::kStart:
      if (from == S::kCreated) return S::kRunning;
      return notNow(event, id, from, noun);
    case TaskEvent::kKill:
      // runc's kill on a stopped container fails "container not running", which
      // checkKillError turns into "process already finished: not found".
      if (from == S::kStopped) {
        return refuse(ErrorCode::kNotFound, event, id, "process already finished", noun);
      }
      return from;
    case TaskEvent::kKillAll:
      return from;
    case TaskEvent::kDelete:
      if (from == S::kCreated || from == S::kStopped) return S::kDeleted;
      return notNow(event, id, from, noun);
    case TaskEvent::kPause:
      if (from == S::kRunning) return S::kPaused;
      return notNow(event, id, from, noun);
    case TaskEvent::kResume:
      if (from == S::kPaused) return S::kRunning;
      return notNow(event, id, from, noun);
    case TaskEvent::kCreate:
    case TaskEvent::kExit:
      break;  // handled above
  }
  return makeError(ErrorCode::kInternal, "unknown task event");
}

TaskState::TaskState(std::string id, std::string noun)
    : id_(std::move(id)), noun_(std::move(noun)) {}

TaskStatus TaskState::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

std::optional<ExitInfo> TaskState::exit() const {
  std::lock_guard lock(mutex_);
  return exit_;
}

Expected<TaskStatus> TaskState::transitionLocked(TaskEvent event) {
  // While Start runs the state still says created; a second start or a delete must not
  // slip in between.
  if (starting_ && (event == TaskEvent::kStart || event == TaskEvent::kDelete)) {
    return refuse(ErrorCode::kFailedPrecondition, event, id_, "it is starting", noun_);
  }
  TRY(TaskStatus next, nextStatus(status_, event, id_, noun_));
  status_ = next;
  return next;
}

Expected<TaskStatus> TaskState::transition(TaskEvent event) {
  if (event == TaskEvent::kStart) {
    TRY_VOID(beginStart());
    finishStart(true);
    return status();
  }
  if (event == TaskEvent::kExit) {
    setExited(ExitInfo{0, std::chrono::system_clock::now()});
    return status();
  }
  std::lock_guard lock(mutex_);
  return transitionLocked(event);
}

Expected<void> TaskState::beginStart() {
  std::lock_guard lock(mutex_);
  if (starting_)
    return refuse(ErrorCode::kFailedPrecondition, TaskEvent::kStart, id_, "it is starting", noun_);
  // Checked, not applied: the task is running only once finishStart says so.
  TRY_VOID(nextStatus(status_, TaskEvent::kStart, id_, noun_));
  starting_ = true;
  return {};
}

std::optional<ExitInfo> TaskState::finishStart(bool started) {
  std::lock_guard lock(mutex_);
  if (!starting_) return std::nullopt;
  starting_ = false;
  if (started) status_ = TaskStatus::kRunning;
  if (!exitHeld_) return std::nullopt;
  exitHeld_ = false;
  status_ = *nextStatus(status_, TaskEvent::kExit, id_);
  return exit_;
}

bool TaskState::setExited(ExitInfo exit) {
  std::lock_guard lock(mutex_);
  if (exit_) return false;  // first exit wins
  exit_ = exit;
  if (starting_) {
    exitHeld_ = true;
    return false;
  }
  status_ = *nextStatus(status_, TaskEvent::kExit, id_);
  return true;
}

}  // namespace runwasi::shim
