// poll_oneoff with clocks and pipes; sock_* on socketpair(2) and a listening socket.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>

#include "common/unique_fd.h"
#include "wasi_test_fixture.h"

namespace runwasi::wasi::test {
namespace {

using F = FunctionId;
using Clock = std::chrono::steady_clock;

class PollTest : public WasiTest {
 protected:
  uint32_t putSubscriptions(const std::vector<Subscription>& subs) {
    uint32_t at = alloc(static_cast<uint32_t>(subs.size() * sizeof(Subscription)));
    for (size_t i = 0; i < subs.size(); ++i) memory().store(at + i * sizeof(Subscription), subs[i]);
    return at;
  }
  static Subscription clockSub(uint64_t userdata, ClockId id, uint64_t timeout,
                               uint16_t flags = 0) {
    Subscription s{};
    s.userdata = userdata;
    s.u.tag = Eventtype::kClock;
    s.u.u.clock = SubscriptionClock{id, timeout, 0, flags};
    return s;
  }
  static Subscription fdSub(uint64_t userdata, Eventtype type, Fd fd) {
    Subscription s{};
    s.userdata = userdata;
    s.u.tag = type;
    s.u.u.fdReadwrite.fileDescriptor = fd;
    return s;
  }
  Errno poll(const std::vector<Subscription>& subs, std::vector<Event>* events) {
    uint32_t in = putSubscriptions(subs);
    uint32_t out = alloc(static_cast<uint32_t>(subs.size() * sizeof(Event)));
    uint32_t n = alloc(4);
    Errno e = call(F::poll_oneoff, {in, out, subs.size(), n});
    events->clear();
    if (e == Errno::kSuccess)
      for (uint32_t i = 0; i < load<uint32_t>(n); ++i)
        events->push_back(load<Event>(out + i * sizeof(Event)));
    return e;
  }
  // A host with a pipe's ends as stdin (read end) and stdout (write end).
  void usePipe() {
    ASSERT_EQ(pipe2(pipe_, O_CLOEXEC), 0);
    Config config = defaultConfig();
    config.stdinFd = pipe_[0];
    config.stdoutFd = pipe_[1];
    createHost(std::move(config));
  }
  void TearDown() override {
    for (int fd : pipe_)
      if (fd >= 0) close(fd);
  }
  int pipe_[2] = {-1, -1};
};

TEST_F(PollTest, ZeroSubscriptionsIsInval) {
  EXPECT_EQ(call(F::poll_oneoff, {alloc(48), alloc(32), 0, alloc(4)}), Errno::kInval);
}

TEST_F(PollTest, BadPointersFault) {
  uint32_t in = putSubscriptions({clockSub(1, ClockId::kMonotonic, 0)});
  EXPECT_EQ(call(F::poll_oneoff, {kMemorySize - 40, alloc(32), 1, alloc(4)}), Errno::kFault);
  EXPECT_EQ(call(F::poll_oneoff, {in, kMemorySize - 16, 1, alloc(4)}), Errno::kFault);
  EXPECT_EQ(call(F::poll_oneoff, {in, alloc(32), 1, kMemorySize - 2}), Errno::kFault);
}

TEST_F(PollTest, RelativeClockSleeps) {
  std::vector<Event> events;
  auto start = Clock::now();
  ASSERT_EQ(poll({clockSub(0xC10C, ClockId::kMonotonic, 30'000'000)}, &events), Errno::kSuccess);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(29));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].userdata, 0xC10Cu);
  EXPECT_EQ(events[0].error, Errno::kSuccess);
  EXPECT_EQ(events[0].type, Eventtype::kClock);
}

TEST_F(PollTest, AbsoluteClockAndTheEarliestWins) {
  uint32_t now = alloc(8);
  ASSERT_EQ(call(F::clock_time_get, {0, 0, now}), Errno::kSuccess);
  std::vector<Event> events;
  auto start = Clock::now();
  ASSERT_EQ(
      poll({clockSub(1, ClockId::kMonotonic, 5'000'000'000),
            clockSub(2, ClockId::kRealtime, load<uint64_t>(now) + 20'000'000, kSubclockAbstime)},
           &events),
      Errno::kSuccess);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(15));
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(4));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].userdata, 2u);
  // An absolute time in the past fires at once.
  ASSERT_EQ(poll({clockSub(3, ClockId::kRealtime, 1, kSubclockAbstime)}, &events), Errno::kSuccess);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].userdata, 3u);
}

