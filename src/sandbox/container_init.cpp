#include "sandbox/container_init.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/file.h"
#include "common/log.h"
#include "sandbox/mount_options.h"
#include "sandbox/pty.h"

namespace runwasi::sandbox {
namespace {

namespace fs = std::filesystem;

struct NamespaceKind {
  std::string_view type;
  int flag;
};

constexpr NamespaceKind kNamespaces[] = {
    {"pid", CLONE_NEWPID},       {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},
    {"ipc", CLONE_NEWIPC},       {"uts", CLONE_NEWUTS},     {"cgroup", CLONE_NEWCGROUP},
    {"user", CLONE_NEWUSER},     {"time", 0x80 /* CLONE_NEWTIME */},
};

int namespaceFlag(std::string_view type) {
  for (const NamespaceKind& k : kNamespaces)
    if (k.type == type) return k.flag;
  return 0;
}

bool hasNewNamespace(const oci::LinuxSpec& linux, std::string_view type) {
  const oci::Namespace* ns = linux.findNamespace(type);
  return ns && ns->path.empty();
}

tl::unexpected<Error> fieldError(std::string field, std::string what, int err) {
  return tl::unexpected(
      Error{ErrorCode::kInvalidArgument, err, fmt::format("{}: {}", field, std::move(what))});
}

tl::unexpected<Error> sysFieldError(std::string field, std::string what, int err = errno) {
  return fieldError(std::move(field), fmt::format("{}: {}", what, std::strerror(err)), err);
}

// Writes `value` to an existing file (procfs, sysfs); errno on failure.
int writeValue(const std::string& path, std::string_view value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return errno;
  ssize_t n;
  while ((n = ::write(fd.get(), value.data(), value.size())) < 0 && errno == EINTR) {
  }
  if (n < 0) return errno;
  return n == static_cast<ssize_t>(value.size()) ? 0 : EIO;
}

// Opens `path` (absolute, as the container will see it) inside `rootFd` without leaving it
// through symlinks or "..", creating what is missing: directories along the way, and the
// last component as a directory or (dir == false) an empty file.
Expected<UniqueFd> openOrCreateInRoot(int rootFd, const std::string& path, bool dir) {
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  auto open = [&](const std::string& p) {
    return static_cast<int>(::syscall(SYS_openat2, rootFd, p.c_str(), &how, sizeof how));
  };
  if (int fd = open(path); fd >= 0) return UniqueFd(fd);
  if (errno != ENOENT) return makeSysError(path);
  fs::path rel = fs::path(path).lexically_normal().relative_path();
  fs::path sofar = "/";
  UniqueFd parent(::fcntl(rootFd, F_DUPFD_CLOEXEC, 3));
  size_t count = std::distance(rel.begin(), rel.end());
  size_t i = 0;
  for (const fs::path& part : rel) {
    ++i;
    sofar /= part;
    UniqueFd next(open(sofar.string()));
    if (!next) {
      if (errno != ENOENT) return makeSysError(sofar.string());
      UniqueFd parentDir(open(sofar.parent_path().string()));
      if (!parentDir) return makeSysError(sofar.parent_path().string());
      // O_PATH fds cannot be used with mkdirat; reopen the parent as a directory.
      UniqueFd dirFd(::openat(parentDir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!dirFd) return makeSysError(sofar.parent_path().string());
      if (i < count || dir) {
        if (::mkdirat(dirFd.get(), part.c_str(), 0755) != 0 && errno != EEXIST)
          return makeSysError("creating " + sofar.string());
      } else {
        UniqueFd file(::openat(dirFd.get(), part.c_str(),
                               O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644));
        if (!file && errno != EEXIST) return makeSysError("creating " + sofar.string());
      }
      next.reset(open(sofar.string()));
      if (!next) return makeSysError(sofar.string());
    }
    parent = std::move(next);
  }
  return parent;
}

std::string procFdPath(int fd) {
  return fmt::format("/proc/self/fd/{}", fd);
}

// --- cgroups, namespaces, network ---

Expected<void> joinCgroup(std::vector<UniqueFd>& procs) {
  for (UniqueFd& fd : procs) {
    ssize_t n;
    while ((n = ::write(fd.get(), "0", 1)) < 0 && errno == EINTR) {
    }
    if (n != 1) return sysFieldError("linux.cgroupsPath", "joining the container's cgroup");
    fd.reset();
  }
  procs.clear();
  return {};
}

Expected<void> joinNamespaces(const oci::LinuxSpec& linux) {
  for (size_t i = 0; i < linux.namespaces.size(); ++i) {
    const oci::Namespace& ns = linux.namespaces[i];
    if (ns.path.empty() || ns.type == "pid") continue;  // pid: the zygote entered it
    std::string field = fmt::format("linux.namespaces[{}].path", i);
    UniqueFd fd(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return sysFieldError(field, fmt::format("opening {}", ns.path));
    if (::setns(fd.get(), namespaceFlag(ns.type)) != 0)
      return sysFieldError(field, fmt::format("joining the {} namespace {}", ns.type, ns.path));
  }
  return {};
}

// runc brings up the loopback interface of a network namespace it creates; so do we.
Expected<void> bringUpLoopback() {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) return sysFieldError("linux.namespaces", "bringing up lo");
  ifreq req{};
  std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &req) != 0)
    return sysFieldError("linux.namespaces", "bringing up lo");
  req.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &req) != 0)
    return sysFieldError("linux.namespaces", "bringing up lo");
  return {};
}

