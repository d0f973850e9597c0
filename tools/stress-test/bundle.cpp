#include "bundle.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/file.h"

namespace runwasi::stress {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::vector<std::string> kCapabilities = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE",
};

json mount(const char* destination, const char* type, const char* source,
           std::vector<std::string> options) {
  return {{"destination", destination},
          {"type", type},
          {"source", source},
          {"options", std::move(options)}};
}

Expected<void> writeText(const fs::path& path, std::string_view text) {
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return makeSysError("creating " + path.string());
  while (!bytes.empty()) {
    ssize_t n = ::write(fd.get(), bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return makeSysError("writing " + path.string());
    bytes = bytes.subspan(static_cast<size_t>(n));
  }
  return {};
}

}  // namespace

json taskSpec(const std::string& id, const BundleSpec& spec) {
  std::vector<std::string> args = {"/" + spec.module.filename().string()};
  args.insert(args.end(), spec.args.begin(), spec.args.end());
  json s;
  s["ociVersion"] = "1.0.2-dev";
  s["process"] = {
      {"terminal", false},
      {"user", {{"uid", 0}, {"gid", 0}}},
      {"args", args},
      {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
      {"cwd", "/"},
      {"capabilities",
       {{"bounding", kCapabilities}, {"effective", kCapabilities}, {"permitted", kCapabilities}}},
      {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
      {"noNewPrivileges", true},
  };
  s["root"] = {{"path", "rootfs"}};
  s["mounts"] = {
      mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      mount("/run", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
  };
  s["linux"] = {
      {"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}},
      {"cgroupsPath", fmt::format("/{}/{}", spec.ns, id)},
      {"namespaces",
       {{{"type", "pid"}},
        {{"type", "ipc"}},
        {{"type", "uts"}},
        {{"type", "mount"}},
        {{"type", "network"}}}},
      {"maskedPaths",
       {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
        "/sys/devices/virtual/powercap", "/proc/scsi"}},
      {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}},
  };
  if (spec.sandboxId) s["annotations"] = {{kSandboxIdAnnotation, *spec.sandboxId}};
  return s;
}

Expected<void> writeBundle(const fs::path& dir, const std::string& id, const BundleSpec& spec) {
  std::error_code ec;
  if (!fs::create_directory(dir, ec) || !fs::create_directory(dir / "rootfs", ec))
    return makeError(ErrorCode::kInternal, fmt::format("creating the bundle {}: {}", dir.string(),
                                                       ec ? ec.message() : "it exists"));
  // A copy, not a link: a task may write to its rootfs, never to the caller's module.
  if (!fs::copy_file(spec.module, dir / "rootfs" / spec.module.filename(), ec))
    return makeError(ErrorCode::kInternal, fmt::format("copying {} into the bundle: {}",
                                                       spec.module.string(), ec.message()));
  TRY_VOID(writeText(dir / "config.json", taskSpec(id, spec).dump()));
  // Regular files: the shim appends to them (containerd would pass FIFOs).
  TRY_VOID(writeText(dir / "stdout", ""));
  TRY_VOID(writeText(dir / "stderr", ""));
  return {};
}

std::vector<fs::path> cgroupDirs(const std::string& cgroupsPath) {
  std::vector<fs::path> out;
  fs::path relative = fs::path(cgroupsPath).relative_path();
  std::error_code ec;
  for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    fs::path dir = hierarchy.path() / relative;
    if (fs::is_directory(dir, ec)) out.push_back(dir);
  }
  // A unified-only machine: /sys/fs/cgroup is the hierarchy itself.
  fs::path unified = fs::path("/sys/fs/cgroup") / relative;
  if (fs::exists("/sys/fs/cgroup/cgroup.controllers", ec) && fs::is_directory(unified, ec))
    out.push_back(unified);
  return out;
}

std::vector<std::string> mountsUnder(const fs::path& dir) {
  std::vector<std::string> out;
  auto info = readFile("/proc/self/mountinfo");
  if (!info) return out;
  std::string_view text(reinterpret_cast<const char*>(info->data()), info->size());
  const std::string prefix = dir.string();
  while (!text.empty()) {
    std::string_view line = text.substr(0, text.find('\n'));
    text.remove_prefix(std::min(text.size(), line.size() + 1));
    // Fields: id parent major:minor root mount-point ...
    size_t field = 0, pos = 0;
    for (; field < 4 && pos != std::string_view::npos; ++field) {
      pos = line.find(' ', pos);
      if (pos != std::string_view::npos) ++pos;
    }
    if (pos == std::string_view::npos) continue;
    std::string_view point = line.substr(pos, line.find(' ', pos) - pos);
    if (point == prefix ||
        (point.starts_with(prefix) && point.substr(prefix.size()).starts_with('/')))
      out.emplace_back(point);
  }
  return out;
}

}  // namespace runwasi::stress
