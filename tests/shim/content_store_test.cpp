// The shim's side of issue 6 against an in-memory content store (the real containerd runs
// in e2e_image_store): which images are Wasm and which layer is the module, and the
// precompile cache's labels, reuse, recompiles and failures.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>

#include <fmt/format.h>

#include "common/file.h"
#include "oci/media_types.h"
#include "shim/containerd_link.h"
#include "shim/content_artifacts.h"
#include "shim/image_module.h"

namespace runwasi::shim {
namespace {

std::string digestOf(std::span<const uint8_t> b) { return "sha256:" + sha256Hex(b); }

// Blobs with labels, an image and a container; every call counted.
class MemoryStore final : public oci::ContainerdStoreClient {
 public:
  struct Blob {
    Bytes bytes;
    oci::Labels labels;
  };
  std::map<std::string, Blob> blobs;
  std::map<std::string, oci::ImageRecord> images;
  std::map<std::string, oci::ContainerRecord> containers;
  int writes = 0;
  bool failWrites = false;

  std::string put(const Bytes& bytes) {
    std::string digest = digestOf(bytes);
    blobs[digest].bytes = bytes;
    return digest;
  }

  Expected<oci::ContainerRecord> getContainer(std::string_view id) override {
    auto it = containers.find(std::string(id));
    if (it == containers.end()) return notFound("container", id);
    return it->second;
  }
  Expected<oci::ContainerRecord> createContainer(const oci::ContainerRecord&) override {
    return unimplemented();
  }
  Expected<void> deleteContainer(std::string_view) override { return unimplemented(); }
  Expected<oci::ImageRecord> getImage(std::string_view name) override {
    auto it = images.find(std::string(name));
    if (it == images.end()) return notFound("image", name);
    return it->second;
  }
  Expected<std::vector<oci::ImageRecord>> listImages() override { return unimplemented(); }
  Expected<void> deleteImage(std::string_view, bool) override { return unimplemented(); }
  Expected<oci::ContentInfo> contentInfo(std::string_view digest) override {
    auto it = blobs.find(std::string(digest));
    if (it == blobs.end()) return notFound("content", digest);
    return oci::ContentInfo{it->first, it->second.bytes.size(), it->second.labels};
  }
  Expected<Bytes> readBlob(std::string_view digest, uint64_t maxSize) override {
    auto it = blobs.find(std::string(digest));
    if (it == blobs.end()) return notFound("content", digest);
    if (it->second.bytes.size() > maxSize)
      return makeError(ErrorCode::kFailedPrecondition, "too large");
    return it->second.bytes;
  }
  Expected<oci::ContentInfo> updateContentLabels(std::string_view digest,
                                                 const oci::Labels& labels) override {
    auto it = blobs.find(std::string(digest));
    if (it == blobs.end()) return notFound("content", digest);
    for (const auto& [k, v] : labels) {
      if (v.empty())
        it->second.labels.erase(k);
      else
        it->second.labels[k] = v;
    }
    return contentInfo(digest);
  }
  Expected<void> deleteContent(std::string_view digest) override {
    blobs.erase(std::string(digest));
    return {};
  }
  Expected<oci::ContentInfo> writeBlob(std::string_view, std::span<const uint8_t> bytes,
                                       std::string_view expectedDigest, const oci::Labels& labels,
                                       std::string_view leaseId) override {
    if (failWrites) return makeError(ErrorCode::kUnavailable, "the store refuses writes");
    EXPECT_FALSE(leaseId.empty()) << "an artifact must be written under a lease";
    EXPECT_EQ(expectedDigest, digestOf(bytes));
    ++writes;
    std::string digest = put(Bytes(bytes.begin(), bytes.end()));
    return updateContentLabels(digest, labels);
  }
  Expected<std::string> createLease(std::string_view id, const oci::Labels&,
                                    std::optional<std::chrono::seconds> expiresAfter) override {
    EXPECT_TRUE(expiresAfter.has_value()) << "a lease the shim forgets must expire";
    leases.insert(std::string(id));
    return std::string(id);
  }
  Expected<void> deleteLease(std::string_view id, bool) override {
    leases.erase(std::string(id));
    return {};
  }
  std::set<std::string> leases;

