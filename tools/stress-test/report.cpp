#include "report.h"

#include <fmt/format.h>

namespace runwasi::stress {
namespace {

nlohmann::json distributionJson(const Distribution& d) {
  return {{"n", d.n},     {"min", d.min}, {"p50", d.p50},  {"p90", d.p90},
          {"p99", d.p99}, {"max", d.max}, {"mean", d.mean}};
}

}  // namespace

bool Report::passed() const {
  return failures.empty() && problems.empty() && succeeded == measured && warmupSucceeded == warmup;
}

Report makeReport(const LoopResult& loop, DriverSummary summary, nlohmann::json settings,
                  nlohmann::json driver) {
  Report r;
  // Objects always: toText reads fields of both.
  r.settings = settings.is_object() ? std::move(settings) : nlohmann::json::object();
  r.driver = driver.is_object() ? std::move(driver) : nlohmann::json::object();
  r.problems = std::move(summary.problems);
  r.details = std::move(summary.details);
  r.failures = loop.failures();

  std::vector<double> total;
  std::vector<std::vector<double>> steps(kTimedSteps.size());
  for (const TaskRecord& task : loop.tasks) {
    (task.warmup ? r.warmup : r.measured)++;
    if (!task.succeeded()) continue;
    (task.warmup ? r.warmupSucceeded : r.succeeded)++;
    if (task.warmup) continue;
    total.push_back(toMs(*task.total()));
    for (size_t i = 0; i < kTimedSteps.size(); ++i) steps[i].push_back(toMs(*task.steps[i]));
  }
  r.latencyMs.emplace_back("total", summarize(std::move(total)));
  for (size_t i = 0; i < kTimedSteps.size(); ++i)
    r.latencyMs.emplace_back(std::string(stepName(kTimedSteps[i])), summarize(std::move(steps[i])));
  r.elapsedSeconds = std::chrono::duration<double>(loop.measuredElapsed).count();
  r.tasksPerSecond = tasksPerSecond(r.succeeded, loop.measuredElapsed);
  return r;
}

nlohmann::json toJson(const Report& r) {
  nlohmann::json latency = nlohmann::json::object();
  for (const auto& [name, d] : r.latencyMs) latency[name] = distributionJson(d);
  nlohmann::json failures = nlohmann::json::array();
  for (const TaskFailure& f : r.failures)
    failures.push_back({{"task", f.task},
                        {"warmup", f.warmup},
                        {"step", stepName(f.step)},
                        {"message", f.message}});
  return {
      {"settings", r.settings},
      {"driver", r.driver},
      {"passed", r.passed()},
      {"tasks",
       {{"measured", r.measured},
        {"succeeded", r.succeeded},
        {"failed", r.measured - r.succeeded},
        {"warmup", r.warmup},
        {"warmup_succeeded", r.warmupSucceeded}}},
      {"elapsed_s", r.elapsedSeconds},
      {"tasks_per_second", r.tasksPerSecond},
      {"latency_ms", latency},
      {"failures", failures},
      {"problems", r.problems},
      {"details", r.details},
  };
}

std::string toText(const Report& r) {
  std::string out;
  auto line = [&out](std::string text) { out += text + "\n"; };
  line(fmt::format("stress-test {} {}: {}", r.settings.value("mode", ""),
                   r.settings.value("runtime", ""), r.driver.dump()));
  line(fmt::format("  {} tasks (+{} warm-up), parallel {}, image {}", r.measured, r.warmup,
                   r.settings.value("parallel", 0), r.settings.value("image", "")));
  line(fmt::format("  succeeded {}/{} (warm-up {}/{}); {:.1f} tasks/s ({} in {:.3f} s)",
                   r.succeeded, r.measured, r.warmupSucceeded, r.warmup, r.tasksPerSecond,
                   r.succeeded, r.elapsedSeconds));
  line(fmt::format("  {:<10}{:>9}{:>9}{:>9}{:>9}{:>9}", "ms", "p50", "p90", "p99", "min", "max"));
  for (const auto& [name, d] : r.latencyMs)
    line(fmt::format("  {:<10}{:>9.2f}{:>9.2f}{:>9.2f}{:>9.2f}{:>9.2f}", name, d.p50, d.p90, d.p99,
                     d.min, d.max));
  if (!r.details.empty()) line(fmt::format("  details: {}", r.details.dump()));
  if (!r.failures.empty()) line(fmt::format("FAILURES ({}):", r.failures.size()));
  for (const TaskFailure& f : r.failures)
    line(fmt::format("  {}{} [{}]: {}", f.task, f.warmup ? " (warm-up)" : "", stepName(f.step),
                     f.message));
  if (!r.problems.empty()) line(fmt::format("PROBLEMS ({}):", r.problems.size()));
  for (const std::string& p : r.problems) line("  " + p);
  line(r.passed() ? "PASSED" : "FAILED");
  return out;
}

}  // namespace runwasi::stress
