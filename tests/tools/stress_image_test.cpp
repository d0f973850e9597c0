// Containerd mode's reading of an image (no containerd): chain IDs, the manifest picked from
// an index, and the runtime spec and snapshot parent built from a config as ctr builds them.
#include <gtest/gtest.h>

#include "image_spec.h"
#include "oci/media_types.h"

namespace runwasi::stress {
namespace {

using nlohmann::json;

std::vector<uint8_t> bytes(const json& j) {
  std::string text = j.dump();
  return {text.begin(), text.end()};
}

oci::ContentRef ref(std::string mediaType, std::string digest = "", std::string os = "",
                    std::string architecture = "", std::string title = "") {
  oci::ContentRef r;
  r.mediaType = std::move(mediaType);
  r.digest = std::move(digest);
  r.os = std::move(os);
  r.architecture = std::move(architecture);
  if (!title.empty()) r.annotations[std::string(oci::annotation::kTitle)] = std::move(title);
  return r;
}

oci::ParsedManifest manifestWith(std::string configType, std::vector<oci::ContentRef> layers = {}) {
  oci::ParsedManifest m;
  m.config = ref(std::move(configType), "sha256:" + std::string(64, 'c'));
  m.layers = std::move(layers);
  return m;
}

const oci::ParsedManifest kLinuxManifest = manifestWith(std::string(oci::media_type::kImageConfig));

TEST(StressChainId, OciImageSpecChain) {
  const std::string a = "sha256:" + std::string(64, 'a'), b = "sha256:" + std::string(64, 'b'),
                    c = "sha256:" + std::string(64, 'c');
  EXPECT_EQ(chainId({}), "");
  std::vector<std::string> one = {a};
  EXPECT_EQ(chainId(one), a);  // a single layer's chain ID is its diff ID
  // Expected values from Python's hashlib: sha256("<a> <b>"), then sha256("<ab> <c>").
  std::vector<std::string> two = {a, b}, three = {a, b, c};
  EXPECT_EQ(chainId(two),
            "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c");
  EXPECT_EQ(chainId(three),
            "sha256:c1377126441fb2f5ec2c21ae2a60255331d639e830f0ee1b40a36e52d4c40588");
}

TEST(StressPickManifest, WasmFirstThenLinuxOfThisMachineThenTheOnlyOne) {
  oci::ContentRef arm = ref("", "arm", "linux", "arm64");
  oci::ContentRef amd = ref("", "amd", "linux", "amd64");
  oci::ContentRef wasm = ref("", "wasm", "wasip1", "wasm");
  std::vector<oci::ContentRef> all = {arm, amd, wasm};
  EXPECT_EQ(pickManifest(all, "amd64")->digest, "wasm");
  std::vector<oci::ContentRef> linux = {arm, amd};
  EXPECT_EQ(pickManifest(linux, "amd64")->digest, "amd");
  EXPECT_EQ(pickManifest(linux, "arm64")->digest, "arm");
  std::vector<oci::ContentRef> only = {arm};
  EXPECT_EQ(pickManifest(only, "amd64")->digest, "arm");
  auto none = pickManifest(linux, "riscv64");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kNotFound);
  EXPECT_NE(none.error().message.find("linux/arm64, linux/amd64"), std::string::npos)
      << none.error().message;
}

TEST(StressTemplate, LinuxImageAsCtrRunsIt) {
  json config = {
      {"architecture", "amd64"},
      {"os", "linux"},
      {"config",
       {{"Entrypoint", {"/bin/sh", "-c"}},
        {"Cmd", {"echo hi"}},
        {"Env", {"PATH=/bin", "FOO=bar", "HOME"}},
        {"WorkingDir", "/work"},
        {"User", "1000:50"}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {"sha256:" + std::string(64, 'a')}}}}};
  auto t = templateFromConfig(kLinuxManifest, bytes(config), {});
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_FALSE(t->wasm);
  EXPECT_EQ(t->platform, "linux/amd64");
  EXPECT_EQ(t->snapshotParent, "sha256:" + std::string(64, 'a'));
  const json& process = t->spec["process"];
  EXPECT_EQ(process["args"], json({"/bin/sh", "-c", "echo hi"}));
  // The image's PATH replaces the default one; "HOME" alone removes nothing that is there.
  EXPECT_EQ(process["env"], json({"PATH=/bin", "FOO=bar"}));
  EXPECT_EQ(process["cwd"], "/work");
  EXPECT_EQ(process["user"], json({{"uid", 1000}, {"gid", 50}}));
  // containerd's default spec otherwise, with each task's own cgroup.
  EXPECT_EQ(t->spec["root"]["path"], "rootfs");
  json task = json::parse(t->specFor("ns1", "task-7"));
  EXPECT_EQ(task["linux"]["cgroupsPath"], "/ns1/task-7");
  EXPECT_EQ(task["process"], process);
  EXPECT_FALSE(task.contains("annotations") &&
               task["annotations"].contains("io.kubernetes.cri.sandbox-id"));
  // In a pod (--pod), every task names the pod's task: the shims group by it.
  json inPod = json::parse(t->specFor("ns1", "task-8", "stress-1-pod"));
  EXPECT_EQ(inPod["annotations"]["io.kubernetes.cri.sandbox-id"], "stress-1-pod");
  EXPECT_EQ(inPod["linux"]["cgroupsPath"], "/ns1/task-8");

