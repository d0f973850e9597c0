// Command-line options of oci-tar-builder.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "oci/image_builder.h"

namespace runwasi::oci_tar_builder {

// --layer TYPE=PATH: a file stored as a layer of that media type.
struct LayerOption {
  std::string mediaType;  // checked to be a media type
  std::string path;
};

struct Options {
  bool help = false;
  oci::ImageReference reference;                        // from --name, --repo and --tag, normalized
  oci::ImageFormat format = oci::ImageFormat::kRootfs;  // --format, --as-artifact
  std::vector<std::string> modules;  // host paths: rootfs files /<basename>, or module layers
  std::vector<LayerOption> layers;   // the Wasm formats only
  std::optional<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string output;
};

// Parses argv (without argv[0]). Errors are one line, for the usage message, and all
// InvalidArgument.
Expected<Options> parseOptions(const std::vector<std::string>& args);

extern const char* const kUsage;

}  // namespace runwasi::oci_tar_builder
