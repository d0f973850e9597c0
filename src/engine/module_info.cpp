#include "engine/module_info.h"

#include <fmt/core.h>

#include "wasi/function_table.h"

namespace runwasi::engine {
namespace {

// A bounds-checked cursor over the module bytes; every read reports truncation.
class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, size_t offset = 0) : bytes_(bytes), pos_(offset) {}

  size_t pos() const { return pos_; }
  bool atEnd() const { return pos_ >= bytes_.size(); }

  Expected<uint8_t> byte() {
    if (pos_ >= bytes_.size()) return truncated();
    return bytes_[pos_++];
  }

  Expected<uint32_t> u32() {
    uint64_t result = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      TRY(uint8_t b, byte());
      result |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        if (result > UINT32_MAX) break;
        return static_cast<uint32_t>(result);
      }
    }
    return invalid(fmt::format("malformed LEB128 integer at offset {}", pos_));
  }

  Expected<std::string> name() {
    TRY(uint32_t len, u32());
    if (len > bytes_.size() - pos_) return truncated();
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), len);
    pos_ += len;
    return s;
  }

  Expected<void> skip(uint64_t n) {
    if (n > bytes_.size() - pos_) return truncated();
    pos_ += n;
    return {};
  }

  tl::unexpected<Error> truncated() const {
    return invalid(fmt::format("truncated module (unexpected end at offset {})", bytes_.size()));
  }
  static tl::unexpected<Error> invalid(std::string message) {
    return makeError(ErrorCode::kInvalidArgument, std::move(message));
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_;
};

Expected<char> valueType(Reader& r) {
  TRY(uint8_t t, r.byte());
  switch (t) {
    case 0x7f:
      return 'i';
    case 0x7e:
      return 'I';
    case 0x7d:
      return 'f';
    case 0x7c:
      return 'F';
    case 0x7b:
      return 'v';
    case 0x70:
    case 0x6f:
      return 'r';
  }
  return Reader::invalid(fmt::format("invalid value type 0x{:02x}", t));
}

Expected<std::string> valueTypes(Reader& r) {
  TRY(uint32_t n, r.u32());
  std::string out;
  for (uint32_t i = 0; i < n; ++i) {
    TRY(char c, valueType(r));
    out.push_back(c);
  }
  return out;
}

Expected<void> skipLimits(Reader& r) {
  TRY(uint8_t flags, r.byte());
  TRY_VOID(r.u32());
  if (flags & 1) TRY_VOID(r.u32());
  return {};
}

Expected<void> readTypes(Reader& r, ModuleInfo& info) {
  TRY(uint32_t count, r.u32());
  for (uint32_t i = 0; i < count; ++i) {
    TRY(uint8_t form, r.byte());
    if (form != 0x60)
      return Reader::invalid(fmt::format("invalid function type form 0x{:02x}", form));
    FuncType type;
    TRY(type.params, valueTypes(r));
    TRY(type.results, valueTypes(r));
    info.types.push_back(std::move(type));
  }
  return {};
}

Expected<void> readImports(Reader& r, ModuleInfo& info) {
  TRY(uint32_t count, r.u32());
  for (uint32_t i = 0; i < count; ++i) {
    Import imp;
    TRY(imp.module, r.name());
    TRY(imp.name, r.name());
    TRY(uint8_t kind, r.byte());
    imp.kind = static_cast<ExternKind>(kind);
    switch (imp.kind) {
      case ExternKind::kFunction: {
        TRY(imp.typeIndex, r.u32());
        if (imp.typeIndex >= info.types.size())
          return Reader::invalid(
              fmt::format("import {}.{} has an invalid type index", imp.module, imp.name));
        break;
      }
      case ExternKind::kTable: {
        TRY_VOID(valueType(r));
        TRY_VOID(skipLimits(r));
        break;
      }
      case ExternKind::kMemory:
        TRY_VOID(skipLimits(r));
        break;
      case ExternKind::kGlobal: {
        TRY_VOID(valueType(r));
        TRY_VOID(r.byte());
        break;
      }
      case ExternKind::kTag: {
        TRY_VOID(r.byte());
        TRY_VOID(r.u32());
        break;
      }
      default:
        return Reader::invalid(
            fmt::format("import {}.{} has invalid kind {}", imp.module, imp.name, kind));
    }
    info.imports.push_back(std::move(imp));
  }
  return {};
}

Expected<void> readFunctions(Reader& r, ModuleInfo& info) {
  TRY(uint32_t count, r.u32());
  for (uint32_t i = 0; i < count; ++i) {
    TRY(uint32_t type, r.u32());
    if (type >= info.types.size()) return Reader::invalid("function has an invalid type index");
    info.functionTypes.push_back(type);
  }
  return {};
}

Expected<void> readExports(Reader& r, ModuleInfo& info) {
  TRY(uint32_t count, r.u32());
  for (uint32_t i = 0; i < count; ++i) {
    Export exp;
    TRY(exp.name, r.name());
    TRY(uint8_t kind, r.byte());
    if (kind > static_cast<uint8_t>(ExternKind::kTag))
      return Reader::invalid(fmt::format("export \"{}\" has invalid kind {}", exp.name, kind));
    exp.kind = static_cast<ExternKind>(kind);
    TRY(exp.index, r.u32());
    info.exports.push_back(std::move(exp));
  }
  return {};
}

