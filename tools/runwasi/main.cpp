// runwasi: runs a WASI preview1 module on one of our engines, or precompiles it.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/file.h"
#include "common/log.h"
#include "engine/artifact_cache.h"
#include "engine/module_info.h"
#include "engine/registry.h"
#include "oci/entrypoint.h"
#include "options.h"

extern char** environ;

namespace runwasi::cli {
namespace {

// Exit statuses of the CLI itself; a guest's own status passes through unchanged.
constexpr int kExitUsage = 2;
constexpr int kExitSetup = 125;  // the module could not be loaded, linked or set up

// One line on stderr, whatever the message holds.
void printError(std::string_view message) {
  std::string line(message);
  for (char& c : line)
    if (c == '\n') c = ' ';
  fmt::print(stderr, "runwasi: {}\n", line);
}

int fail(int status, std::string_view message) {
  printError(message);
  return status;
}

std::vector<std::string> guestEnv(const Options& o) {
  std::vector<std::string> env;
  if (o.inheritEnv)
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
  for (const std::string& kv : o.env) {
    std::string_view key = std::string_view(kv).substr(0, kv.find('=') + 1);
    std::erase_if(env, [&](const std::string& old) { return old.starts_with(key); });
    env.push_back(kv);
  }
  return env;
}

engine::ArtifactCache cacheFor(const Options& o) {
  return engine::ArtifactCache(o.cacheDir ? std::filesystem::path(*o.cacheDir)
                                          : engine::ArtifactCache::defaultDir());
}

// Reads and checks a module before any engine work, so bad input fails fast and clearly.
Expected<engine::ModuleSource> loadModule(const std::string& path, std::string_view func,
                                          bool stubUnknownImports) {
  TRY(Bytes bytes, readFile(path));
  TRY(engine::ModuleInfo info,
      engine::readModuleInfo(bytes).map_error([&](Error e) { return std::move(e).context(path); }));
  TRY_VOID(engine::checkLinkable(info, func, stubUnknownImports).map_error([&](Error e) {
    return std::move(e).context(path);
  }));
  return engine::makeModuleSource(path, std::move(bytes));
}

int run(const Options& o) {
  oci::Entrypoint entry = oci::parseEntrypoint(o.modules.front());
  auto eng = engine::makeEngine(o.engine);
  if (!eng) return fail(kExitUsage, eng.error().message);
  auto module = loadModule(entry.path, entry.func, o.stubUnknownImports);
  if (!module) return fail(kExitSetup, module.error().message);

  wasi::Config config;
  config.args.push_back(entry.path);
  config.args.insert(config.args.end(), o.guestArgs.begin(), o.guestArgs.end());
  config.env = guestEnv(o);
  config.preopens = o.dirs;
  auto host = wasi::Host::create(std::move(config));
  if (!host) return fail(kExitSetup, host.error().message);

  UniqueFd artifact;
  if (o.useCache) {
    auto a = engine::precompiledArtifact(**eng, *module, cacheFor(o));
    if (!a) return fail(kExitSetup, a.error().context(entry.path).message);
    artifact = std::move(*a);
  }

  engine::RunOptions runOptions;
  runOptions.function = entry.func;
  runOptions.stubUnknownImports = o.stubUnknownImports;
  auto result = (*eng)->run(*module, artifact.get(), runOptions, **host);
  if (!result) return fail(kExitSetup, result.error().message);
  if (result->kind == engine::RunResult::Kind::kTrapped)
    printError(fmt::format("{}: wasm trap: {}", entry.path, result->trapMessage));
  return static_cast<int>(result->exitCode);
}

int compile(const Options& o) {
  auto eng = engine::makeEngine(o.engine);
  if (!eng) return fail(kExitUsage, eng.error().message);
  if (!(*eng)->precompiler())
    return fail(kExitUsage, fmt::format("engine {} has no precompiler", o.engine));
  engine::ArtifactCache cache = cacheFor(o);
  for (const std::string& path : o.modules) {
    auto module = loadModule(path, "_start", true);
    if (!module) return fail(kExitSetup, module.error().message);
    auto artifact = engine::precompiledArtifact(**eng, *module, cache);
    if (!artifact) return fail(kExitSetup, artifact.error().context(path).message);
    if (o.verbose) fmt::print("{}: {}\n", path, cache.pathFor(**eng, *module).string());
  }
  return 0;
}

int version() {
  std::vector<std::string> engines;
  for (std::string_view name : engine::engineNames())
    engines.push_back(fmt::format("{} {}", name, (*engine::makeEngine(name))->version()));
  fmt::print("runwasi {} ({})\n", RUNWASI_VERSION, fmt::join(engines, "; "));
  return 0;
}

}  // namespace
}  // namespace runwasi::cli

int main(int argc, char** argv) {
  using namespace runwasi::cli;
  auto options = parseOptions(std::vector<std::string>(argv + 1, argv + argc));
  if (!options) {
    fmt::print(stderr, "runwasi: {}\n{}", options.error().message, kUsage);
    return kExitUsage;
  }
  if (options->verbose) runwasi::log::setLevel(runwasi::log::Level::kInfo);
  switch (options->command) {
    case Command::kRun:
      return run(*options);
    case Command::kCompile:
      return compile(*options);
    case Command::kVersion:
      return version();
    case Command::kHelp:
      fmt::print("{}", kUsage);
      return 0;
  }
  return kExitUsage;
}
