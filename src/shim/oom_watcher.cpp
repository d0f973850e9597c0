#include "shim/oom_watcher.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"

namespace runwasi::shim {

Expected<std::unique_ptr<OomWatcher>> OomWatcher::start() {
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) return makeSysError("epoll_create1 for the OOM watcher");
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop) return makeSysError("eventfd for the OOM watcher");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = stop.get();
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, stop.get(), &ev) != 0)
    return makeSysError("epoll_ctl for the OOM watcher");
  std::unique_ptr<OomWatcher> watcher(new OomWatcher(std::move(epoll), std::move(stop)));
  watcher->thread_ = std::thread([w = watcher.get()] { w->run(); });
  return watcher;
}

OomWatcher::OomWatcher(UniqueFd epoll, UniqueFd stop)
    : epoll_(std::move(epoll)), stop_(std::move(stop)) {}

OomWatcher::~OomWatcher() {
  uint64_t one = 1;
  (void)!::write(stop_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

Expected<void> OomWatcher::watch(const std::string& key, UniqueFd notifier,
                                 std::function<void()> onEvent) {
  unwatch(key);
  std::lock_guard lock(mutex_);
  int fd = notifier.get();
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
    return makeSysError("watching an OOM notifier");
  byFd_[fd] = {key, std::make_shared<Watch>(Watch{std::move(notifier), std::move(onEvent)})};
  fdOf_[key] = fd;
  return {};
}

void OomWatcher::unwatch(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = fdOf_.find(key);
  if (it == fdOf_.end()) return;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second, nullptr);
  byFd_.erase(it->second);  // closes the fd
  fdOf_.erase(it);
}

void OomWatcher::run() {
  epoll_event events[16];
  for (;;) {
    int n = ::epoll_wait(epoll_.get(), events, 16, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      log::warn("OOM watcher: epoll_wait: {}", std::strerror(errno));
      return;
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == stop_.get()) return;
      std::lock_guard lock(mutex_);
      auto it = byFd_.find(fd);
      if (it == byFd_.end()) continue;  // unwatched meanwhile
      // Drain: 8 bytes of an eventfd, or the queued inotify events.
      char buf[4096];
      while (::read(fd, buf, sizeof buf) > 0) {
      }
      it->second.second->onEvent();
    }
  }
}

}  // namespace runwasi::shim
