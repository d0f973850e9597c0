// The cgroupfs driver: a container's cgroup is one directory in every mounted hierarchy (the
// v1 controllers, the unified v2 hierarchy, or both on a hybrid machine), written and read
// through its files as runc's fs and fs2 managers do. The systemd driver is a stub that
// explains why it cannot run here; createCgroup picks the driver.
#include "sandbox/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <climits>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "common/file.h"

namespace runwasi::sandbox {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// What a v1 mount's options may name besides mount flags ("name=..." hierarchies aside).
constexpr std::string_view kV1Controllers[] = {
    "cpuset",     "cpu",      "cpuacct", "blkio", "memory", "devices", "freezer", "net_cls",
    "perf_event", "net_prio", "hugetlb", "pids",  "rdma",   "misc",    "debug"};
// Enabled in every ancestor's cgroup.subtree_control on cgroup v2.
constexpr std::string_view kV2Controllers[] = {"cpuset", "cpu", "io", "memory", "pids"};
// How long destroy() waits for SIGKILLed processes to leave and for rmdir to stop failing.
constexpr auto kDestroyTimeout = std::chrono::seconds(1);

// ---------------------------------------------------------------------------------------
// Text and files

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  while (!text.empty()) {
    size_t end = text.find(sep);
    std::string_view part = text.substr(0, end);
    if (!part.empty()) parts.push_back(part);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return parts;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == '\n' || s.front() == ' ')) s.remove_prefix(1);
  return s;
}

std::optional<uint64_t> parseU64(std::string_view s) {
  s = trim(s);
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescapeMountPath(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 4, v, 8);
      if (ec == std::errc() && end == s.data() + i + 4) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

Expected<std::string> readText(const fs::path& path) {
  TRY(Bytes bytes, readFile(path));
  return std::string(bytes.begin(), bytes.end());
}

// 0 or the errno of the failed open or write: cgroup files take one value per write(2).
int writeText(const fs::path& path, std::string_view value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return errno;
  ssize_t n;
  do n = ::write(fd.get(), value.data(), value.size());
  while (n < 0 && errno == EINTR);
  return n < 0 ? errno : 0;
}

bool pathExists(const fs::path& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

// "key value" lines (cpu.stat, memory.stat, memory.events, memory.oom_control, ...).
std::map<std::string, uint64_t, std::less<>> parseKeyedValues(std::string_view text) {
  std::map<std::string, uint64_t, std::less<>> values;
  for (std::string_view line : split(text, '\n')) {
    auto fields = split(line, ' ');
    if (fields.size() != 2) continue;
    if (auto v = parseU64(fields[1])) values.emplace(fields[0], *v);
  }
  return values;
}

tl::unexpected<Error> writeError(std::string_view field, std::string_view value,
                                 std::string_view file, int err) {
  auto error = makeSysError(fmt::format("{}: writing {} to {}", field, value, file), err);
  error.value().code = ErrorCode::kInvalidArgument;
  return error;
}

// ---------------------------------------------------------------------------------------
// Mounts and paths

// One cgroup hierarchy as /proc/self/mountinfo shows it.
struct CgroupMount {
  std::string device;  // major:minor: the same for every mount of one hierarchy
  std::string root;    // the hierarchy's cgroup shown at the mount point
  std::string mountPoint;
  bool unified = false;                  // cgroup2
  std::vector<std::string> controllers;  // v1: "cpu", "memory", "name=systemd", ...
};

std::vector<CgroupMount> parseCgroupMounts(std::string_view mountinfo) {
  std::vector<CgroupMount> mounts;
  for (std::string_view line : split(mountinfo, '\n')) {
    auto fields = split(line, ' ');
    auto dash = std::find(fields.begin(), fields.end(), "-");
    if (dash == fields.end() || dash - fields.begin() < 5 || fields.end() - dash < 4) continue;
    std::string_view fsType = dash[1];
    if (fsType != "cgroup" && fsType != "cgroup2") continue;
    CgroupMount mount{std::string(fields[2]),
                      unescapeMountPath(fields[3]),
                      unescapeMountPath(fields[4]),
                      fsType == "cgroup2",
                      {}};
    bool seen = std::any_of(mounts.begin(), mounts.end(),
                            [&](const CgroupMount& m) { return m.device == mount.device; });
    if (seen) continue;  // a bind mount of a hierarchy already listed
    for (std::string_view option : split(dash[3], ',')) {
      bool known = std::find(std::begin(kV1Controllers), std::end(kV1Controllers), option) !=
                   std::end(kV1Controllers);
      if (known || option.starts_with("name=")) mount.controllers.emplace_back(option);
    }
    if (!mount.unified && mount.controllers.empty()) continue;
    mounts.push_back(std::move(mount));
  }
  return mounts;
}

Expected<CgroupMode> modeOf(const std::vector<CgroupMount>& mounts) {
  bool v1 = false, v2 = false, v2AtRoot = false;
  for (const CgroupMount& m : mounts) {
    v1 |= !m.unified;
    v2 |= m.unified;
    v2AtRoot |= m.unified && m.mountPoint == "/sys/fs/cgroup";
  }
  if (v2AtRoot || (v2 && !v1)) return CgroupMode::kV2;
  if (v1) return v2 ? CgroupMode::kHybrid : CgroupMode::kV1;
  return makeError(ErrorCode::kFailedPrecondition,
                   "no cgroup filesystem is mounted (see /proc/self/mountinfo)");
}

// The hierarchies a cgroup lives in: on v2 only the unified one (v1 mounts elsewhere are
// not ours to use).
std::vector<CgroupMount> mountsFor(CgroupMode mode, std::vector<CgroupMount> mounts) {
  if (mode != CgroupMode::kV2) return mounts;
  auto unified = std::find_if(mounts.begin(), mounts.end(), [](const CgroupMount& m) {
    return m.unified && m.mountPoint == "/sys/fs/cgroup";
  });
  if (unified == mounts.end())
    unified = std::find_if(mounts.begin(), mounts.end(), [](auto& m) { return m.unified; });
  return {*unified};
}

// The components of linux.cgroupsPath; none may be "." or "..".
Expected<std::vector<std::string>> cgroupPathComponents(std::string_view cgroupsPath) {
  std::vector<std::string> components;
  for (std::string_view c : split(cgroupsPath, '/')) {
    if (c == ".." || c == ".") {
      return makeError(
          ErrorCode::kInvalidArgument,
          fmt::format("linux.cgroupsPath: \"{}\" has a \"{}\" component", cgroupsPath, c));
    }
    components.emplace_back(c);
  }
  if (components.empty()) {
    return makeError(
        ErrorCode::kInvalidArgument,
        fmt::format("linux.cgroupsPath: \"{}\" names no cgroup below the root", cgroupsPath));
  }
  return components;
}

// Where a relative cgroupsPath starts in `mount`: the calling process's own cgroup there,
// from /proc/self/cgroup ("id:controllers:path"; the unified line is "0::path").
Expected<fs::path> ownCgroupDir(const CgroupMount& mount, std::string_view procSelfCgroup) {
  std::vector<std::string_view> wanted(mount.controllers.begin(), mount.controllers.end());
  std::sort(wanted.begin(), wanted.end());
  for (std::string_view line : split(procSelfCgroup, '\n')) {
    size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string_view::npos || second == std::string_view::npos) continue;
    auto controllers = split(line.substr(first + 1, second - first - 1), ',');
    std::sort(controllers.begin(), controllers.end());
    bool match =
        mount.unified ? line.substr(0, first) == "0" && controllers.empty() : controllers == wanted;
    if (!match) continue;
    std::string_view own = line.substr(second + 1);
    // Inside a mount of a sub-cgroup (or a cgroup namespace), paths are relative to its root.
    if (mount.root != "/" && own.starts_with(mount.root)) own.remove_prefix(mount.root.size());
    return fs::path(mount.mountPoint) / fs::path(own).relative_path();
  }
  return makeError(
      ErrorCode::kNotFound,
      fmt::format("/proc/self/cgroup has no line for the hierarchy at {}", mount.mountPoint));
}

// SIGKILLs every pid in cgroup.procs; false when there were none.
bool killProcs(const fs::path& dir) {
  auto procs = readText(dir / "cgroup.procs");
  if (!procs) return false;
  bool any = false;
  for (std::string_view line : split(*procs, '\n')) {
    if (auto pid = parseU64(line)) {
      ::kill(static_cast<pid_t>(*pid), SIGKILL);
      any = true;
    }
  }
  return any;
}

// The cgroup directories below `dir`, deepest first.
void collectSubcgroups(const fs::path& dir, std::vector<fs::path>& out) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (e->d_type != DT_DIR || name == "." || name == "..") continue;
    collectSubcgroups(dir / name, out);
    out.push_back(dir / name);
  }
  ::closedir(d);
}

