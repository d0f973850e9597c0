// The cgroupfs driver on this machine's real hierarchies: directories in each, limits read
// back from the kernel's files, children that join, hit the limits and get counted, and a
// destroy that leaves nothing. Runs as root; each test uses its own "/runwasi-test/<id>".
#include "sandbox/cgroup.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "common/file.h"

namespace runwasi::sandbox {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string readString(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// The mount points of the hierarchies a cgroup lives in on this machine.
std::vector<fs::path> hierarchyRoots() {
  std::vector<fs::path> roots;
  std::ifstream in("/proc/self/mountinfo");
  bool v2 = detectCgroupMode().value_or(CgroupMode::kV1) == CgroupMode::kV2;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string w; fields >> w;) f.push_back(w);
    auto dash = std::find(f.begin(), f.end(), "-");
    if (dash == f.end() || dash + 1 == f.end()) continue;
    if (dash[1] == "cgroup2" && (!v2 || f[4] == "/sys/fs/cgroup")) roots.push_back(f[4]);
    if (dash[1] == "cgroup" && !v2) roots.push_back(f[4]);
  }
  return roots;
}

fs::path in(const fs::path& root, std::string_view cgroup) {
  return root / fs::path(cgroup).relative_path();
}

// "/runwasi-test/<pid>-<random>": one per test, so that tests may run in parallel.
std::string uniqueParent() {
  static std::mt19937_64 rng(std::random_device{}());
  return fmt::format("/runwasi-test/{}-{:x}", ::getpid(), rng() & 0xffffff);
}

// Destroys the cgroup when the test ends, however it ends.
struct CgroupGuard {
  std::unique_ptr<Cgroup> cgroup;
  ~CgroupGuard() {
    if (cgroup) (void)cgroup->destroy();
  }
  Cgroup* operator->() { return cgroup.get(); }
};

CgroupGuard create(std::string_view path, const oci::Resources& resources = {}) {
  auto cgroup = createCgroup(CgroupDriver::kCgroupfs, path, "test", resources);
  EXPECT_TRUE(cgroup) << (cgroup ? "" : cgroup.error().message);
  return CgroupGuard{cgroup ? std::move(*cgroup) : nullptr};
}

bool hasMemsw(const CgroupGuard& cg) {
  return fs::exists(in("/sys/fs/cgroup/memory", cg.cgroup->path()) / "memory.memsw.limit_in_bytes");
}

// A child that joins the cgroup by writing "0" to each cgroup.procs fd, then runs `body`
// (its return value is the exit status). It reports "joined" on a pipe; the parent waits
// for that before returning.
pid_t forkInto(const Cgroup& cgroup, const std::function<int()>& body) {
  auto fds = cgroup.openProcsFiles();
  EXPECT_TRUE(fds) << (fds ? "" : fds.error().message);
  if (!fds) return -1;
  int sync[2];
  if (::pipe2(sync, O_CLOEXEC) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(sync[0]);
    for (const UniqueFd& fd : *fds) {
      if (::write(fd.get(), "0", 1) != 1) ::_exit(100);
    }
    char joined = 'j';
    if (::write(sync[1], &joined, 1) != 1) ::_exit(101);
    ::close(sync[1]);
    ::_exit(body());
  }
  ::close(sync[1]);
  char joined = 0;
  EXPECT_EQ(::read(sync[0], &joined, 1), 1) << "the child could not join";
  ::close(sync[0]);
  return pid;
}

