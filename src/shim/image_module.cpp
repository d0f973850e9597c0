#include "shim/image_module.h"

#include <fmt/format.h>

#include "common/log.h"
#include "engine/module_info.h"
#include "oci/image_manifest.h"

namespace runwasi::shim {
namespace {

std::span<const uint8_t> asBytes(const Bytes& b) { return {b.data(), b.size()}; }

// The image's manifest: its target, or the Wasm manifest of the index it targets. nullopt
// for an index without a Wasm manifest (a Linux image).
Expected<std::optional<oci::ContentRef>> manifestOf(oci::ContainerdStoreClient& client,
                                                    const oci::ImageRecord& image) {
  oci::ContentRef target;
  static_cast<oci::Descriptor&>(target) = image.target;
  if (oci::isManifestMediaType(target.mediaType)) return target;
  if (!oci::isIndexMediaType(target.mediaType))
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("its target {} has media type {}, neither an index nor a "
                                 "manifest",
                                 target.digest, target.mediaType));
  TRY(Bytes indexBytes, client.readBlob(target.digest, kMaxImageJsonSize));
  TRY(auto manifests, oci::parseImageIndex(asBytes(indexBytes)).map_error([&](Error e) {
    return std::move(e).context("index " + target.digest);
  }));
  return oci::pickWasmManifest(manifests);
}

}  // namespace

Expected<engine::ModuleSource> checkedModule(std::string name, Bytes bytes,
                                             const std::string& function,
                                             const engine::Engine& engine) {
  if (!engine.canHandle(bytes))
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} is neither a WebAssembly module nor a native executable",
                                 name));
  auto info = engine::readModuleInfo(bytes);
  if (!info)
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} is not a valid WebAssembly module: {}", name,
                                 info.error().message));
  if (auto linkable = engine::checkLinkable(*info, function, false); !linkable)
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} cannot run: {}", name, linkable.error().message));
  return engine::makeModuleSource(std::move(name), std::move(bytes));
}

Expected<std::optional<ImageModule>> readImageModule(oci::ContainerdStoreClient& client,
                                                     const std::string& containerId,
                                                     const oci::Entrypoint& entrypoint,
                                                     const engine::Engine& engine) {
  TRY(oci::ContainerRecord container, client.getContainer(containerId));
  if (container.image.empty()) return std::nullopt;
  auto inImage = [&](Error e) {
    return std::move(e).context(fmt::format("image {}", container.image));
  };
  TRY(oci::ImageRecord image, client.getImage(container.image).map_error(inImage));
  TRY(std::optional<oci::ContentRef> manifestRef, manifestOf(client, image).map_error(inImage));
  if (!manifestRef) return std::nullopt;
  TRY(Bytes manifestBytes,
      client.readBlob(manifestRef->digest, kMaxImageJsonSize).map_error(inImage));
  TRY(oci::ParsedManifest manifest,
      oci::parseImageManifest(asBytes(manifestBytes)).map_error([&](Error e) {
        return inImage(std::move(e).context("manifest " + manifestRef->digest));
      }));
  Bytes configBytes;
  if (!oci::isWasmArtifactConfig(manifest.config.mediaType)) {
    TRY(configBytes, client.readBlob(manifest.config.digest, kMaxImageJsonSize).map_error(inImage));
  }
  if (!oci::isWasmImage(manifest, asBytes(configBytes))) return std::nullopt;

  TRY(oci::ContentRef layer,
      oci::pickModuleLayer(manifest.layers, engine.supportedLayerTypes(), entrypoint.path)
          .map_error(inImage));
  TRY(Bytes module, client.readBlob(layer.digest, kMaxModuleSize).map_error([&](Error e) {
    return inImage(std::move(e).context("the module's layer " + layer.digest));
  }));
  std::string name = fmt::format("{} layer {}", container.image, layer.digest);
  TRY(engine::ModuleSource source, checkedModule(name, std::move(module), entrypoint.func, engine));
  log::debug("{}: the module is layer {} of Wasm image {}", containerId, layer.digest,
             container.image);
  return ImageModule{{container.image, manifestRef->digest, layer.digest}, std::move(source)};
}

}  // namespace runwasi::shim
