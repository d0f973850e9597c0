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

// Makes one function per WASI function in `context` and keeps them there, for every
// later ImportBinding in it (a zygote's prepared context: each fork then only looks its
// imports up instead of instantiating a function for each). False when V8 threw.
bool prepareWasiFunctions(v8::Local<v8::Context> context);

class ImportBinding {
 public:
  // While it lives, the binding is the isolate's: the WASI functions find it through an
  // isolate data slot (so that they can be made before any binding exists).
  ImportBinding(v8::Isolate* isolate, wasi::Host& host);
  // Imports with no host behind them, the same functions as the real ones (V8 picks and
  // caches the import wrapper by the callable's kind and the signature), for a zygote that
  // makes V8 compile those wrappers without running anything: a call throws.
  explicit ImportBinding(v8::Isolate* isolate);
  ~ImportBinding();
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
  struct StubSlot {
    std::string qualifiedName;  // "env.foo"
  };

  friend bool prepareWasiFunctions(v8::Local<v8::Context> context);
  static void callWasi(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void callStub(const v8::FunctionCallbackInfo<v8::Value>& info);
  wasi::GuestMemory guestMemory();
  void unwindForExit();

  v8::Isolate* isolate_;
  wasi::Host* host_;  // null: no host (see above)
  std::deque<StubSlot> stubSlots_;  // a deque: V8 holds pointers to the slots
  v8::Global<v8::WasmMemoryObject> memory_;
  bool exited_ = false;
};

}  // namespace runwasi::engine::v8engine
