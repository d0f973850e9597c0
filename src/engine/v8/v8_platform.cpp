#include "engine/v8/v8_platform.h"

#include <libplatform/libplatform.h>
#include <sys/random.h>
#include <v8-initialization.h>
#include <v8-platform.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "common/log.h"
#include "engine/v8/artifact_format.h"
#include "engine/v8/forkable_platform.h"
#include "engine/v8/trap_handler.h"

namespace runwasi::engine::v8engine {
namespace {

// Chosen by measurement (docs/engine-v8.md):
// --no-liftoff: wasm has no on-stack replacement, so a hot loop inside _start stays in
//   Liftoff code forever (sha256 ~9x slower than TurboFan); TurboFan-only compiles cost
//   start time, which the code cache (precompile) gives back, and only TurboFan code can
//   be serialized at all.
// --single-threaded: V8 posts no background work (compilation, GC marking and sweeping run
//   on the calling thread), which the single-threaded platform below requires. It lets the
//   zygote initialize V8 once before it forks containers (a forked child has only the
//   thread that forked: workers would be lost). Guest code is the same; only compiling
//   without a cached artifact loses its helper threads.
// --no-expose-wasm is not set: we drive WebAssembly through its JS objects.
constexpr std::string_view kBaseFlags = "--no-liftoff --single-threaded";
// --wasm-loop-peeling, with the trap handler only: together they took the CPU suite from
//   1.33x to 1.25x native (fib 2.5x -> 2.25x, matmul 1.1x -> 0.95x); peeling alone was
//   neutral (fib faster, sha256 slower), the trap handler alone 1.28-1.30x.
constexpr std::string_view kTrapHandlerFlags = " --wasm-loop-peeling";

// Extra flags for experiments and benchmarks (part of v8Flags(), hence of the cache key).
constexpr const char* kExtraFlagsEnv = "RUNWASI_V8_EXTRA_FLAGS";

enum TrapHandler : int { kUndecided, kOn, kOff };

struct State {
  std::once_flag once;
  std::unique_ptr<v8::Platform> platform;  // libplatform's; what its free functions take
  std::unique_ptr<v8::Platform> forkable;  // in front of it: what V8 runs on (see below)
  std::atomic<int> trapHandler{kUndecided};  // decided once, just before V8::Initialize
};

State& state() {
  static State s;
  return s;
}

const std::string& extraFlags() {
  // (read once: the flags must not change while artifacts are made and loaded)
  static const std::string extra = [] {
    const char* env = std::getenv(kExtraFlagsEnv);
    return env != nullptr && *env != '\0' ? std::string(" ") + env : std::string();
  }();
  return extra;
}

bool trapHandlerOn(const State& s) {
  int decided = s.trapHandler.load();
  return decided == kUndecided ? trapHandlerWanted() : decided == kOn;
}

std::string flags(const State& s) {
  std::string f(kBaseFlags);
  if (trapHandlerOn(s)) f += kTrapHandlerFlags;
  return f + extraFlags();
}

void initialize(State& s) {
  // The trap handler (trap_handler.h) only with an unlimited address space: each memory
  // then reserves ~10 GiB; under RLIMIT_AS explicit bounds checks keep V8 working.
  s.trapHandler.store(trapHandlerWanted() && enableTrapHandler() ? kOn : kOff);
  const std::string f = flags(s);
  v8::V8::SetFlagsFromString(f.data(), f.size());
  s.platform = v8::platform::NewSingleThreadedDefaultPlatform();
  // V8's memory must survive a fork (forkable_platform.h): the zygote's forks run on it.
  s.forkable = makeForkablePlatform(*s.platform);
  if (!s.forkable) log::warn("v8: the platform has no page allocator: forks lose V8's memory");
  v8::V8::InitializePlatform(s.forkable ? s.forkable.get() : s.platform.get());
  if (!v8::V8::Initialize()) {
    // Only a build mismatch between headers and libnode gets here.
    log::error("v8: V8::Initialize failed");
    std::abort();
  }
  log::debug("v8: initialized V8 {} with flags '{}', trap handler {}", v8::V8::GetVersion(), f,
             s.trapHandler.load() == kOn ? "on" : "off");
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

void reseedAddressHints() {
  int64_t seed = 0;
  // (0 would leave the sequence as it is; getrandom of 8 bytes does not fail short.)
  if (::getrandom(&seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed) || seed == 0) return;
  if (v8::PageAllocator* allocator = v8Platform().GetPageAllocator())
    allocator->SetRandomMmapSeed(seed);
}

std::string v8Flags() {
  return flags(state());
}

bool v8TrapHandler() {
  return trapHandlerOn(state());
}

std::string v8Version() {
  return v8::V8::GetVersion();
}

std::string v8CacheKey() {
  return "v8/" + v8Version() + " flags=" + v8Flags() +
         " trap-handler=" + (v8TrapHandler() ? "on" : "off") +
         " artifact=" + std::to_string(kArtifactFormatVersion);
}

}  // namespace runwasi::engine::v8engine
