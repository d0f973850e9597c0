// The sandbox through TaskService: full OCI specs with a linux section (as `ctr oci spec`
// writes them), native programs (busybox, the static sandbox_probe) and Wasm modules
// (sandbox_probe.wasm) run by the real zygote, what they see from inside, the cgroup's
// limits, stats and OOM kills, and Create failing with the spec field named. Every test
// also checks that nothing is left: no process, no cgroup, no mount under the bundles.
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "../support/scratch_dir.h"
#include "common/file.h"
#include "common/log.h"
#include "common/unique_fd.h"
#include "github.com/containerd/cgroups/stats/v1/metrics.pb.h"
#include "sandbox/cgroup.h"
#include "task_service_fixture.h"

namespace runwasi::shim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

[[maybe_unused]] const bool kUsesZygote = registerZygoteSuite("SandboxTaskTest");

bool contains(const std::vector<std::string>& values, const std::string& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

struct Probe {
  const char* name;
  bool native;
};
constexpr Probe kProbes[] = {{"native", true}, {"wasm", false}};

// This process's cgroup in each hierarchy: "ID:CONTROLLERS" -> path.
std::map<std::string, std::string> ownCgroups() {
  std::map<std::string, std::string> out;
  std::ifstream cgroup("/proc/self/cgroup");
  for (std::string line; std::getline(cgroup, line);) {
    size_t colon = line.find(':', line.find(':') + 1);
    if (colon != std::string::npos) out[line.substr(0, colon)] = line.substr(colon + 1);
  }
  return out;
}

// The value of a line of this process's /proc/self/status, tabs as the probe prints them.
std::string ownStatusField(const std::string& field) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (!line.starts_with(field + ":")) continue;
    std::string value = line.substr(field.size() + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    std::replace(value.begin(), value.end(), '\t', ' ');
    return value;
  }
  return "(no " + field + " line)";
}

class SandboxTaskTest : public TaskServiceFixture {
 protected:
  // A full spec running the probe (native or Wasm) with `args`, and the bundle for it.
  static json probeSpec(const std::string& id, bool native, std::vector<std::string> args = {}) {
    args.insert(args.begin(), native ? "/sandbox_probe" : "/sandbox_probe.wasm");
    return ociSpec(id, std::move(args));
  }
  static Bundle probeBundle(json spec, bool native) {
    return native ? withSpec(std::move(spec), {{nativeProbePath(), "/sandbox_probe"}})
                  : withSpec(std::move(spec), {}, "sandbox_probe");
  }

  // Creates, starts, waits for and deletes task `id`; its stdout, and its exit status in
  // `status`. Checks that Delete left nothing behind.
  std::string run(const std::string& id, const Bundle& bundle, uint32_t* status = nullptr) {
    auto created = create(id, bundle);
    EXPECT_TRUE(created) << created.error().message;
    if (!created) return "";
    uint32_t exit = runToExit(id);
    if (status) *status = exit;
    expectNothingLeft(id);
    return out(id);
  }

  // No task, no process but the zygote, no cgroup of `id`, no mount under the bundles.
  void expectNothingLeft(const std::string& id) {
    EXPECT_EQ(service_->taskCount(), 0u);
    EXPECT_EQ(childrenOfThisProcess().size(), 1u) << "a process was left behind";
    EXPECT_EQ(cgroupDirs(cgroupsPathFor(id)), std::vector<fs::path>{}) << "cgroup left behind";
    EXPECT_EQ(mountsUnder(scratch_.path()), std::vector<std::string>{}) << "mount left behind";
  }
};

TEST_F(SandboxTaskTest, NativeShellRunsInAFullSandbox) {
  uint32_t status = 0;
  std::string out =
      run("shell", withSpec(ociSpec("shell", {"/bin/sh", "-c", "echo ok; exit 3"}), busyboxFiles()),
          &status);
  EXPECT_EQ(status, 3u);
  EXPECT_EQ(out, "ok\n");
  EXPECT_EQ(err("shell"), "");
}

