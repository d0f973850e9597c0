// mountRootfs/unmountRootfs on real mounts in scratch directories (root only), and the
// option table. Every mount test unmounts its scratch tree in TearDown, pass or fail.
#include "shim/rootfs_mount.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "../support/scratch_dir.h"

namespace runwasi::shim {
namespace {

namespace fs = std::filesystem;

// --- parseMountOptions ---

struct OptionsRow {
  std::vector<std::string> options;
  unsigned long flags;
  unsigned long propagation;
  std::string data;
};

TEST(RootfsMountOptions, SplitsFlagsPropagationAndData) {
  const std::vector<OptionsRow> rows = {
      {{}, 0, 0, ""},
      {{"ro"}, MS_RDONLY, 0, ""},
      {{"ro", "rw"}, 0, 0, ""},
      {{"rw", "ro"}, MS_RDONLY, 0, ""},
      {{"bind"}, MS_BIND, 0, ""},
      {{"rbind", "ro"}, MS_BIND | MS_REC | MS_RDONLY, 0, ""},
      {{"nosuid", "nodev", "noexec"}, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, ""},
      {{"nosuid", "suid", "nodev", "dev", "noexec", "exec"}, 0, 0, ""},
      {{"sync"}, MS_SYNCHRONOUS, 0, ""},
      {{"sync", "async"}, 0, 0, ""},
      {{"remount", "bind", "ro"}, MS_REMOUNT | MS_BIND | MS_RDONLY, 0, ""},
      {{"relatime"}, MS_RELATIME, 0, ""},
      {{"relatime", "norelatime"}, 0, 0, ""},
      {{"noatime", "nodiratime"}, MS_NOATIME | MS_NODIRATIME, 0, ""},
      {{"strictatime"}, MS_STRICTATIME, 0, ""},
      {{"private"}, 0, MS_PRIVATE, ""},
      {{"rprivate"}, 0, MS_PRIVATE | MS_REC, ""},
      {{"shared"}, 0, MS_SHARED, ""},
      {{"rshared"}, 0, MS_SHARED | MS_REC, ""},
      {{"slave"}, 0, MS_SLAVE, ""},
      {{"rslave"}, 0, MS_SLAVE | MS_REC, ""},
      {{"unbindable"}, 0, MS_UNBINDABLE, ""},
      {{"runbindable"}, 0, MS_UNBINDABLE | MS_REC, ""},
      {{"private", "rshared"}, 0, MS_SHARED | MS_REC, ""},
      {{"lowerdir=/l1:/l2", "upperdir=/u", "workdir=/w", "index=off"},
       0,
       0,
       "lowerdir=/l1:/l2,upperdir=/u,workdir=/w,index=off"},
      {{"ro", "size=1m", "nosuid", "mode=755", "rslave"},
       MS_RDONLY | MS_NOSUID,
       MS_SLAVE | MS_REC,
       "size=1m,mode=755"},
  };
  for (const OptionsRow& row : rows) {
    std::string name;
    for (const std::string& o : row.options) name += o + " ";
    SCOPED_TRACE("options: " + name);
    MountOptions got = parseMountOptions(row.options);
    EXPECT_EQ(got.flags, row.flags);
    EXPECT_EQ(got.propagation, row.propagation);
    EXPECT_EQ(got.data, row.data);
  }
}

// --- reading /proc/self/mountinfo, independently of the code under test ---

struct MountEntry {
  std::string point;
  std::string options;   // per-mount options (field 6)
  std::string optional;  // optional fields (shared:N, unbindable, ...), space-separated
};

std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<MountEntry> mountsAtOrBelow(const fs::path& dir) {
  const std::string d = fs::weakly_canonical(dir).string();
  std::ifstream in("/proc/self/mountinfo");
  std::vector<MountEntry> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point, options, field, optional;
    fields >> id >> parent >> dev >> root >> point >> options;
    while (fields >> field && field != "-") optional += field + " ";
    point = unescape(point);
    if (point == d || point.rfind(d + "/", 0) == 0) out.push_back({point, options, optional});
  }
  return out;
}

bool hasOption(const std::string& list, const std::string& option) {
  return ("," + list + ",").find("," + option + ",") != std::string::npos;
}

std::string readText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool writeText(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  return out.good();
}

// --- mounting ---

class RootfsMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "mount(2) needs root";
    scratch_.emplace("rootfs-mount-test-");
    root_ = scratch_->path() / "rootfs";
    fs::create_directories(root_);
  }

  // Nothing may stay mounted in the scratch tree: unmountRootfs first, then by hand in case
  // unmountRootfs itself is what is broken.
  void TearDown() override {
    if (!scratch_) return;
    (void)unmountRootfs(scratch_->path());
    for (int i = 0; i < 64; ++i) {
      auto left = mountsAtOrBelow(scratch_->path());
      if (left.empty()) break;
      ::umount2(left.back().point.c_str(), MNT_DETACH);
    }
    ASSERT_TRUE(mountsAtOrBelow(scratch_->path()).empty()) << "scratch tree still mounted";
  }

  // A tmpfs at scratch/<name>: a filesystem that supports overlay upper dirs and whose
  // read-only state the test controls, whatever $TMPDIR lives on.
  fs::path tmpfsDir(const std::string& name) {
    fs::path dir = scratch_->path() / name;
    fs::create_directories(dir);
    auto mounted = mountRootfs({{"tmpfs", "tmpfs", {"size=4m"}}}, dir);
    EXPECT_TRUE(mounted) << mounted.error().message;
    return dir;
  }

  std::optional<testing::ScratchDir> scratch_;
  fs::path root_;
};

