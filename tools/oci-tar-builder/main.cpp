// oci-tar-builder: writes an OCI image tarball whose rootfs layer holds Wasm modules, for
// `ctr images import`.
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

// Reads a module and checks it is one, so a wrong path fails here rather than in the shim.
Expected<oci::LayerFile> readModule(const std::string& path) {
  TRY(Bytes content, readFile(path));
  static constexpr uint8_t kMagic[] = {0x00, 'a', 's', 'm'};
  if (content.size() < 8 || !std::equal(std::begin(kMagic), std::end(kMagic), content.begin()))
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: not a WebAssembly module (no \\0asm header)", path));
  std::string base = std::filesystem::path(path).filename().string();
  // Executable, as the entrypoint of an ordinary image would be.
  return oci::LayerFile{base, std::move(content), 0755};
}

Expected<oci::ImageSpec> makeSpec(const Options& o) {
  oci::ImageSpec spec;
  spec.reference = o.reference;
  for (const auto& path : o.modules) {
    TRY(oci::LayerFile file, readModule(path));
    spec.rootfs.push_back(std::move(file));
  }
  spec.entrypoint.push_back(o.entrypoint ? *o.entrypoint : "/" + spec.rootfs.front().path);
  spec.cmd = o.cmd;
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
