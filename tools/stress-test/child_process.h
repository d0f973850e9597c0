// Running the shim binary as containerd does: a short-lived child whose stdout and stderr
// are read together, with a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "driver.h"

namespace runwasi::stress {

struct ChildCommand {
  std::vector<std::string> argv;  // argv[0] is the program's path
  std::vector<std::string> env;   // the whole environment, "K=V" each
  std::filesystem::path cwd;
};

struct ChildResult {
  int waitStatus = 0;  // as waitpid gives it
  std::string output;  // stdout and stderr, interleaved as written
  bool succeeded() const;
  // "exit status 1", "killed by signal 9".
  std::string describe() const;
};

// Runs the command with stdin on /dev/null (containerd's empty runtime options), until it
// exits and its output is closed. Past the deadline it is SIGKILLed, and the result is an
// Unavailable error saying so.
Expected<ChildResult> runChild(const ChildCommand& command, Deadline deadline);

// This process's environment with `overrides` ("K=V") replacing or adding variables.
std::vector<std::string> environmentWith(const std::vector<std::string>& overrides);

// A pidfd for `pid` (close-on-exec); empty when the process is already gone.
UniqueFd openPidfd(pid_t pid);
// Waits for the process behind a pidfd to exit; false if it still runs at the deadline.
bool waitPidfd(int pidfd, Deadline deadline);

// The CPU time (user + system) process `pid` has used; with `reapedChildren`, also that of
// the children it has reaped. Zero when it is gone.
std::chrono::nanoseconds processCpuTime(pid_t pid, bool reapedChildren);
// Its live children (those of its main thread).
std::vector<pid_t> childrenOf(pid_t pid);

struct ProcessInfo {
  pid_t pid = 0;
  std::vector<std::string> argv;
  std::string describe() const;  // "PID: ARGV..."
};
// Processes (not this one) with `needle` in their command line (containers and zygotes
// keep their shim's).
std::vector<ProcessInfo> processesMentioning(std::string_view needle);

}  // namespace runwasi::stress