 private:
  static tl::unexpected<Error> notFound(std::string_view what, std::string_view name) {
    return makeError(ErrorCode::kNotFound, fmt::format("{} {}: not found", what, name));
  }
  static tl::unexpected<Error> unimplemented() {
    return makeError(ErrorCode::kUnimplemented, "not in this test");
  }
};

// An engine whose "artifact" is the module's bytes reversed; the key is settable.
class KeyedEngine final : public engine::Engine, public engine::Precompiler {
 public:
  std::string key = "key-1";
  std::string_view name() const override { return "test"; }
  std::string version() const override { return "1"; }
  const engine::Precompiler* precompiler() const override { return this; }
  std::string cacheKey() const override { return key; }
  Expected<Bytes> precompile(const engine::ModuleSource& module) const override {
    return Bytes(module.bytes.rbegin(), module.bytes.rend());
  }
  Expected<engine::RunResult> run(const engine::ModuleSource&, int, const engine::RunOptions&,
                                  wasi::Host&) override {
    return makeError(ErrorCode::kUnimplemented, "not in this test");
  }
};

class ContentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto hello = readFile(RUNWASI_TEST_MODULES_DIR "/hello.wasm");
    ASSERT_TRUE(hello) << hello.error().message;
    module_ = std::move(*hello);
    layer_ = store_.put(module_);
    std::string config = R"({"architecture":"wasm","os":"wasip1"})";
    config_ = store_.put(Bytes(config.begin(), config.end()));
    std::string manifest = fmt::format(
        R"({{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{}","size":{}}},)"
        R"("layers":[{{"mediaType":"{}","digest":"{}","size":{}}}]}})",
        oci::media_type::kImageManifest, oci::media_type::kImageConfig, config_, config.size(),
        oci::media_type::kWasmLayer, layer_, module_.size());
    manifest_ = store_.put(Bytes(manifest.begin(), manifest.end()));
    store_.images["app:v1"] = {"app:v1",
                               {std::string(oci::media_type::kImageManifest), manifest_,
                                manifest.size(), {}},
                               {}};
    store_.containers["c1"] = {"c1", "app:v1", "io.containerd.v8.v1", "", "", {}, ""};
  }

  Expected<StoredArtifact> artifact() {
    ModuleLayer where{"app:v1", manifest_, layer_};
    auto module = engine::makeModuleSource("app layer", module_);
    return contentStoreArtifact(store_, engine_, where, module,
                                [this](const engine::ModuleSource& m) {
                                  ++compiles_;
                                  return engine_.precompile(m);
                                });
  }
  std::string stored() const {
    auto it = store_.blobs.at(layer_).labels.find(precompiledLabel(engine_));
    return it == store_.blobs.at(layer_).labels.end() ? "" : it->second;
  }

  MemoryStore store_;
  KeyedEngine engine_;
  Bytes module_;
  std::string layer_, config_, manifest_;
  int compiles_ = 0;
};

TEST_F(ContentStoreTest, FindsTheModuleOfAWasmImageAndNothingInALinuxOne) {
  auto found = readImageModule(store_, "c1", oci::parseEntrypoint("/app.wasm"), engine_);
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->layer.layerDigest, layer_);
  EXPECT_EQ((*found)->layer.manifestDigest, manifest_);
  EXPECT_EQ((*found)->source.bytes, module_);

  std::string linux = R"({"architecture":"amd64","os":"linux"})";
  std::string linuxConfig = store_.put(Bytes(linux.begin(), linux.end()));
  std::string manifest = std::string(store_.blobs[manifest_].bytes.begin(),
                                     store_.blobs[manifest_].bytes.end());
  manifest.replace(manifest.find(config_), config_.size(), linuxConfig);
  std::string linuxManifest = store_.put(Bytes(manifest.begin(), manifest.end()));
  store_.images["app:v1"].target.digest = linuxManifest;
  found = readImageModule(store_, "c1", oci::parseEntrypoint("/app.wasm"), engine_);
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_FALSE(found->has_value());
}

