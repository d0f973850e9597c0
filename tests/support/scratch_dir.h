// Test support: a temporary directory made on construction.
#pragma once

#include <filesystem>
#include <string_view>
#include <utility>

#include "common/temp_dir.h"

namespace runwasi::testing {

// A TempDir for a test: if it cannot be made, the constructor throws and the test fails.
class ScratchDir : public TempDir {
 public:
  explicit ScratchDir(std::string_view prefix = "runwasi-test-", std::filesystem::path base = {})
      : TempDir(TempDir::create(prefix, std::move(base)).value()) {}
};

}  // namespace runwasi::testing
