#include "oci/image_builder.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include <fmt/core.h>

#include "oci/json_writer.h"

namespace runwasi::oci {
namespace {

tl::unexpected<Error> invalid(std::string message) {
  return makeError(ErrorCode::kInvalidArgument, std::move(message));
}

Descriptor describe(std::string_view mediaType, std::span<const uint8_t> blob) {
  return Descriptor{std::string(mediaType), "sha256:" + sha256Hex(blob), blob.size(), {}};
}

Bytes toBytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

// ---- the rootfs layer (kRootfs) -----------------------------------------------------

// A relative path of ordinary components, so the layer cannot write outside the rootfs.
Expected<void> checkLayerPath(std::string_view path) {
  if (path.empty() || path.front() == '/' || path.back() == '/' || path.find('\0') != path.npos)
    return invalid(fmt::format("bad path \"{}\" for a file in the image", path));
  for (size_t start = 0; start <= path.size();) {
    size_t end = std::min(path.find('/', start), path.size());
    std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..")
      return invalid(fmt::format("bad path \"{}\" for a file in the image", path));
    start = end + 1;
  }
  if (!isValidUtf8(path)) return invalid("a file path in the image is not UTF-8");
  return {};
}

// The rootfs tar: files sorted by path, each preceded by the directories it needs.
Expected<Bytes> buildLayer(const std::vector<LayerFile>& files) {
  std::vector<const LayerFile*> sorted;
  for (const auto& f : files) {
    TRY_VOID(checkLayerPath(f.path));
    sorted.push_back(&f);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const LayerFile* a, const LayerFile* b) { return a->path < b->path; });
  TarWriter tar;
  std::set<std::string, std::less<>> dirs, paths;
  for (const LayerFile* f : sorted) {
    if (!paths.insert(f->path).second)
      return invalid(fmt::format("two files at \"{}\" in the image", f->path));
    for (size_t slash = f->path.find('/'); slash != std::string::npos;
         slash = f->path.find('/', slash + 1)) {
      std::string dir = f->path.substr(0, slash);
      if (!dirs.insert(dir).second) continue;
      if (paths.count(dir))
        return invalid(fmt::format("\"{}\" is both a file and a directory in the image", dir));
      TRY_VOID(tar.addDirectory(dir));
    }
    TRY_VOID(tar.addFile(f->path, f->content, f->mode));
  }
  return std::move(tar).finish();
}

// ---- the layers of the Wasm formats ------------------------------------------------------

// The layers in manifest order, their blobs (owned by the spec) and the config's diff_ids.
struct WasmLayers {
  std::vector<Descriptor> descriptors;
  std::vector<std::span<const uint8_t>> blobs;
  std::vector<std::string> diffIds;
};

// A module's name is a file name: the entrypoint "/<name>" refers to it.
Expected<void> checkModuleName(std::string_view name) {
  if (name.find('/') != name.npos)
    return invalid(fmt::format("bad module name \"{}\": a file name has no '/'", name));
  return checkLayerPath(name);
}

Expected<WasmLayers> wasmLayers(const ImageSpec& spec) {
  std::string_view moduleType =
      spec.format == ImageFormat::kWasmArtifact ? media_type::kWasm : media_type::kWasmLayer;
  WasmLayers out;
  std::set<std::string_view> names;
  for (const WasmModule& module : spec.modules) {
    TRY_VOID(checkModuleName(module.name));
    if (!names.insert(module.name).second)
      return invalid(fmt::format("two modules named \"{}\" in the image", module.name));
    if (auto wasm = checkWasmModule(module.content); !wasm)
      return tl::unexpected(std::move(wasm).error().context(module.name));
    Descriptor d = describe(moduleType, module.content);
    d.annotations.emplace(annotation::kTitle, module.name);
    out.descriptors.push_back(std::move(d));
    out.blobs.push_back(module.content);
  }
  for (const LayerBlob& layer : spec.layers) {
    if (!isMediaType(layer.mediaType))
      return invalid(fmt::format("{}: \"{}\" is not a media type (type/subtype)", layer.origin,
                                 layer.mediaType));
    auto diffId = layerDiffId(layer.mediaType, layer.content);
    if (!diffId) return tl::unexpected(std::move(diffId).error().context(layer.origin));
    if (*diffId) out.diffIds.push_back(**diffId);
    out.descriptors.push_back(describe(layer.mediaType, layer.content));
    out.blobs.push_back(layer.content);
  }
  return out;
}

// ---- the JSON documents -------------------------------------------------------------------

struct Platform {
  std::string_view architecture;
  std::string_view os;
};

// The Wasm formats' platform: what the CNCF artifact spec and runwasi's images declare (Go
// has no GOOS for plain Wasm, so wasip1 stands for it).
constexpr Platform kWasmPlatform{"wasm", "wasip1"};
// Fixed, so that the same inputs give the same artifact config; the spec asks for a time.
constexpr std::string_view kArtifactCreated = "1970-01-01T00:00:00Z";

Platform platformOf(const ImageSpec& spec) {
  return spec.format == ImageFormat::kRootfs ? Platform{spec.architecture, spec.os} : kWasmPlatform;
}

void writeDescriptor(JsonWriter& json, const Descriptor& d) {
  json.key("mediaType").value(d.mediaType).key("digest").value(d.digest);
  json.key("size").value(d.size);
  if (d.annotations.empty()) return;
  json.key("annotations").beginObject();
  for (const auto& [key, value] : d.annotations) json.key(key).value(value);
  json.endObject();
}

std::vector<std::string> digestsOf(const std::vector<Descriptor>& layers) {
  std::vector<std::string> digests;
  for (const auto& d : layers) digests.push_back(d.digest);
  return digests;
}

// An OCI image config. `layerDigests` (kRunwasi) lists every layer, as the CNCF artifact's
// config does, so that images with different modules never share a config: a pure Wasm
// image's diff_ids are empty, and CRI keys images by config digest.
std::string imageConfigJson(const ImageSpec& spec, const std::vector<std::string>& diffIds,
                            const std::vector<std::string>* layerDigests) {
  Platform platform = platformOf(spec);
  JsonWriter json;
  json.beginObject();
  json.key("architecture").value(platform.architecture).key("os").value(platform.os);
  json.key("config").beginObject();
  if (!spec.entrypoint.empty()) json.key("Entrypoint").stringArray(spec.entrypoint);
  if (!spec.cmd.empty()) json.key("Cmd").stringArray(spec.cmd);
  json.endObject();
  json.key("rootfs").beginObject().key("type").value("layers");
  json.key("diff_ids").stringArray(diffIds).endObject();
  if (layerDigests) json.key("layerDigests").stringArray(*layerDigests);
  json.endObject();
  return std::move(json).take();
}

// The CNCF Wasm artifact's config, its fields in the spec's order; no author, and no
// component section (that is for wasip2 components).
std::string artifactConfigJson(const std::vector<std::string>& layerDigests) {
  JsonWriter json;
  json.beginObject().key("created").value(kArtifactCreated);
  json.key("architecture").value(kWasmPlatform.architecture).key("os").value(kWasmPlatform.os);
  json.key("layerDigests").stringArray(layerDigests).endObject();
  return std::move(json).take();
}

std::string manifestJson(const Descriptor& config, const std::vector<Descriptor>& layers) {
  JsonWriter json;
  json.beginObject().key("schemaVersion").value(uint64_t{2});
  json.key("mediaType").value(media_type::kImageManifest);
  json.key("config").beginObject();
  writeDescriptor(json, config);
  json.endObject().key("layers").beginArray();
  for (const auto& layer : layers) {
    json.beginObject();
    writeDescriptor(json, layer);
    json.endObject();
  }
  json.endArray().endObject();
  return std::move(json).take();
}

std::string indexJson(const ImageSpec& spec, const Descriptor& manifest) {
  Platform platform = platformOf(spec);
  JsonWriter json;
  json.beginObject().key("schemaVersion").value(uint64_t{2});
  json.key("mediaType").value(media_type::kImageIndex);
  json.key("manifests").beginArray().beginObject();
  writeDescriptor(json, manifest);
  // Keys sorted, as Go writes a map.
  json.key("annotations").beginObject();
  json.key(annotation::kContainerdImageName).value(spec.reference.full());
  json.key(annotation::kRefName).value(spec.reference.tag);
  json.endObject();
  json.key("platform").beginObject();
  json.key("architecture").value(platform.architecture).key("os").value(platform.os);
  json.endObject().endObject().endArray().endObject();
  return std::move(json).take();
}

// ---- checks -------------------------------------------------------------------------------

// Each format takes its own fields; a field of another format is a caller's mistake.
Expected<void> checkFields(const ImageSpec& spec) {
  if (spec.format == ImageFormat::kRootfs) {
    if (spec.rootfs.empty()) return invalid("the image has no files");
    if (!spec.modules.empty() || !spec.layers.empty())
      return invalid("module and extra layers are for the Wasm formats; a rootfs image has files");
    return {};
  }
  if (!spec.rootfs.empty()) return invalid("a Wasm image has module layers, not rootfs files");
  if (spec.modules.empty()) return invalid("the image has no modules");
  if (spec.format == ImageFormat::kWasmArtifact && (!spec.entrypoint.empty() || !spec.cmd.empty()))
    return invalid("the Wasm artifact's config has no entrypoint or cmd");
  return {};
}

Expected<void> checkStrings(const ImageSpec& spec) {
  // The message leaves the bad bytes out: they would garble a terminal or a log.
  auto check = [](std::string_view what, const std::vector<std::string>& items) -> Expected<void> {
    for (size_t i = 0; i < items.size(); ++i)
      if (!isValidUtf8(items[i])) return invalid(fmt::format("{} {} is not UTF-8", what, i + 1));
    return {};
  };
  TRY_VOID(check("entrypoint element", spec.entrypoint));
  TRY_VOID(check("cmd argument", spec.cmd));
  return check("platform field", {spec.architecture, spec.os});
}

}  // namespace