void expectReadOnlyBind(const fs::path& src, const fs::path& root) {
  EXPECT_EQ(readText(root / "hello"), "hi");
  errno = 0;
  int fd = ::open((root / "new").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, EROFS);
  if (fd >= 0) ::close(fd);
  EXPECT_TRUE(writeText(src / "still-writable", "x")) << "the source must stay writable";
  auto entries = mountsAtOrBelow(root);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_TRUE(hasOption(entries[0].options, "ro")) << entries[0].options;
}

TEST_F(RootfsMountTest, ReadOnlyBindTypeRejectsWrites) {
  fs::path src = tmpfsDir("src");
  ASSERT_TRUE(writeText(src / "hello", "hi"));
  auto mounted = mountRootfs({{"bind", src.string(), {"ro"}}}, root_);
  ASSERT_TRUE(mounted) << mounted.error().message;
  expectReadOnlyBind(src, root_);
}

TEST_F(RootfsMountTest, ReadOnlyRbindOptionRejectsWritesAndKeepsNosuid) {
  fs::path src = tmpfsDir("src");
  ASSERT_TRUE(writeText(src / "hello", "hi"));
  auto mounted = mountRootfs({{"none", src.string(), {"rbind", "ro", "nosuid"}}}, root_);
  ASSERT_TRUE(mounted) << mounted.error().message;
  expectReadOnlyBind(src, root_);
  auto entries = mountsAtOrBelow(root_);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_TRUE(hasOption(entries[0].options, "nosuid")) << entries[0].options;
}

TEST_F(RootfsMountTest, OverlayShowsLowerAndWritesToUpper) {
  fs::path fsDir = tmpfsDir("fs");
  for (const char* d : {"lower", "upper", "work"}) fs::create_directories(fsDir / d);
  ASSERT_TRUE(writeText(fsDir / "lower" / "from-lower", "lower data"));
  auto mounted = mountRootfs(
      {{"overlay",
        "overlay",
        {"lowerdir=" + (fsDir / "lower").string(), "upperdir=" + (fsDir / "upper").string(),
         "workdir=" + (fsDir / "work").string()}}},
      root_);
  ASSERT_TRUE(mounted) << mounted.error().message;
  EXPECT_EQ(readText(root_ / "from-lower"), "lower data");
  ASSERT_TRUE(writeText(root_ / "from-rootfs", "new"));
  EXPECT_EQ(readText(fsDir / "upper" / "from-rootfs"), "new");
  EXPECT_FALSE(fs::exists(fsDir / "lower" / "from-rootfs"));
}

TEST_F(RootfsMountTest, PropagationIsAppliedWithASecondCall) {
  auto shared = mountRootfs({{"tmpfs", "tmpfs", {"size=1m", "shared"}}}, root_);
  ASSERT_TRUE(shared) << shared.error().message;
  auto entries = mountsAtOrBelow(root_);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_NE(entries[0].optional.find("shared:"), std::string::npos) << entries[0].optional;

  ASSERT_TRUE(unmountRootfs(root_));
  auto unbindable = mountRootfs({{"tmpfs", "tmpfs", {"unbindable"}}}, root_);
  ASSERT_TRUE(unbindable) << unbindable.error().message;
  entries = mountsAtOrBelow(root_);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_NE(entries[0].optional.find("unbindable"), std::string::npos) << entries[0].optional;
}

TEST_F(RootfsMountTest, RemountChangesTheExistingMount) {
  ASSERT_TRUE(mountRootfs({{"tmpfs", "tmpfs", {}}}, root_));
  auto remounted = mountRootfs({{"tmpfs", "tmpfs", {"remount", "ro"}}}, root_);
  ASSERT_TRUE(remounted) << remounted.error().message;
  auto entries = mountsAtOrBelow(root_);
  ASSERT_EQ(entries.size(), 1u) << "a remount is not a new mount";
  EXPECT_TRUE(hasOption(entries[0].options, "ro")) << entries[0].options;
}

