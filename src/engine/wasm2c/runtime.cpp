#include "engine/wasm2c/runtime.h"

#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <wasm-rt.h>

#include <atomic>
#include <cstdlib>
#include <mutex>

namespace runwasi::engine::wasm2c {
namespace {

// Whether another run holds the runtime (its globals are not per thread).
std::atomic<bool> g_busy{false};

// Whether this thread is executing guest code right now (read by the signal filter).
thread_local volatile sig_atomic_t t_inGuest = 0;

// Written once under g_initOnce, before the filter is installed; read by the filter.
struct sigaction g_runtimeAction;  // wasm_rt_init's handler: fault -> trap -> longjmp
struct sigaction g_previousSegv;   // whatever handled SIGSEGV before us (e.g. ASan)
struct sigaction g_previousBus;
std::once_flag g_initOnce;

// A guest fault this close to the interrupted stack pointer is the stack running out (its
// guard page or gap), whatever si_code says: a guard page reads as SEGV_ACCERR, which the
// runtime would call an out-of-bounds access. Linear-memory accesses fault inside the
// memory's 8 GiB reservation, not within 1 MiB of the stack pointer (were one to, it
// would still trap, under another message). Judging by the stack pointer needs no stack
// bounds: pthread_getattr_np reads /proc/self/maps for the main thread, ~0.1 ms a run.
constexpr uintptr_t kStackWindow = 1 << 20;

uintptr_t interruptedStackPointer(const void* context) {
  const auto* uc = static_cast<const ucontext_t*>(context);
#if defined(__x86_64__)
  return static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
  return static_cast<uintptr_t>(uc->uc_mcontext.sp);
#else
  (void)uc;
  return 0;  // unknown: the runtime's own classification applies
#endif
}

constexpr size_t kMemoryReservation = 0x200000000ull;  // what wasm_rt_allocate_memory maps

// The runtime's handler turns every SIGSEGV into a trap and longjmps to the last run's
// jump buffer, even when the fault is in host code or no guest runs at all. This filter
// hands it only faults of guest code; others go where they would have gone without us.
void signalFilter(int sig, siginfo_t* info, void* context) {
  if (t_inGuest) {
    auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
    uintptr_t sp = interruptedStackPointer(context);
    if (sig == SIGSEGV && sp && addr + kStackWindow >= sp && addr < sp + kStackWindow)
      wasm_rt_trap(WASM_RT_TRAP_EXHAUSTION);           // does not return
    g_runtimeAction.sa_sigaction(sig, info, context);  // does not return
    return;
  }
  const struct sigaction& previous = sig == SIGBUS ? g_previousBus : g_previousSegv;
  if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction) {
    previous.sa_sigaction(sig, info, context);
    return;
  }
  if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
    return;
  }
  // Default action: re-executing the faulting instruction now kills the process.
  signal(sig, SIG_DFL);
}

void initRuntime() {
  sigaction(SIGSEGV, nullptr, &g_previousSegv);
  sigaction(SIGBUS, nullptr, &g_previousBus);
  // wasm_rt_init replaces this thread's alternate signal stack with one of its own. Keep a
  // stack someone else installed (ASan gives every thread one and unmaps whatever it finds
  // there when the thread exits); the runtime's then simply stays unused.
  stack_t previousAltStack = {};
  bool hadAltStack =
      sigaltstack(nullptr, &previousAltStack) == 0 && !(previousAltStack.ss_flags & SS_DISABLE);
  wasm_rt_init();
  if (hadAltStack) sigaltstack(&previousAltStack, nullptr);
  sigaction(SIGSEGV, nullptr, &g_runtimeAction);
  struct sigaction filter = {};
  filter.sa_sigaction = signalFilter;
  filter.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&filter.sa_mask);
  sigaction(SIGSEGV, &filter, nullptr);
  sigaction(SIGBUS, &filter, nullptr);
}

// A stack overflow in guest code is caught by the SIGSEGV handler, which needs an
// alternate signal stack on the faulting thread; wasm_rt_init set one up only for the
// thread that called it.
void* ensureAltStack() {
  stack_t current;
  if (sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE)) return nullptr;
  size_t size = SIGSTKSZ > 65536 ? SIGSTKSZ : 65536;
  void* memory = std::malloc(size);
  if (!memory) return nullptr;
  stack_t ss = {};
  ss.ss_sp = memory;
  ss.ss_size = size;
  if (sigaltstack(&ss, nullptr) != 0) {
    std::free(memory);
    return nullptr;
  }
  return memory;
}

void releaseAltStack(void* memory) {
  if (!memory) return;
  stack_t ss = {};
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  std::free(memory);
}

}  // namespace

Expected<RuntimeLease> RuntimeLease::acquire() {
  std::call_once(g_initOnce, initRuntime);
  if (g_busy.exchange(true))
    return makeError(ErrorCode::kFailedPrecondition,
                     "another wasm2c guest is running in this process (the wasm2c 1.0.32 "
                     "runtime holds one instance per process)");
  RuntimeLease lease;
  lease.held_ = true;
  // wasm_rt_allocate_memory aborts the process when it cannot reserve 8 GiB: find out
  // now, while it is still an error we can report (RLIMIT_AS is the usual cause).
  void* probe = ::mmap(nullptr, kMemoryReservation, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (probe == MAP_FAILED)
    return makeSysError("cannot reserve the 8 GiB of address space a wasm2c memory needs");
  ::munmap(probe, kMemoryReservation);
  lease.altStack_ = ensureAltStack();
  return lease;
}

RuntimeLease::RuntimeLease(RuntimeLease&& other) noexcept
    : held_(std::exchange(other.held_, false)),
      altStack_(std::exchange(other.altStack_, nullptr)) {}

RuntimeLease::~RuntimeLease() {
  if (!held_) return;
  releaseAltStack(altStack_);
  g_busy.store(false);
}

GuestCodeScope::GuestCodeScope() {
  t_inGuest = 1;
}
GuestCodeScope::~GuestCodeScope() {
  t_inGuest = 0;
}

HostCodeScope::HostCodeScope() : saved_(t_inGuest) {
  t_inGuest = 0;
}
HostCodeScope::~HostCodeScope() {
  t_inGuest = saved_;
}

const char* trapMessage(uint32_t trap) {
  switch (static_cast<wasm_rt_trap_t>(trap)) {
    case WASM_RT_TRAP_OOB:
      return "out of bounds memory access";
    case WASM_RT_TRAP_INT_OVERFLOW:
      return "integer overflow";
    case WASM_RT_TRAP_DIV_BY_ZERO:
      return "integer divide by zero";
    case WASM_RT_TRAP_INVALID_CONVERSION:
      return "invalid conversion to integer";
    case WASM_RT_TRAP_UNREACHABLE:
      return "unreachable executed";
    case WASM_RT_TRAP_CALL_INDIRECT:
      return "indirect call to a null or mismatched function";
    case WASM_RT_TRAP_UNCAUGHT_EXCEPTION:
      return "uncaught wasm exception";
    case WASM_RT_TRAP_EXHAUSTION:
      return "call stack exhausted";
    case WASM_RT_TRAP_NONE:
      break;
  }
  return "unknown trap";
}

}  // namespace runwasi::engine::wasm2c