std::string signature(const FuncType& t) {
  auto list = [](std::string_view letters) {
    std::string out;
    for (char c : letters) {
      if (!out.empty()) out += ", ";
      out += c == 'i'   ? "i32"
             : c == 'I' ? "i64"
             : c == 'f' ? "f32"
             : c == 'F' ? "f64"
             : c == 'v' ? "v128"
                        : "ref";
    }
    return out;
  };
  return "(" + list(t.params) + ") -> (" + list(t.results) + ")";
}

std::string_view kindName(ExternKind kind) {
  switch (kind) {
    case ExternKind::kFunction:
      return "function";
    case ExternKind::kTable:
      return "table";
    case ExternKind::kMemory:
      return "memory";
    case ExternKind::kGlobal:
      return "global";
    case ExternKind::kTag:
      return "tag";
  }
  return "extern";
}

}  // namespace

const FuncType* ModuleInfo::functionType(uint32_t index) const {
  uint32_t imported = 0;
  for (const Import& imp : imports) {
    if (imp.kind != ExternKind::kFunction) continue;
    if (imported == index) return &types[imp.typeIndex];
    ++imported;
  }
  uint32_t local = index - imported;
  if (local >= functionTypes.size()) return nullptr;
  return &types[functionTypes[local]];
}

const Export* ModuleInfo::findExport(std::string_view name) const {
  for (const Export& e : exports)
    if (e.name == name) return &e;
  return nullptr;
}

Expected<ModuleInfo> readModuleInfo(std::span<const uint8_t> bytes) {
  static constexpr uint8_t kMagic[] = {0x00, 0x61, 0x73, 0x6d};
  if (bytes.size() < 4 || !std::equal(std::begin(kMagic), std::end(kMagic), bytes.begin()))
    return Reader::invalid("not a WebAssembly module (no \\0asm magic)");
  if (bytes.size() < 8) return Reader(bytes).truncated();
  if (bytes[4] != 1 || bytes[5] != 0 || bytes[6] != 0 || bytes[7] != 0) {
    if (bytes[6] != 0 || bytes[7] != 0)  // layer/version of the component model
      return makeError(
          ErrorCode::kInvalidArgument,
          "a WebAssembly component, not a core module: only WASI preview1 modules run here");
    return Reader::invalid("unsupported WebAssembly binary version");
  }

  ModuleInfo info;
  Reader r(bytes, 8);
  while (!r.atEnd()) {
    TRY(uint8_t id, r.byte());
    TRY(uint32_t size, r.u32());
    size_t start = r.pos();
    if (size > bytes.size() - start)
      return Reader::invalid(
          fmt::format("truncated module (section {} at offset {} needs {} bytes, {} remain)", id,
                      start, size, bytes.size() - start));
    Reader section(bytes.first(start + size), start);
    switch (id) {
      case 1:
        TRY_VOID(readTypes(section, info));
        break;
      case 2:
        TRY_VOID(readImports(section, info));
        break;
      case 3:
        TRY_VOID(readFunctions(section, info));
        break;
      case 7:
        TRY_VOID(readExports(section, info));
        break;
      default:
        if (id > 13)
          return Reader::invalid(fmt::format("invalid section id {} at offset {}", id, start - 2));
        break;
    }
    TRY_VOID(r.skip(size));
  }
  return info;
}

Expected<void> checkLinkable(const ModuleInfo& info, std::string_view function, bool stubUnknown) {
  for (const Import& imp : info.imports) {
    std::string where = fmt::format("import {}.{}", imp.module, imp.name);
    if (imp.module == wasi::kModuleName) {
      const wasi::FunctionInfo* fn =
          imp.kind == ExternKind::kFunction ? wasi::findFunction(imp.name) : nullptr;
      if (!fn)
        return makeError(ErrorCode::kInvalidArgument,
                         fmt::format("unknown {} ({}): not a wasi_snapshot_preview1 function",
                                     where, kindName(imp.kind)));
      const FuncType& t = info.types[imp.typeIndex];
      std::string results = fn->hasResult ? "i" : "";
      if (t.params != fn->params || t.results != results)
        return makeError(ErrorCode::kInvalidArgument,
                         fmt::format("{} has type {}, expected {}", where, signature(t),
                                     signature(FuncType{std::string(fn->params), results})));
      continue;
    }
    if (imp.kind == ExternKind::kFunction && stubUnknown) continue;
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("unknown {} ({}): only wasi_snapshot_preview1 is provided", where,
                                 kindName(imp.kind)));
  }
  const Export* exp = info.findExport(function);
  if (!exp || exp->kind != ExternKind::kFunction)
    return makeError(ErrorCode::kNotFound,
                     fmt::format("module has no exported function \"{}\"", function));
  const FuncType* type = info.functionType(exp->index);
  if (!type)
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("export \"{}\" has an invalid index", function));
  if (!type->params.empty())
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("export \"{}\" has type {}: an entrypoint takes no parameters",
                                 function, signature(*type)));
  return {};
}

}  // namespace runwasi::engine
