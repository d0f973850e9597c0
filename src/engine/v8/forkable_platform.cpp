#include "engine/v8/forkable_platform.h"

#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace runwasi::engine::v8engine {
namespace {

class ForkableAllocator final : public v8::PageAllocator {
 public:
  explicit ForkableAllocator(v8::PageAllocator& inner) : inner_(inner) {}

  size_t AllocatePageSize() override { return inner_.AllocatePageSize(); }
  size_t CommitPageSize() override { return inner_.CommitPageSize(); }
  void SetRandomMmapSeed(int64_t seed) override { inner_.SetRandomMmapSeed(seed); }
  void* GetRandomMmapAddr() override { return inner_.GetRandomMmapAddr(); }

  void* AllocatePages(void* address, size_t length, size_t alignment,
                      Permission permissions) override {
    void* pages = inner_.AllocatePages(address, length, alignment, permissions);
    if (pages != nullptr && ::madvise(pages, length, MADV_DOFORK) != 0) warnOnce(errno);
    return pages;
  }
  bool FreePages(void* address, size_t length) override { return inner_.FreePages(address, length); }
  bool ReleasePages(void* address, size_t length, size_t newLength) override {
    return inner_.ReleasePages(address, length, newLength);
  }
  bool SetPermissions(void* address, size_t length, Permission permissions) override {
    return inner_.SetPermissions(address, length, permissions);
  }
  bool DiscardSystemPages(void* address, size_t size) override {
    return inner_.DiscardSystemPages(address, size);
  }
  bool DecommitPages(void* address, size_t size) override {
    return inner_.DecommitPages(address, size);
  }
  // Shared memory (only for V8 features this engine does not turn on) stays as the inner
  // allocator makes it.
  bool ReserveForSharedMemoryMapping(void* address, size_t size) override {
    return inner_.ReserveForSharedMemoryMapping(address, size);
  }
  std::unique_ptr<SharedMemory> AllocateSharedPages(size_t length,
                                                    const void* originalAddress) override {
    return inner_.AllocateSharedPages(length, originalAddress);
  }
  bool CanAllocateSharedPages() override { return inner_.CanAllocateSharedPages(); }

 private:
  static void warnOnce(int err) {
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true))
      log::warn("v8: madvise(MADV_DOFORK) failed ({}): forks of this process lose V8's memory",
                std::strerror(err));
  }

  v8::PageAllocator& inner_;
};

class ForkablePlatform final : public v8::Platform {
 public:
  ForkablePlatform(v8::Platform& inner, v8::PageAllocator& innerAllocator)
      : inner_(&inner), allocator_(innerAllocator) {}

  v8::PageAllocator* GetPageAllocator() override { return &allocator_; }
  v8::ZoneBackingAllocator* GetZoneBackingAllocator() override {
    return inner_->GetZoneBackingAllocator();
  }
  void OnCriticalMemoryPressure() override { inner_->OnCriticalMemoryPressure(); }
  bool OnCriticalMemoryPressure(size_t length) override {
    return inner_->OnCriticalMemoryPressure(length);
  }
  int NumberOfWorkerThreads() override { return inner_->NumberOfWorkerThreads(); }
  std::shared_ptr<v8::TaskRunner> GetForegroundTaskRunner(v8::Isolate* isolate) override {
    return inner_->GetForegroundTaskRunner(isolate);
  }
  void CallOnWorkerThread(std::unique_ptr<v8::Task> task) override {
    inner_->CallOnWorkerThread(std::move(task));
  }
  void CallBlockingTaskOnWorkerThread(std::unique_ptr<v8::Task> task) override {
    inner_->CallBlockingTaskOnWorkerThread(std::move(task));
  }
  void CallLowPriorityTaskOnWorkerThread(std::unique_ptr<v8::Task> task) override {
    inner_->CallLowPriorityTaskOnWorkerThread(std::move(task));
  }
  void CallDelayedOnWorkerThread(std::unique_ptr<v8::Task> task, double delaySeconds) override {
    inner_->CallDelayedOnWorkerThread(std::move(task), delaySeconds);
  }
  bool IdleTasksEnabled(v8::Isolate* isolate) override { return inner_->IdleTasksEnabled(isolate); }
  std::unique_ptr<v8::JobHandle> PostJob(v8::TaskPriority priority,
                                         std::unique_ptr<v8::JobTask> jobTask) override {
    return inner_->PostJob(priority, std::move(jobTask));
  }
  double MonotonicallyIncreasingTime() override { return inner_->MonotonicallyIncreasingTime(); }
  double CurrentClockTimeMillis() override { return inner_->CurrentClockTimeMillis(); }
  StackTracePrinter GetStackTracePrinter() override { return inner_->GetStackTracePrinter(); }
  v8::TracingController* GetTracingController() override {
    return inner_->GetTracingController();
  }
  void DumpWithoutCrashing() override { inner_->DumpWithoutCrashing(); }
  v8::HighAllocationThroughputObserver* GetHighAllocationThroughputObserver() override {
    return inner_->GetHighAllocationThroughputObserver();
  }

 private:
  v8::Platform* inner_;
  ForkableAllocator allocator_;
};

}  // namespace

std::unique_ptr<v8::Platform> makeForkablePlatform(v8::Platform& inner) {
  v8::PageAllocator* innerAllocator = inner.GetPageAllocator();
  if (innerAllocator == nullptr) return nullptr;
  return std::make_unique<ForkablePlatform>(inner, *innerAllocator);
}

}  // namespace runwasi::engine::v8engine
