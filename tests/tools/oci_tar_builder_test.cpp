// oci-tar-builder as a user runs it: each format's output checked by an independent Python
// reader (tests/oci/verify_oci_tar.py: tarfile + json + hashlib + gzip), byte-for-byte
// reproducibility, distinct configs, one-line errors with the right exit status and no
// output left behind.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../support/process.h"
#include "../support/scratch_dir.h"
#include "../support/wasm_fixtures.h"
#include "common/file.h"

namespace runwasi {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::digestOf;
using testing::ProcessResult;
using testing::runProcess;
using testing::ScratchDir;

const Bytes& kModule = testing::kEmptyModule;

// Another module, for the tests that need two.
const Bytes kOtherModule = testing::moduleNamed('b');
constexpr char kTarType[] = "application/vnd.oci.image.layer.v1.tar";
constexpr char kTarGzipType[] = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr char kWasmLayerType[] = "application/vnd.bytecodealliance.wasm.component.layer.v0+wasm";

// What verify_oci_tar.py printed: `key=JSON` facts, and one line per file or module.
struct Facts {
  std::map<std::string, json> facts;
  std::vector<std::string> files;

  const json& operator[](const std::string& key) const { return facts.at(key); }
};

Facts parseFacts(const std::string& out) {
  Facts f;
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    std::string line = out.substr(start, end - start);
    start = end == std::string::npos ? out.size() : end + 1;
    size_t eq = line.find('='), space = line.find(' ');
    if (eq != std::string::npos && (space == std::string::npos || eq < space))
      f.facts[line.substr(0, eq)] = json::parse(line.substr(eq + 1));
    else
      f.files.push_back(line);
  }
  return f;
}

class OciTarBuilder : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(writeFileAtomic(dir_ / "demo.wasm", kModule));
    ASSERT_TRUE(writeFileAtomic(dir_ / "other.wasm", kOtherModule));
    ASSERT_TRUE(
        writeFileAtomic(dir_ / "not-wasm.txt", Bytes{'h', 'e', 'l', 'l', 'o', '!', '!', '!'}));
    ASSERT_TRUE(writeFileAtomic(dir_ / "component.wasm", testing::kComponentHeader));
  }

  ProcessResult tool(std::vector<std::string> args) {
    args.insert(args.begin(), RUNWASI_OCI_TAR_BUILDER);
    return runProcess(std::move(args));
  }

  // Builds with the arguments plus `-o out`, expecting success; returns the facts.
  Facts build(std::vector<std::string> args, std::string_view out = "out.tar") {
    args.insert(args.end(), {"-o", path(out)});
    auto r = tool(args);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    auto v = runProcess({RUNWASI_PYTHON3, RUNWASI_VERIFY_OCI_TAR, path(out)});
    EXPECT_EQ(v.status, 0) << v.err;
    return parseFacts(v.out);
  }

  // A failure: the expected status, one line on stderr naming the problem, no output file.
  void expectFailure(const std::vector<std::string>& args, int status, std::string_view needle) {
    auto r = tool(args);
    EXPECT_EQ(r.status, status) << r.err;
    EXPECT_TRUE(r.err.starts_with("oci-tar-builder: ")) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "want " << needle << ", got " << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_FALSE(fs::exists(dir_ / "out.tar"));
  }

  // The files in the scratch directory: inputs only, no output or temporary file left.
  std::set<std::string> leftFiles() const {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_.path())) names.insert(e.path().filename());
    return names;
  }

  // A tar of one file made by GNU tar, and its gzip (the kinds of layers users bring).
  void makeTarLayers() {
    ASSERT_TRUE(writeFileAtomic(dir_ / "index.html", Bytes{'<', 'p', '>'}));
    auto tar = runProcess({"/bin/sh", "-c",
                           "cd \"$0\" && tar -cf static.tar index.html && "
                           "gzip -n -c static.tar > static.tar.gz && rm index.html",
                           dir_.path().string()});
    ASSERT_EQ(tar.status, 0) << tar.err;
  }

  std::string path(std::string_view name) const { return (dir_ / name).string(); }

  ScratchDir dir_;
};

