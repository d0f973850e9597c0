// stress-test's arithmetic (percentiles, rate) and its loop, on a scripted driver: what is
// counted, measured and reported, and that no failure is lost.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "report.h"
#include "stats.h"
#include "stress_loop.h"

namespace runwasi::stress {
namespace {

using namespace std::chrono_literals;

TEST(StressStats, NearestRankPercentiles) {
  std::vector<double> tenths = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(percentile(tenths, 0), 1);
  EXPECT_EQ(percentile(tenths, 50), 5);
  EXPECT_EQ(percentile(tenths, 90), 9);
  EXPECT_EQ(percentile(tenths, 91), 10);
  EXPECT_EQ(percentile(tenths, 99), 10);
  EXPECT_EQ(percentile(tenths, 100), 10);
  std::vector<double> hundred(100);
  for (size_t i = 0; i < hundred.size(); ++i) hundred[i] = static_cast<double>(i + 1);
  EXPECT_EQ(percentile(hundred, 99), 99);
  EXPECT_EQ(percentile(hundred, 50), 50);
  EXPECT_EQ(percentile(std::vector<double>{7}, 99), 7);
  EXPECT_EQ(percentile(std::vector<double>{}, 50), 0);
}

TEST(StressStats, SummarizeSortsFirst) {
  Distribution d = summarize({9, 1, 5, 3, 7});
  EXPECT_EQ(d.n, 5u);
  EXPECT_EQ(d.min, 1);
  EXPECT_EQ(d.max, 9);
  EXPECT_EQ(d.p50, 5);
  EXPECT_EQ(d.p90, 9);
  EXPECT_DOUBLE_EQ(d.mean, 5);
  Distribution none = summarize({});
  EXPECT_EQ(none.n, 0u);
  EXPECT_EQ(none.p99, 0);
}

TEST(StressStats, Rate) {
  EXPECT_DOUBLE_EQ(tasksPerSecond(100, 500ms), 200);
  EXPECT_DOUBLE_EQ(tasksPerSecond(1000, 4s), 250);
  EXPECT_EQ(tasksPerSecond(5, 0ms), 0);
}

TEST(StressLoop, QuoteOutput) {
  EXPECT_EQ(quoteOutput("a\n\"b\"\t"), "\"a\\n\\\"b\\\"\\x09\"");
  EXPECT_EQ(quoteOutput("0123456789", 4), "\"...6789\"");
}

// What the scripted driver does for a task, by the task's id.
struct Script {
  std::map<std::string, Step> failAt{};  // this step returns an error
  std::map<std::string, uint32_t> exitStatus{};
  std::set<std::string> throwAtStart{};
  std::set<std::string> cleanUpFails{};
  Clock::duration stepTime = 0ms;
};

class ScriptedDriver final : public Driver {
 public:
  explicit ScriptedDriver(Script script) : script_(std::move(script)) {}

  nlohmann::json describe() const override { return {{"driver", "scripted"}}; }
  Expected<void> setUp() override { return {}; }
  DriverSummary tearDown() override { return {}; }

  Expected<std::unique_ptr<TaskRun>> prepare(const std::string& id) override {
    if (script_.failAt.contains(id) && script_.failAt.at(id) == Step::kPrepare)
      return makeError(ErrorCode::kInternal, "no bundle for " + id);
    return std::make_unique<Task>(*this, id);
  }

  // Every call made, "ID:STEP", in no particular order across tasks.
  std::vector<std::string> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  int maxInFlight() const { return maxInFlight_; }

 private:
  class Task final : public TaskRun {
   public:
    Task(ScriptedDriver& d, std::string id) : d_(d), id_(std::move(id)) {}
    Expected<void> create(Deadline) override {
      int now = ++d_.inFlight_;
      int seen = d_.maxInFlight_;
      while (now > seen && !d_.maxInFlight_.compare_exchange_weak(seen, now)) {
      }
      return step(Step::kCreate);
    }
    Expected<void> start(Deadline) override {
      if (d_.script_.throwAtStart.contains(id_)) throw std::runtime_error("boom");
      return step(Step::kStart);
    }
    Expected<uint32_t> wait(Deadline) override {
      TRY_VOID(step(Step::kWait));
      auto it = d_.script_.exitStatus.find(id_);
      return it == d_.script_.exitStatus.end() ? 0 : it->second;
    }
    Expected<void> remove(Deadline) override { return step(Step::kDelete); }
    Expected<void> cleanUp() override {
      --d_.inFlight_;
      d_.note(id_ + ":cleanup");
      if (d_.script_.cleanUpFails.contains(id_))
        return makeError(ErrorCode::kInternal, "a mount was left");
      return {};
    }
    std::string output() const override { return "out of " + id_ + "\n"; }

