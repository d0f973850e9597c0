// Reading indexes, manifests and configs: what makes an image a Wasm image, and which
// layer holds the module.
#include "oci/image_manifest.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace runwasi::oci {
namespace {

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string digestOf(char c) { return "sha256:" + std::string(64, c); }

std::string descriptor(const std::string& mediaType, char digest, const std::string& extra = "") {
  return R"({"mediaType":")" + mediaType + R"(","digest":")" + digestOf(digest) +
         R"(","size":12)" + extra + "}";
}

TEST(ImageManifest, ParsesAManifestWithAnnotatedLayers) {
  std::string json = R"({"schemaVersion":2,"config":)" +
                     descriptor("application/vnd.oci.image.config.v1+json", 'c') +
                     R"(,"layers":[)" +
                     descriptor(std::string(media_type::kWasmLayer), 'a',
                                R"(,"annotations":{"org.opencontainers.image.title":"app.wasm"})") +
                     "]}";
  auto manifest = parseImageManifest(bytes(json));
  ASSERT_TRUE(manifest) << manifest.error().message;
  EXPECT_EQ(manifest->config.digest, digestOf('c'));
  ASSERT_EQ(manifest->layers.size(), 1u);
  EXPECT_EQ(manifest->layers[0].mediaType, media_type::kWasmLayer);
  EXPECT_EQ(manifest->layers[0].size, 12);
  EXPECT_EQ(manifest->layers[0].annotations.at(std::string(annotation::kTitle)), "app.wasm");
}

TEST(ImageManifest, RejectsWhatIsNotAManifest) {
  auto message = [](const std::string& json) {
    auto parsed = parseImageManifest(bytes(json));
    return parsed ? std::string("parsed") : parsed.error().message;
  };
  EXPECT_EQ(message("{"), "the image manifest is not valid JSON");
  EXPECT_EQ(message("[]"), "the image manifest is not a JSON object");
  EXPECT_EQ(message(R"({"layers":[]})"), "the image manifest has no config");
  EXPECT_EQ(message(R"({"config":)" + descriptor("x", 'c') + "}"),
            "the image manifest has no \"layers\" array");
  EXPECT_EQ(message(R"({"config":{"mediaType":"x","digest":"sha256:12","size":1},"layers":[]})"),
            "config: \"sha256:12\" is not a sha256 digest");
  EXPECT_EQ(message(R"({"config":)" + descriptor("x", 'c') +
                    R"(,"layers":[{"mediaType":"y","digest":")" + digestOf('a') +
                    R"(","size":-1}]})"),
            "layers[0] (" + digestOf('a') + ") has no valid size");
}

TEST(ImageManifest, PicksTheWasmManifestOfAnIndex) {
  std::string json =
      R"({"schemaVersion":2,"manifests":[)" +
      descriptor("application/vnd.oci.image.manifest.v1+json", '1',
                 R"(,"platform":{"os":"linux","architecture":"amd64"})") +
      "," +
      descriptor("application/vnd.oci.image.manifest.v1+json", '2',
                 R"(,"platform":{"os":"wasip1","architecture":"wasm"})") +
      "]}";
  auto index = parseImageIndex(bytes(json));
  ASSERT_TRUE(index) << index.error().message;
  ASSERT_EQ(index->size(), 2u);
  auto wasm = pickWasmManifest(*index);
  ASSERT_TRUE(wasm);
  EXPECT_EQ(wasm->digest, digestOf('2'));
  EXPECT_EQ(wasm->os, "wasip1");
  index->pop_back();
  EXPECT_FALSE(pickWasmManifest(*index));
  EXPECT_TRUE(isIndexMediaType("application/vnd.oci.image.index.v1+json"));
  EXPECT_TRUE(isManifestMediaType("application/vnd.docker.distribution.manifest.v2+json"));
  EXPECT_FALSE(isManifestMediaType("application/vnd.oci.image.index.v1+json"));
}

TEST(ImageManifest, TellsWasmImagesFromLinuxOnes) {
  ParsedManifest manifest;
  manifest.config.mediaType = "application/vnd.oci.image.config.v1+json";
  EXPECT_TRUE(isWasmImage(manifest, bytes(R"({"architecture":"wasm","os":"wasip1"})")));
  EXPECT_FALSE(isWasmImage(manifest, bytes(R"({"architecture":"amd64","os":"linux"})")));
  EXPECT_FALSE(isWasmImage(manifest, bytes("not json")));
  manifest.config.mediaType = std::string(media_type::kWasmArtifactConfig);
  EXPECT_TRUE(isWasmImage(manifest, {}));
}

TEST(ImageManifest, PicksTheModuleLayerByTitleElseTheFirstRunnable) {
  std::vector<ContentRef> layers(3);
  layers[0].mediaType = "application/vnd.oci.image.layer.v1.tar";
  layers[0].digest = digestOf('0');
  layers[1].mediaType = std::string(media_type::kWasmLayer);
  layers[1].digest = digestOf('1');
  layers[1].annotations[std::string(annotation::kTitle)] = "lib.wasm";
  layers[2].mediaType = std::string(media_type::kWasmLayer);
  layers[2].digest = digestOf('2');
  layers[2].annotations[std::string(annotation::kTitle)] = "app.wasm";
  std::vector<std::string> types = {std::string(media_type::kWasmLayer),
                                    std::string(media_type::kWasm)};
  auto byTitle = pickModuleLayer(layers, types, "/app.wasm");
  ASSERT_TRUE(byTitle) << byTitle.error().message;
  EXPECT_EQ(byTitle->digest, digestOf('2'));
  auto first = pickModuleLayer(layers, types, "/other.wasm");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->digest, digestOf('1'));
  auto none = pickModuleLayer(std::span(layers).first(1), types, "/app.wasm");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(none.error().message,
            "no layer of a type this engine runs (the image's layers: "
            "application/vnd.oci.image.layer.v1.tar)");
}

}  // namespace
}  // namespace runwasi::oci
