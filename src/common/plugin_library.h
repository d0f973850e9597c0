// Plugins: shared objects of this build that a program loads only when it needs them
// (engine plugins, the containerd client), all found through one search path.
#pragma once

#include <filesystem>
#include <string_view>
#include <vector>

#include "common/error.h"

// Declares a function a plugin exports (plugins are built with hidden visibility).
#define RUNWASI_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))

namespace runwasi {

// Where plugins are looked up, in order: $RUNWASI_ENGINE_DIR, ../lib/runwasi beside the
// running executable (where `cmake --install` puts them), then `buildDir` (the build tree;
// skipped when empty).
std::vector<std::filesystem::path> pluginSearchDirs(const std::filesystem::path& buildDir);

// A loaded plugin. It is never unloaded: plugins keep process-wide state (V8's isolates,
// gRPC's threads) that would outlive their code.
struct PluginLibrary {
  void* handle = nullptr;
  std::filesystem::path path;
};

// What to load and how to recognise it.
struct PluginRequest {
  std::string_view file;  // e.g. "runwasi-engine-v8.so"
  std::string_view kind;  // for errors: "engine plugin"
  const char* abiSymbol;  // an extern "C" const char* (*)() the plugin exports...
  std::string_view abi;   // ...which must return this string
  std::filesystem::path buildDir;
  int extraDlopenFlags = 0;  // added to RTLD_NOW | RTLD_LOCAL
};

// Opens the first request.file found in pluginSearchDirs(request.buildDir) and checks its ABI
// string. NotFound when no directory holds the file, FailedPrecondition when it cannot be
// loaded or comes from another build.
Expected<PluginLibrary> openPlugin(const PluginRequest& request);

// The address of an exported symbol; FailedPrecondition when the plugin has none.
Expected<void*> pluginSymbol(const PluginLibrary& plugin, std::string_view kind,
                             const char* symbol);

}  // namespace runwasi
