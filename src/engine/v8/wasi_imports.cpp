#include "engine/v8/wasi_imports.h"

#include <v8-array-buffer.h>
#include <v8-exception.h>
#include <v8-external.h>
#include <v8-function.h>
#include <v8-primitive.h>

#include <array>
#include <cstdint>

#include "engine/v8/isolate_session.h"

namespace runwasi::engine::v8engine {
namespace {

// One wasm argument as the host wants it: i32 zero-extended, i64 as its 64 bits.
uint64_t toHostArg(v8::Isolate* isolate, v8::Local<v8::Value> value, char type) {
  if (type == 'I') {
    // V8 passes i64 to JS imports as a BigInt (the JS-BigInt integration).
    if (value->IsBigInt()) return value.As<v8::BigInt>()->Uint64Value();
    return 0;
  }
  if (value->IsInt32()) return static_cast<uint32_t>(value.As<v8::Int32>()->Value());
  // (Not reached from wasm, which passes i32 as Int32 values; kept off the fast path.)
  return static_cast<uint32_t>(value->Int32Value(isolate->GetCurrentContext()).FromMaybe(0));
}

}  // namespace

v8::MaybeLocal<v8::Object> ImportBinding::makeImports(v8::Local<v8::Context> context,
                                                      const ModuleInfo& info) {
  v8::EscapableHandleScope scope(isolate_);
  v8::Local<v8::Object> imports = v8::Object::New(isolate_);
  for (const Import& import : info.imports) {
    if (import.kind != ExternKind::kFunction) continue;  // V8's LinkError names it
    v8::Local<v8::Function> function;
    const wasi::FunctionInfo* wasiFunction =
        import.module == wasi::kModuleName ? wasi::findFunction(import.name) : nullptr;
    if (wasiFunction != nullptr) {
      WasiSlot& slot = wasiSlots_.emplace_back(WasiSlot{this, wasiFunction});
      if (!v8::Function::New(context, &ImportBinding::callWasi, v8::External::New(isolate_, &slot),
                             static_cast<int>(wasiFunction->params.size()),
                             v8::ConstructorBehavior::kThrow)
               .ToLocal(&function))
        return {};
    } else {
      StubSlot& slot = stubSlots_.emplace_back(StubSlot{import.module + "." + import.name});
      if (!v8::Function::New(context, &ImportBinding::callStub, v8::External::New(isolate_, &slot),
                             0, v8::ConstructorBehavior::kThrow)
               .ToLocal(&function))
        return {};
    }

    v8::Local<v8::String> moduleName = makeString(isolate_, import.module);
    v8::Local<v8::Value> existing;
    v8::Local<v8::Object> moduleObject;
    if (!imports->Get(context, moduleName).ToLocal(&existing)) return {};
    if (existing->IsObject()) {
      moduleObject = existing.As<v8::Object>();
    } else {
      moduleObject = v8::Object::New(isolate_);
      if (imports->Set(context, moduleName, moduleObject).IsNothing()) return {};
    }
    if (moduleObject->Set(context, makeString(isolate_, import.name), function).IsNothing())
      return {};
  }
  return scope.Escape(imports);
}

void ImportBinding::attachMemory(v8::Local<v8::Context> context, v8::Local<v8::Object> exports) {
  v8::Local<v8::Value> memory;
  if (getProperty(isolate_, context, exports, "memory").ToLocal(&memory) &&
      memory->IsWasmMemoryObject())
    memory_.Reset(isolate_, memory.As<v8::WasmMemoryObject>());
}

wasi::GuestMemory ImportBinding::guestMemory() {
  if (memory_.IsEmpty()) return wasi::GuestMemory(nullptr, 0);
  // Fetched per call: memory.grow detaches the previous ArrayBuffer.
  v8::Local<v8::ArrayBuffer> buffer = memory_.Get(isolate_)->Buffer();
  return wasi::GuestMemory(static_cast<uint8_t*>(buffer->Data()), buffer->ByteLength());
}

void ImportBinding::unwindForExit() {
  exited_ = true;
  // The thrown value unwinds the wasm frames at once; termination makes sure a guest
  // that catches JS exceptions (wasm exception handling) cannot resume.
  isolate_->TerminateExecution();
  isolate_->ThrowException(v8::Exception::Error(makeString(isolate_, "proc_exit")));
}

void ImportBinding::callWasi(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto* slot = static_cast<WasiSlot*>(info.Data().As<v8::External>()->Value());
  ImportBinding& self = *slot->binding;
  const wasi::FunctionInfo& function = *slot->function;
  if (self.exited_) return self.unwindForExit();
  if (self.host_ == nullptr) {
    self.isolate_->ThrowException(v8::Exception::Error(makeString(self.isolate_, "no WASI host")));
    return;
  }

  std::array<uint64_t, wasi::kMaxParams> args{};
  for (size_t i = 0; i < function.params.size(); ++i)
    args[i] = toHostArg(self.isolate_, info[static_cast<int>(i)], function.params[i]);

  uint32_t result = self.host_->call(function.id, self.guestMemory(), args.data());
  if (self.host_->exitCode().has_value()) return self.unwindForExit();
  if (function.hasResult) info.GetReturnValue().Set(result);
}

void ImportBinding::callStub(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto* slot = static_cast<StubSlot*>(info.Data().As<v8::External>()->Value());
  v8::Isolate* isolate = info.GetIsolate();
  isolate->ThrowException(v8::Exception::WasmRuntimeError(
      makeString(isolate, "called unlinked import " + slot->qualifiedName)));
}

}  // namespace runwasi::engine::v8engine
