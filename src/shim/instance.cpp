#include "shim/instance.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "common/file.h"
#include "common/log.h"
#include "common/scope_exit.h"
#include "engine/module_info.h"
#include "oci/entrypoint.h"
#include "sandbox/container_init.h"
#include "sandbox/seccomp.h"

namespace runwasi::shim {
namespace {

namespace fs = std::filesystem;

// Opens `path` (absolute inside the rootfs) as if the rootfs were "/".
Expected<UniqueFd> openInRoot(int rootFd, const std::string& path) {
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  // EAGAIN: a rename raced the lookup (RESOLVE_IN_ROOT); retry a few times, not forever.
  int fd = -1;
  for (int attempt = 0; attempt < 8; ++attempt) {
    fd = static_cast<int>(::syscall(SYS_openat2, rootFd, path.c_str(), &how, sizeof how));
    if (fd >= 0 || (errno != EINTR && errno != EAGAIN)) break;
  }
  if (fd < 0) return makeSysError(path);
  UniqueFd file(fd);
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) return makeSysError(path);
  if (!S_ISREG(st.st_mode)) return makeSysError(path + " is not a regular file", EACCES);
  return file;
}

// The candidate paths for args[0], in lookup order.
std::vector<std::string> candidates(const std::string& path, const oci::ProcessSpec& process) {
  if (path.starts_with('/')) return {path};
  if (path.find('/') != std::string::npos) return {(fs::path(process.cwd) / path).string()};
  std::vector<std::string> out;
  std::string search = oci::envValue(process.env, "PATH");
  size_t begin = 0;
  while (begin <= search.size() && !search.empty()) {
    size_t end = search.find(':', begin);
    if (end == std::string::npos) end = search.size();
    std::string dir = search.substr(begin, end - begin);
    if (dir.starts_with('/')) out.push_back((fs::path(dir) / path).string());
    begin = end + 1;
  }
  out.push_back((fs::path(process.cwd) / path).string());
  return out;
}


// Has a zygote child precompile the module: the engine's compiler (and its runtime, for
// V8) never runs in the shim itself.
Expected<Bytes> precompileInChild(InstanceEnvironment& env, const std::string& id,
                                  const engine::ModuleSource& module, int moduleFd) {
  UniqueFd out(::memfd_create("runwasi-artifact", MFD_CLOEXEC));
  UniqueFd err(::memfd_create("runwasi-precompile-log", MFD_CLOEXEC));
  if (!out || !err) return makeSysError("memfd_create");
  sandbox::SpawnRequest request;
  request.containerId = id;
  request.modulePath = module.name;  // names it in messages; the bytes come from moduleFd
  request.moduleFd = moduleFd;
  request.precompileOnly = true;
  request.stdoutFd = out.get();
  request.stderrFd = err.get();
  TRY(pid_t pid, env.zygote->spawn(request));
  TRY(ProcessExit exit, env.reaper->waitFor(pid));
  if (exit.status != 0) {
    auto log = readFd(err.get(), "the precompile log");
    std::string message = log ? std::string(log->begin(), log->end()) : std::string();
    while (!message.empty() && message.back() == '\n') message.pop_back();
    if (message.starts_with("runwasi: ")) message.erase(0, 9);
    // Almost always a module the engine rejects (readModuleInfo checks only its structure).
    return makeError(ErrorCode::kInvalidArgument,
                     message.empty() ? fmt::format("precompiling {}: the process exited {}",
                                                   module.name, exit.status)
                                     : message);
  }
  return readFd(out.get(), "the precompiled artifact");
}

}  // namespace

Expected<ResolvedEntrypoint> resolveEntrypoint(const oci::ProcessSpec& process,
                                               const fs::path& rootfs,
                                               const engine::Engine& engine) {
  oci::Entrypoint entrypoint = oci::parseEntrypoint(process.args.at(0));
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return makeSysError(fmt::format("opening the container's rootfs {}", rootfs.string()));

  ResolvedEntrypoint resolved;
  resolved.function = entrypoint.func;
  UniqueFd file;
  std::optional<Error> firstError;
  // A native program's args[0] is a path as it is ("a#b" is a file name); only modules
  // take the "#func" suffix.
  for (const std::string& name : {entrypoint.path, process.args.at(0)}) {
    for (const std::string& path : candidates(name, process)) {
      auto opened = openInRoot(root.get(), path);
      if (opened) {
        file = std::move(*opened);
        resolved.pathInRootfs = path;
        break;
      }
      if (!firstError || firstError->sysErrno == ENOENT) firstError = opened.error();
    }
    if (file || name == process.args.at(0)) break;
  }
  if (!file) {
    if (firstError && firstError->sysErrno != ENOENT)
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("cannot open the entrypoint {}: {}", entrypoint.path,
                                   firstError->message));
    return makeError(ErrorCode::kNotFound,
                     fmt::format("the entrypoint {} does not exist in the container's rootfs",
                                 entrypoint.path));
  }

  // The first bytes decide; a native executable is not read further.
  unsigned char magic[4] = {};
  ssize_t got = ::pread(file.get(), magic, sizeof magic, 0);
  if ((got >= 4 && std::memcmp(magic, "\x7f" "ELF", 4) == 0) ||
      (got >= 2 && magic[0] == '#' && magic[1] == '!')) {
    resolved.native = true;
    return resolved;
  }
  TRY(Bytes bytes, readFd(file.get(), resolved.pathInRootfs));
  if (!engine.canHandle(bytes))
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} is neither a WebAssembly module nor a native executable",
                                 resolved.pathInRootfs));
  auto info = engine::readModuleInfo(bytes);
  if (!info)
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} is not a valid WebAssembly module: {}",
                                 resolved.pathInRootfs, info.error().message));
  if (auto linkable = engine::checkLinkable(*info, resolved.function, false); !linkable)
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} cannot run: {}", resolved.pathInRootfs,
                                 linkable.error().message));
  resolved.source = engine::makeModuleSource(resolved.pathInRootfs, std::move(bytes));
  return resolved;
}

