// The image builder in-process (tar headers, JSON, references, determinism) and
// oci-tar-builder from the outside (output checked by an independent Python reader,
// one-line errors, no partial output).
#include "oci/image_builder.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "../support/scratch_dir.h"
#include "../support/process.h"

namespace runwasi::oci {
namespace {

namespace fs = std::filesystem;
using testing::runProcess;
using testing::ScratchDir;

// The smallest valid module: magic and version.
const Bytes kModule = {0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00};

std::string text(const Bytes& b) {
  return std::string(b.begin(), b.end());
}

ImageSpec demoSpec() {
  ImageSpec spec;
  spec.reference = parseImageReference("ghcr.io/example/wasi-demo-app").value();
  spec.rootfs.push_back({"wasi-demo-app.wasm", kModule, 0755});
  spec.entrypoint = {"/wasi-demo-app.wasm"};
  spec.cmd = {"echo", "hello"};
  return spec;
}

// One ustar entry as our reader sees it.
struct TarEntry {
  std::string path;
  char type = 0;
  std::string mode;
  std::string content;
};

// Parses a ustar archive, checking each header's checksum and the two-block trailer.
std::vector<TarEntry> readTar(const Bytes& tar) {
  std::vector<TarEntry> entries;
  size_t off = 0;
  auto field = [&](size_t at, size_t len) {
    std::string s(reinterpret_cast<const char*>(&tar[off + at]), len);
    return s.substr(0, s.find('\0'));
  };
  while (off + 512 <= tar.size()) {
    if (std::all_of(tar.begin() + off, tar.begin() + off + 512, [](uint8_t b) { return !b; }))
      break;
    unsigned sum = 0;
    for (size_t i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : tar[off + i];
    EXPECT_EQ(std::stoul(field(148, 8), nullptr, 8), sum) << "checksum at " << off;
    EXPECT_EQ(field(257, 6), "ustar");
    TarEntry e;
    std::string prefix = field(345, 155);
    e.path = prefix.empty() ? field(0, 100) : prefix + "/" + field(0, 100);
    e.type = static_cast<char>(tar[off + 156]);
    e.mode = field(100, 8);
    EXPECT_EQ(field(108, 8), "0000000");
    EXPECT_EQ(field(136, 12), "00000000000");
    size_t size = std::stoul(field(124, 12), nullptr, 8);
    off += 512;
    e.content.assign(reinterpret_cast<const char*>(&tar[off]), size);
    off += (size + 511) / 512 * 512;
    entries.push_back(std::move(e));
  }
  EXPECT_EQ(off + 1024, tar.size()) << "the archive ends with exactly two zero blocks";
  return entries;
}

std::string blobPath(const Descriptor& d) {
  return "blobs/sha256/" + d.digest.substr(7);
}

const TarEntry* find(const std::vector<TarEntry>& entries, std::string_view path) {
  for (const auto& e : entries)
    if (e.path == path) return &e;
  return nullptr;
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
  EXPECT_EQ(find(entries, "oci-layout")->content, R"({"imageLayoutVersion":"1.0.0"})");

  for (const Descriptor* d : {&image->manifest, &image->config, &image->layers.at(0)}) {
    const TarEntry* blob = find(entries, blobPath(*d));
    ASSERT_NE(blob, nullptr) << d->digest;
    Bytes content(blob->content.begin(), blob->content.end());
    EXPECT_EQ("sha256:" + sha256Hex(content), d->digest);
    EXPECT_EQ(content.size(), d->size);
    EXPECT_EQ(blob->mode, "0000644");
  }
  EXPECT_EQ(image->layers[0].mediaType, "application/vnd.oci.image.layer.v1.tar");

  const std::string index = find(entries, "index.json")->content;
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
      find(entries, blobPath(image->config))->content,
      R"({"architecture":"amd64","os":"linux","config":{"Entrypoint":["/wasi-demo-app.wasm"],)"
      R"("Cmd":["echo","hello"]},"rootfs":{"type":"layers","diff_ids":[")" +
          image->layers[0].digest + R"("]}})");
  const std::string manifest = find(entries, blobPath(image->manifest))->content;
  EXPECT_NE(manifest.find(
                R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                image->config.digest + R"(","size":)" + std::to_string(image->config.size)),
            std::string::npos)
      << manifest;

  // The layer: the module at the root, executable, owned by root, mtime 0.
  const TarEntry* layer = find(entries, blobPath(image->layers[0]));
  auto files = readTar(Bytes(layer->content.begin(), layer->content.end()));
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].path, "wasi-demo-app.wasm");
  EXPECT_EQ(files[0].type, '0');
  EXPECT_EQ(files[0].mode, "0000755");
  EXPECT_EQ(files[0].content, text(kModule));
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
  const TarEntry* layer = find(entries, blobPath(image->layers[0]));
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
  EXPECT_NE(find(entries, blobPath(image->config))
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

// ---- the tool --------------------------------------------------------------------------

class OciTarBuilder : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(writeFileAtomic(dir_ / "demo.wasm", kModule));
    ASSERT_TRUE(
        writeFileAtomic(dir_ / "not-wasm.txt", Bytes{'h', 'e', 'l', 'l', 'o', '!', '!', '!'}));
  }

  testing::ProcessResult tool(std::vector<std::string> args) {
    args.insert(args.begin(), RUNWASI_OCI_TAR_BUILDER);
    return runProcess(std::move(args));
  }

  testing::ProcessResult verify(const fs::path& tar) {
    return runProcess({RUNWASI_PYTHON3, RUNWASI_VERIFY_OCI_TAR, tar.string()});
  }

  // A failure: the expected status, one line on stderr naming the problem, no output file.
  void expectFailure(const std::vector<std::string>& args, int status, std::string_view needle) {
    auto r = tool(args);
    EXPECT_EQ(r.status, status) << r.err;
    EXPECT_TRUE(r.err.starts_with("oci-tar-builder: ")) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_FALSE(fs::exists(dir_ / "out.tar"));
  }

  std::string path(std::string_view name) const { return (dir_ / name).string(); }

  ScratchDir dir_;
};

