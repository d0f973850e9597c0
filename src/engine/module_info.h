// A structural reading of a wasm binary: enough to validate the envelope, list imports and
// exports with their types, and give clear messages before an engine sees the bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"

namespace runwasi::engine {

enum class ExternKind : uint8_t { kFunction = 0, kTable = 1, kMemory = 2, kGlobal = 3, kTag = 4 };

struct FuncType {
  std::string params;   // one letter per value type: i=i32 I=i64 f=f32 F=f64 v=v128 r=ref
  std::string results;  // same letters
};

struct Import {
  std::string module;
  std::string name;
  ExternKind kind;
  uint32_t typeIndex = 0;  // for functions
};

struct Export {
  std::string name;
  ExternKind kind;
  uint32_t index;
};

struct ModuleInfo {
  std::vector<FuncType> types;
  std::vector<Import> imports;
  std::vector<Export> exports;
  std::vector<uint32_t> functionTypes;  // type index of each defined (non-imported) function

  // The type of function `index` in the function index space (imports first).
  const FuncType* functionType(uint32_t index) const;
  const Export* findExport(std::string_view name) const;
};

// Reads the module's sections. Errors: "not a WebAssembly module", "truncated", ...
Expected<ModuleInfo> readModuleInfo(std::span<const uint8_t> bytes);

// Checks that every import is a wasi_snapshot_preview1 function of the right type (unless
// stubUnknown allows non-WASI functions) and that `function` is an exported () -> ()
// function. The error names the offending import or export.
Expected<void> checkLinkable(const ModuleInfo& info, std::string_view function, bool stubUnknown);

}  // namespace runwasi::engine
