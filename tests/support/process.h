// Test support: run programs with their output captured.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common/file.h"
#include "common/unique_fd.h"

extern char** environ;

namespace runwasi::testing {

struct ProcessResult {
  int status = -1;  // exit status, 128 + N when killed by signal N, -1 when it did not start
  std::string out;  // stdout
  std::string err;  // stderr
};

// An anonymous file to capture output in (no pipe to drain, so no capacity deadlock).
inline UniqueFd captureFile() {
  return UniqueFd(::memfd_create("test-output", MFD_CLOEXEC));
}

inline std::string captured(const UniqueFd& fd) {
  auto bytes = readFd(fd.get(), "captured output");
  return bytes ? std::string(bytes->begin(), bytes->end()) : std::string();
}

// Starts argv (argv[0] is a path) with stdin /dev/null, stdout and stderr on the given fds,
// and this process's environment plus `extraEnv` ("K=V"). Returns the pid, -1 on failure.
inline pid_t spawnProcess(std::vector<std::string> argv, int outFd, int errFd,
                          const std::vector<std::string>& extraEnv = {}) {
  std::vector<char*> cargv;
  for (auto& arg : argv) cargv.push_back(arg.data());
  cargv.push_back(nullptr);
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  env.insert(env.end(), extraEnv.begin(), extraEnv.end());
  std::vector<char*> cenv;
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, outFd, 1);
  posix_spawn_file_actions_adddup2(&actions, errFd, 2);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// The exit status of a wait status: the code, or 128 + N when killed by signal N.
inline int exitStatusOf(int wstatus) {
  return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
}

inline int waitFor(pid_t pid) {
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0)
    if (errno != EINTR) return -1;
  return exitStatusOf(wstatus);
}

// Runs argv to completion.
inline ProcessResult runProcess(std::vector<std::string> argv,
                                const std::vector<std::string>& extraEnv = {}) {
  UniqueFd out = captureFile(), err = captureFile();
  std::string program = argv.empty() ? std::string() : argv[0];
  pid_t pid = spawnProcess(std::move(argv), out.get(), err.get(), extraEnv);
  if (pid < 0) return ProcessResult{-1, "", "cannot start " + program};
  int status = waitFor(pid);
  return ProcessResult{status, captured(out), captured(err)};
}

}  // namespace runwasi::testing
