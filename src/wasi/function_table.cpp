#include "wasi/function_table.h"

namespace runwasi::wasi {

const FunctionInfo* findFunction(std::string_view name) {
  for (const FunctionInfo& f : kFunctions)
    if (f.name == name) return &f;
  return nullptr;
}

}  // namespace runwasi::wasi
