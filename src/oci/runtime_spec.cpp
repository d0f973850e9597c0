#include "oci/runtime_spec.h"

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <limits>
#include <set>
#include <span>
#include <type_traits>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/file.h"

namespace runwasi::oci {
namespace {

using nlohmann::json;

// ---- Tables of the names the spec may use --------------------------------------------

// Indexed by capability number, as in <linux/capability.h>.
// clang-format off
constexpr std::array<std::string_view, 41> kCapabilities = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",                     // 0
    "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",                                     // 4
    "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",        // 8
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",                          // 12
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",                    // 16
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",                         // 20
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",                    // 24
    "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",                       // 28
    "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",                      // 32
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",                          // 36
    "CAP_CHECKPOINT_RESTORE",                                                                 // 40
};
// clang-format on

struct RlimitName {
  std::string_view name;
  int resource;
};
constexpr std::array<RlimitName, 16> kRlimits = {{
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
}};

constexpr std::array<std::string_view, 8> kNamespaceTypes = {"pid", "network", "mount", "ipc",
                                                             "uts", "cgroup",  "user",  "time"};

constexpr std::array<std::string_view, 9> kRootfsPropagations = {
    "", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"};

constexpr std::array<std::string_view, 9> kSeccompActions = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY"};

constexpr std::array<std::string_view, 7> kSeccompOperators = {
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",       "SCMP_CMP_EQ",
    "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"};

constexpr std::array<std::string_view, 17> kSeccompArchitectures = {
    "SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",   "SCMP_ARCH_X32",         "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",  "SCMP_ARCH_S390",        "SCMP_ARCH_S390X",
    "SCMP_ARCH_RISCV64"};

constexpr std::array<std::string_view, 4> kSeccompFlags = {
    "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};

// The highest syscall argument index seccomp can compare (a syscall has six).
constexpr uint32_t kMaxSeccompArgIndex = 5;

// ---- Reading JSON values, every error naming the field's path -------------------------

tl::unexpected<Error> invalid(std::string message) {
  return makeError(ErrorCode::kInvalidArgument, std::move(message));
}

std::string fieldPath(std::string_view where, std::string_view key) {
  return where.empty() ? std::string(key) : fmt::format("{}.{}", where, key);
}

std::string itemPath(std::string_view where, size_t index) {
  return fmt::format("{}[{}]", where, index);
}

template <typename T>
inline constexpr bool kIsVector = false;
template <typename T>
inline constexpr bool kIsVector<std::vector<T>> = true;

template <typename T>
inline constexpr bool kIsOptional = false;
template <typename T>
inline constexpr bool kIsOptional<std::optional<T>> = true;

// An integer of type T: a JSON integer (not 1.0) within T's range.
template <typename T>
Expected<T> toInteger(const json& v, const std::string& path) {
  auto outOfRange = [&](const auto& value) {
    return invalid(fmt::format("{}: {} is out of range ({}..{})", path, value,
                               std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
  };
  if (v.is_number_unsigned()) {
    auto value = v.get<uint64_t>();
    if (!std::in_range<T>(value)) return outOfRange(value);
    return static_cast<T>(value);
  }
  if (v.is_number_integer()) {
    auto value = v.get<int64_t>();
    if (!std::in_range<T>(value)) return outOfRange(value);
    return static_cast<T>(value);
  }
  return invalid(fmt::format("{} must be an integer", path));
}

// The value v (at path) as a T: bool, an integer, a string, a list or a string map.
template <typename T>
Expected<T> convert(const json& v, const std::string& path) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) return invalid(fmt::format("{} must be a boolean", path));
    return v.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    return toInteger<T>(v, path);
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) return invalid(fmt::format("{} must be a string", path));
    return v.get<std::string>();
  } else if constexpr (kIsVector<T>) {
    if (!v.is_array()) return invalid(fmt::format("{} must be an array", path));
    T out;
    for (size_t i = 0; i < v.size(); ++i) {
      TRY(auto item, convert<typename T::value_type>(v[i], itemPath(path, i)));
      out.push_back(std::move(item));
    }
    return out;
  } else {
    static_assert(std::is_same_v<T, std::map<std::string, std::string>>);
    if (!v.is_object()) return invalid(fmt::format("{} must be an object", path));
    T out;
    for (const auto& [key, value] : v.items()) {
      if (!value.is_string()) return invalid(fmt::format("{}[\"{}\"] must be a string", path, key));
      out[key] = value.template get<std::string>();
    }
    return out;
  }
}

// A JSON object being read and the path its fields are named by in errors.
class Object {
 public:
  // v (at path) as an Object; an error when it is not a JSON object.
  static Expected<Object> of(const json& v, std::string path) {
    if (!v.is_object()) return invalid(fmt::format("{} must be an object", path));
    return Object(v, std::move(path));
  }

