#include "shim/task_process.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/log.h"

namespace runwasi::shim {

TaskProcess::TaskProcess(Parts parts) : parts_(std::move(parts)) {}

TaskProcess::~TaskProcess() {
  release();
}

Expected<void> TaskProcess::start() {
  std::lock_guard lock(mutex_);
  if (!parts_.startGate)
    return makeError(ErrorCode::kFailedPrecondition,
                     fmt::format("{} was started already", parts_.name));
  char go = 1;
  ssize_t n;
  while ((n = ::write(parts_.startGate.get(), &go, 1)) < 0 && errno == EINTR) {
  }
  int err = errno;
  parts_.startGate.reset();
  if (n != 1) return makeSysError(fmt::format("starting {}", parts_.name), err);
  return {};
}

Expected<void> TaskProcess::kill(int signal) const {
  if (parts_.pid <= 0 || ::kill(parts_.pid, signal) != 0) {
    if (parts_.pid <= 0 || errno == ESRCH)
      return makeError(ErrorCode::kNotFound, "process already finished");
    return makeSysError(fmt::format("sending signal {} to {}", signal, parts_.name));
  }
  return {};
}

void TaskProcess::closeStdin() {
  std::lock_guard lock(mutex_);
  parts_.stdinWriter.reset();
}

Expected<void> TaskProcess::resize(uint32_t width, uint32_t height) const {
  std::lock_guard lock(mutex_);
  if (!parts_.console) return {};
  return parts_.console->resize(width, height);
}

void TaskProcess::waitForOutputDrained(std::chrono::milliseconds idle,
                                       std::chrono::milliseconds limit) const {
  auto start = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  if (parts_.console && !parts_.console->waitOutputDone(limit))
    log::debug("{}: the terminal's output is still being copied", parts_.name);
  auto unread = [this] {
    int total = 0;
    for (const UniqueFd& reader : parts_.outputReaders) {
      int n = 0;
      if (::ioctl(reader.get(), FIONREAD, &n) == 0) total += n;
    }
    return total;
  };
  auto lastProgress = std::chrono::steady_clock::now();
  int left = unread();
  while (left > 0) {
    auto now = std::chrono::steady_clock::now();
    if (now - lastProgress >= idle || now - start >= limit) {
      log::debug("{}: {} bytes of output left unread", parts_.name, left);
      return;
    }
    ::usleep(1000);
    int next = unread();
    if (next < left) lastProgress = std::chrono::steady_clock::now();
    left = next;
  }
}

void TaskProcess::release() {
  std::unique_ptr<Console> console;
  {
    std::lock_guard lock(mutex_);
    parts_.startGate.reset();
    parts_.stdinWriter.reset();
    parts_.outputReaders.clear();
    console = std::move(parts_.console);
  }
  console.reset();  // joins its thread, outside the lock
}

}  // namespace runwasi::shim
