// What to run: a module path and the exported function to call ("path#func").
#pragma once

#include <string>
#include <string_view>

namespace runwasi::oci {

struct Entrypoint {
  std::string path;             // the module file ("app.wasm")
  std::string func = "_start";  // the export to call
  std::string name;             // the module's name: the file name without ".wasm"
};

// Splits "path/app.wasm#func" at the last '#' (no '#' or an empty func means _start).
Entrypoint parseEntrypoint(std::string_view spec);

}  // namespace runwasi::oci