// --- mounts ---

// One v1 hierarchy (or the unified one) the process belongs to.
struct CgroupMembership {
  std::string mountPoint;  // on the host, e.g. /sys/fs/cgroup/cpu,cpuacct
  std::string path;        // the process's cgroup in it, e.g. /default/web
};

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= s.size()) {
    size_t end = s.find(sep, begin);
    if (end == std::string_view::npos) end = s.size();
    out.emplace_back(s.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

// Pairs /proc/self/cgroup with the cgroup mounts of /proc/self/mountinfo.
std::vector<CgroupMembership> cgroupMemberships() {
  struct CgroupMount {
    std::string point, fstype;
    std::vector<std::string> superOptions;
  };
  std::vector<CgroupMount> mounts;
  std::ifstream mountinfo("/proc/self/mountinfo");
  for (std::string line; std::getline(mountinfo, line);) {
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream head(line.substr(0, dash)), tail(line.substr(dash + 3));
    std::string id, parent, dev, root, point, fstype, source, options;
    head >> id >> parent >> dev >> root >> point;
    tail >> fstype >> source >> options;
    if (fstype == "cgroup" || fstype == "cgroup2")
      mounts.push_back({point, fstype, split(options, ',')});
  }
  std::vector<CgroupMembership> out;
  std::ifstream cgroup("/proc/self/cgroup");
  for (std::string line; std::getline(cgroup, line);) {
    std::vector<std::string> f = split(line, ':');
    if (f.size() < 3) continue;
    std::string path = line.substr(f[0].size() + f[1].size() + 2);
    for (const CgroupMount& m : mounts) {
      bool match;
      if (f[1].empty()) {
        match = m.fstype == "cgroup2";
      } else {
        match = m.fstype == "cgroup";
        for (const std::string& controller : split(f[1], ','))
          match = match && std::find(m.superOptions.begin(), m.superOptions.end(),
                                     controller) != m.superOptions.end();
      }
      if (match) {
        out.push_back({m.point, path});
        break;
      }
    }
  }
  return out;
}

// A "cgroup" mount: the container sees its own cgroup as the root of each hierarchy,
// bind-mounted from the host (under a tmpfs on v1 and hybrid machines).
Expected<void> mountCgroups(int rootFd, const std::string& field, const oci::Mount& m,
                            const MountOptions& opts) {
  const unsigned long kept = opts.flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY);
  std::vector<CgroupMembership> memberships = cgroupMemberships();
  bool unifiedOnly = memberships.size() == 1 && memberships[0].mountPoint == "/sys/fs/cgroup";
  TRY(UniqueFd target, openOrCreateInRoot(rootFd, m.destination, true));
  auto bindOne = [&](const CgroupMembership& c, const std::string& dest) -> Expected<void> {
    TRY(UniqueFd at, openOrCreateInRoot(rootFd, dest, true));
    std::string source = c.mountPoint + c.path;
    if (::mount(source.c_str(), procFdPath(at.get()).c_str(), nullptr, MS_BIND, nullptr) != 0)
      return sysFieldError(field, fmt::format("bind-mounting {} on {}", source, dest));
    TRY(UniqueFd mounted, openOrCreateInRoot(rootFd, dest, true));
    if (::mount(nullptr, procFdPath(mounted.get()).c_str(), nullptr,
                MS_BIND | MS_REMOUNT | kept, nullptr) != 0)
      return sysFieldError(field, fmt::format("remounting {}", dest));
    return {};
  };
  if (unifiedOnly) return bindOne(memberships[0], m.destination);

  if (::mount("tmpfs", procFdPath(target.get()).c_str(), "tmpfs",
              (kept & ~MS_RDONLY), "mode=755") != 0)
    return sysFieldError(field, fmt::format("mounting a tmpfs on {}", m.destination));
  for (const CgroupMembership& c : memberships) {
    std::string name = fs::path(c.mountPoint).filename().string();
    std::string dest = (fs::path(m.destination) / name).string();
    TRY_VOID(bindOne(c, dest));
    // cpu,cpuacct is mounted once; cpu and cpuacct are links to it, as on the host.
    if (name.find(',') != std::string::npos) {
      TRY(UniqueFd dir, openOrCreateInRoot(rootFd, m.destination, true));
      UniqueFd dirFd(::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      for (const std::string& alias : split(name, ','))
        if (dirFd) (void)::symlinkat(name.c_str(), dirFd.get(), alias.c_str());
    }
  }
  if (kept & MS_RDONLY) {
    TRY(UniqueFd mounted, openOrCreateInRoot(rootFd, m.destination, true));
    if (::mount(nullptr, procFdPath(mounted.get()).c_str(), nullptr,
                MS_REMOUNT | kept, "mode=755") != 0)
      return sysFieldError(field, fmt::format("remounting {} read-only", m.destination));
  }
  return {};
}

Expected<void> mountOne(int rootFd, size_t index, const oci::Mount& m,
                        const oci::LinuxSpec& linux) {
  std::string field = fmt::format("mounts[{}] ({})", index, m.destination);
  std::vector<std::string> options;
  for (const std::string& o : m.options)
    if (o != "tmpcopyup") options.push_back(o);
  MountOptions opts = parseMountOptions(options);
  if (m.type == "cgroup" || m.type == "cgroup2") return mountCgroups(rootFd, field, m, opts);

  bool bind = (opts.flags & MS_BIND) != 0 || m.type == "bind";
  bool dir = true;
  if (bind) {
    struct stat st {};
    if (::stat(m.source.c_str(), &st) != 0)
      return sysFieldError(field, fmt::format("bind source {}", m.source));
    dir = S_ISDIR(st.st_mode);
  }
  auto target = openOrCreateInRoot(rootFd, m.destination, dir);
  if (!target) return fieldError(field, target.error().message, target.error().sysErrno);
  std::string at = procFdPath(target->get());

  unsigned long flags = opts.flags & ~MS_REMOUNT;
  if (bind) {
    if (::mount(m.source.c_str(), at.c_str(), nullptr, MS_BIND | (flags & MS_REC), nullptr) != 0)
      return sysFieldError(field, fmt::format("bind-mounting {}", m.source));
    unsigned long extra = flags & ~(MS_BIND | MS_REC);
    if (extra != 0) {
      TRY(UniqueFd mounted, openOrCreateInRoot(rootFd, m.destination, dir));
      if (::mount(nullptr, procFdPath(mounted.get()).c_str(), nullptr,
                  MS_BIND | MS_REMOUNT | extra, nullptr) != 0)
        return sysFieldError(field, "applying the mount options");
    }
  } else {
    const char* data = opts.data.empty() ? nullptr : opts.data.c_str();
    if (::mount(m.source.c_str(), at.c_str(), m.type.c_str(), flags, data) != 0) {
      int err = errno;
      // sysfs belongs to a network namespace: without one of our own, runc binds the host's.
      bool hostNet = !hasNewNamespace(linux, "network");
      if (!(m.type == "sysfs" && hostNet && (err == EPERM || err == EBUSY)))
        return sysFieldError(field, fmt::format("mounting {} ({})", m.source, m.type), err);
      if (::mount("/sys", at.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
        return sysFieldError(field, "bind-mounting the host's /sys");
    }
  }
  if (opts.propagation != 0) {
    TRY(UniqueFd mounted, openOrCreateInRoot(rootFd, m.destination, dir));
    if (::mount(nullptr, procFdPath(mounted.get()).c_str(), nullptr, opts.propagation,
                nullptr) != 0)
      return sysFieldError(field, "setting the mount propagation");
  }
  return {};
}

struct DefaultDevice {
  const char* name;
  unsigned major, minor;
};
constexpr DefaultDevice kDefaultDevices[] = {{"null", 1, 3},    {"zero", 1, 5},
                                             {"full", 1, 7},    {"random", 1, 8},
                                             {"urandom", 1, 9}, {"tty", 5, 0}};

// What runc adds after the spec's device rules: the default devices stay usable and
// creatable (mknod of any node; using one needs its own rule) in a deny-all device cgroup.
constexpr oci::DeviceRule kDefaultDeviceRules[] = {
    {true, "c", std::nullopt, std::nullopt, "m"}, {true, "b", std::nullopt, std::nullopt, "m"},
    {true, "c", 1, 3, "rwm"},                     {true, "c", 1, 5, "rwm"},
    {true, "c", 1, 7, "rwm"},                     {true, "c", 1, 8, "rwm"},
    {true, "c", 1, 9, "rwm"},                     {true, "c", 5, 0, "rwm"},
    {true, "c", 5, 2, "rwm"},                     {true, "c", 136, std::nullopt, "rwm"},
};

// A device node at `path` in the rootfs; where mknod is refused, a bind mount of the
// host's node of the same path.
Expected<void> makeDevice(int rootFd, const std::string& field, const std::string& path,
                          mode_t mode, dev_t dev, uid_t uid, gid_t gid) {
  fs::path p(path);
  TRY(UniqueFd parent, openOrCreateInRoot(rootFd, p.parent_path().string(), true));
  UniqueFd dir(::openat(parent.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return sysFieldError(field, p.parent_path().string());
  std::string name = p.filename().string();
  ::unlinkat(dir.get(), name.c_str(), 0);
  if (::mknodat(dir.get(), name.c_str(), mode, dev) == 0) {
    // mknod applies the umask; the spec's mode is meant as is.
    if (::fchmodat(dir.get(), name.c_str(), mode & 07777, 0) != 0 ||
        ::fchownat(dir.get(), name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
      return sysFieldError(field, "setting the owner and mode of " + path);
    return {};
  }
  if (errno != EPERM) return sysFieldError(field, "creating " + path);
  TRY(UniqueFd target, openOrCreateInRoot(rootFd, path, false));
  if (::mount(path.c_str(), procFdPath(target.get()).c_str(), nullptr, MS_BIND, nullptr) != 0)
    return sysFieldError(field, "bind-mounting the host's " + path);
  return {};
}

Expected<void> makeDevices(int rootFd, const oci::RuntimeSpec& spec) {
  bool devMounted = std::any_of(spec.mounts.begin(), spec.mounts.end(),
                                [](const oci::Mount& m) { return m.destination == "/dev"; });
  if (devMounted) {
    for (const DefaultDevice& d : kDefaultDevices)
      TRY_VOID(makeDevice(rootFd, "linux.devices", fmt::format("/dev/{}", d.name),
                          S_IFCHR | 0666, makedev(d.major, d.minor), 0, 0));
    TRY(UniqueFd devPath, openOrCreateInRoot(rootFd, "/dev", true));
    UniqueFd dev(::openat(devPath.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dev) return sysFieldError("mounts", "opening /dev");
    const std::pair<const char*, const char*> links[] = {
        {"fd", "/proc/self/fd"},
        {"stdin", "/proc/self/fd/0"},
        {"stdout", "/proc/self/fd/1"},
        {"stderr", "/proc/self/fd/2"},
        {"core", "/proc/kcore"}};
    for (auto [name, to] : links)
      if ((std::string_view(name) != "core" || ::access(to, F_OK) == 0) &&  // as runc
          ::symlinkat(to, dev.get(), name) != 0 && errno != EEXIST)
        return sysFieldError("mounts", fmt::format("linking /dev/{}", name));
    struct stat st {};
    if (::fstatat(dev.get(), "pts/ptmx", &st, 0) == 0) {
      ::unlinkat(dev.get(), "ptmx", 0);
      if (::symlinkat("pts/ptmx", dev.get(), "ptmx") != 0)
        return sysFieldError("mounts", "linking /dev/ptmx");
    }
  }
  const oci::LinuxSpec& linux = *spec.linux;
  for (size_t i = 0; i < linux.devices.size(); ++i) {
    const oci::Device& d = linux.devices[i];
    mode_t type = d.type == 'b' ? S_IFBLK : d.type == 'p' ? S_IFIFO : S_IFCHR;
    TRY_VOID(makeDevice(rootFd, fmt::format("linux.devices[{}] ({})", i, d.path), d.path,
                        type | (d.fileMode.value_or(0666) & 07777),
                        makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor)),
                        d.uid.value_or(0), d.gid.value_or(0)));
  }
  return {};
}

// The rootfs becomes "/": the old root is detached, and nothing of the host is left.
Expected<void> pivotRoot(int rootFd) {
  if (::fchdir(rootFd) != 0) return sysFieldError("root.path", "entering the rootfs");
  if (::syscall(SYS_pivot_root, ".", ".") != 0)
    return sysFieldError("root.path", "pivot_root");
  // The old root is now stacked on "."; keep its unmount from propagating to the host.
  if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0)
    return sysFieldError("root.path", "making the old root a slave");
  if (::umount2(".", MNT_DETACH) != 0) return sysFieldError("root.path", "detaching the old root");
  if (::chdir("/") != 0) return sysFieldError("root.path", "entering /");
  return {};
}

Expected<void> maskPaths(const oci::LinuxSpec& linux) {
  for (size_t i = 0; i < linux.maskedPaths.size(); ++i) {
    const std::string& path = linux.maskedPaths[i];
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return sysFieldError(fmt::format("linux.maskedPaths[{}]", i), path);
    }
    int rc = S_ISDIR(st.st_mode)
                 ? ::mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY, "size=0")
                 : ::mount("/dev/null", path.c_str(), nullptr, MS_BIND, nullptr);
    if (rc != 0) return sysFieldError(fmt::format("linux.maskedPaths[{}]", i), path);
  }
  return {};
}

Expected<void> readonlyPaths(const oci::LinuxSpec& linux) {
  for (size_t i = 0; i < linux.readonlyPaths.size(); ++i) {
    const std::string& path = linux.readonlyPaths[i];
    std::string field = fmt::format("linux.readonlyPaths[{}]", i);
    if (::mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      if (errno == ENOENT) continue;
      return sysFieldError(field, path);
    }
    if (::mount(nullptr, path.c_str(), nullptr,
                MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                nullptr) != 0)
      return sysFieldError(field, path);
  }
  return {};
}

Expected<void> setupRootfs(const SandboxContext& c) {
  const oci::RuntimeSpec& spec = *c.spec;
  const oci::LinuxSpec& linux = *spec.linux;
  // Nothing mounted from here on may reach the host's mount table.
  unsigned long propagation = linux.rootfsPropagation.empty()
                                  ? MS_SLAVE | MS_REC
                                  : propagationFlags(linux.rootfsPropagation);
  if (propagation & MS_SHARED) propagation = MS_SLAVE | MS_REC;  // shared comes last
  if (::mount(nullptr, "/", nullptr, propagation, nullptr) != 0)
    return sysFieldError("linux.rootfsPropagation", "setting the propagation of /");
  // pivot_root needs the rootfs to be a mount point.
  if (::mount(c.rootfs.c_str(), c.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return sysFieldError("root.path", "bind-mounting " + c.rootfs);
  UniqueFd root(::open(c.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return sysFieldError("root.path", c.rootfs);
  for (size_t i = 0; i < spec.mounts.size(); ++i)
    TRY_VOID(mountOne(root.get(), i, spec.mounts[i], linux));
  TRY_VOID(makeDevices(root.get(), spec));
  TRY_VOID(pivotRoot(root.get()));
  return {};
}

Expected<void> finishRootfs(const oci::RuntimeSpec& spec) {
  const oci::LinuxSpec& linux = *spec.linux;
  TRY_VOID(readonlyPaths(linux));  // runc's order: /proc/sys read-only, then masks in it
  TRY_VOID(maskPaths(linux));
  if (spec.rootReadonly &&
      ::mount(nullptr, "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0)
    return sysFieldError("root.readonly", "remounting / read-only");
  if (unsigned long p = propagationFlags(linux.rootfsPropagation); p & MS_SHARED) {
    if (::mount(nullptr, "/", nullptr, p, nullptr) != 0)
      return sysFieldError("linux.rootfsPropagation", "making / shared");
  }
  return {};
}

// --- identity ---

Expected<void> applySysctls(const oci::LinuxSpec& linux) {
  for (const auto& [key, value] : linux.sysctl) {
    std::string path = "/proc/sys/" + key;
    std::replace(path.begin() + 10, path.end(), '.', '/');
    if (int err = writeValue(path, value); err != 0)
      return sysFieldError("linux.sysctl." + key, fmt::format("writing {}", value), err);
  }
  return {};
}

void applyOomScoreAdj(const oci::ProcessSpec& process) {
  if (!process.oomScoreAdj) return;
  if (int err = writeValue("/proc/self/oom_score_adj", std::to_string(*process.oomScoreAdj));
      err != 0)
    // Lowering it needs CAP_SYS_RESOURCE, which some hosts do not give even to root.
    log::warn("process.oomScoreAdj {}: {} (left as inherited)", *process.oomScoreAdj,
              std::strerror(err));
}

Expected<void> applyRlimits(const oci::ProcessSpec& process) {
  for (size_t i = 0; i < process.rlimits.size(); ++i) {
    const oci::Rlimit& r = process.rlimits[i];
    rlimit limit{static_cast<rlim_t>(r.soft), static_cast<rlim_t>(r.hard)};
    if (::setrlimit(static_cast<__rlimit_resource>(r.resource), &limit) != 0)
      return sysFieldError(fmt::format("process.rlimits[{}] ({})", i, r.type),
                           fmt::format("soft {} hard {}", r.soft, r.hard));
  }
  return {};
}

int lastCapability() {
  static int last = [] {
    std::ifstream in("/proc/sys/kernel/cap_last_cap");
    int value = CAP_LAST_CAP;
    in >> value;
    return value;
  }();
  return last;
}

uint64_t capabilityMask(const std::vector<std::string>& names) {
  uint64_t mask = 0;
  for (const std::string& name : names)
    if (auto n = oci::capabilityNumber(name); n && *n <= lastCapability()) mask |= 1ull << *n;
  return mask;
}

Expected<void> dropBoundingSet(const oci::Capabilities& caps) {
  uint64_t keep = capabilityMask(caps.bounding);
  for (int cap = 0; cap <= lastCapability(); ++cap) {
    if (keep & (1ull << cap)) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      return sysFieldError("process.capabilities.bounding",
                           fmt::format("dropping capability {}", cap));
  }
  return {};
}

Expected<void> switchUser(const oci::User& user) {
  const std::vector<gid_t> groups(user.additionalGids.begin(), user.additionalGids.end());
  if (::setgroups(groups.size(), groups.data()) != 0)
    return sysFieldError("process.user.additionalGids", "setgroups");
  if (::setresgid(user.gid, user.gid, user.gid) != 0)
    return sysFieldError("process.user.gid", fmt::format("setting gid {}", user.gid));
  if (::setresuid(user.uid, user.uid, user.uid) != 0)
    return sysFieldError("process.user.uid", fmt::format("setting uid {}", user.uid));
  return {};
}

// The capability sets as the spec gives them. When no execve follows (a Wasm guest runs
// in this process), the sets the kernel would compute at an execve of a program without
// file capabilities, so that a module has what a native program of the same spec has:
// root gets its bounding (and inheritable) set, any other user only its ambient set.
Expected<void> applyCapabilities(const oci::Capabilities& caps, bool execFollows) {
  uint64_t effective = capabilityMask(caps.effective);
  uint64_t permitted = capabilityMask(caps.permitted);
  uint64_t inheritable = capabilityMask(caps.inheritable);
  if (!execFollows) {
    uint64_t ambient = capabilityMask(caps.ambient) & permitted & inheritable;
    permitted = ::geteuid() == 0 ? capabilityMask(caps.bounding) | inheritable | ambient : ambient;
    effective = permitted;
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<uint32_t>(effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(inheritable >> (32 * i));
  }
  if (::syscall(SYS_capset, &header, data) != 0)
    return sysFieldError("process.capabilities", "capset");
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return sysFieldError("process.capabilities.ambient", "clearing");
  for (const std::string& name : caps.ambient) {
    auto n = oci::capabilityNumber(name);
    if (!n || *n > lastCapability()) continue;
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, *n, 0, 0) != 0)
      return sysFieldError("process.capabilities.ambient",
                           fmt::format("raising {} (it must be permitted and inheritable)", name));
  }
  return {};
}

// What a process of the container gets from its own process spec, whether it is the
// container's first process or an exec: oom_score_adj, rlimits, the bounding set, user and
// groups, umask and working directory.
Expected<void> applyProcessIdentity(const oci::ProcessSpec& process) {
  applyOomScoreAdj(process);
  TRY_VOID(applyRlimits(process));
  if (process.capabilities) TRY_VOID(dropBoundingSet(*process.capabilities));
  // Keep the permitted set across the uid change; dropPrivileges sets it as the spec says.
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
    return sysFieldError("process.user", "PR_SET_KEEPCAPS");
  TRY_VOID(switchUser(process.user));
  ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  ::umask(process.user.umask.value_or(022));
  if (::chdir(process.cwd.c_str()) != 0) return sysFieldError("process.cwd", process.cwd);
  return {};
}

}  // namespace

Expected<void> checkSandboxSpec(const oci::RuntimeSpec& spec) {
  for (size_t i = 0; i < spec.mounts.size(); ++i)
    if (!spec.mounts[i].destination.starts_with('/'))
      return fieldError(fmt::format("mounts[{}].destination", i),
                        fmt::format("\"{}\" is not an absolute path", spec.mounts[i].destination),
                        EINVAL);
  if (!spec.linux) return {};
  const oci::LinuxSpec& linux = *spec.linux;
  for (size_t i = 0; i < linux.namespaces.size(); ++i) {
    const oci::Namespace& ns = linux.namespaces[i];
    std::string field = fmt::format("linux.namespaces[{}]", i);
    if (ns.type == "user" || ns.type == "time")
      return fieldError(field + ".type",
                        fmt::format("{} namespaces are not supported by this runtime", ns.type),
                        EINVAL);
    if (namespaceFlag(ns.type) == 0)
      return fieldError(field + ".type", fmt::format("unknown namespace type \"{}\"", ns.type),
                        EINVAL);
    if (ns.type == "mount" && !ns.path.empty())
      return fieldError(field + ".path",
                        "joining a mount namespace is not supported: the container needs "
                        "its own to pivot into its rootfs",
                        EINVAL);
    if (!ns.path.empty() && ::access(ns.path.c_str(), F_OK) != 0)
      return sysFieldError(field + ".path", ns.path);
  }
  if (!spec.hostname.empty() && !hasNewNamespace(linux, "uts"))
    return fieldError("hostname", "setting a hostname needs a new uts namespace", EINVAL);
  for (const auto& [key, value] : linux.sysctl) {
    std::string field = "linux.sysctl." + key;
    bool ipc = key.starts_with("kernel.msg") || key.starts_with("kernel.sem") ||
               key.starts_with("kernel.shm") || key.starts_with("fs.mqueue.");
    bool uts = key == "kernel.hostname" || key == "kernel.domainname";
    bool net = key.starts_with("net.");
    if (!ipc && !uts && !net)
      return fieldError(field, "not a namespaced sysctl: it would change the host", EINVAL);
    if (ipc && !linux.hasNamespace("ipc"))
      return fieldError(field, "needs an ipc namespace of the container's own", EINVAL);
    if (uts && !hasNewNamespace(linux, "uts"))
      return fieldError(field, "needs a uts namespace of the container's own", EINVAL);
    if (net && !linux.hasNamespace("network"))
      return fieldError(field, "needs a network namespace of the container's own", EINVAL);
  }
  return {};
}

void addDefaultDeviceRules(oci::Resources& resources) {
  if (resources.devices.empty()) return;  // no device rules: the cgroup restricts nothing
  resources.devices.insert(resources.devices.end(), std::begin(kDefaultDeviceRules),
                           std::end(kDefaultDeviceRules));
}

uint64_t cloneFlags(const oci::LinuxSpec& linux) {
  uint64_t flags = 0;
  for (const oci::Namespace& ns : linux.namespaces)
    if (ns.path.empty() && ns.type != "cgroup") flags |= static_cast<uint64_t>(namespaceFlag(ns.type));
  return flags;
}

std::string pidNamespacePath(const oci::LinuxSpec& linux) {
  const oci::Namespace* ns = linux.findNamespace("pid");
  return ns ? ns->path : std::string();
}

Expected<void> enterSandbox(const SandboxContext& c) {
  const oci::RuntimeSpec& spec = *c.spec;
  const oci::LinuxSpec& linux = *spec.linux;
  if (c.cgroupProcs) TRY_VOID(joinCgroup(*c.cgroupProcs));
  TRY_VOID(joinNamespaces(linux));
  if (hasNewNamespace(linux, "cgroup") && ::unshare(CLONE_NEWCGROUP) != 0)
    return sysFieldError("linux.namespaces", "creating the cgroup namespace");
  if (hasNewNamespace(linux, "network")) TRY_VOID(bringUpLoopback());

  if (linux.hasNamespace("mount")) {
    TRY_VOID(setupRootfs(c));
  } else if (::chroot(c.rootfs.c_str()) != 0 || ::chdir("/") != 0) {
    return sysFieldError("root.path", "chroot into " + c.rootfs);
  }
  if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0)
    return sysFieldError("hostname", spec.hostname);
  TRY_VOID(applySysctls(linux));
  if (linux.hasNamespace("mount")) TRY_VOID(finishRootfs(spec));
  if (c.consoleSocket >= 0) TRY_VOID(setupConsole(c.consoleSocket));
  return applyProcessIdentity(spec.process);
}

Expected<void> joinSandbox(const SandboxContext& c) {
  const oci::RuntimeSpec& spec = *c.spec;
  if (c.cgroupProcs) TRY_VOID(joinCgroup(*c.cgroupProcs));
  int mountNamespace = -1;
  if (c.namespaceTypes && c.namespaceFds) {
    for (size_t i = 0; i < c.namespaceTypes->size() && i < c.namespaceFds->size(); ++i) {
      const std::string& type = (*c.namespaceTypes)[i];
      int fd = (*c.namespaceFds)[i].get();
      if (type == "pid") continue;  // the zygote forked us into it
      if (type == "mount") {
        mountNamespace = fd;
        continue;
      }
      if (::setns(fd, namespaceFlag(type)) != 0)
        return sysFieldError("linux.namespaces",
                             fmt::format("joining the container's {} namespace", type));
    }
  }
  // Last: setns into a mount namespace makes its root (the container's, after its
  // pivot_root) this process's root and working directory.
  if (mountNamespace >= 0) {
    if (::setns(mountNamespace, CLONE_NEWNS) != 0)
      return sysFieldError("linux.namespaces", "joining the container's mount namespace");
  } else if (::chroot(c.rootfs.c_str()) != 0 || ::chdir("/") != 0) {
    return sysFieldError("root.path", "chroot into " + c.rootfs);
  }
  if (c.namespaceFds) c.namespaceFds->clear();
  if (c.consoleSocket >= 0) TRY_VOID(setupConsole(c.consoleSocket));
  return applyProcessIdentity(spec.process);
}

Expected<void> dropPrivileges(const oci::ProcessSpec& process, const SeccompProgram* seccomp,
                              bool execFollows) {
  if (process.noNewPrivileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return sysFieldError("process.noNewPrivileges", "PR_SET_NO_NEW_PRIVS");
  // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: before the caps go.
  if (seccomp && !process.noNewPrivileges) {
    if (int err = loadSeccomp(*seccomp); err != 0)
      return sysFieldError("linux.seccomp", "loading the filter", err);
  }
  if (process.capabilities) TRY_VOID(applyCapabilities(*process.capabilities, execFollows));
  if (seccomp && process.noNewPrivileges) {
    if (int err = loadSeccomp(*seccomp); err != 0)
      return sysFieldError("linux.seccomp", "loading the filter", err);
  }
  return {};
}

std::vector<wasi::Preopen> sandboxPreopens(const oci::RuntimeSpec& spec) {
  std::vector<wasi::Preopen> out{wasi::Preopen{"/", "/"}};
  for (const oci::Mount& m : spec.mounts) {
    struct stat st {};
    if (m.destination == "/" || ::stat(m.destination.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      continue;
    out.push_back(wasi::Preopen{m.destination, m.destination});
  }
  return out;
}

void reportSetup(int fd, const Expected<void>& outcome) {
  std::string message = outcome ? std::string("ok")
                                : fmt::format("{}:{}", outcome.error().sysErrno,
                                              outcome.error().message);
  if (message.size() > PIPE_BUF) message.resize(PIPE_BUF);
  ssize_t n;
  while ((n = ::write(fd, message.data(), message.size())) < 0 && errno == EINTR) {
  }
}

Expected<void> readSetupStatus(int fd) {
  char buf[PIPE_BUF + 1];
  ssize_t n;
  while ((n = ::read(fd, buf, PIPE_BUF)) < 0 && errno == EINTR) {
  }
  if (n < 0) return makeSysError("reading the container's set-up status");
  std::string_view message(buf, static_cast<size_t>(n));
  if (message == "ok") return {};
  if (message.empty())
    return makeError(ErrorCode::kInternal,
                     "the container process exited while setting up its sandbox");
  size_t colon = message.find(':');
  int err = colon == std::string_view::npos ? 0 : std::atoi(std::string(message.substr(0, colon)).c_str());
  return tl::unexpected(Error{ErrorCode::kInvalidArgument, err,
                              std::string(colon == std::string_view::npos
                                              ? message
                                              : message.substr(colon + 1))});
}

}  // namespace runwasi::sandbox