int waitStatus(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

// --- detectCgroupMode -------------------------------------------------------------------

constexpr std::string_view kV1Mountinfo =
    "25 18 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
    "26 25 0:23 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
    "29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    "30 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
constexpr std::string_view kHybridMountinfo =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
constexpr std::string_view kV2Mountinfo =
    "22 21 0:19 / /proc rw - proc proc rw\n"
    "30 24 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";

TEST(CgroupModeTest, DetectsV1HybridAndV2FromMountinfo) {
  EXPECT_EQ(detectCgroupMode(kV1Mountinfo).value(), CgroupMode::kV1);
  EXPECT_EQ(detectCgroupMode(kHybridMountinfo).value(), CgroupMode::kHybrid);
  EXPECT_EQ(detectCgroupMode(kV2Mountinfo).value(), CgroupMode::kV2);
  auto none = detectCgroupMode("22 21 0:19 / /proc rw - proc proc rw\n");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(cgroupModeName(CgroupMode::kHybrid), "hybrid");
}

TEST(CgroupModeTest, DetectsThisMachine) {
  auto mode = detectCgroupMode();
  ASSERT_TRUE(mode) << mode.error().message;
  std::cout << "this machine's cgroups: " << cgroupModeName(*mode) << "\n";
}

// Priming moves this process into the cgroups it is already in: nothing changes.
// Each mounted hierarchy is named as in /proc/self/cgroup, and the unified one is there
// exactly when the machine mounts it (hybrid or v2).
TEST(CgroupModeTest, MountedHierarchiesAreNamedAsProcSelfCgroupNamesThem) {
  std::vector<std::string> hierarchies = mountedCgroupHierarchies();
  ASSERT_FALSE(hierarchies.empty());
  std::set<std::string> listed;
  std::ifstream cgroup("/proc/self/cgroup");
  for (std::string line; std::getline(cgroup, line);) {
    size_t first = line.find(':');
    listed.insert(line.substr(first + 1, line.find(':', first + 1) - first - 1));
  }
  for (const std::string& hierarchy : hierarchies)
    EXPECT_TRUE(listed.contains(hierarchy)) << "\"" << hierarchy << "\" not in /proc/self/cgroup";
  bool unified = std::find(hierarchies.begin(), hierarchies.end(), "") != hierarchies.end();
  EXPECT_EQ(unified, detectCgroupMode().value() != CgroupMode::kV1);
}

TEST(CgroupTest, PrimingMigrationLeavesThisProcessWhereItWas) {
  auto before = readFile("/proc/self/cgroup");
  ASSERT_TRUE(before) << before.error().message;
  auto primed = primeCgroupMigration();
  ASSERT_TRUE(primed) << primed.error().message;
  auto after = readFile("/proc/self/cgroup");
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(*after, *before);
}

TEST(CgroupConversionTest, SharesToWeightAndSwapAsRuncDoes) {
  EXPECT_EQ(cpuSharesToWeight(2), 1u);
  EXPECT_EQ(cpuSharesToWeight(1024), 39u);
  EXPECT_EQ(cpuSharesToWeight(262144), 10000u);
  EXPECT_EQ(memorySwapMaxV2(100, 300).value(), "200");
  EXPECT_EQ(memorySwapMaxV2(100, 100).value(), "0");
  EXPECT_EQ(memorySwapMaxV2(100, -1).value(), "max");
  EXPECT_EQ(memorySwapMaxV2(-1, 0).value(), "max");
  EXPECT_EQ(memorySwapMaxV2(100, 0).value(), "");
  auto below = memorySwapMaxV2(300, 100);
  ASSERT_FALSE(below);
  EXPECT_NE(below.error().message.find("linux.resources.memory.swap"), std::string::npos);
}

// --- creation, paths, destroy -----------------------------------------------------------

TEST(CgroupTest, CreatesInEveryHierarchyAndDestroyRemovesOnlyWhatItMade) {
  std::string parent = uniqueParent();
  CgroupGuard a = create(parent + "/a");
  CgroupGuard b = create(parent + "/b");
  ASSERT_TRUE(a.cgroup && b.cgroup);
  EXPECT_EQ(a->path(), parent + "/a");
  auto roots = hierarchyRoots();
  ASSERT_FALSE(roots.empty());
  for (const fs::path& root : roots) {
    EXPECT_TRUE(fs::is_directory(in(root, parent + "/a"))) << root;
    EXPECT_TRUE(fs::is_directory(in(root, parent + "/b"))) << root;
  }
  // b did not make the parent: it stays for a. a made it: it goes with a.
  ASSERT_TRUE(b->destroy());
  for (const fs::path& root : roots) {
    EXPECT_FALSE(fs::exists(in(root, parent + "/b"))) << root;
    EXPECT_TRUE(fs::is_directory(in(root, parent))) << root;
  }
  ASSERT_TRUE(a->destroy());
  for (const fs::path& root : roots) EXPECT_FALSE(fs::exists(in(root, parent))) << root;
  EXPECT_TRUE(a->destroy()) << "destroy is idempotent";
}

TEST(CgroupTest, EmptyPathIsRunwasiSlashContainerId) {
  std::string id = "cgtest-" + fs::path(uniqueParent()).filename().string();
  auto created = createCgroup(CgroupDriver::kCgroupfs, "", id, {});
  ASSERT_TRUE(created) << created.error().message;
  CgroupGuard cg{std::move(*created)};
  EXPECT_EQ(cg->path(), "/runwasi/" + id);
  for (const fs::path& root : hierarchyRoots()) {
    EXPECT_TRUE(fs::is_directory(in(root, "/runwasi/" + id))) << root;
  }
  ASSERT_TRUE(cg->destroy());
  for (const fs::path& root : hierarchyRoots()) {
    EXPECT_FALSE(fs::exists(in(root, "/runwasi/" + id))) << root;
  }
}

// What `shim delete` uses: a cgroup that is gone stays gone (nothing made in any
// hierarchy); one a dead shim left, with a process still in it, is found and removed.
TEST(CgroupTest, OpenFindsWhatExistsAndCreatesNothing) {
  std::string parent = uniqueParent();
  std::string path = parent + "/ctr";
  auto absent = openCgroup(path, "x");
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().code, ErrorCode::kNotFound) << absent.error().message;
  EXPECT_NE(absent.error().message.find(path), std::string::npos) << absent.error().message;
  for (const fs::path& root : hierarchyRoots())
    EXPECT_FALSE(fs::exists(in(root, parent))) << root << ": open created a directory";

  CgroupGuard made = create(path);
  ASSERT_TRUE(made.cgroup);
  pid_t child = forkInto(*made.cgroup, [] {
    ::pause();
    return 0;
  });
  ASSERT_GT(child, 0);
  auto opened = openCgroup(path, "x");
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ((*opened)->path(), path);
  auto pids = (*opened)->pids();
  ASSERT_TRUE(pids) << pids.error().message;
  EXPECT_EQ(*pids, std::vector<pid_t>{child});
  ASSERT_TRUE((*opened)->destroy());
  int status = waitStatus(child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the process left in it is killed: status " << status;
  for (const fs::path& root : hierarchyRoots())
    EXPECT_FALSE(fs::exists(in(root, path))) << root;
  EXPECT_TRUE(made->destroy()) << "its creator's destroy still succeeds: the parents go";
  for (const fs::path& root : hierarchyRoots())
    EXPECT_FALSE(fs::exists(in(root, parent))) << root;
}

TEST(CgroupTest, RejectsDotDotAndRootPaths) {
  for (std::string_view path : {"/runwasi-test/../etc", "../x", "/a/./b", "/", "//"}) {
    auto cg = createCgroup(CgroupDriver::kCgroupfs, path, "x", {});
    ASSERT_FALSE(cg) << path;
    EXPECT_EQ(cg.error().code, ErrorCode::kInvalidArgument) << path;
    EXPECT_NE(cg.error().message.find("linux.cgroupsPath"), std::string::npos)
        << cg.error().message;
  }
}

TEST(CgroupTest, ForkedChildJoinsEveryHierarchyByWritingZero) {
  std::string path = uniqueParent() + "/ctr";
  CgroupGuard cg = create(path);
  ASSERT_TRUE(cg.cgroup);
  auto fds = cg->openProcsFiles();
  ASSERT_TRUE(fds) << fds.error().message;
  EXPECT_EQ(fds->size(), hierarchyRoots().size());
  pid_t child = forkInto(*cg.cgroup, [] {
    ::pause();
    return 0;
  });
  ASSERT_GT(child, 0);
  std::string own = readString(fmt::format("/proc/{}/cgroup", child));
  ::kill(child, SIGKILL);
  waitStatus(child);
  // Every line, v1 controllers, named hierarchies and the unified "0::" line alike.
  std::istringstream lines(own);
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    EXPECT_TRUE(line.ends_with(":" + path)) << line;
  }
  EXPECT_EQ(count, static_cast<int>(hierarchyRoots().size())) << own;
}