TEST_F(OciTarBuilder, RootfsImageByDefault) {
  auto r = tool({"--name", "ghcr.io/example/wasi-demo-app", "--module", path("demo.wasm"), "--cmd",
                 "echo", "--cmd=hello world", "-o", path("out.tar")});
  ASSERT_EQ(r.status, 0) << r.err;
  // stdout names the file, the image and the manifest digest.
  EXPECT_TRUE(r.out.starts_with(path("out.tar") + " ghcr.io/example/wasi-demo-app:latest sha256:"))
      << r.out;
  auto v = runProcess({RUNWASI_PYTHON3, RUNWASI_VERIFY_OCI_TAR, path("out.tar")});
  ASSERT_EQ(v.status, 0) << v.err;
  Facts f = parseFacts(v.out);
  EXPECT_EQ(f["name"], "ghcr.io/example/wasi-demo-app:latest");
  EXPECT_EQ(f["ref"], "latest");
  EXPECT_EQ(f["platform"], json({{"architecture", "amd64"}, {"os", "linux"}}));
  EXPECT_EQ(f["config_media_type"], "application/vnd.oci.image.config.v1+json");
  EXPECT_EQ(f["layer_media_types"], json({kTarType}));
  EXPECT_EQ(f["entrypoint"], json({"/demo.wasm"}));
  EXPECT_EQ(f["cmd"], json({"echo", "hello world"}));
  EXPECT_EQ(f.files, std::vector<std::string>{"file demo.wasm mode=0755 uid=0 gid=0 mtime=0 size=8 "
                                              "sha256=" +
                                              sha256Hex(kModule)});
  // The same result as asking for the format by name.
  ASSERT_EQ(tool({"--name", "ghcr.io/example/wasi-demo-app", "--module", path("demo.wasm"), "--cmd",
                  "echo", "--cmd=hello world", "--format", "rootfs", "-o", path("2.tar")})
                .status,
            0);
  EXPECT_EQ(readFile(path("out.tar")).value(), readFile(path("2.tar")).value());
}

TEST_F(OciTarBuilder, RunwasiFormatHasModuleLayersAndTarLayers) {
  makeTarLayers();
  Facts f = build({"--name", "app", "--repo", "ghcr.io/example", "--tag", "v2", "--format",
                   "runwasi", "--module", path("demo.wasm"), "--module", path("other.wasm"),
                   "--layer", std::string(kTarType) + "=" + path("static.tar"),
                   "--layer=" + std::string(kTarGzipType) + "=" + path("static.tar.gz"),
                   "--entrypoint", "/demo.wasm#main", "--cmd", "x"});
  EXPECT_EQ(f["name"], "ghcr.io/example/app:v2");
  EXPECT_EQ(f["platform"], json({{"architecture", "wasm"}, {"os", "wasip1"}}));
  EXPECT_EQ(f["architecture"], "wasm");
  EXPECT_EQ(f["os"], "wasip1");
  EXPECT_EQ(f["config_media_type"], "application/vnd.oci.image.config.v1+json");
  EXPECT_EQ(f["layer_media_types"], json({kWasmLayerType, kWasmLayerType, kTarType, kTarGzipType}));
  Bytes tar = readFile(path("static.tar")).value(), gz = readFile(path("static.tar.gz")).value();
  EXPECT_EQ(f["layers"],
            json({digestOf(kModule), digestOf(kOtherModule), digestOf(tar), digestOf(gz)}));
  // The reader checked diff_ids against the tar layers (the gzip decompressed) and
  // layerDigests against the layers; here: both tar layers, nothing else.
  EXPECT_EQ(f["diff_ids"], json({digestOf(tar), digestOf(tar)}));
  EXPECT_EQ(f["layer_digests"], f["layers"]);
  EXPECT_EQ(f["entrypoint"], json({"/demo.wasm#main"}));
  EXPECT_EQ(f["cmd"], json({"x"}));
  std::vector<std::string> expected = {"wasm demo.wasm size=8 sha256=" + sha256Hex(kModule),
                                       "wasm other.wasm size=12 sha256=" + sha256Hex(kOtherModule)};
  ASSERT_GE(f.files.size(), 2u);
  EXPECT_EQ(std::vector<std::string>(f.files.begin(), f.files.begin() + 2), expected);
  EXPECT_EQ(f.files.size(), 4u);  // index.html in each tar layer
}

