#include "oci/image_builder.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <set>

#include <fmt/core.h>

namespace runwasi::oci {
namespace {

tl::unexpected<Error> invalid(std::string message) {
  return makeError(ErrorCode::kInvalidArgument, std::move(message));
}

// ---- JSON ----------------------------------------------------------------------------

// JSON needs Unicode; refusing bad UTF-8 here beats a decoder silently replacing it.
bool isValidUtf8(std::string_view s) {
  static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};  // no overlongs
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80             ? 1
                 : (c & 0xe0) == 0xc0 ? 2
                 : (c & 0xf0) == 0xe0 ? 3
                 : (c & 0xf8) == 0xf0 ? 4
                                      : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : c & (0x7fu >> len);
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (len > 1 && cp < kMinForLength[len]) return false;
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

// A compact JSON writer: members come out in the order they are written, so the output
// is a pure function of the calls (the callers follow the Go structs' field order, as
// containerd would write them).
class JsonWriter {
 public:
  JsonWriter& beginObject() { return open('{'); }
  JsonWriter& endObject() { return close('}'); }
  JsonWriter& beginArray() { return open('['); }
  JsonWriter& endArray() { return close(']'); }
  JsonWriter& key(std::string_view k) {
    separate();
    quote(k);
    out_.push_back(':');
    afterKey_ = true;
    return *this;
  }
  JsonWriter& value(std::string_view s) {
    separate();
    quote(s);
    return *this;
  }
  JsonWriter& value(uint64_t n) {
    separate();
    out_ += std::to_string(n);
    return *this;
  }
  JsonWriter& stringArray(const std::vector<std::string>& items) {
    beginArray();
    for (const auto& item : items) value(item);
    return endArray();
  }
  std::string take() && { return std::move(out_); }

 private:
  JsonWriter& open(char c) {
    separate();
    out_.push_back(c);
    first_.push_back(true);
    return *this;
  }
  JsonWriter& close(char c) {
    out_.push_back(c);
    first_.pop_back();
    return *this;
  }
  // A comma before every element but the first of its container; none after a key.
  void separate() {
    if (afterKey_) {
      afterKey_ = false;
      return;
    }
    if (first_.empty()) return;
    if (!first_.back()) out_.push_back(',');
    first_.back() = false;
  }
  // RFC 8259 escapes; bytes >= 0x80 pass through (the strings were checked to be UTF-8).
  void quote(std::string_view s) {
    out_.push_back('"');
    for (char c : s) {
      auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out_ += {'\\', c};
      } else if (u >= '\b' && u <= '\r' && u != '\v') {
        out_ += {'\\', "btn?fr"[u - '\b']};
      } else if (u < 0x20) {
        out_ += fmt::format("\\u{:04x}", u);
      } else {
        out_.push_back(c);
      }
    }
    out_.push_back('"');
  }

  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool afterKey_ = false;
};

void writeDescriptor(JsonWriter& json, const Descriptor& d) {
  json.key("mediaType").value(d.mediaType).key("digest").value(d.digest);
  json.key("size").value(d.size);
}

Descriptor describe(std::string_view mediaType, std::span<const uint8_t> blob) {
  return Descriptor{std::string(mediaType), "sha256:" + sha256Hex(blob), blob.size(), {}};
}

Bytes toBytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

// ---- image references ----------------------------------------------------------------

bool isLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// A path component: lower-case alphanumerics, joined by '.', '_', '__' or dashes.
bool isPathComponent(std::string_view s) {
  if (s.empty() || !isLowerAlnum(s.front()) || !isLowerAlnum(s.back())) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (isLowerAlnum(c) || c == '-') continue;
    if (c != '.' && c != '_') return false;
    bool doubleUnderscore = c == '_' && s[i + 1] == '_';
    if (doubleUnderscore) ++i;
    if (!isLowerAlnum(s[i + 1])) return false;
  }
  return true;
}

