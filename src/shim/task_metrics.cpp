#include "shim/task_metrics.h"

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "github.com/containerd/cgroups/stats/v1/metrics.pb.h"
#include "github.com/containerd/cgroups/v2/stats/metrics.pb.h"

namespace runwasi::shim {
namespace {

namespace cgroupsv1 = io::containerd::cgroups::v1;
namespace cgroupsv2 = io::containerd::cgroups::v2;

// A process's CPU time (ns) and resident memory (bytes), from /proc: the metrics of a task
// whose spec has no linux section, hence no cgroup.
struct ProcessUsage {
  uint64_t userNs = 0, kernelNs = 0, rssBytes = 0;
};

Expected<ProcessUsage> readUsage(pid_t pid) {
  std::ifstream statFile(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(statFile)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold spaces.
  size_t close = stat.rfind(')');
  if (close == std::string::npos)
    return makeError(ErrorCode::kNotFound, fmt::format("process {} is gone", pid));
  std::istringstream fields(stat.substr(close + 2));
  std::vector<std::string> f{std::istream_iterator<std::string>(fields), {}};
  // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
  if (f.size() < 13) return makeError(ErrorCode::kInternal, "unexpected /proc/PID/stat");
  const uint64_t nsPerTick = 1'000'000'000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  ProcessUsage usage;
  usage.userNs = std::stoull(f[11]) * nsPerTick;
  usage.kernelNs = std::stoull(f[12]) * nsPerTick;
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("VmRSS:")) usage.rssBytes = std::stoull(line.substr(6)) * 1024;
  return usage;
}

// containerd's metrics types: v1 where the memory controller is a v1 hierarchy (hybrid
// machines too), v2 on unified-only machines.
cgroupsv1::Metrics metricsV1(const sandbox::CgroupStats& s) {
  cgroupsv1::Metrics m;
  m.mutable_pids()->set_current(s.pidsCurrent);
  m.mutable_pids()->set_limit(s.pidsLimit);
  auto* usage = m.mutable_cpu()->mutable_usage();
  usage->set_total(s.cpuUsageNs);
  usage->set_user(s.cpuUserNs);
  usage->set_kernel(s.cpuKernelNs);
  auto* throttling = m.mutable_cpu()->mutable_throttling();
  throttling->set_periods(s.cpuPeriods);
  throttling->set_throttled_periods(s.cpuThrottledPeriods);
  throttling->set_throttled_time(s.cpuThrottledNs);
  auto* memory = m.mutable_memory();
  memory->set_rss(s.memoryRss);
  memory->set_cache(s.memoryCache);
  memory->mutable_usage()->set_usage(s.memoryUsage);
  memory->mutable_usage()->set_max(s.memoryMaxUsage);
  memory->mutable_usage()->set_limit(s.memoryLimit);
  memory->mutable_usage()->set_failcnt(s.memoryFailcnt);
  return m;
}

cgroupsv2::Metrics metricsV2(const sandbox::CgroupStats& s) {
  cgroupsv2::Metrics m;
  m.mutable_pids()->set_current(s.pidsCurrent);
  m.mutable_pids()->set_limit(s.pidsLimit);
  auto* cpu = m.mutable_cpu();
  cpu->set_usage_usec(s.cpuUsageNs / 1000);
  cpu->set_user_usec(s.cpuUserNs / 1000);
  cpu->set_system_usec(s.cpuKernelNs / 1000);
  cpu->set_nr_periods(s.cpuPeriods);
  cpu->set_nr_throttled(s.cpuThrottledPeriods);
  cpu->set_throttled_usec(s.cpuThrottledNs / 1000);
  auto* memory = m.mutable_memory();
  memory->set_usage(s.memoryUsage);
  memory->set_usage_limit(s.memoryLimit);
  memory->set_anon(s.memoryRss);
  memory->set_file(s.memoryCache);
  m.mutable_memory_events()->set_oom_kill(s.oomKills);
  return m;
}

google::protobuf::Any pack(const google::protobuf::Message& metrics) {
  google::protobuf::Any any;
  any.set_type_url(metrics.GetDescriptor()->full_name());
  metrics.SerializeToString(any.mutable_value());
  return any;
}

}  // namespace

Expected<google::protobuf::Any> taskMetrics(const sandbox::Cgroup* cgroup, pid_t pid) {
  if (!cgroup) {  // no linux section in the spec: the process's own usage
    TRY(ProcessUsage usage, readUsage(pid));
    sandbox::CgroupStats stats;
    stats.cpuUsageNs = usage.userNs + usage.kernelNs;
    stats.cpuUserNs = usage.userNs;
    stats.cpuKernelNs = usage.kernelNs;
    stats.memoryUsage = stats.memoryRss = usage.rssBytes;
    stats.pidsCurrent = 1;
    return pack(metricsV1(stats));
  }
  TRY(sandbox::CgroupStats stats, cgroup->stats());
  auto mode = sandbox::detectCgroupMode();
  if (mode && *mode == sandbox::CgroupMode::kV2) return pack(metricsV2(stats));
  return pack(metricsV1(stats));
}

}  // namespace runwasi::shim
