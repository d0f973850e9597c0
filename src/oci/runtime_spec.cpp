#include "oci/runtime_spec.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/file.h"

namespace runwasi::oci {
namespace {

using nlohmann::json;

tl::unexpected<Error> invalid(std::string message) {
  return makeError(ErrorCode::kInvalidArgument, std::move(message));
}

Expected<std::string> stringField(const json& object, const char* key, const char* where) {
  const json& v = object.at(key);
  if (!v.is_string()) return invalid(fmt::format("{}.{} must be a string", where, key));
  return v.get<std::string>();
}

Expected<std::vector<std::string>> stringList(const json& object, const char* key,
                                              const char* where) {
  const json& v = object.at(key);
  if (v.is_null()) return std::vector<std::string>{};
  if (!v.is_array()) return invalid(fmt::format("{}.{} must be an array of strings", where, key));
  std::vector<std::string> out;
  for (const json& item : v) {
    if (!item.is_string())
      return invalid(fmt::format("{}.{} must be an array of strings", where, key));
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace

Expected<RuntimeSpec> parseRuntimeSpec(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return invalid("not valid JSON");
  if (!doc.is_object()) return invalid("the spec must be a JSON object");

  RuntimeSpec spec;
  auto process = doc.find("process");
  if (process == doc.end() || !process->is_object())
    return invalid("process is missing: nothing to run");
  const json& p = *process;
  if (p.contains("terminal")) {
    if (!p["terminal"].is_boolean()) return invalid("process.terminal must be a boolean");
    spec.process.terminal = p["terminal"].get<bool>();
  }
  if (!p.contains("args")) return invalid("process.args is missing: nothing to run");
  TRY(spec.process.args, stringList(p, "args", "process"));
  if (spec.process.args.empty() || spec.process.args[0].empty())
    return invalid("process.args is empty: nothing to run");
  if (p.contains("env")) {
    TRY(spec.process.env, stringList(p, "env", "process"));
  }
  if (p.contains("cwd")) {
    TRY(spec.process.cwd, stringField(p, "cwd", "process"));
    if (spec.process.cwd.empty() || spec.process.cwd[0] != '/')
      return invalid(fmt::format("process.cwd must be an absolute path, not \"{}\"",
                                 spec.process.cwd));
  }

  if (auto root = doc.find("root"); root != doc.end()) {
    if (!root->is_object()) return invalid("root must be an object");
    if (root->contains("path")) {
      TRY(spec.rootPath, stringField(*root, "path", "root"));
    }
    if (root->contains("readonly")) {
      if (!(*root)["readonly"].is_boolean()) return invalid("root.readonly must be a boolean");
      spec.rootReadonly = (*root)["readonly"].get<bool>();
    }
  }
  if (auto annotations = doc.find("annotations"); annotations != doc.end()) {
    if (!annotations->is_object()) return invalid("annotations must be an object");
    for (const auto& [key, value] : annotations->items()) {
      if (!value.is_string()) return invalid(fmt::format("annotation {} must be a string", key));
      spec.annotations[key] = value.get<std::string>();
    }
  }
  return spec;
}

Expected<RuntimeSpec> readRuntimeSpec(const std::filesystem::path& bundle) {
  std::filesystem::path path = bundle / "config.json";
  TRY(Bytes bytes, readFile(path));
  auto spec = parseRuntimeSpec(std::string_view(reinterpret_cast<const char*>(bytes.data()),
                                                bytes.size()));
  if (!spec) return tl::unexpected(std::move(spec).error().context(path.string()));
  return spec;
}

std::string envValue(const std::vector<std::string>& env, std::string_view key) {
  std::string value;
  for (const std::string& entry : env)
    if (entry.size() > key.size() && entry.compare(0, key.size(), key) == 0 &&
        entry[key.size()] == '=')
      value = entry.substr(key.size() + 1);
  return value;
}

}  // namespace runwasi::oci
