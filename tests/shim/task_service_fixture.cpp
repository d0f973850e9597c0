#include "task_service_fixture.h"

#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <future>
#include <sstream>

#include <fmt/format.h>

#include "engine/wasm2c/wasm2c_engine.h"
#include "oci/default_spec.h"
#include "sandbox/zygote.h"

namespace runwasi::shim {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr char kShimName[] = "containerd-shim-wasm2c-v1";

std::set<std::string, std::less<>>& zygoteSuites() {
  static std::set<std::string, std::less<>> suites;
  return suites;
}

// What every fixture test shares: one zygote (forked while this process has one thread,
// before any test runs), the shim's engine, and one artifact cache, so each module is
// precompiled once per process.
struct SharedState {
  std::optional<sandbox::Zygote> zygote;
  std::unique_ptr<engine::Engine> engine;
  std::optional<runwasi::testing::ScratchDir> cacheDir;
  std::string error;  // why the above could not be made
};
SharedState* shared = nullptr;

class ZygoteEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    // This binary doubles as a shim for bootstrap_process_test: nothing to do there.
    if (std::getenv("RUNWASI_BOOTSTRAP_TEST_SHIM") != nullptr) return;
    if (!selected()) return;  // no zygote, no SIGCHLD mask for runs without these tests
    shared = new SharedState;
    // As the daemon does: SIGCHLD blocked before any thread exists, so that every thread
    // (the reaper's, and those other tests start) inherits the mask and only the reaper's
    // signalfd sees it; then the zygote, forked while this is the only thread.
    if (auto blocked = Reaper::blockSigchld(); !blocked) {
      shared->error = blocked.error().message;
      return;
    }
    auto zygote = sandbox::Zygote::start(
        []() -> Expected<std::unique_ptr<engine::Engine>> { return engine::makeWasm2cEngine(); });
    if (!zygote) {
      shared->error = "starting the zygote: " + zygote.error().message;
      return;
    }
    shared->zygote.emplace(std::move(*zygote));
    if (auto ready = shared->zygote->waitReady(); !ready) {
      shared->error = "the zygote has no engine: " + ready.error().message;
      return;
    }
    shared->engine = engine::makeWasm2cEngine();
    shared->cacheDir.emplace("task-service-cache-");
  }

  void TearDown() override {
    if (!shared) return;
    if (shared->zygote) shared->zygote->stop();
    delete shared;
    shared = nullptr;
    // The common parent of the tasks' cgroups, if it is empty (a concurrent run may use it).
    for (const fs::path& dir : cgroupDirs(kCgroupParent)) ::rmdir(dir.c_str());
  }

 private:
  static bool selected() {
    auto* unit = ::testing::UnitTest::GetInstance();
    for (int i = 0; i < unit->total_test_suite_count(); ++i) {
      const auto* suite = unit->GetTestSuite(i);
      if (zygoteSuites().contains(std::string_view(suite->name())) && suite->should_run())
        return true;
    }
    return false;
  }
};

[[maybe_unused]] auto* const kZygoteEnvironment =
    ::testing::AddGlobalTestEnvironment(new ZygoteEnvironment);

void copyInto(const fs::path& rootfs, const RootfsFile& file) {
  fs::path target = rootfs / fs::path(file.pathInRootfs).relative_path();
  fs::create_directories(target.parent_path());
  fs::copy_file(file.source, target, fs::copy_options::overwrite_existing);
  fs::permissions(target, fs::status(file.source).permissions());
}

}  // namespace

bool registerZygoteSuite(std::string_view suiteName) {
  zygoteSuites().emplace(suiteName);
  return true;
}

fs::path modulePath(std::string_view name) {
  return fs::path(RUNWASI_TEST_MODULES_DIR) / (std::string(name) + ".wasm");
}

fs::path nativeProbePath() {
  return fs::path(RUNWASI_TEST_MODULES_DIR) / "sandbox_probe";
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Report parseReport(const std::string& text) {
  Report report;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(": ");
    if (colon == std::string::npos) continue;
    report[line.substr(0, colon)].push_back(line.substr(colon + 2));
  }
  return report;
}

std::string one(const Report& report, const std::string& key) {
  auto it = report.find(key);
  if (it == report.end()) return "<missing>";
  if (it->second.size() != 1) return fmt::format("<{} values>", it->second.size());
  std::string value = it->second[0];
  while (!value.empty() && value.back() == ' ') value.pop_back();
  return value;
}

std::vector<pid_t> childrenOfThisProcess() {
  std::istringstream in(slurp(fmt::format("/proc/self/task/{}/children", ::getpid())));
  std::vector<pid_t> out;
  for (pid_t pid; in >> pid;) out.push_back(pid);
  return out;
}

