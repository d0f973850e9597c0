// Command-line options of oci-tar-builder.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "oci/image_builder.h"

namespace runwasi::oci_tar_builder {

struct Options {
  bool help = false;
  oci::ImageReference reference;     // from --name, --repo and --tag, normalized
  std::vector<std::string> modules;  // host paths; each lands in the rootfs as /<basename>
  std::vector<std::string> layers;   // TYPE=PATH, not implemented yet
  std::optional<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string output;
};

// Parses argv (without argv[0]). Errors are one line, for the usage message; all are
// InvalidArgument except a --layer, which is Unimplemented for now.
Expected<Options> parseOptions(const std::vector<std::string>& args);

extern const char* const kUsage;

}  // namespace runwasi::oci_tar_builder
