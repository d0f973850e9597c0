// The image builder's Wasm formats in-process: runwasi's image and the CNCF Wasm artifact,
// read back as JSON with every blob checked against its digest; reproducibility, unique
// configs, and every input the builder refuses.
#include <gtest/gtest.h>
#include <zlib.h>

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../support/wasm_fixtures.h"
#include "image_tar_reader.h"
#include "oci/image_builder.h"

namespace runwasi::oci {
namespace {

using nlohmann::json;
using testing::bytesOf;
using testing::digestOf;
using testing::readImage;
using testing::ReadImage;
using testing::textOf;

const Bytes kModuleA = testing::kEmptyModule;
const Bytes kModuleB = testing::moduleNamed('b');

// A tar of one file, as a --layer of static files would be.
Bytes tarOf(std::string_view path, std::string_view content) {
  TarWriter tar;
  EXPECT_TRUE(tar.addFile(path, bytesOf(content)));
  return std::move(tar).finish();
}

Bytes gzipOf(const Bytes& in) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&zs, in.size()) + 64);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

ImageSpec wasmSpec(ImageFormat format, std::vector<WasmModule> modules = {{"app.wasm", kModuleA}}) {
  ImageSpec spec;
  spec.reference = parseImageReference("ghcr.io/example/app:v1").value();
  spec.format = format;
  spec.modules = std::move(modules);
  return spec;
}

ReadImage build(const ImageSpec& spec) {
  auto image = buildImage(spec);
  if (!image) {
    ADD_FAILURE() << image.error().message;
    return {};
  }
  ReadImage read = readImage(image->tarball);
  // What buildImage reports is what the tarball holds.
  EXPECT_EQ(read.index["manifests"][0]["digest"], image->manifest.digest);
  EXPECT_EQ(read.manifest["config"]["digest"], image->config.digest);
  EXPECT_EQ(read.manifest["config"]["mediaType"], image->config.mediaType);
  EXPECT_EQ(read.manifest["layers"].size(), image->layers.size());
  for (size_t i = 0; i < image->layers.size(); ++i)
    EXPECT_EQ(read.manifest["layers"][i]["digest"], image->layers[i].digest);
  return read;
}

json wasmPlatform() {
  return {{"architecture", "wasm"}, {"os", "wasip1"}};
}

