#include "engine/registry.h"

#include <fmt/format.h>

#include "engine/v8/v8_engine.h"
#include "engine/wasm2c/wasm2c_engine.h"

namespace runwasi::engine {
namespace {

struct Entry {
  std::string_view name;
  std::unique_ptr<Engine> (*make)();
};

constexpr Entry kEngines[] = {
    {"v8", makeV8Engine},
    {"wasm2c", makeWasm2cEngine},
};

}  // namespace

std::vector<std::string_view> engineNames() {
  std::vector<std::string_view> names;
  for (const Entry& e : kEngines) names.push_back(e.name);
  return names;
}

Expected<std::unique_ptr<Engine>> makeEngine(std::string_view name) {
  for (const Entry& e : kEngines)
    if (e.name == name) return e.make();
  return makeError(ErrorCode::kNotFound,
                   fmt::format("unknown engine \"{}\" (known: {})", name, fmt::join(engineNames(), ", ")));
}

}  // namespace runwasi::engine
