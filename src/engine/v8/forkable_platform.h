// A V8 platform whose memory a fork inherits.
//
// Debian's libnode carries Node.js's change to V8's OS::Allocate: every mapping V8 makes
// is madvise(MADV_DONTFORK)ed (node forks only to exec, and copying the page tables of a
// large heap slowed that down). A fork of a process that made an isolate then has none of
// V8's memory (the isolate's heap, the read-only heap that every isolate of the process
// shares, code, wasm memories) and crashes at the first touch. V8 allocates all of it
// through the platform's PageAllocator; this platform puts one in front of the default
// platform's that gives each new mapping back to fork (MADV_DOFORK), so that a fork of the
// zygote inherits V8's memory copy-on-write, as it inherits any other memory.
#pragma once

#include <v8-platform.h>

#include <memory>

namespace runwasi::engine::v8engine {

// Everything but GetPageAllocator() is `inner`'s, which must outlive it. libplatform's
// free functions (PumpMessageLoop and the like) must still be given `inner`: they cast to
// its class. Null when `inner` has no page allocator (V8 would then use its own).
std::unique_ptr<v8::Platform> makeForkablePlatform(v8::Platform& inner);

}  // namespace runwasi::engine::v8engine
