// The media types and annotations of OCI images, Docker images and Wasm images: what the
// image builder writes and what the shim reads, in one place.
#pragma once

#include <string_view>

namespace runwasi::oci {

namespace media_type {
inline constexpr std::string_view kImageIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kImageManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kImageConfig = "application/vnd.oci.image.config.v1+json";
// Uncompressed: its digest is its diff_id, and containerd 1.6's unpacker applies it as is.
inline constexpr std::string_view kLayerTar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kLayerTarGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kLayerTarZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
// runwasi's Wasm layer, a module or component, as containerd/runwasi's shims read it.
inline constexpr std::string_view kWasmLayer =
    "application/vnd.bytecodealliance.wasm.component.layer.v0+wasm";
// The CNCF TAG Runtime's Wasm OCI artifact: its config and its (only) layer type.
inline constexpr std::string_view kWasmArtifactConfig = "application/vnd.wasm.config.v0+json";
inline constexpr std::string_view kWasm = "application/wasm";
}  // namespace media_type

// What a layer's bytes are: decides whether the config lists a diff_id for it and how its
// content is checked.
enum class LayerKind {
  kWasm,     // a WebAssembly module
  kTar,      // an uncompressed tar: diff_id = digest
  kTarGzip,  // diff_id = digest of the decompressed tar
  kTarZstd,  // refused: no zstd decoder here to compute its diff_id
  kOther,    // anything else: stored as given, no diff_id
};

struct LayerType {
  std::string_view mediaType;
  LayerKind kind;
};

// The layer media types with a known kind (OCI's, docker's, the Wasm ones).
inline constexpr LayerType kLayerTypes[] = {
    {media_type::kLayerTar, LayerKind::kTar},
    {media_type::kLayerTarGzip, LayerKind::kTarGzip},
    {media_type::kLayerTarZstd, LayerKind::kTarZstd},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar", LayerKind::kTar},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", LayerKind::kTarGzip},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", LayerKind::kTarZstd},
    {"application/vnd.docker.image.rootfs.diff.tar", LayerKind::kTar},
    {"application/vnd.docker.image.rootfs.diff.tar.gzip", LayerKind::kTarGzip},
    {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", LayerKind::kTarGzip},
    {media_type::kWasmLayer, LayerKind::kWasm},
    {media_type::kWasm, LayerKind::kWasm},
};

namespace annotation {
// The tag alone, as containerd's and BuildKit's exporters write it.
inline constexpr std::string_view kRefName = "org.opencontainers.image.ref.name";
// The full name; containerd's importer names the image by it verbatim.
inline constexpr std::string_view kContainerdImageName = "io.containerd.image.name";
// On a module's layer: the module's file name, which the entrypoint "/<name>" refers to.
inline constexpr std::string_view kTitle = "org.opencontainers.image.title";
}  // namespace annotation

// Indexes and manifests as containerd may hold them (OCI's, and Docker's older ones).
inline constexpr std::string_view kIndexMediaTypes[] = {
    media_type::kImageIndex,
    "application/vnd.docker.distribution.manifest.list.v2+json",
};
inline constexpr std::string_view kManifestMediaTypes[] = {
    media_type::kImageManifest,
    "application/vnd.docker.distribution.manifest.v2+json",
};

}  // namespace runwasi::oci
