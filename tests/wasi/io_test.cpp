// fd_read, fd_write, fd_pread, fd_pwrite.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/unique_fd.h"

#include "wasi_test_fixture.h"

namespace runwasi::wasi::test {
namespace {

using F = FunctionId;

class IoTest : public WasiTest {
 protected:
  Fd makeFile(std::string_view content, uint32_t fdflags = 0) {
    writeHostFile(hostPath("f"), content);
    Fd fd = 0;
    EXPECT_EQ(open(kRoot, "f", 0, right::kRegularFile, 0, &fd, fdflags), Errno::kSuccess);
    return fd;
  }
};

TEST_F(IoTest, ScatterReadAndGatherWrite) {
  Fd fd = makeFile("abcdefgh");
  std::vector<uint32_t> bufs;
  uint32_t iov = putIovecs({3, 0, 4}, &bufs);
  uint32_t n = alloc(4);
  ASSERT_EQ(call(F::fd_read, {fd, iov, 3, n}), Errno::kSuccess);
  EXPECT_EQ(load<uint32_t>(n), 7u);
  EXPECT_EQ(loadString(bufs[0], 3), "abc");
  EXPECT_EQ(loadString(bufs[2], 4), "defg");

  uint32_t ciov = putIovecs({2, 3}, &bufs);
  std::memcpy(&mem_[bufs[0]], "XY", 2);
  std::memcpy(&mem_[bufs[1]], "123", 3);
  ASSERT_EQ(call(F::fd_write, {fd, ciov, 2, n}), Errno::kSuccess);
  EXPECT_EQ(load<uint32_t>(n), 5u);
  EXPECT_EQ(readHostFile(hostPath("f")), "abcdefgXY123");
  // End of file reads 0 bytes.
  ASSERT_EQ(call(F::fd_read, {fd, iov, 3, n}), Errno::kSuccess);
  EXPECT_EQ(load<uint32_t>(n), 0u);
}

TEST_F(IoTest, BadIovecsFaultWithoutSideEffects) {
  Fd fd = makeFile("abc");
  uint32_t n = alloc(4);
  uint32_t iov = alloc(8);
  store(iov, Iovec{kMemorySize - 2, 3});  // buffer crosses the end
  EXPECT_EQ(call(F::fd_read, {fd, iov, 1, n}), Errno::kFault);
  EXPECT_EQ(call(F::fd_write, {fd, iov, 1, n}), Errno::kFault);
  EXPECT_EQ(call(F::fd_read, {fd, kMemorySize - 4, 1, n}), Errno::kFault);  // array crosses
  EXPECT_EQ(call(F::fd_write, {fd, 0, 0x20000000, n}), Errno::kFault);
  store(iov, Iovec{alloc(3), 3});
  EXPECT_EQ(call(F::fd_read, {fd, iov, 1, kMemorySize - 1}), Errno::kFault);
  EXPECT_EQ(call(F::fd_pread, {fd, iov, 1, 0, kMemorySize}), Errno::kFault);
  // The failed calls did not move the position.
  std::string data;
  ASSERT_EQ(read(fd, 10, &data), Errno::kSuccess);
  EXPECT_EQ(data, "abc");
}

TEST_F(IoTest, BadFdAndMissingRights) {
  std::string data;
  EXPECT_EQ(read(42, 1, &data), Errno::kBadf);
  EXPECT_EQ(write(42, "x"), Errno::kBadf);
  EXPECT_EQ(read(kRoot, 1, &data), Errno::kNotcapable);  // a preopen has no fd_read
  EXPECT_EQ(write(kRoot, "x"), Errno::kNotcapable);
  Fd ro = 0;
  writeHostFile(hostPath("ro"), "data");
  ASSERT_EQ(open(kRoot, "ro", 0, right::kFdRead, 0, &ro), Errno::kSuccess);
  EXPECT_EQ(write(ro, "x"), Errno::kNotcapable);
  EXPECT_EQ(readHostFile(hostPath("ro")), "data");
  Fd wo = 0;
  ASSERT_EQ(open(kRoot, "ro", 0, right::kFdWrite, 0, &wo), Errno::kSuccess);
  EXPECT_EQ(read(wo, 4, &data), Errno::kNotcapable);
}

TEST_F(IoTest, ADirectoryNeverGetsFdRead) {
  Fd dir = 0;
  ASSERT_EQ(open(kRoot, ".", oflag::kDirectory, right::kFdRead, 0, &dir), Errno::kSuccess);
  Fdstat st{};
  ASSERT_EQ(fdstat(dir, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsRightsBase & right::kFdRead, 0u);  // not a directory right
  std::string data;
  EXPECT_EQ(read(dir, 4, &data), Errno::kNotcapable);
}

TEST_F(IoTest, PreadPwriteKeepThePosition) {
  Fd fd = makeFile("0123456789");
  std::vector<uint32_t> bufs;
  uint32_t iov = putIovecs({2, 2}, &bufs);
  uint32_t n = alloc(4);
  ASSERT_EQ(call(F::fd_pread, {fd, iov, 2, 3, n}), Errno::kSuccess);
  EXPECT_EQ(load<uint32_t>(n), 4u);
  EXPECT_EQ(loadString(bufs[0], 2) + loadString(bufs[1], 2), "3456");
  std::memcpy(&mem_[bufs[0]], "ab", 2);
  ASSERT_EQ(call(F::fd_pwrite, {fd, iov, 1, 8, n}), Errno::kSuccess);
  EXPECT_EQ(load<uint32_t>(n), 2u);
  EXPECT_EQ(readHostFile(hostPath("f")), "01234567ab");
  uint32_t pos = alloc(8);
  ASSERT_EQ(call(F::fd_tell, {fd, pos}), Errno::kSuccess);
  EXPECT_EQ(load<uint64_t>(pos), 0u);
  ASSERT_EQ(call(F::fd_pread, {fd, iov, 1, 100, n}), Errno::kSuccess);  // past the end
  EXPECT_EQ(load<uint32_t>(n), 0u);
  EXPECT_EQ(call(F::fd_pread, {fd, iov, 1, UINT64_MAX, n}), Errno::kInval);
  ASSERT_EQ(dropRights(fd, right::kFdSeek, 0), Errno::kSuccess);  // p* need fd_seek too
  EXPECT_EQ(call(F::fd_pread, {fd, iov, 1, 0, n}), Errno::kNotcapable);
  EXPECT_EQ(call(F::fd_pwrite, {fd, iov, 1, 0, n}), Errno::kNotcapable);
  EXPECT_EQ(call(F::fd_pwrite, {99, iov, 1, 0, n}), Errno::kBadf);
}

TEST_F(IoTest, PwriteOnAppendFdWritesAtTheOffset) {
  Fd fd = makeFile("0123", fdflag::kAppend);
  std::vector<uint32_t> bufs;
  uint32_t iov = putIovecs({2}, &bufs);
  std::memcpy(&mem_[bufs[0]], "ab", 2);
  uint32_t n = alloc(4);
  ASSERT_EQ(call(F::fd_pwrite, {fd, iov, 1, 1, n}), Errno::kSuccess);
  EXPECT_EQ(readHostFile(hostPath("f")), "0ab3");
  ASSERT_EQ(write(fd, "Z"), Errno::kSuccess);  // still in append mode
  EXPECT_EQ(readHostFile(hostPath("f")), "0ab3Z");
}

// A borrowed stdio fd that is non-blocking on the host (shared with whoever opened it)
// still behaves as blocking for the guest until the guest asks for non-blocking itself.
TEST_F(IoTest, NonblockingHostStdinLooksBlocking) {
  int pipeFds[2];
  ASSERT_EQ(pipe2(pipeFds, O_CLOEXEC | O_NONBLOCK), 0);
  UniqueFd readEnd(pipeFds[0]), writeEnd(pipeFds[1]);
  Config config = defaultConfig();
  config.stdinFd = readEnd.get();
  createHost(std::move(config));
  Fdstat st{};
  ASSERT_EQ(fdstat(0, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsFlags, 0);
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_EQ(::write(writeEnd.get(), "late", 4), 4);
  });
  std::string data;
  EXPECT_EQ(read(0, 16, &data), Errno::kSuccess);  // waited instead of EAGAIN
  writer.join();
  EXPECT_EQ(data, "late");
  ASSERT_EQ(call(F::fd_fdstat_set_flags, {0, fdflag::kNonblock}), Errno::kSuccess);
  ASSERT_EQ(fdstat(0, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsFlags, fdflag::kNonblock);
  EXPECT_EQ(read(0, 16, &data), Errno::kAgain);
  EXPECT_NE(fcntl(readEnd.get(), F_GETFL) & O_NONBLOCK, 0);  // the host's flag untouched
}

TEST_F(IoTest, StdoutIsTheConfiguredFd) {
  int pipeFds[2];
  ASSERT_EQ(pipe2(pipeFds, O_CLOEXEC), 0);
  Config config = defaultConfig();
  config.stdoutFd = pipeFds[1];
  createHost(std::move(config));
  close(pipeFds[1]);  // the host holds its own dup
  uint32_t written = 0;
  ASSERT_EQ(write(1, "hello", &written), Errno::kSuccess);
  EXPECT_EQ(written, 5u);
  char buf[16] = {};
  ASSERT_EQ(::read(pipeFds[0], buf, sizeof buf), 5);
  EXPECT_EQ(std::string(buf), "hello");
  Fdstat st{};
  ASSERT_EQ(fdstat(1, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsFiletype, Filetype::kUnknown);  // a pipe
  EXPECT_NE(st.fsRightsBase & right::kFdWrite, 0u);
  uint32_t pos = alloc(8);
  EXPECT_EQ(call(F::fd_seek, {1, 0, 1, pos}), Errno::kSpipe);
  close(pipeFds[0]);
  host_.reset();
}

}  // namespace
}  // namespace runwasi::wasi::test