TEST(WasmImage, RunwasiFormatHasModuleLayersAndListsTarLayersInDiffIds) {
  ImageSpec spec =
      wasmSpec(ImageFormat::kRunwasi, {{"app.wasm", kModuleA}, {"lib.wasm", kModuleB}});
  Bytes tar = tarOf("static/index.html", "<p>hi</p>");
  Bytes innerTar = tarOf("etc/app.toml", "x = 1");
  Bytes gzipped = gzipOf(innerTar);
  Bytes data = bytesOf("opaque bytes");
  spec.layers = {{std::string(media_type::kLayerTar), tar, "static.tar"},
                 {std::string(media_type::kLayerTarGzip), gzipped, "etc.tar.gz"},
                 {"application/vnd.example.data", data, "data.bin"}};
  spec.entrypoint = {"/app.wasm#main"};
  spec.cmd = {"serve"};
  ReadImage image = build(spec);

  const json& entry = image.index["manifests"][0];
  EXPECT_EQ(entry["platform"], wasmPlatform());
  EXPECT_EQ(entry["annotations"]["io.containerd.image.name"], "ghcr.io/example/app:v1");
  EXPECT_EQ(entry["annotations"]["org.opencontainers.image.ref.name"], "v1");
  EXPECT_EQ(entry["mediaType"], media_type::kImageManifest);
  EXPECT_EQ(image.manifest["mediaType"], media_type::kImageManifest);
  EXPECT_EQ(image.manifest["schemaVersion"], 2);
  EXPECT_EQ(image.manifest["config"]["mediaType"], media_type::kImageConfig);

  // Modules first, in order, titled; then the extra layers as given.
  const json& layers = image.manifest["layers"];
  ASSERT_EQ(layers.size(), 5u);
  std::vector<std::pair<std::string_view, const Bytes*>> expected = {
      {media_type::kWasmLayer, &kModuleA},
      {media_type::kWasmLayer, &kModuleB},
      {media_type::kLayerTar, &tar},
      {media_type::kLayerTarGzip, &gzipped},
      {"application/vnd.example.data", &data}};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(layers[i]["mediaType"], expected[i].first) << i;
    EXPECT_EQ(layers[i]["digest"], digestOf(*expected[i].second)) << i;
    EXPECT_EQ(image.blob(layers[i]), textOf(*expected[i].second)) << i;
  }
  EXPECT_EQ(layers[0]["annotations"], json({{"org.opencontainers.image.title", "app.wasm"}}));
  EXPECT_EQ(layers[1]["annotations"], json({{"org.opencontainers.image.title", "lib.wasm"}}));
  EXPECT_FALSE(layers[2].contains("annotations"));

  json config = {
      {"architecture", "wasm"},
      {"os", "wasip1"},
      {"config", {{"Entrypoint", {"/app.wasm#main"}}, {"Cmd", {"serve"}}}},
      // The tar layers only: the uncompressed one's digest, the gzipped one's content's.
      {"rootfs", {{"type", "layers"}, {"diff_ids", {digestOf(tar), digestOf(innerTar)}}}},
      {"layerDigests",
       {digestOf(kModuleA), digestOf(kModuleB), digestOf(tar), digestOf(gzipped), digestOf(data)}}};
  EXPECT_EQ(image.config, config);
}

TEST(WasmImage, PureRunwasiImageHasEmptyDiffIdsAndExactConfigBytes) {
  ImageSpec spec = wasmSpec(ImageFormat::kRunwasi);
  spec.entrypoint = {"/app.wasm"};
  auto image = buildImage(spec);
  ASSERT_TRUE(image) << image.error().message;
  ReadImage read = readImage(image->tarball);
  EXPECT_EQ(read.blob(read.manifest["config"]),
            R"({"architecture":"wasm","os":"wasip1","config":{"Entrypoint":["/app.wasm"]},)"
            R"("rootfs":{"type":"layers","diff_ids":[]},"layerDigests":[")" +
                digestOf(kModuleA) + R"("]})");
}

TEST(WasmImage, ArtifactFollowsTheCncfLayout) {
  ImageSpec spec =
      wasmSpec(ImageFormat::kWasmArtifact, {{"app.wasm", kModuleA}, {"b.wasm", kModuleB}});
  auto image = buildImage(spec);
  ASSERT_TRUE(image) << image.error().message;
  ReadImage read = readImage(image->tarball);
  EXPECT_EQ(read.index["manifests"][0]["platform"], wasmPlatform());
  EXPECT_EQ(read.manifest["config"]["mediaType"], "application/vnd.wasm.config.v0+json");
  EXPECT_EQ(image->config.mediaType, media_type::kWasmArtifactConfig);
  const json& layers = read.manifest["layers"];
  ASSERT_EQ(layers.size(), 2u);
  for (const auto& layer : layers) EXPECT_EQ(layer["mediaType"], "application/wasm");
  EXPECT_EQ(read.blob(layers[0]), textOf(kModuleA));
  EXPECT_EQ(read.blob(layers[1]), textOf(kModuleB));
  EXPECT_EQ(layers[1]["annotations"]["org.opencontainers.image.title"], "b.wasm");
  // The spec's fields in its order, with a fixed time: the same inputs give the same config.
  EXPECT_EQ(read.blob(read.manifest["config"]),
            R"({"created":"1970-01-01T00:00:00Z","architecture":"wasm","os":"wasip1",)"
            R"("layerDigests":[")" +
                digestOf(kModuleA) + R"(",")" + digestOf(kModuleB) + R"("]})");
}

