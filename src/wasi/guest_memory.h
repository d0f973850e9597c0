// The one place where guest linear memory is accessed: every access is bounds-checked.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

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

  // The bytes [offset, offset + length) as text (not NUL-terminated), or nullopt.
  std::optional<std::string_view> string(uint64_t offset, uint64_t length) const {
    auto b = bytes(offset, length);
    if (!b) return std::nullopt;
    return std::string_view(reinterpret_cast<const char*>(b->data()), b->size());
  }

  // `count` consecutive T at `offset` (copied out), or nullopt when out of bounds.
  template <typename T>
  std::optional<std::vector<T>> loadArray(uint64_t offset, uint64_t count) const {
    if (count > size_ / sizeof(T)) return std::nullopt;
    auto b = bytes(offset, count * sizeof(T));
    if (!b) return std::nullopt;
    std::vector<T> values(count);
    if (count != 0) std::memcpy(values.data(), b->data(), count * sizeof(T));
    return values;
  }

  // The buffers named by an iovec/ciovec array (`count` records of {u32 buf, u32 len} at
  // `offset`), or nullopt when the array or any buffer is out of bounds.
  std::optional<std::vector<std::span<uint8_t>>> iovecs(uint64_t offset, uint64_t count) const {
    struct Record {
      uint32_t buf;
      uint32_t len;
    };
    static_assert(sizeof(Record) == 8);
    auto records = loadArray<Record>(offset, count);
    if (!records) return std::nullopt;
    std::vector<std::span<uint8_t>> buffers;
    buffers.reserve(records->size());
    for (const Record& r : *records) {
      auto b = bytes(r.buf, r.len);
      if (!b) return std::nullopt;
      buffers.push_back(*b);
    }
    return buffers;
  }

 private:
  uint8_t* base_;
  uint64_t size_;
};

}  // namespace runwasi::wasi
