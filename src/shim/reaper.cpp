#include "shim/reaper.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <future>

#include <fmt/format.h>

#include "common/log.h"

namespace runwasi::shim {

int exitStatusOf(int waitStatus) {
  if (WIFEXITED(waitStatus)) return WEXITSTATUS(waitStatus);
  if (WIFSIGNALED(waitStatus)) return 128 + WTERMSIG(waitStatus);
  return 255;
}

Expected<void> Reaper::blockSigchld() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  if (int err = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0)
    return makeSysError("blocking SIGCHLD", err);
  return {};
}

Expected<std::unique_ptr<Reaper>> Reaper::start() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  UniqueFd signalFd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signalFd) return makeSysError("signalfd for SIGCHLD");
  UniqueFd wakeFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wakeFd) return makeSysError("eventfd for the reaper");
  std::unique_ptr<Reaper> reaper(new Reaper(std::move(signalFd), std::move(wakeFd)));
  reaper->thread_ = std::thread([r = reaper.get()] { r->run(); });
  return reaper;
}

Reaper::Reaper(UniqueFd signalFd, UniqueFd wakeFd)
    : signalFd_(std::move(signalFd)), wakeFd_(std::move(wakeFd)) {}

Reaper::~Reaper() {
  stop();
}

void Reaper::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    watches_.clear();
  }
  uint64_t one = 1;
  (void)!::write(wakeFd_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void Reaper::run() {
  pollfd fds[2] = {{signalFd_.get(), POLLIN, 0}, {wakeFd_.get(), POLLIN, 0}};
  reapAll();  // children that exited before the thread started
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::error("reaper: poll: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    signalfd_siginfo info;
    // Signals coalesce: drain them all, then collect every exited child.
    while (::read(signalFd_.get(), &info, sizeof info) == sizeof info) {
    }
    reapAll();
  }
}

void Reaper::reapAll() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return;  // none left exited (0), or no children at all (ECHILD)
    ProcessExit exit{pid, exitStatusOf(status), std::chrono::system_clock::now()};
    OnExit onExit;
    {
      std::lock_guard lock(mutex_);
      auto it = watches_.find(pid);
      if (it != watches_.end()) {
        onExit = std::move(it->second);
        watches_.erase(it);
      } else {
        held_[pid] = exit;
        heldOrder_.push_back(pid);
        if (heldOrder_.size() > kMaxHeldExits) {
          held_.erase(heldOrder_.front());
          heldOrder_.pop_front();
        }
      }
    }
    if (onExit) onExit(exit);
  }
}

void Reaper::watch(pid_t pid, OnExit onExit) {
  std::unique_lock lock(mutex_);
  if (stopped_) return;
  auto it = held_.find(pid);
  if (it == held_.end()) {
    watches_[pid] = std::move(onExit);
    return;
  }
  ProcessExit exit = it->second;
  held_.erase(it);
  std::erase(heldOrder_, pid);
  lock.unlock();
  onExit(exit);
}

void Reaper::unwatch(pid_t pid) {
  std::lock_guard lock(mutex_);
  watches_.erase(pid);
}

Expected<ProcessExit> Reaper::waitFor(pid_t pid) {
  auto promise = std::make_shared<std::promise<ProcessExit>>();
  auto future = promise->get_future();
  // The callback owns the only reference: when stop() drops the watch (or watch() refuses
  // one after stop), the promise dies with it and future.get() throws.
  watch(pid, [p = std::move(promise)](const ProcessExit& exit) { p->set_value(exit); });
  try {
    return future.get();
  } catch (const std::future_error&) {
    return makeError(ErrorCode::kUnavailable,
                     fmt::format("the reaper stopped before process {} exited", pid));
  }
}

}  // namespace runwasi::shim
