#include "engine/v8/v8_engine.h"

#include <v8-exception.h>
#include <v8-function.h>
#include <v8-isolate.h>
#include <v8-local-handle.h>
#include <v8-wasm.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/core.h>

#include "common/log.h"
#include "engine/module_info.h"
#include "engine/v8/artifact_format.h"
#include "engine/v8/code_cache.h"
#include "engine/v8/isolate_session.h"
#include "engine/v8/prepared_module.h"
#include "engine/v8/v8_platform.h"
#include "engine/v8/wasi_imports.h"

namespace runwasi::engine {
namespace {

using v8engine::EnteredContext;
using v8engine::ImportBinding;
using v8engine::IsolateSession;

using v8engine::v8CacheKey;

class V8Precompiler final : public Precompiler {
 public:
  std::string cacheKey() const override { return v8CacheKey(); }
  Expected<Bytes> precompile(const ModuleSource& module) const override;
};

// RUNWASI_V8_PREPARE_FORKS=0 turns off the zygote's prepared isolate and modules (for
// comparisons, and as a way out should a V8 state shared by forks ever misbehave).
bool forkPreparation() {
  static const bool on = [] {
    const char* env = std::getenv("RUNWASI_V8_PREPARE_FORKS");
    return env == nullptr || std::string_view(env) != "0";
  }();
  return on;
}

class V8Engine final : public Engine {
 public:
  std::string_view name() const override { return "v8"; }
  std::string version() const override { return "V8 " + v8engine::v8Version(); }
  const Precompiler* precompiler() const override { return &precompiler_; }
  Expected<void> prepare() override {
    v8engine::ensureV8Initialized();
    return {};
  }
  void prepareForks() override {
    if (!forkPreparation()) return;
    if (auto prepared = v8engine::prepareIsolateForForks(); !prepared)
      log::debug("v8: no isolate prepared for the forks: {}", prepared.error().message);
  }
  void prepareModuleForForks(const ModuleSource& module, int artifactFd) override {
    if (!forkPreparation()) return;
    if (auto prepared = v8engine::prepareModule(module, artifactFd); prepared)
      log::debug("v8: {}: prepared for the forks", module.name);
    else
      log::debug("v8: {}: not prepared for the forks: {}", module.name, prepared.error().message);
  }
  Expected<RunResult> run(const ModuleSource& module, int artifactFd, const RunOptions& options,
                          wasi::Host& host) override;

