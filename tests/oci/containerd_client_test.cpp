// The containerd client against a real (private) containerd: an imported image's blobs,
// blobs written under leases with labels, the garbage collector honouring gc.ref labels and
// lease expiry, and errors that say what went wrong.
#include <dirent.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "../support/scratch_dir.h"
#include "common/unique_fd.h"
#include "containerd_fixture.h"
#include "oci/containerd_client_plugin.h"

namespace runwasi::oci {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

const Bytes kModule = {0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00, 'c', 'l', 'i', 'e', 'n', 't'};

ImageSpec wasmLikeImage(std::string_view name) {
  ImageSpec spec;
  spec.reference = parseImageReference(name).value();
  spec.rootfs = {LayerFile{"app.wasm", kModule, 0644}};
  spec.cmd = {"/app.wasm"};
  return spec;
}

// Bytes that are not all alike, `size` of them.
Bytes patternBytes(size_t size, uint8_t seed) {
  Bytes bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>((i * 131 + (i >> 9)) ^ seed);
  return bytes;
}

std::string digestOf(const Bytes& bytes) {
  return "sha256:" + sha256Hex(bytes);
}

class ContainerdClientTest : public ContainerdFixture {};

TEST_F(ContainerdClientTest, ReadsTheBlobsOfAnImportedImage) {
  ImageSpec spec = wasmLikeImage("ghcr.io/example/client-test:v1");
  BuiltImage built = importImage(spec, /*unpack=*/false);
  ASSERT_FALSE(HasFailure());

  auto image = client_->getImage("ghcr.io/example/client-test:v1");
  ASSERT_TRUE(image) << image.error().message;
  EXPECT_EQ(image->name, "ghcr.io/example/client-test:v1");
  EXPECT_EQ(image->target.mediaType, media_type::kImageManifest);
  EXPECT_EQ(image->target.digest, built.manifest.digest);
  EXPECT_EQ(image->target.size, built.manifest.size);
  auto images = client_->listImages();
  ASSERT_TRUE(images) << images.error().message;
  ASSERT_EQ(images->size(), 1u);
  EXPECT_EQ((*images)[0].target.digest, built.manifest.digest);
  // Each call carries the client's namespace: another namespace does not have the image.
  auto elsewhere = connectContainerd(socket(), ns_ + "-other");
  ASSERT_TRUE(elsewhere) << elsewhere.error().message;
  auto notThere = (*elsewhere)->getImage("ghcr.io/example/client-test:v1");
  ASSERT_FALSE(notThere);
  EXPECT_EQ(notThere.error().code, ErrorCode::kNotFound) << notThere.error().message;

  // The manifest names the config and the layer; each blob is what the builder made.
  auto manifestBytes = client_->readBlob(image->target.digest, 1 << 20);
  ASSERT_TRUE(manifestBytes) << manifestBytes.error().message;
  EXPECT_EQ(manifestBytes->size(), built.manifest.size);
  json manifest = json::parse(*manifestBytes);
  EXPECT_EQ(manifest["config"]["digest"], built.config.digest);
  ASSERT_EQ(manifest["layers"].size(), 1u);
  EXPECT_EQ(manifest["layers"][0]["digest"], built.layers[0].digest);

  auto configBytes = client_->readBlob(built.config.digest, 1 << 20);
  ASSERT_TRUE(configBytes) << configBytes.error().message;
  json config = json::parse(*configBytes);
  EXPECT_EQ(config["architecture"], "amd64");
  EXPECT_EQ(config["rootfs"]["diff_ids"][0], built.layers[0].digest);

  auto layer = client_->readBlob(built.layers[0].digest, 1 << 20);
  ASSERT_TRUE(layer) << layer.error().message;
  EXPECT_EQ(layer->size(), built.layers[0].size);
  EXPECT_NE(std::search(layer->begin(), layer->end(), kModule.begin(), kModule.end()), layer->end())
      << "the module's bytes are not in the layer";
}

TEST_F(ContainerdClientTest, ReadBlobRefusesABlobOverTheLimit) {
  BuiltImage built = importImage(wasmLikeImage("ghcr.io/example/limit:v1"), false);
  ASSERT_FALSE(HasFailure());
  const Descriptor& layer = built.layers[0];

  auto tooBig = client_->readBlob(layer.digest, layer.size - 1);
  ASSERT_FALSE(tooBig);
  EXPECT_EQ(tooBig.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(tooBig.error().message.find(layer.digest), std::string::npos) << tooBig.error().message;

  auto exact = client_->readBlob(layer.digest, layer.size);
  ASSERT_TRUE(exact) << exact.error().message;
  EXPECT_EQ(exact->size(), layer.size);
}

TEST_F(ContainerdClientTest, ErrorsSayWhatIsMissing) {
  const std::string missing = "sha256:" + std::string(64, 'e');
  auto read = client_->readBlob(missing, 1024);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kNotFound) << read.error().message;
  EXPECT_NE(read.error().message.find("containerd Content."), std::string::npos);
  EXPECT_NE(read.error().message.find(missing), std::string::npos) << read.error().message;

  auto info = client_->contentInfo(missing);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(client_->deleteContent(missing).error().code, ErrorCode::kNotFound);

  auto image = client_->getImage("docker.io/library/absent:latest");
  ASSERT_FALSE(image);
  EXPECT_EQ(image.error().code, ErrorCode::kNotFound);
  EXPECT_NE(image.error().message.find("containerd Images.Get docker.io/library/absent:latest"),
            std::string::npos)
      << image.error().message;

  auto container = client_->getContainer("absent");
  ASSERT_FALSE(container);
  EXPECT_EQ(container.error().code, ErrorCode::kNotFound) << container.error().message;

  auto malformed = client_->readBlob("sha256:xyz", 1024);
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(ContainerdClientTest, WritesABlobUnderALeaseWithLabels) {
  // Several of the client's 1 MiB chunks, and a partial one.
  const Bytes blob = patternBytes(3 * (1 << 20) + 123, 1);
  auto lease = client_->createLease("", {}, std::nullopt);
  ASSERT_TRUE(lease) << lease.error().message;

  auto written =
      client_->writeBlob("client-test-write", blob, "", {{"runwasi.io/kind", "artifact"}}, *lease);
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(written->digest, digestOf(blob));
  EXPECT_EQ(written->size, blob.size());
  EXPECT_EQ(written->labels, (Labels{{"runwasi.io/kind", "artifact"}}));

  auto info = client_->contentInfo(digestOf(blob));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->labels, (Labels{{"runwasi.io/kind", "artifact"}}));
  auto read = client_->readBlob(digestOf(blob), blob.size());
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_TRUE(*read == blob);

  // Writing it again succeeds and adds the new labels.
  auto again = client_->writeBlob("client-test-write-again", blob, digestOf(blob),
                                  {{"runwasi.io/again", "yes"}}, *lease);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->labels, (Labels{{"runwasi.io/again", "yes"}, {"runwasi.io/kind", "artifact"}}));

