// OCI image tarballs (image layout 1.0.0) that `ctr images import` names and unpacks:
// the image builder behind tools/oci-tar-builder, and the ustar writer under it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/file.h"
#include "oci/descriptor.h"

namespace runwasi::oci {

// The media types and annotations the builder writes, in one place.
namespace media_type {
inline constexpr std::string_view kImageIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kImageManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kImageConfig = "application/vnd.oci.image.config.v1+json";
// Uncompressed: its digest is its diff_id, and containerd 1.6's unpacker applies it as is.
inline constexpr std::string_view kLayerTar = "application/vnd.oci.image.layer.v1.tar";
}  // namespace media_type

namespace annotation {
// The tag alone, as containerd's and BuildKit's exporters write it.
inline constexpr std::string_view kRefName = "org.opencontainers.image.ref.name";
// The full name; containerd's importer names the image by it verbatim.
inline constexpr std::string_view kContainerdImageName = "io.containerd.image.name";
}  // namespace annotation

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

// One regular file of a rootfs layer; owned by root, mtime 0.
struct LayerFile {
  std::string path;  // relative to the rootfs, e.g. "app.wasm" or "bin/app.wasm"
  Bytes content;
  uint32_t mode = 0644;
};

// Everything the image is made of. The same spec always yields the same bytes.
struct ImageSpec {
  ImageReference reference;
  std::vector<LayerFile> rootfs;  // one uncompressed tar layer (directories implied)
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  // linux/amd64: what ctr's default platform matcher accepts, so import unpacks the layer.
  std::string architecture = "amd64";
  std::string os = "linux";
};

// A built image: the tarball and what it holds.
struct BuiltImage {
  Bytes tarball;
  Descriptor manifest;
  Descriptor config;
  std::vector<Descriptor> layers;
};

// Builds the tarball in memory: oci-layout, index.json (one manifest, annotated with the
// name), blobs/sha256/{manifest, config, layer}.
Expected<BuiltImage> buildImage(const ImageSpec& spec);

// Builds and writes the tarball atomically: on any error no file is left at `out`.
Expected<BuiltImage> writeImageTarball(const ImageSpec& spec, const std::filesystem::path& out);

// A minimal POSIX ustar writer: regular files and directories, uid/gid 0, mtime 0, no
// extended headers, so its output depends on nothing but the entries and their order.
class TarWriter {
 public:
  // Paths up to 255 bytes (split into ustar's prefix and name at a '/'); sizes < 8 GiB.
  Expected<void> addFile(std::string_view path, std::span<const uint8_t> content,
                         uint32_t mode = 0644);
  Expected<void> addDirectory(std::string_view path, uint32_t mode = 0755);
  // Appends the two zero blocks that end an archive and returns it.
  Bytes finish() &&;

 private:
  Expected<void> addHeader(std::string_view path, char type, uint32_t mode, uint64_t size);

  Bytes out_;
};

}  // namespace runwasi::oci
