// The fixture shared by the TaskService suites: TaskService driven directly (no
// containerd, no socket), bundles written in a scratch directory, container processes
// forked from a real zygote holding the wasm2c engine, exits collected by a real Reaper,
// events only logged (no publisher). TearDown checks that nothing is left behind: tasks,
// child processes, mounts under the scratch directory, the tasks' cgroups.
#pragma once

#include <sys/types.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "../support/scratch_dir.h"
#include "oci/default_spec.h"
#include "sandbox/cgroup_dirs.h"
#include "shim/reaper.h"
#include "shim/task_service.h"

namespace runwasi::shim {

namespace taskv2 = containerd::task::v2;

// Marks the test suite `suiteName` as using this fixture: the zygote is started (before
// any test, while the process has one thread) only when such a suite is selected. Call it
// from a namespace-scope initializer of the suite's file.
bool registerZygoteSuite(std::string_view suiteName);

// tests/modules' <name>.wasm.
std::filesystem::path modulePath(std::string_view name);
// tests/modules' static native sandbox_probe.
std::filesystem::path nativeProbePath();
std::string slurp(const std::filesystem::path& path);

// sandbox_probe's report: every value of each "key: value" line, in order (a pty's CRs
// dropped).
using Report = std::map<std::string, std::vector<std::string>>;
Report parseReport(const std::string& text);
// The one value of `key` ("<missing>" or "<N values>" otherwise), without trailing spaces.
std::string one(const Report& report, const std::string& key);
// The pids of this process's children (the zygote and the containers: all are children of
// the main thread, which forked the zygote; containers come with CLONE_PARENT).
std::vector<pid_t> childrenOfThisProcess();
bool isOurChild(pid_t pid);
// The mount points (as this process sees them) at or under `dir`.
std::vector<std::string> mountsUnder(const std::filesystem::path& dir);
// The directories of cgroup `cgroupsPath` (absolute) that exist in any hierarchy of
// /sys/fs/cgroup.
using sandbox::cgroupDirs;

// The parent cgroup of every task whose spec comes from ociSpec.
inline constexpr char kCgroupParent[] = "/runwasi-unit";
// The cgroupsPath ociSpec gives task `id`: under kCgroupParent, with this process's pid so
// that concurrent runs of the suite do not share cgroups.
std::string cgroupsPathFor(std::string_view id);

// A realistic spec with a linux section, as `ctr run` writes it (oci::defaultSpecJson),
// with cgroupsPath cgroupsPathFor(id). Tests edit it as JSON.
nlohmann::json ociSpec(std::string_view id, std::vector<std::string> args);
// containerd's default capabilities, and their mask as /proc/PID/status prints it.
using oci::kDefaultCapabilities;
inline constexpr char kDefaultCapabilitiesMask[] = "00000000a80425fb";

// A file copied from the host into the bundle's rootfs (parents created, mode kept).
struct RootfsFile {
  std::filesystem::path source;
  std::string pathInRootfs;  // absolute, e.g. "/bin/sh"
};

struct Bundle {
  std::string module = "hello";   // copied from the test modules as /<module>.wasm; "": none
  std::vector<std::string> args;  // default: {"/<module>.wasm"}
  bool processTerminal = false;
  std::optional<std::string> rawConfig;  // config.json as is, instead of the above
  std::optional<nlohmann::json> spec;    // config.json from this, instead of the above
  std::vector<RootfsFile> files;         // put in the rootfs besides the module
};

Bundle withModule(std::string module, std::vector<std::string> args = {});
Bundle withProcessTerminal();
Bundle withConfig(std::string config);
// config.json from `spec`; no module copied unless `module` is given.
Bundle withSpec(nlohmann::json spec, std::vector<RootfsFile> files = {}, std::string module = "");
// busybox-static as /bin/busybox and /bin/sh.
std::vector<RootfsFile> busyboxFiles();

class TaskServiceFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Writes <scratch>/<name>/config.json and rootfs/ with the module and files; returns the
  // bundle.
  std::filesystem::path makeBundle(const std::string& name, const Bundle& b);
  taskv2::CreateTaskRequest createRequest(const std::string& id,
                                          const std::filesystem::path& bundle);
  Expected<taskv2::CreateTaskResponse> create(const std::string& id, const Bundle& b = {});

  std::string out(const std::string& id) { return slurp(scratch_.path() / (id + ".out")); }
  std::string err(const std::string& id) { return slurp(scratch_.path() / (id + ".err")); }

  Expected<taskv2::StartResponse> start(const std::string& id, const std::string& execId = "");
  Expected<taskv2::StateResponse> state(const std::string& id, const std::string& execId = "");
  Expected<void> kill(const std::string& id, int signal, bool all = false,
                      const std::string& execId = "");
  Expected<taskv2::DeleteResponse> remove(const std::string& id, const std::string& execId = "");
  Expected<taskv2::PidsResponse> pids(const std::string& id);
  // Exec of `process` (a runtime-spec Process) as exec `execId` of task `id`, its stdout and
  // stderr in the regular files out(id + "." + execId) and err(...); with `terminal`,
  // stdin is `stdinPath` (e.g. a FIFO) when given.
  Expected<void> exec(const std::string& id, const std::string& execId,
                      const nlohmann::json& process, bool terminal = false,
                      const std::string& stdinPath = "");
  Expected<void> closeStdin(const std::string& id, const std::string& execId = "");
  Expected<void> resize(const std::string& id, const std::string& execId, uint32_t width,
                        uint32_t height);
  // Wait, answered when the task exits; Unavailable when it has not within `timeout`.
  Expected<taskv2::WaitResponse> wait(const std::string& id, const std::string& execId = "",
                                      std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Expects `result` to be an error with `code` whose message contains `needle`.
  template <typename T>
  void expectError(const Expected<T>& result, ErrorCode code, std::string_view needle) {
    ASSERT_FALSE(result) << "succeeded, expected " << errorCodeName(code);
    EXPECT_EQ(result.error().code, code)
        << errorCodeName(result.error().code) << ": " << result.error().message;
    EXPECT_NE(result.error().message.find(needle), std::string::npos)
        << "\"" << result.error().message << "\" does not contain \"" << needle << "\"";
  }

  // Runs a created task to its end and deletes it; returns the exit status.
  uint32_t runToExit(const std::string& id);

  runwasi::testing::ScratchDir scratch_{"task-service-test-"};
  std::unique_ptr<Reaper> reaper_;
  InstanceEnvironment env_;
  std::unique_ptr<TaskService> service_;
  std::set<std::string> ids_;  // every id a request was made for
  int n_ = 0;
};

}  // namespace runwasi::shim
