// V8's wasm trap handler: linear-memory accesses without explicit bounds checks, an
// out-of-bounds access faulting into a guard region that V8 turns into a wasm trap.
//
// V8's own SIGSEGV handler removes itself for good at the first fault that is not V8's
// (e.g. a wasm2c guest trapping in the same process), after which V8's next out-of-bounds
// access would kill the process. So V8 installs no handler here: ours asks V8 first and
// passes everything else on to whatever handled SIGSEGV before, every time.
#pragma once

namespace runwasi::engine::v8engine {

// Whether V8 should run with the trap handler in this process: only while the address
// space is unlimited (each memory then reserves ~10 GiB, which fails under RLIMIT_AS;
// with a limit set, explicit bounds checks keep V8 working), and unless
// RUNWASI_V8_TRAP_HANDLER=0.
bool trapHandlerWanted();

// Before V8::Initialize: enables V8's trap handler behind our SIGSEGV handler. False when
// V8 cannot use one on this platform (explicit bounds checks then).
bool enableTrapHandler();

}  // namespace runwasi::engine::v8engine
