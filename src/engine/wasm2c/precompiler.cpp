#include "engine/wasm2c/precompiler.h"

#include <fmt/core.h>

#include "common/temp_dir.h"
#include "engine/module_info.h"
#include "engine/wasm2c/artifact.h"
#include "engine/wasm2c/glue_generator.h"

namespace runwasi::engine::wasm2c {
namespace {

Expected<void> writeBytes(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  return writeFileAtomic(path, bytes);
}

std::span<const uint8_t> asBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

Expected<Bytes> Wasm2cPrecompiler::precompile(const ModuleSource& module) const {
  auto fail = [&](Error e) {
    return tl::unexpected(std::move(e).context("precompiling " + module.name + " with wasm2c"));
  };
  auto info = readModuleInfo(module.bytes);
  if (!info) return fail(info.error());
  if (auto ok = toolchain_.check(); !ok) return fail(ok.error());
  auto dir = TempDir::create("runwasi-wasm2c-");
  if (!dir) return fail(dir.error());
  const std::filesystem::path& d = dir->path();
  const std::string guest(kGuestName);

  if (auto ok = writeBytes(d / "guest.wasm", module.bytes); !ok) return fail(ok.error());
  if (auto ok = runTool({toolchain_.wasm2c(), "guest.wasm", "-n", guest, "-o", guest + ".c"}, d,
                        d / "wasm2c.log");
      !ok)  // wasm2c 1.0.32 aborts without a message on some proposals (e.g. SIMD)
    return fail(std::move(ok).error().context("translating the module to C"));
  auto header = readFile(d / (guest + ".h"));
  if (!header) return fail(header.error());
  std::string_view headerText(reinterpret_cast<const char*>(header->data()), header->size());
  auto glue = generateGlue(GlueInput{headerText, &*info, module.digest, toolchain_.loadKey()});
  if (!glue) return fail(glue.error());
  if (auto ok = writeBytes(d / "glue.c", asBytes(*glue)); !ok) return fail(ok.error());

  std::vector<std::string> cc{toolchain_.compiler()};
  cc.insert(cc.end(), toolchain_.cflags().begin(), toolchain_.cflags().end());
  // wasm-rt.h; a system directory given with -I would change the system include order.
  if (std::string inc = toolchain_.includeDir();
      inc != "/usr/include" && inc != "/usr/local/include")
    cc.insert(cc.end(), {"-I", inc});
  for (std::string arg : {std::string("-I."), std::string("-o"), std::string("guest.so"),
                          guest + ".c", std::string("glue.c"), std::string("-lm")})
    cc.push_back(std::move(arg));
  if (auto ok = runTool(cc, d, d / "cc.log"); !ok)
    return fail(std::move(ok).error().context("compiling the C translation"));
  auto so = readFile(d / "guest.so");
  if (!so || so->empty())
    return fail(so ? Error{ErrorCode::kInternal, 0, "the compiler wrote no shared object"}
                   : so.error());
  return sealArtifact(std::move(*so), module.digest, toolchain_.loadKey());
}

}  // namespace runwasi::engine::wasm2c