bool isOurChild(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0;
}

std::vector<std::string> mountsUnder(const fs::path& dir) {
  std::vector<std::string> out;
  std::istringstream in(slurp("/proc/self/mountinfo"));
  const std::string prefix = dir.string();
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point == prefix || point.starts_with(prefix + "/")) out.push_back(point);
  }
  return out;
}

std::string cgroupsPathFor(std::string_view id) {
  return fmt::format("{}/{}-{}", kCgroupParent, id, ::getpid());
}

nlohmann::json ociSpec(std::string_view id, std::vector<std::string> args) {
  return nlohmann::json::parse(oci::defaultSpecJson(args, cgroupsPathFor(id)));
}

Bundle withModule(std::string module, std::vector<std::string> args) {
  Bundle b;
  b.module = std::move(module);
  b.args = std::move(args);
  return b;
}

Bundle withProcessTerminal() {
  Bundle b;
  b.processTerminal = true;
  return b;
}

Bundle withConfig(std::string config) {
  Bundle b;
  b.rawConfig = std::move(config);
  return b;
}

Bundle withSpec(nlohmann::json spec, std::vector<RootfsFile> files, std::string module) {
  Bundle b;
  b.module = std::move(module);
  b.spec = std::move(spec);
  b.files = std::move(files);
  return b;
}

std::vector<RootfsFile> busyboxFiles() {
  return {{"/bin/busybox", "/bin/busybox"}, {"/bin/busybox", "/bin/sh"}};
}

void TaskServiceFixture::SetUp() {
  ASSERT_NE(shared, nullptr) << "the zygote environment did not run";
  ASSERT_TRUE(shared->error.empty()) << shared->error;
  auto reaper = Reaper::start();
  ASSERT_TRUE(reaper) << reaper.error().message;
  reaper_ = std::move(*reaper);
  env_.shimName = kShimName;
  env_.zygote = &*shared->zygote;
  env_.reaper = reaper_.get();
  env_.engine = shared->engine.get();
  env_.cache = engine::ArtifactCache(shared->cacheDir->path());
  service_ = std::make_unique<TaskService>(env_, nullptr, [] {});
}

void TaskServiceFixture::TearDown() {
  if (service_) {
    // A failed test may leave tasks: kill them (and wait for their exits) first.
    if (service_->taskCount() != 0 && !HasFailure())
      ADD_FAILURE() << service_->taskCount() << " task(s) left behind";
    service_->killAll(5s);
    service_.reset();
  }
  if (reaper_) reaper_->stop();
  // Nothing left behind: the zygote is this process's only child.
  std::vector<pid_t> children = childrenOfThisProcess();
  for (pid_t pid : children) {
    if (shared && shared->zygote && pid == shared->zygote->pid()) continue;
    ADD_FAILURE() << "child process " << pid << " left behind";
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  // No mount under the bundles (the scratch directory is removed next: never through one).
  std::vector<std::string> mounts = mountsUnder(scratch_.path());
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
    ADD_FAILURE() << "mount " << *it << " left behind";
    ::umount2(it->c_str(), MNT_DETACH);
  }
  // No cgroup of a task.
  for (const std::string& id : ids_)
    for (const fs::path& dir : cgroupDirs(cgroupsPathFor(id))) {
      ADD_FAILURE() << "cgroup " << dir << " left behind";
      ::rmdir(dir.c_str());
    }
}

fs::path TaskServiceFixture::makeBundle(const std::string& name, const Bundle& b) {
  fs::path bundle = scratch_.path() / name;
  fs::create_directories(bundle / "rootfs");
  if (!b.module.empty()) {
    fs::path source = b.module.starts_with('/') ? fs::path(b.module) : modulePath(b.module);
    fs::copy_file(source, bundle / "rootfs" / (source.stem().string() + ".wasm"));
  }
  for (const RootfsFile& file : b.files) copyInto(bundle / "rootfs", file);
  std::string config;
  if (b.rawConfig) {
    config = *b.rawConfig;
  } else if (b.spec) {
    config = b.spec->dump(2);
  } else {
    nlohmann::json spec;
    spec["ociVersion"] = "1.0.2";
    spec["process"]["terminal"] = b.processTerminal;
    spec["process"]["args"] =
        b.args.empty() ? std::vector<std::string>{"/" + b.module + ".wasm"} : b.args;
    spec["process"]["env"] = {"PATH=/usr/bin:/bin"};
    spec["process"]["cwd"] = "/";
    spec["root"]["path"] = "rootfs";
    config = spec.dump(2);
  }
  std::ofstream(bundle / "config.json") << config;
  return bundle;
}