TEST_F(RootfsMountTest, UnmountRemovesStackedAndNestedMountsAndIsIdempotent) {
  // Two tmpfs stacked on root, a third inside the top one.
  ASSERT_TRUE(mountRootfs({{"tmpfs", "tmpfs", {}}, {"tmpfs", "tmpfs", {}}}, root_));
  fs::create_directories(root_ / "sub" / "dir");
  ASSERT_TRUE(mountRootfs({{"tmpfs", "tmpfs", {}}}, root_ / "sub" / "dir"));
  ASSERT_EQ(mountsAtOrBelow(root_).size(), 3u);

  auto unmounted = unmountRootfs(root_);
  ASSERT_TRUE(unmounted) << unmounted.error().message;
  EXPECT_TRUE(mountsAtOrBelow(root_).empty());

  auto again = unmountRootfs(root_);
  EXPECT_TRUE(again) << again.error().message;
  auto missing = unmountRootfs(scratch_->path() / "no" / "such" / "dir");
  EXPECT_TRUE(missing) << missing.error().message;
}

TEST_F(RootfsMountTest, UnmountFindsEscapedMountPoints) {
  fs::path spaced = scratch_->path() / "root fs";  // mountinfo shows "root\040fs"
  fs::create_directories(spaced);
  ASSERT_TRUE(mountRootfs({{"tmpfs", "tmpfs", {}}}, spaced));
  fs::create_directories(spaced / "in\\side");  // a backslash shows as "\134"
  ASSERT_TRUE(mountRootfs({{"tmpfs", "tmpfs", {}}}, spaced / "in\\side"));
  ASSERT_EQ(mountsAtOrBelow(spaced).size(), 2u);

  auto unmounted = unmountRootfs(spaced);
  ASSERT_TRUE(unmounted) << unmounted.error().message;
  EXPECT_TRUE(mountsAtOrBelow(spaced).empty());
}

TEST_F(RootfsMountTest, UnmountMatchesWholePathComponents) {
  fs::path b = scratch_->path() / "a" / "b";
  fs::path bc = scratch_->path() / "a" / "bc";
  fs::create_directories(b);
  fs::create_directories(bc);
  ASSERT_TRUE(mountRootfs({{"tmpfs", "tmpfs", {}}}, b));
  ASSERT_TRUE(mountRootfs({{"tmpfs", "tmpfs", {}}}, bc));

  ASSERT_TRUE(unmountRootfs(b));
  EXPECT_TRUE(mountsAtOrBelow(b).empty());
  auto left = mountsAtOrBelow(bc);
  ASSERT_EQ(left.size(), 1u) << "/a/b must not match /a/bc";
  EXPECT_EQ(left[0].point, fs::canonical(bc).string());
}

TEST_F(RootfsMountTest, UnmountResolvesSymlinkedTarget) {
  ASSERT_TRUE(mountRootfs({{"tmpfs", "tmpfs", {}}}, root_));
  fs::path link = scratch_->path() / "link";
  fs::create_directory_symlink(root_, link);
  ASSERT_TRUE(unmountRootfs(link));
  EXPECT_TRUE(mountsAtOrBelow(root_).empty());
}

TEST_F(RootfsMountTest, FailedOverlayRollsBackEarlierMounts) {
  fs::path missing = scratch_->path() / "missing";
  fs::create_directories(scratch_->path() / "upper");
  fs::create_directories(scratch_->path() / "work");
  auto mounted = mountRootfs(
      {{"tmpfs", "tmpfs", {}},
       {"tmpfs", "tmpfs", {}},
       {"overlay",
        "overlay",
        {"lowerdir=" + missing.string(), "upperdir=" + (scratch_->path() / "upper").string(),
         "workdir=" + (scratch_->path() / "work").string()}}},
      root_);
  ASSERT_FALSE(mounted);
  EXPECT_EQ(mounted.error().message,
            "mounting overlay (overlay) on " + root_.string() + ": No such file or directory");
  EXPECT_EQ(mounted.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(mounted.error().sysErrno, ENOENT);
  EXPECT_TRUE(mountsAtOrBelow(root_).empty()) << "the two tmpfs must be rolled back";
}

TEST_F(RootfsMountTest, FailedBindNamesSourceAndLeavesNoMounts) {
  fs::path missing = scratch_->path() / "missing";
  auto mounted = mountRootfs({{"tmpfs", "tmpfs", {}}, {"bind", missing.string(), {"ro"}}}, root_);
  ASSERT_FALSE(mounted);
  EXPECT_EQ(mounted.error().message, "mounting " + missing.string() + " (bind) on " +
                                         root_.string() + ": No such file or directory");
  EXPECT_TRUE(mountsAtOrBelow(root_).empty());
}

TEST_F(RootfsMountTest, RollbackLeavesEarlierMountsOfOthersInPlace) {
  // A mount that was there before the call is not this call's to undo, and a remount of
  // it made no new mount to roll back.
  ASSERT_TRUE(mountRootfs({{"tmpfs", "tmpfs", {}}}, root_));
  auto mounted = mountRootfs({{"tmpfs", "tmpfs", {"remount", "nosuid"}},
                              {"tmpfs", "tmpfs", {}},
                              {"bind", (scratch_->path() / "missing").string(), {}}},
                             root_);
  ASSERT_FALSE(mounted);
  EXPECT_EQ(mountsAtOrBelow(root_).size(), 1u);
}

}  // namespace
}  // namespace runwasi::shim
