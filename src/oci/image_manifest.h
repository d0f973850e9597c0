// Reading what an image is made of, as containerd's content store holds it: OCI (and
// Docker) indexes and manifests, and whether an image is a Wasm image.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "oci/descriptor.h"
#include "oci/media_types.h"

namespace runwasi::oci {

// A descriptor as an index or manifest names it, with an index entry's platform.
struct ContentRef : Descriptor {
  std::string os;            // an index entry's platform, when it has one
  std::string architecture;  // an index entry's platform, when it has one
};

struct ParsedManifest {
  ContentRef config;
  std::vector<ContentRef> layers;
};

bool isIndexMediaType(std::string_view mediaType);
bool isManifestMediaType(std::string_view mediaType);

// The manifests an index lists. InvalidArgument for JSON that is not an index.
Expected<std::vector<ContentRef>> parseImageIndex(std::span<const uint8_t> json);
// A manifest's config and layers. InvalidArgument for JSON that is not a manifest.
Expected<ParsedManifest> parseImageManifest(std::span<const uint8_t> json);

// The Wasm manifest of an index: the entry whose platform is wasm (architecture "wasm"),
// nullopt when there is none.
std::optional<ContentRef> pickWasmManifest(std::span<const ContentRef> manifests);

// Whether a manifest describes a Wasm image: the CNCF artifact's config media type, or a
// config whose architecture is "wasm" (runwasi's format). `configJson` is read only for
// the latter; it may be empty when the config media type already decides.
bool isWasmImage(const ParsedManifest& manifest, std::span<const uint8_t> configJson);
// Whether the config's media type alone says Wasm (no need to read the config blob).
bool isWasmArtifactConfig(std::string_view configMediaType);

// The layer holding the module among `layers` of a type in `runnableTypes`: the one whose
// title annotation is the entrypoint's file name when several qualify, else the first.
// NotFound naming the layers' types when none qualifies.
Expected<ContentRef> pickModuleLayer(std::span<const ContentRef> layers,
                                     std::span<const std::string> runnableTypes,
                                     std::string_view entrypointPath);

// Checks a "sha256:<hex>" digest (the form containerd's API takes and returns).
Expected<void> checkDigest(std::string_view digest);

}  // namespace runwasi::oci