 private:
  V8Precompiler precompiler_;
};

// What V8 threw, as one line.
std::string caught(v8::Isolate* isolate, v8::Local<v8::Context> context,
                   const v8::TryCatch& tryCatch) {
  if (tryCatch.HasTerminated()) return "execution terminated";
  return v8engine::exceptionText(isolate, context, tryCatch.Exception());
}

tl::unexpected<Error> invalidModule(const ModuleSource& module, std::string_view why) {
  return makeError(ErrorCode::kInvalidArgument,
                   module.name + ": invalid module: " + std::string(why));
}

// The module compiled from its bytes, with V8's CompileError as the message on failure.
Expected<v8::Local<v8::WasmModuleObject>> compile(v8::Isolate* isolate,
                                                  v8::Local<v8::Context> context,
                                                  const ModuleSource& module) {
  v8::TryCatch tryCatch(isolate);
  v8::Local<v8::WasmModuleObject> compiled;
  if (!v8::WasmModuleObject::Compile(isolate, {module.bytes.data(), module.bytes.size()})
           .ToLocal(&compiled))
    return invalidModule(module, caught(isolate, context, tryCatch));
  return compiled;
}

// The module as the zygote prepared it (same bytes: same sha256), else from a verified
// artifact when `artifactFd` holds one V8 accepts, otherwise compiled from its bytes. A bad
// artifact costs a warning and a compile, never the run.
Expected<v8::Local<v8::WasmModuleObject>> load(const IsolateSession& session,
                                               v8::Local<v8::Context> context,
                                               const ModuleSource& module, int artifactFd) {
  v8::Isolate* isolate = session.isolate();
  v8::Local<v8::WasmModuleObject> prepared;
  if (session.preparedModule(module.digest).ToLocal(&prepared)) {
    log::debug("v8: {}: prepared by the zygote", module.name);
    return prepared;
  }
  if (artifactFd < 0) return compile(isolate, context, module);
  auto artifact = v8engine::readArtifact(artifactFd);
  Expected<std::span<const uint8_t>> payload =
      artifact ? v8engine::verifyArtifact(
                     *artifact, v8engine::moduleDigest(module.digest, module.bytes), v8CacheKey())
               : tl::unexpected(artifact.error());
  if (!payload) {
    log::warn("v8: {}: ignoring the precompiled artifact ({}); compiling", module.name,
              payload.error().message);
    return compile(isolate, context, module);
  }

  v8::TryCatch tryCatch(isolate);
  bool accepted = false;
  v8::Local<v8::WasmModuleObject> loaded;
  bool ok = v8engine::loadSerializedModule(isolate, context, *payload,
                                           {module.bytes.data(), module.bytes.size()}, &accepted)
                .ToLocal(&loaded);
  if (!accepted) log::warn("v8: {}: V8 rejected the precompiled artifact; compiling", module.name);
  if (ok) {
    if (accepted) log::debug("v8: {}: loaded from the precompiled artifact", module.name);
    return loaded;  // (when V8 rejected the payload, it compiled the bytes instead)
  }
  log::warn("v8: {}: loading the artifact failed ({}); compiling", module.name,
            caught(isolate, context, tryCatch));
  return compile(isolate, context, module);
}

struct WasmApi {
  v8::Local<v8::Object> instanceConstructor;
  v8::Local<v8::Object> runtimeError;
  v8::Local<v8::Object> linkError;
};

Expected<WasmApi> wasmApi(v8::Isolate* isolate, v8::Local<v8::Context> context) {
  v8::Local<v8::Value> wasm;
  if (!v8engine::getProperty(isolate, context, context->Global(), "WebAssembly").ToLocal(&wasm) ||
      !wasm->IsObject())
    return makeError(ErrorCode::kInternal, "V8 has no WebAssembly object");
  WasmApi api;
  for (auto [name, field] :
       {std::pair{"Instance", &api.instanceConstructor},
        std::pair{"RuntimeError", &api.runtimeError}, std::pair{"LinkError", &api.linkError}}) {
    v8::Local<v8::Value> value;
    if (!v8engine::getProperty(isolate, context, wasm.As<v8::Object>(), name).ToLocal(&value) ||
        !value->IsFunction())
      return makeError(ErrorCode::kInternal, fmt::format("V8 has no WebAssembly.{}", name));
    *field = value.As<v8::Object>();
  }
  return api;
}

bool isInstanceOf(v8::Local<v8::Context> context, v8::Local<v8::Value> value,
                  v8::Local<v8::Object> constructor) {
  return !value.IsEmpty() && value->IsObject() &&
         value->InstanceOf(context, constructor).FromMaybe(false);
}

// A wasm trap: a WebAssembly.RuntimeError, or V8's stack overflow RangeError.
bool isTrap(v8::Isolate* isolate, v8::Local<v8::Context> context, const WasmApi& api,
            v8::Local<v8::Value> exception) {
  if (isInstanceOf(context, exception, api.runtimeError)) return true;
  return !exception.IsEmpty() && exception->IsObject() &&
         v8engine::exceptionText(isolate, context, exception) ==
             "RangeError: Maximum call stack size exceeded";
}

RunResult exitedResult(wasi::Host& host) {
  return RunResult{RunResult::Kind::kExited, host.exitCode().value_or(0), {}};
}

RunResult trappedResult(std::string message) {
  return RunResult{RunResult::Kind::kTrapped, kTrapExitCode, std::move(message)};
}

// Milliseconds since `start`, for the debug log of where start-up time goes.
double msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

Expected<RunResult> V8Engine::run(const ModuleSource& module, int artifactFd,
                                  const RunOptions& options, wasi::Host& host) {
  auto start = std::chrono::steady_clock::now();
  auto info = readModuleInfo(module.bytes);
  if (!info) return invalidModule(module, info.error().message);
  if (auto linkable = checkLinkable(*info, options.function, options.stubUnknownImports); !linkable)
    return tl::unexpected(std::move(linkable).error().context(module.name));

  v8engine::ensureV8Initialized();
  double initMs = msSince(start);
  IsolateSession session;
  if (options.processExitsAfterRun) session.leakAtExit();
  v8::Isolate* isolate = session.isolate();
  EnteredContext entered(session);
  v8::Local<v8::Context> context = entered.context();
  ImportBinding binding(isolate, host);  // after the session: its handles die first
  double isolateMs = msSince(start);

  TRY(WasmApi api, wasmApi(isolate, context));
  TRY(v8::Local<v8::WasmModuleObject> compiled, load(session, context, module, artifactFd));
  double loadMs = msSince(start);
  if (options.beforeInstantiate) options.beforeInstantiate();
  auto instantiateStart = std::chrono::steady_clock::now();

  v8::TryCatch tryCatch(isolate);
  v8::Local<v8::Object> imports;
  if (!binding.makeImports(context, *info).ToLocal(&imports))
    return makeError(ErrorCode::kInternal,
                     module.name + ": cannot build imports: " + caught(isolate, context, tryCatch));

  // The start section (if any) runs here, so an exit or a trap can already happen.
  v8::Local<v8::Value> instanceArgs[] = {compiled, imports};
  v8::Local<v8::Value> instance;
  if (!api.instanceConstructor->CallAsConstructor(context, 2, instanceArgs).ToLocal(&instance) ||
      !instance->IsObject()) {
    if (binding.exited()) {
      isolate->CancelTerminateExecution();
      return exitedResult(host);
    }
    if (isTrap(isolate, context, api, tryCatch.Exception()))
      return trappedResult(caught(isolate, context, tryCatch));
    // A LinkError is the module's fault; anything else (out of memory for the linear
    // memory, say) is the environment's.
    ErrorCode code = isInstanceOf(context, tryCatch.Exception(), api.linkError)
                         ? ErrorCode::kInvalidArgument
                         : ErrorCode::kUnavailable;
    return makeError(code,
                     module.name + ": cannot instantiate: " + caught(isolate, context, tryCatch));
  }

  v8::Local<v8::Value> exportsValue, entry;
  if (!v8engine::getProperty(isolate, context, instance.As<v8::Object>(), "exports")
           .ToLocal(&exportsValue) ||
      !exportsValue->IsObject())
    return makeError(ErrorCode::kInternal, module.name + ": instance has no exports");
  v8::Local<v8::Object> exports = exportsValue.As<v8::Object>();
  binding.attachMemory(context, exports);
  if (!v8engine::getProperty(isolate, context, exports, options.function).ToLocal(&entry) ||
      !entry->IsFunction())
    return makeError(ErrorCode::kInvalidArgument,
                     module.name + ": no exported function '" + options.function + "'");

  log::debug(
      "v8: {}: V8 init {:.2f} ms, isolate+context {:.2f} ms ({}), load {:.2f} ms, instantiate "
      "{:.2f} ms",
      module.name, initMs, isolateMs - initMs, session.prepared() ? "the zygote's" : "new",
      loadMs - isolateMs, msSince(instantiateStart));

  v8::Local<v8::Value> returned;
  if (entry.As<v8::Function>()
          ->Call(context, v8::Undefined(isolate), 0, nullptr)
          .ToLocal(&returned))
    return RunResult{};
  if (binding.exited()) {
    isolate->CancelTerminateExecution();
    return exitedResult(host);
  }
  // Every other exception out of the guest ends it like a trap does (a stub's
  // RuntimeError, a stack overflow, a TypeError at the JS boundary).
  return trappedResult(caught(isolate, context, tryCatch));
}

Expected<Bytes> V8Precompiler::precompile(const ModuleSource& module) const {
  IsolateSession session;
  v8::Isolate* isolate = session.isolate();
  EnteredContext entered(session);
  v8::Local<v8::Context> context = entered.context();
  TRY(v8::Local<v8::WasmModuleObject> compiled, compile(isolate, context, module));
  auto payload = v8engine::serializeModule(compiled);
  if (!payload) return tl::unexpected(std::move(payload).error().context(module.name));
  return v8engine::encodeArtifact(*payload, v8engine::moduleDigest(module.digest, module.bytes),
                                  v8CacheKey());
}

}  // namespace

std::unique_ptr<Engine> makeV8Engine() {
  return std::make_unique<V8Engine>();
}

}  // namespace runwasi::engine
