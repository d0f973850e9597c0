// What the stress loop drives: a Driver (one per run) hands out TaskRuns (one per task).
// The loop (stress_loop.h) owns the counting, timing and concurrency; a driver only knows
// how to take one task through its life on its runtime: mock_driver.h plays containerd
// itself, a containerd driver goes through containerd's gRPC API.
//
// Threads: setUp and tearDown run alone; prepare and every TaskRun call run on the loop's
// worker threads, up to --parallel at once (each TaskRun on one thread at a time).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace runwasi::stress {

using Clock = std::chrono::steady_clock;
// When a task's time is up: its remaining calls get what is left (the task's --timeout
// runs from the start of create()).
using Deadline = Clock::time_point;

// One task's life. The loop calls create, start, wait and remove in that order, stopping
// at the first error, and times each; then always cleanUp, untimed.
class TaskRun {
 public:
  virtual ~TaskRun() = default;

  virtual Expected<void> create(Deadline deadline) = 0;
  virtual Expected<void> start(Deadline deadline) = 0;
  // Until the task's process has exited: its exit status.
  virtual Expected<uint32_t> wait(Deadline deadline) = 0;
  // Deletes the task (containerd's Delete; the container is gone afterwards).
  virtual Expected<void> remove(Deadline deadline) = 0;
  // Takes away whatever the task still has, however far it got (kills and deletes a task
  // left by a failed step, removes its bundle): afterwards nothing of it may remain. An
  // error is reported as the task's failure (something may have been left).
  virtual Expected<void> cleanUp() = 0;
  // What the task wrote (stdout, then stderr), for the message of a failure; may be empty.
  virtual std::string output() const { return {}; }
};

// What tearDown found.
struct DriverSummary {
  // Everything wrong that is not one task's step failing: leaks, missing or unexpected
  // events, a shim that would not exit. Each makes the run fail.
  std::vector<std::string> problems;
  // Driver-specific facts and counts for the JSON report (e.g. events received).
  nlohmann::json details = nlohmann::json::object();
};

class Driver {
 public:
  virtual ~Driver() = default;

  // What runs the tasks, for the report: e.g. {"shim": PATH, "shims": "one for all tasks"}.
  virtual nlohmann::json describe() const = 0;
  // Once, before any task: start what every task shares (the mock's shim and events
  // service; a client connection). An error ends the run before any task.
  virtual Expected<void> setUp() = 0;
  // A task named `id` (unique in the run), ready to create: untimed set-up such as writing
  // its bundle. An error is that task's failure.
  virtual Expected<std::unique_ptr<TaskRun>> prepare(const std::string& id) = 0;
  // Once, after the last task's cleanUp (also after a failed setUp): stops what setUp
  // started and checks that nothing is left and that the runtime reported what it should.
  virtual DriverSummary tearDown() = 0;
};

}  // namespace runwasi::stress
