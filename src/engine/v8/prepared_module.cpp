#include "engine/v8/prepared_module.h"

#include <v8-exception.h>
#include <v8-function.h>
#include <v8-isolate.h>
#include <v8-local-handle.h>
#include <v8-primitive.h>
#include <v8-statistics.h>
#include <v8-wasm.h>

#include <vector>

#include <fmt/core.h>

#include "common/log.h"
#include "engine/module_info.h"
#include "engine/v8/artifact_format.h"
#include "engine/v8/code_cache.h"
#include "engine/v8/isolate_session.h"
#include "engine/v8/v8_platform.h"
#include "engine/v8/wasi_imports.h"

namespace runwasi::engine::v8engine {
namespace {

tl::unexpected<Error> notPrepared(std::string why) {
  return makeError(ErrorCode::kFailedPrecondition, std::move(why));
}

// What a failed V8 call threw, for the log.
std::string thrown(v8::Isolate* isolate, v8::Local<v8::Context> context,
                   const v8::TryCatch& tryCatch) {
  return tryCatch.HasCaught() ? exceptionText(isolate, context, tryCatch.Exception())
                              : std::string("no exception");
}

// Has V8 compile the wrappers through which `compiled` calls the imports of `info`.
//
// V8 10.2 compiles a wasm-to-JS wrapper per (callable kind, signature, arity) at every
// instantiation unless the module's NativeModule already has it in its import wrapper
// cache; a fork that instantiates this very module object finds them there. There is no
// API to compile them on their own, but instantiation compiles every callable import's
// wrapper first, and only then checks the imports one by one
// (InstanceBuilder::ProcessImports). So an instantiation with one function import that is
// not callable compiles the others' wrappers and then fails with a LinkError, as the JS API
// requires it to fail while reading the imports: before data segments are copied and before
// a start function could run. Two attempts, each missing a different import, cover them
// all (with a single function import there is nothing to cover it: its wrapper is still
// compiled in each fork).
Expected<void> compileImportWrappers(v8::Isolate* isolate, v8::Local<v8::Context> context,
                                     v8::Local<v8::WasmModuleObject> compiled,
                                     const ModuleInfo& info) {
  std::vector<const Import*> functions;
  for (const Import& import : info.imports)
    if (import.kind == ExternKind::kFunction) functions.push_back(&import);
  if (functions.size() < 2) return {};

  v8::TryCatch tryCatch(isolate);
  v8::Local<v8::Value> wasm, constructor;
  if (!getProperty(isolate, context, context->Global(), "WebAssembly").ToLocal(&wasm) ||
      !wasm->IsObject() ||
      !getProperty(isolate, context, wasm.As<v8::Object>(), "Instance").ToLocal(&constructor) ||
      !constructor->IsFunction())
    return notPrepared("V8 has no WebAssembly.Instance");
  ImportBinding binding(isolate);  // imports shaped as run()'s, with no host behind them
  v8::Local<v8::Object> imports;
  if (!binding.makeImports(context, info).ToLocal(&imports))
    return notPrepared("cannot build imports: " + thrown(isolate, context, tryCatch));

  for (const Import* missing : {functions.front(), functions.back()}) {
    v8::Local<v8::Value> namespaceObject, function;
    v8::Local<v8::String> name = makeString(isolate, missing->name);
    if (!getProperty(isolate, context, imports, missing->module).ToLocal(&namespaceObject) ||
        !namespaceObject->IsObject())
      return notPrepared("imports object without " + missing->module);
    v8::Local<v8::Object> ns = namespaceObject.As<v8::Object>();
    if (!ns->Get(context, name).ToLocal(&function) ||
        ns->Set(context, name, v8::Undefined(isolate)).IsNothing())
      return notPrepared("cannot edit the imports object: " + thrown(isolate, context, tryCatch));

    v8::Local<v8::Value> args[] = {compiled, imports};
    v8::Local<v8::Value> instance;
    if (constructor.As<v8::Object>()->CallAsConstructor(context, 2, args).ToLocal(&instance)) {
      // Not reachable while V8 follows the JS API (the import is not callable); should it
      // ever be, the instance is dropped unused.
      log::warn("v8: instantiating with import {}.{} missing succeeded", missing->module,
                missing->name);
    } else {
      log::debug("v8: import wrappers compiled; the instantiation failed as intended: {}",
                 thrown(isolate, context, tryCatch));
    }
    tryCatch.Reset();
    if (ns->Set(context, name, function).IsNothing())
      return notPrepared("cannot restore the imports object");
  }
  return {};
}

// After a module's preparation in the prepared isolate: nothing of it may be left for
// the forks.
void tidy(v8::Isolate* isolate) {
  // Not the garbage (the failed instances' memory reservations): a full GC now, so that no
  // fork inherits it or collects it. No task either, the GC's own included.
  isolate->LowMemoryNotification();
  drainTasks(isolate);
  // And no sweeping: single-threaded V8 sweeps lazily, as it next allocates, which every
  // fork would then do for the zygote's whole heap (~10% of a fork's V8 time). V8 has no
  // call for that alone; collecting code statistics makes the heap iterable first, which
  // completes the sweeping (and costs a walk of the code space, small here).
  v8::HeapCodeStatistics statistics;
  isolate->GetHeapCodeAndMetadataStatistics(&statistics);
}

// `new WebAssembly.Instance(new WebAssembly.Module(<the empty module>))`: the first
// instance in a context makes the Instance constructor's initial map (~5% of a fork's V8
// time); made here, every fork finds it. The empty module has no code to run.
bool instantiateAnEmptyModule(v8::Isolate* isolate, v8::Local<v8::Context> context) {
  static constexpr uint8_t kEmptyModule[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  v8::TryCatch tryCatch(isolate);
  v8::Local<v8::WasmModuleObject> module;
  v8::Local<v8::Value> wasm, constructor, instance;
  if (!v8::WasmModuleObject::Compile(isolate, {kEmptyModule, sizeof kEmptyModule}).ToLocal(&module) ||
      !getProperty(isolate, context, context->Global(), "WebAssembly").ToLocal(&wasm) ||
      !wasm->IsObject() ||
      !getProperty(isolate, context, wasm.As<v8::Object>(), "Instance").ToLocal(&constructor) ||
      !constructor->IsFunction())
    return false;
  v8::Local<v8::Value> args[] = {module};
  return constructor.As<v8::Object>()->CallAsConstructor(context, 1, args).ToLocal(&instance);
}

}  // namespace

Expected<void> prepareIsolateForForks() {
  if (!prepareIsolate()) return notPrepared("this process has taken its prepared isolate");
  PreparedIsolate* prepared = preparedIsolateForZygote();
  if (prepared == nullptr) return notPrepared("no prepared isolate on this thread");
  if (contextPrepared(*prepared)) return {};
  v8::Isolate* isolate = isolateOf(*prepared);
  v8::Isolate::Scope isolateScope(isolate);
  v8::HandleScope handleScope(isolate);
  v8::Local<v8::Context> context = contextOf(*prepared);
  v8::Context::Scope contextScope(context);
  bool made = prepareWasiFunctions(context) && instantiateAnEmptyModule(isolate, context);
  drainTasks(isolate);  // (no GC: a new isolate and 46 functions leave no garbage to speak of)
  if (!made) return notPrepared("cannot make the WASI functions");
  markContextPrepared(*prepared);
  return {};
}

Expected<void> prepareModule(const ModuleSource& module, int artifactFd) {
  if (artifactFd < 0) return notPrepared("no precompiled artifact");
  TRY_VOID(prepareIsolateForForks());
  PreparedIsolate* prepared = preparedIsolateForZygote();
  if (prepared == nullptr) return notPrepared("no prepared isolate on this thread");
  if (hasPreparedModule(*prepared, module.digest)) return {};

  auto info = readModuleInfo(module.bytes);
  if (!info) return notPrepared(info.error().message);
  TRY(Bytes artifact, readArtifact(artifactFd));
  TRY(std::span<const uint8_t> payload,
      verifyArtifact(artifact, moduleDigest(module.digest, module.bytes), v8CacheKey()));

  v8::Isolate* isolate = isolateOf(*prepared);
  v8::Isolate::Scope isolateScope(isolate);
  v8::HandleScope handleScope(isolate);
  v8::Local<v8::Context> context = contextOf(*prepared);
  v8::Context::Scope contextScope(context);
  Expected<void> result = [&]() -> Expected<void> {
    v8::TryCatch tryCatch(isolate);
    bool accepted = false;
    v8::Local<v8::WasmModuleObject> compiled;
    if (!loadSerializedModule(isolate, context, payload, {module.bytes.data(), module.bytes.size()},
                              &accepted, OnRejected::kFail)
             .ToLocal(&compiled))
      return notPrepared(accepted ? "loading the artifact failed: " +
                                        thrown(isolate, context, tryCatch)
                                  : std::string("V8 rejected the artifact"));
    TRY_VOID(compileImportWrappers(isolate, context, compiled, *info));
    addPreparedModule(*prepared, module.digest, compiled);
    return {};
  }();
  tidy(isolate);
  return result;
}

}  // namespace runwasi::engine::v8engine