  auto mismatch =
      client_->writeBlob("client-test-bad", blob, "sha256:" + std::string(64, '0'), {}, *lease);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, ErrorCode::kInvalidArgument) << mismatch.error().message;

  // Only the lease held it: without the lease the garbage collector takes it.
  ASSERT_TRUE(client_->deleteLease(*lease, /*sync=*/true));
  auto gone = client_->contentInfo(digestOf(blob));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
}

TEST_F(ContainerdClientTest, UpdatesContentLabels) {
  const Bytes blob = patternBytes(1000, 2);
  auto lease = client_->createLease("labels-lease", {}, std::nullopt);
  ASSERT_TRUE(lease) << lease.error().message;
  EXPECT_EQ(*lease, "labels-lease");
  ASSERT_TRUE(client_->writeBlob("labels", blob, "", {{"keep", "1"}}, *lease));

  auto added = client_->updateContentLabels(digestOf(blob), {{"a", "x"}, {"b", "y"}});
  ASSERT_TRUE(added) << added.error().message;
  EXPECT_EQ(added->labels, (Labels{{"a", "x"}, {"b", "y"}, {"keep", "1"}}));

  auto removed = client_->updateContentLabels(digestOf(blob), {{"a", ""}, {"b", "z"}});
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(removed->labels, (Labels{{"b", "z"}, {"keep", "1"}}));
  auto info = client_->contentInfo(digestOf(blob));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->labels, removed->labels);

  auto missing = client_->updateContentLabels("sha256:" + std::string(64, 'd'), {{"a", "x"}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(client_->deleteLease(*lease, true));
}

// What the shim does with a precompiled artifact: written under a lease, then tied to the
// image by a gc.ref label on its manifest, it lives exactly as long as the image.
TEST_F(ContainerdClientTest, GcKeepsAnArtifactAsLongAsTheImageReferencesIt) {
  BuiltImage built = importImage(wasmLikeImage("ghcr.io/example/gc:v1"), false);
  ASSERT_FALSE(HasFailure());
  const Bytes artifact = patternBytes(5000, 3);
  const Bytes unreferenced = patternBytes(5000, 4);

  auto lease = client_->createLease("", {}, std::nullopt);
  ASSERT_TRUE(lease) << lease.error().message;
  ASSERT_TRUE(client_->writeBlob("artifact", artifact, "", {}, *lease));
  ASSERT_TRUE(client_->writeBlob("unreferenced", unreferenced, "", {}, *lease));
  std::string label = std::string(gc_label::kContentRefPrefix) + "runwasi.test";
  auto tied = client_->updateContentLabels(built.manifest.digest, {{label, digestOf(artifact)}});
  ASSERT_TRUE(tied) << tied.error().message;

  ASSERT_TRUE(client_->deleteLease(*lease, /*sync=*/true));
  EXPECT_TRUE(client_->contentInfo(digestOf(artifact))) << "the image's label should keep it";
  EXPECT_EQ(client_->contentInfo(digestOf(unreferenced)).error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(client_->deleteImage("ghcr.io/example/gc:v1", /*sync=*/true));
  for (const std::string& digest : {digestOf(artifact), built.manifest.digest}) {
    auto info = client_->contentInfo(digest);
    ASSERT_FALSE(info) << digest << " outlived the image";
    EXPECT_EQ(info.error().code, ErrorCode::kNotFound);
  }
  EXPECT_EQ(client_->getImage("ghcr.io/example/gc:v1").error().code, ErrorCode::kNotFound);
}

TEST_F(ContainerdClientTest, AnExpiredLeaseProtectsNothing) {
  const Bytes blob = patternBytes(2000, 5);
  // gc.expire has whole seconds: it expires between 1 and 2 s from now.
  auto lease = client_->createLease("", {}, std::chrono::seconds(2));
  ASSERT_TRUE(lease) << lease.error().message;
  ASSERT_TRUE(client_->writeBlob("expiring", blob, "", {}, *lease));

  // A synchronous collection (deleting a lease of its own) while the lease is valid...
  auto collect = [&] {
    auto other = client_->createLease("", {}, std::nullopt);
    ASSERT_TRUE(other) << other.error().message;
    ASSERT_TRUE(client_->deleteLease(*other, /*sync=*/true));
  };
  collect();
  EXPECT_TRUE(client_->contentInfo(digestOf(blob))) << "taken before its lease expired";
  // ...and once it has expired.
  std::this_thread::sleep_for(std::chrono::milliseconds(2300));
  collect();
  auto info = client_->contentInfo(digestOf(blob));
  ASSERT_FALSE(info) << "kept by an expired lease";
  EXPECT_EQ(info.error().code, ErrorCode::kNotFound);
  // The collector removed the expired lease itself too.
  auto deleted = client_->deleteLease(*lease, false);
  ASSERT_FALSE(deleted);
  EXPECT_EQ(deleted.error().code, ErrorCode::kNotFound) << deleted.error().message;
}

// One client, eight threads writing and reading at once (the second round of each finds
// its blob already there).
TEST_F(ContainerdClientTest, ServesSeveralThreadsAtOnce) {
  auto lease = client_->createLease("", {}, std::chrono::seconds(600));
  ASSERT_TRUE(lease) << lease.error().message;
  constexpr int kThreads = 8;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      const Bytes blob = patternBytes((1 << 20) + 1000 * i, static_cast<uint8_t>(10 + i));
      for (int round = 0; round < 2 && failures[i].empty(); ++round) {
        auto written =
            client_->writeBlob(fmt::format("thread-{}-{}", i, round), blob, "", {}, *lease);
        auto read = client_->readBlob(digestOf(blob), blob.size());
        if (!written)
          failures[i] = written.error().message;
        else if (!read)
          failures[i] = read.error().message;
        else if (*read != blob)
          failures[i] = "read other bytes than written";
      }
    });
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(failures[i], "") << "thread " << i;
  EXPECT_TRUE(client_->deleteLease(*lease, false));
}

