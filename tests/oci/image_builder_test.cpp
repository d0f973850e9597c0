// The image builder in-process: references, the rootfs format (tar headers, JSON,
// determinism, errors) and atomic writes. The Wasm formats: wasm_image_test.cpp; the
// oci-tar-builder tool: tests/tools/oci_tar_builder_test.cpp.
#include "oci/image_builder.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "../support/scratch_dir.h"
#include "../support/wasm_fixtures.h"
#include "image_tar_reader.h"

namespace runwasi::oci {
namespace {

namespace fs = std::filesystem;
using testing::findEntry;
using testing::readTar;
using testing::ScratchDir;
using testing::TarEntry;
using testing::textOf;

const Bytes kModule = testing::kEmptyModule;

ImageSpec demoSpec() {
  ImageSpec spec;
  spec.reference = parseImageReference("ghcr.io/example/wasi-demo-app").value();
  spec.rootfs.push_back({"wasi-demo-app.wasm", kModule, 0755});
  spec.entrypoint = {"/wasi-demo-app.wasm"};
  spec.cmd = {"echo", "hello"};
  return spec;
}

std::string blobPath(const Descriptor& d) {
  return "blobs/sha256/" + d.digest.substr(7);
}

TEST(ImageReference, NormalizesAsDockerAndCriDo) {
  EXPECT_EQ(parseImageReference("app").value().full(), "docker.io/library/app:latest");
  EXPECT_EQ(parseImageReference("example/app:v1").value().full(), "docker.io/example/app:v1");
  EXPECT_EQ(parseImageReference("ghcr.io/example/wasi-demo-app").value().full(),
            "ghcr.io/example/wasi-demo-app:latest");
  EXPECT_EQ(parseImageReference("localhost:5000/a/b:1.0").value().full(), "localhost:5000/a/b:1.0");
  EXPECT_EQ(parseImageReference("localhost/app").value().repository, "localhost/app");
  EXPECT_EQ(parseImageReference("docker.io/app").value().full(), "docker.io/library/app:latest");
  EXPECT_EQ(parseImageReference("index.docker.io/a/b:c").value().full(), "docker.io/a/b:c");
  EXPECT_EQ(parseImageReference("my_app-x.y__z:V_1").value().tag, "V_1");
}

TEST(ImageReference, RejectsMalformedNames) {
  for (const char* bad : {"", "App", "app:", "app:-x", "/app", "app/", "a//b", "app@sha256:00",
                          "ex ample/app", "reg.io:/app", "app:t/x", "a..b", "_a"}) {
    auto ref = parseImageReference(bad);
    ASSERT_FALSE(ref) << bad;
    EXPECT_EQ(ref.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(ref.error().message.find("bad image name"), std::string::npos);
  }
}

TEST(ImageBuilder, TarballHoldsLayoutIndexAndExactBlobs) {
  auto image = buildImage(demoSpec());
  ASSERT_TRUE(image) << image.error().message;
  auto entries = readTar(image->tarball);
  std::vector<std::string> paths;
  for (const auto& e : entries) paths.push_back(e.path);
  ASSERT_EQ(paths.size(), 7u);
  EXPECT_EQ(paths[0], "oci-layout");
  EXPECT_EQ(paths[1], "index.json");
  EXPECT_EQ(paths[2], "blobs/");
  EXPECT_EQ(paths[3], "blobs/sha256/");
  EXPECT_TRUE(std::is_sorted(paths.begin() + 4, paths.end()));
  EXPECT_EQ(findEntry(entries, "oci-layout")->content, R"({"imageLayoutVersion":"1.0.0"})");

  for (const Descriptor* d : {&image->manifest, &image->config, &image->layers.at(0)}) {
    const TarEntry* blob = findEntry(entries, blobPath(*d));
    ASSERT_NE(blob, nullptr) << d->digest;
    Bytes content(blob->content.begin(), blob->content.end());
    EXPECT_EQ("sha256:" + sha256Hex(content), d->digest);
    EXPECT_EQ(content.size(), d->size);
    EXPECT_EQ(blob->mode, "0000644");
  }
  EXPECT_EQ(image->layers[0].mediaType, "application/vnd.oci.image.layer.v1.tar");

  const std::string index = findEntry(entries, "index.json")->content;
  EXPECT_EQ(
      index,
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)"
      R"("manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("digest":")" +
          image->manifest.digest + R"(","size":)" + std::to_string(image->manifest.size) +
          R"(,"annotations":{"io.containerd.image.name":"ghcr.io/example/wasi-demo-app:latest",)"
          R"("org.opencontainers.image.ref.name":"latest"},)"
          R"("platform":{"architecture":"amd64","os":"linux"}}]})");
  EXPECT_EQ(
      findEntry(entries, blobPath(image->config))->content,
      R"({"architecture":"amd64","os":"linux","config":{"Entrypoint":["/wasi-demo-app.wasm"],)"
      R"("Cmd":["echo","hello"]},"rootfs":{"type":"layers","diff_ids":[")" +
          image->layers[0].digest + R"("]}})");
  const std::string manifest = findEntry(entries, blobPath(image->manifest))->content;
  EXPECT_NE(manifest.find(
                R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                image->config.digest + R"(","size":)" + std::to_string(image->config.size)),
            std::string::npos)
      << manifest;

  // The layer: the module at the root, executable, owned by root, mtime 0.
  const TarEntry* layer = findEntry(entries, blobPath(image->layers[0]));
  auto files = readTar(Bytes(layer->content.begin(), layer->content.end()));
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].path, "wasi-demo-app.wasm");
  EXPECT_EQ(files[0].type, '0');
  EXPECT_EQ(files[0].mode, "0000755");
  EXPECT_EQ(files[0].content, textOf(kModule));
}

