#include "engine/wasm2c/glue_generator.h"

#include <fmt/core.h>

#include <set>
#include <vector>

#include "engine/wasm2c/glue_abi.h"
#include "wasi/function_table.h"

namespace runwasi::engine::wasm2c {
namespace {

// A C prototype as wasm2c declared it in the header: "u32 NAME(struct X*, u32, u64);".
struct Prototype {
  std::string result;               // "void", "u32", "struct wasm_multi_ij", ...
  std::vector<std::string> params;  // the instance pointer first
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// The declaration of `symbol` in the header (one line each in wasm2c 1.0.32's output).
Expected<Prototype> findPrototype(std::string_view header, std::string_view symbol) {
  std::string needle = fmt::format(" {}(", symbol);
  size_t at = header.find(needle);
  if (at == std::string_view::npos)
    return makeError(ErrorCode::kInternal,
                     fmt::format("wasm2c's header does not declare {}", symbol));
  size_t lineStart = header.rfind('\n', at);
  lineStart = lineStart == std::string_view::npos ? 0 : lineStart + 1;
  size_t lineEnd = header.find('\n', at);
  std::string_view line = header.substr(lineStart, lineEnd - lineStart);
  size_t open = line.find('(', at - lineStart);
  size_t close = line.rfind(')');
  if (close == std::string_view::npos || close < open)
    return makeError(ErrorCode::kInternal,
                     fmt::format("cannot read the declaration of {}", symbol));
  Prototype proto;
  proto.result = std::string(trim(line.substr(0, at - lineStart)));
  if (proto.result.starts_with("extern ")) proto.result.erase(0, 7);
  std::string_view params = line.substr(open + 1, close - open - 1);
  while (!params.empty()) {
    size_t comma = params.find(',');
    proto.params.emplace_back(trim(params.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    params.remove_prefix(comma + 1);
  }
  return proto;
}

// The fields of Z_guest_instance_t that hold a memory the instance owns.
std::vector<std::string> ownedMemories(std::string_view header) {
  std::vector<std::string> fields;
  std::string open = fmt::format("typedef struct Z_{}_instance_t {{", kGuestName);
  size_t begin = header.find(open);
  if (begin == std::string_view::npos) return fields;
  size_t end = header.find('}', begin);
  std::string_view body = header.substr(begin + open.size(), end - begin - open.size());
  constexpr std::string_view kType = "wasm_rt_memory_t ";
  while (!body.empty()) {
    size_t nl = body.find('\n');
    std::string_view line = trim(body.substr(0, nl));
    if (line.starts_with(kType) && line.ends_with(";"))
      fields.emplace_back(line.substr(kType.size(), line.size() - kType.size() - 1));
    if (nl == std::string_view::npos) break;
    body.remove_prefix(nl + 1);
  }
  return fields;
}

// A C string literal holding exactly these bytes.
std::string cString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\' || c == '?' || c < 0x20 || c >= 0x7f)
      out += fmt::format("\\{:03o}", c);
    else
      out += static_cast<char>(c);
  }
  return out + "\"";
}

const wasi::FunctionInfo* wasiFunction(std::string_view name) {
  for (const wasi::FunctionInfo& fn : wasi::kFunctions)
    if (fn.name == name) return &fn;
  return nullptr;
}

// A definition's head: "RET SYMBOL(T0 a0, T1 a1, ...)".
std::string definitionHead(std::string_view symbol, const Prototype& proto) {
  std::string head = fmt::format("{} {}(", proto.result, symbol);
  for (size_t i = 0; i < proto.params.size(); ++i)
    head += fmt::format("{}{} a{}", i ? ", " : "", proto.params[i], i);
  return head + ")";
}

Expected<std::string> wasiImport(const Import& imp, std::string_view symbol,
                                 const Prototype& proto) {
  const wasi::FunctionInfo* fn = wasiFunction(imp.name);
  if (!fn)
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("unknown import {}.{}: not a wasi_snapshot_preview1 function",
                                 imp.module, imp.name));
  // wasm2c's C types must be the table's: the host reads exactly these arguments.
  bool ok = proto.result == (fn->hasResult ? "u32" : "void") &&
            proto.params.size() == fn->params.size() + 1;
  for (size_t i = 0; ok && i < fn->params.size(); ++i)
    ok = proto.params[i + 1] == (fn->params[i] == 'I' ? "u64" : "u32");
  if (!ok)
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("import {}.{} does not have the type WASI defines for it",
                                 imp.module, imp.name));
  std::string body = definitionHead(symbol, proto) + " {\n";
  body += fmt::format("  const uint64_t args[{}] = {{", std::max<size_t>(fn->params.size(), 1));
  for (size_t i = 0; i < fn->params.size(); ++i) body += fmt::format("{}a{}", i ? ", " : "", i + 1);
  if (fn->params.empty()) body += "0";
  body += "};\n";
  body += fmt::format("  {}runwasi_wasi_call(a0, {}u, args);\n}}\n", fn->hasResult ? "return " : "",
                      static_cast<unsigned>(fn->id));
  return body;
}

std::string stubImport(const Import& imp, std::string_view symbol, const Prototype& proto) {
  std::string body = definitionHead(symbol, proto) + " {\n";
  for (size_t i = 0; i < proto.params.size(); ++i) body += fmt::format("  (void)a{};\n", i);
  body += fmt::format("  runwasi_stub_detail = {};\n  RUNWASI_UNWIND(RUNWASI_UNWIND_STUB);\n}}\n",
                      cString(fmt::format("{}.{}", imp.module, imp.name)));
  return body;
}

// Everything that does not depend on the module.
constexpr std::string_view kPrelude = R"(
extern jmp_buf wasm_rt_jmp_buf; /* wasm-rt-impl.h, which Debian does not ship */
#if WASM_RT_MEMCHECK_SIGNAL_HANDLER
#define RUNWASI_UNWIND(code) siglongjmp(wasm_rt_jmp_buf, (code))
#else
#define RUNWASI_UNWIND(code) longjmp(wasm_rt_jmp_buf, (code))
#endif
/* Unwind codes, above every wasm_rt_trap_t. */
#define RUNWASI_UNWIND_HOST 0x100
#define RUNWASI_UNWIND_STUB 0x101
#define RUNWASI_EXPORT __attribute__((visibility("default")))

struct Z_wasi_snapshot_preview1_instance_t {
  const runwasi_w2c_host* host;
  wasm_rt_memory_t* memory; /* the export "memory", or NULL */
};

static const char* runwasi_stub_detail;

static uint32_t runwasi_wasi_call(struct Z_wasi_snapshot_preview1_instance_t* wasi,
                                  uint32_t id, const uint64_t* args) {
  uint8_t* data = wasi->memory ? wasi->memory->data : NULL;
  uint64_t size = wasi->memory ? (uint64_t)wasi->memory->pages * 65536u : 0;
  int unwind = 0;
  uint32_t result = wasi->host->call(wasi->host->ctx, id, data, size, args, &unwind);
  /* INVARIANT: the host call above has returned, so every frame between here and the
     setjmp in runwasi_w2c_run is C (glue or wasm2c code): the longjmp skips no C++
     destructor. The host never longjmps itself. */
  if (unwind) RUNWASI_UNWIND(RUNWASI_UNWIND_HOST);
  return result;
}
)";

}  // namespace

