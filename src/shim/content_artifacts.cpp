#include "shim/content_artifacts.h"

#include <unistd.h>

#include <atomic>
#include <chrono>

#include <fmt/format.h>

#include "common/file.h"
#include "common/log.h"

namespace runwasi::shim {
namespace {

constexpr std::string_view kHeaderMagic = "runwasi-precompiled/1\n";

constexpr size_t kKeyIdLength = 24;
// An artifact larger than this is not read back (wasm2c objects of big modules are tens of
// MiB; this only bounds memory against a label pointing somewhere absurd).
constexpr uint64_t kMaxArtifactSize = 2ull << 30;
// How long an interrupted store's blob survives without the labels that keep it.
constexpr std::chrono::seconds kLeaseLifetime = std::chrono::hours(1);

std::span<const uint8_t> asBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string keyId(const engine::Engine& engine) {
  return sha256Hex(asBytes(engine.precompiler()->cacheKey())).substr(0, kKeyIdLength);
}

// containerd.io/gc.ref.content.runwasi.<engine>.<key id>: the reference GC follows.
std::string gcRefLabel(const engine::Engine& engine, std::string_view id) {
  return fmt::format("{}runwasi.{}.{}", oci::gc_label::kContentRefPrefix, engine.name(), id);
}

std::string header(const engine::Engine& engine, const engine::ModuleSource& module) {
  return fmt::format("{}engine {}\nkey {}\nmodule sha256:{}\n\n", kHeaderMagic, engine.name(),
                     engine.precompiler()->cacheKey(), module.digest);
}

// The stored artifact the layer's label names, checked; NotFound (with why) otherwise.
Expected<Bytes> storedArtifact(oci::ContainerdStoreClient& client, const engine::Engine& engine,
                               const engine::ModuleSource& module, const oci::ContentInfo& layer,
                               std::string* digest) {
  auto label = layer.labels.find(precompiledLabel(engine));
  if (label == layer.labels.end())
    return makeError(ErrorCode::kNotFound, "no artifact under this engine's cache key yet");
  *digest = label->second;
  TRY(Bytes blob, client.readBlob(*digest, kMaxArtifactSize));
  return unwrapArtifact(engine, module, blob);
}

// Writes the artifact under a lease (so GC cannot take it before the labels that keep it
// exist), then labels the layer and the manifest. Returns the blob's digest.
Expected<std::string> storeArtifact(oci::ContainerdStoreClient& client, const engine::Engine& engine,
                                    const ModuleLayer& where, const engine::ModuleSource& module,
                                    const oci::ContentInfo& layer,
                                    std::span<const uint8_t> artifact) {
  static std::atomic<unsigned> counter{0};
  Bytes blob = wrapArtifact(engine, module, artifact);
  std::string digest = "sha256:" + sha256Hex(blob);
  std::string lease = fmt::format("runwasi-precompile-{}-{}", ::getpid(), counter++);
  TRY(lease, client.createLease(lease, {}, kLeaseLifetime));
  auto dropLease = [&] {
    if (auto dropped = client.deleteLease(lease, false); !dropped)
      log::warn("deleting lease {}: {}", lease, dropped.error().message);
  };
  std::string id = keyId(engine);
  oci::Labels blobLabels = {
      {std::string(kPrecompiledLabelPrefix) + "engine", std::string(engine.name())},
      {std::string(kPrecompiledLabelPrefix) + "module", "sha256:" + module.digest},
  };
  if (auto written = client.writeBlob("runwasi-" + digest, blob, digest, blobLabels, lease);
      !written) {
    dropLease();
    return tl::unexpected(std::move(written).error());
  }
  // The layer: this key's label and reference; the engine's other keys' removed.
  oci::Labels layerLabels = {{precompiledLabel(engine), digest},
                                                    {gcRefLabel(engine, id), digest}};
  std::string ownPrefix = fmt::format("{}{}/", kPrecompiledLabelPrefix, engine.name());
  for (const auto& [key, value] : layer.labels) {
    if (!key.starts_with(ownPrefix) || key == precompiledLabel(engine)) continue;
    layerLabels[key] = "";
    layerLabels[gcRefLabel(engine, key.substr(ownPrefix.size()))] = "";
  }
  auto labelled = client.updateContentLabels(where.layerDigest, layerLabels);
  if (labelled)
    labelled = client.updateContentLabels(where.manifestDigest, {{gcRefLabel(engine, id), digest}});
  dropLease();
  if (!labelled) return tl::unexpected(std::move(labelled).error());
  return digest;
}

}  // namespace

std::string precompiledLabel(const engine::Engine& engine) {
  return fmt::format("{}{}/{}", kPrecompiledLabelPrefix, engine.name(), keyId(engine));
}

Bytes wrapArtifact(const engine::Engine& engine, const engine::ModuleSource& module,
                   std::span<const uint8_t> artifact) {
  std::string head = header(engine, module);
  Bytes blob(head.begin(), head.end());
  blob.insert(blob.end(), artifact.begin(), artifact.end());
  return blob;
}

Expected<Bytes> unwrapArtifact(const engine::Engine& engine, const engine::ModuleSource& module,
                               std::span<const uint8_t> blob) {
  std::string head = header(engine, module);
  if (blob.size() < head.size() || !std::equal(head.begin(), head.end(), blob.begin())) {
    std::string_view text(reinterpret_cast<const char*>(blob.data()),
                          std::min<size_t>(blob.size(), kHeaderMagic.size()));
    return makeError(ErrorCode::kNotFound,
                     text == kHeaderMagic
                         ? "the stored artifact was made from another module or cache key"
                         : "the labelled blob is not a runwasi artifact");
  }
  return Bytes(blob.begin() + static_cast<ptrdiff_t>(head.size()), blob.end());
}

Expected<StoredArtifact> contentStoreArtifact(oci::ContainerdStoreClient& client,
                                              const engine::Engine& engine,
                                              const ModuleLayer& where,
                                              const engine::ModuleSource& module,
                                              const engine::PrecompileFunction& precompile) {
  StoredArtifact result;
  auto layer = client.contentInfo(where.layerDigest);
  if (layer) {
    std::string digest;
    auto stored = storedArtifact(client, engine, module, *layer, &digest);
    if (stored) {
      TRY(result.fd, memfdWith(*stored, "runwasi-artifact"));
      result.digest = digest;
      result.reused = true;
      return result;
    }
    if (stored.error().code != ErrorCode::kNotFound || !digest.empty())
      log::warn("{}: not using the stored artifact {}: {}; compiling again", module.name,
                digest, stored.error().message);
  } else {
    log::warn("{}: cannot read its labels: {}", module.name, layer.error().message);
  }

  TRY(Bytes artifact, precompile(module));
  TRY(result.fd, memfdWith(artifact, "runwasi-artifact"));
  if (layer) {
    auto stored = storeArtifact(client, engine, where, module, *layer, artifact);
    if (stored) {
      result.digest = *stored;
    } else {
      log::warn("{}: the artifact is not kept in the content store: {}", module.name,
                stored.error().message);
    }
  }
  return result;
}

}  // namespace runwasi::shim
