// Watches the OOM notifiers of the shim's cgroups (sandbox::Cgroup::oomNotifier) on one
// thread, so that /tasks/oom is published while a container keeps running (an exec or a
// child OOM-killed), as containerd's runc shim does with its epoller.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/error.h"
#include "common/unique_fd.h"

namespace runwasi::shim {

class OomWatcher {
 public:
  static Expected<std::unique_ptr<OomWatcher>> start();
  ~OomWatcher();  // stops the thread
  OomWatcher(const OomWatcher&) = delete;
  OomWatcher& operator=(const OomWatcher&) = delete;

  // Calls `onEvent` on the watcher's thread each time `notifier` becomes readable (after
  // draining it). One watch per key; a second replaces the first.
  Expected<void> watch(const std::string& key, UniqueFd notifier, std::function<void()> onEvent);
  // Forgets the watch; once it returns, its callback is not running and will not run.
  void unwatch(const std::string& key);

 private:
  OomWatcher(UniqueFd epoll, UniqueFd stop);
  void run();

  struct Watch {
    UniqueFd fd;
    std::function<void()> onEvent;
  };
  UniqueFd epoll_, stop_;
  std::mutex mutex_;  // held while a callback runs, so that unwatch() can wait for it
  std::map<int, std::pair<std::string, std::shared_ptr<Watch>>> byFd_;  // guarded by mutex_
  std::map<std::string, int> fdOf_;                                     // guarded by mutex_
  std::thread thread_;
};

}  // namespace runwasi::shim
