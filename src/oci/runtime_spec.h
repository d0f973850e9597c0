// The parts of an OCI runtime spec (a bundle's config.json) the shims act on.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace runwasi::oci {

struct ProcessSpec {
  bool terminal = false;
  std::vector<std::string> args;  // args[0]: the entrypoint, "path[#func]"
  std::vector<std::string> env;   // "KEY=VALUE"
  std::string cwd = "/";
};

struct RuntimeSpec {
  ProcessSpec process;
  std::string rootPath = "rootfs";  // root.path: absolute, or relative to the bundle
  bool rootReadonly = false;
  std::map<std::string, std::string> annotations;
};

// Parses config.json text. InvalidArgument naming the offending field: not JSON, no
// "process", no or empty "process.args", a field of the wrong type, a relative cwd.
Expected<RuntimeSpec> parseRuntimeSpec(std::string_view json);
// Reads and parses <bundle>/config.json; errors carry the file's path.
Expected<RuntimeSpec> readRuntimeSpec(const std::filesystem::path& bundle);

// The value of KEY in a "KEY=VALUE" list, the last one winning as in execve's environ
// lookups; empty when absent.
std::string envValue(const std::vector<std::string>& env, std::string_view key);

}  // namespace runwasi::oci
