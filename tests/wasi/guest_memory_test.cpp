// GuestMemory: the one bounds-checked view of linear memory.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "wasi/guest_memory.h"

namespace runwasi::wasi::test {
namespace {

TEST(GuestMemoryTest, BytesAreBoundsChecked) {
  std::vector<uint8_t> mem(100);
  GuestMemory m(mem.data(), mem.size());
  EXPECT_TRUE(m.bytes(0, 100));
  EXPECT_TRUE(m.bytes(100, 0));  // an empty range at the very end
  EXPECT_FALSE(m.bytes(101, 0));
  EXPECT_FALSE(m.bytes(99, 2));
  EXPECT_FALSE(m.bytes(1, UINT64_MAX));  // no wrap-around
  EXPECT_FALSE(m.bytes(UINT64_MAX, 1));
  EXPECT_EQ(m.bytes(10, 5)->data(), mem.data() + 10);
}

TEST(GuestMemoryTest, LoadsAndStores) {
  std::vector<uint8_t> mem(16);
  GuestMemory m(mem.data(), mem.size());
  EXPECT_TRUE(m.store<uint32_t>(12, 0x04030201));
  EXPECT_EQ(mem[12], 1);  // little-endian
  EXPECT_EQ(mem[15], 4);
  EXPECT_EQ(*m.load<uint32_t>(12), 0x04030201u);
  EXPECT_FALSE(m.store<uint32_t>(13, 0));
  EXPECT_FALSE(m.load<uint64_t>(9));
  EXPECT_EQ(*m.string(12, 2), std::string("\x01\x02", 2));
  EXPECT_FALSE(m.string(15, 2));
}

TEST(GuestMemoryTest, ArraysAndIovecs) {
  std::vector<uint8_t> mem(64);
  GuestMemory m(mem.data(), mem.size());
  EXPECT_FALSE(m.loadArray<uint64_t>(0, 9));
  EXPECT_FALSE(m.loadArray<uint64_t>(8, UINT64_MAX / 4));  // count * size would overflow
  EXPECT_EQ(m.loadArray<uint64_t>(0, 8)->size(), 8u);
  EXPECT_EQ(m.loadArray<uint64_t>(64, 0)->size(), 0u);
  // Two iovecs at 0: {buf 32, len 8} and {buf 60, len 4}.
  m.store<uint32_t>(0, 32);
  m.store<uint32_t>(4, 8);
  m.store<uint32_t>(8, 60);
  m.store<uint32_t>(12, 4);
  auto iov = m.iovecs(0, 2);
  ASSERT_TRUE(iov);
  EXPECT_EQ((*iov)[0].data(), mem.data() + 32);
  EXPECT_EQ((*iov)[1].size(), 4u);
  m.store<uint32_t>(12, 5);  // now the second buffer crosses the end
  EXPECT_FALSE(m.iovecs(0, 2));
  EXPECT_FALSE(m.iovecs(60, 1));  // the array itself crosses the end
}

}  // namespace
}  // namespace runwasi::wasi::test
