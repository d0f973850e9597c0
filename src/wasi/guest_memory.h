// The one place where guest linear memory is accessed: every access is bounds-checked.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

namespace runwasi::wasi {

// A view of a guest's linear memory for the duration of one host call.
// (Engines re-take it per call: memory.grow may move or resize it.)
class GuestMemory {
 public:
  GuestMemory(uint8_t* base, uint64_t size) : base_(base), size_(size) {}

  uint64_t size() const { return size_; }

  // The bytes [offset, offset + length), or an empty optional when out of bounds.
  std::optional<std::span<uint8_t>> bytes(uint64_t offset, uint64_t length) const {
    if (offset > size_ || length > size_ - offset) return std::nullopt;
    return std::span<uint8_t>(base_ + offset, length);
  }

  // Little-endian loads and stores of trivially copyable T (wasm is little-endian, as is
  // every host we build for). False / nullopt when out of bounds.
  template <typename T>
  std::optional<T> load(uint64_t offset) const {
    auto b = bytes(offset, sizeof(T));
    if (!b) return std::nullopt;
    T value;
    std::memcpy(&value, b->data(), sizeof(T));
    return value;
  }
  template <typename T>
  bool store(uint64_t offset, const T& value) const {
    auto b = bytes(offset, sizeof(T));
    if (!b) return false;
    std::memcpy(b->data(), &value, sizeof(T));
    return true;
  }

 private:
  uint8_t* base_;
  uint64_t size_;
};

}  // namespace runwasi::wasi
