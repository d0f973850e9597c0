#include "bundle.h"

#include <fmt/format.h>

#include "common/file.h"
#include "oci/default_spec.h"

namespace runwasi::stress {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::span<const uint8_t> bytesOf(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

}  // namespace

json taskSpec(const std::string& id, const BundleSpec& spec) {
  std::vector<std::string> args = {"/" + spec.module.filename().string()};
  args.insert(args.end(), spec.args.begin(), spec.args.end());
  json s = json::parse(oci::defaultSpecJson(args, fmt::format("/{}/{}", spec.ns, id)));
  if (spec.sandboxId) s["annotations"] = {{kSandboxIdAnnotation, *spec.sandboxId}};
  return s;
}

Expected<void> writeBundle(const fs::path& dir, const std::string& id, const BundleSpec& spec) {
  std::error_code ec;
  if (!fs::create_directory(dir, ec) || !fs::create_directory(dir / "rootfs", ec))
    return makeError(ErrorCode::kInternal, fmt::format("creating the bundle {}: {}", dir.string(),
                                                       ec ? ec.message() : "it exists"));
  // A copy, not a link: a task may write to its rootfs, never to the caller's module.
  if (!fs::copy_file(spec.module, dir / "rootfs" / spec.module.filename(), ec))
    return makeError(ErrorCode::kInternal, fmt::format("copying {} into the bundle: {}",
                                                       spec.module.string(), ec.message()));
  TRY_VOID(writeFileAtomic(dir / "config.json", bytesOf(taskSpec(id, spec).dump())));
  // Regular files: the shim appends to them (containerd would pass FIFOs).
  TRY_VOID(writeFileAtomic(dir / "stdout", {}));
  TRY_VOID(writeFileAtomic(dir / "stderr", {}));
  return {};
}

std::vector<std::string> mountsUnder(const fs::path& dir) {
  std::vector<std::string> out;
  auto info = readFile("/proc/self/mountinfo");
  if (!info) return out;
  std::string_view text(reinterpret_cast<const char*>(info->data()), info->size());
  const std::string prefix = dir.string();
  while (!text.empty()) {
    std::string_view line = text.substr(0, text.find('\n'));
    text.remove_prefix(std::min(text.size(), line.size() + 1));
    // Fields: id parent major:minor root mount-point ...
    size_t field = 0, pos = 0;
    for (; field < 4 && pos != std::string_view::npos; ++field) {
      pos = line.find(' ', pos);
      if (pos != std::string_view::npos) ++pos;
    }
    if (pos == std::string_view::npos) continue;
    std::string_view point = line.substr(pos, line.find(' ', pos) - pos);
    if (point == prefix ||
        (point.starts_with(prefix) && point.substr(prefix.size()).starts_with('/')))
      out.emplace_back(point);
  }
  return out;
}

}  // namespace runwasi::stress