// rmdir, retried while the kernel still sees the cgroup busy; 0 or the errno.
int removeCgroupDir(const fs::path& dir, Clock::time_point deadline) {
  for (;;) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return 0;
    if (errno != EBUSY || Clock::now() > deadline) return errno;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// ---------------------------------------------------------------------------------------
// The cgroupfs driver

// The container's cgroup in one hierarchy.
struct Hierarchy {
  CgroupMount mount;
  fs::path base;                      // where cgroupsPath starts: the root or our own cgroup
  fs::path leaf;                      // the container's cgroup directory
  std::vector<fs::path> createdDirs;  // made by createCgroup, outermost first

  bool has(std::string_view controller) const {
    return std::find(mount.controllers.begin(), mount.controllers.end(), controller) !=
           mount.controllers.end();
  }
};

class CgroupfsCgroup final : public Cgroup {
 public:
  CgroupfsCgroup(std::string path, CgroupMode mode, std::vector<Hierarchy> hierarchies)
      : path_(std::move(path)), mode_(mode), hierarchies_(std::move(hierarchies)) {}

  const std::string& path() const override { return path_; }
  Expected<std::vector<UniqueFd>> openProcsFiles() const override;
  Expected<void> apply(const oci::Resources& resources) override;
  Expected<CgroupStats> stats() const override;
  Expected<uint64_t> oomKillCount() const override;
  Expected<std::vector<pid_t>> pids() const override;
  Expected<void> setFrozen(bool frozen) override;
  Expected<UniqueFd> oomNotifier() const override;
  Expected<void> destroy() override;

  // Makes the missing directories down to each leaf.
  Expected<void> create(const std::vector<std::string>& components);
  // Removes what create() made (for a failed createCgroup: no process has joined).
  void undoCreate();

 private:
  bool v2() const { return mode_ == CgroupMode::kV2; }
  // Where a controller's files are: its v1 hierarchy, or the unified one on v2.
  const Hierarchy* hierarchyFor(std::string_view controller) const;
  const Hierarchy* unified() const;
  Expected<void> makeDirs(Hierarchy& h, const std::vector<std::string>& components);
  void enableV2Controllers(const Hierarchy& h) const;

  Expected<void> set(std::string_view controller, std::string_view file, std::string_view value,
                     std::string_view field);
  // The file's text; nullopt when the controller or the file is absent.
  std::optional<std::string> get(std::string_view controller, std::string_view file) const;
  uint64_t getU64(std::string_view controller, std::string_view file) const;
  std::map<std::string, uint64_t, std::less<>> getKeyed(std::string_view controller,
                                                        std::string_view file) const;

  Expected<void> applyMemoryV1(const oci::Resources& r);
  Expected<void> applyMemoryV2(const oci::Resources& r);
  Expected<void> applyCpuV1(const oci::Resources& r);
  Expected<void> applyCpuV2(const oci::Resources& r);
  Expected<void> applyCpusetAndPids(const oci::Resources& r);
  Expected<void> applyDevicesV1(const std::vector<oci::DeviceRule>& rules);
  Expected<void> applyUnified(const std::map<std::string, std::string>& unified);
  void readStatsV1(CgroupStats& s) const;
  void readStatsV2(CgroupStats& s) const;
  Expected<void> killAll();

  std::string path_;
  CgroupMode mode_;
  std::vector<Hierarchy> hierarchies_;
  bool destroyed_ = false;
};

const Hierarchy* CgroupfsCgroup::hierarchyFor(std::string_view controller) const {
  if (v2()) return unified();
  for (const Hierarchy& h : hierarchies_) {
    if (!h.mount.unified && h.has(controller)) return &h;
  }
  return nullptr;
}

const Hierarchy* CgroupfsCgroup::unified() const {
  for (const Hierarchy& h : hierarchies_) {
    if (h.mount.unified) return &h;
  }
  return nullptr;
}

Expected<void> CgroupfsCgroup::create(const std::vector<std::string>& components) {
  for (Hierarchy& h : hierarchies_) {
    TRY_VOID(makeDirs(h, components));
    if (v2()) enableV2Controllers(h);
  }
  return {};
}

Expected<void> CgroupfsCgroup::makeDirs(Hierarchy& h, const std::vector<std::string>& components) {
  // A concurrent destroy() may remove a shared parent between our mkdirs: start over then.
  for (int attempt = 0;; ++attempt) {
    fs::path dir = h.base;
    bool parentVanished = false;
    for (const std::string& component : components) {
      fs::path parent = dir;
      dir /= component;
      if (::mkdir(dir.c_str(), 0755) == 0) {
        h.createdDirs.push_back(dir);
      } else if (errno != EEXIST) {
        if (errno == ENOENT && attempt < 10) {
          parentVanished = true;
          break;
        }
        return makeSysError(fmt::format("creating cgroup {}", dir.string()));
      }
      // A v1 cpuset cgroup starts with no cpus and mems: nothing could join it. Filled from
      // the parent here, also where another creator made the directory a moment ago and
      // has not filled it yet (seen: a concurrent test's fresh shared parent, ENOSPC on join).
      if (h.has("cpuset") && !h.mount.unified) {
        for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
          auto own = readText(dir / file);
          if (!own && own.error().sysErrno == ENOENT && attempt < 10) {
            parentVanished = true;  // removed by a concurrent destroy() meanwhile
            break;
          }
          if (!own) return tl::unexpected(own.error());
          if (!trim(*own).empty()) continue;
          TRY(std::string inherited, readText(parent / file));
          if (int err = writeText(dir / file, trim(inherited))) {
            return makeSysError(fmt::format("copying {} from {}", file, parent.string()), err);
          }
        }
        if (parentVanished) break;
      }
    }
    if (!parentVanished) return {};
  }
}