  const std::string& path() const { return path_; }
  std::string at(std::string_view key) const { return fieldPath(path_, key); }

  // The member named key; nullptr when absent or null (null means absent, as in Go).
  const json* find(std::string_view key) const {
    auto it = json_.find(key);
    return it == json_.end() || it->is_null() ? nullptr : &*it;
  }

  // Sets out from an optional field, leaving it as it is when the field is absent.
  template <typename T>
  Expected<void> read(std::string_view key, T& out) const {
    const json* v = find(key);
    if (v == nullptr) return {};
    if constexpr (kIsOptional<T>) {
      TRY(out, convert<typename T::value_type>(*v, at(key)));
    } else {
      TRY(out, convert<T>(*v, at(key)));
    }
    return {};
  }

  // Sets out from a field the spec requires.
  template <typename T>
  Expected<void> require(std::string_view key, T& out) const {
    if (find(key) == nullptr) return invalid(fmt::format("{} is missing", at(key)));
    return read(key, out);
  }

  // The object-valued field key; nullopt when absent.
  Expected<std::optional<Object>> object(std::string_view key) const {
    const json* v = find(key);
    if (v == nullptr) return std::optional<Object>();
    TRY(Object o, of(*v, at(key)));
    return std::optional<Object>(std::move(o));
  }

  // Fills out from an optional array of objects, each parsed by parseItem(Object).
  template <typename T, typename ParseItem>
  Expected<void> readList(std::string_view key, std::vector<T>& out, ParseItem parseItem) const {
    const json* v = find(key);
    if (v == nullptr) return {};
    if (!v->is_array()) return invalid(fmt::format("{} must be an array", at(key)));
    for (size_t i = 0; i < v->size(); ++i) {
      TRY(Object item, of((*v)[i], itemPath(at(key), i)));
      TRY(T parsed, parseItem(item));
      out.push_back(std::move(parsed));
    }
    return {};
  }

 private:
  Object(const json& v, std::string path) : json_(v), path_(std::move(path)) {}

  const json& json_;
  std::string path_;
};

// ---- Checks --------------------------------------------------------------------------

bool isKnown(std::string_view name, std::span<const std::string_view> known) {
  return std::find(known.begin(), known.end(), name) != known.end();
}

// "path: unknown <what> "name"" unless name is in known.
Expected<void> checkKnown(std::string_view name, std::span<const std::string_view> known,
                          const std::string& path, std::string_view what) {
  if (isKnown(name, known)) return {};
  return invalid(fmt::format("{}: unknown {} \"{}\"", path, what, name));
}

Expected<void> checkAllKnown(const std::vector<std::string>& names,
                             std::span<const std::string_view> known, const std::string& path,
                             std::string_view what) {
  for (size_t i = 0; i < names.size(); ++i) {
    TRY_VOID(checkKnown(names[i], known, itemPath(path, i), what));
  }
  return {};
}

Expected<void> checkAbsolute(const std::string& value, const std::string& path) {
  if (!value.empty() && value[0] == '/') return {};
  return invalid(fmt::format("{} must be an absolute path, not \"{}\"", path, value));
}

// 2^32-1 is (uid_t)-1: "leave unchanged" to setresuid/setresgid and chown.
Expected<void> checkId(uint32_t id, const std::string& path, std::string_view what) {
  if (id != UINT32_MAX) return {};
  return invalid(fmt::format("{}: {} is not a valid {}", path, id, what));
}

// ---- process -------------------------------------------------------------------------

Expected<User> parseUser(const Object& o) {
  User user;
  TRY_VOID(o.read("uid", user.uid));
  TRY_VOID(checkId(user.uid, o.at("uid"), "uid"));
  TRY_VOID(o.read("gid", user.gid));
  TRY_VOID(checkId(user.gid, o.at("gid"), "gid"));
  TRY_VOID(o.read("umask", user.umask));
  TRY_VOID(o.read("additionalGids", user.additionalGids));
  for (size_t i = 0; i < user.additionalGids.size(); ++i) {
    TRY_VOID(checkId(user.additionalGids[i], itemPath(o.at("additionalGids"), i), "gid"));
  }
  return user;
}

Expected<void> readCapabilitySet(const Object& o, std::string_view key,
                                 std::vector<std::string>& out) {
  TRY_VOID(o.read(key, out));
  for (size_t i = 0; i < out.size(); ++i) {
    if (!capabilityNumber(out[i]))
      return invalid(fmt::format("{}: unknown capability \"{}\"", itemPath(o.at(key), i), out[i]));
  }
  return {};
}

Expected<Capabilities> parseCapabilities(const Object& o) {
  Capabilities caps;
  TRY_VOID(readCapabilitySet(o, "bounding", caps.bounding));
  TRY_VOID(readCapabilitySet(o, "effective", caps.effective));
  TRY_VOID(readCapabilitySet(o, "inheritable", caps.inheritable));
  TRY_VOID(readCapabilitySet(o, "permitted", caps.permitted));
  TRY_VOID(readCapabilitySet(o, "ambient", caps.ambient));
  return caps;
}

Expected<Rlimit> parseRlimit(const Object& o) {
  Rlimit rlimit;
  TRY_VOID(o.require("type", rlimit.type));
  auto known = std::find_if(kRlimits.begin(), kRlimits.end(),
                            [&](const RlimitName& r) { return r.name == rlimit.type; });
  if (known == kRlimits.end())
    return invalid(fmt::format("{}: unknown rlimit \"{}\"", o.at("type"), rlimit.type));
  rlimit.resource = known->resource;
  TRY_VOID(o.require("soft", rlimit.soft));
  TRY_VOID(o.require("hard", rlimit.hard));
  if (rlimit.soft > rlimit.hard)  // setrlimit would fail with EINVAL
    return invalid(fmt::format("{}: the soft limit {} is above the hard limit {}", o.path(),
                               rlimit.soft, rlimit.hard));
  return rlimit;
}

Expected<void> readRlimits(const Object& p, std::vector<Rlimit>& out) {
  TRY_VOID(p.readList("rlimits", out, parseRlimit));
  std::set<int> seen;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!seen.insert(out[i].resource).second)
      return invalid(fmt::format("{}: rlimit \"{}\" listed twice",
                                 fieldPath(itemPath(p.at("rlimits"), i), "type"), out[i].type));
  }
  return {};
}