Expected<std::unique_ptr<Instance>> Instance::create(const InstanceRequest& request,
                                                     InstanceEnvironment& env,
                                                     Reaper::OnExit onExit) {
  std::unique_ptr<Instance> instance(new Instance());
  instance->id_ = request.id;
  // Whatever fails below, the destructor undoes what was done (cgroup, rootfs mounts).
  if (request.terminal)
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} does not support a terminal (terminal: true) yet: run "
                                 "the container without -t/--tty",
                                 env.shimName));
  fs::path configPath = request.bundle / "config.json";
  TRY(Bytes configBytes, readFile(configPath));
  std::string config(configBytes.begin(), configBytes.end());
  TRY(instance->spec_, oci::parseRuntimeSpec(config).map_error([&](Error e) {
    return std::move(e).context(fmt::format("reading the bundle's spec {}", configPath.string()));
  }));
  const oci::RuntimeSpec& spec = instance->spec_;
  if (spec.process.terminal)
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} does not support a terminal (process.terminal: true) yet: "
                                 "run the container without -t/--tty",
                                 env.shimName));
  TRY_VOID(sandbox::checkSandboxSpec(spec));
  fs::path rootPath(spec.rootPath);
  instance->rootfs_ = rootPath.is_absolute() ? rootPath : request.bundle / rootPath;
  if (!request.rootfs.empty()) {
    instance->mounted_ = true;  // a failed mountRootfs unmounts itself; destroy() is harmless
    TRY_VOID(mountRootfs(request.rootfs, instance->rootfs_));
  }
  struct stat rootStat {};
  int rootErr = ::stat(instance->rootfs_.c_str(), &rootStat) != 0 ? errno
                : S_ISDIR(rootStat.st_mode)                     ? 0
                                                                : ENOTDIR;
  if (rootErr != 0)
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("root.path: {} is not a directory: {}",
                                 instance->rootfs_.string(), std::strerror(rootErr)));

  TRY(ResolvedEntrypoint entry, resolveEntrypoint(spec.process, instance->rootfs_, *env.engine));
  // A module runs unconfined without a linux section (the spec asks for nothing); a native
  // program always runs in the sandbox, chrooted at least.
  const bool sandboxed = spec.linux.has_value() || entry.native;

  std::vector<UniqueFd> cgroupProcs;
  UniqueFd seccompFd;
  uint32_t seccompFlags = 0;
  if (spec.linux) {
    const oci::LinuxSpec& linux = *spec.linux;
    auto driver = request.systemdCgroup ? sandbox::CgroupDriver::kSystemd
                                        : sandbox::CgroupDriver::kCgroupfs;
    oci::Resources resources = linux.resources.value_or(oci::Resources{});
    sandbox::addDefaultDeviceRules(resources);
    TRY(instance->cgroup_,
        sandbox::createCgroup(driver, linux.cgroupsPath, request.id, resources));
    TRY(cgroupProcs, instance->cgroup_->openProcsFiles());
    if (linux.seccomp) {
      TRY(sandbox::SeccompProgram program, sandbox::compileSeccomp(*linux.seccomp));
      TRY(seccompFd, memfdWith(program.bpf, "runwasi-seccomp"));
      seccompFlags = program.flags;
    }
  }

  TRY(StdioFds stdio, openStdio(request.stdio));
  instance->outputReaders_ = holdOutputReaders(request.stdio);
  UniqueFd moduleFd, artifact;
  if (!entry.native) {
    // One copy of the module for the zygote, shared by the precompile and the container.
    TRY(moduleFd, memfdWith(entry.source.bytes, "runwasi-module"));
    TRY(artifact, engine::precompiledArtifact(*env.engine, entry.source, env.cache,
                                              [&](const engine::ModuleSource& m) {
                                                return precompileInChild(env, request.id, m,
                                                                         moduleFd.get());
                                              }));
  }

  int gate[2];
  if (::pipe2(gate, O_CLOEXEC) != 0) return makeSysError("creating the start gate");
  UniqueFd gateRead(gate[0]);
  instance->startGate_.reset(gate[1]);
  int status[2];
  if (::pipe2(status, O_CLOEXEC) != 0) return makeSysError("creating the status pipe");
  UniqueFd statusRead(status[0]), statusWrite(status[1]);

  sandbox::SpawnRequest spawn;
  spawn.containerId = request.id;
  spawn.modulePath = entry.pathInRootfs;  // for messages; the bytes come from moduleFd
  spawn.moduleFd = moduleFd.get();
  spawn.artifactFd = artifact.get();
  spawn.function = entry.function;
  spawn.args = spec.process.args;
  spawn.env = spec.process.env;
  spawn.rootfs = instance->rootfs_.string();
  spawn.cwd = spec.process.cwd;
  spawn.stdinFd = stdio.in.get();
  spawn.stdoutFd = stdio.out.get();
  spawn.stderrFd = stdio.err.get();
  spawn.startGateFd = gateRead.get();
  if (sandboxed) {
    spawn.sandboxSpec = config;
    if (spec.linux) {
      spawn.cloneFlags = sandbox::cloneFlags(*spec.linux);
      spawn.pidNamespace = sandbox::pidNamespacePath(*spec.linux);
    }
    for (const UniqueFd& fd : cgroupProcs) spawn.cgroupProcsFds.push_back(fd.get());
    spawn.seccompFd = seccompFd.get();
    spawn.seccompFlags = seccompFlags;
    spawn.statusFd = statusWrite.get();
    if (entry.native) spawn.nativePath = entry.pathInRootfs;
  }
  TRY(instance->pid_, env.zygote->spawn(spawn));
  statusWrite.reset();  // EOF once the process has written its status, or died
  if (sandboxed) {
    if (auto ready = sandbox::readSetupStatus(statusRead.get()); !ready) {
      ::kill(instance->pid_, SIGKILL);
      (void)env.reaper->waitFor(instance->pid_);
      instance->pid_ = -1;
      log::warn("{}: the container's set-up failed: {}", request.id, ready.error().message);
      return tl::unexpected(std::move(ready).error());
    }
  }
  env.reaper->watch(instance->pid_, std::move(onExit));
  log::info("{}: created pid {} for {}{}", request.id, instance->pid_, entry.pathInRootfs,
            entry.native ? " (native)" : "");
  return instance;
}