// Delegates the controllers to the leaf along its ancestors. A write fails where an ancestor
// has processes of its own (v2's "no internal processes" rule); the limits that need the
// controller then fail with the resource's name, so the error is not reported here.
void CgroupfsCgroup::enableV2Controllers(const Hierarchy& h) const {
  fs::path dir = h.mount.mountPoint;
  fs::path relative = h.leaf.lexically_relative(dir);
  for (const fs::path& component : relative) {
    auto available = readText(dir / "cgroup.controllers");
    auto enabled = readText(dir / "cgroup.subtree_control");
    if (!available || !enabled) return;
    auto availableList = split(trim(*available), ' '), enabledList = split(trim(*enabled), ' ');
    for (std::string_view c : kV2Controllers) {
      auto has = [&](auto& list) { return std::find(list.begin(), list.end(), c) != list.end(); };
      if (has(availableList) && !has(enabledList)) {
        writeText(dir / "cgroup.subtree_control", "+" + std::string(c));
      }
    }
    dir /= component;
  }
}

Expected<std::vector<UniqueFd>> CgroupfsCgroup::openProcsFiles() const {
  std::vector<UniqueFd> fds;
  for (const Hierarchy& h : hierarchies_) {
    fs::path procs = h.leaf / "cgroup.procs";
    UniqueFd fd(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return makeSysError("opening " + procs.string());
    fds.push_back(std::move(fd));
  }
  return fds;
}

// --- apply ------------------------------------------------------------------------------

Expected<void> CgroupfsCgroup::set(std::string_view controller, std::string_view file,
                                   std::string_view value, std::string_view field) {
  const Hierarchy* h = hierarchyFor(controller);
  if (!h) {
    return makeError(ErrorCode::kFailedPrecondition,
                     fmt::format("{}: the {} cgroup controller is not mounted", field, controller));
  }
  if (int err = writeText(h->leaf / file, value)) return writeError(field, value, file, err);
  return {};
}

Expected<void> CgroupfsCgroup::apply(const oci::Resources& r) {
  if (v2()) {
    TRY_VOID(applyMemoryV2(r));
    TRY_VOID(applyCpuV2(r));
  } else {
    TRY_VOID(applyMemoryV1(r));
    TRY_VOID(applyCpuV1(r));
  }
  TRY_VOID(applyCpusetAndPids(r));
  // On v2 the devices controller is an eBPF program (BPF_CGROUP_DEVICE) attached to the
  // cgroup, not files; it is not implemented here, so v2 containers get no device rules
  // (the container's /dev still only holds the devices its mounts create).
  if (!v2()) {
    TRY_VOID(applyDevicesV1(r.devices));
  }
  return applyUnified(r.unified);
}

Expected<void> CgroupfsCgroup::applyMemoryV1(const oci::Resources& r) {
  int64_t limit = r.memoryLimit.value_or(0), swap = r.memorySwap.value_or(0);
  const Hierarchy* memory = hierarchyFor("memory");
  // Without swap accounting (memsw files absent) the spec's swap limit cannot be enforced.
  bool hasMemsw = memory && pathExists(memory->leaf / "memory.memsw.limit_in_bytes");
  if (!hasMemsw) swap = 0;
  if (limit == -1 && swap == 0 && hasMemsw) swap = -1;  // unlimited memory: swap too
  auto setLimit = [&]() -> Expected<void> {
    if (limit == 0) return {};
    return set("memory", "memory.limit_in_bytes", std::to_string(limit),
               "linux.resources.memory.limit");
  };
  auto setSwap = [&]() -> Expected<void> {
    if (swap == 0) return {};
    return set("memory", "memory.memsw.limit_in_bytes", std::to_string(swap),
               "linux.resources.memory.swap");
  };
  // The kernel keeps memsw >= limit at every step: raise memsw first, lower limit first
  // (runc's order).
  uint64_t current = memory ? getU64("memory", "memory.limit_in_bytes") : 0;
  if (limit != 0 && swap != 0 && (swap == -1 || current < static_cast<uint64_t>(swap))) {
    TRY_VOID(setSwap());
    TRY_VOID(setLimit());
  } else {
    TRY_VOID(setLimit());
    TRY_VOID(setSwap());
  }
  if (r.memoryReservation && *r.memoryReservation != 0) {
    TRY_VOID(set("memory", "memory.soft_limit_in_bytes", std::to_string(*r.memoryReservation),
                 "linux.resources.memory.reservation"));
  }
  if (r.memorySwappiness) {
    if (*r.memorySwappiness > 100) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("linux.resources.memory.swappiness: {} is not in [0, 100]",
                                   *r.memorySwappiness));
    }
    TRY_VOID(set("memory", "memory.swappiness", std::to_string(*r.memorySwappiness),
                 "linux.resources.memory.swappiness"));
  }
  return {};
}

