// libFuzzer target for the ttrpc frame decoder. The first byte picks how the rest is cut
// into chunks; whatever the cuts, the decoder must yield the same frames as when fed in
// one piece, never a body over the limit, and re-encoding must reproduce the input bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "ttrpc/frame.h"

namespace {

using runwasi::ttrpc::DecodedFrame;
using runwasi::ttrpc::Frame;
using runwasi::ttrpc::FrameDecoder;
using runwasi::ttrpc::OversizedFrame;

void check(bool condition) {
  if (!condition) std::abort();
}

struct Outcome {
  std::vector<DecodedFrame> events;
  bool partial = false;
};

Outcome decode(std::string_view input, size_t chunkSeed) {
  FrameDecoder decoder;
  Outcome out;
  size_t step = chunkSeed == 0 ? input.size() + 1 : chunkSeed;
  for (size_t pos = 0; pos < input.size();) {
    size_t take = std::min(step, input.size() - pos);
    decoder.feed(input.substr(pos, take));
    pos += take;
    step = step * 5 % 257 + 1;  // vary the chunk sizes along the way
    while (auto event = decoder.next()) out.events.push_back(std::move(*event));
  }
  while (auto event = decoder.next()) out.events.push_back(std::move(*event));
  out.partial = decoder.partial();
  return out;
}

bool sameEvent(const DecodedFrame& a, const DecodedFrame& b) {
  if (a.index() != b.index()) return false;
  if (auto* fa = std::get_if<Frame>(&a)) {
    auto& fb = std::get<Frame>(b);
    return fa->header.length == fb.header.length && fa->header.streamId == fb.header.streamId &&
           fa->header.type == fb.header.type && fa->header.flags == fb.header.flags &&
           fa->body == fb.body;
  }
  auto& oa = std::get<OversizedFrame>(a);
  auto& ob = std::get<OversizedFrame>(b);
  return oa.header.length == ob.header.length && oa.header.streamId == ob.header.streamId;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  Outcome whole = decode(input, 0);
  Outcome chunked = decode(input, data[0]);
  check(whole.events.size() == chunked.events.size());
  check(whole.partial == chunked.partial);
  for (size_t i = 0; i < whole.events.size(); ++i)
    check(sameEvent(whole.events[i], chunked.events[i]));

  // Without oversized frames, the frames re-encode to exactly the consumed prefix.
  std::string reencoded;
  bool sawOversized = false;
  for (const auto& event : whole.events) {
    if (std::holds_alternative<OversizedFrame>(event)) {
      check(std::get<OversizedFrame>(event).header.length > runwasi::ttrpc::kMaxFrameBody);
      sawOversized = true;
      break;
    }
    const auto& frame = std::get<Frame>(event);
    check(frame.body.size() == frame.header.length);
    check(frame.body.size() <= runwasi::ttrpc::kMaxFrameBody);
    auto bytes = runwasi::ttrpc::encodeFrame(
        frame.header.streamId, static_cast<runwasi::ttrpc::FrameType>(frame.header.type),
        frame.body, frame.header.flags);
    check(bytes.has_value());
    reencoded += *bytes;
  }
  if (!sawOversized) {
    check(input.substr(0, reencoded.size()) == reencoded);
    check(whole.partial == (reencoded.size() < input.size()));
  }
  return 0;
}
