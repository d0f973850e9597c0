// An OCI content descriptor: what image manifests, indexes and containerd's API use to name
// a blob.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace runwasi::oci {

struct Descriptor {
  std::string mediaType;
  std::string digest;  // "sha256:<hex>"
  uint64_t size = 0;
  std::map<std::string, std::string> annotations;
};

}  // namespace runwasi::oci
