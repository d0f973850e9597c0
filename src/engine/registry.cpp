#include "engine/registry.h"

#include <fmt/format.h>

#include "engine/null/null_engine.h"
#include "engine/wasm2c/wasm2c_engine.h"
#ifdef RUNWASI_V8_PLUGIN
#include "engine/plugin.h"
#else
#include "engine/v8/v8_engine.h"
#endif

namespace runwasi::engine {
namespace {

struct Entry {
  std::string_view name;
  Expected<std::unique_ptr<Engine>> (*make)();
};

// The default engine first. This file is built twice: linking every engine in
// (runwasi_engines), and with V8 as a plugin loaded on demand (runwasi_engines_lazy).
constexpr Entry kEngines[] = {
#ifdef RUNWASI_V8_PLUGIN
    {"v8", [] { return loadEnginePlugin(RUNWASI_V8_PLUGIN); }},
#else
    {"v8", []() -> Expected<std::unique_ptr<Engine>> { return makeV8Engine(); }},
#endif
    {"wasm2c", []() -> Expected<std::unique_ptr<Engine>> { return makeWasm2cEngine(); }},
    // Runs nothing: the floor a real engine's start-up is compared with.
    {"null", []() -> Expected<std::unique_ptr<Engine>> { return makeNullEngine(); }},
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
  return makeError(ErrorCode::kNotFound, fmt::format("unknown engine \"{}\" (known: {})", name,
                                                     fmt::join(engineNames(), ", ")));
}

}  // namespace runwasi::engine
