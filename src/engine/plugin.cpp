#include "engine/plugin.h"

#include <dlfcn.h>

#include "common/plugin_library.h"

namespace runwasi::engine {

// RTLD_DEEPBIND: the plugin and its libraries (libnode) look up symbols in their own tree
// first, instead of through every library of this program for each of libnode's ~55k
// relocations: its load takes ~3 ms less here (~11 instead of ~14 ms). AddressSanitizer
// refuses it (its interceptors must come first for every library).
#if defined(__SANITIZE_ADDRESS__)
constexpr int kDeepBind = 0;
#else
constexpr int kDeepBind = RTLD_DEEPBIND;
#endif

Expected<std::unique_ptr<Engine>> loadEnginePlugin(std::string_view file) {
  constexpr std::string_view kKind = "engine plugin";
  TRY(PluginLibrary plugin, openPlugin(PluginRequest{.file = file,
                                                     .kind = kKind,
                                                     .abiSymbol = "runwasi_engine_plugin_abi",
                                                     .abi = RUNWASI_PLUGIN_ABI,
                                                     .buildDir = RUNWASI_PLUGIN_BUILD_DIR,
                                                     .extraDlopenFlags = kDeepBind}));
  TRY(void* create, pluginSymbol(plugin, kKind, "runwasi_engine_plugin_create"));
  return std::unique_ptr<Engine>(reinterpret_cast<Engine* (*)()>(create)());
}

}  // namespace runwasi::engine
