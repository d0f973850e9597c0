// The shim's child reaper: one thread that waits for SIGCHLD and collects every child that
// exits (the shim is a child subreaper, so orphans of its containers come here too).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common/error.h"
#include "common/unique_fd.h"

namespace runwasi::shim {

// How a process ended, as containerd reports it: the exit code, or 128+N when killed by
// signal N.
struct ProcessExit {
  pid_t pid = 0;
  int status = 0;
  std::chrono::system_clock::time_point exitedAt;
};

// The exit status of a wait(2) status word.
int exitStatusOf(int waitStatus);

// waitpid(-1) takes any child, so every child of the shim must be known to the reaper, or
// its exit is held: a container can exit before spawn() has told the shim its pid. Held
// exits are kept (the latest kMaxHeldExits) until watch() asks for them; exits of pids
// nobody watches (orphans reparented to the subreaper) age out of that list.
class Reaper {
 public:
  using OnExit = std::function<void(const ProcessExit&)>;

  static constexpr size_t kMaxHeldExits = 1024;

  // Blocks SIGCHLD in the calling thread; call it before any thread exists, so that every
  // thread inherits the mask and only the reaper's signalfd sees the signal.
  static Expected<void> blockSigchld();

  // Starts the reaper thread. SIGCHLD must be blocked (blockSigchld).
  static Expected<std::unique_ptr<Reaper>> start();
  ~Reaper();  // stop()
  Reaper(const Reaper&) = delete;
  Reaper& operator=(const Reaper&) = delete;

  // Calls onExit once, on the reaper thread, when `pid` exits; at once, on the calling
  // thread, when it has exited already. Register a pid right after it is made.
  void watch(pid_t pid, OnExit onExit);
  // Forgets a watch (the callback will not run).
  void unwatch(pid_t pid);
  // Blocks until `pid` exits and returns its exit; for short-lived helpers. Unavailable
  // when the reaper stops first.
  Expected<ProcessExit> waitFor(pid_t pid);

  // Ends the thread; watches still pending never fire. Idempotent.
  void stop();

 private:
  Reaper(UniqueFd signalFd, UniqueFd wakeFd);
  void run();
  void reapAll();

  UniqueFd signalFd_;
  UniqueFd wakeFd_;  // eventfd: stop()
  std::mutex mutex_;
  std::unordered_map<pid_t, OnExit> watches_;       // guarded by mutex_
  std::unordered_map<pid_t, ProcessExit> held_;     // guarded by mutex_
  std::deque<pid_t> heldOrder_;                     // guarded by mutex_; oldest first
  bool stopped_ = false;                            // guarded by mutex_
  std::thread thread_;
};

}  // namespace runwasi::shim
