// Snapshots, Containers and Tasks through the client, as ctr drives them, with runc
// (io.containerd.runc.v2) on an imported busybox image: a container that exits 7, one that
// is killed, a Wait that hits its deadline, and nothing left afterwards.
#include <signal.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "containerd_fixture.h"

namespace runwasi::oci {
namespace {

using nlohmann::json;
constexpr char kImage[] = "docker.io/runwasi/busybox-client-test:latest";
constexpr char kSnapshotter[] = "overlayfs";

class ContainerdTasksTest : public ContainerdFixture {
 protected:
  void SetUp() override {
    ContainerdFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (std::string(RUNWASI_RUNC).empty())
      GTEST_SKIP() << "runc is not installed (apt-get install runc)";
    if (std::string(RUNWASI_BUSYBOX).empty())
      GTEST_SKIP() << "busybox is not installed (apt-get install busybox-static)";
    ImageSpec spec;
    spec.reference = parseImageReference(kImage).value();
    auto busybox = readFile(RUNWASI_BUSYBOX);
    ASSERT_TRUE(busybox) << busybox.error().message;
    spec.rootfs = {LayerFile{"bin/busybox", std::move(*busybox), 0755}};
    spec.entrypoint = {"/bin/busybox"};
    // Unpacked: the layer's snapshot, named by its chain id (one uncompressed layer: its
    // digest), is the parent of each container's.
    built_ = importImage(spec, /*unpack=*/true);
    ASSERT_FALSE(HasFailure());
    auto lease = client_->createLease("", {}, std::chrono::seconds(600));
    ASSERT_TRUE(lease) << lease.error().message;
    lease_ = *lease;
  }

  // runc's default spec running `args`, in a cgroup named as ctr names them.
  std::string specJson(const std::string& id, const std::vector<std::string>& args) {
    auto dir = *scratch_ / ("spec-" + id);
    std::filesystem::create_directories(dir);
    testing::ProcessResult made =
        testing::runProcess({RUNWASI_RUNC, "spec", "--bundle", dir.string()});
    EXPECT_EQ(made.status, 0) << made.err;
    auto text = readFile(dir / "config.json");
    EXPECT_TRUE(text);
    if (!text) return "";
    json spec = json::parse(*text);
    spec["process"]["args"] = args;
    spec["process"]["terminal"] = false;
    spec["linux"]["cgroupsPath"] = "/" + ns_ + "/" + id;
    return spec.dump();
  }

  // A container `id` running `args` on its own snapshot, its task created (not started).
  void createTask(const std::string& id, const std::vector<std::string>& args) {
    auto mounts = client_->snapshotsPrepare(kSnapshotter, id, built_.layers[0].digest, lease_);
    ASSERT_TRUE(mounts) << mounts.error().message;
    ASSERT_EQ(mounts->size(), 1u);
    EXPECT_EQ((*mounts)[0].type, "overlay");

    ContainerRecord record{.id = id,
                           .image = kImage,
                           .runtime = "io.containerd.runc.v2",
                           .snapshotter = kSnapshotter,
                           .snapshotKey = id,
                           .labels = {{"runwasi.io/test", "tasks"}},
                           .specJson = specJson(id, args)};
    auto created = client_->createContainer(record);
    ASSERT_TRUE(created) << created.error().message;
    auto got = client_->getContainer(id);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(got->image, kImage);
    EXPECT_EQ(got->runtime, "io.containerd.runc.v2");
    EXPECT_EQ(got->snapshotter, kSnapshotter);
    EXPECT_EQ(got->snapshotKey, id);
    EXPECT_EQ(got->labels, record.labels);
    EXPECT_EQ(json::parse(got->specJson)["process"]["args"], args);

    auto pid = client_->createTask(TaskCreate{.containerId = id, .rootfs = *mounts});
    ASSERT_TRUE(pid) << pid.error().message;
    EXPECT_GT(*pid, 0u);
  }

