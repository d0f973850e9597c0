#include "shim/instance.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/file.h"
#include "common/log.h"
#include "common/scope_exit.h"
#include "oci/entrypoint.h"
#include "sandbox/container_init.h"
#include "sandbox/pty.h"
#include "sandbox/seccomp.h"
#include "shim/content_artifacts.h"
#include "shim/image_module.h"

namespace runwasi::shim {
namespace {

namespace fs = std::filesystem;

// A process will soon join a cgroup: have the kernel's cgroup lock warm by then
// (sandbox::primeCgroupMigration), on a thread of its own, as this Create or Exec goes on.
void primeCgroupJoin() {
  std::thread([] {
    if (auto primed = sandbox::primeCgroupMigration(); !primed)
      log::debug("not priming cgroup migration: {}", primed.error().message);
  }).detach();
}

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

// The entrypoint: args[0] in the rootfs; when the rootfs has no such file, the module of
// the container's image (a Wasm image's layer, read from containerd's content store). The
// image is consulted only then: a container whose rootfs holds its entrypoint (every image
// with a Linux rootfs) never waits for containerd's API nor loads its client. When neither
// holds the entrypoint, both reasons are given.
Expected<ResolvedEntrypoint> findEntrypoint(InstanceEnvironment& env, const std::string& id,
                                            const oci::ProcessSpec& process,
                                            const fs::path& rootfs,
                                            std::optional<ModuleLayer>& layer) {
  auto resolved = resolveEntrypoint(process, rootfs, *env.engine);
  if (resolved || resolved.error().code != ErrorCode::kNotFound || !env.containerd)
    return resolved;
  auto found = [&]() -> Expected<std::optional<ImageModule>> {
    TRY(oci::ContainerdStoreClient * client, env.containerd->client());
    return readImageModule(*client, id, oci::parseEntrypoint(process.args.front()),
                           *env.engine);
  }();
  if (!found) {
    log::warn("{}: not reading the module from the image: {}", id, found.error().message);
    return tl::unexpected(std::move(resolved).error().context(
        fmt::format("the module could not be read from the image ({})", found.error().message)));
  }
  if (!*found) return resolved;  // not a Wasm image: the rootfs's answer stands
  ResolvedEntrypoint entry;
  entry.pathInRootfs = (*found)->source.name;
  entry.function = oci::parseEntrypoint(process.args.front()).func;
  entry.source = std::move((*found)->source);
  layer = std::move((*found)->layer);
  return entry;
}

// The module's artifact: from containerd's content store for an image layer, from the
// local cache for a rootfs file; precompiled by a zygote child on a miss.
Expected<UniqueFd> artifactFor(InstanceEnvironment& env, const std::string& id,
                               const engine::ModuleSource& module, int moduleFd,
                               const std::optional<ModuleLayer>& layer) {
  auto precompile = [&](const engine::ModuleSource& m) {
    return precompileInChild(env, id, m, moduleFd);
  };
  if (!layer || !env.engine->precompiler())
    return engine::precompiledArtifact(*env.engine, module, env.cache, precompile);
  TRY(oci::ContainerdStoreClient * client, env.containerd->client());
  TRY(StoredArtifact stored, contentStoreArtifact(*client, *env.engine, *layer, module, precompile));
  if (stored.reused)
    log::info("{}: using the precompiled artifact {} from the content store", id, stored.digest);
  else
    log::info("{}: precompiled {} ({})", id, module.name,
              stored.digest.empty() ? "not stored" : "stored as " + stored.digest);
  return std::move(stored.fd);
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
  TRY(resolved.source, checkedModule(resolved.pathInRootfs, std::move(bytes), resolved.function,
                                     engine));
  return resolved;
}

Expected<std::unique_ptr<Instance>> Instance::create(const InstanceRequest& request,
                                                     InstanceEnvironment& env,
                                                     Reaper::OnExit onExit) {
  primeCgroupJoin();
  std::unique_ptr<Instance> instance(new Instance());
  instance->env_ = &env;
  instance->id_ = request.id;
  // Whatever fails below, the destructor undoes what was done (cgroup, rootfs mounts).
  fs::path configPath = request.bundle / "config.json";
  TRY(Bytes configBytes, readFile(configPath));
  instance->config_.assign(configBytes.begin(), configBytes.end());
  const std::string& config = instance->config_;
  TRY(instance->spec_, oci::parseRuntimeSpec(config).map_error([&](Error e) {
    return std::move(e).context(fmt::format("reading the bundle's spec {}", configPath.string()));
  }));
  const oci::RuntimeSpec& spec = instance->spec_;
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

  std::optional<ModuleLayer> layer;
  TRY(ResolvedEntrypoint entry,
      findEntrypoint(env, request.id, spec.process, instance->rootfs_, layer));
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

  UniqueFd moduleFd, artifact;
  if (!entry.native) {
    // One copy of the module for the zygote, shared by the precompile and the container.
    TRY(moduleFd, memfdWith(entry.source.bytes, "runwasi-module"));
    TRY(artifact, artifactFor(env, request.id, entry.source, moduleFd.get(), layer));
  }

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
  if (sandboxed) {
    spawn.sandboxSpec = config;
    if (spec.linux) {
      spawn.cloneFlags = sandbox::cloneFlags(*spec.linux);
      spawn.pidNamespace = sandbox::pidNamespacePath(*spec.linux);
    }
    for (const UniqueFd& fd : cgroupProcs) spawn.cgroupProcsFds.push_back(fd.get());
    spawn.seccompFd = seccompFd.get();
    spawn.seccompFlags = seccompFlags;
    if (entry.native) spawn.nativePath = entry.pathInRootfs;
  }
  // containerd passes the request's terminal flag; a spec edited by hand may say it alone.
  const bool terminal = request.terminal || spec.process.terminal;
  TRY(instance->process_,
      instance->launch(spawn, request.stdio, terminal, sandboxed, request.id, std::move(onExit)));
  instance->pid_ = instance->process_->pid();
  log::info("{}: created pid {} for {}{}{}", request.id, instance->pid_, entry.pathInRootfs,
            entry.native ? " (native)" : "", terminal ? " with a terminal" : "");
  return instance;
}

Expected<std::unique_ptr<TaskProcess>> Instance::launch(sandbox::SpawnRequest& spawn,
                                                        const StdioPaths& paths, bool terminal,
                                                        bool reportsStatus, const std::string& name,
                                                        Reaper::OnExit onExit) {
  TaskProcess::Parts parts;
  parts.name = name;
  // With a terminal the process makes its pty and stdio is the shim's to copy: its stdin
  // FIFO into the master, the master into its stdout FIFO.
  StdioPaths processStdio = terminal ? StdioPaths{} : paths;
  TRY(StdioFds stdio, openStdio(processStdio));
  StdioFds consoleStdio;
  UniqueFd consoleOurs, consoleTheirs;
  if (terminal) {
    TRY(consoleStdio, openStdio(StdioPaths{paths.stdinPath, paths.stdoutPath, ""}));
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
      return makeSysError("creating the console socket");
    consoleOurs.reset(pair[0]);
    consoleTheirs.reset(pair[1]);
    reportsStatus = true;  // the master comes before the status
  }
  parts.outputReaders = holdOutputReaders(paths);
  parts.stdinWriter = holdStdinWriter(paths);

  int gate[2];
  if (::pipe2(gate, O_CLOEXEC) != 0) return makeSysError("creating the start gate");
  UniqueFd gateRead(gate[0]);
  parts.startGate.reset(gate[1]);
  int status[2];
  if (::pipe2(status, O_CLOEXEC) != 0) return makeSysError("creating the status pipe");
  UniqueFd statusRead(status[0]), statusWrite(status[1]);

  spawn.stdinFd = stdio.in.get();
  spawn.stdoutFd = stdio.out.get();
  spawn.stderrFd = stdio.err.get();
  spawn.startGateFd = gateRead.get();
  spawn.consoleSocketFd = consoleTheirs.get();
  if (reportsStatus) spawn.statusFd = statusWrite.get();
  TRY(parts.pid, env_->zygote->spawn(spawn));
  statusWrite.reset();  // EOF once the process has written its status, or died
  consoleTheirs.reset();
  auto failed = [&](Error error) -> tl::unexpected<Error> {
    ::kill(parts.pid, SIGKILL);
    (void)env_->reaper->waitFor(parts.pid);
    log::warn("{}: the process's set-up failed: {}", name, error.message);
    return tl::unexpected(std::move(error));
  };
  if (reportsStatus) {
    if (auto ready = sandbox::readSetupStatus(statusRead.get()); !ready)
      return failed(std::move(ready).error());
  }
  if (terminal) {
    auto master = sandbox::receiveConsole(consoleOurs.get());
    if (!master) return failed(std::move(master).error());
    auto console = Console::start(std::move(*master), std::move(consoleStdio.in),
                                  std::move(consoleStdio.out), name);
    if (!console) return failed(std::move(console).error());
    parts.console = std::move(*console);
  }
  pid_t pid = parts.pid;
  auto process = std::make_unique<TaskProcess>(std::move(parts));
  env_->reaper->watch(pid, std::move(onExit));
  return process;
}

Expected<std::unique_ptr<TaskProcess>> Instance::exec(const ExecRequest& request,
                                                      Reaper::OnExit onExit) {
  const std::string name = fmt::format("{}/{}", id_, request.execId);
  TRY(oci::ProcessSpec process, oci::parseProcessSpec(request.processJson).map_error([](Error e) {
    return std::move(e).context("the exec process spec");
  }));
  if (pid_ <= 0) return makeError(ErrorCode::kFailedPrecondition, "the container has no process");
  if (cgroup_) primeCgroupJoin();
  const bool sandboxed = spec_.linux.has_value();
  const bool ownMountNamespace = sandboxed && spec_.linux->hasNamespace("mount");
  // The container's root as its processes see it now, mounts included.
  fs::path root = ownMountNamespace ? fs::path(fmt::format("/proc/{}/root", pid_)) : rootfs_;
  TRY(ResolvedEntrypoint entry, resolveEntrypoint(process, root, *env_->engine));

  // The container's spec with the exec's process: what the process applies to itself.
  nlohmann::json merged = nlohmann::json::parse(config_, nullptr, false);
  nlohmann::json processJson = nlohmann::json::parse(request.processJson, nullptr, false);
  if (merged.is_discarded() || processJson.is_discarded())
    return makeError(ErrorCode::kInternal, "re-reading the container's spec");
  merged["process"] = std::move(processJson);

  // Its namespaces, by the container process's /proc entries (also those it joined by
  // path). Opened while that process is known alive: a zombie has none.
  static const std::map<std::string, std::string> kProcNames = {
      {"pid", "pid"}, {"network", "net"}, {"mount", "mnt"},
      {"ipc", "ipc"}, {"uts", "uts"},     {"cgroup", "cgroup"}};
  std::vector<std::string> namespaceTypes;
  std::vector<UniqueFd> namespaceFds;
  if (sandboxed) {
    for (const oci::Namespace& ns : spec_.linux->namespaces) {
      auto procName = kProcNames.find(ns.type);
      if (procName == kProcNames.end()) continue;
      std::string path = fmt::format("/proc/{}/ns/{}", pid_, procName->second);
      UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) {
        int err = errno;
        // Gone (or a zombie): the container's process has exited.
        return tl::unexpected(Error{
            err == ENOENT || err == ESRCH ? ErrorCode::kFailedPrecondition : ErrorCode::kInternal,
            err,
            fmt::format("cannot exec in {}: opening its {} namespace {}: {}", id_, ns.type, path,
                        std::strerror(err))});
      }
      namespaceTypes.push_back(ns.type);
      namespaceFds.push_back(std::move(fd));
    }
  }
  std::vector<UniqueFd> cgroupProcs;
  UniqueFd seccompFd;
  uint32_t seccompFlags = 0;
  if (cgroup_) {
    TRY(cgroupProcs, cgroup_->openProcsFiles());
  }
  if (sandboxed && spec_.linux->seccomp) {
    TRY(sandbox::SeccompProgram program, sandbox::compileSeccomp(*spec_.linux->seccomp));
    TRY(seccompFd, memfdWith(program.bpf, "runwasi-seccomp"));
    seccompFlags = program.flags;
  }
  UniqueFd moduleFd, artifact;
  if (!entry.native) {
    TRY(moduleFd, memfdWith(entry.source.bytes, "runwasi-module"));
    TRY(artifact, engine::precompiledArtifact(
                      *env_->engine, entry.source, env_->cache, [&](const engine::ModuleSource& m) {
                        return precompileInChild(*env_, id_, m, moduleFd.get());
                      }));
  }

