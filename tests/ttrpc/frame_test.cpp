#include "ttrpc/frame.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace runwasi::ttrpc {
namespace {

std::string frameBytes(uint32_t streamId, uint8_t type, std::string_view body, uint8_t flags = 0) {
  std::string out(kFrameHeaderSize, '\0');
  encodeHeader(FrameHeader{static_cast<uint32_t>(body.size()), streamId, type, flags},
               std::span<uint8_t, kFrameHeaderSize>(reinterpret_cast<uint8_t*>(out.data()),
                                                    kFrameHeaderSize));
  return out.append(body);
}

// Every event the decoder yields for `input` fed in pieces of the given sizes.
std::vector<DecodedFrame> decodeInPieces(const std::string& input,
                                         const std::vector<size_t>& cuts) {
  FrameDecoder decoder;
  std::vector<DecodedFrame> out;
  size_t pos = 0;
  for (size_t cut : cuts) {
    decoder.feed(std::string_view(input).substr(pos, cut - pos));
    pos = cut;
    while (auto decoded = decoder.next()) out.push_back(std::move(*decoded));
  }
  decoder.feed(std::string_view(input).substr(pos));
  while (auto decoded = decoder.next()) out.push_back(std::move(*decoded));
  EXPECT_FALSE(decoder.partial());
  return out;
}

void expectFrame(const DecodedFrame& decoded, uint32_t streamId, uint8_t type,
                 const std::string& body) {
  const auto* frame = std::get_if<Frame>(&decoded);
  ASSERT_NE(frame, nullptr);
  EXPECT_EQ(frame->header.streamId, streamId);
  EXPECT_EQ(frame->header.type, type);
  EXPECT_EQ(frame->header.length, body.size());
  EXPECT_EQ(frame->body, body);
}

TEST(FrameHeader, IsBigEndianOnTheWire) {
  std::array<uint8_t, kFrameHeaderSize> bytes{};
  encodeHeader(FrameHeader{0x01020304, 0x0a0b0c0d, 2, 0x80}, bytes);
  EXPECT_EQ(bytes, (std::array<uint8_t, kFrameHeaderSize>{1, 2, 3, 4, 10, 11, 12, 13, 2, 0x80}));
}

TEST(FrameHeader, RoundTripsExtremes) {
  for (FrameHeader h : {FrameHeader{0, 0, 0, 0}, FrameHeader{0xffffffff, 0xffffffff, 0xff, 0xff},
                        FrameHeader{kMaxFrameBody, 1, 1, 0}, FrameHeader{17, 0x80000001, 3, 1}}) {
    std::array<uint8_t, kFrameHeaderSize> bytes{};
    encodeHeader(h, bytes);
    FrameHeader back = decodeHeader(bytes);
    EXPECT_EQ(back.length, h.length);
    EXPECT_EQ(back.streamId, h.streamId);
    EXPECT_EQ(back.type, h.type);
    EXPECT_EQ(back.flags, h.flags);
  }
}

TEST(EncodeFrame, HeaderThenBody) {
  auto frame = encodeFrame(5, FrameType::kResponse, "abc");
  ASSERT_TRUE(frame);
  EXPECT_EQ(*frame, frameBytes(5, 2, "abc"));
}

TEST(EncodeFrame, AcceptsTheLimitAndRefusesMore) {
  std::string body(kMaxFrameBody, 'x');
  EXPECT_TRUE(encodeFrame(1, FrameType::kRequest, body));
  body.push_back('x');
  auto refused = encodeFrame(1, FrameType::kRequest, body);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
}

TEST(FrameDecoder, DecodesConcatenatedFramesInOneChunk) {
  std::string input = frameBytes(1, 1, "hello") + frameBytes(3, 1, "") + frameBytes(5, 9, "x");
  auto events = decodeInPieces(input, {});
  ASSERT_EQ(events.size(), 3u);
  expectFrame(events[0], 1, 1, "hello");
  expectFrame(events[1], 3, 1, "");
  expectFrame(events[2], 5, 9, "x");
}

TEST(FrameDecoder, DecodesByteByByte) {
  std::string input = frameBytes(7, 1, "payload") + frameBytes(9, 2, std::string(300, 'z'));
  std::vector<size_t> cuts;
  for (size_t i = 1; i < input.size(); ++i) cuts.push_back(i);
  auto events = decodeInPieces(input, cuts);
  ASSERT_EQ(events.size(), 2u);
  expectFrame(events[0], 7, 1, "payload");
  expectFrame(events[1], 9, 2, std::string(300, 'z'));
}

TEST(FrameDecoder, DecodesRandomSplitsIdentically) {
  std::mt19937 rng(1234);
  for (int round = 0; round < 200; ++round) {
    std::string input;
    std::vector<std::pair<uint32_t, std::string>> sent;
    int frames = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < frames; ++i) {
      std::string body(rng() % 2000, '\0');
      for (char& c : body) c = static_cast<char>(rng());
      uint32_t id = static_cast<uint32_t>(rng());
      input += frameBytes(id, 1, body);
      sent.emplace_back(id, std::move(body));
    }
    std::vector<size_t> cuts;
    for (size_t pos = 0; pos < input.size();) {
      pos += 1 + rng() % 700;
      if (pos < input.size()) cuts.push_back(pos);
    }
    auto events = decodeInPieces(input, cuts);
    ASSERT_EQ(events.size(), sent.size());
    for (size_t i = 0; i < sent.size(); ++i)
      expectFrame(events[i], sent[i].first, 1, sent[i].second);
  }
}

