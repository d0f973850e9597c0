// A container's Wasm module read from its image in containerd's content store (issue 6):
// users ship Wasm as OCI images whose module is a layer of its own media type, with no
// rootfs file to open.
#pragma once

#include <optional>
#include <string>

#include "common/error.h"
#include "engine/engine.h"
#include "oci/containerd_client.h"
#include "oci/entrypoint.h"

namespace runwasi::shim {

// Where in the store a module came from.
struct ModuleLayer {
  std::string image;           // the image's name, e.g. "ghcr.io/example/app:v1"
  std::string manifestDigest;  // the manifest the module was found through
  std::string layerDigest;     // the module's layer
};

struct ImageModule {
  ModuleLayer layer;
  engine::ModuleSource source;  // the module; source.name says "<image> layer <digest>"
};

// Upper bounds for what is read into memory: a manifest or config is JSON of a few KiB.
inline constexpr uint64_t kMaxImageJsonSize = 4ull << 20;
inline constexpr uint64_t kMaxModuleSize = 1ull << 30;

// The module of container `containerId`'s image: Containers.Get → the image → its manifest
// (the Wasm one of an index) → its config; for a Wasm image (the CNCF artifact's config
// type, or a config with architecture "wasm") the layer of a type `engine` runs
// (pickModuleLayer: by the entrypoint's file name when several), read and checked as a
// module that links with `function`. nullopt when the container has no image or its image
// is not a Wasm image: its module, if any, is a file in the rootfs. Errors (unreachable
// containerd, a missing blob, a module that is not valid) say which image and blob.
Expected<std::optional<ImageModule>> readImageModule(oci::ContainerdStoreClient& client,
                                                     const std::string& containerId,
                                                     const oci::Entrypoint& entrypoint,
                                                     const engine::Engine& engine);

// Checks that `bytes` are a module `engine` runs and that links with `function`, the same
// checks a rootfs file gets; `name` prefixes the messages.
Expected<engine::ModuleSource> checkedModule(std::string name, Bytes bytes,
                                             const std::string& function,
                                             const engine::Engine& engine);

}  // namespace runwasi::shim
