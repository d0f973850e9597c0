// The sandbox: no guest path leaves the preopened directory, whatever the function.
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "wasi_test_fixture.h"

namespace runwasi::wasi::test {
namespace {

using F = FunctionId;
namespace fs = std::filesystem;

// Exchanges two host paths (renameat2 RENAME_EXCHANGE) over and over on a thread, until
// stop() or destruction, so a failing assertion cannot leave the thread running.
class DirectorySwapper {
 public:
  DirectorySwapper(std::string a, std::string b)
      : a_(std::move(a)), b_(std::move(b)), thread_([this] {
          while (!stop_) renameat2(AT_FDCWD, a_.c_str(), AT_FDCWD, b_.c_str(), RENAME_EXCHANGE);
        }) {}
  ~DirectorySwapper() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::string a_, b_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class PathEscapeTest : public WasiTest {
 protected:
  void SetUp() override {
    WasiTest::SetUp();
    fs::create_directory(outside("outside"));
    writeHostFile(outside("outside/secret"), "SECRET");
    writeHostFile(outside("secret"), "SECRET");
    fs::create_directory(hostPath("dir"));
    writeHostFile(hostPath("dir/file"), "inside");
    fs::create_symlink(outside("outside"), hostPath("abs"));  // absolute, to a directory
    fs::create_symlink(outside("secret"), hostPath("absfile"));
    fs::create_symlink("../outside", hostPath("up"));  // relative, escaping
    fs::create_symlink("dir/../../secret", hostPath("upfile"));
    fs::create_symlink("up", hostPath("chain"));  // a chain that ends outside
  }

  // Every path function with `path`, as the kind of call each one makes.
  std::vector<std::pair<std::string, Errno>> everyFunction(std::string_view path) {
    std::vector<std::pair<std::string, Errno>> results;
    Fd fd = 0;
    Filestat st{};
    const uint32_t p = putString(path), n = static_cast<uint32_t>(path.size());
    const uint32_t inside = putString("dir/file");
    const uint32_t fresh = putString("fresh");
    results.emplace_back("open", open(kRoot, path, 0, right::kFdRead, 0, &fd, 0, 0));
    results.emplace_back("open-follow",
                         open(kRoot, path, 0, right::kFdRead, 0, &fd, 0, kLookupSymlinkFollow));
    results.emplace_back("open-creat", open(kRoot, path, oflag::kCreat, 0, 0, &fd));
    results.emplace_back("filestat-follow", pathFilestat(kRoot, path, kLookupSymlinkFollow, &st));
    results.emplace_back("mkdir", call(F::path_create_directory, {kRoot, p, n}));
    results.emplace_back("rmdir", call(F::path_remove_directory, {kRoot, p, n}));
    results.emplace_back("unlink", call(F::path_unlink_file, {kRoot, p, n}));
    results.emplace_back("set-times",
                         call(F::path_filestat_set_times,
                              {kRoot, kLookupSymlinkFollow, p, n, 0, 0, fstflag::kMtimNow}));
    results.emplace_back("link-from",
                         call(F::path_link, {kRoot, kLookupSymlinkFollow, p, n, kRoot, fresh, 5}));
    results.emplace_back("link-to", call(F::path_link, {kRoot, 0, inside, 8, kRoot, p, n}));
    results.emplace_back("rename-from", call(F::path_rename, {kRoot, p, n, kRoot, fresh, 5}));
    results.emplace_back("rename-to", call(F::path_rename, {kRoot, inside, 8, kRoot, p, n}));
    results.emplace_back("symlink-at", call(F::path_symlink, {inside, 8, kRoot, p, n}));
    results.emplace_back("readlink",
                         call(F::path_readlink, {kRoot, p, n, alloc(64), 64, alloc(4)}));
    return results;
  }

  void expectOutsideUntouched() {
    EXPECT_EQ(readHostFile(outside("secret")), "SECRET");
    EXPECT_EQ(readHostFile(outside("outside/secret")), "SECRET");
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(outside("outside")))
      names.push_back(e.path().filename());
    EXPECT_EQ(names, std::vector<std::string>{"secret"});
    std::vector<std::string> top;
    for (const auto& e : fs::directory_iterator(top_.path())) top.push_back(e.path().filename());
    std::sort(top.begin(), top.end());
    EXPECT_EQ(top, (std::vector<std::string>{"outside", "sandbox", "secret"}));
    EXPECT_EQ(readHostFile(hostPath("dir/file")), "inside");
  }
};

TEST_F(PathEscapeTest, EveryFunctionRejectsEscapingPaths) {
  for (const std::string& path : std::vector<std::string>{
           "../secret", "dir/../../secret", "../outside/secret", "/secret", "/", "..", "abs/secret",
           "abs/new", "up/secret", "up/new", "chain/secret", "dir/../up/secret", outside("secret"),
           "../sandbox/dir/file"}) {
    for (const auto& [function, e] : everyFunction(path)) {
      EXPECT_EQ(e, Errno::kNotcapable) << function << " " << path;
    }
    expectOutsideUntouched();
  }
}

TEST_F(PathEscapeTest, FinalSymlinksOutsideAreNotFollowed) {
  for (const std::string path : {"absfile", "upfile", "abs", "up", "chain"}) {
    Fd fd = 0;
    Filestat st{};
    EXPECT_EQ(open(kRoot, path, 0, right::kFdRead, 0, &fd, 0, kLookupSymlinkFollow),
              Errno::kNotcapable)
        << path;
    EXPECT_EQ(pathFilestat(kRoot, path, kLookupSymlinkFollow, &st), Errno::kNotcapable) << path;
    EXPECT_EQ(pathFilestat(kRoot, path + "/", 0, &st), Errno::kNotcapable) << path;
    // Without follow the link itself is what the guest sees.
    ASSERT_EQ(pathFilestat(kRoot, path, 0, &st), Errno::kSuccess) << path;
    EXPECT_EQ(st.filetype, Filetype::kSymbolicLink);
    EXPECT_EQ(open(kRoot, path, 0, right::kFdRead, 0, &fd), Errno::kLoop) << path;
  }
  uint32_t p = putString("abs/"), q = putString("absfile");
  EXPECT_EQ(call(F::path_readlink, {kRoot, p, 4, alloc(64), 64, alloc(4)}), Errno::kNotcapable);
  EXPECT_EQ(call(F::path_link, {kRoot, 0, p, 4, kRoot, putString("x"), 1}), Errno::kNotcapable);
  // Removing the links themselves is fine and leaves their targets alone.
  EXPECT_EQ(call(F::path_unlink_file, {kRoot, q, 7}), Errno::kSuccess);
  EXPECT_EQ(pathCall(F::path_unlink_file, kRoot, "abs"), Errno::kSuccess);
  expectOutsideUntouched();
}

TEST_F(PathEscapeTest, DotDotInsideIsFine) {
  Fd fd = 0;
  ASSERT_EQ(open(kRoot, "dir/.//../dir/./file", 0, right::kFdRead, 0, &fd), Errno::kSuccess);
  std::string data;
  ASSERT_EQ(read(fd, 16, &data), Errno::kSuccess);
  EXPECT_EQ(data, "inside");
  Fd dir = 0;
  ASSERT_EQ(open(kRoot, "dir", oflag::kDirectory, right::kDirectory, right::kAll, &dir),
            Errno::kSuccess);
  // Relative to `dir`, its parent is outside its sandbox even though it is inside ours.
  EXPECT_EQ(open(dir, "../dir/file", 0, 0, 0, &fd), Errno::kNotcapable);
  EXPECT_EQ(open(dir, "file", 0, 0, 0, &fd), Errno::kSuccess);
  Filestat st{};
  EXPECT_EQ(pathFilestat(kRoot, "dir/..", 0, &st), Errno::kSuccess);
  EXPECT_EQ(pathCall(F::path_remove_directory, kRoot, "dir/.."), Errno::kInval);
}

TEST_F(PathEscapeTest, SymlinkLoops) {
  fs::create_symlink("loop2", hostPath("loop1"));
  fs::create_symlink("loop1", hostPath("loop2"));
  fs::create_symlink("self", hostPath("self"));
  Fd fd = 0;
  Filestat st{};
  for (const std::string path : {"loop1", "self"}) {
    EXPECT_EQ(open(kRoot, path, 0, 0, 0, &fd, 0, kLookupSymlinkFollow), Errno::kLoop);
    EXPECT_EQ(open(kRoot, path, 0, 0, 0, &fd), Errno::kLoop);
    EXPECT_EQ(open(kRoot, path + "/x", oflag::kCreat, 0, 0, &fd), Errno::kLoop);
    EXPECT_EQ(pathFilestat(kRoot, path, kLookupSymlinkFollow, &st), Errno::kLoop);
    EXPECT_EQ(pathCall(F::path_create_directory, kRoot, path + "/d"), Errno::kLoop);
  }
}

TEST_F(PathEscapeTest, NulBytesAreInvalid) {
  const std::string path("dir/file\0", 9), mid("di\0r/file", 9);
  Fd fd = 0;
  Filestat st{};
  EXPECT_EQ(open(kRoot, path, 0, 0, 0, &fd), Errno::kInval);
  EXPECT_EQ(open(kRoot, mid, 0, 0, 0, &fd), Errno::kInval);
  EXPECT_EQ(pathFilestat(kRoot, path, 0, &st), Errno::kInval);
  EXPECT_EQ(pathCall(F::path_unlink_file, kRoot, path), Errno::kInval);
  EXPECT_EQ(pathCall(F::path_create_directory, kRoot, std::string("new\0", 4)), Errno::kInval);
  uint32_t target = putString(std::string("t\0x", 3)), link = putString("link");
  EXPECT_EQ(call(F::path_symlink, {target, 3, kRoot, link, 4}), Errno::kInval);
  EXPECT_TRUE(fs::exists(hostPath("dir/file")));
  EXPECT_FALSE(fs::exists(hostPath("new")));
}

TEST_F(PathEscapeTest, OverlongPathsAndComponents) {
  Fd fd = 0;
  std::string longPath;
  while (longPath.size() < 5000) longPath += "dir/";
  longPath += "file";
  EXPECT_EQ(open(kRoot, longPath, 0, 0, 0, &fd), Errno::kNametoolong);
  EXPECT_EQ(pathCall(F::path_unlink_file, kRoot, longPath), Errno::kNametoolong);
  const std::string longName(300, 'n');
  EXPECT_EQ(open(kRoot, longName, oflag::kCreat, 0, 0, &fd), Errno::kNametoolong);
  EXPECT_EQ(pathCall(F::path_create_directory, kRoot, longName), Errno::kNametoolong);
  EXPECT_EQ(pathCall(F::path_create_directory, kRoot, longName + "/x"), Errno::kNametoolong);
}

TEST_F(PathEscapeTest, AbsoluteSymlinkTargetsAreRefused) {
  uint32_t target = putString("/etc/passwd"), link = putString("pw");
  EXPECT_EQ(call(F::path_symlink, {target, 11, kRoot, link, 2}), Errno::kNotcapable);
  EXPECT_FALSE(fs::is_symlink(hostPath("pw")));
  // A relative one that escapes may be created, but never followed out.
  uint32_t rel = putString("../../../../etc/passwd");
  ASSERT_EQ(call(F::path_symlink, {rel, 22, kRoot, link, 2}), Errno::kSuccess);
  Fd fd = 0;
  EXPECT_EQ(open(kRoot, "pw", 0, right::kFdRead, 0, &fd, 0, kLookupSymlinkFollow),
            Errno::kNotcapable);
}

// A directory swapped for a symlink to the outside while the guest opens a path through
// it: the kernel resolves each open atomically beneath the preopen, so no interleaving
// can reach the outside file.
TEST_F(PathEscapeTest, RaceSwappingADirectoryForAnEscapingSymlink) {
  fs::create_directory(hostPath("swap"));
  writeHostFile(hostPath("swap/secret"), "INSIDE");
  fs::create_symlink(outside("outside"), hostPath("alt"));
  DirectorySwapper swapper(hostPath("swap"), hostPath("alt"));
  int inside = 0, refused = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (std::chrono::steady_clock::now() < deadline) {
    arena_ = 1024;
    Fd fd = 0;
    Errno e = open(kRoot, "swap/secret", 0, right::kFdRead, 0, &fd, 0, kLookupSymlinkFollow);
    if (e == Errno::kSuccess) {
      std::string data;
      ASSERT_EQ(read(fd, 16, &data), Errno::kSuccess);
      ASSERT_EQ(data, "INSIDE");
      ASSERT_EQ(call(F::fd_close, {fd}), Errno::kSuccess);
      ++inside;
    } else {
      ASSERT_TRUE(e == Errno::kNotcapable || e == Errno::kNoent || e == Errno::kNotdir)
          << static_cast<int>(e);
      ++refused;
    }
  }
  swapper.stop();
  EXPECT_GT(inside + refused, 100);
  expectOutsideUntouched();
}

// The same race for the functions that act on a parent directory and a name: creating,
// removing and renaming through the swapped directory never touches the outside.
TEST_F(PathEscapeTest, RaceOnParentDirectoryFunctions) {
  fs::create_directory(hostPath("swap"));
  fs::create_symlink(outside("outside"), hostPath("alt"));
  DirectorySwapper swapper(hostPath("swap"), hostPath("alt"));
  int done = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (std::chrono::steady_clock::now() < deadline) {
    arena_ = 1024;
    Fd fd = 0;
    if (open(kRoot, "swap/new", oflag::kCreat, 0, 0, &fd) == Errno::kSuccess) {
      call(F::fd_close, {fd});
      ++done;
    }
    if (pathCall(F::path_unlink_file, kRoot, "swap/new") == Errno::kSuccess) ++done;
    if (pathCall(F::path_unlink_file, kRoot, "swap/secret") == Errno::kSuccess) ++done;
    if (pathCall(F::path_create_directory, kRoot, "swap/d") == Errno::kSuccess) ++done;
    if (pathCall(F::path_remove_directory, kRoot, "swap/d") == Errno::kSuccess) ++done;
    if (open(kRoot, "swap/a", oflag::kCreat, 0, 0, &fd) == Errno::kSuccess) call(F::fd_close, {fd});
    uint32_t from = putString("swap/a"), to = putString("swap/b");
    if (call(F::path_rename, {kRoot, from, 6, kRoot, to, 6}) == Errno::kSuccess) ++done;
  }
  swapper.stop();
  EXPECT_GT(done, 10);
  expectOutsideUntouched();
}

}  // namespace
}  // namespace runwasi::wasi::test
