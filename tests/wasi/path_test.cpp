// path_* functions: semantics, errnos, rights.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "wasi_test_fixture.h"

namespace runwasi::wasi::test {
namespace {

using F = FunctionId;
namespace fs = std::filesystem;
using PathTest = WasiTest;

bool exists(const std::string& p) {
  struct stat st {};
  return lstat(p.c_str(), &st) == 0;
}

TEST_F(PathTest, OpenCreatesExclusivelyAndTruncates) {
  Fd fd = 0;
  EXPECT_EQ(openFile("new", &fd), Errno::kNoent);
  ASSERT_EQ(openFile("new", &fd, oflag::kCreat), Errno::kSuccess);
  EXPECT_GT(fd, 2u);
  ASSERT_EQ(write(fd, "abc"), Errno::kSuccess);
  EXPECT_EQ(readHostFile(hostPath("new")), "abc");
  Fd again = 0;
  EXPECT_EQ(openFile("new", &again, oflag::kCreat | oflag::kExcl), Errno::kExist);
  ASSERT_EQ(openFile("new", &again, oflag::kTrunc), Errno::kSuccess);
  EXPECT_EQ(readHostFile(hostPath("new")), "");
  EXPECT_EQ(openFile("new", &again, oflag::kDirectory), Errno::kNotdir);
  EXPECT_EQ(openFile("new", &again, 0x10), Errno::kInval);
  EXPECT_EQ(open(kRoot, "new", 0, 0, 0, &again, 0x20), Errno::kInval);
}

TEST_F(PathTest, OpenDirectories) {
  fs::create_directory(hostPath("d"));
  Fd fd = 0;
  ASSERT_EQ(open(kRoot, "d", oflag::kDirectory, right::kDirectory | right::kFdSeek, 0, &fd),
            Errno::kSuccess);
  Fdstat st{};
  ASSERT_EQ(fdstat(fd, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsFiletype, Filetype::kDirectory);
  EXPECT_EQ(st.fsRightsBase, right::kDirectory);  // no fd_seek for a directory
  ASSERT_EQ(open(kRoot, ".", 0, 0, 0, &fd), Errno::kSuccess);
  ASSERT_EQ(open(kRoot, "d/", 0, 0, 0, &fd), Errno::kSuccess);
  EXPECT_EQ(open(kRoot, "d", oflag::kDirectory, right::kFdRead | right::kFdWrite, 0, &fd),
            Errno::kIsdir);
  EXPECT_EQ(open(kRoot, "d", 0, right::kFdWrite, 0, &fd), Errno::kIsdir);
}

TEST_F(PathTest, OpenFifoDoesNotBlockAndNonblockIsKept) {
  ASSERT_EQ(mkfifo(hostPath("fifo").c_str(), 0600), 0);
  Fd fd = 0;
  ASSERT_EQ(open(kRoot, "fifo", 0, right::kFdRead, 0, &fd), Errno::kSuccess);  // no writer yet
  Fdstat st{};
  ASSERT_EQ(fdstat(fd, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsFiletype, Filetype::kUnknown);
  EXPECT_EQ(st.fsFlags, 0);  // blocking, as asked
  Fd dir = 0;
  ASSERT_EQ(open(kRoot, ".", 0, 0, 0, &dir, fdflag::kNonblock), Errno::kSuccess);
  ASSERT_EQ(fdstat(dir, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsFlags, fdflag::kNonblock);
}

TEST_F(PathTest, OpenRightsInheritance) {
  fs::create_directory(hostPath("d"));
  writeHostFile(hostPath("d/f"), "data");
  Fd d = 0;
  ASSERT_EQ(open(kRoot, "d", oflag::kDirectory, right::kPathOpen, right::kFdRead, &d),
            Errno::kSuccess);
  Fd f = 0;
  ASSERT_EQ(open(d, "f", 0, right::kFdRead | right::kFdWrite, 0, &f), Errno::kSuccess);
  Fdstat st{};
  ASSERT_EQ(fdstat(f, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsRightsBase, right::kFdRead);  // fd_write was not inheritable
  EXPECT_EQ(write(f, "x"), Errno::kNotcapable);
  // Without path_create_file in d, O_CREAT is not allowed; without path_open nothing is.
  EXPECT_EQ(open(d, "g", oflag::kCreat, 0, 0, &f), Errno::kNotcapable);
  EXPECT_FALSE(exists(hostPath("d/g")));
  ASSERT_EQ(dropRights(d, right::kPathOpen, 0), Errno::kSuccess);
  EXPECT_EQ(open(d, "f", 0, 0, 0, &f), Errno::kNotcapable);
  // Truncation needs path_filestat_set_size.
  ASSERT_EQ(dropRights(kRoot, right::kPathFilestatSetSize, 0), Errno::kSuccess);
  EXPECT_EQ(open(kRoot, "d/f", oflag::kTrunc, 0, 0, &f), Errno::kNotcapable);
  EXPECT_EQ(readHostFile(hostPath("d/f")), "data");
}

TEST_F(PathTest, OpenThroughAFileFdIsNotdir) {
  writeHostFile(hostPath("f"), "");
  Fd f = 0, g = 0;
  ASSERT_EQ(openFile("f", &f), Errno::kSuccess);
  EXPECT_EQ(open(f, "x", oflag::kCreat, 0, 0, &g), Errno::kNotdir);
  EXPECT_EQ(open(99, "x", 0, 0, 0, &g), Errno::kBadf);
  EXPECT_EQ(call(F::path_open, {kRoot, 0, kMemorySize - 2, 5, 0, 0, 0, 0, alloc(4)}),
            Errno::kFault);
  uint32_t p = putString("f");
  EXPECT_EQ(call(F::path_open, {kRoot, 0, p, 1, 0, 0, 0, 0, kMemorySize - 3}), Errno::kFault);
}

TEST_F(PathTest, OpenSymlinksFollowOrNot) {
  writeHostFile(hostPath("target"), "T");
  ASSERT_EQ(symlink("target", hostPath("link").c_str()), 0);
  Fd fd = 0;
  EXPECT_EQ(openFile("link", &fd), Errno::kLoop);  // lookupflags without symlink_follow
  ASSERT_EQ(open(kRoot, "link", 0, right::kFdRead, 0, &fd, 0, kLookupSymlinkFollow),
            Errno::kSuccess);
  std::string data;
  ASSERT_EQ(read(fd, 4, &data), Errno::kSuccess);
  EXPECT_EQ(data, "T");
  ASSERT_EQ(symlink("missing", hostPath("dangling").c_str()), 0);
  EXPECT_EQ(openFile("dangling", &fd), Errno::kLoop);
  EXPECT_EQ(open(kRoot, "dangling", 0, 0, 0, &fd, 0, kLookupSymlinkFollow), Errno::kNoent);
}

TEST_F(PathTest, CreateAndRemoveDirectory) {
  ASSERT_EQ(pathCall(F::path_create_directory, kRoot, "d"), Errno::kSuccess);
  EXPECT_TRUE(fs::is_directory(hostPath("d")));
  EXPECT_EQ(pathCall(F::path_create_directory, kRoot, "d"), Errno::kExist);
  ASSERT_EQ(pathCall(F::path_create_directory, kRoot, "d/e/"), Errno::kSuccess);
  EXPECT_EQ(pathCall(F::path_create_directory, kRoot, "x/y"), Errno::kNoent);
  EXPECT_EQ(pathCall(F::path_remove_directory, kRoot, "d"), Errno::kNotempty);
  ASSERT_EQ(pathCall(F::path_remove_directory, kRoot, "d/e/"), Errno::kSuccess);
  ASSERT_EQ(pathCall(F::path_remove_directory, kRoot, "d"), Errno::kSuccess);
  EXPECT_FALSE(exists(hostPath("d")));
  writeHostFile(hostPath("f"), "");
  EXPECT_EQ(pathCall(F::path_remove_directory, kRoot, "f"), Errno::kNotdir);
  EXPECT_EQ(pathCall(F::path_remove_directory, kRoot, "f/"), Errno::kNotdir);
  EXPECT_EQ(pathCall(F::path_remove_directory, kRoot, "."), Errno::kInval);
  EXPECT_EQ(pathCall(F::path_create_directory, kRoot, ""), Errno::kNoent);
  EXPECT_EQ(call(F::path_create_directory, {kRoot, kMemorySize, 1}), Errno::kFault);
  ASSERT_EQ(dropRights(kRoot, right::kPathCreateDirectory | right::kPathRemoveDirectory, 0),
            Errno::kSuccess);
  EXPECT_EQ(pathCall(F::path_create_directory, kRoot, "n"), Errno::kNotcapable);
  fs::create_directory(hostPath("n"));
  EXPECT_EQ(pathCall(F::path_remove_directory, kRoot, "n"), Errno::kNotcapable);
  EXPECT_TRUE(exists(hostPath("n")));
}

TEST_F(PathTest, UnlinkFile) {
  writeHostFile(hostPath("f"), "");
  fs::create_directory(hostPath("d"));
  EXPECT_EQ(pathCall(F::path_unlink_file, kRoot, "d"), Errno::kIsdir);
  EXPECT_EQ(pathCall(F::path_unlink_file, kRoot, "d/"), Errno::kIsdir);
  EXPECT_EQ(pathCall(F::path_unlink_file, kRoot, "f/"), Errno::kNotdir);
  EXPECT_EQ(pathCall(F::path_unlink_file, kRoot, "missing"), Errno::kNoent);
  ASSERT_EQ(pathCall(F::path_unlink_file, kRoot, "f"), Errno::kSuccess);
  EXPECT_FALSE(exists(hostPath("f")));
  // A symlink to a directory is unlinked itself, not followed.
  ASSERT_EQ(symlink("d", hostPath("ld").c_str()), 0);
  ASSERT_EQ(pathCall(F::path_unlink_file, kRoot, "ld"), Errno::kSuccess);
  EXPECT_TRUE(fs::is_directory(hostPath("d")));
  writeHostFile(hostPath("g"), "");
  ASSERT_EQ(dropRights(kRoot, right::kPathUnlinkFile, 0), Errno::kSuccess);
  EXPECT_EQ(pathCall(F::path_unlink_file, kRoot, "g"), Errno::kNotcapable);
}

TEST_F(PathTest, FilestatGetFollowsOnlyWhenAsked) {
  writeHostFile(hostPath("file"), "12345");
  ASSERT_EQ(symlink("file", hostPath("link").c_str()), 0);
  fs::create_directory(hostPath("dir"));
  Filestat st{};
  ASSERT_EQ(pathFilestat(kRoot, "link", 0, &st), Errno::kSuccess);
  EXPECT_EQ(st.filetype, Filetype::kSymbolicLink);
  ASSERT_EQ(pathFilestat(kRoot, "link", kLookupSymlinkFollow, &st), Errno::kSuccess);
  EXPECT_EQ(st.filetype, Filetype::kRegularFile);
  EXPECT_EQ(st.size, 5u);
  ASSERT_EQ(pathFilestat(kRoot, "dir", 0, &st), Errno::kSuccess);
  EXPECT_EQ(st.filetype, Filetype::kDirectory);
  EXPECT_EQ(pathFilestat(kRoot, "file/", 0, &st), Errno::kNotdir);
  EXPECT_EQ(pathFilestat(kRoot, "nope", 0, &st), Errno::kNoent);
  uint32_t p = putString("file");
  EXPECT_EQ(call(F::path_filestat_get, {kRoot, 0, p, 4, kMemorySize - 60}), Errno::kFault);
  ASSERT_EQ(dropRights(kRoot, right::kPathFilestatGet, 0), Errno::kSuccess);
  EXPECT_EQ(pathFilestat(kRoot, "file", 0, &st), Errno::kNotcapable);
}

TEST_F(PathTest, FilestatSetTimesOnLinkOrTarget) {
  writeHostFile(hostPath("file"), "");
  ASSERT_EQ(symlink("file", hostPath("link").c_str()), 0);
  uint32_t p = putString("link");
  const uint64_t t1 = 1'500'000'000'000'000'000ull, t2 = 1'400'000'000'000'000'000ull;
  ASSERT_EQ(call(F::path_filestat_set_times, {kRoot, 0, p, 4, 0, t1, fstflag::kMtim}),
            Errno::kSuccess);
  Filestat link{}, file{};
  ASSERT_EQ(pathFilestat(kRoot, "link", 0, &link), Errno::kSuccess);
  ASSERT_EQ(pathFilestat(kRoot, "file", 0, &file), Errno::kSuccess);
  EXPECT_EQ(link.mtim, t1);
  EXPECT_NE(file.mtim, t1);
  ASSERT_EQ(call(F::path_filestat_set_times,
                 {kRoot, kLookupSymlinkFollow, p, 4, t2, t2, fstflag::kMtim | fstflag::kAtim}),
            Errno::kSuccess);
  ASSERT_EQ(pathFilestat(kRoot, "file", 0, &file), Errno::kSuccess);
  EXPECT_EQ(file.mtim, t2);
  EXPECT_EQ(file.atim, t2);
  EXPECT_EQ(
      call(F::path_filestat_set_times, {kRoot, 0, p, 4, 0, 0, fstflag::kMtim | fstflag::kMtimNow}),
      Errno::kInval);
  ASSERT_EQ(dropRights(kRoot, right::kPathFilestatSetTimes, 0), Errno::kSuccess);
  EXPECT_EQ(call(F::path_filestat_set_times, {kRoot, 0, p, 4, 0, 0, 0}), Errno::kNotcapable);
}

TEST_F(PathTest, Link) {
  writeHostFile(hostPath("file"), "F");
  fs::create_directory(hostPath("sub"));
  uint32_t file = putString("file"), link = putString("sub/link");
  ASSERT_EQ(call(F::path_link, {kRoot, 0, file, 4, kRoot, link, 8}), Errno::kSuccess);
  EXPECT_EQ(readHostFile(hostPath("sub/link")), "F");
  EXPECT_EQ(fs::hard_link_count(hostPath("file")), 2u);
  EXPECT_EQ(call(F::path_link, {kRoot, 0, file, 4, kRoot, link, 8}), Errno::kExist);
  EXPECT_EQ(call(F::path_link, {kRoot, 0, file, 4, kRoot, file, 4}), Errno::kExist);
  uint32_t sub = putString("sub"), other = putString("other"), slash = putString("new/");
  EXPECT_EQ(call(F::path_link, {kRoot, 0, sub, 3, kRoot, other, 5}), Errno::kPerm);
  EXPECT_EQ(call(F::path_link, {kRoot, 0, file, 4, kRoot, slash, 4}), Errno::kNoent);
  uint32_t fileSlash = putString("file/");
  EXPECT_EQ(call(F::path_link, {kRoot, 0, fileSlash, 5, kRoot, other, 5}), Errno::kNotdir);
  // A dangling symlink is linked itself (no follow).
  ASSERT_EQ(symlink("nowhere", hostPath("dangling").c_str()), 0);
  uint32_t dangling = putString("dangling");
  ASSERT_EQ(call(F::path_link, {kRoot, 0, dangling, 8, kRoot, other, 5}), Errno::kSuccess);
  EXPECT_TRUE(fs::is_symlink(hostPath("other")));
  uint32_t other2 = putString("other2");
  EXPECT_EQ(call(F::path_link, {kRoot, kLookupSymlinkFollow, dangling, 8, kRoot, other2, 6}),
            Errno::kNoent);
  // With symlink_follow, the link's target is what gets linked.
  ASSERT_EQ(symlink("file", hostPath("tofile").c_str()), 0);
  uint32_t tofile = putString("tofile");
  ASSERT_EQ(call(F::path_link, {kRoot, kLookupSymlinkFollow, tofile, 6, kRoot, other2, 6}),
            Errno::kSuccess);
  EXPECT_FALSE(fs::is_symlink(hostPath("other2")));
  EXPECT_EQ(fs::hard_link_count(hostPath("file")), 3u);
  uint32_t other3 = putString("other3");
  ASSERT_EQ(dropRights(kRoot, right::kPathLinkTarget, 0), Errno::kSuccess);
  EXPECT_EQ(call(F::path_link, {kRoot, 0, file, 4, kRoot, other3, 6}), Errno::kNotcapable);
  EXPECT_EQ(call(F::path_link, {99, 0, file, 4, kRoot, other3, 6}), Errno::kBadf);
}

TEST_F(PathTest, ReadlinkTruncates) {
  ASSERT_EQ(symlink("target", hostPath("symlink").c_str()), 0);
  writeHostFile(hostPath("file"), "");
  uint32_t p = putString("symlink");
  uint32_t buf = alloc(10), used = alloc(4);
  ASSERT_EQ(call(F::path_readlink, {kRoot, p, 7, buf, 10, used}), Errno::kSuccess);
  EXPECT_EQ(load<uint32_t>(used), 6u);
  EXPECT_EQ(loadString(buf, 10), std::string("target\0\0\0\0", 10));
  uint32_t small = alloc(8);
  ASSERT_EQ(call(F::path_readlink, {kRoot, p, 7, small, 4, used}), Errno::kSuccess);
  EXPECT_EQ(load<uint32_t>(used), 4u);
  EXPECT_EQ(loadString(small, 8), std::string("targ\0\0\0\0", 8));
  uint32_t f = putString("file");
  EXPECT_EQ(call(F::path_readlink, {kRoot, f, 4, buf, 10, used}), Errno::kInval);
  EXPECT_EQ(call(F::path_readlink, {kRoot, p, 7, kMemorySize - 5, 10, used}), Errno::kFault);
  EXPECT_EQ(call(F::path_readlink, {kRoot, p, 7, buf, 10, kMemorySize}), Errno::kFault);
  ASSERT_EQ(dropRights(kRoot, right::kPathReadlink, 0), Errno::kSuccess);
  EXPECT_EQ(call(F::path_readlink, {kRoot, p, 7, buf, 10, used}), Errno::kNotcapable);
}

TEST_F(PathTest, Rename) {
  writeHostFile(hostPath("a"), "A");
  uint32_t a = putString("a"), b = putString("b");
  ASSERT_EQ(call(F::path_rename, {kRoot, a, 1, kRoot, b, 1}), Errno::kSuccess);
  EXPECT_FALSE(exists(hostPath("a")));
  EXPECT_EQ(readHostFile(hostPath("b")), "A");
  EXPECT_EQ(call(F::path_rename, {kRoot, a, 1, kRoot, b, 1}), Errno::kNoent);
  fs::create_directory(hostPath("src"));
  fs::create_directory(hostPath("full"));
  writeHostFile(hostPath("full/x"), "");
  uint32_t src = putString("src/"), dst = putString("dst/"), full = putString("full");
  ASSERT_EQ(call(F::path_rename, {kRoot, src, 4, kRoot, dst, 4}), Errno::kSuccess);
  EXPECT_TRUE(fs::is_directory(hostPath("dst")));
  uint32_t dstName = putString("dst");
  EXPECT_EQ(call(F::path_rename, {kRoot, dstName, 3, kRoot, full, 4}), Errno::kNotempty);
  EXPECT_EQ(call(F::path_rename, {kRoot, b, 1, kRoot, dstName, 3}), Errno::kIsdir);
  uint32_t bSlash = putString("b/");
  EXPECT_EQ(call(F::path_rename, {kRoot, bSlash, 2, kRoot, a, 1}), Errno::kNotdir);
  ASSERT_EQ(dropRights(kRoot, right::kPathRenameSource, 0), Errno::kSuccess);
  EXPECT_EQ(call(F::path_rename, {kRoot, b, 1, kRoot, a, 1}), Errno::kNotcapable);
  EXPECT_TRUE(exists(hostPath("b")));
}

TEST_F(PathTest, Symlink) {
  uint32_t target = putString("target"), link = putString("link");
  ASSERT_EQ(call(F::path_symlink, {target, 6, kRoot, link, 4}), Errno::kSuccess);
  EXPECT_EQ(fs::read_symlink(hostPath("link")), "target");
  EXPECT_EQ(call(F::path_symlink, {target, 6, kRoot, link, 4}), Errno::kExist);
  uint32_t slash = putString("new/");
  EXPECT_EQ(call(F::path_symlink, {target, 6, kRoot, slash, 4}), Errno::kNoent);
  fs::create_directory(hostPath("dir"));
  uint32_t dirSlash = putString("dir/");
  EXPECT_EQ(call(F::path_symlink, {target, 6, kRoot, dirSlash, 4}), Errno::kExist);
  uint32_t empty = putString("");
  EXPECT_EQ(call(F::path_symlink, {empty, 0, kRoot, putString("x"), 1}), Errno::kNoent);
  EXPECT_EQ(call(F::path_symlink, {kMemorySize - 1, 6, kRoot, link, 4}), Errno::kFault);
  ASSERT_EQ(dropRights(kRoot, right::kPathSymlink, 0), Errno::kSuccess);
  uint32_t other = putString("other");
  EXPECT_EQ(call(F::path_symlink, {target, 6, kRoot, other, 5}), Errno::kNotcapable);
  EXPECT_FALSE(exists(hostPath("other")));
}

}  // namespace
}  // namespace runwasi::wasi::test
