#include "engine/plugin.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include <fmt/core.h>

namespace runwasi::engine {
namespace {

std::vector<std::filesystem::path> searchDirs() {
  std::vector<std::filesystem::path> dirs;
  if (const char* dir = std::getenv("RUNWASI_ENGINE_DIR"); dir && *dir) dirs.emplace_back(dir);
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back(exe.parent_path().parent_path() / "lib" / "runwasi");
#ifdef RUNWASI_PLUGIN_BUILD_DIR
  dirs.emplace_back(RUNWASI_PLUGIN_BUILD_DIR);
#endif
  return dirs;
}

}  // namespace

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
  std::string tried;
  for (const std::filesystem::path& dir : searchDirs()) {
    std::filesystem::path path = dir / file;
    if (!std::filesystem::exists(path)) {
      tried += (tried.empty() ? "" : ", ") + dir.string();
      continue;
    }
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | kDeepBind);
    if (!handle)
      return makeError(ErrorCode::kFailedPrecondition,
                       fmt::format("cannot load engine plugin: {}", ::dlerror()));
    auto abi = reinterpret_cast<const char* (*)()>(::dlsym(handle, "runwasi_engine_plugin_abi"));
    auto create = reinterpret_cast<Engine* (*)()>(::dlsym(handle, "runwasi_engine_plugin_create"));
    if (!abi || !create || std::string_view(abi()) != RUNWASI_PLUGIN_ABI) {
      ::dlclose(handle);
      return makeError(ErrorCode::kFailedPrecondition,
                       fmt::format("{} is not an engine plugin of this build ({})", path.string(),
                                   RUNWASI_PLUGIN_ABI));
    }
    return std::unique_ptr<Engine>(create());
  }
  return makeError(ErrorCode::kNotFound,
                   fmt::format("engine plugin {} not found (looked in {})", file, tried));
}

}  // namespace runwasi::engine
