// Image names as registries, docker and containerd's CRI resolve them.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace runwasi::oci {

// An image name split the way registries and containerd see it.
struct ImageReference {
  std::string repository;  // "docker.io/library/app", "ghcr.io/example/app"
  std::string tag;         // "latest" when none was given

  std::string full() const { return repository + ":" + tag; }
};

// Parses and normalizes a name as docker and CRI resolve it: "app" becomes
// "docker.io/library/app:latest", "example/app:v1" becomes "docker.io/example/app:v1", a name
// whose first component has a '.' or ':' or is "localhost" keeps its registry. Digest
// references ("@sha256:...") and malformed names are InvalidArgument.
Expected<ImageReference> parseImageReference(std::string_view name);

}  // namespace runwasi::oci