TEST(FrameDecoder, WaitsForTheWholeBody) {
  FrameDecoder decoder;
  std::string input = frameBytes(1, 1, "0123456789");
  decoder.feed(std::string_view(input).substr(0, 15));
  EXPECT_FALSE(decoder.next());
  EXPECT_TRUE(decoder.partial());
  decoder.feed(std::string_view(input).substr(15));
  auto decoded = decoder.next();
  ASSERT_TRUE(decoded);
  expectFrame(*decoded, 1, 1, "0123456789");
  EXPECT_FALSE(decoder.partial());
}

TEST(FrameDecoder, AcceptsABodyOfExactlyTheLimit) {
  std::string body(kMaxFrameBody, 'q');
  auto events = decodeInPieces(frameBytes(1, 1, body), {kFrameHeaderSize, 1000000});
  ASSERT_EQ(events.size(), 1u);
  expectFrame(events[0], 1, 1, body);
}

TEST(FrameDecoder, ReportsAnOversizedHeaderFromTheHeaderAlone) {
  FrameDecoder decoder;
  std::string header = frameBytes(11, 1, "").substr(0, kFrameHeaderSize);
  // Patch the length: one byte over the limit.
  uint32_t length = kMaxFrameBody + 1;
  header[0] = static_cast<char>(length >> 24);
  header[1] = static_cast<char>(length >> 16);
  header[2] = static_cast<char>(length >> 8);
  header[3] = static_cast<char>(length);
  decoder.feed(header);
  auto decoded = decoder.next();
  ASSERT_TRUE(decoded);
  auto* oversized = std::get_if<OversizedFrame>(&*decoded);
  ASSERT_NE(oversized, nullptr);
  EXPECT_EQ(oversized->header.streamId, 11u);
  EXPECT_EQ(oversized->header.length, length);
  EXPECT_TRUE(decoder.partial());

  // The body is dropped as it comes; the frame after it decodes normally.
  std::string body(length, 'j');
  for (size_t pos = 0; pos < body.size(); pos += 100000) {
    decoder.feed(std::string_view(body).substr(pos, 100000));
    EXPECT_FALSE(decoder.next());
  }
  EXPECT_FALSE(decoder.partial());
  decoder.feed(frameBytes(13, 1, "after"));
  auto next = decoder.next();
  ASSERT_TRUE(next);
  expectFrame(*next, 13, 1, "after");
}

TEST(FrameDecoder, OversizedBodyArrivingWithTheHeaderIsDropped) {
  std::string input(kFrameHeaderSize, '\0');
  input[0] = static_cast<char>(0xff);  // a length near 4 GiB
  input += std::string(1000, 'x');
  FrameDecoder decoder;
  decoder.feed(input);
  auto decoded = decoder.next();
  ASSERT_TRUE(decoded);
  EXPECT_TRUE(std::holds_alternative<OversizedFrame>(*decoded));
  EXPECT_FALSE(decoder.next());
  EXPECT_TRUE(decoder.partial());  // still dropping
}

}  // namespace
}  // namespace runwasi::ttrpc