// The client's sockets: this process's fds that are sockets.
int socketCount() {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(entry.path(), ec);
    if (!ec && target.string().starts_with("socket:")) ++count;
  }
  return count;
}

TEST_F(ContainerdClientTest, ClosesItsConnectionWhenDestroyed) {
  ASSERT_TRUE(client_->listImages());  // the fixture's client is connected
  int before = socketCount();
  {
    auto client = connectContainerd(socket(), ns_);
    ASSERT_TRUE(client) << client.error().message;
    ASSERT_TRUE((*client)->listImages());
    EXPECT_GT(socketCount(), before);
  }
  // gRPC closes the connection from its own threads: give them a moment.
  auto deadline = Clock::now() + std::chrono::seconds(3);
  while (socketCount() > before && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(socketCount(), before);
}

// A program that links the client gets it from loadContainerdClient too, without loading
// the plugin (whose copies of the .proto files protobuf would abort on).
TEST_F(ContainerdClientTest, TheLoaderUsesTheLinkedClient) {
  auto client = loadContainerdClient(socket(), ns_);
  ASSERT_TRUE(client) << client.error().message;
  EXPECT_TRUE((*client)->listImages());
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    EXPECT_EQ(line.find(kContainerdClientPluginFile), std::string::npos) << line;
}

// ---- no containerd needed --------------------------------------------------------------

// connectContainerd's error and how long it took.
std::pair<Error, Clock::duration> failedConnect(const std::string& path,
                                                ContainerdClientOptions options = {}) {
  auto start = Clock::now();
  auto client = connectContainerd(path, "default", options);
  auto took = Clock::now() - start;
  EXPECT_FALSE(client) << path << " connected";
  return {client ? Error{} : client.error(), took};
}

TEST(ContainerdConnect, AnUnreachableSocketIsUnavailableAtOnce) {
  testing::ScratchDir dir("runwasi-cc-");
  const std::string missing = (dir / "missing.sock").string();
  auto [absent, absentTook] = failedConnect(missing);
  EXPECT_EQ(absent.code, ErrorCode::kUnavailable);
  EXPECT_NE(absent.message.find(missing), std::string::npos) << absent.message;
  EXPECT_LT(absentTook, std::chrono::milliseconds(500));

  // Bound but not listening: connect(2) is refused.
  const std::string refusing = (dir / "refusing.sock").string();
  UniqueFd bound(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  refusing.copy(address.sun_path, sizeof(address.sun_path) - 1);
  ASSERT_EQ(::bind(bound.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  auto [refused, refusedTook] = failedConnect(refusing);
  EXPECT_EQ(refused.code, ErrorCode::kUnavailable);
  EXPECT_NE(refused.message.find(refusing), std::string::npos) << refused.message;
  EXPECT_NE(refused.message.find("refused"), std::string::npos) << refused.message;
  EXPECT_LT(refusedTook, std::chrono::milliseconds(1000));

  // Listening but never answering: the connect deadline ends the wait.
  ASSERT_EQ(::listen(bound.get(), 8), 0);
  auto [silent, silentTook] = failedConnect(
      refusing, ContainerdClientOptions{.connectTimeout = std::chrono::milliseconds(300)});
  EXPECT_EQ(silent.code, ErrorCode::kUnavailable);
  EXPECT_NE(silent.message.find(refusing), std::string::npos) << silent.message;
  EXPECT_GE(silentTook, std::chrono::milliseconds(250));
  EXPECT_LT(silentTook, std::chrono::milliseconds(2000));

  auto [notSocket, notSocketTook] = failedConnect(dir.path().string());
  EXPECT_EQ(notSocket.code, ErrorCode::kUnavailable);
  EXPECT_NE(notSocket.message.find("not a socket"), std::string::npos) << notSocket.message;
}

}  // namespace
}  // namespace runwasi::oci