TEST(CgroupTest, RelativePathIsUnderTheCallersOwnCgroup) {
  std::string relative = fs::path(uniqueParent()).filename().string() + "/ctr";
  auto created = createCgroup(CgroupDriver::kCgroupfs, relative, "x", {});
  ASSERT_TRUE(created) << created.error().message;
  CgroupGuard cg{std::move(*created)};
  std::string mine = readString("/proc/self/cgroup");
  pid_t child = forkInto(*cg.cgroup, [] {
    ::pause();
    return 0;
  });
  ASSERT_GT(child, 0);
  std::string theirs = readString(fmt::format("/proc/{}/cgroup", child));
  ::kill(child, SIGKILL);
  waitStatus(child);
  std::istringstream a(mine), b(theirs);
  for (std::string ours, child; std::getline(a, ours) && std::getline(b, child);) {
    std::string expected = ours.ends_with("/") ? ours + relative : ours + "/" + relative;
    EXPECT_EQ(child, expected);
  }
  ASSERT_TRUE(cg->destroy());
  EXPECT_EQ(readString(fmt::format("/proc/{}/cgroup", ::getpid())), mine);
}

TEST(CgroupTest, DestroyKillsLeftoversEvenWhenFrozen) {
  CgroupGuard cg = create(uniqueParent() + "/ctr");
  ASSERT_TRUE(cg.cgroup);
  pid_t child = forkInto(*cg.cgroup, [] {
    if (::fork() == 0) ::pause();  // a grandchild we do not wait for
    ::pause();
    return 0;
  });
  ASSERT_GT(child, 0);
  for (int i = 0; i < 100 && cg->pids().value().size() < 2; ++i) ::usleep(2000);
  EXPECT_EQ(cg->pids().value().size(), 2u);
  fs::path freezer = in("/sys/fs/cgroup/freezer", cg->path()) / "freezer.state";
  if (fs::exists(freezer)) {
    std::ofstream(freezer) << "FROZEN";
  }
  auto started = Clock::now();
  ASSERT_TRUE(cg->destroy());
  std::cout << "destroy with 2 processes (frozen): "
            << std::chrono::duration<double, std::milli>(Clock::now() - started).count() << " ms\n";
  EXPECT_TRUE(WIFSIGNALED(waitStatus(child)));
  for (const fs::path& root : hierarchyRoots()) {
    EXPECT_FALSE(fs::exists(in(root, cg->path()))) << root;
  }
}