TEST_F(SandboxTaskTest, ProbeSeesItsSandbox) {
  for (const Probe& probe : kProbes) {
    SCOPED_TRACE(probe.name);
    std::string id = fmt::format("probe-{}", probe.name);
    json spec = probeSpec(id, probe.native);
    spec["hostname"] = "probe-host";
    spec["process"]["env"] = {"PATH=/usr/bin:/bin", "GREETING=hello world", "EMPTY="};
    spec["process"]["user"]["umask"] = 027;
    uint32_t status = 1;
    std::string text = run(id, probeBundle(spec, probe.native), &status);
    ASSERT_EQ(status, 0u) << err(id);
    Report report = parseReport(text);

    EXPECT_EQ(one(report, "pid"), "1");
    EXPECT_EQ(one(report, "hostname"), "probe-host");
    for (const char* mount : {"/proc proc", "/dev tmpfs", "/dev/pts devpts", "/dev/shm tmpfs",
                              "/dev/mqueue mqueue", "/sys sysfs", "/run tmpfs"})
      EXPECT_TRUE(contains(report["mount"], mount)) << mount << " not in\n" << text;
    // The cgroup mount as the host has it: one cgroup2 on a unified host, a tmpfs holding
    // a mount per hierarchy on a v1 or hybrid one.
    if (sandbox::detectCgroupMode() == sandbox::CgroupMode::kV2) {
      EXPECT_TRUE(contains(report["mount"], "/sys/fs/cgroup cgroup2")) << text;
    } else {
      EXPECT_TRUE(contains(report["mount"], "/sys/fs/cgroup tmpfs")) << text;
      EXPECT_TRUE(std::any_of(report["mount"].begin(), report["mount"].end(), [](const auto& m) {
        return m.starts_with("/sys/fs/cgroup/") && m.ends_with(" cgroup");
      })) << text;
    }
    for (const char* dev : {"null chr", "zero chr", "full chr", "random chr", "urandom chr",
                            "tty chr", "pts dir", "shm dir", "mqueue dir", "ptmx lnk -> pts/ptmx",
                            "fd lnk -> /proc/self/fd", "stdin lnk -> /proc/self/fd/0"})
      EXPECT_TRUE(contains(report["dev"], dev)) << dev << " not in\n" << text;
    EXPECT_EQ(one(report, "uid"), "0 0 0 0");
    EXPECT_EQ(one(report, "gid"), "0 0 0 0");
    EXPECT_EQ(one(report, "CapEff"), kDefaultCapabilitiesMask);
    EXPECT_EQ(one(report, "CapPrm"), kDefaultCapabilitiesMask);
    EXPECT_EQ(one(report, "CapBnd"), kDefaultCapabilitiesMask);
    EXPECT_EQ(one(report, "CapAmb"), "0000000000000000");
    EXPECT_EQ(one(report, "NoNewPrivs"), "1");
    // No filter of the spec's: the container has exactly the filters this process runs
    // under (none on most hosts; a CI runner may itself run under one, and filters are
    // inherited by every descendant).
    EXPECT_EQ(one(report, "Seccomp"), ownStatusField("Seccomp"));
    EXPECT_EQ(one(report, "Seccomp_filters"), ownStatusField("Seccomp_filters"));
    EXPECT_EQ(one(report, "umask"), "0027");
    EXPECT_EQ(one(report, "rlimit NOFILE"), "1024 1024");

    // The spec's environment exactly; a native process also gets HOME, as runc gives it.
    std::vector<std::string> env = spec["process"]["env"];
    if (probe.native) env.push_back("HOME=/");
    EXPECT_EQ(report["env"], env);

    // Its own cgroup in every hierarchy mounted here (no cgroup namespace: full paths); in
    // a hierarchy the host has but this mount namespace cannot reach (a CI runner's, say),
    // the cgroup it was started in, as this process's.
    const std::vector<std::string>& cgroups = report["cgroup"];
    EXPECT_FALSE(cgroups.empty()) << text;
    std::vector<std::string> hierarchies = sandbox::mountedCgroupHierarchies();
    std::set<std::string> mounted(hierarchies.begin(), hierarchies.end());
    std::map<std::string, std::string> own = ownCgroups();
    for (const std::string& line : cgroups) {
      std::string hierarchy = line.substr(0, line.rfind(':'));
      if (mounted.contains(hierarchy.substr(hierarchy.find(':') + 1)))
        EXPECT_TRUE(line.ends_with(":" + cgroupsPathFor(id))) << line;
      else
        EXPECT_EQ(line, hierarchy + ":" + own[hierarchy]) << line;
    }

    // New pid, net, ipc, uts and mount namespaces: none is the shim's.
    for (const char* ns : {"pid", "net", "ipc", "uts", "mnt"}) {
      std::string ours = fs::read_symlink(fmt::format("/proc/self/ns/{}", ns)).string();
      EXPECT_NE(one(report, fmt::format("ns {}", ns)), ours) << ns;
      EXPECT_TRUE(one(report, fmt::format("ns {}", ns)).starts_with(std::string(ns) + ":["))
          << one(report, fmt::format("ns {}", ns));
    }
    // No cgroup namespace in the spec: the shim's.
    EXPECT_EQ(one(report, "ns cgroup"), fs::read_symlink("/proc/self/ns/cgroup").string());
  }
}