  void removeContainer(const std::string& id) {
    auto removed = client_->deleteContainer(id);
    EXPECT_TRUE(removed) << removed.error().message;
    auto snapshot = client_->snapshotsRemove(kSnapshotter, id);
    EXPECT_TRUE(snapshot) << snapshot.error().message;
  }

  BuiltImage built_;
  std::string lease_;
};

TEST_F(ContainerdTasksTest, RunsAContainerToItsExitStatus) {
  ASSERT_NO_FATAL_FAILURE(createTask("exits", {"/bin/busybox", "sh", "-c", "exit 7"}));
  auto started = client_->startTask("exits");
  ASSERT_TRUE(started) << started.error().message;
  EXPECT_GT(*started, 0u);
  auto exit = client_->waitTask("exits", std::nullopt);
  ASSERT_TRUE(exit) << exit.error().message;
  EXPECT_EQ(exit->status, 7u);
  EXPECT_GT(exit->exitedAt.time_since_epoch().count(), 0);
  auto deleted = client_->deleteTask("exits");
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_EQ(deleted->status, 7u);
  removeContainer("exits");

  auto again = client_->getContainer("exits");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
}

TEST_F(ContainerdTasksTest, KillsATaskAndBoundsAWait) {
  ASSERT_NO_FATAL_FAILURE(createTask("sleeps", {"/bin/busybox", "sleep", "60"}));
  ASSERT_TRUE(client_->startTask("sleeps"));

  // A Wait with a deadline ends at the deadline while the task runs.
  auto start = std::chrono::steady_clock::now();
  auto early = client_->waitTask("sleeps", std::chrono::milliseconds(300));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code, ErrorCode::kUnavailable) << early.error().message;
  EXPECT_GE(took, std::chrono::milliseconds(250));
  EXPECT_LT(took, std::chrono::seconds(5));

  // Deleting a running task is refused (containerd 1.6 passes the shim's untyped error on
  // as Unknown).
  auto running = client_->deleteTask("sleeps");
  ASSERT_FALSE(running);
  EXPECT_NE(running.error().message.find("containerd Tasks.Delete sleeps: "), std::string::npos)
      << running.error().message;
  EXPECT_NE(running.error().message.find("running process"), std::string::npos)
      << running.error().message;

  auto killed = client_->killTask("sleeps", SIGKILL, /*all=*/false);
  ASSERT_TRUE(killed) << killed.error().message;
  auto exit = client_->waitTask("sleeps", std::nullopt);
  ASSERT_TRUE(exit) << exit.error().message;
  EXPECT_EQ(exit->status, 128u + SIGKILL);
  ASSERT_TRUE(client_->deleteTask("sleeps"));
  removeContainer("sleeps");
}

TEST_F(ContainerdTasksTest, LeavesNothingBehind) {
  ASSERT_NO_FATAL_FAILURE(createTask("brief", {"/bin/busybox", "true"}));
  ASSERT_TRUE(client_->startTask("brief"));
  ASSERT_TRUE(client_->waitTask("brief", std::nullopt));
  ASSERT_TRUE(client_->deleteTask("brief"));
  removeContainer("brief");
  ASSERT_TRUE(client_->deleteLease(lease_, /*sync=*/true));

  for (const std::vector<std::string>& list : {std::vector<std::string>{"tasks", "ls", "-q"},
                                               {"containers", "ls", "-q"},
                                               {"leases", "ls", "-q"}}) {
    testing::ProcessResult listed = ctr(list);
    ASSERT_EQ(listed.status, 0) << listed.err;
    EXPECT_EQ(listed.out, "") << list[0] << " left";
  }
  // The image's own (committed) snapshot stays; the container's is gone.
  testing::ProcessResult snapshots = ctr({"snapshots", "ls"});
  ASSERT_EQ(snapshots.status, 0) << snapshots.err;
  EXPECT_EQ(snapshots.out.find("brief"), std::string::npos) << snapshots.out;
  EXPECT_NE(snapshots.out.find(built_.layers[0].digest), std::string::npos) << snapshots.out;
}

}  // namespace
}  // namespace runwasi::oci
