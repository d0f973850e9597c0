#include "sandbox/zygote.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "common/file.h"
#include "common/log.h"
#include "engine/module_info.h"
#include "sandbox/container_process.h"
#include "sandbox/file_pages.h"
#include "sandbox/spawn_protocol.h"

namespace runwasi::sandbox {

int threadCount() {
  DIR* dir = ::opendir("/proc/self/task");
  if (!dir) return -1;
  int count = 0;
  while (dirent* e = ::readdir(dir))
    if (e->d_name[0] != '.') ++count;
  ::closedir(dir);
  return count;
}

namespace {

// Closes every fd but `keep` (the shim's fds, e.g. other containers' FIFOs, must not reach
// containers).
void closeAllFdsExcept(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned next = 0;
  for (int fd : keep) {
    if (static_cast<unsigned>(fd) > next) ::close_range(next, static_cast<unsigned>(fd) - 1, 0);
    next = static_cast<unsigned>(fd) + 1;
  }
  ::close_range(next, ~0u, 0);
}

// Signals the shim handles or ignores must behave normally in containers (SIGTERM stops a
// guest, SIGPIPE ends a writer to a closed FIFO). Fault handlers stay: the engines install
// their own per container, and sanitizers report through them.
void resetSignals() {
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE ||
        sig == SIGILL)
      continue;
    ::signal(sig, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// glibc's fork() lets the kernel store the child's tid in the thread descriptor
// (CLONE_CHILD_SETTID); a raw clone must do the same, or pthread_self() keeps the zygote's
// tid (robust and PI mutexes, pthread_kill of the main thread would use it). The offset
// comes from the descriptor glibc exports for libthread_db, checked against gettid().
pid_t* threadDescriptorTid() {
  const auto* desc = static_cast<const uint32_t*>(::dlsym(RTLD_DEFAULT, "_thread_db_pthread_tid"));
  if (!desc || desc[0] != 32) return nullptr;  // {bits, count, offset}
  auto* slot = reinterpret_cast<pid_t*>(reinterpret_cast<char*>(::pthread_self()) + desc[2]);
  return *slot == static_cast<pid_t>(::syscall(SYS_gettid)) ? slot : nullptr;
}

// struct clone_args, version 0 (64 bytes), spelled out: <linux/sched.h> clashes with
// <sched.h>.
struct CloneArgs {
  uint64_t flags, pidfd, childTid, parentTid, exitSignal, stack, stackSize, tls;
};

// fork(), except that the child's parent is our parent (the shim), which reaps it, and
// that it starts in the new namespaces `namespaces` (CLONE_NEW*) asks for.
pid_t forkAsSibling(pid_t* tidSlot, uint64_t namespaces) {
  CloneArgs args{};
  args.flags = CLONE_PARENT | (tidSlot ? CLONE_CHILD_SETTID : 0) | namespaces;
  args.childTid = reinterpret_cast<uint64_t>(tidSlot);
  // clone3 refuses an exit signal with CLONE_PARENT: the child takes ours, SIGCHLD (the
  // zygote came from fork()), so the shim gets SIGCHLD as for any child.
  args.exitSignal = 0;
  return static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
}

// Reads and checks the module before the fork, so that bad input is the requester's error
// and no process is made.
Expected<engine::ModuleSource> loadModule(const protocol::ReceivedRequest& received) {
  const SpawnRequest& r = received.request;
  std::string name = r.modulePath.empty() ? r.containerId + " module" : r.modulePath;
  Bytes bytes;
  if (received.moduleFd) {
    TRY(bytes, readFd(received.moduleFd.get(), name));
  } else if (!r.modulePath.empty()) {
    TRY(bytes, readFile(r.modulePath));
  } else {
    return makeError(ErrorCode::kInvalidArgument, "spawn request names no module");
  }
  auto info = engine::readModuleInfo(bytes);
  if (!info) return tl::unexpected(std::move(info).error().context(name));
  TRY_VOID(engine::checkLinkable(*info, r.function, r.stubUnknownImports).map_error([&](Error e) {
    return std::move(e).context(name);
  }));
  return engine::makeModuleSource(std::move(name), std::move(bytes));
}

// Clones into the pid namespace `target` (setns changes only where our children go), and
// comes back to our own for the next request.
Expected<pid_t> forkIntoPidNamespace(pid_t* tidSlot, uint64_t namespaces, int target,
                                     const std::string& what) {
  UniqueFd own(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
  if (!own) return makeSysError("opening the zygote's pid namespace");
  if (::setns(target, CLONE_NEWPID) != 0)
    return makeSysError(fmt::format("joining the pid namespace {}", what));
  pid_t pid = forkAsSibling(tidSlot, namespaces & ~static_cast<uint64_t>(CLONE_NEWPID));
  int err = errno;
  if (pid != 0 && ::setns(own.get(), CLONE_NEWPID) != 0) ::_exit(1);  // cannot go on safely
  if (pid < 0) return makeSysError("cannot fork the container process", err);
  return pid;
}

// One request: a container process, or the reason there is none. `module` receives the
// module it runs (empty for a native program).
Expected<pid_t> spawnContainer(engine::Engine& engine, int socket,
                               protocol::ReceivedRequest& received, pid_t* tidSlot,
                               int shimPidfd, engine::ModuleSource& module) {
  const SpawnRequest& r = received.request;
  if (r.nativePath.empty()) {
    TRY(module, loadModule(received));
  }
  // An exec enters the container's pid namespace by the fd it came with.
  int pidNamespaceFd = -1;
  for (size_t i = 0; i < r.namespaceTypes.size() && i < received.namespaceFds.size(); ++i)
    if (r.namespaceTypes[i] == "pid") pidNamespaceFd = received.namespaceFds[i].get();
  pid_t pid;
  if (pidNamespaceFd >= 0) {
    TRY(pid, forkIntoPidNamespace(tidSlot, r.cloneFlags, pidNamespaceFd, "of the container"));
  } else if (!r.pidNamespace.empty()) {
    UniqueFd target(::open(r.pidNamespace.c_str(), O_RDONLY | O_CLOEXEC));
    if (!target) return makeSysError(fmt::format("opening the pid namespace {}", r.pidNamespace));
    TRY(pid, forkIntoPidNamespace(tidSlot, r.cloneFlags, target.get(), r.pidNamespace));
  } else {
    pid = forkAsSibling(tidSlot, r.cloneFlags);
    if (pid < 0) return makeSysError("cannot fork the container process");
  }
  if (pid == 0) {
    ::close(socket);  // the shim must see EOF when the zygote goes, not when containers do
    // A container must not outlive its shim (a SIGKILLed shim leaves nothing running).
    // The parent is the shim's main thread; if the shim died before the prctl, the pidfd
    // says so (getppid() cannot: it is 0 in a new pid namespace).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    pollfd shim{shimPidfd, POLLIN, 0};
    if (shimPidfd < 0 || ::poll(&shim, 1, 0) != 0) ::_exit(kContainerSetupFailedExit);
    ::close(shimPidfd);
    if (received.request.precompileOnly) runPrecompile(engine, received, module);
    runContainer(engine, received, module);
  }
  return pid;
}

// The engine's fork preparation must leave the zygote able to fork (one thread); should an
// engine ever break that, the zygote ends rather than fork a process with threads lost.
void checkStillOneThread(std::string_view after) {
  if (int threads = threadCount(); threads != 1) {
    log::error("zygote: {} threads after {}: cannot fork safely", threads, after);
    ::_exit(1);
  }
}

// What the zygote prepares for the processes it forks (Engine::prepareForks and
// prepareModuleForForks), at moments when it holds up no container's start and is not
// wasted on a shim that runs one container (`ctr run`, `ctr run -d`: a shim each): the
// engine's module-independent state at once from the second container on (a pod, or a
// shim under load), or once the zygote has waited kIdleBeforePreparing for a request after
// forking a native process (a pod's pause container: its app containers follow); a module
// once a second container runs it. A shim whose one container is Wasm never prepares: with
// V8 that would cost each such shim ~4 MiB and a few ms of CPU for an isolate nobody takes
// (measured: V8 PSS per sleeping container with a shim each 6.7 MiB at K = 100 with idle
// preparation after any first container, against 5.5 MiB without it).
// After loading and after each preparation, once no request waits, it also gives back the
// file pages of the engine's libraries that it no longer runs (file_pages.h).
class ForkPreparation {
 public:
  static constexpr int kIdleBeforePreparingMs = 50;

  explicit ForkPreparation(engine::Engine& engine) : engine_(engine) {}

  // Returns with a request (or EOF) waiting or due, having prepared the engine if due and,
  // when nothing was waiting, given back the engine's file pages that loading or preparing
  // left mapped.
  void awaitRequest(int socket) {
    if (!prepared_ && preparationDue(socket)) {
      prepared_ = true;
      engine_.prepareForks();
      checkStillOneThread("preparing the engine for forks");
      releasePending_ = true;
    }
    if (releasePending_ && !requestWaiting(socket, 0)) releaseEnginePages();
  }

  void afterSpawn(const SpawnRequest& request, const engine::ModuleSource& module,
                  int artifactFd) {
    if (request.precompileOnly) return;
    ++containers_;
    if (!request.nativePath.empty()) sawNative_ = true;
    if (!request.nativePath.empty() || module.digest.empty()) return;
    if (++spawns_[module.digest] != 2) return;
    engine_.prepareModuleForForks(module, artifactFd);
    checkStillOneThread("preparing a module for forks");
    releasePending_ = true;
  }

  // The files mapped before the engine was loaded (the shim's own, shared with it); the
  // engine's libraries are the others. Without them, nothing is released.
  void engineLoaded(Expected<std::unordered_set<std::string>> filesBefore) {
    if (!filesBefore) {
      log::debug("zygote: not releasing the engine's file pages: {}",
                 filesBefore.error().message);
      return;
    }
    filesBefore_ = std::move(*filesBefore);
    releasePending_ = true;
  }

 private:
  static bool requestWaiting(int socket, int timeoutMs) {
    pollfd fd{socket, POLLIN, 0};
    return ::poll(&fd, 1, timeoutMs) != 0;  // a request, EOF or an error: let the loop see it
  }

  bool preparationDue(int socket) const {
    if (containers_ >= 2) return true;
    if (!sawNative_) return false;  // nothing forked yet, or one Wasm container alone
    return !requestWaiting(socket, kIdleBeforePreparingMs);
  }

  // See file_pages.h: the pages stay cached; containers fault in what they run.
  void releaseEnginePages() {
    releasePending_ = false;
    if (!filesBefore_) return;
    auto released = releaseCleanFilePages(*filesBefore_);
    if (released)
      log::debug("zygote: released {} KiB of the engine's file pages ({} mappings)",
                 released->bytes / 1024, released->mappings);
    else
      log::debug("zygote: releasing the engine's file pages: {}", released.error().message);
  }

  engine::Engine& engine_;
  std::optional<std::unordered_set<std::string>> filesBefore_;
  bool releasePending_ = false;
  bool prepared_ = false;
  bool sawNative_ = false;                       // a native process was forked (a pod's pause)
  int containers_ = 0;                           // container and exec processes forked
  std::unordered_map<std::string, int> spawns_;  // of those, by module sha256
};

[[noreturn]] void zygoteMain(int socket, const EngineFactory& factory) {
  ::prctl(PR_SET_NAME, "runwasi-zygote", 0, 0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);  // EOF ends it too; this covers a stuck read
  resetSignals();
  closeAllFdsExcept({STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, socket});
  auto filesBeforeEngine = mappedFiles();

  Expected<std::unique_ptr<engine::Engine>> made = makeError(ErrorCode::kInternal, "no engine");
  try {
    made = factory();
    // V8 initialises here, once, instead of in every container after its fork.
    if (made)
      if (auto prepared = (*made)->prepare(); !prepared) made = tl::unexpected(prepared.error());
  } catch (const std::exception& e) {
    made = makeError(ErrorCode::kInternal, fmt::format("engine factory threw: {}", e.what()));
  }
  if (made && threadCount() != 1)
    made = makeError(ErrorCode::kInternal,
                     "the engine started threads in the zygote: forking containers is unsafe");
  if (!made) {
    (void)protocol::sendReply(socket, tl::unexpected(made.error().context("zygote")));
    ::_exit(1);
  }
  engine::Engine& engine = **made;
  EngineFacts facts{std::string(engine.name()), engine.version(),
                    engine.precompiler() ? engine.precompiler()->cacheKey() : std::string(),
                    engine.supportedLayerTypes()};
  if (!protocol::sendReply(socket, ::getpid()) || !protocol::sendEngineFacts(socket, facts))
    ::_exit(1);

  // Readable once the shim has exited; containers check it after their PDEATHSIG prctl.
  UniqueFd shimPidfd(static_cast<int>(::syscall(SYS_pidfd_open, ::getppid(), 0)));
  pid_t* tidSlot = threadDescriptorTid();
  ForkPreparation preparation(engine);
  preparation.engineLoaded(std::move(filesBeforeEngine));
  for (;;) {
    preparation.awaitRequest(socket);
    auto request = protocol::receiveRequest(socket);
    if (request && !*request) ::_exit(0);                       // the shim closed its end
    if (!request && request.error().sysErrno != 0) ::_exit(1);  // the socket itself failed
    engine::ModuleSource module;
    Expected<pid_t> reply =
        request ? spawnContainer(engine, socket, **request, tidSlot, shimPidfd.get(), module)
                : tl::unexpected(request.error());
    if (!protocol::sendReply(socket, reply)) ::_exit(1);
    // After the reply: the shim goes on with its container meanwhile.
    if (reply) preparation.afterSpawn((*request)->request, module, (*request)->artifactFd.get());
  }
}

}  // namespace

Expected<Zygote> Zygote::start(EngineFactory factory) {
  int threads = threadCount();
  if (threads != 1)
    return makeError(
        ErrorCode::kFailedPrecondition,
        fmt::format("cannot start the zygote: this process has {} threads; it must "
                    "be forked before any thread exists",
                    threads < 0 ? std::string("an unknown number of") : std::to_string(threads)));
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
    return makeSysError("cannot create the zygote socket");
  UniqueFd ours(fds[0]), theirs(fds[1]);
  pid_t pid = ::fork();
  if (pid < 0) return makeSysError("cannot fork the zygote");
  if (pid == 0) {
    ours.reset();
    zygoteMain(theirs.get(), factory);
  }
  return Zygote(std::move(ours), pid);
}

Zygote::Zygote(UniqueFd socket, pid_t pid)
    : socket_(std::move(socket)), pid_(pid), mutex_(std::make_unique<std::mutex>()) {}

Zygote::Zygote(Zygote&& other) noexcept
    : socket_(std::move(other.socket_)),
      pid_(std::exchange(other.pid_, -1)),
      mutex_(std::move(other.mutex_)),
      readyChecked_(other.readyChecked_),
      startError_(std::move(other.startError_)),
      facts_(std::move(other.facts_)) {}

Zygote& Zygote::operator=(Zygote&& other) noexcept {
  if (this != &other) {
    stop();
    socket_ = std::move(other.socket_);
    pid_ = std::exchange(other.pid_, -1);
    mutex_ = std::move(other.mutex_);
    readyChecked_ = other.readyChecked_;
    startError_ = std::move(other.startError_);
    facts_ = std::move(other.facts_);
  }
  return *this;
}

Zygote::~Zygote() {
  stop();
}

Expected<EngineFacts> Zygote::waitReadyLocked() {
  if (!socket_) return makeError(ErrorCode::kFailedPrecondition, "the zygote was stopped");
  if (!readyChecked_) {
    readyChecked_ = true;
    auto hello = protocol::receiveReply(socket_.get());
    auto facts = hello ? protocol::receiveEngineFacts(socket_.get())
                       : Expected<EngineFacts>(tl::unexpected(std::move(hello).error()));
    if (facts) {
      facts_ = std::move(*facts);
    } else {
      startError_ = std::move(facts).error();
    }
  }
  if (startError_) return tl::unexpected(*startError_);
  return facts_;
}

Expected<EngineFacts> Zygote::waitReady() {
  if (!mutex_) return makeError(ErrorCode::kFailedPrecondition, "the zygote was moved from");
  std::lock_guard lock(*mutex_);
  return waitReadyLocked();
}

Expected<pid_t> Zygote::spawn(const SpawnRequest& request) {
  if (!mutex_) return makeError(ErrorCode::kFailedPrecondition, "the zygote was moved from");
  std::lock_guard lock(*mutex_);
  TRY_VOID(waitReadyLocked());
  TRY_VOID(protocol::sendRequest(socket_.get(), request));
  return protocol::receiveReply(socket_.get()).map_error([&](Error e) {
    return std::move(e).context(fmt::format("spawning container {}", request.containerId));
  });
}

void Zygote::stop() {
  std::unique_lock<std::mutex> lock;
  if (mutex_) lock = std::unique_lock(*mutex_);
  socket_.reset();
  if (pid_ <= 0) return;
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;  // ECHILD too: a reaper got there first, the zygote is gone either way
}

}  // namespace runwasi::sandbox
