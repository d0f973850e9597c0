// openStdio on real FIFOs, files and /dev/null: no open may wait for the other end, and
// the fds handed to the container process must be blocking and close-on-exec.
#include "shim/stdio_fifo.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>

#include "../support/scratch_dir.h"

namespace runwasi::shim {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class StdioFifoTest : public ::testing::Test {
 protected:
  fs::path makeFifo(const std::string& name) {
    fs::path path = dir_ / name;
    EXPECT_EQ(::mkfifo(path.c_str(), 0600), 0) << path;
    return path;
  }

  // openStdio with a deadline: if it blocks (the bug under test), `unblock` opens the far
  // end so the thread can finish, and the test fails instead of hanging.
  Expected<StdioFds> openWithDeadline(const StdioPaths& paths, const fs::path& unblock) {
    auto future = std::async(std::launch::async, [&] { return openStdio(paths); });
    if (future.wait_for(5s) == std::future_status::ready) return future.get();
    ADD_FAILURE() << "openStdio blocked waiting for the other end of " << unblock;
    UniqueFd farEnd(::open(unblock.c_str(), O_RDWR | O_CLOEXEC));
    return future.get();
  }

  testing::ScratchDir dir_{"stdio-fifo-test-"};
};

void expectBlockingCloexec(int fd, int accessMode) {
  int flags = ::fcntl(fd, F_GETFL);
  ASSERT_GE(flags, 0);
  EXPECT_EQ(flags & O_ACCMODE, accessMode);
  EXPECT_EQ(flags & O_NONBLOCK, 0) << "the process expects blocking I/O";
  EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0) << "the shim's fds must not leak into execs";
}

void writeAll(int fd, const std::string& text) {
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
}

