// The parts of an OCI runtime spec (a bundle's config.json) the shims act on.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace runwasi::oci {

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additionalGids;
};

// Capability names as the spec spells them ("CAP_NET_RAW"), checked against the known
// set by the parser. Absent (std::nullopt in ProcessSpec) means: leave them as they are.
struct Capabilities {
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
};

struct Rlimit {
  std::string type;  // as spelled in the spec, e.g. "RLIMIT_NOFILE"
  int resource = 0;  // the RLIMIT_* value it names
  uint64_t soft = 0, hard = 0;
};

struct ProcessSpec {
  bool terminal = false;
  std::vector<std::string> args;  // args[0]: the entrypoint, "path[#func]"
  std::vector<std::string> env;   // "KEY=VALUE"
  std::string cwd = "/";
  User user;
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool noNewPrivileges = false;
  std::optional<int> oomScoreAdj;
};

struct Mount {
  std::string destination;  // absolute, inside the container
  std::string type;         // "proc", "tmpfs", "bind", ... (may be empty for binds)
  std::string source;
  std::vector<std::string> options;  // as in the spec: "nosuid", "rbind", "ro", "mode=755"
};

struct Namespace {
  std::string type;  // pid, network, mount, ipc, uts, cgroup, user, time (checked)
  std::string path;  // empty: a new one; else join the namespace at this path
};

struct Device {
  std::string path;  // absolute, inside the container
  char type = 'c';   // 'c', 'u', 'b' or 'p'
  int64_t major = 0, minor = 0;
  std::optional<uint32_t> fileMode;
  std::optional<uint32_t> uid, gid;
};

struct DeviceRule {  // linux.resources.devices[]: the devices cgroup
  bool allow = false;
  std::string type = "a";               // "a", "c" or "b"
  std::optional<int64_t> major, minor;  // absent: any ("*")
  std::string access = "rwm";
};

struct Resources {
  std::optional<int64_t> memoryLimit, memoryReservation, memorySwap;
  std::optional<uint64_t> memorySwappiness;
  std::optional<uint64_t> cpuShares, cpuPeriod;
  std::optional<int64_t> cpuQuota;
  std::string cpusetCpus, cpusetMems;
  std::optional<int64_t> pidsLimit;
  std::vector<DeviceRule> devices;
  std::map<std::string, std::string> unified;  // cgroup v2 files, written as given
};

struct SeccompArg {
  uint32_t index = 0;
  uint64_t value = 0, valueTwo = 0;
  std::string op;  // SCMP_CMP_NE, SCMP_CMP_LT, ... SCMP_CMP_MASKED_EQ
};

struct SeccompRule {
  std::vector<std::string> names;
  std::string action;  // SCMP_ACT_*
  std::optional<uint32_t> errnoRet;
  std::vector<SeccompArg> args;
};

struct Seccomp {
  std::string defaultAction;
  std::optional<uint32_t> defaultErrnoRet;
  std::vector<std::string> architectures;  // SCMP_ARCH_*
  std::vector<std::string> flags;          // SECCOMP_FILTER_FLAG_*
  std::vector<SeccompRule> syscalls;
};

struct LinuxSpec {
  std::vector<Namespace> namespaces;
  std::vector<Device> devices;
  std::string cgroupsPath;
  std::optional<Resources> resources;
  std::string rootfsPropagation;  // "", "private", "rprivate", "slave", "rslave", ...
  std::vector<std::string> maskedPaths, readonlyPaths;
  std::map<std::string, std::string> sysctl;
  std::optional<Seccomp> seccomp;

  bool hasNamespace(std::string_view type) const;
  const Namespace* findNamespace(std::string_view type) const;
};

struct RuntimeSpec {
  ProcessSpec process;
  std::string rootPath = "rootfs";  // root.path: absolute, or relative to the bundle
  bool rootReadonly = false;
  std::string hostname;
  std::vector<Mount> mounts;
  std::optional<LinuxSpec> linux;  // absent: no namespaces, no cgroup, nothing confined
                                   // (engaged whenever "linux" is present, even if empty)
  std::map<std::string, std::string> annotations;
};

// Parses config.json text. InvalidArgument naming the offending field (e.g.
// "linux.namespaces[2].type: unknown namespace type \"foo\""): not JSON, no "process", no
// or empty "process.args", a field of the wrong type, a relative cwd or mount
// destination, an unknown namespace type, capability, rlimit, seccomp action, operator,
// architecture or flag, a uid or gid of 2^32-1 (it means "unchanged" to setresuid).
// Also: a number that is not an integer or out of its field's range, a namespace type or
// rlimit listed twice, an rlimit's soft above its hard, an oomScoreAdj outside
// -1000..1000, a device type other than c/b/u/p (a/c/b in resources.devices), a device
// access other than r/w/m, a seccomp arg index above 5, an empty seccomp names list, an
// unknown rootfsPropagation, and a missing field the spec requires (mounts[].destination,
// namespaces[].type, devices[].path/type, rlimits[].type/soft/hard, resources.devices[].allow,
// seccomp.defaultAction, syscalls[].names/action, args[].index/value/op).
// A JSON null counts as absent, as in Go's encoding/json; fields these structs do not
// hold (hooks, apparmorProfile, uidMappings, blockIO, ...) are ignored.
Expected<RuntimeSpec> parseRuntimeSpec(std::string_view json);
// Reads and parses <bundle>/config.json; errors carry the file's path.
Expected<RuntimeSpec> readRuntimeSpec(const std::filesystem::path& bundle);

// A runtime-spec Process object alone (what ExecProcessRequest.spec holds), with the
// checks parseRuntimeSpec makes on "process"; fields are named "process.<field>".
Expected<ProcessSpec> parseProcessSpec(std::string_view json);
// A runtime-spec LinuxResources object alone (what UpdateTaskRequest.resources holds);
// fields are named "linux.resources.<field>".
Expected<Resources> parseLinuxResources(std::string_view json);

// The value of KEY in a "KEY=VALUE" list, the last one winning as in execve's environ
// lookups; empty when absent.
std::string envValue(const std::vector<std::string>& env, std::string_view key);

// Capability number for a name ("CAP_SYS_ADMIN" -> 21); nullopt when unknown.
std::optional<int> capabilityNumber(std::string_view name);

}  // namespace runwasi::oci