TEST(WasmImage, EveryFormatIsReproducible) {
  for (ImageFormat format : {ImageFormat::kRunwasi, ImageFormat::kWasmArtifact}) {
    ImageSpec spec = wasmSpec(format, {{"app.wasm", kModuleA}, {"b.wasm", kModuleB}});
    spec.layers = {{std::string(media_type::kLayerTarGzip), gzipOf(tarOf("a", "b")), "a.tgz"}};
    auto first = buildImage(spec), second = buildImage(spec);
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->tarball, second->tarball);
  }
}

// CRI keys images by config digest: images that differ in any layer must not share one.
TEST(WasmImage, ConfigDigestsDifferWhenLayersDiffer) {
  const WasmModule a{"app.wasm", kModuleA}, b{"app.wasm", kModuleB}, c{"c.wasm", kModuleB};
  std::vector<std::vector<WasmModule>> moduleSets = {{a}, {b}, {a, c}, {c, a}};
  std::set<std::string> configs;
  size_t built = 0;
  for (ImageFormat format : {ImageFormat::kRunwasi, ImageFormat::kWasmArtifact}) {
    for (const auto& modules : moduleSets) {
      auto image = buildImage(wasmSpec(format, modules));
      ASSERT_TRUE(image) << image.error().message;
      configs.insert(image->config.digest);
      ++built;
    }
    ImageSpec withLayer = wasmSpec(format, {a});
    withLayer.layers = {{"application/vnd.example.data", bytesOf("x"), "x"}};
    configs.insert(buildImage(withLayer).value().config.digest);
    ++built;
  }
  EXPECT_EQ(configs.size(), built);
}

TEST(WasmImage, RejectsWhatCannotBeAWasmImage) {
  struct Case {
    const char* what;
    void (*edit)(ImageSpec&);
    const char* needle;
  };
  static const Bytes kText = bytesOf("hello, world");
  const Case cases[] = {
      {"no modules", [](ImageSpec& s) { s.modules.clear(); }, "the image has no modules"},
      {"text module", [](ImageSpec& s) { s.modules[0].content = kText; },
       "app.wasm: not a WebAssembly module (no \\0asm header)"},
      {"component", [](ImageSpec& s) { s.modules[0].content = testing::kComponentHeader; },
       "app.wasm: a WebAssembly component, not a core module"},
      {"odd version", [](ImageSpec& s) { s.modules[0].content[4] = 2; }, "unknown binary version"},
      {"name with /", [](ImageSpec& s) { s.modules[0].name = "bin/app.wasm"; },
       "bad module name \"bin/app.wasm\""},
      {"name ..", [](ImageSpec& s) { s.modules[0].name = ".."; }, "bad path"},
      {"two names",
       [](ImageSpec& s) {
         s.modules.push_back({"app.wasm", kModuleB});
       },
       "two modules named \"app.wasm\""},
      {"rootfs files",
       [](ImageSpec& s) {
         s.rootfs.push_back({"a", kText, 0644});
       },
       "a Wasm image has module layers, not rootfs files"},
  };
  // Extra layers whose content does not fit their media type.
  struct LayerCase {
    std::string_view mediaType;
    Bytes content;
    const char* needle;
  };
  Bytes truncatedGzip = gzipOf(tarOf("a", "b"));
  truncatedGzip.resize(truncatedGzip.size() / 2);
  const LayerCase layerCases[] = {
      {"tar", kText, "\"tar\" is not a media type"},
      {media_type::kLayerTar, kText, "not a tar archive"},
      {media_type::kLayerTarGzip, kText, "not gzip data"},
      {media_type::kLayerTarGzip, truncatedGzip, "truncated gzip data"},
      {media_type::kLayerTarGzip, gzipOf(kText), "not a gzip-compressed tar archive"},
      {media_type::kWasm, kText, "not a WebAssembly module"},
      {media_type::kLayerTarZstd, kText,
       "application/vnd.oci.image.layer.v1.tar+zstd: zstd-compressed layers are not supported"},
  };
  auto expectRefused = [](const ImageSpec& spec, std::string_view what, std::string_view needle) {
    auto image = buildImage(spec);
    ASSERT_FALSE(image) << what;
    bool zstd = needle.find("zstd") != needle.npos;
    EXPECT_EQ(image.error().code, zstd ? ErrorCode::kUnimplemented : ErrorCode::kInvalidArgument)
        << what;
    EXPECT_NE(image.error().message.find(needle), std::string::npos)
        << what << ": " << image.error().message;
    EXPECT_EQ(image.error().message.find('\n'), std::string::npos) << what;
  };
  for (ImageFormat format : {ImageFormat::kRunwasi, ImageFormat::kWasmArtifact}) {
    for (const Case& c : cases) {
      ImageSpec spec = wasmSpec(format);
      c.edit(spec);
      expectRefused(spec, c.what, c.needle);
    }
    for (const LayerCase& c : layerCases) {
      ImageSpec spec = wasmSpec(format);
      spec.layers.push_back({std::string(c.mediaType), c.content, "dir/x.layer"});
      // The message names the layer by its origin.
      expectRefused(spec, c.mediaType, std::string("dir/x.layer: ") + c.needle);
    }
  }
  ImageSpec artifact = wasmSpec(ImageFormat::kWasmArtifact);
  artifact.entrypoint = {"/app.wasm"};
  expectRefused(artifact, "artifact entrypoint", "artifact's config has no entrypoint");
  ImageSpec rootfs = wasmSpec(ImageFormat::kRootfs);
  rootfs.rootfs.push_back({"app.wasm", kModuleA, 0755});
  expectRefused(rootfs, "rootfs with modules", "are for the Wasm formats");
}

