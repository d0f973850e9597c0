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
  // loadKey plus the identity of the wasm2c and compiler binaries (toolIdentity()), with
  // the compiler's `--version` line captured at build time while it is still that binary.
  // Never runs a tool (it is on every run's path: the artifact cache's lookup); a few
  // stat calls, redone on every call so that a tool upgraded under a long-lived process
  // changes the key at once.
  std::string cacheKey() const;
  // Fails when the tools are missing or wasm2c is not the version of the linked runtime
  // (runs both once per Toolchain: for precompiling, never for loading).
  Expected<void> check() const;

 private:
  std::string wasm2c_;
  std::string compiler_;
  std::vector<std::string> cflags_;
  std::string loadKey_;

  mutable std::once_flag checked_;
  mutable Expected<void> checkResult_;  // written once under checked_
};

// A tool binary's identity without running it: "<resolved path> (size N, mtime S.NS)",
// or "<name> (not found)". Any replacement or upgrade of the file changes it.
std::string toolIdentity(const std::string& tool);

// Runs argv (argv[0] looked up on PATH unless it has a '/') in `dir` with stdout and
// stderr going to `log`; an Error quoting the first lines of the log if it fails.
Expected<void> runTool(const std::vector<std::string>& argv, const std::filesystem::path& dir,
                       const std::filesystem::path& log);

// The tool's output, for short commands such as `--version`.
Expected<std::string> toolOutput(const std::vector<std::string>& argv);

}  // namespace runwasi::engine::wasm2c