Expected<ProcessSpec> parseProcess(const Object& p) {
  ProcessSpec process;
  TRY_VOID(p.read("terminal", process.terminal));
  // A null args is read as an empty list, which the check below names.
  TRY_VOID(p.read("args", process.args));
  if (process.args.empty() || process.args[0].empty())
    return invalid("process.args is empty: nothing to run");
  TRY_VOID(p.read("env", process.env));
  TRY_VOID(p.read("cwd", process.cwd));
  TRY_VOID(checkAbsolute(process.cwd, p.at("cwd")));
  TRY(auto user, p.object("user"));
  if (user) {
    TRY(process.user, parseUser(*user));
  }
  TRY(auto capabilities, p.object("capabilities"));
  if (capabilities) {
    TRY(process.capabilities, parseCapabilities(*capabilities));
  }
  TRY_VOID(readRlimits(p, process.rlimits));
  TRY_VOID(p.read("noNewPrivileges", process.noNewPrivileges));
  TRY_VOID(p.read("oomScoreAdj", process.oomScoreAdj));
  if (process.oomScoreAdj && (*process.oomScoreAdj < -1000 || *process.oomScoreAdj > 1000))
    return invalid(fmt::format("{}: {} is out of range (-1000..1000)", p.at("oomScoreAdj"),
                               *process.oomScoreAdj));
  return process;
}

// ---- mounts --------------------------------------------------------------------------

Expected<Mount> parseMount(const Object& o) {
  Mount mount;
  TRY_VOID(o.require("destination", mount.destination));
  TRY_VOID(checkAbsolute(mount.destination, o.at("destination")));
  TRY_VOID(o.read("type", mount.type));
  TRY_VOID(o.read("source", mount.source));
  TRY_VOID(o.read("options", mount.options));
  return mount;
}

// ---- linux ---------------------------------------------------------------------------

Expected<Namespace> parseNamespace(const Object& o) {
  Namespace ns;
  TRY_VOID(o.require("type", ns.type));
  TRY_VOID(checkKnown(ns.type, kNamespaceTypes, o.at("type"), "namespace type"));
  TRY_VOID(o.read("path", ns.path));
  return ns;
}

Expected<void> readNamespaces(const Object& o, std::vector<Namespace>& out) {
  TRY_VOID(o.readList("namespaces", out, parseNamespace));
  std::set<std::string_view> seen;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!seen.insert(out[i].type).second)
      return invalid(fmt::format("{}: namespace type \"{}\" listed twice",
                                 fieldPath(itemPath(o.at("namespaces"), i), "type"), out[i].type));
  }
  return {};
}

