// oci-tar-builder's output against the real importer: a private containerd (started by
// scripts/containerd-private.sh) imports the rootfs image, names it and unpacks its layer;
// it imports the Wasm formats without unpacking and serves their modules from its content
// store; and containerd 1.6's limits with Wasm images (docs/images.md) hold as measured.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "../support/private_containerd.h"
#include "../support/process.h"
#include "../support/scratch_dir.h"
#include "../support/wasm_fixtures.h"
#include "common/file.h"
#include "oci/tar_writer.h"

namespace runwasi::oci {
namespace {

namespace fs = std::filesystem;
using testing::PrivateContainerd;
using testing::runProcess;
using testing::ScratchDir;

constexpr char kImage[] = "ghcr.io/example/wasi-demo-app:latest";

bool hasLine(const std::string& text, std::string_view line) {
  return ("\n" + text).find("\n" + std::string(line) + "\n") != std::string::npos;
}

TEST(ImageImport, ContainerdImportsNamesAndUnpacksTheImage) {
  if (std::string reason = testing::containerdSkipReason(); !reason.empty()) GTEST_SKIP() << reason;

  ScratchDir scratch;
  const Bytes module = testing::kEmptyModule;
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

// One image the Wasm test builds: its name, the tool's format flags and its module.
struct WasmImage {
  std::string name;
  std::vector<std::string> flags;
  Bytes module;
};

TEST(ImageImport, WasmImagesImportWithoutUnpackAndServeTheirModules) {
  if (std::string reason = testing::containerdSkipReason(); !reason.empty()) GTEST_SKIP() << reason;

  ScratchDir scratch;
  // Three modules that differ, so each layer's digest names one module.
  using testing::moduleNamed;
  TarWriter staticFiles;
  ASSERT_TRUE(staticFiles.addFile("index.html", Bytes{'<', 'p', '>'}));
  ASSERT_TRUE(writeFileAtomic(scratch / "static.tar", std::move(staticFiles).finish()));
  const std::vector<WasmImage> images = {
      {"ghcr.io/example/wasm-runwasi:v1", {"--format", "runwasi"}, moduleNamed('a')},
      {"ghcr.io/example/wasm-hybrid:v1",
       {"--format", "runwasi", "--layer",
        "application/vnd.oci.image.layer.v1.tar=" + (scratch / "static.tar").string()},
       moduleNamed('b')},
      {"ghcr.io/example/wasm-artifact:v1", {"--as-artifact"}, moduleNamed('c')},
  };
  std::vector<fs::path> tars;
  for (const auto& image : images) {
    std::string base = image.name.substr(image.name.rfind('/') + 1);
    fs::path wasm = scratch / (base.substr(0, base.find(':')) + ".wasm");
    ASSERT_TRUE(writeFileAtomic(wasm, image.module));
    tars.push_back(scratch / (wasm.stem().string() + ".tar"));
    std::vector<std::string> args{
        RUNWASI_OCI_TAR_BUILDER, "--name", image.name,          "--module",
        wasm.string(),           "-o",     tars.back().string()};
    args.insert(args.end(), image.flags.begin(), image.flags.end());
    auto built = runProcess(args);
    ASSERT_EQ(built.status, 0) << built.err;
  }

  PrivateContainerd containerd(scratch / "containerd");
  auto started = containerd.start();
  ASSERT_EQ(started.status, 0) << "containerd did not start: " << started.err;

  // CRI's namespace and ctr's: imported, named, each module's bytes in the content store.
  for (std::string ns : {"k8s.io", "default"}) {
    for (const auto& tar : tars) {
      auto imported = containerd.ctr(
          {"-n", ns, "images", "import", "--all-platforms", "--no-unpack", tar.string()});
      EXPECT_EQ(imported.status, 0) << ns << " " << tar << ": " << imported.out << imported.err;
    }
    auto names = containerd.ctr({"-n", ns, "images", "ls", "-q"});
    ASSERT_EQ(names.status, 0) << names.err;
    for (const auto& image : images) {
      EXPECT_TRUE(hasLine(names.out, image.name)) << ns << ": " << image.name << " not in\n"
                                                  << names.out;
      auto content =
          containerd.ctr({"-n", ns, "content", "get", "sha256:" + sha256Hex(image.module)});
      EXPECT_EQ(content.status, 0) << content.err;
      EXPECT_EQ(content.out, std::string(image.module.begin(), image.module.end()))
          << ns << ": " << image.name;
    }
    auto listing = containerd.ctr({"-n", ns, "images", "ls"});
    size_t line = listing.out.find(images[0].name + " ");
    ASSERT_NE(line, std::string::npos) << listing.out;
    EXPECT_NE(listing.out.substr(line, listing.out.find('\n', line) - line).find(" wasip1/wasm "),
              std::string::npos)
        << listing.out;
  }

  // containerd 1.6.20's limits, as docs/images.md states them. A plain import keeps only
  // the default platform (linux/amd64), so a Wasm image is filtered out.
  for (const auto& tar : {tars[0], tars[2]}) {
    auto plain = containerd.ctr({"-n", "plain", "images", "import", tar.string()});
    EXPECT_NE(plain.status, 0) << plain.out;
    EXPECT_NE(plain.err.find("image might be filtered out"), std::string::npos) << plain.err;
  }
  auto none = containerd.ctr({"-n", "plain", "images", "ls", "-q"});
  EXPECT_EQ(none.out, "");
  // Unpacking fails for every Wasm image, pure or hybrid: the manifest has more layers
  // than the config's diff_ids.
  for (const auto& tar : tars) {
    auto unpacked =
        containerd.ctr({"-n", "unpack", "images", "import", "--all-platforms", tar.string()});
    EXPECT_NE(unpacked.status, 0) << unpacked.out;
    EXPECT_NE(unpacked.err.find("mismatched image rootfs and manifest layers"), std::string::npos)
        << tar << ": " << unpacked.err;
  }
  // So `ctr run`, which always unpacks, cannot start one (it fails before any shim runs).
  for (const auto& image : {images[0], images[2]}) {
    auto run =
        containerd.ctr({"-n", "default", "run", "--rm", "--fifo-dir", (scratch / "fifo").string(),
                        "--runtime", "io.containerd.v8.v1", image.name, "wasm-run"});
    EXPECT_NE(run.status, 0) << run.out;
    EXPECT_NE(run.err.find("mismatched image rootfs and manifest layers"), std::string::npos)
        << image.name << ": " << run.err;
  }
}

}  // namespace
}  // namespace runwasi::oci
