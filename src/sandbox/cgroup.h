// A container's cgroup: created from the spec's cgroupsPath and resources, joined by the
// container process, read for Stats and OOM kills, removed on delete. Behind an interface
// so that drivers other than cgroupfs (systemd) can follow.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "oci/runtime_spec.h"

namespace runwasi::sandbox {

// How the machine mounts cgroups: v1 controllers only, v1 plus the unified hierarchy at
// /sys/fs/cgroup/unified (hybrid), or the unified hierarchy alone at /sys/fs/cgroup.
enum class CgroupMode { kV1, kHybrid, kV2 };
std::string_view cgroupModeName(CgroupMode mode);  // "v1", "hybrid", "v2"
// Reads /proc/self/mountinfo (or `mountinfo` text when given, for tests).
Expected<CgroupMode> detectCgroupMode();
Expected<CgroupMode> detectCgroupMode(std::string_view mountinfo);
// The hierarchies mounted in this mount namespace, named as /proc/self/cgroup names them
// (the field between its colons): "" for cgroup2, else the v1 controllers and name=,
// joined by ','. Empty when /proc/self/mountinfo cannot be read.
std::vector<std::string> mountedCgroupHierarchies();

struct CgroupStats {
  uint64_t cpuUsageNs = 0, cpuUserNs = 0, cpuKernelNs = 0;
  uint64_t cpuPeriods = 0, cpuThrottledPeriods = 0, cpuThrottledNs = 0;
  uint64_t memoryUsage = 0, memoryMaxUsage = 0, memoryLimit = 0, memoryFailcnt = 0;
  uint64_t memoryRss = 0, memoryCache = 0;
  uint64_t pidsCurrent = 0, pidsLimit = 0;  // pidsLimit 0: no limit
  uint64_t oomKills = 0;
};

enum class CgroupDriver { kCgroupfs, kSystemd };

class Cgroup {
 public:
  virtual ~Cgroup() = default;

  // The cgroup as the spec named it, e.g. "/default/web".
  virtual const std::string& path() const = 0;
  // The cgroup.procs file of every hierarchy, open for writing: a process joins the cgroup
  // by writing "0" to each (works from inside a new pid namespace, where it is pid 1).
  virtual Expected<std::vector<UniqueFd>> openProcsFiles() const = 0;
  // Writes the resources (memory, cpu, cpuset, pids, devices, unified); used at creation
  // and by Update. InvalidArgument naming the resource the kernel refused.
  virtual Expected<void> apply(const oci::Resources& resources) = 0;
  virtual Expected<CgroupStats> stats() const = 0;
  // How many processes of this cgroup the kernel's OOM killer has killed so far.
  virtual Expected<uint64_t> oomKillCount() const = 0;
  // The pids in the cgroup (as the host sees them).
  virtual Expected<std::vector<pid_t>> pids() const = 0;
  // Freezes (true) or thaws (false) every process of the cgroup (the v1 freezer where it is
  // mounted, else v2's cgroup.freeze) and waits until the kernel says it is done.
  // FailedPrecondition without a freezer; Unavailable when the processes would not freeze
  // (the cgroup is thawed again then).
  virtual Expected<void> setFrozen(bool frozen) = 0;
  // An fd that becomes readable each time the kernel's OOM killer acts in this cgroup (v1:
  // an eventfd registered on memory.oom_control through cgroup.event_control; v2: inotify
  // on memory.events). Read it (8 bytes or the inotify events) to rearm it; it may also
  // fire when the cgroup is removed. FailedPrecondition without a memory controller.
  virtual Expected<UniqueFd> oomNotifier() const = 0;
  // SIGKILLs what is left in the cgroup, waits for it to empty (up to ~1 s) and removes
  // the cgroup's directories. Idempotent.
  virtual Expected<void> destroy() = 0;
};

// Creates the cgroup `cgroupsPath` (absolute: from each hierarchy's root; relative: under
// the calling process's own cgroup; empty: "/runwasi/<containerId>") in every hierarchy,
// and applies `resources`. FailedPrecondition for the systemd driver where systemd is not
// PID 1. Nothing is left behind on error. Dropping the Cgroup leaves the cgroup in place:
// only destroy() removes it.
Expected<std::unique_ptr<Cgroup>> createCgroup(CgroupDriver driver, std::string_view cgroupsPath,
                                               std::string_view containerId,
                                               const oci::Resources& resources);

// The cgroupfs driver's cgroup for `cgroupsPath` and `containerId` (as createCgroup names
// it) where it exists, without creating or changing anything: for removing what a dead
// shim left. NotFound when no hierarchy has it; its destroy() removes it from those that do.
Expected<std::unique_ptr<Cgroup>> openCgroup(std::string_view cgroupsPath,
                                             std::string_view containerId);

// Makes the next move of a process into a cgroup cheap, by moving this process into the
// cgroup it is already in (a no-op). Every write to a cgroup.procs file takes the kernel's
// global cgroup_threadgroup_rwsem for writing, and the first writer after a quiet spell
// waits for an RCU grace period: 8-16 ms measured here, paid by whoever joins a container
// to its cgroup (the container process, in Create's critical path; runc's parent as well).
// A writer within about one grace period of the last one pays nothing. Create starts this
// on a thread of its own as it begins, so the grace period passes while it mounts the
// rootfs and waits for the zygote, and the container's join finds the lock warm (0.3 ms).
// Blocks for that grace period. Errors (no cgroup mounted, no permission) are returned
// for the caller to ignore: it is only an optimisation.
Expected<void> primeCgroupMigration();

// runc's conversions of the spec's v1-style values for cgroup v2 (exposed for tests):
// cpu.shares [2, 262144] -> cpu.weight [1, 10000]; memory.swap.max from the spec's
// memory+swap limit ("max" for -1; InvalidArgument when below the memory limit).
uint64_t cpuSharesToWeight(uint64_t shares);
Expected<std::string> memorySwapMaxV2(int64_t memoryLimit, int64_t memorySwap);

}  // namespace runwasi::sandbox
