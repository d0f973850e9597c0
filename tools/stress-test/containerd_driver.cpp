#include "containerd_driver.h"

#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "child_process.h"
#include "common/file.h"
#include "common/temp_dir.h"
#include "containerd_inventory.h"
#include "host_state.h"
#include "image_spec.h"
#include "oci/containerd_client.h"
#include "sandbox/cgroup_dirs.h"

namespace runwasi::stress {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kConnectTime = 5s;
// What cleaning up after a failed task may take: a kill, a wait for the exit, four deletes.
constexpr auto kCleanUpWait = 10s;
// How long leftovers get to disappear at the end: a shim exits after containerd has
// deleted its last task, without containerd waiting for it.
constexpr auto kSettleTime = 3s;
// containerd's client gives its leases 24 hours (client.WithLease): a lease a crashed run
// left protects nothing after that.
constexpr std::chrono::seconds kLeaseExpiry = 24h;

// How far a task got, per object: "sent" once the call creating it went out (a call that
// timed out may still have made it), "made" once containerd said so, "gone" once removed.
struct ObjectState {
  bool sent = false, made = false, gone = false;
  bool mayExist() const { return sent && !gone; }
};

std::string socketPathFor(const std::string& address, const std::string& ns,
                          const std::string& id) {
  // containerd's shim.SocketAddress: sha256 of filepath.Join(address, ns, id), under the
  // fixed /run/containerd/s (for every containerd, whatever its state directory).
  std::string joined = fs::path(address + "/" + ns + "/" + id).lexically_normal().string();
  return "/run/containerd/s/" +
         sha256Hex(std::span(reinterpret_cast<const uint8_t*>(joined.data()), joined.size()));
}

class ContainerdDriver;

class ContainerdTask final : public TaskRun {
 public:
  ContainerdTask(ContainerdDriver& driver, std::string id, fs::path stdoutPath, fs::path stderrPath)
      : driver_(driver),
        id_(std::move(id)),
        stdout_(std::move(stdoutPath)),
        stderr_(std::move(stderrPath)) {}
  ~ContainerdTask() override { (void)cleanUp(); }

  Expected<void> create(Deadline deadline) override;
  Expected<void> start(Deadline deadline) override;
  Expected<uint32_t> wait(Deadline deadline) override;
  Expected<void> remove(Deadline deadline) override;
  Expected<void> cleanUp() override;
  std::string output() const override { return readText(stdout_) + readText(stderr_); }

 private:
  oci::ContainerdClient& client();
  // Passes `result` on; when it succeeded, `state` is made (creating) or gone.
  template <typename T>
  Expected<T> track(ObjectState& state, bool creating, Expected<T> result) {
    if (result) (creating ? state.made : state.gone) = true;
    return result;
  }
  // Removes one object in cleanUp: NotFound is no problem for an object whose creation was
  // never confirmed (it was never made).
  void removeLeft(ObjectState& state, std::string_view what, Expected<void> removed,
                  std::vector<std::string>& problems);

  ContainerdDriver& driver_;
  const std::string id_;
  const fs::path stdout_, stderr_;
  ObjectState lease_, snapshot_, container_, task_;
  bool exited_ = false;
  bool cleanedUp_ = false;
};

class ContainerdDriver final : public Driver {
 public:
  explicit ContainerdDriver(ContainerdConfig config) : config_(std::move(config)) {}

  nlohmann::json describe() const override;
  Expected<void> setUp() override;
  Expected<std::unique_ptr<TaskRun>> prepare(const std::string& id) override;
  DriverSummary tearDown() override;

  const ContainerdConfig& config() const { return config_; }
  // The task whose shim every task shares (config.pod), or "".
  const std::string& podId() const { return podId_; }
  const TaskTemplate& image() const { return image_; }
  oci::ContainerdClient& client() { return *client_; }

 private:
  // What the run left, in words (none: nothing); `fix` also removes it.
  std::vector<std::string> leftovers(bool fix);