  // Arguments after -- replace Cmd and keep the entrypoint.
  auto replaced = templateFromConfig(kLinuxManifest, bytes(config), {"echo", "bye"});
  ASSERT_TRUE(replaced) << replaced.error().message;
  EXPECT_EQ(replaced->spec["process"]["args"], json({"/bin/sh", "-c", "echo", "bye"}));
}

TEST(StressTemplate, RunwasiFormatHasAnEmptyParent) {
  json config = {{"architecture", "wasm"},
                 {"os", "wasip1"},
                 {"config", {{"Entrypoint", {"/app.wasm"}}}},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}}};
  auto t = templateFromConfig(kLinuxManifest, bytes(config), {"x"});
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_TRUE(t->wasm);
  EXPECT_EQ(t->snapshotParent, "");
  EXPECT_EQ(t->spec["process"]["args"], json({"/app.wasm", "x"}));
  EXPECT_EQ(t->spec["process"]["env"],
            json({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}));
}

TEST(StressTemplate, CncfArtifactRunsItsFirstModule) {
  auto manifest = manifestWith(std::string(oci::media_type::kWasmArtifactConfig),
                               {ref("application/vnd.oci.image.layer.v1.tar"),
                                ref(std::string(oci::media_type::kWasm), "", "", "", "app.wasm"),
                                ref(std::string(oci::media_type::kWasm), "", "", "", "b.wasm")});
  json config = {{"created", "1970-01-01T00:00:00Z"}, {"architecture", "wasm"}, {"os", "wasip1"}};
  auto t = templateFromConfig(manifest, bytes(config), {"--flag"});
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_TRUE(t->wasm);
  EXPECT_EQ(t->snapshotParent, "");
  EXPECT_EQ(t->spec["process"]["args"], json({"/app.wasm", "--flag"}));
}

TEST(StressTemplate, Errors) {
  auto expectInvalid = [](const oci::ParsedManifest& m, const json& config,
                          std::string_view needle) {
    auto t = templateFromConfig(m, bytes(config), {});
    ASSERT_FALSE(t) << config.dump();
    EXPECT_EQ(t.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(t.error().message.find(needle), std::string::npos) << t.error().message;
  };
  expectInvalid(kLinuxManifest, {{"os", "linux"}}, "names nothing to run");
  // An artifact whose module has no title names no file to run either.
  expectInvalid(manifestWith(std::string(oci::media_type::kWasmArtifactConfig),
                             {ref(std::string(oci::media_type::kWasm))}),
                {{"architecture", "wasm"}}, "names nothing to run");
  expectInvalid(kLinuxManifest, {{"config", {{"Cmd", "/bin/true"}}}}, "config.Cmd is not a list");
  expectInvalid(kLinuxManifest, {{"config", {{"Cmd", {"/x"}}, {"User", "nobody"}}}},
                "User \"nobody\" is not numeric");
  expectInvalid(kLinuxManifest, {{"config", {{"Cmd", {"/x"}}}}, {"rootfs", {{"diff_ids", {1}}}}},
                "rootfs.diff_ids holds a non-string");
  auto notJson = templateFromConfig(kLinuxManifest, std::vector<uint8_t>{'{'}, {});
  ASSERT_FALSE(notJson);
  EXPECT_NE(notJson.error().message.find("not a JSON object"), std::string::npos);
}

}  // namespace
}  // namespace runwasi::stress
