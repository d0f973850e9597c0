// V8's side of the code cache: serializing a compiled module and loading one back.
#pragma once

#include <v8-context.h>
#include <v8-isolate.h>
#include <v8-wasm.h>

#include <cstdint>
#include <span>

#include "common/error.h"
#include "common/file.h"

namespace runwasi::engine::v8engine {

// Must run on every isolate before its first Context::New (V8 only exposes
// WebAssembly.compileStreaming, our loading route, when a callback is set).
void installStreamingCallback(v8::Isolate* isolate);

// CompiledWasmModule::Serialize(); an error when V8 produced nothing (it serializes only
// TurboFan code: a module still in Liftoff gives 0 bytes).
Expected<Bytes> serializeModule(v8::Local<v8::WasmModuleObject> module);

// What loadSerializedModule does when V8 rejects the payload.
enum class OnRejected { kCompile, kFail };

// Loads a module from a verified serialization `payload` of `wire` (the wasm bytes)
// through WebAssembly.compileStreaming + WasmStreaming::SetCompiledModuleBytes. When V8
// rejects the payload, `*accepted` is false and V8 compiles `wire` instead (kCompile) or
// the load fails (kFail: the zygote, which must not spend a compile on it). Empty with a
// pending exception in `context`'s TryCatch when compiling failed.
v8::MaybeLocal<v8::WasmModuleObject> loadSerializedModule(
    v8::Isolate* isolate, v8::Local<v8::Context> context, std::span<const uint8_t> payload,
    std::span<const uint8_t> wire, bool* accepted, OnRejected onRejected = OnRejected::kCompile);

// Runs the isolate's pending tasks and microtasks, so that none is left for later (a
// zygote's leftovers would run in every fork).
void drainTasks(v8::Isolate* isolate);

}  // namespace runwasi::engine::v8engine
