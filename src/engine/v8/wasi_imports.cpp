#include "engine/v8/wasi_imports.h"

#include <v8-array-buffer.h>
#include <v8-exception.h>
#include <v8-external.h>
#include <v8-function.h>
#include <v8-primitive.h>
#include <v8-container.h>

#include <array>
#include <iterator>
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

// Isolate data slot of the ImportBinding the WASI functions call into (0: code_cache.cpp's).
constexpr uint32_t kBindingSlot = 1;
// Context embedder data field holding the WASI functions prepareWasiFunctions made, by id.
constexpr int kWasiFunctionsField = 1;

// A WASI function: an API function whose data is the function's id, of the arity the wasm
// signature gives it (V8 picks the import wrapper by kind, signature and arity).
v8::MaybeLocal<v8::Function> makeWasiFunction(v8::Local<v8::Context> context,
                                              const wasi::FunctionInfo& function,
                                              v8::FunctionCallback callback) {
  v8::Isolate* isolate = context->GetIsolate();
  return v8::Function::New(context, callback,
                           v8::Integer::New(isolate, static_cast<int32_t>(function.id)),
                           static_cast<int>(function.params.size()),
                           v8::ConstructorBehavior::kThrow);
}

// The functions prepareWasiFunctions left in `context`; empty when there are none.
v8::Local<v8::Array> preparedWasiFunctions(v8::Local<v8::Context> context) {
  if (context->GetNumberOfEmbedderDataFields() <= static_cast<uint32_t>(kWasiFunctionsField))
    return {};
  v8::Local<v8::Value> functions = context->GetEmbedderData(kWasiFunctionsField);
  return functions->IsArray() ? functions.As<v8::Array>() : v8::Local<v8::Array>();
}

}  // namespace

ImportBinding::ImportBinding(v8::Isolate* isolate, wasi::Host& host)
    : isolate_(isolate), host_(&host) {
  isolate_->SetData(kBindingSlot, this);
}

ImportBinding::ImportBinding(v8::Isolate* isolate) : isolate_(isolate), host_(nullptr) {
  isolate_->SetData(kBindingSlot, this);
}

ImportBinding::~ImportBinding() {
  if (isolate_->GetData(kBindingSlot) == this) isolate_->SetData(kBindingSlot, nullptr);
}

bool prepareWasiFunctions(v8::Local<v8::Context> context) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::HandleScope scope(isolate);
  v8::Local<v8::Array> functions = v8::Array::New(isolate, static_cast<int>(std::size(wasi::kFunctions)));
  for (const wasi::FunctionInfo& function : wasi::kFunctions) {
    v8::Local<v8::Function> made;
    if (!makeWasiFunction(context, function, &ImportBinding::callWasi).ToLocal(&made) ||
        functions->Set(context, static_cast<uint32_t>(function.id), made).IsNothing())
      return false;
  }
  context->SetEmbedderData(kWasiFunctionsField, functions);
  return true;
}

v8::MaybeLocal<v8::Object> ImportBinding::makeImports(v8::Local<v8::Context> context,
                                                      const ModuleInfo& info) {
  v8::EscapableHandleScope scope(isolate_);
  v8::Local<v8::Object> imports = v8::Object::New(isolate_);
  v8::Local<v8::Array> prepared = preparedWasiFunctions(context);
  for (const Import& import : info.imports) {
    if (import.kind != ExternKind::kFunction) continue;  // V8's LinkError names it
    v8::Local<v8::Function> function;
    const wasi::FunctionInfo* wasiFunction =
        import.module == wasi::kModuleName ? wasi::findFunction(import.name) : nullptr;
    if (wasiFunction != nullptr) {
      v8::Local<v8::Value> made;
      if (!prepared.IsEmpty()) {
        if (!prepared->Get(context, static_cast<uint32_t>(wasiFunction->id)).ToLocal(&made) ||
            !made->IsFunction())
          return {};
        function = made.As<v8::Function>();
      } else if (!makeWasiFunction(context, *wasiFunction, &ImportBinding::callWasi)
                      .ToLocal(&function)) {
        return {};
      }
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
  v8::Isolate* isolate = info.GetIsolate();
  auto* self = static_cast<ImportBinding*>(isolate->GetData(kBindingSlot));
  int32_t id = info.Data().As<v8::Int32>()->Value();
  if (self == nullptr || self->host_ == nullptr || id < 0 ||
      static_cast<size_t>(id) >= std::size(wasi::kFunctions)) {
    isolate->ThrowException(v8::Exception::Error(makeString(isolate, "no WASI host")));
    return;
  }
  const wasi::FunctionInfo& function = wasi::kFunctions[static_cast<size_t>(id)];
  if (self->exited_) return self->unwindForExit();

  std::array<uint64_t, wasi::kMaxParams> args{};
  for (size_t i = 0; i < function.params.size(); ++i)
    args[i] = toHostArg(isolate, info[static_cast<int>(i)], function.params[i]);

  uint32_t result = self->host_->call(function.id, self->guestMemory(), args.data());
  if (self->host_->exitCode().has_value()) return self->unwindForExit();
  if (function.hasResult) info.GetReturnValue().Set(result);
}

void ImportBinding::callStub(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto* slot = static_cast<StubSlot*>(info.Data().As<v8::External>()->Value());
  v8::Isolate* isolate = info.GetIsolate();
  isolate->ThrowException(v8::Exception::WasmRuntimeError(
      makeString(isolate, "called unlinked import " + slot->qualifiedName)));
}

}  // namespace runwasi::engine::v8engine