TEST_F(OciTarBuilder, WritesAnImageTheIndependentReaderAccepts) {
  auto r = tool({"--name", "ghcr.io/example/wasi-demo-app", "--module", path("demo.wasm"), "--cmd",
                 "echo", "--cmd=hello world", "-o", path("out.tar")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  auto v = verify(dir_ / "out.tar");
  ASSERT_EQ(v.status, 0) << v.err;
  for (const char* fact :
       {R"(name="ghcr.io/example/wasi-demo-app:latest")", R"(ref="latest")",
        R"(platform={"architecture": "amd64", "os": "linux"})", R"(architecture="amd64")",
        R"(os="linux")", R"(entrypoint=["/demo.wasm"])", R"(cmd=["echo", "hello world"])",
        "file demo.wasm mode=0755 uid=0 gid=0 mtime=0 size=8 sha256="})
    EXPECT_NE(v.out.find(fact), std::string::npos) << fact << "\n" << v.out;
  EXPECT_NE(v.out.find(sha256Hex(kModule)), std::string::npos);
  // stdout names the file, the image and the manifest digest.
  EXPECT_TRUE(r.out.starts_with(path("out.tar") + " ghcr.io/example/wasi-demo-app:latest sha256:"))
      << r.out;
}

TEST_F(OciTarBuilder, SameInputsSameBytes) {
  std::vector<std::string> args{
      "--repo",   "localhost:5000/demo", "--tag",        "v1",
      "--module", path("demo.wasm"),     "--entrypoint", "/demo.wasm#main"};
  auto withOutput = [&](std::string out) {
    auto a = args;
    a.insert(a.end(), {"-o", std::move(out)});
    return a;
  };
  ASSERT_EQ(tool(withOutput(path("one.tar"))).status, 0);
  ASSERT_EQ(tool(withOutput(path("two.tar"))).status, 0);
  EXPECT_EQ(readFile(dir_ / "one.tar").value(), readFile(dir_ / "two.tar").value());
  auto v = verify(dir_ / "one.tar");
  ASSERT_EQ(v.status, 0) << v.err;
  EXPECT_NE(v.out.find(R"(name="localhost:5000/demo:v1")"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find(R"(entrypoint=["/demo.wasm#main"])"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("cmd=null"), std::string::npos) << v.out;
}

TEST_F(OciTarBuilder, NameJoinsRepoAndTag) {
  ASSERT_EQ(tool({"--repo", "ghcr.io/example", "--name", "app", "--tag", "2", "--module",
                  path("demo.wasm"), "-o", path("out.tar")})
                .status,
            0);
  auto v = verify(dir_ / "out.tar");
  EXPECT_NE(v.out.find(R"(name="ghcr.io/example/app:2")"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find(R"(ref="2")"), std::string::npos) << v.out;
}

TEST_F(OciTarBuilder, BadInputsGiveOneLineAndNoOutput) {
  std::string wasm = path("demo.wasm"), out = path("out.tar");
  expectFailure({"--name", "app", "--module", path("missing.wasm"), "-o", out}, 1,
                "missing.wasm: No such file or directory");
  expectFailure({"--name", "app", "--module", path("not-wasm.txt"), "-o", out}, 1,
                "not a WebAssembly module");
  expectFailure({"--name", "app", "--module", dir_.path().string(), "-o", out}, 1,
                "Is a directory");
  expectFailure({"--name", "App", "--module", wasm, "-o", out}, 2, "bad image name \"App\"");
  expectFailure({"--name", "app:1", "--tag", "2", "--module", wasm, "-o", out}, 2,
                "already has a tag");
  expectFailure({"--module", wasm, "-o", out}, 2, "missing --name");
  expectFailure({"--name", "app", "-o", out}, 2, "missing --module");
  expectFailure({"--name", "app", "--module", wasm}, 2, "missing -o");
  expectFailure({"--name", "app", "--module", wasm, "-o"}, 2, "-o needs a value");
  expectFailure({"--name", "app", "--module", wasm, "--bogus", "-o", out}, 2,
                "unknown argument \"--bogus\"");
  expectFailure({"--name", "app", "--module", wasm, "--layer", "x=y", "-o", out}, 1,
                "not supported yet");
  expectFailure({"--name", "app", "--module", wasm, "--module", wasm, "-o", out}, 1,
                "two files at \"demo.wasm\"");
  // Unwritable destinations: a missing directory, a directory in the way.
  expectFailure({"--name", "app", "--module", wasm, "-o", path("nope/out.tar")}, 1,
                "No such file or directory");
  fs::create_directory(dir_ / "taken");
  expectFailure({"--name", "app", "--module", wasm, "-o", path("taken")}, 1, "Is a directory");
  EXPECT_TRUE(fs::is_empty(dir_ / "taken"));
  // Nothing but the inputs and that directory: no temporary file left behind.
  size_t count = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_.path())) ++count;
  EXPECT_EQ(count, 3u);
}

TEST_F(OciTarBuilder, HelpGoesToStdout) {
  auto r = tool({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(r.out.starts_with("usage: oci-tar-builder")) << r.out;
}

}  // namespace
}  // namespace runwasi::oci
