// The compact JSON the image builder writes: members in the order they are written, so the
// output is a pure function of the calls (the callers follow the Go structs' field order,
// as containerd would write them).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace runwasi::oci {

// JSON needs Unicode: callers refuse bad UTF-8 rather than let a decoder replace it.
bool isValidUtf8(std::string_view s);

class JsonWriter {
 public:
  JsonWriter& beginObject() { return open('{'); }
  JsonWriter& endObject() { return close('}'); }
  JsonWriter& beginArray() { return open('['); }
  JsonWriter& endArray() { return close(']'); }
  JsonWriter& key(std::string_view k);
  JsonWriter& value(std::string_view s);
  JsonWriter& value(uint64_t n);
  JsonWriter& stringArray(const std::vector<std::string>& items);
  std::string take() && { return std::move(out_); }

 private:
  JsonWriter& open(char c);
  JsonWriter& close(char c);
  void separate();
  void quote(std::string_view s);

  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool afterKey_ = false;
};

}  // namespace runwasi::oci
