// Writes the C glue that turns one wasm2c-translated module into a loadable .so: the
// definitions of its imports and the exported entry point the engine calls.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "engine/module_info.h"

namespace runwasi::engine::wasm2c {

// The module name passed to `wasm2c -n`: every generated symbol starts with Z_runwasi_guest (a
// name no real import module uses, as an import module "guest" would clash).
inline constexpr std::string_view kGuestName = "runwasi_guest";

// wasm2c 1.0.32's name mangling of one name component ("a-b" -> "aZ2Db", "Z" -> "Z5A").
std::string mangleName(std::string_view name);

struct GlueInput {
  std::string_view header;  // the header wasm2c wrote for the module (guest.h)
  const ModuleInfo* info = nullptr;
  std::string_view moduleDigest;  // embedded in the .so, checked when it is loaded
  std::string_view loadKey;       // likewise
};

// The glue C source: includes "guest.h", defines every import (WASI imports forward to the
// host table, other function imports trap when called), lists the exports callable as an
// entry point, and defines the runwasi_w2c_run / runwasi_w2c_info symbols of glue_abi.h.
// Errors name an import the engine cannot provide (a non-function import).
Expected<std::string> generateGlue(const GlueInput& input);

}  // namespace runwasi::engine::wasm2c
