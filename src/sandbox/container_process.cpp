#include "sandbox/container_process.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "common/log.h"

namespace runwasi::sandbox {
namespace {

// Straight to fd 2 with write(2): no stdio buffer that _exit would drop.
void report(std::string_view message) {
  std::string line = fmt::format("runwasi: {}\n", message);
  for (size_t i = 0; i + 1 < line.size(); ++i)
    if (line[i] == '\n') line[i] = ' ';
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

[[noreturn]] void fail(std::string_view message) {
  report(message);
  ::_exit(kContainerSetupFailedExit);
}

// Makes `fd` (or /dev/null when absent) the process's fd `target`.
void bindStdio(UniqueFd& fd, int target, int nullFlags) {
  int source = fd.get();
  UniqueFd devNull;
  if (source < 0) {
    devNull.reset(::open("/dev/null", nullFlags | O_CLOEXEC));
    source = devNull.get();
  }
  if (source >= 0 && ::dup2(source, target) < 0) ::_exit(kContainerSetupFailedExit);
  fd.reset();
}

}  // namespace

void runContainer(engine::Engine& engine, protocol::ReceivedRequest& received,
                  const engine::ModuleSource& module) {
  const SpawnRequest& r = received.request;
  // The process name ps shows: which container this is (comm holds 15 bytes).
  std::string comm = "wasm:" + r.containerId;
  ::prctl(PR_SET_NAME, comm.substr(0, 15).c_str(), 0, 0, 0);

  // The runtime's own log lines go where the zygote's stderr went (the shim's log);
  // stderr becomes the workload's.
  if (int logFd = ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3); logFd >= 0) log::setFd(logFd);
  // Received fds are >= 3 (the zygote keeps 0-2 open), so dup2 never clobbers one of them.
  bindStdio(received.stdinFd, STDIN_FILENO, O_RDONLY);
  bindStdio(received.stdoutFd, STDOUT_FILENO, O_WRONLY);
  bindStdio(received.stderrFd, STDERR_FILENO, O_WRONLY);
  received.moduleFd.reset();

  std::filesystem::path workdir =
      std::filesystem::path(r.rootfs) / std::filesystem::path(r.cwd).relative_path();
  if (!r.rootfs.empty() && ::chdir(workdir.c_str()) != 0)
    fail(fmt::format("cannot enter the working directory {}: {}", r.cwd, std::strerror(errno)));

  wasi::Config config;
  config.args = r.args;
  config.env = r.env;
  if (!r.rootfs.empty()) config.preopens.push_back(wasi::Preopen{r.rootfs, "/"});
  config.preopens.insert(config.preopens.end(), r.preopens.begin(), r.preopens.end());
  auto host = wasi::Host::create(std::move(config));
  if (!host) fail(host.error().message);

  if (received.startGateFd) {
    char go = 0;
    ssize_t n;
    while ((n = ::read(received.startGateFd.get(), &go, 1)) < 0 && errno == EINTR) {
    }
    if (n != 1) ::_exit(0);  // deleted before it was started
    received.startGateFd.reset();
  }

  engine::RunOptions options;
  options.function = r.function;
  options.stubUnknownImports = r.stubUnknownImports;
  auto result = engine.run(module, received.artifactFd.get(), options, **host);
  if (!result) fail(result.error().message);
  if (result->kind == engine::RunResult::Kind::kTrapped)
    report(fmt::format("{}: wasm trap: {}", module.name, result->trapMessage));
  // _exit: the zygote's (and its parent's) atexit handlers and static destructors are not
  // this process's to run; the guest's output went out through write(2) already.
  ::_exit(static_cast<int>(result->exitCode & 0xff));
}

void runPrecompile(engine::Engine& engine, protocol::ReceivedRequest& received,
                   const engine::ModuleSource& module) {
  ::prctl(PR_SET_NAME, "wasm-precompile", 0, 0, 0);
  if (int logFd = ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3); logFd >= 0) log::setFd(logFd);
  bindStdio(received.stdinFd, STDIN_FILENO, O_RDONLY);
  bindStdio(received.stdoutFd, STDOUT_FILENO, O_WRONLY);
  bindStdio(received.stderrFd, STDERR_FILENO, O_WRONLY);
  received.moduleFd.reset();
  const engine::Precompiler* precompiler = engine.precompiler();
  if (!precompiler) fail(fmt::format("engine {} has no precompiled form", engine.name()));
  auto artifact = precompiler->precompile(module);
  if (!artifact) fail(artifact.error().message);
  size_t off = 0;
  while (off < artifact->size()) {
    ssize_t n = ::write(STDOUT_FILENO, artifact->data() + off, artifact->size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(fmt::format("writing the precompiled artifact: {}", std::strerror(errno)));
    off += static_cast<size_t>(n);
  }
  ::_exit(0);
}

}  // namespace runwasi::sandbox
