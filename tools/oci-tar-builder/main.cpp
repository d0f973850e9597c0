// oci-tar-builder: writes an OCI image tarball holding Wasm modules, for `ctr images import`:
// a rootfs image (the default), runwasi's Wasm image or the CNCF Wasm artifact.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "common/file.h"
#include "oci/image_builder.h"
#include "options.h"

namespace runwasi::oci_tar_builder {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int fail(int status, std::string_view message) {
  std::string line(message);
  for (char& c : line)
    if (c == '\n') c = ' ';
  fmt::print(stderr, "oci-tar-builder: {}\n", line);
  return status;
}

// Reads a module and checks it is one, so a wrong path fails here with the path named.
Expected<Bytes> readModule(const std::string& path) {
  TRY(Bytes content, readFile(path));
  if (auto wasm = oci::checkWasmModule(content); !wasm)
    return tl::unexpected(std::move(wasm).error().context(path));
  return content;
}

std::string basename(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

Expected<oci::ImageSpec> makeSpec(const Options& o) {
  oci::ImageSpec spec;
  spec.reference = o.reference;
  spec.format = o.format;
  for (const auto& path : o.modules) {
    TRY(Bytes content, readModule(path));
    if (o.format == oci::ImageFormat::kRootfs) {
      // Executable, as the entrypoint of an ordinary image would be.
      spec.rootfs.push_back(oci::LayerFile{basename(path), std::move(content), 0755});
    } else {
      spec.modules.push_back(oci::WasmModule{basename(path), std::move(content)});
    }
  }
  for (const auto& layer : o.layers) {
    TRY(Bytes content, readFile(layer.path));
    spec.layers.push_back(oci::LayerBlob{layer.mediaType, std::move(content), layer.path});
  }
  if (o.format != oci::ImageFormat::kWasmArtifact) {
    spec.entrypoint.push_back(o.entrypoint ? *o.entrypoint : "/" + basename(o.modules.front()));
    spec.cmd = o.cmd;
  }
  return spec;
}

int run(const std::vector<std::string>& args) {
  auto options = parseOptions(args);
  if (!options) {
    int status = options.error().code == ErrorCode::kInvalidArgument ? kExitUsage : kExitFailure;
    return fail(status, options.error().message);
  }
  if (options->help) {
    fmt::print("{}", kUsage);
    return 0;
  }
  auto spec = makeSpec(*options);
  if (!spec) return fail(kExitFailure, spec.error().message);
  auto image = oci::writeImageTarball(*spec, options->output);
  if (!image) return fail(kExitFailure, image.error().message);
  fmt::print("{} {} {}\n", options->output, spec->reference.full(), image->manifest.digest);
  return 0;
}

}  // namespace
}  // namespace runwasi::oci_tar_builder

int main(int argc, char** argv) {
  return runwasi::oci_tar_builder::run(std::vector<std::string>(argv + 1, argv + argc));
}