  sandbox::SpawnRequest spawn;
  spawn.containerId = id_;
  spawn.modulePath = entry.pathInRootfs;
  spawn.moduleFd = moduleFd.get();
  spawn.artifactFd = artifact.get();
  spawn.function = entry.function;
  spawn.args = process.args;
  spawn.env = process.env;
  spawn.rootfs = rootfs_.string();
  spawn.cwd = process.cwd;
  const bool confined = sandboxed || entry.native;
  if (confined) {
    spawn.exec = true;
    spawn.sandboxSpec = merged.dump();
    spawn.namespaceTypes = namespaceTypes;
    for (const UniqueFd& fd : namespaceFds) spawn.namespaceFds.push_back(fd.get());
    for (const UniqueFd& fd : cgroupProcs) spawn.cgroupProcsFds.push_back(fd.get());
    spawn.seccompFd = seccompFd.get();
    spawn.seccompFlags = seccompFlags;
    if (entry.native) spawn.nativePath = entry.pathInRootfs;
  }
  const bool terminal = request.terminal || process.terminal;
  TRY(auto launched, launch(spawn, request.stdio, terminal, confined, name, std::move(onExit)));
  log::info("{}: exec {} is pid {} for {}{}{}", id_, request.execId, launched->pid(),
            entry.pathInRootfs, entry.native ? " (native)" : "",
            terminal ? " with a terminal" : "");
  return launched;
}

Instance::~Instance() {
  if (auto done = destroy(); !done) log::warn("{}: {}", id_, done.error().message);
}

Expected<void> Instance::setPaused(bool paused) {
  if (!cgroup_)
    return makeError(ErrorCode::kFailedPrecondition,
                     fmt::format("cannot {} task {}: it has no cgroup (its spec has no linux "
                                 "section)",
                                 paused ? "pause" : "resume", id_));
  return cgroup_->setFrozen(paused);
}

Expected<void> Instance::update(const oci::Resources& resources) {
  if (!cgroup_)
    return makeError(ErrorCode::kFailedPrecondition,
                     fmt::format("cannot update task {}: it has no cgroup (its spec has no "
                                 "linux section)",
                                 id_));
  return cgroup_->apply(resources);
}

Expected<std::vector<pid_t>> Instance::pids() const {
  if (!cgroup_) return std::vector<pid_t>{pid_};
  return cgroup_->pids();
}

uint64_t Instance::oomKillCount() const {
  if (!cgroup_) return 0;
  return cgroup_->oomKillCount().value_or(0);
}

Expected<void> Instance::destroy() {
  if (process_) process_->release();
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
