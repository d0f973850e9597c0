#include "engine/v8/v8_platform.h"

#include <libplatform/libplatform.h>
#include <v8-initialization.h>
#include <v8-platform.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/log.h"

namespace runwasi::engine::v8engine {
namespace {

// Chosen by measurement (docs/engine-v8.md):
// --no-liftoff: wasm has no on-stack replacement, so a hot loop inside _start stays in
//   Liftoff code forever (sha256 ~9x slower than TurboFan); TurboFan-only compiles cost
//   start time, which the code cache (precompile) gives back, and only TurboFan code can
//   be serialized at all.
// --no-expose-wasm is not set: we drive WebAssembly through its JS objects.
constexpr std::string_view kBaseFlags = "--no-liftoff";

// Extra flags for experiments and benchmarks (part of v8Flags(), hence of the cache key).
constexpr const char* kExtraFlagsEnv = "RUNWASI_V8_EXTRA_FLAGS";

struct State {
  std::once_flag once;
  std::unique_ptr<v8::Platform> platform;
};

State& state() {
  static State s;
  return s;
}

std::string computeFlags() {
  // (read once: the flags must not change while artifacts are made and loaded)
  std::string flags(kBaseFlags);
  if (const char* extra = std::getenv(kExtraFlagsEnv); extra != nullptr && *extra != '\0') {
    flags += ' ';
    flags += extra;
  }
  return flags;
}

// V8 would start one worker per core (up to 16) in every container process; workers
// only matter when compiling without an artifact, so a few are enough.
constexpr unsigned kMaxWorkerThreads = 4;

int workerThreads() {
  unsigned cores = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(cores > 1 ? cores - 1 : 1u, 1u, kMaxWorkerThreads));
}

const std::string& flags() {
  static const std::string f = computeFlags();
  return f;
}

void initialize(State& s) {
  const std::string& f = flags();
  v8::V8::SetFlagsFromString(f.data(), f.size());
  // No trap handler: it installs a process-wide SIGSEGV handler and reserves ~10 GiB of
  // address space per memory (instantiation fails under RLIMIT_AS); explicit bounds
  // checks measured within noise (docs/engine-v8.md).
  s.platform = v8::platform::NewDefaultPlatform(workerThreads());
  v8::V8::InitializePlatform(s.platform.get());
  if (!v8::V8::Initialize()) {
    // Only a build mismatch between headers and libnode gets here.
    log::error("v8: V8::Initialize failed");
    std::abort();
  }
  log::debug("v8: initialized V8 {} with flags '{}'", v8::V8::GetVersion(), f);
}

}  // namespace

void ensureV8Initialized() {
  State& s = state();
  std::call_once(s.once, [&s] { initialize(s); });
}

v8::Platform& v8Platform() {
  ensureV8Initialized();
  return *state().platform;
}

std::string_view v8Flags() {
  return flags();
}

std::string v8Version() {
  return v8::V8::GetVersion();
}

}  // namespace runwasi::engine::v8engine