// "max" for -1, nothing for 0 (unset), the number otherwise.
std::string v2Value(int64_t value) {
  if (value == 0) return "";
  return value == -1 ? "max" : std::to_string(value);
}

Expected<void> CgroupfsCgroup::applyMemoryV2(const oci::Resources& r) {
  // memory.swappiness has no v2 file (runc ignores it there too).
  int64_t limit = r.memoryLimit.value_or(0), swap = r.memorySwap.value_or(0);
  TRY(std::string swapMax, memorySwapMaxV2(limit, swap));
  if (!swapMax.empty()) {
    const Hierarchy* h = unified();
    bool swapAccounted = h && pathExists(h->leaf / "memory.swap.max");
    // Without swap accounting, "no swap" and "unlimited swap" are what the machine does anyway.
    if (swapAccounted || (swapMax != "max" && swapMax != "0")) {
      TRY_VOID(set("memory", "memory.swap.max", swapMax, "linux.resources.memory.swap"));
    }
  }
  if (std::string max = v2Value(limit); !max.empty()) {
    TRY_VOID(set("memory", "memory.max", max, "linux.resources.memory.limit"));
  }
  if (std::string low = v2Value(r.memoryReservation.value_or(0)); !low.empty()) {
    TRY_VOID(set("memory", "memory.low", low, "linux.resources.memory.reservation"));
  }
  return {};
}

Expected<void> CgroupfsCgroup::applyCpuV1(const oci::Resources& r) {
  if (r.cpuShares && *r.cpuShares != 0) {
    std::string shares = std::to_string(*r.cpuShares);
    TRY_VOID(set("cpu", "cpu.shares", shares, "linux.resources.cpu.shares"));
    // The kernel clamps to [2, 262144] silently: say so, as runc does.
    if (uint64_t actual = getU64("cpu", "cpu.shares"); actual != *r.cpuShares) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("linux.resources.cpu.shares: {} is outside the kernel's "
                                   "range [2, 262144] (it set {})",
                                   shares, actual));
    }
  }
  uint64_t period = r.cpuPeriod.value_or(0);
  int64_t quota = r.cpuQuota.value_or(0);
  bool periodPending = false;
  if (period != 0) {
    auto written =
        set("cpu", "cpu.cfs_period_us", std::to_string(period), "linux.resources.cpu.period");
    // A shorter period can exceed the parent's quota until the new quota is in: retry after.
    if (!written && (written.error().sysErrno != EINVAL || quota == 0)) return written;
    periodPending = !written;
  }
  if (quota != 0) {
    TRY_VOID(set("cpu", "cpu.cfs_quota_us", std::to_string(quota), "linux.resources.cpu.quota"));
    if (periodPending) {
      TRY_VOID(
          set("cpu", "cpu.cfs_period_us", std::to_string(period), "linux.resources.cpu.period"));
    }
  }
  return {};
}

