#include "ttrpc/frame.h"

#include <algorithm>
#include <cstring>

namespace runwasi::ttrpc {
namespace {

void putU32(uint8_t* out, uint32_t v) {
  out[0] = static_cast<uint8_t>(v >> 24);
  out[1] = static_cast<uint8_t>(v >> 16);
  out[2] = static_cast<uint8_t>(v >> 8);
  out[3] = static_cast<uint8_t>(v);
}

uint32_t getU32(const uint8_t* in) {
  return (uint32_t{in[0]} << 24) | (uint32_t{in[1]} << 16) | (uint32_t{in[2]} << 8) |
         uint32_t{in[3]};
}

}  // namespace

void encodeHeader(const FrameHeader& header, std::span<uint8_t, kFrameHeaderSize> out) {
  putU32(out.data(), header.length);
  putU32(out.data() + 4, header.streamId);
  out[8] = header.type;
  out[9] = header.flags;
}

FrameHeader decodeHeader(std::span<const uint8_t, kFrameHeaderSize> in) {
  return FrameHeader{getU32(in.data()), getU32(in.data() + 4), in[8], in[9]};
}

Expected<std::string> encodeFrame(uint32_t streamId, FrameType type, std::string_view body,
                                  uint8_t flags) {
  if (body.size() > kMaxFrameBody) {
    return makeError(ErrorCode::kInvalidArgument,
                     "ttrpc message of " + std::to_string(body.size()) +
                         " bytes exceeds the maximum of " + std::to_string(kMaxFrameBody));
  }
  std::string frame(kFrameHeaderSize + body.size(), '\0');
  auto* bytes = reinterpret_cast<uint8_t*>(frame.data());
  encodeHeader(
      FrameHeader{static_cast<uint32_t>(body.size()), streamId, static_cast<uint8_t>(type), flags},
      std::span<uint8_t, kFrameHeaderSize>(bytes, kFrameHeaderSize));
  if (!body.empty()) std::memcpy(bytes + kFrameHeaderSize, body.data(), body.size());
  return frame;
}

void FrameDecoder::feed(std::span<const uint8_t> bytes) {
  feed(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

void FrameDecoder::feed(std::string_view bytes) {
  // An oversized body is dropped on arrival, so it never occupies memory.
  if (discard_ > 0) {
    size_t dropped = static_cast<size_t>(std::min<uint64_t>(discard_, bytes.size()));
    discard_ -= dropped;
    bytes.remove_prefix(dropped);
  }
  buffer_.append(bytes);
}

std::optional<DecodedFrame> FrameDecoder::next() {
  size_t available = buffer_.size() - offset_;
  if (available < kFrameHeaderSize) {
    compact();
    return std::nullopt;
  }
  auto* start = reinterpret_cast<const uint8_t*>(buffer_.data()) + offset_;
  FrameHeader header =
      decodeHeader(std::span<const uint8_t, kFrameHeaderSize>(start, kFrameHeaderSize));

  if (header.length > kMaxFrameBody) {
    size_t buffered = std::min<size_t>(header.length, available - kFrameHeaderSize);
    offset_ += kFrameHeaderSize + buffered;
    discard_ = header.length - buffered;
    compact();
    return OversizedFrame{header};
  }
  if (available - kFrameHeaderSize < header.length) {
    compact();
    return std::nullopt;
  }
  Frame frame{header, buffer_.substr(offset_ + kFrameHeaderSize, header.length)};
  offset_ += kFrameHeaderSize + header.length;
  compact();
  return frame;
}

void FrameDecoder::compact() {
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  } else if (offset_ > 0 && offset_ >= buffer_.size() / 2) {
    // Moving the tail only when it is the smaller half keeps decoding linear overall.
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
}

}  // namespace runwasi::ttrpc
