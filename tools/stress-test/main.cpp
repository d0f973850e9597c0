// stress-test: N tasks through a containerd runtime, M at a time; reports tasks/s, latency
// percentiles and every failure. See options.cpp for the command line and mock_driver.h
// for what mock mode does.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>

#include "common/log.h"
#include "containerd_driver.h"
#include "mock_driver.h"
#include "options.h"
#include "report.h"
#include "stress_loop.h"

namespace runwasi::stress {
namespace {

constexpr int kExitFailed = 1;  // a task failed, or something was left behind
constexpr int kExitUsage = 2;

std::atomic<bool> stopRequested{false};

void onStopSignal(int) {
  stopRequested.store(true);
}

Expected<std::unique_ptr<Driver>> makeDriver(const Options& o, const std::string& idPrefix) {
  switch (o.mode) {
    case Mode::kMock: {
      TRY(std::filesystem::path shim, findShimBinary(o));
      return makeMockDriver(MockConfig{.shim = shim,
                                       .ns = o.ns,
                                       .module = o.image,
                                       .args = o.args,
                                       .shimPerTask = o.shimPerTask,
                                       .shimLog = o.shimLog,
                                       .debug = o.debug,
                                       .workBase = o.workDir,
                                       .idPrefix = idPrefix});
    }
    case Mode::kContainerd:
      return makeContainerdDriver(ContainerdConfig{.address = o.address,
                                                   .ns = o.ns,
                                                   .runtime = o.runtime,
                                                   .image = o.image,
                                                   .args = o.args,
                                                   .snapshotter = o.snapshotter,
                                                   .callTimeout = o.timeout,
                                                   .workBase = o.workDir,
                                                   .idPrefix = idPrefix,
                                                   .pod = o.pod});
  }
  return makeError(ErrorCode::kInternal, "unknown mode");
}

nlohmann::json settingsJson(const Options& o) {
  nlohmann::json settings = {{"mode", modeName(o.mode)},  {"runtime", o.runtime},
                             {"image", o.image},          {"args", o.args},
                             {"count", o.count},          {"parallel", o.parallel},
                             {"warmup", o.warmupCount()}, {"timeout_ms", o.timeout.count()},
                             {"namespace", o.ns}};
  if (o.mode == Mode::kContainerd) {
    settings["address"] = o.address;
    settings["snapshotter"] = o.snapshotter;
    settings["pod"] = o.pod;
  }
  return settings;
}

int run(const Options& o) {
  // Task ids carry our pid: two runs side by side never share a task, socket or cgroup.
  std::string idPrefix = fmt::format("stress-{}", ::getpid());
  auto driver = makeDriver(o, idPrefix);
  if (!driver) {
    fmt::print(stderr, "stress-test: {}\n", driver.error().message);
    return kExitUsage;
  }
  LoopConfig config{.count = o.count,
                    .parallel = o.parallel,
                    .warmup = o.warmupCount(),
                    .timeout = o.timeout,
                    .idPrefix = idPrefix,
                    .stop = &stopRequested};
  DriverSummary summary;
  LoopResult loop;
  auto set = (*driver)->setUp();
  if (!set) stopRequested = true;  // every task is then reported as not run
  loop = runLoop(**driver, config);
  summary = (*driver)->tearDown();
  if (!set) summary.problems.insert(summary.problems.begin(), "set-up: " + set.error().message);
  Report report = makeReport(loop, std::move(summary), settingsJson(o), (*driver)->describe());

  std::string text = toText(report);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  if (!o.json.empty()) {
    std::ofstream out(o.json, std::ios::trunc);
    out << toJson(report).dump(2) << "\n";
    if (!out.flush()) {
      fmt::print(stderr, "stress-test: cannot write {}\n", o.json);
      return kExitFailed;
    }
  }
  return report.passed() ? 0 : kExitFailed;
}

}  // namespace
}  // namespace runwasi::stress

int main(int argc, char** argv) {
  using namespace runwasi::stress;
  std::vector<std::string> args(argv + 1, argv + argc);
  auto options = parseOptions(args);
  if (!options) {
    fmt::print(stderr, "stress-test: {}\n{}", options.error().message, kUsage);
    return kExitUsage;
  }
  if (options->help) {
    fmt::print("{}", kUsage);
    return 0;
  }
  // Ctrl-C: no new task starts; those running finish and everything is cleaned up.
  struct sigaction stop {};
  stop.sa_handler = onStopSignal;
  ::sigaction(SIGINT, &stop, nullptr);
  ::sigaction(SIGTERM, &stop, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a shim that goes away is an error to report, not our end
  runwasi::log::setLevel(runwasi::log::Level::kWarn);
  return run(*options);
}
