#include "oci/json_writer.h"

#include <fmt/core.h>

namespace runwasi::oci {

bool isValidUtf8(std::string_view s) {
  static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};  // no overlongs
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80             ? 1
                 : (c & 0xe0) == 0xc0 ? 2
                 : (c & 0xf0) == 0xe0 ? 3
                 : (c & 0xf8) == 0xf0 ? 4
                                      : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : c & (0x7fu >> len);
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (len > 1 && cp < kMinForLength[len]) return false;
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

JsonWriter& JsonWriter::key(std::string_view k) {
  separate();
  quote(k);
  out_.push_back(':');
  afterKey_ = true;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view s) {
  separate();
  quote(s);
  return *this;
}

JsonWriter& JsonWriter::value(uint64_t n) {
  separate();
  out_ += std::to_string(n);
  return *this;
}

JsonWriter& JsonWriter::stringArray(const std::vector<std::string>& items) {
  beginArray();
  for (const auto& item : items) value(item);
  return endArray();
}

JsonWriter& JsonWriter::open(char c) {
  separate();
  out_.push_back(c);
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::close(char c) {
  out_.push_back(c);
  first_.pop_back();
  return *this;
}

// A comma before every element but the first of its container; none after a key.
void JsonWriter::separate() {
  if (afterKey_) {
    afterKey_ = false;
    return;
  }
  if (first_.empty()) return;
  if (!first_.back()) out_.push_back(',');
  first_.back() = false;
}

// RFC 8259 escapes; bytes >= 0x80 pass through (the strings were checked to be UTF-8).
void JsonWriter::quote(std::string_view s) {
  out_.push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out_ += {'\\', c};
    } else if (u >= '\b' && u <= '\r' && u != '\v') {
      out_ += {'\\', "btn?fr"[u - '\b']};
    } else if (u < 0x20) {
      out_ += fmt::format("\\u{:04x}", u);
    } else {
      out_.push_back(c);
    }
  }
  out_.push_back('"');
}

}  // namespace runwasi::oci