std::string mangleName(std::string_view name) {
  std::string out;
  for (unsigned char c : name) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z' && c != 'Z') ||
                 (c >= '0' && c <= '9') || c == '_';
    if (plain)
      out += static_cast<char>(c);
    else
      out += fmt::format("Z{:02X}", c);
  }
  return out;
}

Expected<std::string> generateGlue(const GlueInput& in) {
  const ModuleInfo& info = *in.info;
  const std::string guest(kGuestName);
  std::string c = fmt::format(
      "/* Generated by runwasi-cpp's wasm2c engine: glue for module {} */\n"
      "#include <setjmp.h>\n#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n"
      "#include <sys/mman.h>\n"
      "#include \"{}.h\"\n\n{}\n",
      in.moduleDigest, guest, RUNWASI_W2C_ABI_TEXT);
  c += kPrelude;

  // Imports: one definition per distinct symbol.
  std::set<std::string> defined;
  for (const Import& imp : info.imports) {
    if (imp.kind != ExternKind::kFunction)
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("import {}.{}: the wasm2c engine provides only function "
                                   "imports",
                                   imp.module, imp.name));
    std::string symbol = fmt::format("Z_{}Z_{}", mangleName(imp.module), mangleName(imp.name));
    if (!defined.insert(symbol).second) continue;
    TRY(Prototype proto, findPrototype(in.header, symbol));
    if (imp.module == wasi::kModuleName) {
      TRY(std::string def, wasiImport(imp, symbol, proto));
      c += "\n" + def;
    } else {
      c += "\n" + stubImport(imp, symbol, proto);
    }
  }

  // Exports callable as an entry point (no parameters; results are dropped).
  std::string table;
  size_t n = 0;
  for (const Export& exp : info.exports) {
    if (exp.kind != ExternKind::kFunction) continue;
    const FuncType* type = info.functionType(exp.index);
    if (!type || !type->params.empty()) continue;
    c += fmt::format(
        "\nstatic void runwasi_export_{}(Z_{}_instance_t* i) {{ (void)Z_{}Z_{}(i); }}\n", n, guest,
        guest, mangleName(exp.name));
    table += fmt::format("  {{{}, runwasi_export_{}}},\n", cString(exp.name), n);
    ++n;
  }
  c += fmt::format(
      "\nstatic const struct {{ const char* name; void (*fn)(Z_{}_instance_t*); }} "
      "runwasi_exports[] = {{\n{}  {{NULL, NULL}}\n}};\n",
      guest, table);

  // instantiate's arguments: our WASI instance, NULL for stubbed modules (never read).
  std::string instantiate = fmt::format("Z_{}_instantiate", guest);
  TRY(Prototype inst, findPrototype(in.header, instantiate));
  std::string args = "inst";
  for (size_t i = 1; i < inst.params.size(); ++i)
    args += inst.params[i] == "struct Z_wasi_snapshot_preview1_instance_t*" ? ", &wasi" : ", NULL";

  const Export* memory = info.findExport("memory");
  bool hasMemory = memory && memory->kind == ExternKind::kMemory;

  // wabt 1.0.32's wasm_rt_free_memory unmaps only `size` bytes of the 8 GiB it reserved
  // for a memory: unmap the rest, or every run leaks 8 GiB of address space.
  std::string save, release;
  size_t m = 0;
  for (const std::string& field : ownedMemories(in.header)) {
    save += fmt::format("  uint8_t* d{0} = inst->{1}.data;\n  uint64_t s{0} = inst->{1}.size;\n", m,
                        field);
    release += fmt::format(
        "#if WASM_RT_MEMCHECK_SIGNAL_HANDLER\n"
        "  if (d{0}) munmap(d{0} + s{0}, 0x200000000ull - s{0});\n#endif\n",
        m);
    ++m;
  }

  c += fmt::format(
      R"(
static void runwasi_free_instance(Z_{0}_instance_t* inst) {{
{1}  Z_{0}_free(inst);
{2}  free(inst);
}}

RUNWASI_EXPORT const runwasi_w2c_module_info runwasi_w2c_info = {{{3}, {4}, {5}}};

RUNWASI_EXPORT int32_t runwasi_w2c_run(const runwasi_w2c_host* host, const char* export_name,
                                       runwasi_w2c_outcome* out) {{
  void (*fn)(Z_{0}_instance_t*) = NULL;
  for (size_t k = 0; runwasi_exports[k].name; ++k)
    if (strcmp(runwasi_exports[k].name, export_name) == 0) fn = runwasi_exports[k].fn;
  out->status = RUNWASI_W2C_NO_SUCH_EXPORT;
  out->trap = 0;
  out->detail = NULL;
  if (!fn) return 0;
  Z_{0}_instance_t* inst = (Z_{0}_instance_t*)calloc(1, sizeof(Z_{0}_instance_t));
  if (!inst) return -1;
  struct Z_wasi_snapshot_preview1_instance_t wasi = {{host, {6}}};
  Z_{0}_init_module();
  wasm_rt_set_unwind_target(&wasm_rt_jmp_buf);
  /* Nothing assigned below is read after a longjmp except through `out` and `inst`,
     which are set before the setjmp. */
  int code = WASM_RT_SETJMP(wasm_rt_jmp_buf);
  if (code == 0) {{
    Z_{0}_instantiate({7});
    fn(inst);
    out->status = RUNWASI_W2C_RETURNED;
  }} else if (code == RUNWASI_UNWIND_HOST) {{
    out->status = RUNWASI_W2C_UNWOUND;
  }} else if (code == RUNWASI_UNWIND_STUB) {{
    out->status = RUNWASI_W2C_STUB_CALLED;
    out->detail = runwasi_stub_detail;
  }} else {{
    out->status = RUNWASI_W2C_TRAPPED;
    out->trap = (uint32_t)code;
  }}
  wasm_rt_set_unwind_target(NULL);
  runwasi_free_instance(inst);
  return 0;
}}
)",
      guest, save, release, RUNWASI_W2C_ABI_VERSION, cString(in.moduleDigest), cString(in.loadKey),
      hasMemory ? fmt::format("Z_{}Z_memory(inst)", guest) : std::string("NULL"), args);
  return c;
}

}  // namespace runwasi::engine::wasm2c
