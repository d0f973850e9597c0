// One isolate for one run: made with this engine's settings, or taken over from the zygote
// that forked this process; disposed on every path.
#pragma once

#include <v8-array-buffer.h>
#include <v8-context.h>
#include <v8-isolate.h>
#include <v8-wasm.h>

#include <memory>
#include <string>
#include <string_view>

namespace runwasi::engine::v8engine {

struct PreparedIsolate;

// Makes this process's prepared isolate (with its context) if there is none yet: what a
// zygote does once so that every process it forks afterwards starts from a copy of it
// instead of deserialising V8's snapshot into a new isolate. V8 runs single-threaded
// (v8_platform.h) on memory that forks inherit (forkable_platform.h), so nothing of V8 is
// lost in the fork. False when there is one but this process has taken it over.
bool prepareIsolate();

// The prepared isolate for zygote-side work that must leave it as it found it (no handle,
// scope, exception or termination left behind): null when there is none or it was taken.
PreparedIsolate* preparedIsolateForZygote();
v8::Isolate* isolateOf(PreparedIsolate& prepared);
v8::Local<v8::Context> contextOf(PreparedIsolate& prepared);

// Whether the zygote-side preparation of the context (prepared_module.h) is done.
bool contextPrepared(PreparedIsolate& prepared);
void markContextPrepared(PreparedIsolate& prepared);

// Prepared modules: loaded in the zygote's prepared isolate (prepared_module.h), found by
// the module's sha256 in every fork. At most kMaxPreparedModules, the least recently used
// one dropped first.
inline constexpr size_t kMaxPreparedModules = 4;
bool hasPreparedModule(PreparedIsolate& prepared, std::string_view digest);
void addPreparedModule(PreparedIsolate& prepared, std::string_view digest,
                       v8::Local<v8::WasmModuleObject> module);

class IsolateSession {
 public:
  // Takes over the prepared isolate when this process has one nobody took yet (it is a
  // fork of the zygote that made it) and this is the thread that made it; otherwise makes
  // a new isolate. Either way the stack limit comes from the calling thread's stack.
  IsolateSession();
  ~IsolateSession();
  IsolateSession(const IsolateSession&) = delete;
  IsolateSession& operator=(const IsolateSession&) = delete;

  v8::Isolate* isolate() const { return isolate_; }
  // Whether this session runs on the zygote's prepared isolate.
  bool prepared() const { return prepared_ != nullptr; }
  // The context for this session: the prepared one (once), else a new one. Call inside a
  // HandleScope of the isolate.
  v8::Local<v8::Context> takeContext();
  // The module with this sha256 if the zygote prepared it; empty otherwise.
  v8::MaybeLocal<v8::WasmModuleObject> preparedModule(std::string_view digest) const;
  // The process ends right after this session: skip the isolate's teardown (the exit frees
  // its memory; disposing a heap costs ~0.3 ms of unmapping it page range by page range).
  void leakAtExit() { leak_ = true; }

 private:
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator_;  // a new isolate's
  v8::Isolate* isolate_ = nullptr;
  PreparedIsolate* prepared_ = nullptr;  // when taken over
  bool contextTaken_ = false;
  bool leak_ = false;
};

// The scopes every use of a session needs, entered in this order and left in reverse: the
// isolate, a handle scope, and the session's context. Lives on the stack, as V8's scopes
// must.
class EnteredContext {
 public:
  explicit EnteredContext(IsolateSession& session)
      : isolateScope_(session.isolate()),
        handleScope_(session.isolate()),
        context_(session.takeContext()),
        contextScope_(context_) {}
  EnteredContext(const EnteredContext&) = delete;
  EnteredContext& operator=(const EnteredContext&) = delete;

  v8::Local<v8::Context> context() const { return context_; }

 private:
  v8::Isolate::Scope isolateScope_;
  v8::HandleScope handleScope_;
  v8::Local<v8::Context> context_;
  v8::Context::Scope contextScope_;
};

// "RuntimeError: unreachable": the exception as JS's String() shows it.
std::string exceptionText(v8::Isolate* isolate, v8::Local<v8::Context> context,
                          v8::Local<v8::Value> exception);

// A property of `object` by name; empty when absent or when the lookup threw.
v8::MaybeLocal<v8::Value> getProperty(v8::Isolate* isolate, v8::Local<v8::Context> context,
                                      v8::Local<v8::Object> object, std::string_view name);

v8::Local<v8::String> makeString(v8::Isolate* isolate, std::string_view text);

}  // namespace runwasi::engine::v8engine