// --- resources --------------------------------------------------------------------------

TEST(CgroupTest, AppliesLimitsAndTheKernelHasThem) {
  CgroupGuard cg = create(uniqueParent() + "/ctr");
  ASSERT_TRUE(cg.cgroup);
  bool v2 = detectCgroupMode().value() == CgroupMode::kV2;
  oci::Resources r;
  r.memoryLimit = 64 << 20;
  r.memoryReservation = 32 << 20;
  r.memorySwap = 128 << 20;
  r.memorySwappiness = 10;
  r.cpuShares = 512;
  r.cpuQuota = 50000;
  r.cpuPeriod = 100000;
  r.cpusetCpus = "0";
  r.cpusetMems = "0";
  r.pidsLimit = 10;
  r.devices = {{false, "a", {}, {}, "rwm"}, {true, "c", 1, 3, "rwm"}, {true, "c", {}, {}, "m"}};
  auto applied = cg->apply(r);
  ASSERT_TRUE(applied) << applied.error().message;
  auto file = [&](std::string_view controller, std::string_view name) {
    return readString(
        in(v2 ? "/sys/fs/cgroup" : fs::path("/sys/fs/cgroup") / controller, cg->path()) / name);
  };
  if (v2) {
    EXPECT_EQ(file("", "memory.max"), std::to_string(64 << 20));
    EXPECT_EQ(file("", "memory.low"), std::to_string(32 << 20));
    EXPECT_EQ(file("", "cpu.weight"), "20");
    EXPECT_EQ(file("", "cpu.max"), "50000 100000");
  } else {
    EXPECT_EQ(file("memory", "memory.limit_in_bytes"), std::to_string(64 << 20));
    EXPECT_EQ(file("memory", "memory.soft_limit_in_bytes"), std::to_string(32 << 20));
    if (hasMemsw(cg)) {
      EXPECT_EQ(file("memory", "memory.memsw.limit_in_bytes"), std::to_string(128 << 20));
    }
    EXPECT_EQ(file("memory", "memory.swappiness"), "10");
    EXPECT_EQ(file("cpu", "cpu.shares"), "512");
    EXPECT_EQ(file("cpu", "cpu.cfs_quota_us"), "50000");
    EXPECT_EQ(file("cpu", "cpu.cfs_period_us"), "100000");
    EXPECT_EQ(file("devices", "devices.list"), "c 1:3 rwm\nc *:* m");
  }
  EXPECT_EQ(file("cpuset", "cpuset.cpus"), "0");
  EXPECT_EQ(file("cpuset", "cpuset.mems"), "0");
  EXPECT_EQ(file("pids", "pids.max"), "10");

  // Update: pids unlimited, memory lowered then raised (memsw has to stay >= the limit, so
  // the two writes go in opposite orders).
  oci::Resources lower;
  lower.pidsLimit = 0;
  lower.memoryLimit = 16 << 20;
  lower.memorySwap = 24 << 20;
  ASSERT_TRUE(cg->apply(lower));
  EXPECT_EQ(file("pids", "pids.max"), "max");
  oci::Resources higher;
  higher.memoryLimit = 256 << 20;
  higher.memorySwap = 512 << 20;
  auto raised = cg->apply(higher);
  ASSERT_TRUE(raised) << raised.error().message;
  if (!v2) {
    EXPECT_EQ(file("memory", "memory.limit_in_bytes"), std::to_string(256 << 20));
    if (hasMemsw(cg)) {
      EXPECT_EQ(file("memory", "memory.memsw.limit_in_bytes"), std::to_string(512 << 20));
    }
  }
}