Expected<void> CgroupfsCgroup::applyCpuV2(const oci::Resources& r) {
  if (r.cpuShares && *r.cpuShares != 0) {
    TRY_VOID(set("cpu", "cpu.weight", std::to_string(cpuSharesToWeight(*r.cpuShares)),
                 "linux.resources.cpu.shares"));
  }
  int64_t quota = r.cpuQuota.value_or(0);
  uint64_t period = r.cpuPeriod.value_or(0);
  if (quota != 0 || period != 0) {
    std::string max = quota > 0 ? std::to_string(quota) : "max";
    if (period != 0) max += " " + std::to_string(period);
    TRY_VOID(set("cpu", "cpu.max", max, "linux.resources.cpu.quota"));
  }
  return {};
}

Expected<void> CgroupfsCgroup::applyCpusetAndPids(const oci::Resources& r) {
  if (!r.cpusetCpus.empty()) {
    TRY_VOID(set("cpuset", "cpuset.cpus", r.cpusetCpus, "linux.resources.cpu.cpus"));
  }
  if (!r.cpusetMems.empty()) {
    TRY_VOID(set("cpuset", "cpuset.mems", r.cpusetMems, "linux.resources.cpu.mems"));
  }
  if (r.pidsLimit) {
    std::string max = *r.pidsLimit > 0 ? std::to_string(*r.pidsLimit) : "max";
    TRY_VOID(set("pids", "pids.max", max, "linux.resources.pids.limit"));
  }
  return {};
}

// Deny everything, then the rules in order. Unlike runc, which writes only the difference,
// an Update briefly denies the running container its devices.
Expected<void> CgroupfsCgroup::applyDevicesV1(const std::vector<oci::DeviceRule>& rules) {
  if (rules.empty()) return {};
  TRY_VOID(set("devices", "devices.deny", "a", "linux.resources.devices"));
  for (size_t i = 0; i < rules.size(); ++i) {
    const oci::DeviceRule& rule = rules[i];
    std::string field = fmt::format("linux.resources.devices[{}]", i);
    bool typeOk = rule.type == "a" || rule.type == "b" || rule.type == "c";
    bool accessOk =
        !rule.access.empty() && rule.access.find_first_not_of("rwm") == std::string::npos;
    if (!typeOk || !accessOk) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("{}: type \"{}\" access \"{}\": want a type of a, b or c and an "
                                   "access of r, w and m",
                                   field, rule.type, rule.access));
    }
    auto number = [](const std::optional<int64_t>& n) {
      return n && *n >= 0 ? std::to_string(*n) : std::string("*");
    };
    std::string line =
        fmt::format("{} {}:{} {}", rule.type, number(rule.major), number(rule.minor), rule.access);
    TRY_VOID(set("devices", rule.allow ? "devices.allow" : "devices.deny", line, field));
  }
  return {};
}

Expected<void> CgroupfsCgroup::applyUnified(const std::map<std::string, std::string>& files) {
  if (files.empty()) return {};
  const Hierarchy* h = unified();
  if (!h) {
    return makeError(ErrorCode::kInvalidArgument,
                     "linux.resources.unified: needs the cgroup v2 hierarchy; this machine "
                     "mounts cgroup v1 only");
  }
  for (const auto& [file, value] : files) {
    std::string field = fmt::format("linux.resources.unified[\"{}\"]", file);
    if (file.empty() || file.find('/') != std::string::npos || file.starts_with(".")) {
      return makeError(ErrorCode::kInvalidArgument, field + ": not a cgroup file name");
    }
    if (int err = writeText(h->leaf / file, value)) return writeError(field, value, file, err);
  }
  return {};
}

// --- reading ----------------------------------------------------------------------------

std::optional<std::string> CgroupfsCgroup::get(std::string_view controller,
                                               std::string_view file) const {
  const Hierarchy* h = hierarchyFor(controller);
  if (!h) return std::nullopt;
  auto text = readText(h->leaf / file);
  if (!text) return std::nullopt;
  return std::move(*text);
}

uint64_t CgroupfsCgroup::getU64(std::string_view controller, std::string_view file) const {
  auto text = get(controller, file);
  return text ? parseU64(*text).value_or(0) : 0;
}

std::map<std::string, uint64_t, std::less<>> CgroupfsCgroup::getKeyed(std::string_view controller,
                                                                      std::string_view file) const {
  auto text = get(controller, file);
  return text ? parseKeyedValues(*text) : std::map<std::string, uint64_t, std::less<>>{};
}

template <typename Map>
uint64_t valueOf(const Map& values, std::string_view key) {
  auto it = values.find(key);
  return it == values.end() ? 0 : it->second;
}

void CgroupfsCgroup::readStatsV1(CgroupStats& s) const {
  s.cpuUsageNs = getU64("cpuacct", "cpuacct.usage");
  if (get("cpuacct", "cpuacct.usage_user")) {
    s.cpuUserNs = getU64("cpuacct", "cpuacct.usage_user");
    s.cpuKernelNs = getU64("cpuacct", "cpuacct.usage_sys");
  } else {  // before Linux 4.16: USER_HZ ticks
    auto ticks = getKeyed("cpuacct", "cpuacct.stat");
    uint64_t nsPerTick = 1'000'000'000 / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
    s.cpuUserNs = valueOf(ticks, "user") * nsPerTick;
    s.cpuKernelNs = valueOf(ticks, "system") * nsPerTick;
  }
  auto cpu = getKeyed("cpu", "cpu.stat");
  s.cpuPeriods = valueOf(cpu, "nr_periods");
  s.cpuThrottledPeriods = valueOf(cpu, "nr_throttled");
  s.cpuThrottledNs = valueOf(cpu, "throttled_time");
  s.memoryUsage = getU64("memory", "memory.usage_in_bytes");
  s.memoryMaxUsage = getU64("memory", "memory.max_usage_in_bytes");
  s.memoryLimit = getU64("memory", "memory.limit_in_bytes");
  s.memoryFailcnt = getU64("memory", "memory.failcnt");
  auto memory = getKeyed("memory", "memory.stat");
  s.memoryRss = valueOf(memory, "rss");
  s.memoryCache = valueOf(memory, "cache");
}

