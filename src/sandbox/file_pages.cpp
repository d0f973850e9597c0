#include "sandbox/file_pages.h"

#include <sys/mman.h>

#include <charconv>
#include <cstdint>
#include <string_view>

#include "common/file.h"

namespace runwasi::sandbox {
namespace {

// One mapping of /proc/self/smaps, as far as releasing its pages needs.
struct Mapping {
  uintptr_t start = 0, end = 0;
  std::string_view perms, path;
  size_t rssKb = 0, anonymousKb = 0;
};

uintptr_t parseHex(std::string_view text) {
  uintptr_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value, 16);
  return value;
}

// "Rss:    8776 kB" -> 8776.
size_t parseKb(std::string_view rest) {
  size_t begin = rest.find_first_not_of(' ');
  if (begin == std::string_view::npos) return 0;
  size_t value = 0;
  std::from_chars(rest.data() + begin, rest.data() + rest.size(), value);
  return value;
}

// "start-end perms offset dev inode [path]": false for a field line ("Rss: ...").
bool parseHeader(std::string_view line, Mapping& m) {
  size_t dash = line.find('-');
  size_t space = line.find(' ');
  if (dash == std::string_view::npos || space == std::string_view::npos || dash > space)
    return false;
  if (line.substr(0, dash).find_first_not_of("0123456789abcdef") != std::string_view::npos)
    return false;
  m = Mapping{};
  m.start = parseHex(line.substr(0, dash));
  m.end = parseHex(line.substr(dash + 1, space - dash - 1));
  std::string_view rest = line.substr(space + 1);
  m.perms = rest.substr(0, rest.find(' '));
  // Skip offset, dev and inode; the path is what follows, after the padding.
  for (int field = 0; field < 4 && !rest.empty(); ++field) {
    size_t next = rest.find(' ');
    rest = next == std::string_view::npos ? std::string_view() : rest.substr(next + 1);
  }
  size_t begin = rest.find_first_not_of(' ');
  m.path = begin == std::string_view::npos ? std::string_view() : rest.substr(begin);
  return true;
}

// Calls `visit` with each mapping of /proc/self/maps (no sizes: cheap) or, with `sizes`,
// of /proc/self/smaps at its VmFlags line, the last of an entry (smaps walks the page
// tables: ~1 ms with V8's mappings).
template <typename Visit>
Expected<void> forEachMapping(bool sizes, Visit visit) {
  TRY(Bytes smaps, readFile(sizes ? "/proc/self/smaps" : "/proc/self/maps"));
  std::string_view text(reinterpret_cast<const char*>(smaps.data()), smaps.size());
  Mapping current;
  bool inside = false;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (!sizes) {
      if (parseHeader(line, current)) visit(current);
    } else if (line.starts_with("Rss:")) {
      current.rssKb = parseKb(line.substr(4));
    } else if (line.starts_with("Anonymous:")) {
      current.anonymousKb = parseKb(line.substr(10));
    } else if (line.starts_with("VmFlags:")) {
      if (inside) visit(current);
      inside = false;
    } else if (parseHeader(line, current)) {
      inside = true;
    }
  }
  return {};
}

bool isFile(std::string_view path) {
  return path.starts_with('/') && !path.ends_with(" (deleted)");
}

}  // namespace

Expected<std::unordered_set<std::string>> mappedFiles() {
  std::unordered_set<std::string> files;
  TRY_VOID(forEachMapping(false, [&](const Mapping& m) {
    if (isFile(m.path)) files.emplace(m.path);
  }));
  return files;
}

namespace {

bool releasable(const Mapping& m, const std::unordered_set<std::string>& keep) {
  bool readOnlyPrivate = m.perms.size() == 4 && m.perms[1] != 'w' && m.perms[3] == 'p';
  return readOnlyPrivate && isFile(m.path) && !keep.contains(std::string(m.path));
}

}  // namespace

Expected<ReleasedPages> releaseCleanFilePages(const std::unordered_set<std::string>& keep) {
  // Collected first: madvise while smaps is being parsed would change what it describes.
  struct Range {
    uintptr_t start, end;
    size_t rssKb;
  };
  std::vector<Range> ranges;
  // The common case after a fork that inherited the engine: nothing to release, and no
  // need for smaps.
  bool any = false;
  TRY_VOID(forEachMapping(false, [&](const Mapping& m) { any = any || releasable(m, keep); }));
  if (!any) return ReleasedPages{};
  TRY_VOID(forEachMapping(true, [&](const Mapping& m) {
    if (releasable(m, keep) && m.anonymousKb == 0 && m.rssKb != 0)
      ranges.push_back({m.start, m.end, m.rssKb});
  }));
  ReleasedPages released;
  for (const Range& r : ranges) {
    // EINVAL for a locked mapping: it stays, as it should.
    if (::madvise(reinterpret_cast<void*>(r.start), r.end - r.start, MADV_DONTNEED) != 0) continue;
    ++released.mappings;
    released.bytes += r.rssKb * 1024;
  }
  return released;
}

}  // namespace runwasi::sandbox
