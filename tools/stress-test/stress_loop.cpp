#include "stress_loop.h"

#include <algorithm>
#include <exception>
#include <span>
#include <thread>

#include <fmt/format.h>

namespace runwasi::stress {
namespace {

// A timed step's call; wait's exit status goes to the record.
Expected<void> callStep(TaskRun& task, Step step, Deadline deadline, TaskRecord& record) {
  switch (step) {
    case Step::kCreate:
      return task.create(deadline);
    case Step::kStart:
      return task.start(deadline);
    case Step::kWait: {
      TRY(uint32_t status, task.wait(deadline));
      record.exitStatus = status;
      return {};
    }
    case Step::kDelete:
      return task.remove(deadline);
    default:
      return makeError(ErrorCode::kInternal, "not a timed step");
  }
}

void runSteps(TaskRun& task, const LoopConfig& config, TaskRecord& record) {
  auto fail = [&](Step step, std::string message) {
    record.failures.push_back({record.id, record.warmup, step, std::move(message)});
  };
  Deadline deadline = Clock::now() + config.timeout;
  for (size_t i = 0; i < kTimedSteps.size(); ++i) {
    Step step = kTimedSteps[i];
    auto begin = Clock::now();
    auto done = callStep(task, step, deadline, record);
    if (!done) {
      fail(step, done.error().message);
      return;
    }
    record.steps[i] = Clock::now() - begin;
    // A task that ran and exited wrongly is still deleted the normal way.
    if (step == Step::kWait && record.exitStatus != config.expectedExitStatus) {
      std::string output = task.output();
      fail(step, fmt::format("exited with status {} (expected {}){}", *record.exitStatus,
                             config.expectedExitStatus,
                             output.empty() ? "" : "; output: " + quoteOutput(output)));
    }
  }
}

void runOne(Driver& driver, const LoopConfig& config, TaskRecord& record) {
  auto fail = [&](Step step, std::string message) {
    record.failures.push_back({record.id, record.warmup, step, std::move(message)});
  };
  // The one catch around driver code: whatever it throws fails this task only.
  Step current = Step::kPrepare;
  try {
    auto prepared = driver.prepare(record.id);
    if (!prepared) {
      fail(Step::kPrepare, prepared.error().message);
    } else {
      current = Step::kCreate;
      runSteps(**prepared, config, record);
      current = Step::kCleanUp;
      if (auto cleaned = (*prepared)->cleanUp(); !cleaned)
        fail(Step::kCleanUp, cleaned.error().message);
    }
  } catch (const std::exception& e) {
    fail(current, fmt::format("internal error: {}", e.what()));
  }
  record.finished = Clock::now();
}

void runPhase(Driver& driver, const LoopConfig& config, std::span<TaskRecord> tasks) {
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (;;) {
      if (config.stop && config.stop->load()) return;
      size_t i = next.fetch_add(1);
      if (i >= tasks.size()) return;
      runOne(driver, config, tasks[i]);
    }
  };
  std::vector<std::jthread> threads;
  for (size_t t = 0; t < std::min(config.parallel, tasks.size()); ++t) threads.emplace_back(worker);
}

}  // namespace

std::string_view stepName(Step step) {
  static constexpr std::string_view kNames[] = {"prepare", "create",  "start",  "wait",
                                                "delete",  "cleanup", "not run"};  // by Step
  return kNames[static_cast<size_t>(step)];
}

std::optional<Clock::duration> TaskRecord::total() const {
  Clock::duration sum{};
  for (const auto& step : steps) {
    if (!step) return std::nullopt;
    sum += *step;
  }
  return sum;
}

std::vector<TaskFailure> LoopResult::failures() const {
  std::vector<TaskFailure> out;
  for (const TaskRecord& task : tasks)
    out.insert(out.end(), task.failures.begin(), task.failures.end());
  return out;
}

std::string quoteOutput(std::string_view output, size_t limit) {
  bool cut = output.size() > limit;
  if (cut) output = output.substr(output.size() - limit);
  std::string out = cut ? "\"..." : "\"";
  for (char c : output) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

LoopResult runLoop(Driver& driver, const LoopConfig& config) {
  LoopResult result;
  result.tasks.resize(config.warmup + config.count);
  for (size_t i = 0; i < result.tasks.size(); ++i) {
    TaskRecord& task = result.tasks[i];
    task.warmup = i < config.warmup;
    task.id = task.warmup ? fmt::format("{}-w{}", config.idPrefix, i)
                          : fmt::format("{}-{}", config.idPrefix, i - config.warmup);
  }
  std::span<TaskRecord> all(result.tasks);

  runPhase(driver, config, all.first(config.warmup));
  auto measuredStart = Clock::now();
  std::span<TaskRecord> measured = all.subspan(config.warmup);
  runPhase(driver, config, measured);
  Clock::time_point end = measuredStart;
  for (const TaskRecord& task : measured) end = std::max(end, task.finished);
  result.measuredElapsed = end - measuredStart;

  for (TaskRecord& task : result.tasks)
    if (task.finished == Clock::time_point{})
      task.failures.push_back(
          {task.id, task.warmup, Step::kNotRun, "not run: the run was stopped"});
  return result;
}

}  // namespace runwasi::stress
