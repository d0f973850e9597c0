// The process's one wasm2c runtime (libwasm-rt-impl.a, linked into the executable and
// exported to every loaded module .so): initialisation, exclusive use, and the signal
// handling around it.
//
// wabt 1.0.32 keeps its state in globals (one jump buffer, one SIGSEGV handler, one
// registry of function types), so at most one guest runs in a process at a time.
#pragma once

#include "common/error.h"

namespace runwasi::engine::wasm2c {

// Exclusive use of the runtime by the calling thread, for one run.
class RuntimeLease {
 public:
  // Initialises the runtime once per process; FailedPrecondition while another run holds
  // it; ResourceExhausted-like Unavailable when no 8 GiB memory reservation is possible.
  static Expected<RuntimeLease> acquire();

  RuntimeLease(RuntimeLease&& other) noexcept;
  RuntimeLease& operator=(RuntimeLease&&) = delete;
  ~RuntimeLease();

 private:
  RuntimeLease() = default;
  bool held_ = false;
  void* altStack_ = nullptr;  // this thread's signal stack, when we had to provide one
};

// Marks the calling thread as running guest code for its lifetime: only then does a
// SIGSEGV/SIGBUS become a wasm trap (a longjmp); anywhere else it is a crash, as usual.
class GuestCodeScope {
 public:
  GuestCodeScope();
  ~GuestCodeScope();
  GuestCodeScope(const GuestCodeScope&) = delete;
  GuestCodeScope& operator=(const GuestCodeScope&) = delete;
};

// The reverse, around a host call made from guest code: a fault in the (C++) host must
// never longjmp over its frames.
class HostCodeScope {
 public:
  HostCodeScope();
  ~HostCodeScope();
  HostCodeScope(const HostCodeScope&) = delete;
  HostCodeScope& operator=(const HostCodeScope&) = delete;

 private:
  int saved_;
};

// The trap message for a wasm_rt_trap_t ("unreachable executed", ...).
const char* trapMessage(uint32_t trap);

}  // namespace runwasi::engine::wasm2c
