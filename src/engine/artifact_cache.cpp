#include "engine/artifact_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "common/log.h"

namespace runwasi::engine {
namespace {

std::string stamp(const Engine& engine, const ModuleSource& module,
                  std::string_view artifactDigest) {
  // The sidecar names what the artifact was made from, and its own digest.
  return fmt::format("module {}\nkey {}\nartifact {}\n", module.digest,
                     engine.precompiler()->cacheKey(), artifactDigest);
}

std::span<const uint8_t> asBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

Expected<UniqueFd> openReadOnly(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return makeSysError("cannot open " + path.string());
  return fd;
}

}  // namespace

std::filesystem::path ArtifactCache::defaultDir() {
  if (const char* dir = std::getenv("RUNWASI_CACHE_DIR"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::filesystem::path(xdg) / "runwasi";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::filesystem::path(home) / ".cache" / "runwasi";
  return "/var/cache/runwasi";
}

std::filesystem::path ArtifactCache::pathFor(const Engine& engine,
                                             const ModuleSource& module) const {
  std::string key = module.digest + "\n" + engine.precompiler()->cacheKey();
  return dir_ / std::string(engine.name()) / sha256Hex(asBytes(key));
}

Expected<UniqueFd> ArtifactCache::open(const Engine& engine, const ModuleSource& module) const {
  if (!engine.precompiler()) return makeError(ErrorCode::kNotFound, "engine has no precompiler");
  std::filesystem::path path = pathFor(engine, module);
  auto sidecar = readFile(path.string() + ".stamp");
  if (!sidecar) return makeError(ErrorCode::kNotFound, "no cached artifact");
  TRY(UniqueFd fd, openReadOnly(path));
  TRY(Bytes bytes, readFd(fd.get(), path.string()));
  std::string expected = stamp(engine, module, sha256Hex(bytes));
  if (std::string(sidecar->begin(), sidecar->end()) != expected) {
    log::warn("cached artifact {} is stale or corrupt; ignoring it", path.string());
    return makeError(ErrorCode::kNotFound, "cached artifact does not match its stamp");
  }
  return fd;
}

Expected<UniqueFd> ArtifactCache::store(const Engine& engine, const ModuleSource& module,
                                        std::span<const uint8_t> artifact) const {
  std::filesystem::path path = pathFor(engine, module);
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec)
    return makeSysError("cannot create cache directory " + path.parent_path().string(), ec.value());
  TRY_VOID(writeFileAtomic(path, artifact));
  std::string s = stamp(engine, module, sha256Hex(artifact));
  TRY_VOID(writeFileAtomic(path.string() + ".stamp", asBytes(s)));
  return openReadOnly(path);
}

Expected<UniqueFd> precompiledArtifact(const Engine& engine, const ModuleSource& module,
                                       const ArtifactCache& cache) {
  const Precompiler* precompiler = engine.precompiler();
  if (!precompiler) return UniqueFd();
  return precompiledArtifact(engine, module, cache, [precompiler](const ModuleSource& m) {
    return precompiler->precompile(m);
  });
}

Expected<UniqueFd> precompiledArtifact(const Engine& engine, const ModuleSource& module,
                                       const ArtifactCache& cache,
                                       const PrecompileFunction& precompile) {
  if (!engine.precompiler()) return UniqueFd();
  if (auto cached = cache.open(engine, module)) return std::move(*cached);
  TRY(Bytes artifact, precompile(module));
  auto stored = cache.store(engine, module, artifact);
  if (stored) return std::move(*stored);
  log::warn("cannot write the artifact cache ({}); using the artifact uncached",
            stored.error().message);
  return memfdWith(artifact, "runwasi-artifact");
}

}  // namespace runwasi::engine
