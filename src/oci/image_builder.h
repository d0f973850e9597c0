// OCI image tarballs (image layout 1.0.0) that `ctr images import` names: the image builder
// behind tools/oci-tar-builder, in the three formats of ImageFormat.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/file.h"
#include "oci/descriptor.h"
#include "oci/image_reference.h"
#include "oci/media_types.h"
#include "oci/tar_writer.h"

namespace runwasi::oci {

enum class ImageFormat {
  // linux/amd64, the files in one uncompressed tar layer: `ctr images import` unpacks it
  // and `ctr run` starts it (the shim finds the module in the rootfs).
  kRootfs,
  // runwasi's: wasip1/wasm, each module a kWasmLayer layer, config.Entrypoint naming one.
  // containerd 1.6 imports it with --all-platforms --no-unpack; only CRI runs it.
  kRunwasi,
  // The CNCF Wasm artifact: wasip1/wasm, config kWasmArtifactConfig, modules as kWasm.
  kWasmArtifact,
};

// One regular file of a rootfs layer; owned by root, mtime 0.
struct LayerFile {
  std::string path;  // relative to the rootfs, e.g. "app.wasm" or "bin/app.wasm"
  Bytes content;
  uint32_t mode = 0644;
};

// A core WebAssembly module, one layer of a Wasm image.
struct WasmModule {
  std::string name;  // a file name ("app.wasm"): the layer's kTitle annotation
  Bytes content;
};

// A layer stored as given (e.g. a tar of static files beside the modules).
struct LayerBlob {
  std::string mediaType;
  Bytes content;
  std::string origin;  // what error messages call it, e.g. the file it came from
};

// Everything the image is made of. The same spec always yields the same bytes.
struct ImageSpec {
  ImageReference reference;
  ImageFormat format = ImageFormat::kRootfs;
  std::vector<LayerFile> rootfs;    // kRootfs: one uncompressed tar layer (directories implied)
  std::vector<WasmModule> modules;  // the Wasm formats: one layer each, first, in this order
  std::vector<LayerBlob> layers;    // the Wasm formats: after the modules, in this order
  // config.Entrypoint and config.Cmd as given (kRootfs, kRunwasi; the artifact has neither).
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  // kRootfs's platform: linux/amd64 is what ctr's default platform matcher accepts, so
  // import unpacks the layer. The Wasm formats are always wasip1/wasm.
  std::string architecture = "amd64";
  std::string os = "linux";
};

// A built image: the tarball and what it holds.
struct BuiltImage {
  Bytes tarball;
  Descriptor manifest;
  Descriptor config;
  std::vector<Descriptor> layers;  // in manifest order
};

// Builds the tarball in memory: oci-layout, index.json (one manifest, annotated with the
// name, with its platform), blobs/sha256/{manifest, config, layers}. Wrong inputs (no
// files or modules, a module that is not one, a layer whose content does not match its
// media type, fields of another format) are InvalidArgument.
Expected<BuiltImage> buildImage(const ImageSpec& spec);

// Builds and writes the tarball atomically: on any error no file is left at `out`.
Expected<BuiltImage> writeImageTarball(const ImageSpec& spec, const std::filesystem::path& out);

// RFC 6838's type "/" subtype (restricted-name characters, no parameters), as an OCI
// descriptor's mediaType must be.
bool isMediaType(std::string_view s);

// The kind of a layer media type: from kLayerTypes, kOther for any other.
LayerKind layerKind(std::string_view mediaType);

// Checks for a core WebAssembly module ("\0asm", version 1): components and other files are
// InvalidArgument, with a message that leaves naming the file to the caller.
Expected<void> checkWasmModule(std::span<const uint8_t> bytes);

// The diff_id a config lists for a layer of this media type, after checking that the
// content fits it: its digest for a tar, the digest of the decompressed tar for tar+gzip,
// nullopt for Wasm and other layers (not part of the rootfs). InvalidArgument for content
// that does not fit its type, Unimplemented for tar+zstd.
Expected<std::optional<std::string>> layerDiffId(std::string_view mediaType,
                                                 std::span<const uint8_t> content);

}  // namespace runwasi::oci