Expected<Device> parseDevice(const Object& o) {
  Device device;
  TRY_VOID(o.require("path", device.path));
  TRY_VOID(checkAbsolute(device.path, o.at("path")));
  std::string type;
  TRY_VOID(o.require("type", type));
  if (type.size() != 1 || std::string_view("cbup").find(type[0]) == std::string_view::npos)
    return invalid(fmt::format("{}: unknown device type \"{}\"", o.at("type"), type));
  device.type = type[0];
  TRY_VOID(o.read("major", device.major));
  TRY_VOID(o.read("minor", device.minor));
  TRY_VOID(o.read("fileMode", device.fileMode));
  TRY_VOID(o.read("uid", device.uid));
  if (device.uid) {
    TRY_VOID(checkId(*device.uid, o.at("uid"), "uid"));
  }
  TRY_VOID(o.read("gid", device.gid));
  if (device.gid) {
    TRY_VOID(checkId(*device.gid, o.at("gid"), "gid"));
  }
  return device;
}

Expected<DeviceRule> parseDeviceRule(const Object& o) {
  DeviceRule rule;
  TRY_VOID(o.require("allow", rule.allow));
  TRY_VOID(o.read("type", rule.type));
  if (rule.type != "a" && rule.type != "c" && rule.type != "b")
    return invalid(fmt::format("{}: unknown device type \"{}\"", o.at("type"), rule.type));
  TRY_VOID(o.read("major", rule.major));
  TRY_VOID(o.read("minor", rule.minor));
  TRY_VOID(o.read("access", rule.access));
  if (rule.access.empty() || rule.access.find_first_not_of("rwm") != std::string::npos)
    return invalid(
        fmt::format("{}: \"{}\" is not a combination of r, w and m", o.at("access"), rule.access));
  return rule;
}

// blockIO, hugepageLimits, network, rdma and the other controllers are not read.
Expected<Resources> parseResources(const Object& o) {
  Resources r;
  TRY(auto memory, o.object("memory"));
  if (memory) {
    TRY_VOID(memory->read("limit", r.memoryLimit));
    TRY_VOID(memory->read("reservation", r.memoryReservation));
    TRY_VOID(memory->read("swap", r.memorySwap));
    TRY_VOID(memory->read("swappiness", r.memorySwappiness));
  }
  TRY(auto cpu, o.object("cpu"));
  if (cpu) {
    TRY_VOID(cpu->read("shares", r.cpuShares));
    TRY_VOID(cpu->read("quota", r.cpuQuota));
    TRY_VOID(cpu->read("period", r.cpuPeriod));
    TRY_VOID(cpu->read("cpus", r.cpusetCpus));
    TRY_VOID(cpu->read("mems", r.cpusetMems));
  }
  TRY(auto pids, o.object("pids"));
  if (pids) {
    TRY_VOID(pids->read("limit", r.pidsLimit));
  }
  TRY_VOID(o.readList("devices", r.devices, parseDeviceRule));
  TRY_VOID(o.read("unified", r.unified));
  return r;
}

Expected<SeccompArg> parseSeccompArg(const Object& o) {
  SeccompArg arg;
  TRY_VOID(o.require("index", arg.index));
  if (arg.index > kMaxSeccompArgIndex)
    return invalid(fmt::format("{}: {} is out of range (0..{})", o.at("index"), arg.index,
                               kMaxSeccompArgIndex));
  TRY_VOID(o.require("value", arg.value));
  TRY_VOID(o.read("valueTwo", arg.valueTwo));
  TRY_VOID(o.require("op", arg.op));
  TRY_VOID(checkKnown(arg.op, kSeccompOperators, o.at("op"), "operator"));
  return arg;
}

Expected<SeccompRule> parseSeccompRule(const Object& o) {
  SeccompRule rule;
  TRY_VOID(o.require("names", rule.names));
  if (rule.names.empty()) return invalid(fmt::format("{} is empty", o.at("names")));
  TRY_VOID(o.require("action", rule.action));
  TRY_VOID(checkKnown(rule.action, kSeccompActions, o.at("action"), "action"));
  TRY_VOID(o.read("errnoRet", rule.errnoRet));
  TRY_VOID(o.readList("args", rule.args, parseSeccompArg));
  return rule;
}

