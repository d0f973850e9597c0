#include "engine/v8/trap_handler.h"

#include <signal.h>
#include <sys/resource.h>

#include <v8-initialization.h>

#include <cstdlib>
#include <cstring>

namespace v8 {
// From v8-wasm-trap-handler-posix.h, which Debian's libnode-dev does not install under
// include/node: true when the fault was a wasm out-of-bounds access in V8 code, in which
// case `context` now resumes at V8's trap landing pad.
bool TryHandleWebAssemblyTrapPosix(int sig_code, siginfo_t* info, void* context);
}  // namespace v8

namespace runwasi::engine::v8engine {
namespace {

constexpr const char* kTrapHandlerEnv = "RUNWASI_V8_TRAP_HANDLER";

struct sigaction g_previous;  // written once before our handler is installed

void onSegv(int sig, siginfo_t* info, void* context) {
  if (v8::TryHandleWebAssemblyTrapPosix(sig, info, context)) return;
  if ((g_previous.sa_flags & SA_SIGINFO) && g_previous.sa_sigaction) {
    g_previous.sa_sigaction(sig, info, context);
    return;
  }
  if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
    return;
  }
  // Default action: re-executing the faulting instruction now kills the process.
  signal(sig, SIG_DFL);
}

}  // namespace

bool trapHandlerWanted() {
  if (const char* env = std::getenv(kTrapHandlerEnv); env && std::strcmp(env, "0") == 0)
    return false;
  struct rlimit limit;
  return ::getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur == RLIM_INFINITY;
}

bool enableTrapHandler() {
  // The handler first: V8 drops its bounds checks once the trap handler is enabled.
  struct sigaction action = {};
  action.sa_sigaction = onSegv;
  // SA_ONSTACK: a wasm2c guest's stack overflow in this process reaches us on its
  // alternate stack, and we pass it on.
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  if (::sigaction(SIGSEGV, &action, &g_previous) != 0) return false;
  return v8::V8::EnableWebAssemblyTrapHandler(/*use_v8_signal_handler=*/false);
}

}  // namespace runwasi::engine::v8engine
