// args, environ, clocks, randomness and process control.
#include <sched.h>
#include <sys/random.h>
#include <time.h>

#include <cerrno>
#include <csignal>

#include "wasi/host_impl.h"

namespace runwasi::wasi {
Result<clockid_t> hostClock(uint32_t id) {
  switch (static_cast<ClockId>(id)) {
    case ClockId::kRealtime:
      return CLOCK_REALTIME;
    case ClockId::kMonotonic:
      return CLOCK_MONOTONIC;
    case ClockId::kProcessCputime:
      return CLOCK_PROCESS_CPUTIME_ID;
    case ClockId::kThreadCputime:
      return CLOCK_THREAD_CPUTIME_ID;
  }
  return fail(Errno::kInval);
}

uint64_t toNanos(const struct timespec& ts) {
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

namespace {

// The WASI signal numbers (witx order) and what each does by default.
enum class SignalAction { kTerminate, kIgnore, kStop };
struct SignalInfo {
  int hostSignal;
  SignalAction action;
};
constexpr SignalInfo kSignals[] = {
    {0, SignalAction::kIgnore},  // none
    {SIGHUP, SignalAction::kTerminate},
    {SIGINT, SignalAction::kTerminate},
    {SIGQUIT, SignalAction::kTerminate},
    {SIGILL, SignalAction::kTerminate},
    {SIGTRAP, SignalAction::kTerminate},
    {SIGABRT, SignalAction::kTerminate},
    {SIGBUS, SignalAction::kTerminate},
    {SIGFPE, SignalAction::kTerminate},
    {SIGKILL, SignalAction::kTerminate},
    {SIGUSR1, SignalAction::kTerminate},
    {SIGSEGV, SignalAction::kTerminate},
    {SIGUSR2, SignalAction::kTerminate},
    {SIGPIPE, SignalAction::kTerminate},
    {SIGALRM, SignalAction::kTerminate},
    {SIGTERM, SignalAction::kTerminate},
    {SIGCHLD, SignalAction::kIgnore},
    {SIGCONT, SignalAction::kIgnore},
    {SIGSTOP, SignalAction::kStop},
    {SIGTSTP, SignalAction::kStop},
    {SIGTTIN, SignalAction::kStop},
    {SIGTTOU, SignalAction::kStop},
    {SIGURG, SignalAction::kIgnore},
    {SIGXCPU, SignalAction::kTerminate},
    {SIGXFSZ, SignalAction::kTerminate},
    {SIGVTALRM, SignalAction::kTerminate},
    {SIGPROF, SignalAction::kTerminate},
    {SIGWINCH, SignalAction::kIgnore},
    {SIGPOLL, SignalAction::kTerminate},
    {SIGPWR, SignalAction::kTerminate},
    {SIGSYS, SignalAction::kTerminate},
};
static_assert(std::size(kSignals) == 31, "witx has 31 signal values");

}  // namespace

Errno HostImpl::writeStrings(M m, const std::vector<std::string>& strings, uint32_t ptrs,
                             uint32_t buf) {
  uint64_t total = 0;
  for (const std::string& s : strings) total += s.size() + 1;
  WASI_CHECK(checkOut(m, ptrs, strings.size() * sizeof(uint32_t)));
  WASI_CHECK(checkOut(m, buf, total));
  uint64_t offset = buf;
  for (size_t i = 0; i < strings.size(); ++i) {
    m.store<uint32_t>(ptrs + i * sizeof(uint32_t), static_cast<uint32_t>(offset));
    auto dest = m.bytes(offset, strings[i].size() + 1);
    if (!dest) return Errno::kFault;  // (checked above; kept for the invariant)
    std::memcpy(dest->data(), strings[i].c_str(), strings[i].size() + 1);
    offset += strings[i].size() + 1;
  }
  return Errno::kSuccess;
}

Errno HostImpl::writeStringSizes(M m, const std::vector<std::string>& strings, uint32_t countOut,
                                 uint32_t bufSizeOut) {
  uint64_t total = 0;
  for (const std::string& s : strings) total += s.size() + 1;
  if (strings.size() > UINT32_MAX || total > UINT32_MAX) return Errno::kOverflow;
  WASI_CHECK(checkOut(m, countOut, sizeof(uint32_t)));
  WASI_CHECK(checkOut(m, bufSizeOut, sizeof(uint32_t)));
  m.store(countOut, static_cast<uint32_t>(strings.size()));
  m.store(bufSizeOut, static_cast<uint32_t>(total));
  return Errno::kSuccess;
}

Errno HostImpl::args_get(M m, uint32_t argv, uint32_t argvBuf) {
  return writeStrings(m, config_.args, argv, argvBuf);
}
Errno HostImpl::args_sizes_get(M m, uint32_t argcOut, uint32_t bufSizeOut) {
  return writeStringSizes(m, config_.args, argcOut, bufSizeOut);
}
Errno HostImpl::environ_get(M m, uint32_t environ, uint32_t environBuf) {
  return writeStrings(m, config_.env, environ, environBuf);
}
Errno HostImpl::environ_sizes_get(M m, uint32_t countOut, uint32_t bufSizeOut) {
  return writeStringSizes(m, config_.env, countOut, bufSizeOut);
}

Errno HostImpl::clock_res_get(M m, uint32_t id, uint32_t resolutionOut) {
  WASI_TRY(clockid_t clock, hostClock(id));
  struct timespec ts {};
  if (clock_getres(clock, &ts) != 0) return lastErrno();
  return storeOut<uint64_t>(m, resolutionOut, toNanos(ts));
}

Errno HostImpl::clock_time_get(M m, uint32_t id, uint64_t /*precision: a hint*/, uint32_t timeOut) {
  WASI_TRY(clockid_t clock, hostClock(id));
  struct timespec ts {};
  if (clock_gettime(clock, &ts) != 0) return lastErrno();
  return storeOut<uint64_t>(m, timeOut, toNanos(ts));
}

Errno HostImpl::proc_exit(M, uint32_t code) {
  if (!exitCode_) exitCode_ = code;
  return Errno::kSuccess;  // the engine sees exitCode() and unwinds the guest
}

// A signal the guest raises at itself gets its default action, as for a process with no
// handlers: terminating ones end the guest like proc_exit(128 + host signal number);
// ignored ones do nothing; stopping is not supported (ENOTSUP).
Errno HostImpl::proc_raise(M, uint32_t signal) {
  if (signal >= std::size(kSignals)) return Errno::kInval;
  const SignalInfo& info = kSignals[signal];
  switch (info.action) {
    case SignalAction::kIgnore:
      return Errno::kSuccess;
    case SignalAction::kStop:
      return Errno::kNotsup;
    case SignalAction::kTerminate:
      if (!exitCode_) exitCode_ = 128u + static_cast<uint32_t>(info.hostSignal);
      return Errno::kSuccess;
  }
  return Errno::kInval;
}

Errno HostImpl::sched_yield(M) {
  ::sched_yield();
  return Errno::kSuccess;
}

Errno HostImpl::random_get(M m, uint32_t buf, uint32_t bufLen) {
  auto dest = m.bytes(buf, bufLen);
  if (!dest) return Errno::kFault;
  size_t done = 0;
  while (done < dest->size()) {
    ssize_t n = getrandom(dest->data() + done, dest->size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return lastErrno();
    }
    done += static_cast<size_t>(n);
  }
  return Errno::kSuccess;
}

}  // namespace runwasi::wasi
