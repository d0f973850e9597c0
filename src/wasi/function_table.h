// The wasi_snapshot_preview1 functions as data, for engines to bind imports from.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace runwasi::wasi {

inline constexpr std::string_view kModuleName = "wasi_snapshot_preview1";

enum class FunctionId : uint8_t {
#define WASI_FUNCTION(name, params, result) name,
#include "wasi/functions.def"
  kCount
};

struct FunctionInfo {
  FunctionId id;
  std::string_view name;
  std::string_view params;  // one letter per parameter: 'i' = i32, 'I' = i64
  bool hasResult;           // false only for proc_exit
};

inline constexpr FunctionInfo kFunctions[] = {
#define WASI_FUNCTION(name, params, result) {FunctionId::name, #name, params, result == 'i'},
#include "wasi/functions.def"
};
static_assert(std::size(kFunctions) == static_cast<size_t>(FunctionId::kCount));
static_assert(std::size(kFunctions) == 46, "wasi_snapshot_preview1 has 46 functions");

inline constexpr size_t kMaxParams = 9;  // path_open

// The function of that name, or nullptr.
const FunctionInfo* findFunction(std::string_view name);

}  // namespace runwasi::wasi
