// Command-line options of the runwasi CLI.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "wasi/host.h"

namespace runwasi::cli {

enum class Command { kRun, kCompile, kVersion, kHelp };

struct Options {
  Command command = Command::kHelp;
  std::string engine = "v8";
  std::vector<wasi::Preopen> dirs;
  std::vector<std::string> env;  // K=V, in order; later pairs override earlier ones
  bool inheritEnv = false;
  std::optional<std::string> cacheDir;  // nullopt: ArtifactCache::defaultDir()
  bool useCache = true;
  bool stubUnknownImports = false;
  bool verbose = false;
  std::vector<std::string> modules;  // run: exactly one, the entrypoint "path[#func]"
  std::vector<std::string> guestArgs;
};

// Parses argv (without argv[0]). Errors carry a one-line usage message.
Expected<Options> parseOptions(const std::vector<std::string>& args);

extern const char* const kUsage;

}  // namespace runwasi::cli
