// Times in the Task API and its events are google.protobuf.Timestamps.
#pragma once

#include <chrono>

#include <google/protobuf/timestamp.pb.h>

namespace runwasi::shim {

inline void setTimestamp(google::protobuf::Timestamp* out,
                         std::chrono::system_clock::time_point when) {
  auto sinceEpoch = when.time_since_epoch();
  auto seconds = std::chrono::floor<std::chrono::seconds>(sinceEpoch);
  out->set_seconds(seconds.count());
  out->set_nanos(static_cast<int32_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(sinceEpoch - seconds).count()));
}

}  // namespace runwasi::shim