Expected<BuiltImage> buildImage(const ImageSpec& spec) {
  TRY_VOID(checkFields(spec));
  TRY_VOID(checkStrings(spec));
  BuiltImage image;
  Bytes rootfsLayer, config;
  std::vector<std::span<const uint8_t>> layerBlobs;
  if (spec.format == ImageFormat::kRootfs) {
    TRY(rootfsLayer, buildLayer(spec.rootfs));
    image.layers.push_back(describe(media_type::kLayerTar, rootfsLayer));
    layerBlobs.push_back(rootfsLayer);
    // An uncompressed layer's diff_id is its own digest.
    config = toBytes(imageConfigJson(spec, {image.layers.front().digest}, nullptr));
    image.config = describe(media_type::kImageConfig, config);
  } else {
    TRY(WasmLayers layers, wasmLayers(spec));
    image.layers = std::move(layers.descriptors);
    layerBlobs = std::move(layers.blobs);
    std::vector<std::string> digests = digestsOf(image.layers);
    if (spec.format == ImageFormat::kRunwasi) {
      config = toBytes(imageConfigJson(spec, layers.diffIds, &digests));
      image.config = describe(media_type::kImageConfig, config);
    } else {
      config = toBytes(artifactConfigJson(digests));
      image.config = describe(media_type::kWasmArtifactConfig, config);
    }
  }
  Bytes manifest = toBytes(manifestJson(image.config, image.layers));
  image.manifest = describe(media_type::kImageManifest, manifest);

  // Blobs in digest order, each once (identical content shares one blob).
  std::map<std::string, std::span<const uint8_t>> blobs{{image.config.digest, config},
                                                        {image.manifest.digest, manifest}};
  for (size_t i = 0; i < image.layers.size(); ++i)
    blobs.emplace(image.layers[i].digest, layerBlobs[i]);
  TarWriter tar;
  TRY_VOID(tar.addFile("oci-layout", toBytes(R"({"imageLayoutVersion":"1.0.0"})")));
  TRY_VOID(tar.addFile("index.json", toBytes(indexJson(spec, image.manifest))));
  TRY_VOID(tar.addDirectory("blobs"));
  TRY_VOID(tar.addDirectory("blobs/sha256"));
  for (const auto& [digest, blob] : blobs)
    TRY_VOID(tar.addFile("blobs/sha256/" + digest.substr(std::strlen("sha256:")), blob));
  image.tarball = std::move(tar).finish();
  return image;
}

Expected<BuiltImage> writeImageTarball(const ImageSpec& spec, const std::filesystem::path& out) {
  TRY(BuiltImage image, buildImage(spec));
  TRY_VOID(writeFileAtomic(out, image.tarball));
  return image;
}

}  // namespace runwasi::oci