TEST(ImageBuilder, SameSpecSameBytesAndInputOrderDoesNotMatter) {
  ImageSpec a = demoSpec();
  a.rootfs.push_back({"lib/extra.wasm", kModule, 0644});
  ImageSpec b = a;
  std::swap(b.rootfs[0], b.rootfs[1]);
  auto first = buildImage(a), second = buildImage(a), swapped = buildImage(b);
  ASSERT_TRUE(first && second && swapped);
  EXPECT_EQ(first->tarball, second->tarball);
  EXPECT_EQ(first->tarball, swapped->tarball);

  ImageSpec c = a;
  c.cmd.push_back("more");
  EXPECT_NE(buildImage(c)->config.digest, first->config.digest);
}

TEST(ImageBuilder, NestedFilesGetTheirDirectoriesAndLongPathsUsePrefix) {
  ImageSpec spec = demoSpec();
  // 217 bytes: ustar's prefix field takes the first two directories.
  std::string deep =
      std::string(60, 'd') + "/" + std::string(60, 'e') + "/" + std::string(90, 'f') + ".wasm";
  spec.rootfs.push_back({deep, kModule, 0644});
  spec.rootfs.push_back({"a/b/c.wasm", kModule, 0644});
  auto image = buildImage(spec);
  ASSERT_TRUE(image) << image.error().message;
  auto entries = readTar(image->tarball);
  const TarEntry* layer = findEntry(entries, blobPath(image->layers[0]));
  auto files = readTar(Bytes(layer->content.begin(), layer->content.end()));
  std::vector<std::string> paths;
  for (const auto& f : files) paths.push_back(f.path + (f.type == '5' ? " dir" : ""));
  EXPECT_EQ(paths, (std::vector<std::string>{
                       "a/ dir", "a/b/ dir", "a/b/c.wasm", std::string(60, 'd') + "/ dir",
                       std::string(60, 'd') + "/" + std::string(60, 'e') + "/ dir", deep,
                       "wasi-demo-app.wasm"}));

  spec.rootfs = {{std::string(101, 'x'), kModule, 0644}};
  auto tooLong = buildImage(spec);
  ASSERT_FALSE(tooLong);
  EXPECT_NE(tooLong.error().message.find("too long"), std::string::npos);
}

TEST(ImageBuilder, JsonStringsAreEscaped) {
  ImageSpec spec = demoSpec();
  spec.cmd = {"q\"b\\s/n\nt\tc\x01\x1f\b\f\r\v", "caf\xc3\xa9 \xf0\x9f\x98\x80"};
  auto image = buildImage(spec);
  ASSERT_TRUE(image) << image.error().message;
  auto entries = readTar(image->tarball);
  EXPECT_NE(findEntry(entries, blobPath(image->config))
                ->content.find(R"("Cmd":["q\"b\\s/n\nt\tc\u0001\u001f\b\f\r\u000b","café 😀"])"),
            std::string::npos);
}

TEST(ImageBuilder, RejectsWhatCannotBeAnImage) {
  auto expectInvalid = [](const ImageSpec& spec, std::string_view needle) {
    auto image = buildImage(spec);
    ASSERT_FALSE(image) << needle;
    EXPECT_EQ(image.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(image.error().message.find(needle), std::string::npos) << image.error().message;
    EXPECT_EQ(image.error().message.find('\n'), std::string::npos);
  };
  ImageSpec spec = demoSpec();
  spec.rootfs.clear();
  expectInvalid(spec, "no files");
  for (const char* path : {"/abs.wasm", "../up.wasm", "a//b.wasm", "a/./b.wasm", "dir/", ""}) {
    spec = demoSpec();
    spec.rootfs[0].path = path;
    expectInvalid(spec, "bad path");
  }
  spec = demoSpec();
  spec.rootfs.push_back(spec.rootfs[0]);
  expectInvalid(spec, "two files");
  spec = demoSpec();
  spec.rootfs.push_back({"wasi-demo-app.wasm/inner", kModule, 0644});
  expectInvalid(spec, "both a file and a directory");
  for (const char* bad : {"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    spec = demoSpec();
    spec.cmd = {"ok", bad};
    expectInvalid(spec, "cmd argument 2 is not UTF-8");
  }
}

TEST(ImageBuilder, WritesAtomicallyAndLeavesNothingOnFailure) {
  ScratchDir dir;
  auto written = writeImageTarball(demoSpec(), dir / "img.tar");
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(readFile(dir / "img.tar").value(), written->tarball);

  fs::create_directory(dir / "occupied");
  auto onDir = writeImageTarball(demoSpec(), dir / "occupied");
  ASSERT_FALSE(onDir);
  EXPECT_TRUE(fs::is_directory(dir / "occupied"));
  auto missing = writeImageTarball(demoSpec(), dir / "no-such-dir" / "img.tar");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir.path())) left.push_back(e.path().filename());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"img.tar", "occupied"}));
}

}  // namespace
}  // namespace runwasi::oci