TEST_F(OciTarBuilder, PureRunwasiImageDefaultsTheEntrypointToTheFirstModule) {
  Facts f = build({"--name", "app", "--format=runwasi", "--module", path("other.wasm"), "--module",
                   path("demo.wasm")});
  EXPECT_EQ(f["entrypoint"], json({"/other.wasm"}));
  EXPECT_EQ(f["cmd"], nullptr);
  EXPECT_EQ(f["diff_ids"], json::array());
  EXPECT_EQ(f["layer_digests"], json({digestOf(kOtherModule), digestOf(kModule)}));
}

TEST_F(OciTarBuilder, ArtifactFollowsTheCncfLayout) {
  Facts f = build({"--name", "app", "--as-artifact", "--module", path("demo.wasm")});
  EXPECT_EQ(f["platform"], json({{"architecture", "wasm"}, {"os", "wasip1"}}));
  EXPECT_EQ(f["config_media_type"], "application/vnd.wasm.config.v0+json");
  EXPECT_EQ(f["layer_media_types"], json({"application/wasm"}));
  EXPECT_EQ(f["layer_digests"], json({digestOf(kModule)}));
  EXPECT_EQ(f["created"], "1970-01-01T00:00:00Z");
  EXPECT_EQ(f["diff_ids"], nullptr);
  EXPECT_EQ(f["entrypoint"], nullptr);
  // --format artifact is the same thing.
  build({"--name", "app", "--format", "artifact", "--module", path("demo.wasm")}, "2.tar");
  EXPECT_EQ(readFile(path("out.tar")).value(), readFile(path("2.tar")).value());
}

TEST_F(OciTarBuilder, SameInputsSameBytesInEveryFormat) {
  makeTarLayers();
  for (std::string format : {"rootfs", "runwasi", "artifact"}) {
    std::vector<std::string> args{"--repo",   "localhost:5000/demo", "--tag",    "v1",
                                  "--module", path("demo.wasm"),     "--format", format};
    if (format != "rootfs")
      args.push_back("--layer=" + std::string(kTarGzipType) + "=" + path("static.tar.gz"));
    build(args, "one.tar");
    build(args, "two.tar");
    EXPECT_EQ(readFile(path("one.tar")).value(), readFile(path("two.tar")).value()) << format;
  }
}

// CRI keys images by config digest: different modules must give different configs.
TEST_F(OciTarBuilder, DifferentModulesNeverShareAConfig) {
  fs::create_directory(dir_ / "copy");
  ASSERT_TRUE(writeFileAtomic(dir_ / "copy" / "demo.wasm", kOtherModule));
  std::map<std::string, std::vector<std::string>> configs;  // format -> config digests
  std::set<std::string> all;
  for (std::string format : {"rootfs", "runwasi", "artifact"}) {
    // Other bytes under the same file name; the same bytes under another file name.
    for (std::string module : {path("demo.wasm"), path("copy/demo.wasm"), path("other.wasm")}) {
      Facts f = build({"--name", "app", "--format", format, "--module", module});
      configs[format].push_back(f["config"].get<std::string>());
      all.insert(configs[format].back());
    }
  }
  // The artifact's config names no file (no entrypoint, no rootfs): the same bytes under
  // another name are the same artifact. Every other pair differs.
  EXPECT_EQ(configs["artifact"][1], configs["artifact"][2]);
  EXPECT_EQ(all.size(), 8u);
}

TEST_F(OciTarBuilder, BadInputsGiveOneLineAndNoOutput) {
  std::string wasm = path("demo.wasm"), out = path("out.tar");
  expectFailure({"--name", "app", "--module", path("missing.wasm"), "-o", out}, 1,
                "missing.wasm: No such file or directory");
  expectFailure({"--name", "app", "--module", path("not-wasm.txt"), "-o", out}, 1,
                "not-wasm.txt: not a WebAssembly module");
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
  expectFailure({"--name", "app", "--module", wasm, "--module", wasm, "-o", out}, 1,
                "two files at \"demo.wasm\"");
  // Unwritable destinations: a missing directory, a directory in the way.
  expectFailure({"--name", "app", "--module", wasm, "-o", path("nope/out.tar")}, 1,
                "No such file or directory");
  fs::create_directory(dir_ / "taken");
  expectFailure({"--name", "app", "--module", wasm, "-o", path("taken")}, 1, "Is a directory");
  EXPECT_TRUE(fs::is_empty(dir_ / "taken"));
  fs::remove(dir_ / "taken");
  EXPECT_EQ(leftFiles(),
            (std::set<std::string>{"component.wasm", "demo.wasm", "not-wasm.txt", "other.wasm"}));
}

