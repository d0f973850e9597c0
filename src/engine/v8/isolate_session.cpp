#include "engine/v8/isolate_session.h"

#include <pthread.h>
#include <sys/resource.h>
#include <v8-exception.h>
#include <v8-initialization.h>
#include <v8-persistent-handle.h>
#include <v8-primitive.h>

#include <algorithm>
#include <cstdint>
#include <list>
#include <mutex>

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

struct StackBounds {
  void* low = nullptr;
  size_t size = 0;
  rlim_t sizeLimit = 0;  // RLIMIT_STACK when measured
};

// The calling thread's stack. For the main thread glibc's pthread_getattr_np reads
// /proc/self/maps (~0.1 ms with V8's mappings, on every container's start) and sizes the
// stack by RLIMIT_STACK: kept per thread and reused while that limit is unchanged (a fork
// of the zygote has the zygote's main-thread stack; the container may lower the limit).
const StackBounds* threadStack() {
  thread_local StackBounds cached;
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_STACK, &limit) != 0) limit.rlim_cur = RLIM_INFINITY;
  if (cached.size != 0 && cached.sizeLimit == limit.rlim_cur) return &cached;
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return nullptr;
  StackBounds bounds;
  int rc = pthread_attr_getstack(&attr, &bounds.low, &bounds.size);
  pthread_attr_destroy(&attr);
  if (rc != 0 || bounds.size == 0) return nullptr;
  bounds.sizeLimit = limit.rlim_cur;
  cached = bounds;
  return &cached;
}

// The lowest address V8 may use on the calling thread's stack, or 0 to keep V8's default.
uintptr_t stackLimitForThisThread() {
  const StackBounds* stack = threadStack();
  if (stack == nullptr) return 0;
  void* low = stack->low;
  size_t size = stack->size;
  // The stack grows down towards `low`; what is left below the current frame counts.
  // (The frame address, not a local's: ASan may put locals on a heap "fake stack".)
  uintptr_t here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  uintptr_t bottom = reinterpret_cast<uintptr_t>(low);
  uintptr_t reserve = std::min<uintptr_t>(kStackReserve, size / 4);
  if (here <= bottom + reserve) return here;  // no room at all: every call overflows
  return here - std::min(here - bottom - reserve, kMaxStackUse);
}

void setStackLimit(v8::Isolate* isolate) {
  if (uintptr_t limit = stackLimitForThisThread(); limit != 0) isolate->SetStackLimit(limit);
}

// V8 aborts the process after this returns; the log says why first. (No fatal error
// handler: with one set, V8 carries on with a dead isolate instead of aborting.)
void onOutOfMemory(const char* location, bool isHeapOom) {
  log::error("v8: out of memory in {} ({})", location ? location : "?",
             isHeapOom ? "JS heap" : "process");
}

v8::Isolate* newIsolate(v8::ArrayBuffer::Allocator* allocator) {
  ensureV8Initialized();
  v8::Isolate::CreateParams params;
  params.array_buffer_allocator = allocator;
  v8::Isolate* isolate = v8::Isolate::New(params);
  isolate->SetOOMErrorHandler(&onOutOfMemory);
  installStreamingCallback(isolate);
  return isolate;
}

}  // namespace

struct PreparedIsolate {
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator;
  v8::Isolate* isolate = nullptr;
  v8::Global<v8::Context> context;
  pthread_t thread;  // the one that made it: V8 keeps per-thread state for each isolate
  struct Module {
    std::string digest;
    v8::Global<v8::WasmModuleObject> module;
  };
  std::list<Module> modules;  // most recently used first
  bool contextDone = false;
};

namespace {

// The process's prepared isolate, inherited by every fork. The record is never destroyed
// (the zygote that made the isolate _exits); a process that takes the isolate over
// disposes of it through its IsolateSession.
struct Prepared {
  std::mutex mutex;
  PreparedIsolate* isolate = nullptr;  // guarded by mutex; owned
  bool taken = false;                  // guarded by mutex
};

Prepared& record() {
  static Prepared* p = new Prepared;
  return *p;
}

}  // namespace

