#include "engine/v8/isolate_session.h"

#include <pthread.h>
#include <v8-exception.h>
#include <v8-initialization.h>
#include <v8-primitive.h>

#include <algorithm>
#include <cstdint>

#include "common/log.h"
#include "engine/v8/code_cache.h"
#include "engine/v8/v8_platform.h"

namespace runwasi::engine::v8engine {
namespace {

// Room left below V8's limit for V8's own C++ frames, host calls and signal handling.
constexpr uintptr_t kStackReserve = 256 * 1024;
// V8 assumes ~1 MB of stack unless told otherwise (< 50k wasm frames, and a crash on a
// thread with less); we give it the calling thread's actual stack instead.
constexpr uintptr_t kMaxStackUse = 1024ull * 1024 * 1024;

// The lowest address V8 may use on the calling thread's stack, or 0 to keep V8's default.
uintptr_t stackLimitForThisThread() {
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return 0;
  void* low = nullptr;
  size_t size = 0;
  int rc = pthread_attr_getstack(&attr, &low, &size);
  pthread_attr_destroy(&attr);
  if (rc != 0 || size == 0) return 0;
  // The stack grows down towards `low`; what is left below the current frame counts.
  // (The frame address, not a local's: ASan may put locals on a heap "fake stack".)
  uintptr_t here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  uintptr_t bottom = reinterpret_cast<uintptr_t>(low);
  uintptr_t reserve = std::min<uintptr_t>(kStackReserve, size / 4);
  if (here <= bottom + reserve) return here;  // no room at all: every call overflows
  return here - std::min(here - bottom - reserve, kMaxStackUse);
}

// V8 aborts the process after this returns; the log says why first. (No fatal error
// handler: with one set, V8 carries on with a dead isolate instead of aborting.)
void onOutOfMemory(const char* location, bool isHeapOom) {
  log::error("v8: out of memory in {} ({})", location ? location : "?",
             isHeapOom ? "JS heap" : "process");
}

}  // namespace

IsolateSession::IsolateSession() {
  ensureV8Initialized();
  allocator_.reset(v8::ArrayBuffer::Allocator::NewDefaultAllocator());
  v8::Isolate::CreateParams params;
  params.array_buffer_allocator = allocator_.get();
  isolate_ = v8::Isolate::New(params);
  if (uintptr_t limit = stackLimitForThisThread(); limit != 0) isolate_->SetStackLimit(limit);
  isolate_->SetOOMErrorHandler(&onOutOfMemory);
  installStreamingCallback(isolate_);
}

IsolateSession::~IsolateSession() {
  if (isolate_ != nullptr) isolate_->Dispose();
}

std::string exceptionText(v8::Isolate* isolate, v8::Local<v8::Context> context,
                          v8::Local<v8::Value> exception) {
  if (exception.IsEmpty()) return "unknown exception";
  v8::Local<v8::String> text;
  if (!exception->ToString(context).ToLocal(&text)) return "unprintable exception";
  v8::String::Utf8Value utf8(isolate, text);
  return *utf8 != nullptr ? std::string(*utf8, utf8.length()) : std::string("exception");
}

v8::MaybeLocal<v8::Value> getProperty(v8::Isolate* isolate, v8::Local<v8::Context> context,
                                      v8::Local<v8::Object> object, std::string_view name) {
  v8::Local<v8::Value> value;
  if (!object->Get(context, makeString(isolate, name)).ToLocal(&value)) return {};
  if (value->IsUndefined()) return {};
  return value;
}

v8::Local<v8::String> makeString(v8::Isolate* isolate, std::string_view text) {
  return v8::String::NewFromUtf8(isolate, text.data(), v8::NewStringType::kNormal,
                                 static_cast<int>(text.size()))
      .ToLocalChecked();
}

}  // namespace runwasi::engine::v8engine
