// fd_* functions on the descriptor: stat, flags, rights, sizes, times, prestat,
// renumber, seek/tell, sync, advise, allocate, close.
#include <sys/stat.h>

#include "wasi_test_fixture.h"

namespace runwasi::wasi::test {
namespace {

using F = FunctionId;

class FdTest : public WasiTest {
 protected:
  // A file "f" with `content`, opened with every file right.
  Fd makeFile(std::string_view content = "0123456789", uint32_t fdflags = 0) {
    writeHostFile(hostPath("f"), content);
    Fd fd = 0;
    EXPECT_EQ(open(kRoot, "f", 0, right::kRegularFile, 0, &fd, fdflags), Errno::kSuccess);
    return fd;
  }
};

TEST_F(FdTest, PreopenFdstat) {
  Fdstat st{};
  ASSERT_EQ(fdstat(kRoot, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsFiletype, Filetype::kDirectory);
  EXPECT_EQ(st.fsFlags, 0);
  EXPECT_EQ(st.fsRightsBase, right::kDirectory);
  EXPECT_EQ(st.fsRightsInheriting, right::kDirectoryInheriting);
  EXPECT_EQ(st.fsRightsBase & right::kFdFilestatSetSize, 0u);
  EXPECT_EQ(st.fsRightsBase & right::kFdSeek, 0u);
  EXPECT_EQ(call(F::fd_fdstat_get, {kRoot, kMemorySize - 23}), Errno::kFault);
  EXPECT_EQ(call(F::fd_fdstat_get, {99, alloc(24)}), Errno::kBadf);
}

TEST_F(FdTest, FileFdstatRightsAreMasked) {
  Fd fd = 0;
  writeHostFile(hostPath("f"), "");
  ASSERT_EQ(open(kRoot, "f", 0, right::kFdRead | right::kFdReaddir | right::kPathOpen,
                 right::kFdRead, &fd),
            Errno::kSuccess);
  Fdstat st{};
  ASSERT_EQ(fdstat(fd, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsFiletype, Filetype::kRegularFile);
  EXPECT_EQ(st.fsRightsBase, right::kFdRead);  // readdir and path_open are not for files
  EXPECT_EQ(st.fsRightsInheriting, right::kFdRead);
}

TEST_F(FdTest, SetRightsCanOnlyDrop) {
  Fd fd = makeFile();
  ASSERT_EQ(dropRights(fd, right::kFdRead | right::kFdWrite, 0), Errno::kSuccess);
  Fdstat st{};
  ASSERT_EQ(fdstat(fd, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsRightsBase, right::kRegularFile & ~(right::kFdRead | right::kFdWrite));
  std::string data;
  EXPECT_EQ(read(fd, 4, &data), Errno::kNotcapable);
  EXPECT_EQ(write(fd, "x"), Errno::kNotcapable);
  EXPECT_EQ(call(F::fd_fdstat_set_rights, {fd, st.fsRightsBase | right::kFdRead, 0}),
            Errno::kNotcapable);
  EXPECT_EQ(call(F::fd_fdstat_set_rights, {fd, st.fsRightsBase, right::kFdRead}),
            Errno::kNotcapable);
  EXPECT_EQ(call(F::fd_fdstat_set_rights, {77, 0, 0}), Errno::kBadf);
}

TEST_F(FdTest, SetFlagsAppend) {
  Fd fd = makeFile("abc");
  ASSERT_EQ(call(F::fd_fdstat_set_flags, {fd, fdflag::kAppend}), Errno::kSuccess);
  Fdstat st{};
  ASSERT_EQ(fdstat(fd, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsFlags, fdflag::kAppend);
  ASSERT_EQ(write(fd, "XY"), Errno::kSuccess);  // at the end despite position 0
  EXPECT_EQ(readHostFile(hostPath("f")), "abcXY");
  ASSERT_EQ(call(F::fd_fdstat_set_flags, {fd, 0}), Errno::kSuccess);
  ASSERT_EQ(fdstat(fd, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsFlags, 0);
  EXPECT_EQ(call(F::fd_fdstat_set_flags, {fd, fdflag::kSync}), Errno::kNotsup);
  EXPECT_EQ(call(F::fd_fdstat_set_flags, {fd, 0x100}), Errno::kInval);
  ASSERT_EQ(dropRights(fd, right::kFdFdstatSetFlags, 0), Errno::kSuccess);
  EXPECT_EQ(call(F::fd_fdstat_set_flags, {fd, 0}), Errno::kNotcapable);
  EXPECT_EQ(call(F::fd_fdstat_set_flags, {55, 0}), Errno::kBadf);
}

TEST_F(FdTest, SyncFlagsAreReported) {
  Fd fd = makeFile("", fdflag::kAppend | fdflag::kSync);
  Fdstat st{};
  ASSERT_EQ(fdstat(fd, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsFlags, fdflag::kAppend | fdflag::kSync);
}

TEST_F(FdTest, FilestatGetAndSetSize) {
  Fd fd = makeFile("hello");
  Filestat st{};
  ASSERT_EQ(filestat(fd, &st), Errno::kSuccess);
  struct stat host {};
  ASSERT_EQ(stat(hostPath("f").c_str(), &host), 0);
  EXPECT_EQ(st.filetype, Filetype::kRegularFile);
  EXPECT_EQ(st.size, 5u);
  EXPECT_EQ(st.ino, host.st_ino);
  EXPECT_EQ(st.dev, host.st_dev);
  EXPECT_EQ(st.nlink, 1u);
  ASSERT_EQ(call(F::fd_filestat_set_size, {fd, 100}), Errno::kSuccess);
  ASSERT_EQ(filestat(fd, &st), Errno::kSuccess);
  EXPECT_EQ(st.size, 100u);
  EXPECT_EQ(call(F::fd_filestat_get, {fd, kMemorySize - 63}), Errno::kFault);
  EXPECT_EQ(call(F::fd_filestat_set_size, {kRoot, 0}), Errno::kNotcapable);  // a directory
  ASSERT_EQ(dropRights(fd, right::kFdFilestatGet | right::kFdFilestatSetSize, 0), Errno::kSuccess);
  EXPECT_EQ(filestat(fd, &st), Errno::kNotcapable);
  EXPECT_EQ(call(F::fd_filestat_set_size, {fd, 1}), Errno::kNotcapable);
  EXPECT_EQ(call(F::fd_filestat_set_size, {66, 1}), Errno::kBadf);
}

TEST_F(FdTest, FilestatSetTimes) {
  Fd fd = makeFile();
  Filestat before{};
  ASSERT_EQ(filestat(fd, &before), Errno::kSuccess);
  const uint64_t mtim = 1'000'000'000ull * 1'600'000'000ull + 123;
  ASSERT_EQ(call(F::fd_filestat_set_times, {fd, 5, mtim, fstflag::kMtim}), Errno::kSuccess);
  Filestat after{};
  ASSERT_EQ(filestat(fd, &after), Errno::kSuccess);
  EXPECT_EQ(after.mtim, mtim);
  EXPECT_EQ(after.atim, before.atim);  // not asked for: omitted
  ASSERT_EQ(call(F::fd_filestat_set_times, {fd, 77, 0, fstflag::kAtim}), Errno::kSuccess);
  ASSERT_EQ(filestat(fd, &after), Errno::kSuccess);
  EXPECT_EQ(after.atim, 77u);
  EXPECT_EQ(call(F::fd_filestat_set_times, {fd, 0, 0, fstflag::kMtim | fstflag::kMtimNow}),
            Errno::kInval);
  EXPECT_EQ(call(F::fd_filestat_set_times, {fd, 0, 0, fstflag::kAtim | fstflag::kAtimNow}),
            Errno::kInval);
  ASSERT_EQ(filestat(fd, &after), Errno::kSuccess);
  EXPECT_EQ(after.mtim, mtim);
  EXPECT_EQ(call(F::fd_filestat_set_times, {fd, 0, 0, fstflag::kMtimNow}), Errno::kSuccess);
  ASSERT_EQ(filestat(fd, &after), Errno::kSuccess);
  EXPECT_GT(after.mtim, mtim);
  ASSERT_EQ(dropRights(fd, right::kFdFilestatSetTimes, 0), Errno::kSuccess);
  EXPECT_EQ(call(F::fd_filestat_set_times, {fd, 0, 0, 0}), Errno::kNotcapable);
}

TEST_F(FdTest, PrestatAndDirName) {
  uint32_t out = alloc(8);
  ASSERT_EQ(call(F::fd_prestat_get, {kRoot, out}), Errno::kSuccess);
  EXPECT_EQ(mem_[out], 0);  // preopentype dir
  EXPECT_EQ(load<uint32_t>(out + 4), 1u);
  uint32_t name = alloc(8);
  store<uint64_t>(name, 0x5858585858585858ull);  // "XXXXXXXX"
  ASSERT_EQ(call(F::fd_prestat_dir_name, {kRoot, name, 8}), Errno::kSuccess);
  EXPECT_EQ(loadString(name, 8), "/XXXXXXX");  // exactly the name, no NUL
  EXPECT_EQ(call(F::fd_prestat_dir_name, {kRoot, name, 0}), Errno::kNametoolong);
  EXPECT_EQ(call(F::fd_prestat_dir_name, {kRoot, kMemorySize, 1}), Errno::kFault);
  EXPECT_EQ(call(F::fd_prestat_get, {kRoot, kMemorySize - 4}), Errno::kFault);
  EXPECT_EQ(call(F::fd_prestat_get, {1, out}), Errno::kBadf);  // not a preopen
  EXPECT_EQ(call(F::fd_prestat_get, {4, out}), Errno::kBadf);  // not open
  EXPECT_EQ(call(F::fd_prestat_dir_name, {1, name, 8}), Errno::kBadf);
}

TEST_F(FdTest, CloseAndRenumber) {
  Fd a = makeFile("a");
  writeHostFile(hostPath("g"), "g");
  Fd b = 0;
  ASSERT_EQ(openFile("g", &b), Errno::kSuccess);
  ASSERT_NE(a, b);
  ASSERT_EQ(call(F::fd_renumber, {a, b}), Errno::kSuccess);
  std::string data;
  ASSERT_EQ(read(b, 10, &data), Errno::kSuccess);
  EXPECT_EQ(data, "a");  // b now is what a was
  EXPECT_EQ(call(F::fd_close, {a}), Errno::kBadf);
  EXPECT_EQ(call(F::fd_renumber, {b, a}), Errno::kBadf);  // the target must be open
  EXPECT_EQ(call(F::fd_renumber, {a, b}), Errno::kBadf);
  EXPECT_EQ(call(F::fd_renumber, {b, b}), Errno::kSuccess);
  EXPECT_EQ(call(F::fd_close, {b}), Errno::kSuccess);
  EXPECT_EQ(call(F::fd_close, {b}), Errno::kBadf);
  // Closing a preopen is allowed; a new fd then takes the lowest free number from 3.
  Fd keep = 0;
  ASSERT_EQ(open(kRoot, ".", oflag::kDirectory, right::kPathOpen, 0, &keep), Errno::kSuccess);
  EXPECT_EQ(call(F::fd_close, {kRoot}), Errno::kSuccess);
  Fdstat st{};
  EXPECT_EQ(fdstat(kRoot, &st), Errno::kBadf);
  Fd reused = 0;
  ASSERT_EQ(open(keep, "g", 0, 0, 0, &reused), Errno::kSuccess);
  EXPECT_EQ(reused, kRoot);
}

TEST_F(FdTest, RenumberOverAPreopenDropsItsPrestat) {
  Fd fd = makeFile();
  ASSERT_EQ(call(F::fd_renumber, {fd, kRoot}), Errno::kSuccess);
  EXPECT_EQ(call(F::fd_prestat_get, {kRoot, alloc(8)}), Errno::kBadf);
  Fdstat st{};
  ASSERT_EQ(fdstat(kRoot, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsFiletype, Filetype::kRegularFile);
}

TEST_F(FdTest, SeekAndTell) {
  Fd fd = makeFile("0123456789");
  uint32_t out = alloc(8);
  ASSERT_EQ(call(F::fd_seek, {fd, 4, 0, out}), Errno::kSuccess);
  EXPECT_EQ(load<uint64_t>(out), 4u);
  ASSERT_EQ(call(F::fd_seek, {fd, static_cast<uint64_t>(-1), 1, out}), Errno::kSuccess);
  EXPECT_EQ(load<uint64_t>(out), 3u);
  ASSERT_EQ(call(F::fd_seek, {fd, static_cast<uint64_t>(-2), 2, out}), Errno::kSuccess);
  EXPECT_EQ(load<uint64_t>(out), 8u);
  std::string data;
  ASSERT_EQ(read(fd, 10, &data), Errno::kSuccess);
  EXPECT_EQ(data, "89");
  ASSERT_EQ(call(F::fd_tell, {fd, out}), Errno::kSuccess);
  EXPECT_EQ(load<uint64_t>(out), 10u);
  EXPECT_EQ(call(F::fd_seek, {fd, static_cast<uint64_t>(-100), 1, out}), Errno::kInval);
  EXPECT_EQ(call(F::fd_seek, {fd, 0, 3, out}), Errno::kInval);
  EXPECT_EQ(call(F::fd_seek, {fd, 0, 0, kMemorySize - 4}), Errno::kFault);
  EXPECT_EQ(call(F::fd_tell, {fd, kMemorySize}), Errno::kFault);
  EXPECT_EQ(call(F::fd_seek, {kRoot, 0, 1, out}), Errno::kNotcapable);  // a directory
  EXPECT_EQ(call(F::fd_tell, {kRoot, out}), Errno::kNotcapable);
  EXPECT_EQ(call(F::fd_seek, {99, 0, 1, out}), Errno::kBadf);
  // With only fd_tell, seek(0, cur) still reports the position.
  ASSERT_EQ(dropRights(fd, right::kFdSeek, 0), Errno::kSuccess);
  store<uint64_t>(out, 0);
  EXPECT_EQ(call(F::fd_seek, {fd, 0, 1, out}), Errno::kSuccess);
  EXPECT_EQ(load<uint64_t>(out), 10u);
  EXPECT_EQ(call(F::fd_seek, {fd, 0, 0, out}), Errno::kNotcapable);
  ASSERT_EQ(dropRights(fd, right::kFdTell, 0), Errno::kSuccess);
  EXPECT_EQ(call(F::fd_tell, {fd, out}), Errno::kNotcapable);
}

TEST_F(FdTest, SyncDatasyncAdviseAllocate) {
  Fd fd = makeFile("0123456789");
  EXPECT_EQ(call(F::fd_sync, {fd}), Errno::kSuccess);
  EXPECT_EQ(call(F::fd_datasync, {fd}), Errno::kSuccess);
  EXPECT_EQ(call(F::fd_advise, {fd, 0, 10, 1}), Errno::kSuccess);
  EXPECT_EQ(call(F::fd_advise, {fd, 0, 10, 6}), Errno::kInval);
  ASSERT_EQ(call(F::fd_allocate, {fd, 5, 20}), Errno::kSuccess);
  Filestat st{};
  ASSERT_EQ(filestat(fd, &st), Errno::kSuccess);
  EXPECT_EQ(st.size, 25u);
  ASSERT_EQ(call(F::fd_allocate, {fd, 0, 5}), Errno::kSuccess);  // never shrinks
  ASSERT_EQ(filestat(fd, &st), Errno::kSuccess);
  EXPECT_EQ(st.size, 25u);
  EXPECT_EQ(call(F::fd_allocate, {kRoot, 0, 1}), Errno::kNotcapable);
  EXPECT_EQ(call(F::fd_allocate, {fd, UINT64_MAX, 2}), Errno::kInval);
  EXPECT_EQ(call(F::fd_sync, {kRoot}), Errno::kSuccess);  // directories may be synced
  for (auto id : {F::fd_sync, F::fd_datasync}) EXPECT_EQ(call(id, {99}), Errno::kBadf);
  EXPECT_EQ(call(F::fd_advise, {99, 0, 0, 0}), Errno::kBadf);
  EXPECT_EQ(call(F::fd_allocate, {99, 0, 1}), Errno::kBadf);
  ASSERT_EQ(dropRights(
                fd, right::kFdSync | right::kFdDatasync | right::kFdAdvise | right::kFdAllocate, 0),
            Errno::kSuccess);
  EXPECT_EQ(call(F::fd_sync, {fd}), Errno::kNotcapable);
  EXPECT_EQ(call(F::fd_datasync, {fd}), Errno::kNotcapable);
  EXPECT_EQ(call(F::fd_advise, {fd, 0, 10, 0}), Errno::kNotcapable);
  EXPECT_EQ(call(F::fd_allocate, {fd, 0, 1}), Errno::kNotcapable);
}

}  // namespace
}  // namespace runwasi::wasi::test
