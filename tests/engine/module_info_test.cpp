// Reading modules and the link checks that run before any engine sees the bytes.
#include <gtest/gtest.h>

#include <set>

#include "engine/module_info.h"

namespace runwasi::engine {
namespace {

using B = std::vector<uint8_t>;

B header() {
  return {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
}

B section(uint8_t id, B body) {
  B s{id, static_cast<uint8_t>(body.size())};
  for (uint8_t b : body) s.push_back(b);
  return s;
}

B name(std::string_view n) {
  B b{static_cast<uint8_t>(n.size())};
  for (char c : n) b.push_back(static_cast<uint8_t>(c));
  return b;
}

B cat(std::initializer_list<B> parts) {
  B out;
  for (const B& p : parts)
    for (uint8_t b : p) out.push_back(b);
  return out;
}

// A module: types [() -> (), (i32) -> ()], the given function imports, one function of
// type 0 exported as `exportName`.
B module(std::vector<std::pair<std::string, std::string>> imports, uint8_t importType,
         std::string exportName) {
  B types = section(1, {0x02, 0x60, 0x00, 0x00, 0x60, 0x01, 0x7f, 0x00});
  B imp{static_cast<uint8_t>(imports.size())};
  for (auto& [m, n] : imports) imp = cat({imp, name(m), name(n), {0x00, importType}});
  B funcs = section(3, {0x01, 0x00});
  B exps =
      section(7, cat({{0x01}, name(exportName), {0x00, static_cast<uint8_t>(imports.size())}}));
  return cat({header(), types, section(2, imp), funcs, exps});
}

TEST(ModuleInfo, ReadsImportsExportsAndTypes) {
  auto info = readModuleInfo(module({{"wasi_snapshot_preview1", "proc_exit"}}, 1, "_start"));
  ASSERT_TRUE(info) << info.error().message;
  ASSERT_EQ(info->imports.size(), 1u);
  EXPECT_EQ(info->imports[0].name, "proc_exit");
  EXPECT_EQ(info->types[info->imports[0].typeIndex].params, "i");
  const Export* start = info->findExport("_start");
  ASSERT_NE(start, nullptr);
  EXPECT_EQ(info->functionType(start->index)->params, "");
  EXPECT_TRUE(checkLinkable(*info, "_start", false));
}

TEST(ModuleInfo, RejectsNonWasm) {
  B text{'h', 'e', 'l', 'l', 'o', '\n'};
  auto info = readModuleInfo(text);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().message, "not a WebAssembly module (no \\0asm magic)");
  EXPECT_FALSE(readModuleInfo(B{}));
}

TEST(ModuleInfo, RejectsTruncationInsideAnySection) {
  B m = module({{"wasi_snapshot_preview1", "proc_exit"}}, 1, "_start");
  // Cutting between sections leaves a shorter valid module; cutting inside one must fail.
  std::set<size_t> boundaries{8};
  for (size_t at = 8; at < m.size(); at += 2 + m[at + 1]) boundaries.insert(at + 2 + m[at + 1]);
  for (size_t len = 0; len < m.size(); ++len) {
    B cut(m.begin(), m.begin() + static_cast<long>(len));
    auto info = readModuleInfo(cut);
    if (boundaries.count(len)) {
      EXPECT_TRUE(info) << "length " << len;
      continue;
    }
    ASSERT_FALSE(info) << "length " << len;
    if (len >= 4) {
      EXPECT_NE(info.error().message.find("truncated"), std::string::npos) << info.error().message;
    }
  }
}

TEST(ModuleInfo, RejectsAComponent) {
  B component{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00};
  auto info = readModuleInfo(component);
  ASSERT_FALSE(info);
  EXPECT_NE(info.error().message.find("component"), std::string::npos);
}

TEST(ModuleInfo, UnknownImportIsNamedUnlessStubbed) {
  auto info = readModuleInfo(module({{"env", "host_magic"}}, 0, "_start"));
  ASSERT_TRUE(info);
  auto linked = checkLinkable(*info, "_start", false);
  ASSERT_FALSE(linked);
  EXPECT_EQ(linked.error().message,
            "unknown import env.host_magic (function): only wasi_snapshot_preview1 is provided");
  EXPECT_TRUE(checkLinkable(*info, "_start", true));
}

TEST(ModuleInfo, UnknownWasiFunctionIsNamed) {
  auto info = readModuleInfo(module({{"wasi_snapshot_preview1", "no_such_call"}}, 0, "_start"));
  ASSERT_TRUE(info);
  auto linked = checkLinkable(*info, "_start", true);
  ASSERT_FALSE(linked);
  EXPECT_NE(linked.error().message.find("wasi_snapshot_preview1.no_such_call"), std::string::npos);
}

TEST(ModuleInfo, WasiImportOfTheWrongTypeIsNamed) {
  auto info = readModuleInfo(module({{"wasi_snapshot_preview1", "fd_write"}}, 1, "_start"));
  ASSERT_TRUE(info);
  auto linked = checkLinkable(*info, "_start", false);
  ASSERT_FALSE(linked);
  EXPECT_EQ(linked.error().message,
            "import wasi_snapshot_preview1.fd_write has type (i32) -> (), expected (i32, i32, i32, "
            "i32) -> (i32)");
}

TEST(ModuleInfo, EntrypointMustBeAnExportedFunctionWithoutParameters) {
  auto info = readModuleInfo(module({}, 0, "main"));
  ASSERT_TRUE(info);
  auto missing = checkLinkable(*info, "_start", false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "module has no exported function \"_start\"");
  EXPECT_TRUE(checkLinkable(*info, "main", false));
}

}  // namespace
}  // namespace runwasi::engine