  const ContainerdConfig config_;
  std::optional<TempDir> work_;
  std::unique_ptr<oci::ContainerdClient> client_;
  std::unique_ptr<ContainerdInventory> inventory_;
  TaskTemplate image_;
  std::string podId_;
  std::unique_ptr<TaskRun> pod_;  // created at set-up, never started

  std::mutex mutex_;
  std::set<std::string> ids_;  // guarded by mutex_; every task prepared
};

oci::ContainerdClient& ContainerdTask::client() {
  return driver_.client();
}

Expected<void> ContainerdTask::create(Deadline) {
  const ContainerdConfig& config = driver_.config();
  const TaskTemplate& image = driver_.image();
  lease_.sent = true;
  TRY_VOID(track(lease_, true, client().createLease(id_, {}, kLeaseExpiry)));
  snapshot_.sent = true;
  TRY(std::vector<oci::SnapshotMount> mounts,
      track(snapshot_, true,
            client().snapshotsPrepare(config.snapshotter, id_, image.snapshotParent, id_)));
  container_.sent = true;
  TRY_VOID(track(
      container_, true,
      client().createContainer(oci::ContainerRecord{.id = id_,
                                                    .image = image.image,
                                                    .runtime = config.runtime,
                                                    .snapshotter = config.snapshotter,
                                                    .snapshotKey = id_,
                                                    .labels = {},
                                                    .specJson = image.specFor(config.ns, id_,
                                                                              driver_.podId())})));
  task_.sent = true;
  TRY_VOID(track(task_, true,
                 client().createTask(oci::TaskCreate{.containerId = id_,
                                                     .rootfs = std::move(mounts),
                                                     .stdoutPath = stdout_.string(),
                                                     .stderrPath = stderr_.string()})));
  return {};
}

Expected<void> ContainerdTask::start(Deadline) {
  TRY_VOID(client().startTask(id_));
  return {};
}

Expected<uint32_t> ContainerdTask::wait(Deadline deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  TRY(oci::TaskExit exit, client().waitTask(id_, std::max(left, 1ms)));
  exited_ = true;
  return exit.status;
}

Expected<void> ContainerdTask::remove(Deadline) {
  TRY_VOID(track(task_, false, client().deleteTask(id_)));
  TRY_VOID(track(container_, false, client().deleteContainer(id_)));
  TRY_VOID(track(snapshot_, false, client().snapshotsRemove(driver_.config().snapshotter, id_)));
  // Not synchronous: containerd collects what the lease held in the background, as it
  // does after `ctr run --rm`.
  TRY_VOID(track(lease_, false, client().deleteLease(id_, false)));
  return {};
}

void ContainerdTask::removeLeft(ObjectState& state, std::string_view what, Expected<void> removed,
                                std::vector<std::string>& problems) {
  if (removed || (removed.error().code == ErrorCode::kNotFound && !state.made)) {
    state.gone = true;
    return;
  }
  problems.push_back(fmt::format("removing the {}: {}", what, removed.error().message));
}

Expected<void> ContainerdTask::cleanUp() {
  if (cleanedUp_) return {};
  cleanedUp_ = true;
  std::vector<std::string> problems;
  if (task_.mayExist()) {
    // It may still run (a failed start or wait, a timeout): killed and waited for first,
    // since containerd refuses to delete a running task.
    if (!exited_) {
      (void)client().killTask(id_, SIGKILL, true);  // it may have exited already
      (void)client().waitTask(id_,
                              std::chrono::duration_cast<std::chrono::milliseconds>(kCleanUpWait));
    }
    removeLeft(task_, "task", client().deleteTask(id_).map([](auto&&) {}), problems);
  }
  if (container_.mayExist())
    removeLeft(container_, "container", client().deleteContainer(id_), problems);
  if (snapshot_.mayExist())
    removeLeft(snapshot_, "snapshot", client().snapshotsRemove(driver_.config().snapshotter, id_),
               problems);
  if (lease_.mayExist()) removeLeft(lease_, "lease", client().deleteLease(id_, false), problems);
  std::error_code ec;
  fs::remove(stdout_, ec);
  fs::remove(stderr_, ec);
  if (!problems.empty())
    return makeError(ErrorCode::kInternal,
                     fmt::format("cleaning up: {}", fmt::join(problems, "; ")));
  return {};
}

nlohmann::json ContainerdDriver::describe() const {
  return {{"address", config_.address},
          {"namespace", config_.ns},
          {"runtime", config_.runtime},
          {"snapshotter", config_.snapshotter},
          {"image", image_.image},
          {"manifest", image_.manifestDigest},
          {"platform", image_.platform},
          {"wasm_image", image_.wasm},
          {"snapshot_parent", image_.snapshotParent},
          {"shims", config_.pod ? fmt::format("one for all tasks (a pod: sandbox-id {})", podId_)
                                : "one per task"},
          {"steps",
           {{"create", "Leases.Create, Snapshots.Prepare, Containers.Create, Tasks.Create"},
            {"start", "Tasks.Start"},
            {"wait", "Tasks.Wait"},
            {"delete", "Tasks.Delete, Containers.Delete, Snapshots.Remove, Leases.Delete"}}}};
}

Expected<void> ContainerdDriver::setUp() {
  TRY(work_, TempDir::create("stress-test-",
                             config_.workBase.empty() ? defaultWorkBase() : config_.workBase));
  oci::ContainerdClientOptions options{.callTimeout = config_.callTimeout,
                                       .connectTimeout = kConnectTime};
  TRY(client_, oci::connectContainerd(config_.address, config_.ns, options));
  TRY(inventory_, openInventory(config_.address, config_.ns, kConnectTime));
  auto image = resolveImage(*client_, config_.image, config_.args);
  if (!image)
    return tl::unexpected(std::move(image).error().context(
        fmt::format("image {} in namespace {}", config_.image, config_.ns)));
  image_ = std::move(*image);
  if (!image_.snapshotParent.empty()) {
    TRY(bool unpacked, inventory_->snapshotExists(config_.snapshotter, image_.snapshotParent));
    if (!unpacked)
      return makeError(
          ErrorCode::kFailedPrecondition,
          fmt::format(
              "image {} is not unpacked for snapshotter {}: the snapshot of its layers "
              "({}) does not exist; import it without --no-unpack (ctr -n {} images "
              "import{} IMAGE.tar)",
              image_.image, config_.snapshotter, image_.snapshotParent, config_.ns,
              config_.snapshotter == "overlayfs" ? "" : " --snapshotter " + config_.snapshotter));
  }
  if (config_.pod) {
    // The pod's task names itself: its shim is the group's, and stays while it exists.
    podId_ = config_.idPrefix + "-pod";
    TRY(pod_, prepare(podId_));
    auto created = pod_->create(Clock::now() + config_.callTimeout);
    if (!created)
      return tl::unexpected(std::move(created).error().context(
          fmt::format("creating the pod's task {} (never started; it holds the shim)", podId_)));
  }
  return {};
}

Expected<std::unique_ptr<TaskRun>> ContainerdDriver::prepare(const std::string& id) {
  {
    std::lock_guard lock(mutex_);
    ids_.insert(id);
  }
  fs::path out = work_->path() / (id + ".stdout"), err = work_->path() / (id + ".stderr");
  // Regular files, which containerd's runc shim and ours both open for writing as they
  // open FIFOs: nothing has to read them while the task runs.
  TRY_VOID(writeFileAtomic(out, {}));
  TRY_VOID(writeFileAtomic(err, {}));
  return std::make_unique<ContainerdTask>(*this, id, out, err);
}

std::vector<std::string> ContainerdDriver::leftovers(bool fix) {
  std::vector<std::string> found;
  const std::string prefix = config_.idPrefix + "-";
  if (inventory_) {
    auto objects = inventory_->list(prefix, config_.snapshotter);
    if (!objects) {
      found.push_back("listing what is left in containerd: " + objects.error().message);
    } else {
      // In the order they can be removed in.
      for (const std::string& id : objects->tasks) {
        found.push_back("task left: " + id);
        if (fix) {
          (void)client_->killTask(id, SIGKILL, true);
          (void)client_->waitTask(
              id, std::chrono::duration_cast<std::chrono::milliseconds>(kCleanUpWait));
          (void)client_->deleteTask(id);
        }
      }
      for (const std::string& id : objects->containers) {
        found.push_back("container left: " + id);
        if (fix) (void)client_->deleteContainer(id);
      }
      for (const std::string& key : objects->snapshots) {
        found.push_back("snapshot left: " + key);
        if (fix) (void)client_->snapshotsRemove(config_.snapshotter, key);
      }
      for (const std::string& id : objects->leases) {
        found.push_back("lease left: " + id);
        if (fix) (void)client_->deleteLease(id, false);
      }
    }
  }
  // A task's shim names it on its command line (-id ID); so do runwasi's zygote and
  // containers, which keep their shim's.
  for (const ProcessInfo& p : processesMentioning(prefix)) {
    found.push_back("process left: " + p.describe());
    if (fix) ::kill(p.pid, SIGKILL);
  }
  std::lock_guard lock(mutex_);
  for (const std::string& id : ids_) {
    std::string socket = socketPathFor(fs::absolute(config_.address).string(), config_.ns, id);
    std::error_code ec;
    if (fs::exists(socket, ec)) {
      found.push_back(fmt::format("shim socket left: {} (task {})", socket, id));
      if (fix) ::unlink(socket.c_str());
    }
    for (const fs::path& dir : sandbox::cgroupDirs(fmt::format("/{}/{}", config_.ns, id))) {
      found.push_back("cgroup left: " + dir.string());
      if (fix) ::rmdir(dir.c_str());
    }
  }
  // A task's rootfs is mounted at <containerd state>/io.containerd.runtime.v2.task/NS/ID/rootfs.
  const std::string mountNeedle = "/" + config_.ns + "/" + prefix;
  for (const std::string& point : mountPoints()) {
    if (point.find(mountNeedle) == std::string::npos) continue;
    found.push_back("mount left: " + point);
    if (fix) ::umount2(point.c_str(), MNT_DETACH);
  }
  return found;
}

DriverSummary ContainerdDriver::tearDown() {
  DriverSummary summary;
  size_t tasks = 0;
  {
    std::lock_guard lock(mutex_);
    tasks = ids_.size();
  }
  if (pod_) {
    // Killed (it never started), waited for and deleted with its container, snapshot and
    // lease; its shim exits after that, as a pod's does after its pause container.
    if (auto removed = pod_->cleanUp(); !removed)
      summary.problems.push_back(fmt::format("the pod's task {}: {}", podId_, removed.error().message));
    pod_.reset();
  }
  if (client_) {
    std::vector<std::string> left = leftovers(false);
    for (auto until = Clock::now() + kSettleTime; !left.empty() && Clock::now() < until;) {
      std::this_thread::sleep_for(50ms);
      left = leftovers(false);
    }
    if (!left.empty()) {
      summary.problems = std::move(left);
      (void)leftovers(true);
    }
  }
  // The namespace level of the tasks' cgroups, if nothing else uses it (runc leaves it).
  for (const fs::path& dir : sandbox::cgroupDirs("/" + config_.ns)) ::rmdir(dir.c_str());
  // Where the CPU went per task (warm-up included): this tool's only; the shims and
  // containerd are not its children.
  summary.details["cpu_ms_per_task"] = {{"shims", nullptr},
                                        {"tool", msPerTask(toolCpuTime(), tasks)}};
  inventory_.reset();
  client_.reset();
  work_.reset();
  return summary;
}

}  // namespace

Expected<std::unique_ptr<Driver>> makeContainerdDriver(ContainerdConfig config) {
  if (config.address.empty()) return makeError(ErrorCode::kInvalidArgument, "--address is empty");
  if (config.snapshotter.empty())
    return makeError(ErrorCode::kInvalidArgument, "--snapshotter is empty");
  return std::make_unique<ContainerdDriver>(std::move(config));
}

}  // namespace runwasi::stress
