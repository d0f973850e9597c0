// One isolate for one run: created with this engine's settings, disposed on every path.
#pragma once

#include <v8-array-buffer.h>
#include <v8-context.h>
#include <v8-isolate.h>

#include <memory>
#include <string>

namespace runwasi::engine::v8engine {

class IsolateSession {
 public:
  // Initializes V8 if needed; sets the stack limit from the calling thread's stack.
  IsolateSession();
  ~IsolateSession();
  IsolateSession(const IsolateSession&) = delete;
  IsolateSession& operator=(const IsolateSession&) = delete;

  v8::Isolate* isolate() const { return isolate_; }

 private:
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator_;
  v8::Isolate* isolate_ = nullptr;
};

// The scopes every use of a session needs, entered in this order and left in reverse: the
// isolate, a handle scope, and a new context. Lives on the stack, as V8's scopes must.
class EnteredContext {
 public:
  explicit EnteredContext(v8::Isolate* isolate)
      : isolateScope_(isolate),
        handleScope_(isolate),
        context_(v8::Context::New(isolate)),
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
