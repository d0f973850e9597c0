#include "oci/entrypoint.h"

namespace runwasi::oci {

Entrypoint parseEntrypoint(std::string_view spec) {
  Entrypoint e;
  size_t hash = spec.rfind('#');
  std::string_view path = hash == std::string_view::npos ? spec : spec.substr(0, hash);
  if (hash != std::string_view::npos && hash + 1 < spec.size()) e.func = spec.substr(hash + 1);
  e.path = path;
  std::string_view base =
      path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1);
  if (base.ends_with(".wasm")) base.remove_suffix(5);
  e.name = base;
  return e;
}

}  // namespace runwasi::oci