TEST(WasmImage, MediaTypesAndLayerKinds) {
  for (const char* good : {"application/wasm", "application/vnd.oci.image.layer.v1.tar+gzip",
                           "text/plain", "a/b", "x-y.z!#$&^_/1+2"})
    EXPECT_TRUE(isMediaType(good)) << good;
  std::string longName(128, 'a');
  for (const std::string& bad : std::vector<std::string>{
           "", "tar", "/tar", "application/", "application/wasm; v=1", "appli cation/wasm", "a/b/c",
           "-a/b", "a/.b", "a=b/c", longName + "/x", "x/" + longName})
    EXPECT_FALSE(isMediaType(bad)) << bad;
  EXPECT_TRUE(isMediaType(std::string(127, 'a') + "/" + std::string(127, 'b')));

  EXPECT_EQ(layerKind(media_type::kWasmLayer), LayerKind::kWasm);
  EXPECT_EQ(layerKind("application/wasm"), LayerKind::kWasm);
  EXPECT_EQ(layerKind("application/vnd.docker.image.rootfs.diff.tar.gzip"), LayerKind::kTarGzip);
  EXPECT_EQ(layerKind("application/vnd.oci.image.layer.v1.tar"), LayerKind::kTar);
  EXPECT_EQ(layerKind("application/vnd.example.data"), LayerKind::kOther);
}

TEST(WasmImage, TarSniffingAcceptsTarsOnly) {
  EXPECT_TRUE(looksLikeTar(tarOf("a", "b")));
  EXPECT_TRUE(looksLikeTar(TarWriter().finish()));  // an empty archive
  Bytes tar = tarOf("a", "b");
  tar[0] ^= 1;  // the checksum no longer holds
  EXPECT_FALSE(looksLikeTar(tar));
  EXPECT_FALSE(looksLikeTar(Bytes{}));
  EXPECT_FALSE(looksLikeTar(Bytes(513, 0)));
  Bytes text(1024, 'x');
  EXPECT_FALSE(looksLikeTar(text));
}

}  // namespace
}  // namespace runwasi::oci
