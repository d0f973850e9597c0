#include "engine/v8/code_cache.h"

#include <libplatform/libplatform.h>
#include <v8-exception.h>
#include <v8-function.h>
#include <v8-promise.h>

#include "engine/v8/isolate_session.h"
#include "engine/v8/v8_platform.h"

namespace runwasi::engine::v8engine {
namespace {

// Isolate data slot holding the StreamingLoad of the compileStreaming call in progress.
constexpr uint32_t kStreamingSlot = 0;

struct StreamingLoad {
  std::span<const uint8_t> payload;
  std::span<const uint8_t> wire;
  OnRejected onRejected;
  bool accepted = false;
};

void onCompileStreaming(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  std::shared_ptr<v8::WasmStreaming> streaming = v8::WasmStreaming::Unpack(isolate, info.Data());
  auto* load = static_cast<StreamingLoad*>(isolate->GetData(kStreamingSlot));
  if (load == nullptr) {
    streaming->Abort(v8::Exception::TypeError(
        makeString(isolate, "WebAssembly.compileStreaming is not available")));
    return;
  }
  // The payload must outlive Finish(); it does: the caller waits for the promise.
  load->accepted = streaming->SetCompiledModuleBytes(load->payload.data(), load->payload.size());
  if (!load->accepted && load->onRejected == OnRejected::kFail) {
    streaming->Abort(v8::Exception::Error(makeString(isolate, "V8 rejected the artifact")));
    return;
  }
  streaming->OnBytesReceived(load->wire.data(), load->wire.size());
  streaming->Finish(true);
}

// Runs tasks and microtasks until `promise` settles.
void settle(v8::Isolate* isolate, v8::Local<v8::Promise> promise) {
  v8::Platform* platform = &v8Platform();
  while (promise->State() == v8::Promise::kPending) {
    bool ran = v8::platform::PumpMessageLoop(platform, isolate);
    isolate->PerformMicrotaskCheckpoint();
    if (!ran && promise->State() == v8::Promise::kPending)
      v8::platform::PumpMessageLoop(platform, isolate,
                                    v8::platform::MessageLoopBehavior::kWaitForWork);
  }
}

}  // namespace

void drainTasks(v8::Isolate* isolate) {
  v8::Platform* platform = &v8Platform();
  do {
    isolate->PerformMicrotaskCheckpoint();
  } while (v8::platform::PumpMessageLoop(platform, isolate));
}

void installStreamingCallback(v8::Isolate* isolate) {
  isolate->SetWasmStreamingCallback(&onCompileStreaming);
}

Expected<Bytes> serializeModule(v8::Local<v8::WasmModuleObject> module) {
  v8::OwnedBuffer buffer = module->GetCompiledModule().Serialize();
  if (buffer.size == 0)
    return makeError(ErrorCode::kInternal, "V8 could not serialize the compiled module");
  return Bytes(buffer.buffer.get(), buffer.buffer.get() + buffer.size);
}

v8::MaybeLocal<v8::WasmModuleObject> loadSerializedModule(
    v8::Isolate* isolate, v8::Local<v8::Context> context, std::span<const uint8_t> payload,
    std::span<const uint8_t> wire, bool* accepted, OnRejected onRejected) {
  v8::EscapableHandleScope scope(isolate);
  StreamingLoad load{payload, wire, onRejected};
  isolate->SetData(kStreamingSlot, &load);
  struct ClearSlot {
    v8::Isolate* isolate;
    ~ClearSlot() { isolate->SetData(kStreamingSlot, nullptr); }
  } clearSlot{isolate};

  v8::Local<v8::Value> wasm, compileStreaming, result;
  if (!getProperty(isolate, context, context->Global(), "WebAssembly").ToLocal(&wasm) ||
      !wasm->IsObject() ||
      !getProperty(isolate, context, wasm.As<v8::Object>(), "compileStreaming")
           .ToLocal(&compileStreaming) ||
      !compileStreaming->IsFunction()) {
    isolate->ThrowException(
        v8::Exception::TypeError(makeString(isolate, "WebAssembly.compileStreaming is missing")));
    return {};
  }
  v8::Local<v8::Value> argv[] = {v8::Undefined(isolate)};
  if (!compileStreaming.As<v8::Function>()->Call(context, wasm, 1, argv).ToLocal(&result) ||
      !result->IsPromise())
    return {};
  v8::Local<v8::Promise> promise = result.As<v8::Promise>();
  settle(isolate, promise);
  *accepted = load.accepted;
  if (promise->State() == v8::Promise::kRejected) {
    isolate->ThrowException(promise->Result());
    return {};
  }
  v8::Local<v8::Value> module = promise->Result();
  if (!module->IsWasmModuleObject()) return {};
  return scope.Escape(module.As<v8::WasmModuleObject>());
}

}  // namespace runwasi::engine::v8engine
