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

}  // namespace runwasi::stress
