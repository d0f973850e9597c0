// A private temporary directory, removed with everything in it when the object goes.
#pragma once

#include <filesystem>
#include <string_view>

#include "common/error.h"

namespace runwasi {

class TempDir {
 public:
  // Creates <base>/<prefix>XXXXXX; base defaults to $TMPDIR, else /tmp.
  static Expected<TempDir> create(std::string_view prefix, std::filesystem::path base = {});

  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Removes the tree, first making directories writable (a tree may have dropped permissions).
  ~TempDir();

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  explicit TempDir(std::filesystem::path path) : path_(std::move(path)) {}
  void remove();

  std::filesystem::path path_;
};

}  // namespace runwasi
