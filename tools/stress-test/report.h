// What a stress run reports: the JSON document (--json) and the human summary (stdout).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "driver.h"
#include "stats.h"
#include "stress_loop.h"

namespace runwasi::stress {

struct Report {
  nlohmann::json settings;  // what was asked: mode, runtime, image, count, parallel, ...
  nlohmann::json driver;    // Driver::describe()
  size_t measured = 0;      // measured tasks asked for
  size_t succeeded = 0;     // of those, the ones that succeeded
  size_t warmup = 0;        // warm-up tasks asked for
  size_t warmupSucceeded = 0;
  double elapsedSeconds = 0;  // the measured phase
  double tasksPerSecond = 0;  // succeeded measured tasks over elapsedSeconds
  // Of the succeeded measured tasks, in ms: "total" (create to end of delete) and each step.
  std::vector<std::pair<std::string, Distribution>> latencyMs;
  std::vector<TaskFailure> failures;  // every task's, warm-up ones included
  std::vector<std::string> problems;  // DriverSummary::problems
  nlohmann::json details;             // DriverSummary::details

  // No failure, no problem, every task run.
  bool passed() const;
};

Report makeReport(const LoopResult& loop, DriverSummary summary, nlohmann::json settings,
                  nlohmann::json driver);

nlohmann::json toJson(const Report& report);
// A few lines: the settings, the rate, a latency table, every failure and problem.
std::string toText(const Report& report);

}  // namespace runwasi::stress
