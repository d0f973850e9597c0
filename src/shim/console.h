// The shim's side of a process's pseudo-terminal (terminal: true): a thread copies the
// stdin FIFO into the pty master and the master into the stdout FIFO, as containerd's runc
// shim does; ResizePty sets its window size.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/error.h"
#include "common/unique_fd.h"

namespace runwasi::shim {

class Console {
 public:
  // Starts copying. `in` (the stdin FIFO's read end) and `out` (the stdout FIFO's write
  // end) may be invalid: no such stream. `name` is for log lines.
  static Expected<std::unique_ptr<Console>> start(UniqueFd master, UniqueFd in, UniqueFd out,
                                                  std::string name);
  ~Console();  // stops the thread; what was not copied yet is dropped
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  // TIOCSWINSZ on the master.
  Expected<void> resize(uint32_t width, uint32_t height) const;
  // Waits until all output was copied (every slave fd is closed: the process and what it
  // started are gone), for at most `limit`; false on timeout.
  bool waitOutputDone(std::chrono::milliseconds limit);

 private:
  Console(UniqueFd master, UniqueFd in, UniqueFd out, UniqueFd stop, std::string name);
  void run();

  UniqueFd master_, in_, out_;
  UniqueFd stop_;  // eventfd: the destructor ends the thread
  std::string name_;
  std::mutex mutex_;
  std::condition_variable done_;
  bool outputDone_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace runwasi::shim
