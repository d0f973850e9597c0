#include "oci/image_reference.h"

#include <algorithm>
#include <cctype>

#include <fmt/core.h>

namespace runwasi::oci {
namespace {

tl::unexpected<Error> invalid(std::string message) {
  return makeError(ErrorCode::kInvalidArgument, std::move(message));
}

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

}  // namespace runwasi::oci