// host[:port], host made of letters, digits, '.' and '-'.
bool isDomain(std::string_view s) {
  size_t colon = s.find(':');
  std::string_view host = s.substr(0, colon);
  std::string_view port = colon == s.npos ? "1" : s.substr(colon + 1);
  if (host.empty() || port.empty()) return false;
  for (char c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') return false;
  return std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool isTag(std::string_view s) {
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (s.empty() || s.size() > 128 || !word(s[0])) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return word(c) || c == '.' || c == '-'; });
}

// ---- the layer -----------------------------------------------------------------------

// A relative path of ordinary components, so the layer cannot write outside the rootfs.
Expected<void> checkLayerPath(std::string_view path) {
  if (path.empty() || path.front() == '/' || path.back() == '/' || path.find('\0') != path.npos)
    return invalid(fmt::format("bad path \"{}\" for a file in the image", path));
  for (size_t start = 0; start <= path.size();) {
    size_t end = std::min(path.find('/', start), path.size());
    std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..")
      return invalid(fmt::format("bad path \"{}\" for a file in the image", path));
    start = end + 1;
  }
  if (!isValidUtf8(path)) return invalid("a file path in the image is not UTF-8");
  return {};
}

// The rootfs tar: files sorted by path, each preceded by the directories it needs.
Expected<Bytes> buildLayer(const std::vector<LayerFile>& files) {
  std::vector<const LayerFile*> sorted;
  for (const auto& f : files) {
    TRY_VOID(checkLayerPath(f.path));
    sorted.push_back(&f);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const LayerFile* a, const LayerFile* b) { return a->path < b->path; });
  TarWriter tar;
  std::set<std::string, std::less<>> dirs, paths;
  for (const LayerFile* f : sorted) {
    if (!paths.insert(f->path).second)
      return invalid(fmt::format("two files at \"{}\" in the image", f->path));
    for (size_t slash = f->path.find('/'); slash != std::string::npos;
         slash = f->path.find('/', slash + 1)) {
      std::string dir = f->path.substr(0, slash);
      if (!dirs.insert(dir).second) continue;
      if (paths.count(dir))
        return invalid(fmt::format("\"{}\" is both a file and a directory in the image", dir));
      TRY_VOID(tar.addDirectory(dir));
    }
    TRY_VOID(tar.addFile(f->path, f->content, f->mode));
  }
  return std::move(tar).finish();
}

Expected<void> checkStrings(const ImageSpec& spec) {
  // The message leaves the bad bytes out: they would garble a terminal or a log.
  auto check = [](std::string_view what, const std::vector<std::string>& items) -> Expected<void> {
    for (size_t i = 0; i < items.size(); ++i)
      if (!isValidUtf8(items[i])) return invalid(fmt::format("{} {} is not UTF-8", what, i + 1));
    return {};
  };
  TRY_VOID(check("entrypoint element", spec.entrypoint));
  TRY_VOID(check("cmd argument", spec.cmd));
  return check("platform field", {spec.architecture, spec.os});
}

std::string configJson(const ImageSpec& spec, const Descriptor& layer) {
  JsonWriter json;
  json.beginObject();
  json.key("architecture").value(spec.architecture).key("os").value(spec.os);
  json.key("config").beginObject();
  if (!spec.entrypoint.empty()) json.key("Entrypoint").stringArray(spec.entrypoint);
  if (!spec.cmd.empty()) json.key("Cmd").stringArray(spec.cmd);
  json.endObject();
  // An uncompressed layer's diff_id is its own digest.
  json.key("rootfs").beginObject().key("type").value("layers");
  json.key("diff_ids").stringArray({layer.digest}).endObject();
  json.endObject();
  return std::move(json).take();
}

std::string manifestJson(const Descriptor& config, const Descriptor& layer) {
  JsonWriter json;
  json.beginObject().key("schemaVersion").value(uint64_t{2});
  json.key("mediaType").value(media_type::kImageManifest);
  json.key("config").beginObject();
  writeDescriptor(json, config);
  json.endObject().key("layers").beginArray().beginObject();
  writeDescriptor(json, layer);
  json.endObject().endArray().endObject();
  return std::move(json).take();
}