TEST_F(SandboxTaskTest, UserAndGroupsSwitch) {
  for (const Probe& probe : kProbes) {
    SCOPED_TRACE(probe.name);
    std::string id = fmt::format("user-{}", probe.name);
    json spec = probeSpec(id, probe.native);
    spec["process"]["user"] = {{"uid", 1000}, {"gid", 1000}, {"additionalGids", {5}}};
    uint32_t status = 1;
    Report report = parseReport(run(id, probeBundle(spec, probe.native), &status));
    ASSERT_EQ(status, 0u) << err(id);
    EXPECT_EQ(one(report, "uid"), "1000 1000 1000 1000");
    EXPECT_EQ(one(report, "gid"), "1000 1000 1000 1000");
    EXPECT_EQ(one(report, "groups"), "5");
    EXPECT_EQ(one(report, "CapBnd"), kDefaultCapabilitiesMask);
  }
}

// A file of root's, mode 0600, at /secret in the rootfs.
RootfsFile secretFile(const fs::path& dir) {
  fs::path source = dir / "secret";
  std::ofstream(source) << "root only\n";
  fs::permissions(source, fs::perms::owner_read | fs::perms::owner_write);
  return {source, "/secret"};
}

// As under runc: a process that is not root has no capabilities after execve (none is
// ambient), whatever the spec's effective set, so root's files stay closed to it.
TEST_F(SandboxTaskTest, NativeNonRootHasNoCapabilitiesAfterExec) {
  json spec = probeSpec("nonroot", true);
  spec["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
  uint32_t status = 1;
  Report report = parseReport(run("nonroot", probeBundle(spec, true), &status));
  ASSERT_EQ(status, 0u) << err("nonroot");
  EXPECT_EQ(one(report, "CapEff"), "0000000000000000");
  EXPECT_EQ(one(report, "CapPrm"), "0000000000000000");

  spec = probeSpec("nonroot-read", true, {"read", "/secret"});
  spec["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
  Bundle bundle = probeBundle(spec, true);
  bundle.files.push_back(secretFile(scratch_.path()));
  EXPECT_EQ(run("nonroot-read", bundle, &status), "read /secret: Permission denied\n");
  EXPECT_EQ(status, 1u);
}

// The same for a module: the engine runs it in the container process, with no execve, so
// the capabilities the spec lists stay effective for the host calls made on its behalf.
TEST_F(SandboxTaskTest, WasmNonRootHasNoCapabilities) {
  json spec = probeSpec("wasm-nonroot", false);
  spec["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
  uint32_t status = 1;
  Report report = parseReport(run("wasm-nonroot", probeBundle(spec, false), &status));
  ASSERT_EQ(status, 0u) << err("wasm-nonroot");
  EXPECT_EQ(one(report, "CapEff"), "0000000000000000");

  spec = probeSpec("wasm-nonroot-read", false, {"read", "/secret"});
  spec["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
  Bundle bundle = probeBundle(spec, false);
  bundle.files.push_back(secretFile(scratch_.path()));
  EXPECT_EQ(run("wasm-nonroot-read", bundle, &status), "read /secret: Permission denied\n");
  EXPECT_EQ(status, 1u);
}

// containerd's spec denies every device in the devices cgroup and relies on the runtime
// to allow the ones it creates (runc appends its default allow list: null, zero, full,
// random, urandom, tty, ptmx, pts, and mknod of any).
TEST_F(SandboxTaskTest, DefaultDevicesAreUsable) {
  uint32_t status = 9;
  std::string out =
      run("devices",
          withSpec(ociSpec("devices", {"/bin/sh", "-c",
                                       "echo x > /dev/null && head -c 4 /dev/urandom | wc -c && "
                                       "head -c 3 /dev/zero | wc -c && ! echo x > /dev/full"}),
                   busyboxFiles()),
          &status);
  EXPECT_EQ(out, "4\n3\n");
  EXPECT_EQ(status, 0u) << err("devices");
}

TEST_F(SandboxTaskTest, StatsReportTheCgroupsLimits) {
  constexpr int64_t kMemoryLimit = 96 * 1024 * 1024;
  constexpr int64_t kPidsLimit = 17;
  json spec = ociSpec("stats", {"/sleep.wasm", "60000"});
  spec["linux"]["resources"]["memory"] = {{"limit", kMemoryLimit}};
  spec["linux"]["resources"]["pids"] = {{"limit", kPidsLimit}};
  auto created = create("stats", withSpec(spec, {}, "sleep"));
  ASSERT_TRUE(created) << created.error().message;

  taskv2::StatsRequest request;
  request.set_id("stats");
  auto stats = service_->stats(request);
  ASSERT_TRUE(stats) << stats.error().message;
  auto mode = sandbox::detectCgroupMode();
  ASSERT_TRUE(mode) << mode.error().message;
  if (*mode == sandbox::CgroupMode::kV2) {
    EXPECT_EQ(stats->stats().type_url(), "io.containerd.cgroups.v2.Metrics");
    GTEST_SKIP() << "a unified-only machine: the v1 metrics are checked on v1 and hybrid ones";
  }
  ASSERT_EQ(stats->stats().type_url(), "io.containerd.cgroups.v1.Metrics");
  io::containerd::cgroups::v1::Metrics metrics;
  ASSERT_TRUE(metrics.ParseFromString(stats->stats().value()));
  EXPECT_EQ(metrics.memory().usage().limit(), static_cast<uint64_t>(kMemoryLimit));
  EXPECT_GT(metrics.memory().usage().usage(), 0u);
  EXPECT_EQ(metrics.pids().limit(), static_cast<uint64_t>(kPidsLimit));
  EXPECT_EQ(metrics.pids().current(), 1u);

  auto deleted = remove("stats");  // a created task: SIGKILLed
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_EQ(deleted->exit_status(), 137u);
  expectNothingLeft("stats");
}

TEST_F(SandboxTaskTest, MemoryLimitOomKills) {
  json spec = ociSpec("oom", {"/memory_grow.wasm", "256"});
  spec["linux"]["resources"]["memory"] = {{"limit", 32 * 1024 * 1024}};
  auto created = create("oom", withSpec(spec, {}, "memory_grow"));
  ASSERT_TRUE(created) << created.error().message;

  // The shim's log, where TaskOOM shows (no event publisher here).
  UniqueFd log(::memfd_create("shim-log", MFD_CLOEXEC));
  ASSERT_TRUE(log);
  log::setFd(log.get());
  ASSERT_TRUE(start("oom"));
  auto waited = wait("oom");
  log::setFd(STDERR_FILENO);
  ASSERT_TRUE(waited) << waited.error().message;
  EXPECT_EQ(waited->exit_status(), 137u) << out("oom") << err("oom");
  EXPECT_EQ(out("oom"), "");

  // Before Delete the cgroup is there, with the kill counted.
  std::vector<fs::path> dirs = cgroupDirs(cgroupsPathFor("oom"));
  auto memory = std::find_if(dirs.begin(), dirs.end(), [](const fs::path& d) {
    return fs::exists(d / "memory.oom_control") || fs::exists(d / "memory.events");
  });
  ASSERT_NE(memory, dirs.end()) << "no memory cgroup";
  bool v1 = fs::exists(*memory / "memory.oom_control");
  std::string counters = slurp(*memory / (v1 ? "memory.oom_control" : "memory.events"));
  uint64_t kills = 0;
  std::istringstream in(counters);
  for (std::string key, value; in >> key >> value;)
    if (key == "oom_kill") kills = std::stoull(value);
  EXPECT_GT(kills, 0u) << counters;

  auto logged = readFd(log.get(), "the log");
  ASSERT_TRUE(logged);
  std::string logText(logged->begin(), logged->end());
  EXPECT_NE(logText.find("oom: the container was OOM-killed"), std::string::npos) << logText;

  auto deleted = remove("oom");
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_EQ(deleted->exit_status(), 137u);
  expectNothingLeft("oom");
}

TEST_F(SandboxTaskTest, ReadOnlyRootAndBindMounts) {
  runwasi::testing::ScratchDir data("sandbox-data-");
  for (const Probe& probe : kProbes) {
    SCOPED_TRACE(probe.name);
    std::string id = fmt::format("ro-{}", probe.name);
    json spec = probeSpec(id, probe.native, {"write", "/x"});
    spec["root"]["readonly"] = true;
    uint32_t status = 0;
    EXPECT_EQ(run(id, probeBundle(spec, probe.native), &status),
              "write /x: Read-only file system\n");
    EXPECT_EQ(status, 1u) << err(id);
  }

  struct Case {
    const char* name;
    const char* option;
    std::string out;
    uint32_t status;
  };
  const Case cases[] = {{"rw", "rw", "write /data/f: ok\n", 0},
                        {"ro", "ro", "write /data/f: Read-only file system\n", 1}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    fs::remove(data.path() / "f");
    std::string id = fmt::format("bind-{}", c.name);
    json spec = probeSpec(id, true, {"write", "/data/f"});
    spec["root"]["readonly"] = true;
    spec["mounts"].push_back({{"destination", "/data"},
                              {"type", "bind"},
                              {"source", data.path().string()},
                              {"options", {"rbind", c.option}}});
    uint32_t status = 9;
    EXPECT_EQ(run(id, probeBundle(spec, true), &status), c.out);
    EXPECT_EQ(status, c.status) << err(id);
    if (c.status == 0)
      EXPECT_EQ(slurp(data.path() / "f"), "written by sandbox_probe\n");
    else
      EXPECT_FALSE(fs::exists(data.path() / "f"));
  }
  EXPECT_EQ(mountsUnder(data.path()), std::vector<std::string>{});
}

// After each failed Create: the message names the field, nothing is left (no process, no
// cgroup, no mount), and the same id works with a good bundle.
TEST_F(SandboxTaskTest, CreateErrorsNameTheFieldAndLeaveNothing) {
  // A sysctl the host has, set to its current value: harmless if the check ever let it by.
  std::string overcommit = slurp("/proc/sys/vm/overcommit_ratio");
  while (!overcommit.empty() && overcommit.back() == '\n') overcommit.pop_back();

  struct Case {
    const char* name;
    std::function<void(json&)> edit;
    std::string needle;     // the field
    std::string also = "";  // and what in it
  };
  const std::vector<Case> cases = {
      {"unknown filesystem",
       [](json& s) {
         s["mounts"].push_back({{"destination", "/x"}, {"type", "nosuchfs"}, {"source", "none"}});
       },
       "mounts[8] (/x)", "nosuchfs"},
      {"missing bind source",
       [](json& s) {
         s["mounts"].push_back({{"destination", "/data"},
                                {"type", "bind"},
                                {"source", "/no/such/source"},
                                {"options", {"rbind", "rw"}}});
       },
       "mounts[8] (/data)", "/no/such/source"},
      {"missing cwd", [](json& s) { s["process"]["cwd"] = "/no/such/dir"; }, "process.cwd"},
      {"unknown capability",
       [](json& s) { s["process"]["capabilities"]["effective"].push_back("CAP_NO_SUCH"); },
       "process.capabilities", "CAP_NO_SUCH"},
      {"unknown seccomp action",
       [](json& s) {
         s["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_NO_SUCH"}};
       },
       "linux.seccomp"},
      {"user namespace",
       [](json& s) {
         s["linux"]["namespaces"].push_back({{"type", "user"}});
       },
       "linux.namespaces"},
      {"host sysctl",
       [&](json& s) {
         s["linux"]["sysctl"] = {{"vm.overcommit_ratio", overcommit}};
       },
       "linux.sysctl"},
      {"missing namespace path",
       [](json& s) { s["linux"]["namespaces"][4]["path"] = "/proc/999999999/ns/net"; },
       "linux.namespaces[4].path", "/proc/999999999/ns/net"},
      {"hostname without uts",
       [](json& s) {
         s["hostname"] = "nope";
         s["linux"]["namespaces"].erase(2);  // uts
       },
       "hostname"},
      {"uid -1", [](json& s) { s["process"]["user"]["uid"] = 4294967295u; }, "process.user.uid"},
      {"rlimit soft above hard", [](json& s) { s["process"]["rlimits"][0]["soft"] = 4096; },
       "process.rlimits[0]"},
      {"cgroupsPath with ..",
       [](json& s) { s["linux"]["cgroupsPath"] = "/runwasi-unit/../runwasi-escape"; },
       "linux.cgroupsPath"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.name);
    std::string id = fmt::format("bad{}", i);
    json spec = ociSpec(id, {"/bin/sh", "-c", "echo ran; exit 7"});
    c.edit(spec);
    auto created = create(id, withSpec(spec, busyboxFiles()));
    expectError(created, ErrorCode::kInvalidArgument, c.needle);
    if (!created && !c.also.empty()) {
      EXPECT_NE(created.error().message.find(c.also), std::string::npos) << created.error().message;
    }
    if (created) {
      (void)remove(id);
      continue;
    }
    expectError(state(id), ErrorCode::kNotFound, id);
    expectNothingLeft(id);
    EXPECT_EQ(cgroupDirs("/runwasi-escape"), std::vector<fs::path>{});
    EXPECT_EQ(out(id), "");

    auto good = create(id, withSpec(ociSpec(id, {"/hello.wasm"}), {}, "hello"));
    ASSERT_TRUE(good) << good.error().message;
    EXPECT_EQ(runToExit(id), 0u);
    EXPECT_EQ(out(id), "hello from wasm\n");
    expectNothingLeft(id);
  }
}

TEST_F(SandboxTaskTest, NamespaceJoinedByPath) {
  // A thread in a network namespace of its own holds it while the container joins it.
  std::promise<std::string> nsPath;
  std::promise<void> done;
  std::thread holder([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      nsPath.set_value("");
      return;
    }
    nsPath.set_value(fmt::format("/proc/{}/task/{}/ns/net", ::getpid(), ::gettid()));
    done.get_future().wait();
  });
  std::string path = nsPath.get_future().get();
  if (path.empty()) {
    holder.join();
    FAIL() << "unshare(CLONE_NEWNET) failed";
  }
  std::string target = fs::read_symlink(path).string();
  EXPECT_NE(target, fs::read_symlink("/proc/self/ns/net").string());

  json spec = probeSpec("netns", true);
  spec["linux"]["namespaces"][4] = {{"type", "network"}, {"path", path}};
  uint32_t status = 1;
  Report report = parseReport(run("netns", probeBundle(spec, true), &status));
  done.set_value();
  holder.join();
  EXPECT_EQ(status, 0u) << err("netns");
  EXPECT_EQ(one(report, "ns net"), target);
  EXPECT_EQ(one(report, "pid"), "1");
}

}  // namespace
}  // namespace runwasi::shim
