// args, environ, clocks, random, sched_yield, proc_exit, proc_raise.
#include <csignal>

#include "wasi_test_fixture.h"

namespace runwasi::wasi::test {
namespace {

using F = FunctionId;
using ArgsTest = WasiTest;

TEST_F(ArgsTest, ArgsSizesAndBytes) {
  uint32_t count = alloc(4), size = alloc(4);
  ASSERT_EQ(call(F::args_sizes_get, {count, size}), Errno::kSuccess);
  EXPECT_EQ(load<uint32_t>(count), 3u);
  EXPECT_EQ(load<uint32_t>(size), std::string("prog\0first\0second arg\0", 22).size());

  uint32_t argv = alloc(3 * 4), buf = alloc(22);
  ASSERT_EQ(call(F::args_get, {argv, buf}), Errno::kSuccess);
  EXPECT_EQ(load<uint32_t>(argv), buf);
  EXPECT_EQ(load<uint32_t>(argv + 4), buf + 5);
  EXPECT_EQ(load<uint32_t>(argv + 8), buf + 11);
  EXPECT_EQ(loadString(buf, 22), std::string("prog\0first\0second arg\0", 22));
}

TEST_F(ArgsTest, EnvironSizesAndBytes) {
  uint32_t count = alloc(4), size = alloc(4);
  ASSERT_EQ(call(F::environ_sizes_get, {count, size}), Errno::kSuccess);
  EXPECT_EQ(load<uint32_t>(count), 2u);
  EXPECT_EQ(load<uint32_t>(size), 4u + 7u);
  uint32_t ptrs = alloc(8), buf = alloc(11);
  ASSERT_EQ(call(F::environ_get, {ptrs, buf}), Errno::kSuccess);
  EXPECT_EQ(load<uint32_t>(ptrs + 4), buf + 4);
  EXPECT_EQ(loadString(buf, 11), std::string("A=1\0EMPTY=\0", 11));
}

TEST_F(ArgsTest, BadPointersFault) {
  const uint32_t end = kMemorySize;
  EXPECT_EQ(call(F::args_sizes_get, {end - 2, alloc(4)}), Errno::kFault);
  EXPECT_EQ(call(F::args_sizes_get, {alloc(4), end}), Errno::kFault);
  EXPECT_EQ(call(F::args_get, {alloc(12), end - 10}), Errno::kFault);  // 22 bytes needed
  EXPECT_EQ(call(F::args_get, {end - 8, alloc(22)}), Errno::kFault);   // 12 bytes needed
  EXPECT_EQ(call(F::environ_get, {alloc(8), end - 3}), Errno::kFault);
  EXPECT_EQ(call(F::environ_sizes_get, {0xFFFFFFFF, alloc(4)}), Errno::kFault);
  // Nothing was written on failure.
  uint32_t argv = alloc(12);
  EXPECT_EQ(call(F::args_get, {argv, end - 10}), Errno::kFault);
  EXPECT_EQ(load<uint32_t>(argv), 0u);
}

TEST_F(ArgsTest, NoArgsNoEnv) {
  Config config = defaultConfig();
  config.args.clear();
  config.env.clear();
  createHost(std::move(config));
  uint32_t count = alloc(4), size = alloc(4);
  store<uint32_t>(count, 7);
  ASSERT_EQ(call(F::environ_sizes_get, {count, size}), Errno::kSuccess);
  EXPECT_EQ(load<uint32_t>(count), 0u);
  EXPECT_EQ(load<uint32_t>(size), 0u);
  EXPECT_EQ(call(F::args_get, {alloc(4), alloc(4)}), Errno::kSuccess);
}

using ClockTest = WasiTest;

TEST_F(ClockTest, ResolutionOfEveryClock) {
  for (uint32_t id = 0; id < 4; ++id) {
    uint32_t out = alloc(8);
    ASSERT_EQ(call(F::clock_res_get, {id, out}), Errno::kSuccess) << id;
    EXPECT_GT(load<uint64_t>(out), 0u);
    EXPECT_LE(load<uint64_t>(out), 1'000'000'000u);
  }
  EXPECT_EQ(call(F::clock_res_get, {4, alloc(8)}), Errno::kInval);
  EXPECT_EQ(call(F::clock_res_get, {0, kMemorySize - 4}), Errno::kFault);
}

TEST_F(ClockTest, TimeOfEveryClock) {
  uint32_t a = alloc(8), b = alloc(8);
  ASSERT_EQ(call(F::clock_time_get, {1, 0, a}), Errno::kSuccess);
  ASSERT_EQ(call(F::clock_time_get, {1, 1, b}), Errno::kSuccess);
  EXPECT_LE(load<uint64_t>(a), load<uint64_t>(b));
  ASSERT_EQ(call(F::clock_time_get, {0, 0, a}), Errno::kSuccess);
  const uint64_t now = static_cast<uint64_t>(time(nullptr)) * 1'000'000'000u;
  EXPECT_NEAR(static_cast<double>(load<uint64_t>(a)), static_cast<double>(now), 5e9);
  EXPECT_EQ(call(F::clock_time_get, {2, 0, a}), Errno::kSuccess);
  EXPECT_EQ(call(F::clock_time_get, {3, 0, a}), Errno::kSuccess);
  EXPECT_EQ(call(F::clock_time_get, {99, 0, a}), Errno::kInval);
  EXPECT_EQ(call(F::clock_time_get, {1, 0, kMemorySize - 7}), Errno::kFault);
}

using ProcTest = WasiTest;

TEST_F(ProcTest, ProcExitRecordsTheCodeAndReturns) {
  EXPECT_FALSE(host_->exitCode());
  EXPECT_EQ(call(F::proc_exit, {42}), Errno::kSuccess);  // and we are still running
  ASSERT_TRUE(host_->exitCode());
  EXPECT_EQ(*host_->exitCode(), 42u);
  EXPECT_EQ(call(F::proc_exit, {7}), Errno::kSuccess);  // the first code stays
  EXPECT_EQ(*host_->exitCode(), 42u);
}

TEST_F(ProcTest, ProcRaise) {
  EXPECT_EQ(call(F::proc_raise, {0}), Errno::kSuccess);   // none
  EXPECT_EQ(call(F::proc_raise, {16}), Errno::kSuccess);  // chld: ignored
  EXPECT_FALSE(host_->exitCode());
  EXPECT_EQ(call(F::proc_raise, {18}), Errno::kNotsup);  // stop
  EXPECT_EQ(call(F::proc_raise, {31}), Errno::kInval);
  EXPECT_FALSE(host_->exitCode());
  EXPECT_EQ(call(F::proc_raise, {15}), Errno::kSuccess);  // term: the guest ends
  ASSERT_TRUE(host_->exitCode());
  EXPECT_EQ(*host_->exitCode(), 128u + SIGTERM);
}

TEST_F(ProcTest, SchedYield) {
  EXPECT_EQ(call(F::sched_yield, {}), Errno::kSuccess);
}

TEST_F(ProcTest, RandomGet) {
  uint32_t buf = alloc(64);
  ASSERT_EQ(call(F::random_get, {buf, 64}), Errno::kSuccess);
  int zeros = 0;
  for (uint32_t i = 0; i < 64; ++i) zeros += mem_[buf + i] == 0;
  EXPECT_LT(zeros, 16);
  uint32_t untouched = alloc(8);
  EXPECT_EQ(call(F::random_get, {untouched, 0}), Errno::kSuccess);
  EXPECT_EQ(load<uint64_t>(untouched), 0u);
  EXPECT_EQ(call(F::random_get, {kMemorySize - 10, 11}), Errno::kFault);
  EXPECT_EQ(call(F::random_get, {0, kMemorySize}), Errno::kSuccess);
  EXPECT_EQ(call(F::random_get, {1, kMemorySize}), Errno::kFault);
}

}  // namespace
}  // namespace runwasi::wasi::test