Instance::~Instance() {
  if (auto done = destroy(); !done) log::warn("{}: {}", id_, done.error().message);
}

Expected<void> Instance::start() {
  if (!startGate_)
    return makeError(ErrorCode::kFailedPrecondition, fmt::format("{} was started already", id_));
  char go = 1;
  ssize_t n;
  while ((n = ::write(startGate_.get(), &go, 1)) < 0 && errno == EINTR) {
  }
  int err = errno;
  startGate_.reset();
  if (n != 1) return makeSysError(fmt::format("starting {}", id_), err);
  return {};
}

Expected<void> Instance::kill(int signal) const {
  if (pid_ <= 0 || ::kill(pid_, signal) != 0) {
    if (pid_ <= 0 || errno == ESRCH)
      return makeError(ErrorCode::kNotFound, "process already finished");
    return makeSysError(fmt::format("sending signal {} to {}", signal, id_));
  }
  return {};
}

void Instance::waitForOutputDrained(std::chrono::milliseconds idle,
                                    std::chrono::milliseconds limit) const {
  auto unread = [this] {
    int total = 0;
    for (const UniqueFd& reader : outputReaders_) {
      int n = 0;
      if (::ioctl(reader.get(), FIONREAD, &n) == 0) total += n;
    }
    return total;
  };
  auto start = std::chrono::steady_clock::now();
  auto lastProgress = start;
  int left = unread();
  while (left > 0) {
    auto now = std::chrono::steady_clock::now();
    if (now - lastProgress >= idle || now - start >= limit) {
      log::debug("{}: {} bytes of output left unread", id_, left);
      return;
    }
    ::usleep(1000);
    int next = unread();
    if (next < left) lastProgress = std::chrono::steady_clock::now();
    left = next;
  }
}

bool Instance::oomKilled() const {
  if (!cgroup_) return false;
  auto kills = cgroup_->oomKillCount();
  return kills && *kills > 0;
}

Expected<void> Instance::destroy() {
  startGate_.reset();
  outputReaders_.clear();
  if (cgroup_) {
    if (auto removed = cgroup_->destroy(); !removed)
      log::warn("{}: removing the cgroup: {}", id_, removed.error().message);
    cgroup_.reset();
  }
  if (!mounted_) return {};
  mounted_ = false;
  return unmountRootfs(rootfs_).map_error(
      [&](Error e) { return std::move(e).context(fmt::format("unmounting the rootfs of {}", id_)); });
}

}  // namespace runwasi::shim