TEST_F(PollTest, BadClockAndBadFdAreEventErrors) {
  std::vector<Event> events;
  ASSERT_EQ(poll({clockSub(1, static_cast<ClockId>(9), 0), fdSub(2, Eventtype::kFdRead, 99),
                  clockSub(3, ClockId::kMonotonic, 10'000'000'000)},
                 &events),
            Errno::kSuccess);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].userdata, 1u);
  EXPECT_EQ(events[0].error, Errno::kInval);
  EXPECT_EQ(events[1].userdata, 2u);
  EXPECT_EQ(events[1].error, Errno::kBadf);
  EXPECT_EQ(events[1].type, Eventtype::kFdRead);
}

TEST_F(PollTest, PipeReadableWithNbytes) {
  usePipe();
  std::vector<Event> events;
  // Empty pipe: only the clock fires.
  ASSERT_EQ(poll({fdSub(1, Eventtype::kFdRead, 0), clockSub(2, ClockId::kMonotonic, 10'000'000)},
                 &events),
            Errno::kSuccess);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].userdata, 2u);
  ASSERT_EQ(::write(pipe_[1], "hello", 5), 5);
  ASSERT_EQ(poll({fdSub(1, Eventtype::kFdRead, 0), clockSub(2, ClockId::kMonotonic, 5'000'000'000)},
                 &events),
            Errno::kSuccess);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].userdata, 1u);
  EXPECT_EQ(events[0].type, Eventtype::kFdRead);
  EXPECT_EQ(events[0].error, Errno::kSuccess);
  EXPECT_EQ(events[0].fdReadwrite.nbytes, 5u);
  // Writable stdout, and hang-up once the only writer is gone.
  ASSERT_EQ(poll({fdSub(7, Eventtype::kFdWrite, 1)}, &events), Errno::kSuccess);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].userdata, 7u);
  EXPECT_EQ(events[0].type, Eventtype::kFdWrite);
  ASSERT_EQ(call(F::fd_close, {1}), Errno::kSuccess);
  close(pipe_[1]);
  pipe_[1] = -1;
  char buf[8];
  ASSERT_EQ(::read(pipe_[0], buf, 5), 5);
  ASSERT_EQ(poll({fdSub(1, Eventtype::kFdRead, 0)}, &events), Errno::kSuccess);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].fdReadwrite.flags, kEventFdReadwriteHangup);
}

TEST_F(PollTest, RegularFilesAreAlwaysReady) {
  writeHostFile(hostPath("f"), "0123456789");
  Fd fd = 0;
  ASSERT_EQ(openFile("f", &fd), Errno::kSuccess);
  std::vector<Event> events;
  ASSERT_EQ(poll({fdSub(1, Eventtype::kFdRead, fd), fdSub(2, Eventtype::kFdWrite, fd)}, &events),
            Errno::kSuccess);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].fdReadwrite.nbytes, 10u);
  ASSERT_EQ(dropRights(fd, right::kFdRead | right::kPollFdReadwrite, 0), Errno::kSuccess);
  ASSERT_EQ(poll({fdSub(1, Eventtype::kFdRead, fd)}, &events), Errno::kSuccess);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].error, Errno::kNotcapable);
}

class SockTest : public WasiTest {
 protected:
  void SetUp() override {
    WasiTest::SetUp();
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    guestEnd_.reset(sv[0]);
    peer_.reset(sv[1]);
    Config config = defaultConfig();
    config.sockets = {guestEnd_.get()};
    createHost(std::move(config));
  }
  static constexpr Fd kSock = 4;  // after the one preopen
  UniqueFd guestEnd_, peer_;
};

