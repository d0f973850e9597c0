// The stress loop: N tasks through a Driver, at most M at a time, after W warm-up tasks.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "driver.h"

namespace runwasi::stress {

enum class Step { kPrepare, kCreate, kStart, kWait, kDelete, kCleanUp, kNotRun };
std::string_view stepName(Step step);

// The steps a task's latency is made of, in order.
inline constexpr std::array<Step, 4> kTimedSteps = {Step::kCreate, Step::kStart, Step::kWait,
                                                    Step::kDelete};

struct TaskFailure {
  std::string task;
  bool warmup = false;
  Step step = Step::kNotRun;
  std::string message;
};

struct TaskRecord {
  std::string id;
  bool warmup = false;
  // Each timed step that completed (kTimedSteps order).
  std::array<std::optional<Clock::duration>, kTimedSteps.size()> steps;
  std::optional<uint32_t> exitStatus;
  std::vector<TaskFailure> failures;  // none: the task succeeded
  Clock::time_point finished{};       // after its cleanUp; epoch if it never ran

  bool succeeded() const { return failures.empty() && finished != Clock::time_point{}; }
  // Create to the end of Delete, when all four completed.
  std::optional<Clock::duration> total() const;
};

struct LoopConfig {
  size_t count = 1;     // measured tasks
  size_t parallel = 1;  // tasks in flight at most
  size_t warmup = 0;    // tasks before the measured ones (checked, not measured)
  std::chrono::milliseconds timeout{10'000};  // per task, from the start of its create
  std::string idPrefix = "stress";            // task ids: PREFIX-wI (warm-up), PREFIX-I (measured)
  uint32_t expectedExitStatus = 0;            // any other exit status is a failure of the task
  // When set and true, no further task starts (the ones running finish); those never
  // started are failures of step "not run".
  const std::atomic<bool>* stop = nullptr;
};

struct LoopResult {
  std::vector<TaskRecord> tasks;  // the warm-up tasks first, then the measured ones
  // From the start of the measured phase to the end of its last task.
  Clock::duration measuredElapsed{};

  std::vector<TaskFailure> failures() const;  // every task's, in task order
};

// Runs the warm-up phase, then the measured phase, each on min(parallel, its size)
// threads. Every task is prepared, taken through kTimedSteps (the first failing step ends
// it, except that a wrong exit status still goes on to Delete) and cleaned up. Exceptions
// from the driver are the task's failure.
LoopResult runLoop(Driver& driver, const LoopConfig& config);

// A task's output, for a failure message: control characters escaped, at most the last
// `limit` bytes.
std::string quoteOutput(std::string_view output, size_t limit = 400);

}  // namespace runwasi::stress
