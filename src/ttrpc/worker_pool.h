// A fixed set of threads running queued jobs in order of arrival.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace runwasi::ttrpc {

// Runs server handlers off the loop thread, so a slow one (Create compiling a module)
// delays neither the loop nor the other requests.
class WorkerPool {
 public:
  explicit WorkerPool(size_t threads);
  // Drops the jobs not started yet, waits for the running ones.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void submit(std::function<void()> job);

 private:
  void work();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;  // guarded by mutex_
  bool stopping_ = false;                   // guarded by mutex_
  std::vector<std::thread> threads_;
};

}  // namespace runwasi::ttrpc