TEST_F(SockTest, SocketFdstat) {
  Fdstat st{};
  ASSERT_EQ(fdstat(kSock, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsFiletype, Filetype::kSocketStream);
  EXPECT_EQ(st.fsRightsBase, right::kSocket);
  EXPECT_EQ(call(F::fd_prestat_get, {kSock, alloc(8)}), Errno::kBadf);
}

TEST_F(SockTest, SendAndRecv) {
  std::vector<uint32_t> bufs;
  uint32_t iov = putIovecs({3, 2}, &bufs);
  std::memcpy(&mem_[bufs[0]], "abc", 3);
  std::memcpy(&mem_[bufs[1]], "de", 2);
  uint32_t n = alloc(4);
  ASSERT_EQ(call(F::sock_send, {kSock, iov, 2, 0, n}), Errno::kSuccess);
  EXPECT_EQ(load<uint32_t>(n), 5u);
  char buf[8] = {};
  ASSERT_EQ(::read(peer_.get(), buf, sizeof buf), 5);
  EXPECT_EQ(std::string(buf), "abcde");

  ASSERT_EQ(::write(peer_.get(), "wxyz", 4), 4);
  uint32_t riov = putIovecs({8}, &bufs);
  uint32_t flags = alloc(4);
  store<uint32_t>(flags, 0xFFFF);
  ASSERT_EQ(call(F::sock_recv, {kSock, riov, 1, kRiRecvPeek, n, flags}), Errno::kSuccess);
  EXPECT_EQ(load<uint32_t>(n), 4u);
  EXPECT_EQ(load<uint16_t>(flags), 0u);
  ASSERT_EQ(call(F::sock_recv, {kSock, riov, 1, 0, n, flags}), Errno::kSuccess);  // again
  EXPECT_EQ(loadString(bufs[0], 4), "wxyz");
  EXPECT_EQ(call(F::sock_recv, {kSock, riov, 1, 0x4, n, flags}), Errno::kInval);
  EXPECT_EQ(call(F::sock_send, {kSock, iov, 2, 1, n}), Errno::kInval);
  EXPECT_EQ(call(F::sock_recv, {kSock, riov, 1, 0, kMemorySize, flags}), Errno::kFault);
  EXPECT_EQ(call(F::sock_send, {kSock, kMemorySize - 4, 1, 0, n}), Errno::kFault);
}

TEST_F(SockTest, Shutdown) {
  ASSERT_EQ(call(F::sock_shutdown, {kSock, kSdWr}), Errno::kSuccess);
  char buf[4];
  EXPECT_EQ(::read(peer_.get(), buf, sizeof buf), 0);  // EOF for the peer
  EXPECT_EQ(call(F::sock_shutdown, {kSock, 0}), Errno::kInval);
  EXPECT_EQ(call(F::sock_shutdown, {kSock, 4}), Errno::kInval);
  EXPECT_EQ(call(F::sock_shutdown, {kSock, kSdRd | kSdWr}), Errno::kSuccess);
}

TEST_F(SockTest, NotSocketsAndBadFds) {
  EXPECT_EQ(call(F::sock_shutdown, {1, kSdRd}), Errno::kNotsock);
  EXPECT_EQ(call(F::sock_shutdown, {kRoot, kSdRd}), Errno::kNotsock);
  EXPECT_EQ(call(F::sock_shutdown, {42, kSdRd}), Errno::kBadf);
  EXPECT_EQ(call(F::sock_accept, {1, 0, alloc(4)}), Errno::kNotsock);
  EXPECT_EQ(call(F::sock_accept, {42, 0, alloc(4)}), Errno::kBadf);
  EXPECT_EQ(call(F::sock_recv, {42, 0, 0, 0, alloc(4), alloc(4)}), Errno::kBadf);
  EXPECT_EQ(call(F::sock_send, {kRoot, 0, 0, 0, alloc(4)}), Errno::kNotsock);
  ASSERT_EQ(dropRights(kSock, right::kSockShutdown | right::kFdWrite, 0), Errno::kSuccess);
  EXPECT_EQ(call(F::sock_shutdown, {kSock, kSdRd}), Errno::kNotcapable);
  EXPECT_EQ(call(F::sock_send, {kSock, 0, 0, 0, alloc(4)}), Errno::kNotcapable);
}

TEST_F(SockTest, AcceptFromAListeningSocket) {
  UniqueFd listener(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = outside("listen.sock");
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener.get(), 4), 0);
  Config config = defaultConfig();
  config.sockets = {listener.get()};
  createHost(std::move(config));

  uint32_t out = alloc(4);
  ASSERT_EQ(call(F::fd_fdstat_set_flags, {kSock, fdflag::kNonblock}), Errno::kSuccess);
  EXPECT_EQ(call(F::sock_accept, {kSock, 0, out}), Errno::kAgain);  // nobody connected
  ASSERT_EQ(call(F::fd_fdstat_set_flags, {kSock, 0}), Errno::kSuccess);
  EXPECT_EQ(call(F::sock_accept, {kSock, fdflag::kAppend, out}), Errno::kInval);
  UniqueFd client(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(call(F::sock_accept, {kSock, fdflag::kNonblock, out}), Errno::kSuccess);
  const Fd conn = load<uint32_t>(out);
  EXPECT_GT(conn, kSock);
  std::string nothing;
  EXPECT_EQ(read(conn, 8, &nothing), Errno::kAgain);  // the new fd got the flags asked for
  ASSERT_EQ(::write(client.get(), "hi", 2), 2);
  std::string data;
  ASSERT_EQ(read(conn, 8, &data), Errno::kSuccess);
  EXPECT_EQ(data, "hi");
  Fdstat st{};
  ASSERT_EQ(fdstat(conn, &st), Errno::kSuccess);
  EXPECT_EQ(st.fsFiletype, Filetype::kSocketStream);
  EXPECT_EQ(st.fsRightsBase & right::kSockAccept, 0u);
  EXPECT_EQ(st.fsFlags, fdflag::kNonblock);
}

}  // namespace
}  // namespace runwasi::wasi::test
