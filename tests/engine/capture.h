// Test support: run a test module on an engine with captured stdio.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "../support/scratch_dir.h"
#include "common/error.h"
#include "common/unique_fd.h"
#include "engine/engine.h"

namespace runwasi::testing {

std::filesystem::path modulePath(std::string_view name);  // <modules dir>/<name>.wasm

// An anonymous file: stdin content to give, or stdout/stderr to read back.
class MemFile {
 public:
  explicit MemFile(std::string_view content = {});
  int fd() const { return fd_.get(); }
  std::string contents() const;

 private:
  UniqueFd fd_;
};

struct RunSpec {
  std::string function = "_start";
  std::vector<std::string> args;  // after argv[0]
  std::vector<std::string> env;
  std::vector<wasi::Preopen> preopens;
  std::string stdinData;
  int stdoutFd = -1;  // the guest's stdout; -1 captures it into RunOutput::out
  bool stubUnknownImports = false;
  bool precompiled = true;  // through the artifact cache (when the engine has a precompiler)
  std::function<void()> beforeInstantiate;  // engine::RunOptions::beforeInstantiate
};

struct RunOutput {
  Expected<engine::RunResult> result;
  std::string out;
  std::string err;
};

RunOutput runModule(engine::Engine& engine, std::string_view module, const RunSpec& spec = {});

}  // namespace runwasi::testing