TEST_F(OciTarBuilder, BadWasmInputsGiveOneLineAndNoOutput) {
  makeTarLayers();
  std::string wasm = path("demo.wasm"), out = path("out.tar");
  auto wasmImage = [&](std::vector<std::string> extra, std::string format = "runwasi") {
    std::vector<std::string> args{"--name", "app", "--format", format, "--module", wasm};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"-o", out});
    return args;
  };
  auto layer = [](std::string spec) { return std::vector<std::string>{"--layer", spec}; };
  for (std::string format : {"runwasi", "artifact"}) {
    // Files that are missing or wrong: status 1, the path named.
    expectFailure(wasmImage(layer(std::string(kTarType) + "=" + path("missing.tar")), format), 1,
                  path("missing.tar") + ": No such file or directory");
    expectFailure(wasmImage(layer(std::string(kTarType) + "=" + dir_.path().string()), format), 1,
                  "Is a directory");
    expectFailure(wasmImage({"--module", path("not-wasm.txt")}, format), 1,
                  path("not-wasm.txt") + ": not a WebAssembly module");
    expectFailure(wasmImage({"--module", path("component.wasm")}, format), 1,
                  "component.wasm: a WebAssembly component, not a core module");
    expectFailure(wasmImage(layer(std::string(kTarType) + "=" + path("not-wasm.txt")), format), 1,
                  path("not-wasm.txt") + ": not a tar archive");
    expectFailure(wasmImage(layer(std::string(kTarGzipType) + "=" + path("static.tar")), format), 1,
                  path("static.tar") + ": not gzip data");
    expectFailure(
        wasmImage(layer("application/vnd.oci.image.layer.v1.tar+zstd=" + path("static.tar")),
                  format),
        1, "zstd-compressed layers are not supported");
    expectFailure(wasmImage(layer("application/wasm=" + path("static.tar")), format), 1,
                  path("static.tar") + ": not a WebAssembly module");
    expectFailure(
        wasmImage({"--module", path("other.wasm"), "--module", path("copy.wasm")}, format), 1,
        "copy.wasm: No such file");
    // Malformed --layer specs: usage errors.
    expectFailure(wasmImage(layer(kTarType), format), 2, "expected TYPE=PATH");
    expectFailure(wasmImage(layer("=" + path("static.tar")), format), 2, "empty media type");
    expectFailure(wasmImage(layer(std::string(kTarType) + "="), format), 2, "empty path");
    expectFailure(wasmImage(layer("tar=" + path("static.tar")), format), 2,
                  "\"tar\" is not a media type");
    expectFailure(wasmImage(layer("application/wasm; v=1=" + path("static.tar")), format), 2,
                  "is not a media type");
    expectFailure({"--name", "app", "--format", format, "--module", wasm, "-o", out, "--layer"}, 2,
                  "--layer needs a value");
  }
  expectFailure(wasmImage({"--entrypoint", "/demo.wasm"}, "artifact"), 2,
                "--entrypoint and --cmd do not apply to the Wasm artifact");
  expectFailure(wasmImage({"--cmd", "x"}, "artifact"), 2, "do not apply to the Wasm artifact");
  expectFailure(wasmImage({"--as-artifact"}, "runwasi"), 2, "--as-artifact contradicts --format");
  expectFailure(wasmImage({}, "oci"), 2, "--format oci: expected rootfs, runwasi or artifact");
  expectFailure(wasmImage(layer(std::string(kTarType) + "=" + path("static.tar")), "rootfs"), 2,
                "--layer needs a Wasm format");
  EXPECT_EQ(leftFiles(), (std::set<std::string>{"component.wasm", "demo.wasm", "not-wasm.txt",
                                                "other.wasm", "static.tar", "static.tar.gz"}));
}

TEST_F(OciTarBuilder, HelpGoesToStdout) {
  auto r = tool({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(r.out.starts_with("usage: oci-tar-builder")) << r.out;
  for (const char* flag :
       {"--format rootfs|runwasi|artifact", "--as-artifact", "--layer TYPE=PATH"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

}  // namespace
}  // namespace runwasi