std::string indexJson(const ImageSpec& spec, const Descriptor& manifest) {
  JsonWriter json;
  json.beginObject().key("schemaVersion").value(uint64_t{2});
  json.key("mediaType").value(media_type::kImageIndex);
  json.key("manifests").beginArray().beginObject();
  writeDescriptor(json, manifest);
  // Keys sorted, as Go writes a map.
  json.key("annotations").beginObject();
  json.key(annotation::kContainerdImageName).value(spec.reference.full());
  json.key(annotation::kRefName).value(spec.reference.tag);
  json.endObject();
  json.key("platform").beginObject();
  json.key("architecture").value(spec.architecture).key("os").value(spec.os);
  json.endObject().endObject().endArray().endObject();
  return std::move(json).take();
}

// Octal, zero-padded to width - 1 digits and NUL-terminated, as ustar's numeric fields.
bool putOctal(uint8_t* field, size_t width, uint64_t value) {
  std::string digits = fmt::format("{:0{}o}", value, width - 1);
  if (digits.size() > width - 1) return false;
  std::memcpy(field, digits.data(), digits.size());
  field[width - 1] = '\0';
  return true;
}

}  // namespace

Expected<ImageReference> parseImageReference(std::string_view name) {
  auto bad = [&](std::string_view why) {
    return invalid(fmt::format("bad image name \"{}\": {}", name, why));
  };
  if (name.empty()) return bad("empty");
  if (name.find('@') != name.npos) return bad("digest references are not supported");
  ImageReference ref;
  size_t lastSlash = name.rfind('/');
  size_t colon = name.rfind(':');
  std::string_view repo = name;
  if (colon != name.npos && (lastSlash == name.npos || colon > lastSlash)) {
    ref.tag = std::string(name.substr(colon + 1));
    repo = name.substr(0, colon);
    if (!isTag(ref.tag)) return bad("a tag is 1-128 of [A-Za-z0-9_.-], not starting with . or -");
  } else {
    ref.tag = "latest";
  }
  std::string_view first = repo.substr(0, repo.find('/'));
  bool hasDomain = repo.find('/') != repo.npos &&
                   (first.find_first_of(".:") != first.npos || first == "localhost");
  if (hasDomain && !isDomain(first)) return bad("malformed registry");
  std::string_view path = hasDomain ? repo.substr(first.size() + 1) : repo;
  for (size_t start = 0; start <= path.size();) {
    size_t end = std::min(path.find('/', start), path.size());
    if (!isPathComponent(path.substr(start, end - start)))
      return bad("path components are lower-case letters and digits joined by . _ __ or -");
    start = end + 1;
  }
  // Docker Hub's official images live under library/, whichever way the hub is spelled.
  bool hub = !hasDomain || first == "docker.io" || first == "index.docker.io";
  if (!hub) {
    ref.repository = std::string(repo);
  } else if (path.find('/') == path.npos) {
    ref.repository = "docker.io/library/" + std::string(path);
  } else {
    ref.repository = "docker.io/" + std::string(path);
  }
  if (ref.repository.size() > 255) return bad("longer than 255 characters");
  return ref;
}

Expected<BuiltImage> buildImage(const ImageSpec& spec) {
  if (spec.rootfs.empty()) return invalid("the image has no files");
  TRY_VOID(checkStrings(spec));
  BuiltImage image;
  TRY(Bytes layer, buildLayer(spec.rootfs));
  image.layers.push_back(describe(media_type::kLayerTar, layer));
  Bytes config = toBytes(configJson(spec, image.layers.front()));
  image.config = describe(media_type::kImageConfig, config);
  Bytes manifest = toBytes(manifestJson(image.config, image.layers.front()));
  image.manifest = describe(media_type::kImageManifest, manifest);

  // Blobs in digest order, each once (identical content shares one blob).
  std::map<std::string, const Bytes*> blobs{{image.layers.front().digest, &layer},
                                            {image.config.digest, &config},
                                            {image.manifest.digest, &manifest}};
  TarWriter tar;
  TRY_VOID(tar.addFile("oci-layout", toBytes(R"({"imageLayoutVersion":"1.0.0"})")));
  TRY_VOID(tar.addFile("index.json", toBytes(indexJson(spec, image.manifest))));
  TRY_VOID(tar.addDirectory("blobs"));
  TRY_VOID(tar.addDirectory("blobs/sha256"));
  for (const auto& [digest, blob] : blobs)
    TRY_VOID(tar.addFile("blobs/sha256/" + digest.substr(std::strlen("sha256:")), *blob));
  image.tarball = std::move(tar).finish();
  return image;
}

