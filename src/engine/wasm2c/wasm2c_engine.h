// The wasm2c AOT engine: wasm -> C (wabt's wasm2c) -> a shared object (the system C
// compiler), loaded with dlopen and run on the calling thread. See docs/engine-wasm2c.md.
//
// Executables linking runwasi_engine_wasm2c export the wasm_rt_* runtime to the loaded
// objects (the target's INTERFACE link options take care of it). One guest runs at a time
// per process: a second concurrent run() fails with FailedPrecondition.
#pragma once

#include <memory>

#include "engine/engine.h"
#include "engine/wasm2c/toolchain.h"

namespace runwasi::engine {

std::unique_ptr<Engine> makeWasm2cEngine();

// With other tools or compiler flags (each changes the cache key).
std::unique_ptr<Engine> makeWasm2cEngine(wasm2c::ToolchainOptions options);

}  // namespace runwasi::engine
