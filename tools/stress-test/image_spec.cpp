#include "image_spec.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "bundle.h"
#include "common/file.h"
#include "oci/default_spec.h"
#include "oci/image_reference.h"
#include "oci/media_types.h"

namespace runwasi::stress {
namespace {

using nlohmann::json;

// Manifests and configs are small; anything bigger is not an image we can run.
constexpr uint64_t kMaxMetadataBlob = 4 << 20;

tl::unexpected<Error> invalid(std::string message) {
  return makeError(ErrorCode::kInvalidArgument, std::move(message));
}

// A list of strings from the config (Entrypoint, Cmd, Env, diff_ids); absent or null is
// empty.
Expected<std::vector<std::string>> stringList(const json& object, std::string_view key,
                                              std::string_view where) {
  std::vector<std::string> out;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return out;
  if (!it->is_array())
    return invalid(fmt::format("the image config's {}{} is not a list", where, key));
  for (const json& item : *it) {
    if (!item.is_string())
      return invalid(fmt::format("the image config's {}{} holds a non-string", where, key));
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::string stringField(const json& object, std::string_view key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// containerd's replaceOrAppendEnvValues: an override "K=V" replaces the default of the same
// K or is appended; a bare "K" removes K.
std::vector<std::string> mergeEnv(std::vector<std::string> defaults,
                                  const std::vector<std::string>& overrides) {
  auto keyOf = [](std::string_view entry) { return entry.substr(0, entry.find('=')); };
  for (const std::string& entry : overrides) {
    std::string_view key = keyOf(entry);
    auto same =
        std::ranges::find_if(defaults, [&](const std::string& d) { return keyOf(d) == key; });
    if (entry.find('=') == std::string::npos) {
      if (same != defaults.end()) defaults.erase(same);
    } else if (same != defaults.end()) {
      *same = entry;
    } else {
      defaults.push_back(entry);
    }
  }
  return defaults;
}

Expected<uint32_t> parseId(std::string_view text, std::string_view user) {
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return invalid(fmt::format(
        "the image's User \"{}\" is not numeric (uid or uid:gid): user names would need the "
        "image's /etc/passwd, which stress-test does not read",
        user));
  return value;
}

// The implied entrypoint of a Wasm image that names none: its first module layer's file.
std::vector<std::string> moduleEntrypoint(const oci::ParsedManifest& manifest) {
  for (const oci::ContentRef& layer : manifest.layers) {
    bool isModule =
        layer.mediaType == oci::media_type::kWasm || layer.mediaType == oci::media_type::kWasmLayer;
    if (!isModule) continue;
    auto title = layer.annotations.find(std::string(oci::annotation::kTitle));
    if (title == layer.annotations.end() || title->second.empty()) return {};
    return {"/" + title->second};
  }
  return {};
}

Expected<Bytes> readMetadata(oci::ContainerdStoreClient& client, const std::string& digest,
                             std::string_view what) {
  auto bytes = client.readBlob(digest, kMaxMetadataBlob);
  if (!bytes)
    return tl::unexpected(
        std::move(bytes).error().context("reading the image's " + std::string(what)));
  return bytes;
}

}  // namespace

std::string TaskTemplate::specFor(std::string_view ns, std::string_view id,
                                  std::string_view sandboxId) const {
  json copy = spec;
  copy["linux"]["cgroupsPath"] = fmt::format("/{}/{}", ns, id);
  if (!sandboxId.empty()) copy["annotations"][kSandboxIdAnnotation] = std::string(sandboxId);
  return copy.dump();
}

std::string chainId(std::span<const std::string> diffIds) {
  std::string chain;
  for (const std::string& diffId : diffIds) {
    if (chain.empty()) {
      chain = diffId;
      continue;
    }
    std::string joined = chain + " " + diffId;
    chain = "sha256:" +
            sha256Hex(std::span(reinterpret_cast<const uint8_t*>(joined.data()), joined.size()));
  }
  return chain;
}

std::string_view hostArchitecture() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#else
#error "add this machine's OCI architecture name"
#endif
}

Expected<oci::ContentRef> pickManifest(std::span<const oci::ContentRef> manifests,
                                       std::string_view architecture) {
  if (auto wasm = oci::pickWasmManifest(manifests)) return *wasm;
  for (const oci::ContentRef& m : manifests)
    if (m.os == "linux" && m.architecture == architecture) return m;
  if (manifests.size() == 1) return manifests.front();
  std::vector<std::string> platforms;
  for (const oci::ContentRef& m : manifests)
    platforms.push_back(m.os.empty() && m.architecture.empty()
                            ? "(none)"
                            : fmt::format("{}/{}", m.os, m.architecture));
  return makeError(
      ErrorCode::kNotFound,
      fmt::format("the image index has no manifest for wasm or linux/{} (it has: {})", architecture,
                  platforms.empty() ? "none" : fmt::format("{}", fmt::join(platforms, ", "))));
}

Expected<TaskTemplate> templateFromConfig(const oci::ParsedManifest& manifest,
                                          std::span<const uint8_t> configJson,
                                          const std::vector<std::string>& args) {
  json config = json::parse(configJson.begin(), configJson.end(), nullptr, false);
  if (!config.is_object()) return invalid("the image config is not a JSON object");
  // The artifact's config has no "config" section; runwasi's and linux images' have one.
  json process = config.value("config", json::object());
  if (!process.is_object()) process = json::object();

  TaskTemplate t;
  t.wasm = oci::isWasmImage(manifest, configJson);
  t.platform = fmt::format("{}/{}", stringField(config, "os"), stringField(config, "architecture"));

  TRY(std::vector<std::string> entrypoint, stringList(process, "Entrypoint", "config."));
  TRY(std::vector<std::string> cmd, stringList(process, "Cmd", "config."));
  if (entrypoint.empty() && t.wasm) entrypoint = moduleEntrypoint(manifest);
  std::vector<std::string> processArgs = entrypoint;
  const std::vector<std::string>& tail = args.empty() ? cmd : args;
  processArgs.insert(processArgs.end(), tail.begin(), tail.end());
  if (processArgs.empty() || processArgs.front().empty())
    return invalid(
        "the image names nothing to run (no Entrypoint or Cmd in its config): give the "
        "command after --");

  t.spec = json::parse(oci::defaultSpecJson(processArgs, ""));
  TRY(std::vector<std::string> env, stringList(process, "Env", "config."));
  t.spec["process"]["env"] =
      mergeEnv(t.spec["process"]["env"].get<std::vector<std::string>>(), env);
  if (std::string cwd = stringField(process, "WorkingDir"); !cwd.empty())
    t.spec["process"]["cwd"] = cwd;
  if (std::string user = stringField(process, "User"); !user.empty()) {
    size_t colon = user.find(':');
    TRY(uint32_t uid, parseId(std::string_view(user).substr(0, colon), user));
    uint32_t gid = 0;
    if (colon != std::string::npos) {
      TRY(gid, parseId(std::string_view(user).substr(colon + 1), user));
    }
    t.spec["process"]["user"] = {{"uid", uid}, {"gid", gid}};
  }

  json rootfs = config.value("rootfs", json::object());
  if (!rootfs.is_object()) return invalid("the image config's rootfs is not an object");
  TRY(std::vector<std::string> diffIds, stringList(rootfs, "diff_ids", "rootfs."));
  t.snapshotParent = chainId(diffIds);
  return t;
}

Expected<TaskTemplate> resolveImage(oci::ContainerdStoreClient& client, std::string_view name,
                                    const std::vector<std::string>& args) {
  auto image = client.getImage(name);
  if (!image && image.error().code == ErrorCode::kNotFound) {
    // "busybox" as ctr would not find it, but as docker and CRI name it.
    auto normalized = oci::parseImageReference(name);
    if (normalized && normalized->full() != name) {
      if (auto again = client.getImage(normalized->full())) image = std::move(again);
    }
  }
  if (!image) return tl::unexpected(std::move(image).error());

  oci::ContentRef manifestRef;
  manifestRef.mediaType = image->target.mediaType;
  manifestRef.digest = image->target.digest;
  TRY(Bytes top, readMetadata(client, manifestRef.digest, "manifest"));
  if (oci::isIndexMediaType(manifestRef.mediaType)) {
    TRY(auto manifests, oci::parseImageIndex(top));
    TRY(manifestRef, pickManifest(manifests, hostArchitecture()));
    TRY(top, readMetadata(client, manifestRef.digest, "manifest"));
  } else if (!oci::isManifestMediaType(manifestRef.mediaType)) {
    return invalid(fmt::format("image {}: its target {} is neither a manifest nor an index",
                               image->name, manifestRef.mediaType));
  }
  TRY(oci::ParsedManifest manifest, oci::parseImageManifest(top));
  TRY(Bytes config, readMetadata(client, manifest.config.digest, "config"));
  auto made = templateFromConfig(manifest, config, args);
  if (!made) return tl::unexpected(std::move(made).error().context("image " + image->name));
  made->image = image->name;
  made->manifestDigest = manifestRef.digest;
  return made;
}

}  // namespace runwasi::stress