TEST_F(ContentStoreTest, AMissingLayerIsAnErrorNamingIt) {
  store_.blobs.erase(layer_);
  auto found = readImageModule(store_, "c1", oci::parseEntrypoint("/app.wasm"), engine_);
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code, ErrorCode::kNotFound);
  EXPECT_NE(found.error().message.find("image app:v1"), std::string::npos) << found.error().message;
  EXPECT_NE(found.error().message.find(layer_), std::string::npos) << found.error().message;
}

TEST_F(ContentStoreTest, StoresLabelsAndThenReusesTheArtifact) {
  auto first = artifact();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_FALSE(first->reused);
  EXPECT_EQ(compiles_, 1);
  ASSERT_FALSE(first->digest.empty());
  EXPECT_EQ(stored(), first->digest);
  const auto& layerLabels = store_.blobs.at(layer_).labels;
  std::string gcRef = "containerd.io/gc.ref.content.runwasi.test." +
                      precompiledLabel(engine_).substr(precompiledLabel(engine_).rfind('/') + 1);
  EXPECT_EQ(layerLabels.at(gcRef), first->digest);
  EXPECT_EQ(store_.blobs.at(manifest_).labels.at(gcRef), first->digest);
  EXPECT_TRUE(store_.leases.empty()) << "the write's lease must go once the labels hold it";

  auto second = artifact();
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE(second->reused);
  EXPECT_EQ(second->digest, first->digest);
  EXPECT_EQ(compiles_, 1);
  auto bytes = readFd(second->fd.get(), "artifact");
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, Bytes(module_.rbegin(), module_.rend()));
}

TEST_F(ContentStoreTest, AMissingOrWrongArtifactIsCompiledAgain) {
  ASSERT_TRUE(artifact());
  store_.blobs.erase(stored());
  auto again = artifact();
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->reused);
  EXPECT_EQ(compiles_, 2);
  EXPECT_TRUE(store_.blobs.count(stored()));

  // The label names another blob (the config): not an artifact of this module.
  store_.blobs[layer_].labels[precompiledLabel(engine_)] = config_;
  again = artifact();
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->reused);
  EXPECT_EQ(compiles_, 3);
  EXPECT_NE(stored(), config_);
  EXPECT_EQ(store_.blobs.at(stored()).bytes, wrapArtifact(engine_, engine::makeModuleSource("m", module_),
                                                          Bytes(module_.rbegin(), module_.rend())));
}

TEST_F(ContentStoreTest, ANewCacheKeyCompilesAgainAndDropsTheOldKeysLabels) {
  ASSERT_TRUE(artifact());
  std::string oldLabel = precompiledLabel(engine_);
  engine_.key = "key-2";
  ASSERT_NE(precompiledLabel(engine_), oldLabel);
  auto again = artifact();
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->reused);
  EXPECT_EQ(compiles_, 2);
  const auto& labels = store_.blobs.at(layer_).labels;
  EXPECT_FALSE(labels.count(oldLabel));
  EXPECT_TRUE(labels.count(precompiledLabel(engine_)));
  size_t refs = 0;
  for (const auto& [key, value] : labels) refs += key.starts_with("containerd.io/gc.ref.content.");
  EXPECT_EQ(refs, 1u) << "the old key's gc.ref must go with its label";
}

TEST_F(ContentStoreTest, AStoreThatRefusesWritesStillGivesTheArtifact) {
  store_.failWrites = true;
  auto made = artifact();
  ASSERT_TRUE(made) << made.error().message;
  EXPECT_TRUE(made->digest.empty());
  EXPECT_TRUE(made->fd);
  EXPECT_EQ(stored(), "");
  EXPECT_TRUE(store_.leases.empty());
}

TEST(ContainerdLink, AnUnreachableSocketIsAClearErrorAtOnce) {
  ContainerdLink link("/run/runwasi-test-no-such-dir/containerd.sock", "default");
  auto start = std::chrono::steady_clock::now();
  auto client = link.client();
  ASSERT_FALSE(client);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_NE(client.error().message.find("/run/runwasi-test-no-such-dir/containerd.sock"),
            std::string::npos)
      << client.error().message;
  auto again = link.client();  // the same answer, not a second attempt
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, client.error().message);
}

}  // namespace
}  // namespace runwasi::shim
