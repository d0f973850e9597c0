// The on-disk cache of precompiled artifacts (V8 code caches, wasm2c shared objects).
#pragma once

#include <filesystem>
#include <functional>

#include "common/error.h"
#include "common/unique_fd.h"
#include "engine/engine.h"

namespace runwasi::engine {

// Artifacts are keyed by the module's sha256 and the precompiler's cacheKey() (engine
// version, flags, compiler), and stored with the sha256 of their own bytes, which is
// verified on every open: a truncated or altered artifact reads as absent, never reaches
// the engine. Writes are atomic (temporary file + rename), so concurrent users are safe.
class ArtifactCache {
 public:
  explicit ArtifactCache(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // $RUNWASI_CACHE_DIR, else $XDG_CACHE_HOME/runwasi, else $HOME/.cache/runwasi,
  // else /var/cache/runwasi.
  static std::filesystem::path defaultDir();

  const std::filesystem::path& dir() const { return dir_; }

  // The verified artifact, open read-only; NotFound when absent, stale or corrupt.
  Expected<UniqueFd> open(const Engine& engine, const ModuleSource& module) const;
  // Stores an artifact and returns it open read-only.
  Expected<UniqueFd> store(const Engine& engine, const ModuleSource& module,
                           std::span<const uint8_t> artifact) const;

  std::filesystem::path pathFor(const Engine& engine, const ModuleSource& module) const;

 private:
  std::filesystem::path dir_;
};

// The artifact to run `module` with: from the cache, or precompiled now and stored.
// Returns an invalid fd when the engine has no precompiler. A cache that cannot be written
// is not an error (the artifact is still returned, from a memfd).
Expected<UniqueFd> precompiledArtifact(const Engine& engine, const ModuleSource& module,
                                       const ArtifactCache& cache);

// The same, precompiling on a cache miss with `precompile` instead of in this process
// (the shim has a zygote child do it).
using PrecompileFunction = std::function<Expected<Bytes>(const ModuleSource&)>;
Expected<UniqueFd> precompiledArtifact(const Engine& engine, const ModuleSource& module,
                                       const ArtifactCache& cache,
                                       const PrecompileFunction& precompile);

}  // namespace runwasi::engine