   private:
    Expected<void> step(Step s) {
      d_.note(id_ + ":" + std::string(stepName(s)));
      std::this_thread::sleep_for(d_.script_.stepTime);
      auto it = d_.script_.failAt.find(id_);
      if (it != d_.script_.failAt.end() && it->second == s)
        return makeError(ErrorCode::kInternal, std::string(stepName(s)) + " refused");
      return {};
    }
    ScriptedDriver& d_;
    std::string id_;
  };

  void note(std::string call) {
    std::lock_guard lock(mutex_);
    calls_.push_back(std::move(call));
  }

  Script script_;
  std::mutex mutex_;
  std::vector<std::string> calls_;  // guarded by mutex_
  std::atomic<int> inFlight_{0};
  std::atomic<int> maxInFlight_{0};
};

bool called(const std::vector<std::string>& calls, const std::string& call) {
  return std::find(calls.begin(), calls.end(), call) != calls.end();
}

TEST(StressLoop, AllSucceed) {
  ScriptedDriver driver(Script{.stepTime = 1ms});
  LoopResult r = runLoop(driver, {.count = 12, .parallel = 3, .warmup = 2, .idPrefix = "t"});
  ASSERT_EQ(r.tasks.size(), 14u);
  EXPECT_TRUE(r.tasks[0].warmup);
  EXPECT_EQ(r.tasks[0].id, "t-w0");
  EXPECT_EQ(r.tasks[2].id, "t-0");
  EXPECT_FALSE(r.tasks[2].warmup);
  EXPECT_TRUE(r.failures().empty());
  for (const TaskRecord& t : r.tasks) {
    EXPECT_TRUE(t.succeeded()) << t.id;
    ASSERT_TRUE(t.total()) << t.id;
    EXPECT_GE(*t.total(), 4ms) << t.id;  // four steps of at least 1 ms
  }
  EXPECT_LE(driver.maxInFlight(), 3);
  EXPECT_GE(driver.maxInFlight(), 2);  // it did run tasks side by side
  // 12 tasks of >= 4 ms, 3 at a time: at least 16 ms.
  EXPECT_GE(r.measuredElapsed, 16ms);

  Report report = makeReport(r, {}, {{"mode", "scripted"}}, driver.describe());
  EXPECT_TRUE(report.passed());
  EXPECT_EQ(report.measured, 12u);
  EXPECT_EQ(report.succeeded, 12u);
  EXPECT_EQ(report.warmup, 2u);
  EXPECT_GT(report.tasksPerSecond, 0);
  // The rate counts the measured phase only: 12 tasks over its duration.
  EXPECT_NEAR(report.tasksPerSecond, 12 / std::chrono::duration<double>(r.measuredElapsed).count(),
              1e-6);
  ASSERT_EQ(report.latencyMs.size(), 5u);
  EXPECT_EQ(report.latencyMs[0].first, "total");
  EXPECT_EQ(report.latencyMs[0].second.n, 12u);  // warm-up tasks are not measured
  EXPECT_GE(report.latencyMs[0].second.p50, 4.0);
  EXPECT_EQ(report.latencyMs[3].first, "wait");
}

TEST(StressLoop, EveryFailureIsReportedAndLaterStepsAreSkipped) {
  Script script;
  script.failAt = {{"t-0", Step::kCreate}, {"t-1", Step::kWait}, {"t-w0", Step::kPrepare}};
  script.exitStatus = {{"t-2", 42}};
  script.throwAtStart = {"t-3"};
  script.cleanUpFails = {"t-4"};
  ScriptedDriver driver(script);
  LoopResult r = runLoop(driver, {.count = 6, .parallel = 2, .warmup = 1, .idPrefix = "t"});
  std::vector<TaskFailure> failures = r.failures();
  ASSERT_EQ(failures.size(), 6u);
  // In task order: the warm-up first.
  EXPECT_EQ(failures[0].task, "t-w0");
  EXPECT_TRUE(failures[0].warmup);
  EXPECT_EQ(failures[0].step, Step::kPrepare);
  EXPECT_EQ(failures[0].message, "no bundle for t-w0");
  EXPECT_EQ(failures[1].task, "t-0");
  EXPECT_EQ(failures[1].step, Step::kCreate);
  EXPECT_EQ(failures[1].message, "create refused");
  EXPECT_EQ(failures[2].task, "t-1");
  EXPECT_EQ(failures[2].step, Step::kWait);
  EXPECT_EQ(failures[3].task, "t-2");
  EXPECT_EQ(failures[3].step, Step::kWait);
  EXPECT_EQ(failures[3].message, "exited with status 42 (expected 0); output: \"out of t-2\\n\"");
  EXPECT_EQ(failures[4].task, "t-3");
  EXPECT_EQ(failures[4].step, Step::kCreate);  // thrown while its steps ran
  EXPECT_EQ(failures[4].message, "internal error: boom");
  EXPECT_EQ(failures[5].task, "t-4");
  EXPECT_EQ(failures[5].step, Step::kCleanUp);
  EXPECT_EQ(failures[5].message, "a mount was left");

  auto calls = driver.calls();
  EXPECT_FALSE(called(calls, "t-0:start"));
  EXPECT_FALSE(called(calls, "t-1:delete"));
  EXPECT_TRUE(called(calls, "t-2:delete"));     // a wrong exit status still gets deleted
  EXPECT_FALSE(called(calls, "t-w0:cleanup"));  // never prepared: nothing to clean
  for (const char* id : {"t-0", "t-1", "t-2", "t-4", "t-5"})
    EXPECT_TRUE(called(calls, std::string(id) + ":cleanup")) << id;
  EXPECT_TRUE(r.tasks[6].succeeded());  // t-5

  Report report = makeReport(r, {}, {}, {});
  EXPECT_FALSE(report.passed());
  EXPECT_EQ(report.succeeded, 1u);
  EXPECT_EQ(report.latencyMs[0].second.n, 1u);  // only succeeded tasks are in the latencies
  nlohmann::json json = toJson(report);
  EXPECT_EQ(json["tasks"]["failed"], 5);
  EXPECT_EQ(json["failures"].size(), 6u);
  EXPECT_EQ(json["failures"][3]["step"], "wait");
  EXPECT_EQ(json["passed"], false);
  std::string text = toText(report);
  EXPECT_NE(text.find("t-3 [create]: internal error: boom"), std::string::npos) << text;
  EXPECT_NE(text.find("FAILED"), std::string::npos);
}

TEST(StressLoop, AProblemFailsTheRun) {
  ScriptedDriver driver(Script{});
  LoopResult r = runLoop(driver, {.count = 2, .parallel = 1, .warmup = 0});
  DriverSummary summary;
  summary.problems.push_back("shim socket left: /run/containerd/s/x");
  Report report = makeReport(r, summary, {}, {});
  EXPECT_EQ(report.succeeded, 2u);
  EXPECT_FALSE(report.passed());
  EXPECT_EQ(toJson(report)["problems"][0], "shim socket left: /run/containerd/s/x");
}

TEST(StressLoop, StopLeavesTheRestNotRun) {
  std::atomic<bool> stop{true};
  ScriptedDriver driver(Script{});
  LoopResult r = runLoop(driver, {.count = 3, .parallel = 2, .warmup = 1, .stop = &stop});
  EXPECT_TRUE(driver.calls().empty());
  auto failures = r.failures();
  ASSERT_EQ(failures.size(), 4u);
  for (const TaskFailure& f : failures) EXPECT_EQ(f.step, Step::kNotRun);
  EXPECT_FALSE(makeReport(r, {}, {}, {}).passed());
}

}  // namespace
}  // namespace runwasi::stress
