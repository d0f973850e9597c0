// Engines as plugins: a shared object exporting one factory, loaded on first use, so that a
// program pays for an engine's libraries (V8: relocating the 47 MB libnode, ~10 ms) only
// when that engine is asked for.
#pragma once

#include <memory>
#include <string_view>

#include "common/error.h"
#include "common/plugin_library.h"
#include "engine/engine.h"

// Both sides must be built from the same sources with the same compiler: the factory hands
// a C++ object across. The loader compares this string before calling anything else.
#define RUNWASI_PLUGIN_ABI "runwasi-engine-plugin/1 " __VERSION__

// What a plugin exports (extern "C"):
//   const char* runwasi_engine_plugin_abi(void);            returns RUNWASI_PLUGIN_ABI
//   runwasi::engine::Engine* runwasi_engine_plugin_create(void);   a new engine, owned by the
//   caller
// each declared with RUNWASI_PLUGIN_EXPORT (common/plugin_library.h).

namespace runwasi::engine {

// Loads the plugin `file` (e.g. "runwasi-engine-v8.so") from the plugin search path
// (common/plugin_library.h: $RUNWASI_ENGINE_DIR, ../lib/runwasi beside the running
// executable, the build tree) and makes an engine.
// The library stays loaded for the life of the process (engines keep process-wide state).
Expected<std::unique_ptr<Engine>> loadEnginePlugin(std::string_view file);

}  // namespace runwasi::engine