void CgroupfsCgroup::readStatsV2(CgroupStats& s) const {
  auto cpu = getKeyed("cpu", "cpu.stat");
  s.cpuUsageNs = valueOf(cpu, "usage_usec") * 1000;
  s.cpuUserNs = valueOf(cpu, "user_usec") * 1000;
  s.cpuKernelNs = valueOf(cpu, "system_usec") * 1000;
  s.cpuPeriods = valueOf(cpu, "nr_periods");
  s.cpuThrottledPeriods = valueOf(cpu, "nr_throttled");
  s.cpuThrottledNs = valueOf(cpu, "throttled_usec") * 1000;
  s.memoryUsage = getU64("memory", "memory.current");
  s.memoryMaxUsage = getU64("memory", "memory.peak");  // Linux >= 5.19
  auto max = get("memory", "memory.max");
  s.memoryLimit = max && trim(*max) == "max" ? UINT64_MAX : getU64("memory", "memory.max");
  s.memoryFailcnt = valueOf(getKeyed("memory", "memory.events"), "max");
  auto memory = getKeyed("memory", "memory.stat");
  s.memoryRss = valueOf(memory, "anon");
  s.memoryCache = valueOf(memory, "file");
}

Expected<CgroupStats> CgroupfsCgroup::stats() const {
  if (hierarchies_.empty() || !pathExists(hierarchies_.front().leaf)) {
    return makeError(ErrorCode::kNotFound, fmt::format("cgroup {} does not exist", path_));
  }
  CgroupStats s;
  if (v2()) {
    readStatsV2(s);
  } else {
    readStatsV1(s);
  }
  s.pidsCurrent = getU64("pids", "pids.current");
  s.pidsLimit = getU64("pids", "pids.max");  // "max" reads as 0: no limit
  TRY(s.oomKills, oomKillCount());
  return s;
}

Expected<uint64_t> CgroupfsCgroup::oomKillCount() const {
  // v1's oom_control has counted kills since Linux 4.13; v2's memory.events always has.
  return valueOf(getKeyed("memory", v2() ? "memory.events" : "memory.oom_control"), "oom_kill");
}

Expected<std::vector<pid_t>> CgroupfsCgroup::pids() const {
  std::set<pid_t> pids;
  for (const Hierarchy& h : hierarchies_) {
    auto procs = readText(h.leaf / "cgroup.procs");
    if (!procs && procs.error().sysErrno == ENOENT) continue;
    if (!procs) return tl::unexpected(procs.error());
    for (std::string_view line : split(*procs, '\n')) {
      if (auto pid = parseU64(line)) pids.insert(static_cast<pid_t>(*pid));
    }
  }
  return std::vector<pid_t>(pids.begin(), pids.end());
}

// --- freezer and OOM notifications -------------------------------------------------------

Expected<void> CgroupfsCgroup::setFrozen(bool frozen) {
  // How long the kernel may take: a task in an uninterruptible sleep freezes only once it
  // wakes. runc retries the write, as the v1 freezer can fall back to THAWED meanwhile.
  constexpr auto kFreezeTimeout = std::chrono::seconds(5);
  Clock::time_point deadline = Clock::now() + kFreezeTimeout;
  const Hierarchy* v1 = v2() ? nullptr : hierarchyFor("freezer");
  const Hierarchy* unifiedHierarchy = unified();
  if (!v1 && !(unifiedHierarchy && pathExists(unifiedHierarchy->leaf / "cgroup.freeze"))) {
    return makeError(ErrorCode::kFailedPrecondition,
                     fmt::format("cgroup {}: no freezer (neither the v1 freezer controller nor "
                                 "cgroup v2's cgroup.freeze)",
                                 path_));
  }
  auto done = [&]() -> bool {
    if (v1) {
      auto state = readText(v1->leaf / "freezer.state");
      return state && trim(*state) == (frozen ? "FROZEN" : "THAWED");
    }
    auto events = readText(unifiedHierarchy->leaf / "cgroup.events");
    return events && valueOf(parseKeyedValues(*events), "frozen") == (frozen ? 1u : 0u);
  };
  for (;;) {
    int err = v1 ? writeText(v1->leaf / "freezer.state", frozen ? "FROZEN" : "THAWED")
                 : writeText(unifiedHierarchy->leaf / "cgroup.freeze", frozen ? "1" : "0");
    if (err != 0) {
      return makeSysError(fmt::format("{} cgroup {}", frozen ? "freezing" : "thawing", path_), err);
    }
    for (int i = 0; i < 20; ++i) {
      if (done()) return {};
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (Clock::now() > deadline) break;
  }
  if (frozen) (void)setFrozen(false);
  return makeError(ErrorCode::kUnavailable, fmt::format("cgroup {} did not become {} within {} s",
                                                        path_, frozen ? "frozen" : "thawed",
                                                        kFreezeTimeout / std::chrono::seconds(1)));
}

Expected<UniqueFd> CgroupfsCgroup::oomNotifier() const {
  const Hierarchy* memory = hierarchyFor("memory");
  if (!memory) {
    return makeError(ErrorCode::kFailedPrecondition,
                     fmt::format("cgroup {}: the memory controller is not mounted", path_));
  }
  if (v2() || memory->mount.unified) {
    UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!fd) return makeSysError("inotify_init1");
    fs::path events = memory->leaf / "memory.events";
    if (::inotify_add_watch(fd.get(), events.c_str(), IN_MODIFY) < 0)
      return makeSysError("watching " + events.string());
    return fd;
  }
  UniqueFd event(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!event) return makeSysError("eventfd");
  fs::path control = memory->leaf / "memory.oom_control";
  UniqueFd oomControl(::open(control.c_str(), O_RDONLY | O_CLOEXEC));
  if (!oomControl) return makeSysError("opening " + control.string());
  // The kernel keeps the eventfd; the oom_control file is needed only to register it.
  std::string registration = fmt::format("{} {}", event.get(), oomControl.get());
  if (int err = writeText(memory->leaf / "cgroup.event_control", registration))
    return makeSysError(fmt::format("registering for OOM events of cgroup {}", path_), err);
  return event;
}

