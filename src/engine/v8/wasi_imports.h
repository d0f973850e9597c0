// Binds a module's imports to the WASI host (and, on request, unknown imports to stubs
// that trap), for one instance in one isolate.
#pragma once

#include <v8-context.h>
#include <v8-isolate.h>
#include <v8-object.h>
#include <v8-persistent-handle.h>
#include <v8-wasm.h>

#include <deque>
#include <string>

#include "engine/module_info.h"
#include "wasi/function_table.h"
#include "wasi/host.h"

namespace runwasi::engine::v8engine {

class ImportBinding {
 public:
  ImportBinding(v8::Isolate* isolate, wasi::Host& host) : isolate_(isolate), host_(&host) {}
  // Imports with no host behind them, shaped exactly as the real ones (V8 picks and caches
  // the import wrapper by the callable's kind and the signature), for a zygote that makes
  // V8 compile those wrappers without running anything: a call throws.
  explicit ImportBinding(v8::Isolate* isolate) : isolate_(isolate), host_(nullptr) {}
  ImportBinding(const ImportBinding&) = delete;
  ImportBinding& operator=(const ImportBinding&) = delete;

  // The imports object for WebAssembly.Instance: one function per function import in
  // `info` (checkLinkable has vetted them). Empty when V8 threw.
  v8::MaybeLocal<v8::Object> makeImports(v8::Local<v8::Context> context, const ModuleInfo& info);

  // Remembers the instance's exported "memory" (if any) for host calls.
  void attachMemory(v8::Local<v8::Context> context, v8::Local<v8::Object> exports);

  // True once the guest called proc_exit: the exception that is unwinding the guest is
  // ours, and host().exitCode() holds the code. (The caller must then
  // CancelTerminateExecution before using the isolate again.)
  bool exited() const { return exited_; }

 private:
  struct WasiSlot {
    ImportBinding* binding;
    const wasi::FunctionInfo* function;
  };
  struct StubSlot {
    std::string qualifiedName;  // "env.foo"
  };

  static void callWasi(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void callStub(const v8::FunctionCallbackInfo<v8::Value>& info);
  wasi::GuestMemory guestMemory();
  void unwindForExit();

  v8::Isolate* isolate_;
  wasi::Host* host_;  // null: no host (see above)
  std::deque<WasiSlot> wasiSlots_;  // deques: V8 holds pointers to the slots
  std::deque<StubSlot> stubSlots_;
  v8::Global<v8::WasmMemoryObject> memory_;
  bool exited_ = false;
};

}  // namespace runwasi::engine::v8engine