TEST(CgroupTest, UnifiedFilesGoToTheUnifiedHierarchy) {
  auto mode = detectCgroupMode().value();
  CgroupGuard cg = create(uniqueParent() + "/ctr");
  ASSERT_TRUE(cg.cgroup);
  oci::Resources r;
  r.unified = {{"cgroup.max.descendants", "5"}};
  auto applied = cg->apply(r);
  if (mode == CgroupMode::kV1) {
    ASSERT_FALSE(applied);
    EXPECT_NE(applied.error().message.find("linux.resources.unified"), std::string::npos);
    return;
  }
  ASSERT_TRUE(applied) << applied.error().message;
  fs::path root = mode == CgroupMode::kV2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
  EXPECT_EQ(readString(in(root, cg->path()) / "cgroup.max.descendants"), "5");
}

struct InvalidCase {
  std::string field;
  std::function<void(oci::Resources&)> set;
};

TEST(CgroupTest, InvalidValuesNameTheFieldAndLeaveNothingBehind) {
  bool v2 = detectCgroupMode().value() == CgroupMode::kV2;
  std::vector<InvalidCase> cases = {
      {"linux.resources.memory.limit", [](auto& r) { r.memoryLimit = -5; }},
      {"linux.resources.cpu.quota", [](auto& r) { r.cpuQuota = 500; }},
      {"linux.resources.cpu.cpus", [](auto& r) { r.cpusetCpus = "4095"; }},
      {"linux.resources.unified[\"no.such.file\"]",
       [](auto& r) {
         r.unified = {{"no.such.file", "1"}};
       }},
      {"linux.resources.unified[\"../x\"]",  // everything valid until the unified file
       [](auto& r) {
         r.pidsLimit = 5;
         r.cpusetCpus = "0";
         r.memoryLimit = 1 << 30;
         r.unified = {{"../x", "1"}};
       }},
  };
  if (!v2) {
    cases.push_back(
        {"linux.resources.memory.swappiness", [](auto& r) { r.memorySwappiness = 150; }});
    cases.push_back({"linux.resources.cpu.shares", [](auto& r) { r.cpuShares = 1; }});
    cases.push_back({"linux.resources.devices[1]", [](auto& r) {
                       r.devices = {{false, "a", {}, {}, "rwm"}, {true, "x", 1, 3, "rwm"}};
                     }});
  }
  for (const InvalidCase& c : cases) {
    std::string parent = uniqueParent();
    oci::Resources r;
    c.set(r);
    auto cg = createCgroup(CgroupDriver::kCgroupfs, parent + "/ctr", "x", r);
    CgroupGuard guard{cg ? std::move(*cg) : nullptr};
    ASSERT_FALSE(cg) << c.field << " was accepted";
    EXPECT_TRUE(cg.error().message.starts_with(c.field + ":")) << cg.error().message;
    EXPECT_EQ(cg.error().code, ErrorCode::kInvalidArgument) << cg.error().message;
    std::cout << c.field << " -> " << cg.error().message << "\n";
    for (const fs::path& root : hierarchyRoots()) {
      EXPECT_FALSE(fs::exists(in(root, parent))) << root << " after " << c.field;
    }
  }
}