Expected<BuiltImage> writeImageTarball(const ImageSpec& spec, const std::filesystem::path& out) {
  TRY(BuiltImage image, buildImage(spec));
  TRY_VOID(writeFileAtomic(out, image.tarball));
  return image;
}

// ---- TarWriter -----------------------------------------------------------------------

namespace {
constexpr size_t kBlock = 512;
// ustar header fields: offset, width.
constexpr size_t kName = 0, kNameLen = 100, kMode = 100, kUid = 108, kGid = 116, kSize = 124;
constexpr size_t kMtime = 136, kChecksum = 148, kType = 156, kMagic = 257, kPrefix = 345;
constexpr size_t kPrefixLen = 155;
}  // namespace

Expected<void> TarWriter::addFile(std::string_view path, std::span<const uint8_t> content,
                                  uint32_t mode) {
  TRY_VOID(addHeader(path, '0', mode, content.size()));
  out_.insert(out_.end(), content.begin(), content.end());
  out_.resize(out_.size() + (kBlock - content.size() % kBlock) % kBlock, 0);
  return {};
}

Expected<void> TarWriter::addDirectory(std::string_view path, uint32_t mode) {
  return addHeader(std::string(path) + "/", '5', mode, 0);
}

Bytes TarWriter::finish() && {
  out_.resize(out_.size() + 2 * kBlock, 0);
  return std::move(out_);
}

Expected<void> TarWriter::addHeader(std::string_view path, char type, uint32_t mode,
                                    uint64_t size) {
  uint8_t header[kBlock] = {};
  // Longer paths go into the prefix field, split at a '/' (the '/' itself is implied).
  std::string_view prefix, name = path;
  if (path.size() > kNameLen) {
    name = {};
    for (size_t slash = path.find('/'); slash != path.npos && slash <= kPrefixLen;
         slash = path.find('/', slash + 1)) {
      size_t rest = path.size() - slash - 1;
      if (slash > 0 && rest > 0 && rest <= kNameLen) {
        prefix = path.substr(0, slash);
        name = path.substr(slash + 1);
        break;
      }
    }
    if (name.empty()) return invalid(fmt::format("path too long for a ustar entry: {}", path));
  }
  // std::copy: memcpy from an empty view's null data() is undefined.
  std::copy(name.begin(), name.end(), header + kName);
  std::copy(prefix.begin(), prefix.end(), header + kPrefix);
  putOctal(header + kMode, 8, mode & 07777);
  putOctal(header + kUid, 8, 0);
  putOctal(header + kGid, 8, 0);
  if (!putOctal(header + kSize, 12, size))
    return invalid(fmt::format("{} is too large for a ustar entry (8 GiB or more)", path));
  putOctal(header + kMtime, 12, 0);
  header[kType] = static_cast<uint8_t>(type);
  static constexpr char kMagicAndVersion[8] = {'u', 's', 't', 'a', 'r', '\0', '0', '0'};
  std::memcpy(header + kMagic, kMagicAndVersion, sizeof(kMagicAndVersion));
  // The checksum is computed with its own field read as spaces.
  std::memset(header + kChecksum, ' ', 8);
  unsigned sum = 0;
  for (uint8_t b : header) sum += b;
  putOctal(header + kChecksum, 7, sum);
  out_.insert(out_.end(), header, header + kBlock);
  return {};
}

}  // namespace runwasi::oci
