// Opening the stdio paths containerd names in CreateTaskRequest for the container process.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace runwasi::shim {

// FIFO (or regular file, or /dev/null) paths; an empty path means no such stream.
struct StdioPaths {
  std::string stdinPath, stdoutPath, stderrPath;
};

// Blocking, close-on-exec fds; invalid where the path was empty.
struct StdioFds {
  UniqueFd in, out, err;
};

// Opens the streams without ever waiting for the other end of a FIFO: stdin read-only,
// stdout/stderr write-only (read-write while no reader exists yet, so early output stays
// buffered for a later reader). Regular files are appended to. One stdout/stderr path is
// opened once and dup'ed. Errors name the stream and path:
// "opening stdout FIFO /x/y: No such file or directory".
Expected<StdioFds> openStdio(const StdioPaths& paths);

// Read ends of the stdout and stderr FIFOs, held by the shim for the task's lifetime (as
// containerd's runc shim does): when the client goes away (`ctr run -d`, a restarted
// containerd) the container's writes then fill the pipe instead of killing it with
// SIGPIPE. Paths that are not FIFOs get none.
std::vector<UniqueFd> holdOutputReaders(const StdioPaths& paths);

// A write end of the stdin FIFO, held by the shim (as containerd's runc shim does) once
// the process's read end is open: the process reads EOF only when the client has closed
// its end and CloseIO has dropped this one. Invalid when stdin is not a FIFO.
UniqueFd holdStdinWriter(const StdioPaths& paths);

}  // namespace runwasi::shim
