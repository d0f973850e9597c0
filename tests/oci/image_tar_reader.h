// Test support: an independent reader of the image builder's tarballs (ustar entries, the
// index, manifest and config as JSON, every blob checked against its digest).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/file.h"

namespace runwasi::testing {

// One ustar entry as our reader sees it.
struct TarEntry {
  std::string path;
  char type = 0;
  std::string mode;
  std::string content;
};

inline Bytes bytesOf(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

inline std::string textOf(const Bytes& b) {
  return std::string(b.begin(), b.end());
}

// Parses a ustar archive, checking each header's checksum, uid/gid/mtime 0 and the
// two-block trailer.
inline std::vector<TarEntry> readTar(const Bytes& tar) {
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

inline const TarEntry* findEntry(const std::vector<TarEntry>& entries, std::string_view path) {
  for (const auto& e : entries)
    if (e.path == path) return &e;
  return nullptr;
}

// An image layout read back: its JSON documents and its blobs by digest, each blob's name
// checked to be the sha256 of its content and every descriptor's size checked.
struct ReadImage {
  std::vector<TarEntry> entries;
  nlohmann::json index, manifest, config;
  std::map<std::string, std::string> blobs;  // "sha256:<hex>" -> content

  // The blob a descriptor names, after checking its size; "" (and a failure) when absent.
  std::string blob(const nlohmann::json& descriptor) const {
    auto it = blobs.find(descriptor.at("digest").get<std::string>());
    if (it == blobs.end()) {
      ADD_FAILURE() << "no blob for " << descriptor;
      return "";
    }
    EXPECT_EQ(it->second.size(), descriptor.at("size").get<uint64_t>()) << descriptor;
    return it->second;
  }
};

inline ReadImage readImage(const Bytes& tarball) {
  ReadImage image;
  image.entries = readTar(tarball);
  for (const auto& e : image.entries) {
    if (!e.path.starts_with("blobs/sha256/") || e.type != '0') continue;
    std::string hex = e.path.substr(std::string_view("blobs/sha256/").size());
    EXPECT_EQ(sha256Hex(bytesOf(e.content)), hex) << e.path;
    image.blobs.emplace("sha256:" + hex, e.content);
  }
  const TarEntry* index = findEntry(image.entries, "index.json");
  if (!index) {
    ADD_FAILURE() << "no index.json";
    return image;
  }
  image.index = nlohmann::json::parse(index->content);
  EXPECT_EQ(image.index.at("manifests").size(), 1u);
  image.manifest = nlohmann::json::parse(image.blob(image.index.at("manifests").at(0)));
  image.config = nlohmann::json::parse(image.blob(image.manifest.at("config")));
  for (const auto& layer : image.manifest.at("layers")) image.blob(layer);
  // Every blob is referenced: index entry, config and layers (no strays).
  size_t referenced = 2 + image.manifest.at("layers").size();
  std::vector<std::string> digests;
  for (const auto& layer : image.manifest.at("layers")) digests.push_back(layer.at("digest"));
  std::sort(digests.begin(), digests.end());
  referenced -= digests.end() - std::unique(digests.begin(), digests.end());
  EXPECT_EQ(image.blobs.size(), referenced);
  return image;
}

}  // namespace runwasi::testing
