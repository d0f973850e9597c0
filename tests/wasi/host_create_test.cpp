// Host::create: preopens, stdio and sockets; the function table.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/core.h>

#include "common/unique_fd.h"
#include "wasi/function_table.h"
#include "wasi_test_fixture.h"

namespace runwasi::wasi::test {
namespace {

using F = FunctionId;
using HostCreateTest = WasiTest;

TEST_F(HostCreateTest, MissingPreopenNamesThePath) {
  Config config = defaultConfig();
  config.preopens.push_back({outside("missing"), "/data"});
  auto host = Host::create(std::move(config));
  ASSERT_FALSE(host);
  EXPECT_EQ(host.error().message, "preopen \"" + outside("missing") +
                                      "\": cannot open directory: No such file or "
                                      "directory");
  EXPECT_EQ(host.error().sysErrno, ENOENT);
  EXPECT_EQ(host.error().code, ErrorCode::kNotFound);
}

TEST_F(HostCreateTest, NonDirectoryPreopenFails) {
  writeHostFile(outside("file"), "");
  Config config = defaultConfig();
  config.preopens = {{outside("file"), "/"}};
  auto host = Host::create(std::move(config));
  ASSERT_FALSE(host);
  EXPECT_EQ(host.error().message,
            "preopen \"" + outside("file") + "\": cannot open directory: Not a directory");
  EXPECT_EQ(host.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(HostCreateTest, PreopensAreNumberedInOrderThenSockets) {
  std::filesystem::create_directory(outside("second"));
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  Config config = defaultConfig();
  config.preopens.push_back({outside("second"), "/second"});
  config.sockets = {a.get()};
  createHost(std::move(config));
  uint32_t out = alloc(8), name = alloc(16);
  ASSERT_EQ(call(F::fd_prestat_get, {4, out}), Errno::kSuccess);
  EXPECT_EQ(load<uint32_t>(out + 4), 7u);
  ASSERT_EQ(call(F::fd_prestat_dir_name, {4, name, 16}), Errno::kSuccess);
  EXPECT_EQ(loadString(name, 7), "/second");
  Fdstat st{};
  ASSERT_EQ(fdstat(5, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsFiletype, Filetype::kSocketStream);
  EXPECT_EQ(fdstat(6, &st), Errno::kBadf);
  // The guest's fd 4 really is the second directory.
  writeHostFile(outside("second/x"), "second");
  Fd fd = 0;
  ASSERT_EQ(open(4, "x", 0, right::kFdRead, 0, &fd), Errno::kSuccess);
  std::string data;
  ASSERT_EQ(read(fd, 16, &data), Errno::kSuccess);
  EXPECT_EQ(data, "second");
  EXPECT_EQ(fd, 6u);  // the lowest free number
}

TEST_F(HostCreateTest, BadSocketFdFails) {
  Config config = defaultConfig();
  config.sockets = {987654};
  auto host = Host::create(std::move(config));
  ASSERT_FALSE(host);
  EXPECT_NE(host.error().message.find("socket fd 987654"), std::string::npos);
}

TEST_F(HostCreateTest, NonSocketInSocketsFails) {
  UniqueFd devNull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  Config config = defaultConfig();
  config.sockets = {devNull.get()};
  auto host = Host::create(std::move(config));
  ASSERT_FALSE(host);
  EXPECT_EQ(host.error().message, fmt::format("socket fd {}: not a socket", devNull.get()));
}

TEST_F(HostCreateTest, ClosedStdioLeavesTheGuestFdClosed) {
  Config config = defaultConfig();
  config.stdinFd = 987654;
  createHost(std::move(config));
  Fdstat st{};
  EXPECT_EQ(fdstat(0, &st), Errno::kBadf);
  EXPECT_EQ(fdstat(2, &st), Errno::kSuccess);
}

TEST_F(HostCreateTest, StdioRightsFollowTheHostFd) {
  UniqueFd devNull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  Config config = defaultConfig();
  config.stdinFd = devNull.get();
  UniqueFd tty(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (tty) config.stderrFd = tty.get();
  writeHostFile(outside("out"), "");
  UniqueFd file(::open(outside("out").c_str(), O_WRONLY | O_CLOEXEC));
  config.stdoutFd = file.get();
  createHost(std::move(config));
  Fdstat st{};
  ASSERT_EQ(fdstat(0, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsFiletype, Filetype::kCharacterDevice);
  EXPECT_NE(st.fsRightsBase & right::kFdSeek, 0u);  // not a terminal: seekable as far as we know
  ASSERT_EQ(fdstat(1, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsFiletype, Filetype::kRegularFile);
  EXPECT_EQ(st.fsRightsBase, right::kRegularFile);
  if (tty) {
    // A terminal has no seek/tell rights: that is how wasi-libc's isatty() recognises it.
    ASSERT_EQ(fdstat(2, &st), Errno::kSuccess);
    EXPECT_EQ(st.fsFiletype, Filetype::kCharacterDevice);
    EXPECT_EQ(st.fsRightsBase & (right::kFdSeek | right::kFdTell), 0u);
    EXPECT_NE(st.fsRightsBase & right::kFdWrite, 0u);
  }
}

TEST_F(HostCreateTest, HostFdsAreDupsOwnedByTheHost) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  Config config = defaultConfig();
  config.stdoutFd = sv[0];
  createHost(std::move(config));
  close(sv[0]);  // the caller's copy goes; the guest's stays
  ASSERT_EQ(write(1, "ok"), Errno::kSuccess);
  char buf[4] = {};
  ASSERT_EQ(::read(sv[1], buf, 2), 2);
  EXPECT_EQ(std::string(buf), "ok");
  host_.reset();  // closing the host closes its dup: the peer sees EOF
  EXPECT_EQ(::read(sv[1], buf, 2), 0);
  close(sv[1]);
}

TEST(FunctionTableTest, FindFunction) {
  const FunctionInfo* f = findFunction("path_open");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->id, F::path_open);
  EXPECT_EQ(f->params, "iiiiiIIii");
  EXPECT_EQ(findFunction("proc_exit")->hasResult, false);
  EXPECT_EQ(findFunction("path_openx"), nullptr);
  EXPECT_EQ(findFunction(""), nullptr);
  for (const FunctionInfo& info : kFunctions) EXPECT_EQ(findFunction(info.name), &info);
}

TEST_F(HostCreateTest, UnknownFunctionIdIsNosys) {
  uint64_t args[kMaxParams] = {};
  EXPECT_EQ(host_->call(F::kCount, memory(), args), static_cast<uint32_t>(Errno::kNosys));
}

}  // namespace
}  // namespace runwasi::wasi::test