// Reads what is already buffered (the fd is non-blocking, or data is known to be there).
std::string readSome(int fd) {
  char buf[256];
  ssize_t n = ::read(fd, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string readText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_F(StdioFifoTest, StdoutFifoWithoutReaderOpensAndKeepsOutputForALaterReader) {
  fs::path fifo = makeFifo("stdout");
  auto fds = openWithDeadline({"", fifo.string(), ""}, fifo);
  ASSERT_TRUE(fds) << fds.error().message;
  ASSERT_TRUE(fds->out.valid());
  EXPECT_FALSE(fds->in.valid());
  EXPECT_FALSE(fds->err.valid());
  expectBlockingCloexec(fds->out.get(), O_RDWR);  // the no-reader fallback
  writeAll(fds->out.get(), "early output\n");

  UniqueFd reader(::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  ASSERT_TRUE(reader.valid());
  EXPECT_EQ(readSome(reader.get()), "early output\n");
}

TEST_F(StdioFifoTest, StdoutFifoWithReaderIsWriteOnly) {
  fs::path fifo = makeFifo("stdout");
  UniqueFd reader(::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  ASSERT_TRUE(reader.valid());
  auto fds = openWithDeadline({"", fifo.string(), ""}, fifo);
  ASSERT_TRUE(fds) << fds.error().message;
  expectBlockingCloexec(fds->out.get(), O_WRONLY);
  writeAll(fds->out.get(), "x");
  EXPECT_EQ(readSome(reader.get()), "x");
}

TEST_F(StdioFifoTest, StdinFifoOpensWithoutWriter) {
  fs::path fifo = makeFifo("stdin");
  auto fds = openWithDeadline({fifo.string(), "", ""}, fifo);
  ASSERT_TRUE(fds) << fds.error().message;
  ASSERT_TRUE(fds->in.valid());
  EXPECT_FALSE(fds->out.valid());
  expectBlockingCloexec(fds->in.get(), O_RDONLY);

  // containerd's writer arrives later; a reader exists, so this open cannot block.
  UniqueFd writer(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  ASSERT_TRUE(writer.valid());
  writeAll(writer.get(), "input");
  EXPECT_EQ(readSome(fds->in.get()), "input");
}

TEST_F(StdioFifoTest, RegularFileIsAppendedTo) {
  fs::path file = dir_ / "log";
  std::ofstream(file) << "first\n";
  auto fds = openStdio({"", file.string(), ""});
  ASSERT_TRUE(fds) << fds.error().message;
  expectBlockingCloexec(fds->out.get(), O_WRONLY);
  EXPECT_NE(::fcntl(fds->out.get(), F_GETFL) & O_APPEND, 0);
  writeAll(fds->out.get(), "second\n");
  EXPECT_EQ(readText(file), "first\nsecond\n");
}

TEST_F(StdioFifoTest, DevNullIsAccepted) {
  auto fds = openStdio({"/dev/null", "/dev/null", "/dev/null"});
  ASSERT_TRUE(fds) << fds.error().message;
  EXPECT_EQ(readSome(fds->in.get()), "");
  writeAll(fds->out.get(), "discarded");
  writeAll(fds->err.get(), "discarded");
}

TEST_F(StdioFifoTest, SameStdoutAndStderrPathIsOneOpenDuplicated) {
  fs::path fifo = makeFifo("output");
  auto fds = openWithDeadline({"", fifo.string(), fifo.string()}, fifo);
  ASSERT_TRUE(fds) << fds.error().message;
  ASSERT_TRUE(fds->out.valid());
  ASSERT_TRUE(fds->err.valid());
  EXPECT_NE(fds->out.get(), fds->err.get());
  expectBlockingCloexec(fds->err.get(), O_RDWR);

  // One open file description: a status flag set through one fd shows through the other.
  int flags = ::fcntl(fds->out.get(), F_GETFL);
  ASSERT_EQ(::fcntl(fds->out.get(), F_SETFL, flags | O_NONBLOCK), 0);
  EXPECT_NE(::fcntl(fds->err.get(), F_GETFL) & O_NONBLOCK, 0);
  ASSERT_EQ(::fcntl(fds->out.get(), F_SETFL, flags), 0);

  writeAll(fds->out.get(), "out ");
  writeAll(fds->err.get(), "err");
  UniqueFd reader(::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  ASSERT_TRUE(reader.valid());
  EXPECT_EQ(readSome(reader.get()), "out err");
}

TEST_F(StdioFifoTest, MissingPathErrorNamesStreamAndPath) {
  const std::string missing = (dir_ / "no" / "fifo").string();
  struct Case {
    StdioPaths paths;
    std::string stream;
  };
  for (const Case& c : {Case{{missing, "", ""}, "stdin"}, Case{{"", missing, ""}, "stdout"},
                        Case{{"", "", missing}, "stderr"}}) {
    auto fds = openStdio(c.paths);
    ASSERT_FALSE(fds) << c.stream;
    EXPECT_EQ(fds.error().message,
              "opening " + c.stream + " FIFO " + missing + ": No such file or directory");
    EXPECT_EQ(fds.error().code, ErrorCode::kNotFound);
  }
}

TEST_F(StdioFifoTest, EmptyPathsGiveInvalidFds) {
  auto fds = openStdio({});
  ASSERT_TRUE(fds) << fds.error().message;
  EXPECT_FALSE(fds->in.valid());
  EXPECT_FALSE(fds->out.valid());
  EXPECT_FALSE(fds->err.valid());
}

TEST_F(StdioFifoTest, FileUrisAreLogFilesOtherSchemesAreRejected) {
  const std::string log = (dir_ / "task.log").string();
  {
    auto fds = openStdio({"", "file://" + log, "file://" + log});
    ASSERT_TRUE(fds) << fds.error().message;
    ASSERT_EQ(::write(fds->out.get(), "out\n", 4), 4);
    ASSERT_EQ(::write(fds->err.get(), "err\n", 4), 4);
  }
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "out\nerr\n");

  auto input = openStdio({"file://" + log, "", ""});
  ASSERT_FALSE(input);
  EXPECT_EQ(input.error().code, ErrorCode::kInvalidArgument);

  auto binary = openStdio({"", "", "binary:///usr/bin/logger?id=1"});
  ASSERT_FALSE(binary);
  EXPECT_EQ(binary.error().message,
            "stderr: unsupported URI scheme in binary:///usr/bin/logger?id=1: only FIFO paths, "
            "file paths and file:// URIs are supported");

  // "://" inside an absolute path is just part of a file name.
  const std::string odd = (dir_ / "a://b").string();
  auto plain = openStdio({"", odd, ""});
  ASSERT_FALSE(plain);
  EXPECT_EQ(plain.error().code, ErrorCode::kNotFound) << plain.error().message;
}

}  // namespace
}  // namespace runwasi::shim
