// Process-wide V8 state: the platform, the flags, and one-time initialization.
#pragma once

#include <string>
#include <string_view>

namespace v8 {
class Platform;
}

namespace runwasi::engine::v8engine {

// Initializes V8 once per process (thread-safe, idempotent), with a single-threaded
// platform: no worker thread ever starts, so a zygote may initialize V8 once and fork
// every container from it (each then only makes its own isolate).
void ensureV8Initialized();

// The platform created by ensureV8Initialized().
v8::Platform& v8Platform();

// V8 picks the address of each mapping it makes from a process-wide random sequence, which
// every fork of a process continues identically: a fork calls this once (it takes over the
// zygote's isolate) so that what it maps from then on has addresses of its own.
void reseedAddressHints();

// The V8 flags this engine runs with (they decide what code V8 generates); available
// without initializing V8 (then what initializing it now would choose).
std::string v8Flags();

// Whether V8 uses the wasm trap handler (guard regions, no explicit bounds checks) in this
// process; before V8 is initialized, whether it would. Part of the code V8 generates.
bool v8TrapHandler();

// "10.2.154.26-node.XX" as V8 reports it.
std::string v8Version();

// Precompiler::cacheKey(): everything besides the module that V8's code depends on.
std::string v8CacheKey();

}  // namespace runwasi::engine::v8engine
