// What the builder checks in a layer's content, and the diff_ids of tar layers.
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include <fmt/core.h>

#include "common/scope_exit.h"
#include "oci/image_builder.h"

namespace runwasi::oci {
namespace {

tl::unexpected<Error> invalid(std::string message) {
  return makeError(ErrorCode::kInvalidArgument, std::move(message));
}

// RFC 6838 restricted-name: 1-127 characters, the first alphanumeric.
bool isRestrictedName(std::string_view s) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (s.empty() || s.size() > 127 || !alnum(s.front())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return alnum(c) || std::string_view("!#$&-^_.+").find(c) != std::string_view::npos;
  });
}

// Decompresses a whole gzip file (concatenated members too, as gzip -d does); the output is
// held in memory, as the layer itself is.
Expected<Bytes> gunzip(std::span<const uint8_t> in) {
  z_stream zs{};
  // 16 + MAX_WBITS: a gzip wrapper, not zlib's or raw deflate.
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
    return makeError(ErrorCode::kInternal, "zlib: cannot start a gzip decoder");
  ScopeExit end([&] { inflateEnd(&zs); });
  Bytes out;
  size_t fed = 0;
  constexpr size_t kChunk = 1 << 16;
  constexpr size_t kMaxFeed = 1u << 30;  // avail_in is 32 bits
  for (;;) {
    if (zs.avail_in == 0 && fed < in.size()) {
      size_t n = std::min(in.size() - fed, kMaxFeed);
      zs.next_in = const_cast<Bytef*>(in.data() + fed);  // zlib does not write through it
      zs.avail_in = static_cast<uInt>(n);
      fed += n;
    }
    size_t had = out.size();
    out.resize(had + kChunk);
    zs.next_out = out.data() + had;
    zs.avail_out = kChunk;
    int rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(had + kChunk - zs.avail_out);
    bool inputLeft = zs.avail_in > 0 || fed < in.size();
    if (rc == Z_STREAM_END) {
      if (!inputLeft) return out;
      inflateReset(&zs);  // another member follows
    } else if (rc == Z_BUF_ERROR && !inputLeft) {
      return invalid("truncated gzip data");
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return invalid(fmt::format("not gzip data ({})", zs.msg ? zs.msg : "corrupt"));
    }
  }
}

std::string digestOf(std::span<const uint8_t> bytes) {
  return "sha256:" + sha256Hex(bytes);
}

}  // namespace

bool isMediaType(std::string_view s) {
  size_t slash = s.find('/');
  return slash != s.npos && isRestrictedName(s.substr(0, slash)) &&
         isRestrictedName(s.substr(slash + 1));
}

LayerKind layerKind(std::string_view mediaType) {
  for (const auto& type : kLayerTypes)
    if (type.mediaType == mediaType) return type.kind;
  return LayerKind::kOther;
}

Expected<void> checkWasmModule(std::span<const uint8_t> bytes) {
  static constexpr uint8_t kMagic[] = {0x00, 'a', 's', 'm'};
  static constexpr uint8_t kModuleVersion[] = {0x01, 0x00, 0x00, 0x00};
  if (bytes.size() < 8 || !std::equal(std::begin(kMagic), std::end(kMagic), bytes.begin()))
    return invalid("not a WebAssembly module (no \\0asm header)");
  if (!std::equal(std::begin(kModuleVersion), std::end(kModuleVersion), bytes.begin() + 4)) {
    // Components carry layer 1 in the upper half of the version field (0x0001000d).
    bool component = bytes[6] == 0x01 && bytes[7] == 0x00;
    return invalid(component ? "a WebAssembly component, not a core module (wasip1)"
                             : "not a WebAssembly module (unknown binary version)");
  }
  return {};
}

Expected<std::optional<std::string>> layerDiffId(std::string_view mediaType,
                                                 std::span<const uint8_t> content) {
  switch (layerKind(mediaType)) {
    case LayerKind::kWasm:
      TRY_VOID(checkWasmModule(content));
      return std::nullopt;
    case LayerKind::kOther:
      return std::nullopt;
    case LayerKind::kTar:
      if (!looksLikeTar(content))
        return invalid(fmt::format("not a tar archive, which media type {} says it is", mediaType));
      return digestOf(content);
    case LayerKind::kTarGzip: {
      auto tar = gunzip(content);
      if (!tar)
        return invalid(
            fmt::format("{}, which media type {} says it is", tar.error().message, mediaType));
      if (!looksLikeTar(*tar))
        return invalid(
            fmt::format("not a gzip-compressed tar archive, which media type {} says "
                        "it is",
                        mediaType));
      return digestOf(*tar);
    }
    case LayerKind::kTarZstd:
      return makeError(ErrorCode::kUnimplemented,
                       fmt::format("{}: zstd-compressed layers are not supported (their diff_id "
                                   "needs a zstd decoder); give the tar uncompressed or gzipped",
                                   mediaType));
  }
  return makeError(ErrorCode::kInternal, "unknown layer kind");
}

}  // namespace runwasi::oci