taskv2::CreateTaskRequest TaskServiceFixture::createRequest(const std::string& id,
                                                            const fs::path& bundle) {
  ids_.insert(id);
  taskv2::CreateTaskRequest r;
  r.set_id(id);
  r.set_bundle(bundle.string());
  // Regular files (openStdio appends to them; it creates only FIFOs' peers, not files).
  for (const char* ext : {".out", ".err"})
    if (!fs::exists(scratch_.path() / (id + ext))) std::ofstream(scratch_.path() / (id + ext));
  r.set_stdout((scratch_.path() / (id + ".out")).string());
  r.set_stderr((scratch_.path() / (id + ".err")).string());
  return r;
}

Expected<taskv2::CreateTaskResponse> TaskServiceFixture::create(const std::string& id,
                                                                const Bundle& b) {
  return service_->create(createRequest(id, makeBundle(id + "-bundle-" + std::to_string(++n_), b)));
}

Expected<taskv2::StartResponse> TaskServiceFixture::start(const std::string& id,
                                                          const std::string& execId) {
  taskv2::StartRequest r;
  r.set_id(id);
  r.set_exec_id(execId);
  return service_->start(r);
}

Expected<taskv2::StateResponse> TaskServiceFixture::state(const std::string& id,
                                                          const std::string& execId) {
  taskv2::StateRequest r;
  r.set_id(id);
  r.set_exec_id(execId);
  return service_->state(r);
}

Expected<void> TaskServiceFixture::kill(const std::string& id, int signal, bool all,
                                        const std::string& execId) {
  taskv2::KillRequest r;
  r.set_id(id);
  r.set_signal(static_cast<uint32_t>(signal));
  r.set_all(all);
  r.set_exec_id(execId);
  return service_->kill(r);
}

Expected<taskv2::DeleteResponse> TaskServiceFixture::remove(const std::string& id,
                                                            const std::string& execId) {
  taskv2::DeleteRequest r;
  r.set_id(id);
  r.set_exec_id(execId);
  return service_->remove(r);
}

Expected<taskv2::PidsResponse> TaskServiceFixture::pids(const std::string& id) {
  taskv2::PidsRequest r;
  r.set_id(id);
  return service_->pids(r);
}

Expected<void> TaskServiceFixture::exec(const std::string& id, const std::string& execId,
                                        const nlohmann::json& process, bool terminal,
                                        const std::string& stdinPath) {
  std::string name = id + "." + execId;
  for (const char* ext : {".out", ".err"})
    if (!fs::exists(scratch_.path() / (name + ext))) std::ofstream(scratch_.path() / (name + ext));
  taskv2::ExecProcessRequest r;
  r.set_id(id);
  r.set_exec_id(execId);
  r.set_terminal(terminal);
  r.set_stdin(stdinPath);
  r.set_stdout((scratch_.path() / (name + ".out")).string());
  if (!terminal) r.set_stderr((scratch_.path() / (name + ".err")).string());
  r.mutable_spec()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/Process");
  r.mutable_spec()->set_value(process.is_string() ? process.get<std::string>() : process.dump());
  return service_->exec(r);
}

Expected<void> TaskServiceFixture::closeStdin(const std::string& id, const std::string& execId) {
  taskv2::CloseIORequest r;
  r.set_id(id);
  r.set_exec_id(execId);
  r.set_stdin(true);
  return service_->closeIO(r);
}

Expected<void> TaskServiceFixture::resize(const std::string& id, const std::string& execId,
                                          uint32_t width, uint32_t height) {
  taskv2::ResizePtyRequest r;
  r.set_id(id);
  r.set_exec_id(execId);
  r.set_width(width);
  r.set_height(height);
  return service_->resizePty(r);
}

Expected<taskv2::WaitResponse> TaskServiceFixture::wait(const std::string& id,
                                                        const std::string& execId,
                                                        std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<Expected<taskv2::WaitResponse>>>();
  auto future = promise->get_future();
  taskv2::WaitRequest r;
  r.set_id(id);
  r.set_exec_id(execId);
  service_->wait(r, [promise](Expected<taskv2::WaitResponse> result) {
    promise->set_value(std::move(result));
  });
  if (future.wait_for(timeout) != std::future_status::ready)
    return makeError(ErrorCode::kUnavailable, "Wait did not answer in time");
  return future.get();
}

uint32_t TaskServiceFixture::runToExit(const std::string& id) {
  auto started = start(id);
  EXPECT_TRUE(started) << started.error().message;
  auto waited = wait(id);
  EXPECT_TRUE(waited) << waited.error().message;
  auto deleted = remove(id);
  EXPECT_TRUE(deleted) << deleted.error().message;
  if (!waited || !deleted) return 9999;
  EXPECT_EQ(deleted->exit_status(), waited->exit_status());
  return waited->exit_status();
}

}  // namespace runwasi::shim
