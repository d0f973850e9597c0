// oci-tar-builder's output against the real importer: a private containerd (started by
// scripts/containerd-private.sh) imports the tarball, names it and unpacks its layer.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "../support/private_containerd.h"
#include "../support/process.h"
#include "../support/scratch_dir.h"
#include "common/file.h"

namespace runwasi::oci {
namespace {

namespace fs = std::filesystem;
using testing::PrivateContainerd;
using testing::runProcess;
using testing::ScratchDir;

constexpr char kImage[] = "ghcr.io/example/wasi-demo-app:latest";

TEST(ImageImport, ContainerdImportsNamesAndUnpacksTheImage) {
  if (std::string reason = testing::containerdSkipReason(); !reason.empty()) GTEST_SKIP() << reason;

  ScratchDir scratch;
  const Bytes module = {0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00};
  ASSERT_TRUE(writeFileAtomic(scratch / "wasi-demo-app.wasm", module));
  fs::path tar = scratch / "image.tar";
  auto built =
      runProcess({RUNWASI_OCI_TAR_BUILDER, "--name", "ghcr.io/example/wasi-demo-app", "--module",
                  (scratch / "wasi-demo-app.wasm").string(), "--cmd", "echo", "-o", tar.string()});
  ASSERT_EQ(built.status, 0) << built.err;

  // containerd is installed and we are root: from here on, every failure fails the test.
  PrivateContainerd containerd(scratch / "containerd");
  auto started = containerd.start();
  ASSERT_EQ(started.status, 0) << "containerd did not start: " << started.err;

  auto imported = containerd.ctr({"images", "import", tar.string()});
  ASSERT_EQ(imported.status, 0) << imported.out << imported.err;
  EXPECT_NE(imported.out.find(std::string("unpacking ") + kImage), std::string::npos)
      << imported.out;

  auto names = containerd.ctr({"images", "ls", "-q"});
  ASSERT_EQ(names.status, 0) << names.err;
  EXPECT_EQ(names.out, std::string(kImage) + "\n");

  // "complete" with every blob present, and "true" in the UNPACKED column.
  auto check = containerd.ctr({"images", "check"});
  ASSERT_EQ(check.status, 0) << check.err;
  EXPECT_NE(check.out.find("complete"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find(" true"), std::string::npos) << check.out;

  // One layer: the committed snapshot's key is its chain id, i.e. the layer's diff_id,
  // which for an uncompressed layer is its digest (taken from the independent reader).
  auto facts = runProcess({RUNWASI_PYTHON3, RUNWASI_VERIFY_OCI_TAR, tar.string()});
  ASSERT_EQ(facts.status, 0) << facts.err;
  size_t at = facts.out.find("layers=[\"sha256:");
  ASSERT_NE(at, std::string::npos) << facts.out;
  std::string layerDigest = facts.out.substr(at + 9, 71);
  auto snapshots = containerd.ctr({"snapshots", "ls"});
  ASSERT_EQ(snapshots.status, 0) << snapshots.err;
  size_t line = snapshots.out.find(layerDigest);
  ASSERT_NE(line, std::string::npos) << layerDigest << " not in\n" << snapshots.out;
  EXPECT_NE(snapshots.out.substr(line, snapshots.out.find('\n', line) - line).find("Committed"),
            std::string::npos)
      << snapshots.out;

  // The unpacked file: the module's bytes at the rootfs root, mode 0755.
  fs::path snapshotsDir =
      containerd.dir() / "root/io.containerd.snapshotter.v1.overlayfs/snapshots";
  std::vector<fs::path> found;
  for (const auto& snapshot : fs::directory_iterator(snapshotsDir))
    if (fs::exists(snapshot.path() / "fs/wasi-demo-app.wasm"))
      found.push_back(snapshot.path() / "fs/wasi-demo-app.wasm");
  ASSERT_EQ(found.size(), 1u) << "in " << snapshotsDir;
  EXPECT_EQ(readFile(found[0]).value(), module);
  struct stat st {};
  ASSERT_EQ(::stat(found[0].c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

}  // namespace
}  // namespace runwasi::oci
