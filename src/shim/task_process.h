// One process of a task as the shim holds it, the container's own or an exec: its pid, the
// start gate that lets it run, the shim's ends of its stdio (a writer on the stdin FIFO
// that CloseIO drops, readers on the output FIFOs) and, with a terminal, its console.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "shim/console.h"

namespace runwasi::shim {

class TaskProcess {
 public:
  struct Parts {
    std::string name;  // "<task id>" or "<task id>/<exec id>", for messages
    pid_t pid = -1;
    UniqueFd startGate;    // the write end; a byte starts the process, closing it ends it
    UniqueFd stdinWriter;  // held open so that stdin sees EOF only after CloseIO
    std::vector<UniqueFd> outputReaders;  // see holdOutputReaders
    std::unique_ptr<Console> console;     // terminal: true
  };
  explicit TaskProcess(Parts parts);
  ~TaskProcess();
  TaskProcess(const TaskProcess&) = delete;
  TaskProcess& operator=(const TaskProcess&) = delete;

  pid_t pid() const { return parts_.pid; }
  bool terminal() const { return parts_.console != nullptr; }

  // Lets the process run. FailedPrecondition the second time.
  Expected<void> start();
  // Sends `signal` to the process; NotFound once it is gone.
  Expected<void> kill(int signal) const;
  // CloseIO: drops the shim's writer on the stdin FIFO, so the process reads EOF once the
  // client has closed its own. Idempotent.
  void closeStdin();
  // ResizePty; a no-op without a terminal (as runc's shim).
  Expected<void> resize(uint32_t width, uint32_t height) const;
  // After the process exited: waits while its output is still on its way to the client
  // (a console still copying; bytes left in the FIFOs, and that number shrinking), so that
  // a client that tears its FIFOs down as soon as Wait returns loses nothing. Gives up
  // when nobody reads for `idle`, and after `limit` in any case.
  void waitForOutputDrained(std::chrono::milliseconds idle, std::chrono::milliseconds limit) const;
  // Closes the start gate (a process never started exits), the stdio ends and the console.
  void release();

 private:
  Parts parts_;
  mutable std::mutex mutex_;  // guards parts_'s fds against release() from another thread
};

}  // namespace runwasi::shim
