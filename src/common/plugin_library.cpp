#include "common/plugin_library.h"

#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include <fmt/core.h>

namespace runwasi {

std::vector<std::filesystem::path> pluginSearchDirs(const std::filesystem::path& buildDir) {
  std::vector<std::filesystem::path> dirs;
  if (const char* dir = std::getenv("RUNWASI_ENGINE_DIR"); dir && *dir) dirs.emplace_back(dir);
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back(exe.parent_path().parent_path() / "lib" / "runwasi");
  if (!buildDir.empty()) dirs.push_back(buildDir);
  return dirs;
}

Expected<PluginLibrary> openPlugin(const PluginRequest& request) {
  std::string tried;
  for (const std::filesystem::path& dir : pluginSearchDirs(request.buildDir)) {
    std::filesystem::path path = dir / request.file;
    if (!std::filesystem::exists(path)) {
      tried += (tried.empty() ? "" : ", ") + dir.string();
      continue;
    }
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | request.extraDlopenFlags);
    if (!handle)
      return makeError(ErrorCode::kFailedPrecondition,
                       fmt::format("cannot load {}: {}", request.kind, ::dlerror()));
    auto abi = reinterpret_cast<const char* (*)()>(::dlsym(handle, request.abiSymbol));
    if (!abi || std::string_view(abi()) != request.abi) {
      ::dlclose(handle);
      return makeError(ErrorCode::kFailedPrecondition,
                       fmt::format("{} was not built as this build's {} ({})", path.string(),
                                   request.kind, request.abi));
    }
    return PluginLibrary{handle, path};
  }
  return makeError(ErrorCode::kNotFound, fmt::format("{} {} not found (looked in {})", request.kind,
                                                     request.file, tried));
}

Expected<void*> pluginSymbol(const PluginLibrary& plugin, std::string_view kind,
                             const char* symbol) {
  void* address = ::dlsym(plugin.handle, symbol);
  if (!address)
    return makeError(ErrorCode::kFailedPrecondition,
                     fmt::format("{} ({}) exports no {}", plugin.path.string(), kind, symbol));
  return address;
}

}  // namespace runwasi
