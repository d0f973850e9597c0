// The external tools precompilation runs (wasm2c, the system C compiler), their flags, and
// the keys that say which artifacts they made.
#pragma once

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"

namespace runwasi::engine::wasm2c {

// The wabt release this engine was built against (its wasm-rt.h and libwasm-rt-impl.a).
std::string_view wabtVersion();

struct ToolchainOptions {
  std::string wasm2c;               // path or name looked up on PATH; empty: the build's
  std::string compiler;             // likewise, the C compiler; empty: the build's (cc)
  std::vector<std::string> cflags;  // empty: defaultCflags()
};

// -O2 plus what correctness needs (e.g. no sibling-call optimisation, so that an infinite
// wasm recursion exhausts the stack and traps instead of becoming an endless loop).
std::vector<std::string> defaultCflags();

class Toolchain {
 public:
  explicit Toolchain(ToolchainOptions options);

  const std::string& wasm2c() const { return wasm2c_; }
  const std::string& compiler() const { return compiler_; }
  const std::vector<std::string>& cflags() const { return cflags_; }
  std::string includeDir() const;

  // What a .so must have been built under to be loaded: wabt version, glue ABI, flags.
  // Cheap (no subprocess), so that loading an artifact stays fast.
  const std::string& loadKey() const { return loadKey_; }
  // loadKey plus the compiler's identity (its resolved path and `--version` line); runs
  // the compiler once per Toolchain.
  std::string cacheKey() const;
  // Fails when the tools are missing or wasm2c is not the version of the linked runtime.
  Expected<void> check() const;

 private:
  void probe() const;

  std::string wasm2c_;
  std::string compiler_;
  std::vector<std::string> cflags_;
  std::string loadKey_;

  mutable std::once_flag probed_;
  mutable std::string compilerIdentity_;  // written once under probed_
  mutable Expected<void> probeResult_;    // likewise
};

// Runs argv (argv[0] looked up on PATH unless it has a '/') in `dir` with stdout and
// stderr going to `log`; an Error quoting the first lines of the log if it fails.
Expected<void> runTool(const std::vector<std::string>& argv, const std::filesystem::path& dir,
                       const std::filesystem::path& log);

// The tool's output, for short commands such as `--version`.
Expected<std::string> toolOutput(const std::vector<std::string>& argv);

}  // namespace runwasi::engine::wasm2c