// A child body that touches 64 MiB: past the 16 MiB limits below, the OOM killer ends it.
int touch64MiB() {
  size_t size = 64 << 20;
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 2;
  std::memset(p, 1, size);
  return 0;
}

TEST(CgroupTest, MemoryLimitOomKillsTheChildAndIsCounted) {
  oci::Resources r;
  r.memoryLimit = 16 << 20;
  r.memorySwap = 16 << 20;  // no swapping out of the limit
  CgroupGuard cg = create(uniqueParent() + "/ctr", r);
  ASSERT_TRUE(cg.cgroup);
  EXPECT_EQ(cg->oomKillCount().value(), 0u);
  pid_t child = forkInto(*cg.cgroup, touch64MiB);
  ASSERT_GT(child, 0);
  int status = waitStatus(child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_GE(cg->oomKillCount().value(), 1u);
  auto stats = cg->stats();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_GE(stats->oomKills, 1u);
  EXPECT_EQ(stats->memoryLimit, 16u << 20);
  EXPECT_GT(stats->memoryMaxUsage, 8u << 20);
}

TEST(CgroupTest, OomNotifierFiresWhenTheKillerActs) {
  oci::Resources r;
  r.memoryLimit = 16 << 20;
  r.memorySwap = 16 << 20;
  CgroupGuard cg = create(uniqueParent() + "/ctr", r);
  ASSERT_TRUE(cg.cgroup);
  auto notifier = cg->oomNotifier();
  ASSERT_TRUE(notifier) << notifier.error().message;
  pollfd quiet{notifier->get(), POLLIN, 0};
  EXPECT_EQ(::poll(&quiet, 1, 100), 0) << "the notifier fired with no OOM";
  pid_t child = forkInto(*cg.cgroup, touch64MiB);
  ASSERT_GT(child, 0);
  int status = waitStatus(child);
  ASSERT_TRUE(WIFSIGNALED(status));
  pollfd fired{notifier->get(), POLLIN, 0};
  EXPECT_EQ(::poll(&fired, 1, 2000), 1) << "no OOM notification";
}

TEST(CgroupTest, FreezeStopsTheProcessesAndThawLetsThemGo) {
  CgroupGuard cg = create(uniqueParent() + "/ctr");
  ASSERT_TRUE(cg.cgroup);
  // The child counts in shared memory as fast as it can.
  auto* counter = static_cast<volatile uint64_t*>(
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(counter, MAP_FAILED);
  pid_t child = forkInto(*cg.cgroup, [counter] {
    for (;;) *counter = *counter + 1;
    return 0;
  });
  ASSERT_GT(child, 0);
  ASSERT_TRUE(cg->setFrozen(true));
  fs::path freezer = in("/sys/fs/cgroup/freezer", cg->path()) / "freezer.state";
  if (fs::exists(freezer)) {
    EXPECT_EQ(readString(freezer), "FROZEN");
  }
  uint64_t frozenAt = *counter;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(*counter, frozenAt) << "a frozen process ran";
  ASSERT_TRUE(cg->setFrozen(false));
  if (fs::exists(freezer)) {
    EXPECT_EQ(readString(freezer), "THAWED");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_GT(*counter, frozenAt) << "a thawed process did not run";
  ::kill(child, SIGKILL);
  waitStatus(child);
  ::munmap(const_cast<uint64_t*>(counter), 4096);
}

TEST(CgroupTest, PidsLimitStopsForksAtTheLimit) {
  oci::Resources r;
  r.pidsLimit = 3;
  CgroupGuard cg = create(uniqueParent() + "/ctr", r);
  ASSERT_TRUE(cg.cgroup);
  pid_t child = forkInto(*cg.cgroup, [] {
    for (int forked = 0; forked < 10; ++forked) {
      pid_t pid = ::fork();
      if (pid == 0) {
        ::pause();
        ::_exit(0);
      }
      if (pid < 0) return errno == EAGAIN ? forked : 100 + errno;
    }
    return 99;
  });
  ASSERT_GT(child, 0);
  int status = waitStatus(child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2) << "the child and two grandchildren make 3";
  auto stats = cg->stats();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->pidsLimit, 3u);
  EXPECT_EQ(stats->pidsCurrent, 2u) << "the grandchildren";
  auto left = cg->pids().value();
  ASSERT_EQ(left.size(), 2u);
  ASSERT_TRUE(cg->destroy());
  for (pid_t pid : left) {
    // Reparented to PID 1: gone, or a zombie waiting for it.
    std::string stat = readString(fmt::format("/proc/{}/stat", pid));
    EXPECT_TRUE(stat.empty() || stat.find(") Z ") != std::string::npos) << stat;
  }
}

TEST(CgroupTest, StatsCountTheChildsCpuAndMemory) {
  oci::Resources r;
  r.pidsLimit = 100;
  r.memoryLimit = 256 << 20;
  CgroupGuard cg = create(uniqueParent() + "/ctr", r);
  ASSERT_TRUE(cg.cgroup);
  pid_t child = forkInto(*cg.cgroup, [] {
    size_t size = 8 << 20;
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 2;
    std::memset(p, 1, size);
    timespec t{};
    volatile uint64_t spin = 0;
    do {
      for (int i = 0; i < 100000; ++i) spin = spin + 1;
      ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    } while (t.tv_sec == 0 && t.tv_nsec < 100'000'000);
    return 0;
  });
  ASSERT_GT(child, 0);
  ASSERT_EQ(waitStatus(child), 0);
  auto stats = cg->stats();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_GE(stats->cpuUsageNs, 50'000'000u);
  EXPECT_GT(stats->cpuUserNs, 0u);
  EXPECT_GE(stats->memoryMaxUsage, 8u << 20);
  EXPECT_EQ(stats->memoryLimit, 256u << 20);
  EXPECT_EQ(stats->pidsLimit, 100u);
  EXPECT_EQ(stats->pidsCurrent, 0u);
  EXPECT_EQ(stats->oomKills, 0u);
  ASSERT_TRUE(cg->destroy());
  EXPECT_FALSE(cg->stats()) << "no stats for a destroyed cgroup";
}

TEST(CgroupTest, SystemdDriverExplainsWhyItCannotRun) {
  if (fs::exists("/run/systemd/system")) GTEST_SKIP() << "systemd is PID 1 here";
  auto cg = createCgroup(CgroupDriver::kSystemd, "system.slice:runwasi:x", "x", {});
  ASSERT_FALSE(cg);
  EXPECT_EQ(cg.error().code, ErrorCode::kFailedPrecondition);
  std::string comm = readString("/proc/1/comm");
  EXPECT_NE(cg.error().message.find("needs systemd as PID 1; this machine's PID 1 is " + comm +
                                    ": set SystemdCgroup = false"),
            std::string::npos)
      << cg.error().message;
}

TEST(CgroupTest, CreateApplyDestroyTakesMilliseconds) {
  constexpr int kRounds = 20;
  oci::Resources r;
  r.memoryLimit = 64 << 20;
  r.cpuShares = 512;
  r.pidsLimit = 100;
  r.devices = {{false, "a", {}, {}, "rwm"}, {true, "c", 1, 3, "rwm"}};
  std::string parent = uniqueParent();
  auto started = Clock::now();
  for (int i = 0; i < kRounds; ++i) {
    auto cg = createCgroup(CgroupDriver::kCgroupfs, fmt::format("{}/c{}", parent, i), "x", r);
    ASSERT_TRUE(cg) << cg.error().message;
    ASSERT_TRUE((*cg)->destroy());
  }
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  std::cout << "create+apply+destroy: " << ms / kRounds << " ms per cgroup\n";
  for (const fs::path& root : hierarchyRoots()) EXPECT_FALSE(fs::exists(in(root, parent)));
}

}  // namespace
}  // namespace runwasi::sandbox
