// The numbers a stress run reports: latency percentiles and the task rate.
#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <vector>

namespace runwasi::stress {

// Nearest-rank percentile of ascending `sorted` samples: the smallest sample with at least
// p percent of all samples at or below it (p in [0, 100]; 0 gives the minimum). 0 when
// there are no samples.
double percentile(std::span<const double> sorted, double p);

// A latency distribution, in the samples' unit.
struct Distribution {
  size_t n = 0;
  double min = 0, p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

// All zeros for no samples.
Distribution summarize(std::vector<double> samples);

// Tasks per second over `elapsed`; 0 when nothing elapsed.
double tasksPerSecond(size_t tasks, std::chrono::nanoseconds elapsed);

// Milliseconds, for reporting.
inline double toMs(std::chrono::nanoseconds d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace runwasi::stress
