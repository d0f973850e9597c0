#include "oci/image_manifest.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace runwasi::oci {
namespace {

using nlohmann::json;

tl::unexpected<Error> invalid(std::string message) {
  return makeError(ErrorCode::kInvalidArgument, std::move(message));
}

Expected<json> parseObject(std::span<const uint8_t> bytes, std::string_view what) {
  json doc = json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return invalid(fmt::format("the {} is not valid JSON", what));
  if (!doc.is_object()) return invalid(fmt::format("the {} is not a JSON object", what));
  return doc;
}

std::string stringField(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Expected<ContentRef> parseDescriptor(const json& value, std::string_view what) {
  if (!value.is_object()) return invalid(fmt::format("{} is not a descriptor object", what));
  ContentRef ref;
  ref.mediaType = stringField(value, "mediaType");
  ref.digest = stringField(value, "digest");
  if (auto digest = checkDigest(ref.digest); !digest)
    return invalid(fmt::format("{}: {}", what, digest.error().message));
  auto size = value.find("size");
  if (size == value.end() || !size->is_number_integer() || size->get<int64_t>() < 0)
    return invalid(fmt::format("{} ({}) has no valid size", what, ref.digest));
  ref.size = size->get<uint64_t>();
  if (auto annotations = value.find("annotations");
      annotations != value.end() && annotations->is_object()) {
    for (const auto& [key, v] : annotations->items())
      if (v.is_string()) ref.annotations.emplace(key, v.get<std::string>());
  }
  if (auto platform = value.find("platform"); platform != value.end() && platform->is_object()) {
    ref.os = stringField(*platform, "os");
    ref.architecture = stringField(*platform, "architecture");
  }
  return ref;
}

Expected<std::vector<ContentRef>> parseDescriptors(const json& doc, const char* key,
                                                   std::string_view what) {
  auto list = doc.find(key);
  if (list == doc.end() || !list->is_array())
    return invalid(fmt::format("the {} has no \"{}\" array", what, key));
  std::vector<ContentRef> out;
  for (size_t i = 0; i < list->size(); ++i) {
    TRY(ContentRef ref, parseDescriptor((*list)[i], fmt::format("{}[{}]", key, i)));
    out.push_back(std::move(ref));
  }
  return out;
}

}  // namespace

bool isIndexMediaType(std::string_view mediaType) {
  return std::ranges::find(kIndexMediaTypes, mediaType) != std::end(kIndexMediaTypes);
}

bool isManifestMediaType(std::string_view mediaType) {
  return std::ranges::find(kManifestMediaTypes, mediaType) != std::end(kManifestMediaTypes);
}

Expected<void> checkDigest(std::string_view digest) {
  constexpr std::string_view kPrefix = "sha256:";
  bool ok = digest.starts_with(kPrefix) && digest.size() == kPrefix.size() + 64 &&
            std::all_of(digest.begin() + kPrefix.size(), digest.end(), [](char c) {
              return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
            });
  if (!ok) return invalid(fmt::format("\"{}\" is not a sha256 digest", digest));
  return {};
}

Expected<std::vector<ContentRef>> parseImageIndex(std::span<const uint8_t> bytes) {
  TRY(json doc, parseObject(bytes, "image index"));
  return parseDescriptors(doc, "manifests", "image index");
}

Expected<ParsedManifest> parseImageManifest(std::span<const uint8_t> bytes) {
  TRY(json doc, parseObject(bytes, "image manifest"));
  auto config = doc.find("config");
  if (config == doc.end()) return invalid("the image manifest has no config");
  ParsedManifest manifest;
  TRY(manifest.config, parseDescriptor(*config, "config"));
  TRY(manifest.layers, parseDescriptors(doc, "layers", "image manifest"));
  return manifest;
}

std::optional<ContentRef> pickWasmManifest(std::span<const ContentRef> manifests) {
  for (const ContentRef& m : manifests)
    if (m.architecture == "wasm") return m;
  return std::nullopt;
}

bool isWasmArtifactConfig(std::string_view configMediaType) {
  return configMediaType == media_type::kWasmArtifactConfig;
}

bool isWasmImage(const ParsedManifest& manifest, std::span<const uint8_t> configJson) {
  if (isWasmArtifactConfig(manifest.config.mediaType)) return true;
  auto config = parseObject(configJson, "image config");
  return config && stringField(*config, "architecture") == "wasm";
}

Expected<ContentRef> pickModuleLayer(std::span<const ContentRef> layers,
                                     std::span<const std::string> runnableTypes,
                                     std::string_view entrypointPath) {
  std::vector<const ContentRef*> runnable;
  for (const ContentRef& layer : layers)
    if (std::ranges::find(runnableTypes, layer.mediaType) != runnableTypes.end())
      runnable.push_back(&layer);
  if (runnable.empty()) {
    std::string types;
    for (const ContentRef& layer : layers)
      types += (types.empty() ? "" : ", ") + layer.mediaType;
    return makeError(ErrorCode::kNotFound,
                     fmt::format("no layer of a type this engine runs (the image's layers: {})",
                                 types.empty() ? "none" : types));
  }
  std::string file = std::filesystem::path(entrypointPath).filename().string();
  for (const ContentRef* layer : runnable) {
    auto title = layer->annotations.find(std::string(annotation::kTitle));
    if (title != layer->annotations.end() && title->second == file) return *layer;
  }
  return *runnable.front();
}

}  // namespace runwasi::oci
