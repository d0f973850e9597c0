// The precompile cache in containerd's content store (issue 6): an engine's artifact for a
// module that came from an image layer (V8 code cache, wasm2c shared object) is written
// back into the store and tied to the image, so every node that has the image compiles it
// once, and containerd's GC removes it with the image.
//
// On the module's layer (content labels):
//   runwasi.io/precompiled/<engine>/<key id> = <artifact digest>
//   containerd.io/gc.ref.content.runwasi.<engine>.<key id> = <artifact digest>
// and the same gc.ref on the image's manifest. <key id> is the first 24 hex digits of the
// sha256 of the precompiler's cacheKey() (engine version, flags, compiler): a new engine
// version or flag finds no label and recompiles; the labels of the engine's other keys
// are removed then, so their artifacts go with the next GC.
//
// The blob is the artifact behind a short text header naming what it was made from; it is
// checked on every read, so a label pointing at the wrong bytes reads as absent.
#pragma once

#include <string>

#include "common/error.h"
#include "common/unique_fd.h"
#include "engine/artifact_cache.h"
#include "engine/engine.h"
#include "oci/containerd_client.h"
#include "shim/image_module.h"

namespace runwasi::shim {

inline constexpr std::string_view kPrecompiledLabelPrefix = "runwasi.io/precompiled/";

struct StoredArtifact {
  UniqueFd fd;          // the artifact, read-only (a memfd)
  std::string digest;   // its blob in the content store, empty if it could not be stored
  bool reused = false;  // found in the store rather than compiled now
};

// The label key for `engine`'s artifacts under its current cache key.
std::string precompiledLabel(const engine::Engine& engine);

// The artifact for `module`, read from `layer`: the stored one when its label names a blob that holds this
// engine's artifact of this module under this cache key; otherwise `precompile` makes
// it and it is stored and labelled under a lease. Store failures are warnings (the
// artifact is still returned); only precompile's own errors are errors.
Expected<StoredArtifact> contentStoreArtifact(oci::ContainerdStoreClient& client,
                                              const engine::Engine& engine,
                                              const ModuleLayer& layer,
                                              const engine::ModuleSource& module,
                                              const engine::PrecompileFunction& precompile);

// The stored blob's bytes for an artifact, and back (exposed for tests).
Bytes wrapArtifact(const engine::Engine& engine, const engine::ModuleSource& module,
                   std::span<const uint8_t> artifact);
Expected<Bytes> unwrapArtifact(const engine::Engine& engine, const engine::ModuleSource& module,
                               std::span<const uint8_t> blob);

}  // namespace runwasi::shim