Expected<Seccomp> parseSeccomp(const Object& o) {
  Seccomp seccomp;
  TRY_VOID(o.require("defaultAction", seccomp.defaultAction));
  TRY_VOID(checkKnown(seccomp.defaultAction, kSeccompActions, o.at("defaultAction"), "action"));
  TRY_VOID(o.read("defaultErrnoRet", seccomp.defaultErrnoRet));
  TRY_VOID(o.read("architectures", seccomp.architectures));
  TRY_VOID(checkAllKnown(seccomp.architectures, kSeccompArchitectures, o.at("architectures"),
                         "architecture"));
  TRY_VOID(o.read("flags", seccomp.flags));
  TRY_VOID(checkAllKnown(seccomp.flags, kSeccompFlags, o.at("flags"), "flag"));
  TRY_VOID(o.readList("syscalls", seccomp.syscalls, parseSeccompRule));
  return seccomp;
}

// apparmorProfile, selinuxLabel, uidMappings, intelRdt, personality, ... are not read.
Expected<LinuxSpec> parseLinux(const Object& o) {
  LinuxSpec spec;
  TRY_VOID(readNamespaces(o, spec.namespaces));
  TRY_VOID(o.readList("devices", spec.devices, parseDevice));
  TRY_VOID(o.read("cgroupsPath", spec.cgroupsPath));
  TRY(auto resources, o.object("resources"));
  if (resources) {
    TRY(spec.resources, parseResources(*resources));
  }
  TRY_VOID(o.read("rootfsPropagation", spec.rootfsPropagation));
  TRY_VOID(checkKnown(spec.rootfsPropagation, kRootfsPropagations, o.at("rootfsPropagation"),
                      "propagation"));
  TRY_VOID(o.read("maskedPaths", spec.maskedPaths));
  TRY_VOID(o.read("readonlyPaths", spec.readonlyPaths));
  TRY_VOID(o.read("sysctl", spec.sysctl));
  TRY(auto seccomp, o.object("seccomp"));
  if (seccomp) {
    TRY(spec.seccomp, parseSeccomp(*seccomp));
  }
  return spec;
}

}  // namespace

Expected<RuntimeSpec> parseRuntimeSpec(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return invalid("not valid JSON");
  if (!doc.is_object()) return invalid("the spec must be a JSON object");
  TRY(Object top, Object::of(doc, ""));

  RuntimeSpec spec;
  const json* process = top.find("process");
  if (process == nullptr || !process->is_object())
    return invalid("process is missing: nothing to run");
  TRY(Object p, Object::of(*process, "process"));
  if (!process->contains("args")) return invalid("process.args is missing: nothing to run");
  TRY(spec.process, parseProcess(p));

  TRY(auto root, top.object("root"));
  if (root) {
    TRY_VOID(root->read("path", spec.rootPath));
    TRY_VOID(root->read("readonly", spec.rootReadonly));
  }
  TRY_VOID(top.read("hostname", spec.hostname));
  TRY_VOID(top.readList("mounts", spec.mounts, parseMount));
  TRY(auto linuxSection, top.object("linux"));
  if (linuxSection) {
    TRY(spec.linux, parseLinux(*linuxSection));
  }
  TRY_VOID(top.read("annotations", spec.annotations));
  return spec;
}

Expected<RuntimeSpec> readRuntimeSpec(const std::filesystem::path& bundle) {
  std::filesystem::path path = bundle / "config.json";
  TRY(Bytes bytes, readFile(path));
  auto spec =
      parseRuntimeSpec(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  if (!spec) return tl::unexpected(std::move(spec).error().context(path.string()));
  return spec;
}

Expected<ProcessSpec> parseProcessSpec(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return invalid("process: not valid JSON");
  TRY(Object p, Object::of(doc, "process"));
  if (!doc.contains("args")) return invalid("process.args is missing: nothing to run");
  return parseProcess(p);
}

Expected<Resources> parseLinuxResources(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return invalid("linux.resources: not valid JSON");
  TRY(Object o, Object::of(doc, "linux.resources"));
  return parseResources(o);
}

std::string envValue(const std::vector<std::string>& env, std::string_view key) {
  std::string value;
  for (const std::string& entry : env)
    if (entry.size() > key.size() && entry.compare(0, key.size(), key) == 0 &&
        entry[key.size()] == '=')
      value = entry.substr(key.size() + 1);
  return value;
}

std::optional<int> capabilityNumber(std::string_view name) {
  auto it = std::find(kCapabilities.begin(), kCapabilities.end(), name);
  if (it == kCapabilities.end()) return std::nullopt;
  return static_cast<int>(it - kCapabilities.begin());
}

bool LinuxSpec::hasNamespace(std::string_view type) const {
  return findNamespace(type) != nullptr;
}

const Namespace* LinuxSpec::findNamespace(std::string_view type) const {
  for (const Namespace& ns : namespaces)
    if (ns.type == type) return &ns;
  return nullptr;
}

}  // namespace runwasi::oci
