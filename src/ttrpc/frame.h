// The ttrpc frame: a 10-byte big-endian header (length, stream id, type, flags) and a body
// of at most 4 MiB, plus a streaming decoder for byte chunks of any size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "common/error.h"

namespace runwasi::ttrpc {

inline constexpr size_t kFrameHeaderSize = 10;
// ttrpc's messageLengthMax: a body of exactly 4 MiB is still accepted.
inline constexpr uint32_t kMaxFrameBody = 4u << 20;

// The frame types of ttrpc 1.1. Headers keep the raw byte: unknown types (ttrpc 1.2's
// streams add 3 = data) must decode so the receiver can ignore them.
enum class FrameType : uint8_t { kRequest = 1, kResponse = 2 };

struct FrameHeader {
  uint32_t length = 0;    // body bytes after the header
  uint32_t streamId = 0;  // odd for client-initiated calls; a response echoes it
  uint8_t type = 0;
  uint8_t flags = 0;
};

void encodeHeader(const FrameHeader& header, std::span<uint8_t, kFrameHeaderSize> out);
FrameHeader decodeHeader(std::span<const uint8_t, kFrameHeaderSize> in);

// Header and body in one buffer, ready to write; InvalidArgument when the body is over
// kMaxFrameBody, which the peer would refuse.
Expected<std::string> encodeFrame(uint32_t streamId, FrameType type, std::string_view body,
                                  uint8_t flags = 0);

struct Frame {
  FrameHeader header;
  std::string body;
};

// A header announcing more than kMaxFrameBody. The decoder reports it as soon as the
// header is complete and then drops the announced body as it streams in, never buffering
// it; what follows decodes normally. (ttrpc's Go server does the same and answers
// ResourceExhausted on that stream; see server.h.)
struct OversizedFrame {
  FrameHeader header;
};

using DecodedFrame = std::variant<Frame, OversizedFrame>;

class FrameDecoder {
 public:
  // Takes the next bytes of the stream, in chunks of any size.
  void feed(std::span<const uint8_t> bytes);
  void feed(std::string_view bytes);

  // The next complete frame or oversized header; nullopt when more bytes are needed.
  std::optional<DecodedFrame> next();

  // True while part of a frame is held or an oversized body is still being dropped: an
  // end of stream now means a truncated frame.
  bool partial() const { return discard_ > 0 || buffer_.size() > offset_; }

 private:
  void compact();

  std::string buffer_;  // undecoded bytes start at offset_
  size_t offset_ = 0;
  uint64_t discard_ = 0;  // bytes of an oversized body still to drop
};

}  // namespace runwasi::ttrpc
