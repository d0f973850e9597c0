#include "oci/default_spec.h"

#include <nlohmann/json.hpp>

namespace runwasi::oci {
namespace {

using nlohmann::json;

json mount(const char* destination, const char* type, const char* source,
           std::vector<std::string> options) {
  return {{"destination", destination},
          {"type", type},
          {"source", source},
          {"options", std::move(options)}};
}

}  // namespace

const std::vector<std::string> kDefaultCapabilities = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE",
};

std::string defaultSpecJson(const std::vector<std::string>& args, std::string_view cgroupsPath) {
  json spec;
  spec["ociVersion"] = "1.0.2-dev";  // containerd 1.6's specs.Version
  spec["process"] = {
      {"terminal", false},
      {"user", {{"uid", 0}, {"gid", 0}}},
      {"args", args},
      {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
      {"cwd", "/"},
      {"capabilities",
       {{"bounding", kDefaultCapabilities},
        {"effective", kDefaultCapabilities},
        {"permitted", kDefaultCapabilities}}},
      {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
      {"noNewPrivileges", true},
  };
  spec["root"] = {{"path", "rootfs"}};
  spec["mounts"] = {
      mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}),
      mount("/run", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
  };
  spec["linux"] = {
      {"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}},
      {"cgroupsPath", cgroupsPath},
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
  return spec.dump();
}

}  // namespace runwasi::oci