// --- destroy ----------------------------------------------------------------------------

Expected<void> CgroupfsCgroup::killAll() {
  // A frozen process dies only once thawed.
  if (const Hierarchy* freezer = hierarchyFor("freezer"); freezer && !v2()) {
    writeText(freezer->leaf / "freezer.state", "THAWED");
  }
  if (const Hierarchy* h = unified()) writeText(h->leaf / "cgroup.freeze", "0");
  Clock::time_point deadline = Clock::now() + kDestroyTimeout;
  for (;;) {
    // Only the container's own processes: a cgroup below ours is another container's
    // (a spec may name a shared cgroup such as "/<namespace>"), so cgroup.kill, which
    // takes the whole subtree, is used only when there is none.
    bool any = false;
    for (const Hierarchy& h : hierarchies_) {
      std::vector<fs::path> below;
      collectSubcgroups(h.leaf, below);
      if (below.empty() && h.mount.unified) writeText(h.leaf / "cgroup.kill", "1");
      any |= killProcs(h.leaf);
    }
    if (!any) return {};
    if (Clock::now() > deadline) {
      return makeError(ErrorCode::kUnavailable,
                       fmt::format("processes of cgroup {} survived SIGKILL for {} ms", path_,
                                   kDestroyTimeout / std::chrono::milliseconds(1)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Expected<void> CgroupfsCgroup::destroy() {
  if (destroyed_) return {};
  Expected<void> result = killAll();
  Clock::time_point deadline = Clock::now() + kDestroyTimeout;
  for (Hierarchy& h : hierarchies_) {
    std::vector<fs::path> below;
    collectSubcgroups(h.leaf, below);
    if (!below.empty()) continue;  // shared with other containers' cgroups: theirs to go
    int err = removeCgroupDir(h.leaf, deadline);
    if (err != 0 && result) result = makeSysError("removing cgroup " + h.leaf.string(), err);
    // Parents we made go too when empty; another container may be using a shared one.
    for (auto it = h.createdDirs.rbegin(); it != h.createdDirs.rend(); ++it) {
      if (*it == h.leaf) continue;
      if (::rmdir(it->c_str()) != 0 && errno != ENOENT) break;
    }
  }
  destroyed_ = result.has_value();
  return result;
}

void CgroupfsCgroup::undoCreate() {
  for (Hierarchy& h : hierarchies_) {
    for (auto it = h.createdDirs.rbegin(); it != h.createdDirs.rend(); ++it) ::rmdir(it->c_str());
    h.createdDirs.clear();
  }
}

// ---------------------------------------------------------------------------------------
// Drivers

// The cgroup `cgroupsPath` names (empty: "/runwasi/<containerId>") in every hierarchy
// mounted here, nothing created yet.
struct CgroupPlan {
  std::string path;
  std::vector<std::string> components;
  CgroupMode mode;
  std::vector<Hierarchy> hierarchies;
};

Expected<CgroupPlan> planCgroupfsCgroup(std::string_view cgroupsPath,
                                        std::string_view containerId) {
  CgroupPlan plan;
  plan.path = cgroupsPath;
  if (plan.path.empty()) {
    if (containerId.empty() || containerId.find('/') != std::string_view::npos) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("container id \"{}\" cannot name a cgroup", containerId));
    }
    plan.path = fmt::format("/runwasi/{}", containerId);
  }
  TRY(plan.components, cgroupPathComponents(plan.path));
  TRY(std::string mountinfo, readText("/proc/self/mountinfo"));
  std::vector<CgroupMount> mounts = parseCgroupMounts(mountinfo);
  TRY(plan.mode, modeOf(mounts));
  bool relative = plan.path.front() != '/';
  std::string procSelfCgroup;
  if (relative) {
    TRY(procSelfCgroup, readText("/proc/self/cgroup"));
  }
  for (CgroupMount& mount : mountsFor(plan.mode, std::move(mounts))) {
    Hierarchy h{std::move(mount), {}, {}, {}};
    if (relative) {
      TRY(h.base, ownCgroupDir(h.mount, procSelfCgroup));
    } else {
      h.base = h.mount.mountPoint;
    }
    h.leaf = h.base;
    for (const std::string& c : plan.components) h.leaf /= c;
    plan.hierarchies.push_back(std::move(h));
  }
  return plan;
}

Expected<std::unique_ptr<Cgroup>> createCgroupfsCgroup(std::string_view cgroupsPath,
                                                       std::string_view containerId,
                                                       const oci::Resources& resources) {
  TRY(CgroupPlan plan, planCgroupfsCgroup(cgroupsPath, containerId));
  auto cgroup =
      std::make_unique<CgroupfsCgroup>(plan.path, plan.mode, std::move(plan.hierarchies));
  Expected<void> ready = cgroup->create(plan.components);
  if (ready) ready = cgroup->apply(resources);
  if (!ready) {
    cgroup->undoCreate();
    return tl::unexpected(std::move(ready).error());
  }
  return cgroup;
}

// A systemd driver would ask systemd (over D-Bus) for a transient scope unit and set the
// limits as unit properties; without systemd as PID 1 there is nobody to ask.
Expected<std::unique_ptr<Cgroup>> createSystemdCgroup(std::string_view, std::string_view,
                                                      const oci::Resources&) {
  if (!pathExists("/run/systemd/system")) {
    auto comm = readText("/proc/1/comm");
    return makeError(ErrorCode::kFailedPrecondition,
                     fmt::format("the systemd cgroup driver (SystemdCgroup = true) needs systemd "
                                 "as PID 1; this machine's PID 1 is {}: set SystemdCgroup = false",
                                 comm ? std::string(trim(*comm)) : "unknown"));
  }
  return makeError(ErrorCode::kUnimplemented,
                   "the systemd cgroup driver (SystemdCgroup = true) is not implemented: set "
                   "SystemdCgroup = false");
}

}  // namespace

std::string_view cgroupModeName(CgroupMode mode) {
  switch (mode) {
    case CgroupMode::kV1:
      return "v1";
    case CgroupMode::kHybrid:
      return "hybrid";
    case CgroupMode::kV2:
      return "v2";
  }
  return "unknown";
}

Expected<CgroupMode> detectCgroupMode(std::string_view mountinfo) {
  return modeOf(parseCgroupMounts(mountinfo));
}

Expected<CgroupMode> detectCgroupMode() {
  TRY(std::string mountinfo, readText("/proc/self/mountinfo"));
  return detectCgroupMode(mountinfo);
}

std::vector<std::string> mountedCgroupHierarchies() {
  std::vector<std::string> out;
  auto mountinfo = readText("/proc/self/mountinfo");
  if (!mountinfo) return out;
  for (const CgroupMount& mount : parseCgroupMounts(*mountinfo)) {
    std::string name;
    for (const std::string& controller : mount.controllers)
      name += (name.empty() ? "" : ",") + controller;
    out.push_back(std::move(name));
  }
  return out;
}

uint64_t cpuSharesToWeight(uint64_t shares) {
  if (shares == 0) return 0;
  shares = std::clamp<uint64_t>(shares, 2, 262144);
  return 1 + ((shares - 2) * 9999) / 262142;
}

Expected<std::string> memorySwapMaxV2(int64_t memoryLimit, int64_t memorySwap) {
  auto invalid = [](std::string message) {
    return makeError(ErrorCode::kInvalidArgument, "linux.resources.memory.swap: " + message);
  };
  if (memoryLimit == -1 && memorySwap == 0) return std::string("max");
  if (memorySwap == 0) return std::string();
  if (memorySwap == -1) return std::string("max");
  if (memoryLimit == 0 || memoryLimit == -1) {
    return invalid("a swap limit needs a memory limit");
  }
  if (memoryLimit < 0) return invalid(fmt::format("invalid memory limit {}", memoryLimit));
  if (memorySwap < memoryLimit) {
    return invalid(
        fmt::format("memory+swap {} is below the memory limit {}", memorySwap, memoryLimit));
  }
  return std::to_string(memorySwap - memoryLimit);
}

Expected<void> primeCgroupMigration() {
  TRY(std::string mountinfo, readText("/proc/self/mountinfo"));
  std::vector<CgroupMount> mounts = parseCgroupMounts(mountinfo);
  TRY(CgroupMode mode, modeOf(mounts));
  mounts = mountsFor(mode, std::move(mounts));
  if (mounts.empty()) return makeError(ErrorCode::kNotFound, "no cgroup hierarchy is mounted");
  TRY(std::string procSelfCgroup, readText("/proc/self/cgroup"));
  TRY(fs::path own, ownCgroupDir(mounts.front(), procSelfCgroup));
  // Any hierarchy will do: the lock is global.
  if (int err = writeText(own / "cgroup.procs", std::to_string(::getpid())))
    return makeSysError(fmt::format("moving this process into its own cgroup {}", own.string()),
                        err);
  return {};
}

Expected<std::unique_ptr<Cgroup>> createCgroup(CgroupDriver driver, std::string_view cgroupsPath,
                                               std::string_view containerId,
                                               const oci::Resources& resources) {
  switch (driver) {
    case CgroupDriver::kCgroupfs:
      return createCgroupfsCgroup(cgroupsPath, containerId, resources);
    case CgroupDriver::kSystemd:
      return createSystemdCgroup(cgroupsPath, containerId, resources);
  }
  return makeError(ErrorCode::kInvalidArgument, "unknown cgroup driver");
}

Expected<std::unique_ptr<Cgroup>> openCgroup(std::string_view cgroupsPath,
                                             std::string_view containerId) {
  TRY(CgroupPlan plan, planCgroupfsCgroup(cgroupsPath, containerId));
  std::erase_if(plan.hierarchies, [](const Hierarchy& h) { return !pathExists(h.leaf); });
  if (plan.hierarchies.empty())
    return makeError(ErrorCode::kNotFound,
                     fmt::format("cgroup {} does not exist in any hierarchy", plan.path));
  return std::make_unique<CgroupfsCgroup>(plan.path, plan.mode, std::move(plan.hierarchies));
}

}  // namespace runwasi::sandbox