bool prepareIsolate() {
  Prepared& p = record();
  std::lock_guard lock(p.mutex);
  if (p.isolate != nullptr) return !p.taken;
  auto made = std::make_unique<PreparedIsolate>();
  made->allocator.reset(v8::ArrayBuffer::Allocator::NewDefaultAllocator());
  made->isolate = newIsolate(made->allocator.get());
  made->thread = ::pthread_self();
  setStackLimit(made->isolate);
  {
    v8::Isolate::Scope isolateScope(made->isolate);
    v8::HandleScope handleScope(made->isolate);
    made->context.Reset(made->isolate, v8::Context::New(made->isolate));
  }
  p.isolate = made.release();
  return true;
}

PreparedIsolate* preparedIsolateForZygote() {
  Prepared& p = record();
  std::lock_guard lock(p.mutex);
  if (p.isolate == nullptr || p.taken || !::pthread_equal(p.isolate->thread, ::pthread_self()))
    return nullptr;
  return p.isolate;
}

v8::Isolate* isolateOf(PreparedIsolate& prepared) {
  return prepared.isolate;
}

v8::Local<v8::Context> contextOf(PreparedIsolate& prepared) {
  return prepared.context.Get(prepared.isolate);
}

bool contextPrepared(PreparedIsolate& prepared) {
  return prepared.contextDone;
}

void markContextPrepared(PreparedIsolate& prepared) {
  prepared.contextDone = true;
}

bool hasPreparedModule(PreparedIsolate& prepared, std::string_view digest) {
  for (auto it = prepared.modules.begin(); it != prepared.modules.end(); ++it) {
    if (it->digest != digest) continue;
    prepared.modules.splice(prepared.modules.begin(), prepared.modules, it);
    return true;
  }
  return false;
}

void addPreparedModule(PreparedIsolate& prepared, std::string_view digest,
                       v8::Local<v8::WasmModuleObject> module) {
  prepared.modules.push_front({std::string(digest), v8::Global<v8::WasmModuleObject>()});
  prepared.modules.front().module.Reset(prepared.isolate, module);
  while (prepared.modules.size() > kMaxPreparedModules) prepared.modules.pop_back();
}

IsolateSession::IsolateSession() {
  {
    Prepared& p = record();
    std::lock_guard lock(p.mutex);
    if (p.isolate != nullptr && !p.taken && ::pthread_equal(p.isolate->thread, ::pthread_self())) {
      p.taken = true;
      prepared_ = p.isolate;
    }
  }
  if (prepared_ != nullptr) {
    isolate_ = prepared_->isolate;
    reseedAddressHints();  // (a fork: see there)
  } else {
    allocator_.reset(v8::ArrayBuffer::Allocator::NewDefaultAllocator());
    isolate_ = newIsolate(allocator_.get());
  }
  // A prepared isolate too: the zygote's limit was for its own stack depth and rlimits.
  setStackLimit(isolate_);
}

IsolateSession::~IsolateSession() {
  if (leak_ || isolate_ == nullptr) return;
  if (prepared_ == nullptr) {
    isolate_->Dispose();
    return;
  }
  // Its handles first (a Global must not outlive its isolate), then the isolate, then its
  // allocator; this process may prepare another one afterwards.
  prepared_->modules.clear();
  prepared_->context.Reset();
  isolate_->Dispose();
  Prepared& p = record();
  std::lock_guard lock(p.mutex);
  delete p.isolate;
  p.isolate = nullptr;
  p.taken = false;
}

v8::Local<v8::Context> IsolateSession::takeContext() {
  if (prepared_ != nullptr && !contextTaken_) {
    contextTaken_ = true;
    return prepared_->context.Get(isolate_);
  }
  return v8::Context::New(isolate_);
}

v8::MaybeLocal<v8::WasmModuleObject> IsolateSession::preparedModule(std::string_view digest) const {
  if (prepared_ == nullptr) return {};
  for (const PreparedIsolate::Module& m : prepared_->modules)
    if (m.digest == digest) return m.module.Get(isolate_);
  return {};
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
