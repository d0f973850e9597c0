// The portable SHA-256 against the standard's examples and against OpenSSL's, for every
// length around the block and padding boundaries.
#include "common/sha256_portable.h"

#include <gtest/gtest.h>

#include <random>
#include <span>
#include <string>

#include "common/file.h"

namespace runwasi {
namespace {

TEST(PortableSha256, MatchesTheStandardsExamples) {
  EXPECT_EQ(portableSha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(portableSha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(portableSha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(PortableSha256, EqualsOpenSslForEveryLengthUpTo300) {
  std::mt19937 rng(7);
  for (size_t n = 0; n <= 300; ++n) {
    std::string data(n, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    EXPECT_EQ(portableSha256Hex(data), sha256Hex(bytes)) << "length " << n;
  }
}

TEST(LowerHex, TwoDigitsPerByte) {
  const uint8_t bytes[] = {0x00, 0x0f, 0xa0, 0xff};
  EXPECT_EQ(lowerHex(bytes), "000fa0ff");
  EXPECT_EQ(lowerHex({}), "");
}

}  // namespace
}  // namespace runwasi
