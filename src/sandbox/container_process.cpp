#include "sandbox/container_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "common/file.h"
#include "common/log.h"
#include "oci/runtime_spec.h"
#include "sandbox/container_init.h"
#include "sandbox/pty.h"

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

namespace {

void waitForStart(UniqueFd& gate) {
  if (!gate) return;
  char go = 0;
  ssize_t n;
  while ((n = ::read(gate.get(), &go, 1)) < 0 && errno == EINTR) {
  }
  if (n != 1) ::_exit(0);  // deleted before it was started
  gate.reset();
}

[[noreturn]] void exitFromSignal(int sig) {
  ::_exit(128 + sig);
}

// A guest as pid 1 of its namespace: the kernel drops signals whose action is the default
// one, and a Wasm guest cannot install handlers. The signals that end a process by
// default end this one (with the status a shell would show for them), so that SIGTERM
// stops a Wasm container as it stops a native one that handles it.
void terminateOnSignals() {
  struct sigaction action {};
  action.sa_handler = exitFromSignal;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM})
    ::sigaction(sig, &action, nullptr);
}

Expected<SeccompProgram> receivedSeccomp(protocol::ReceivedRequest& received) {
  SeccompProgram program;
  program.flags = received.request.seccompFlags;
  TRY(program.bpf, readFd(received.seccompFd.get(), "the seccomp program"));
  received.seccompFd.reset();
  return program;
}

// Everything between the fork and the workload for a sandboxed container (or, for an
// exec, joining a running one); the outcome goes to the shim on the status pipe. Returns the WASI
// host for a module (null for a native executable).
Expected<std::unique_ptr<wasi::Host>> enterContainer(protocol::ReceivedRequest& received,
                                                     oci::RuntimeSpec& spec) {
  const SpawnRequest& r = received.request;
  TRY(spec, oci::parseRuntimeSpec(r.sandboxSpec));
  if (!spec.linux) spec.linux.emplace();  // no namespaces: a chroot
  std::optional<SeccompProgram> seccomp;
  if (received.seccompFd) {
    TRY(seccomp, receivedSeccomp(received));
  }
  SandboxContext context{&spec, r.rootfs, &received.cgroupProcsFds};
  context.consoleSocket = received.consoleSocketFd.get();
  if (r.exec) {
    context.namespaceTypes = &r.namespaceTypes;
    context.namespaceFds = &received.namespaceFds;
    TRY_VOID(joinSandbox(context));
  } else {
    TRY_VOID(enterSandbox(context));
  }
  received.consoleSocketFd.reset();
  std::unique_ptr<wasi::Host> host;
  if (!r.nativePath.empty()) {
    if (::access(r.nativePath.c_str(), X_OK) != 0)
      return makeSysError(fmt::format("process.args[0]: {}", r.nativePath));
  } else {
    wasi::Config config;
    config.args = r.args;
    config.env = r.env;
    config.preopens = sandboxPreopens(spec);
    TRY(host, wasi::Host::create(std::move(config)));
  }
  TRY_VOID(dropPrivileges(spec.process, seccomp ? &*seccomp : nullptr, !r.nativePath.empty()));
  return host;
}

// The user's home in the container's /etc/passwd, or "/": runc sets HOME to it when the
// spec's env has none, and native programs expect one.
std::string homeOf(uid_t uid) {
  std::ifstream passwd("/etc/passwd");
  for (std::string line; std::getline(passwd, line);) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string field; std::getline(fields, field, ':');) f.push_back(field);
    if (f.size() >= 6 && f[2] == std::to_string(uid) && !f[5].empty()) return f[5];
  }
  return "/";
}

[[noreturn]] void execNative(const SpawnRequest& r) {
  std::vector<char*> argv, envp;
  for (const std::string& a : r.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env = r.env;
  if (std::none_of(env.begin(), env.end(), [](const std::string& e) { return e.starts_with("HOME="); }))
    env.push_back("HOME=" + homeOf(::getuid()));
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  ::execve(r.nativePath.c_str(), argv.data(), envp.data());
  report(fmt::format("cannot execute {}: {}", r.nativePath, std::strerror(errno)));
  ::_exit(127);
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

  std::unique_ptr<wasi::Host> host;
  if (!r.sandboxSpec.empty()) {
    oci::RuntimeSpec spec;
    auto entered = enterContainer(received, spec);
    if (received.statusFd) {
      reportSetup(received.statusFd.get(),
                  entered ? Expected<void>() : tl::unexpected(entered.error()));
      received.statusFd.reset();
    }
    if (!entered) fail(entered.error().message);
    host = std::move(*entered);
    if (!r.nativePath.empty()) {
      waitForStart(received.startGateFd);
      execNative(r);
    }
    if (spec.linux->hasNamespace("pid") && ::getpid() == 1) terminateOnSignals();
  } else {
    if (!r.nativePath.empty()) fail("a native executable runs only in a sandbox");
    if (received.consoleSocketFd) {
      auto console = setupConsole(received.consoleSocketFd.get());
      received.consoleSocketFd.reset();
      if (received.statusFd) {
        reportSetup(received.statusFd.get(), console);
        received.statusFd.reset();
      }
      if (!console) fail(console.error().message);
    }
    std::filesystem::path workdir =
        std::filesystem::path(r.rootfs) / std::filesystem::path(r.cwd).relative_path();
    if (!r.rootfs.empty() && ::chdir(workdir.c_str()) != 0)
      fail(fmt::format("cannot enter the working directory {}: {}", r.cwd,
                       std::strerror(errno)));
    wasi::Config config;
    config.args = r.args;
    config.env = r.env;
    if (!r.rootfs.empty()) config.preopens.push_back(wasi::Preopen{r.rootfs, "/"});
    config.preopens.insert(config.preopens.end(), r.preopens.begin(), r.preopens.end());
    auto made = wasi::Host::create(std::move(config));
    if (!made) fail(made.error().message);
    host = std::move(*made);
  }

  engine::RunOptions options;
  options.function = r.function;
  options.stubUnknownImports = r.stubUnknownImports;
  // Start is awaited once the engine has loaded the module: loading overlaps the time
  // containerd takes from Create's answer to Start.
  options.beforeInstantiate = [&received] { waitForStart(received.startGateFd); };
  options.processExitsAfterRun = true;  // _exit below
  auto result = engine.run(module, received.artifactFd.get(), options, *host);
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
