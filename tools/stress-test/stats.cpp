#include "stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace runwasi::stress {

double percentile(std::span<const double> sorted, double p) {
  if (sorted.empty()) return 0;
  // Rank ceil(p/100 * n), 1-based, at least 1: p50 of {1,2,3,4} is 2, p99 of 100 samples
  // the 99th, p99 of 10 samples the largest.
  double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

Distribution summarize(std::vector<double> samples) {
  Distribution d;
  if (samples.empty()) return d;
  std::sort(samples.begin(), samples.end());
  d.n = samples.size();
  d.min = samples.front();
  d.max = samples.back();
  d.p50 = percentile(samples, 50);
  d.p90 = percentile(samples, 90);
  d.p99 = percentile(samples, 99);
  d.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(d.n);
  return d;
}

double tasksPerSecond(size_t tasks, std::chrono::nanoseconds elapsed) {
  if (elapsed.count() <= 0) return 0;
  return static_cast<double>(tasks) / std::chrono::duration<double>(elapsed).count();
}

}  // namespace runwasi::stress
