// parseRuntimeSpec / readRuntimeSpec / envValue: the parts of a bundle's config.json the
// shims act on, and an InvalidArgument naming the field for every malformed one.
#include "oci/runtime_spec.h"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <linux/capability.h>
#include <sys/resource.h>

#include <fstream>
#include <string>

#include "../support/scratch_dir.h"

namespace runwasi::oci {
namespace {

namespace fs = std::filesystem;

// Expects `json` to be rejected as InvalidArgument with a message containing `needle`.
void expectInvalid(std::string_view json, std::string_view needle) {
  auto spec = parseRuntimeSpec(json);
  ASSERT_FALSE(spec) << "accepted: " << json;
  EXPECT_EQ(spec.error().code, ErrorCode::kInvalidArgument) << spec.error().message;
  EXPECT_NE(spec.error().message.find(needle), std::string::npos)
      << "message \"" << spec.error().message << "\" does not contain \"" << needle << "\"";
}

TEST(RuntimeSpec, ParsesAFullSpec) {
  auto spec = parseRuntimeSpec(R"({
    "ociVersion": "1.0.2",
    "process": {
      "terminal": false,
      "user": {"uid": 0, "gid": 0},
      "args": ["/app/main.wasm#run", "--flag", "x y"],
      "env": ["PATH=/usr/bin:/bin", "A=1", "EMPTY="],
      "cwd": "/work"
    },
    "root": {"path": "/var/lib/rootfs", "readonly": true},
    "hostname": "box",
    "annotations": {"io.kubernetes.cri.container-type": "container", "empty": ""}
  })");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_FALSE(spec->process.terminal);
  EXPECT_EQ(spec->process.args, (std::vector<std::string>{"/app/main.wasm#run", "--flag", "x y"}));
  EXPECT_EQ(spec->process.env, (std::vector<std::string>{"PATH=/usr/bin:/bin", "A=1", "EMPTY="}));
  EXPECT_EQ(spec->process.cwd, "/work");
  EXPECT_EQ(spec->rootPath, "/var/lib/rootfs");
  EXPECT_TRUE(spec->rootReadonly);
  EXPECT_EQ(spec->hostname, "box");
  EXPECT_FALSE(spec->linux);
  EXPECT_EQ(spec->annotations,
            (std::map<std::string, std::string>{{"io.kubernetes.cri.container-type", "container"},
                                                {"empty", ""}}));
}

TEST(RuntimeSpec, DefaultsForOptionalFields) {
  auto spec = parseRuntimeSpec(R"({"process": {"args": ["hello.wasm"]}})");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->process.args, std::vector<std::string>{"hello.wasm"});
  EXPECT_TRUE(spec->process.env.empty());
  EXPECT_EQ(spec->process.cwd, "/");
  EXPECT_FALSE(spec->process.terminal);
  EXPECT_EQ(spec->rootPath, "rootfs");
  EXPECT_FALSE(spec->rootReadonly);
  EXPECT_TRUE(spec->annotations.empty());

  auto terminal = parseRuntimeSpec(R"({"process": {"terminal": true, "args": ["a"]}})");
  ASSERT_TRUE(terminal) << terminal.error().message;
  EXPECT_TRUE(terminal->process.terminal);
}

TEST(RuntimeSpec, NotJson) {
  expectInvalid("{\"process\": ", "not valid JSON");
  expectInvalid("", "not valid JSON");
  expectInvalid("process: {args: [a]}", "not valid JSON");
}

TEST(RuntimeSpec, NotAnObject) {
  expectInvalid("[1, 2]", "JSON object");
  expectInvalid("\"process\"", "JSON object");
  expectInvalid("null", "JSON object");
}

TEST(RuntimeSpec, NoProcess) {
  expectInvalid("{}", "process");
  expectInvalid(R"({"root": {"path": "rootfs"}})", "process is missing");
  expectInvalid(R"({"process": ["args"]})", "process is missing");
}

TEST(RuntimeSpec, NoArgs) {
  expectInvalid(R"({"process": {"cwd": "/"}})", "process.args is missing");
  expectInvalid(R"({"process": {"args": null}})", "process.args is empty");
}

TEST(RuntimeSpec, EmptyArgs) {
  expectInvalid(R"({"process": {"args": []}})", "process.args is empty");
  expectInvalid(R"({"process": {"args": ["", "x"]}})", "process.args is empty");
}

TEST(RuntimeSpec, ArgsNotStrings) {
  expectInvalid(R"({"process": {"args": ["a.wasm", 1]}})", "process.args");
  expectInvalid(R"({"process": {"args": [null]}})", "process.args");
  expectInvalid(R"({"process": {"args": "a.wasm"}})", "process.args must be an array");
}

TEST(RuntimeSpec, EnvNotAnArray) {
  expectInvalid(R"({"process": {"args": ["a"], "env": "A=1"}})", "process.env must be an array");
  expectInvalid(R"({"process": {"args": ["a"], "env": {"A": "1"}}})", "process.env");
  expectInvalid(R"({"process": {"args": ["a"], "env": ["A=1", 2]}})", "process.env");
}

TEST(RuntimeSpec, RelativeCwd) {
  expectInvalid(R"({"process": {"args": ["a"], "cwd": "work"}})", "process.cwd");
  expectInvalid(R"({"process": {"args": ["a"], "cwd": "work"}})", "\"work\"");
  expectInvalid(R"({"process": {"args": ["a"], "cwd": ""}})", "absolute");
  expectInvalid(R"({"process": {"args": ["a"], "cwd": 5}})", "process.cwd must be a string");
}

TEST(RuntimeSpec, TerminalNotABool) {
  expectInvalid(R"({"process": {"terminal": "true", "args": ["a"]}})",
                "process.terminal must be a boolean");
  expectInvalid(R"({"process": {"terminal": 1, "args": ["a"]}})", "process.terminal");
}

TEST(RuntimeSpec, RootFieldsOfTheWrongType) {
  expectInvalid(R"({"process": {"args": ["a"]}, "root": "rootfs"})", "root must be an object");
  expectInvalid(R"({"process": {"args": ["a"]}, "root": {"path": 1}})",
                "root.path must be a string");
  expectInvalid(R"({"process": {"args": ["a"]}, "root": {"readonly": "yes"}})",
                "root.readonly must be a boolean");
}

TEST(RuntimeSpec, AnnotationValueNotAString) {
  expectInvalid(R"({"process": {"args": ["a"]}, "annotations": {"ok": "x", "bad": 1}})",
                "annotations[\"bad\"] must be a string");
  expectInvalid(R"({"process": {"args": ["a"]}, "annotations": ["x"]})",
                "annotations must be an object");
}

// Expects `json` to be rejected as InvalidArgument with exactly `message`.
void expectError(const std::string& json, std::string_view message) {
  auto spec = parseRuntimeSpec(json);
  ASSERT_FALSE(spec) << "accepted: " << json;
  EXPECT_EQ(spec.error().code, ErrorCode::kInvalidArgument) << spec.error().message;
  EXPECT_EQ(spec.error().message, message) << "for " << json;
}

// A minimal valid spec with `process` added to its process object and `rest` to the top level.
std::string specWith(std::string_view process, std::string_view rest = "") {
  return fmt::format(R"({{"process": {{"args": ["a.wasm"]{}{}}}{}{}}})",
                     process.empty() ? "" : ", ", process, rest.empty() ? "" : ", ", rest);
}

// A minimal valid spec whose linux object holds `fields`.
std::string linuxWith(std::string_view fields) {
  return specWith("", fmt::format(R"("linux": {{{}}})", fields));
}

// What `ctr oci spec` (containerd 1.7) prints, with process.args added: ctr fills them in
// from the image.
constexpr std::string_view kContainerdDefaultSpec = R"({
  "ociVersion": "1.0.2-dev",
  "process": {
    "args": ["/hello.wasm"],
    "user": {"uid": 0, "gid": 0},
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                   "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                   "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"],
      "effective": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                    "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"],
      "permitted": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                    "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs"},
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}
  ],
  "linux": {
    "resources": {"devices": [{"allow": false, "access": "rwm"}]},
    "cgroupsPath": "/default",
    "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
                   {"type": "network"}],
    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                    "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
})";

TEST(RuntimeSpec, ParsesContainerdsDefaultSpec) {
  auto spec = parseRuntimeSpec(kContainerdDefaultSpec);
  ASSERT_TRUE(spec) << spec.error().message;
  ASSERT_TRUE(spec->process.capabilities);
  EXPECT_EQ(spec->process.capabilities->bounding.size(), 14u);
  EXPECT_EQ(spec->process.capabilities->effective, spec->process.capabilities->bounding);
  EXPECT_TRUE(spec->process.capabilities->inheritable.empty());
  EXPECT_TRUE(spec->process.capabilities->ambient.empty());
  ASSERT_EQ(spec->process.rlimits.size(), 1u);
  EXPECT_EQ(spec->process.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_TRUE(spec->process.noNewPrivileges);
  EXPECT_FALSE(spec->process.oomScoreAdj);
  ASSERT_EQ(spec->mounts.size(), 7u);
  EXPECT_EQ(spec->mounts[2].destination, "/dev/pts");
  EXPECT_EQ(spec->mounts[2].options.back(), "gid=5");
  ASSERT_TRUE(spec->linux);
  EXPECT_EQ(spec->linux->cgroupsPath, "/default");
  ASSERT_TRUE(spec->linux->resources);
  ASSERT_EQ(spec->linux->resources->devices.size(), 1u);
  const DeviceRule& denyAll = spec->linux->resources->devices[0];
  EXPECT_FALSE(denyAll.allow);
  EXPECT_EQ(denyAll.type, "a");
  EXPECT_FALSE(denyAll.major);
  EXPECT_FALSE(denyAll.minor);
  EXPECT_EQ(denyAll.access, "rwm");
  EXPECT_FALSE(spec->linux->resources->memoryLimit);
  for (const char* type : {"pid", "ipc", "uts", "mount", "network"})
    EXPECT_TRUE(spec->linux->hasNamespace(type)) << type;
  EXPECT_FALSE(spec->linux->hasNamespace("user"));
  EXPECT_FALSE(spec->linux->hasNamespace("cgroup"));
  EXPECT_EQ(spec->linux->maskedPaths.size(), 10u);
  EXPECT_EQ(spec->linux->readonlyPaths.back(), "/proc/sysrq-trigger");
  EXPECT_FALSE(spec->linux->seccomp);
}

// Every field the structs hold, and some they do not (which are ignored).
constexpr std::string_view kFullSpec = R"({
  "ociVersion": "1.1.0",
  "process": {
    "terminal": true,
    "user": {"uid": 1000, "gid": 1001, "umask": 18, "additionalGids": [5, 20, 4294967294]},
    "args": ["/app.wasm#main", "-v"],
    "env": ["PATH=/bin", "TERM=xterm"],
    "cwd": "/srv",
    "capabilities": {
      "bounding": ["CAP_NET_BIND_SERVICE", "CAP_KILL", "CAP_CHECKPOINT_RESTORE"],
      "effective": ["CAP_KILL"],
      "inheritable": [],
      "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "ambient": ["CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [
      {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096},
      {"type": "RLIMIT_CORE", "soft": 0, "hard": 18446744073709551615},
      {"type": "RLIMIT_RTTIME", "soft": 10, "hard": 20}
    ],
    "noNewPrivileges": true,
    "oomScoreAdj": -999,
    "apparmorProfile": "cri-containerd.apparmor.d",
    "selinuxLabel": "system_u:system_r:container_t:s0"
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "wasm-box",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["ro", "nosuid", "noexec", "nodev"]},
    {"destination": "/data", "source": "/var/data", "options": ["rbind", "rw"]}
  ],
  "hooks": {"prestart": [{"path": "/bin/true"}]},
  "linux": {
    "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
    "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"},
    "resources": {
      "devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"},
        {"allow": true, "type": "c", "major": 136, "access": "rwm"}
      ],
      "memory": {"limit": 536870912, "reservation": 268435456, "swap": -1, "swappiness": 0,
                 "kernel": 0, "disableOOMKiller": false},
      "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0",
              "realtimeRuntime": 0},
      "pids": {"limit": 64},
      "blockIO": {"weight": 10},
      "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
      "network": {"classID": 1},
      "rdma": {},
      "unified": {"memory.high": "400000000", "io.weight": "default 100"}
    },
    "cgroupsPath": "/k8s.io/abc",
    "namespaces": [{"type": "pid"}, {"type": "network", "path": "/var/run/netns/cni-1"},
                   {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
    "devices": [
      {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438,
       "uid": 0, "gid": 0},
      {"path": "/dev/fifo", "type": "p"}
    ],
    "rootfsPropagation": "rslave",
    "maskedPaths": ["/proc/kcore"],
    "readonlyPaths": ["/proc/sys", "/proc/bus"],
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 1,
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      "flags": ["SECCOMP_FILTER_FLAG_LOG"],
      "syscalls": [
        {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 5, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
      ]
    },
    "intelRdt": {"closID": "guaranteed_group"},
    "personality": {"domain": "LINUX"}
  },
  "annotations": {"io.kubernetes.cri.container-type": "container"}
})";

TEST(RuntimeSpec, ParsesEveryField) {
  auto spec = parseRuntimeSpec(kFullSpec);
  ASSERT_TRUE(spec) << spec.error().message;

  const ProcessSpec& p = spec->process;
  EXPECT_TRUE(p.terminal);
  EXPECT_EQ(p.user.uid, 1000u);
  EXPECT_EQ(p.user.gid, 1001u);
  EXPECT_EQ(p.user.umask, 18u);
  EXPECT_EQ(p.user.additionalGids, (std::vector<uint32_t>{5, 20, 4294967294u}));
  EXPECT_EQ(p.cwd, "/srv");
  ASSERT_TRUE(p.capabilities);
  EXPECT_EQ(p.capabilities->bounding, (std::vector<std::string>{"CAP_NET_BIND_SERVICE", "CAP_KILL",
                                                                "CAP_CHECKPOINT_RESTORE"}));
  EXPECT_EQ(p.capabilities->effective, std::vector<std::string>{"CAP_KILL"});
  EXPECT_TRUE(p.capabilities->inheritable.empty());
  EXPECT_EQ(p.capabilities->permitted.size(), 2u);
  EXPECT_EQ(p.capabilities->ambient, std::vector<std::string>{"CAP_NET_BIND_SERVICE"});
  ASSERT_EQ(p.rlimits.size(), 3u);
  EXPECT_EQ(p.rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(p.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(p.rlimits[0].soft, 1024u);
  EXPECT_EQ(p.rlimits[0].hard, 4096u);
  EXPECT_EQ(p.rlimits[1].resource, RLIMIT_CORE);
  EXPECT_EQ(p.rlimits[1].hard, UINT64_MAX);  // RLIM_INFINITY
  EXPECT_EQ(p.rlimits[2].resource, RLIMIT_RTTIME);
  EXPECT_TRUE(p.noNewPrivileges);
  EXPECT_EQ(p.oomScoreAdj, -999);

  EXPECT_EQ(spec->hostname, "wasm-box");
  ASSERT_EQ(spec->mounts.size(), 3u);
  EXPECT_EQ(spec->mounts[0].destination, "/proc");
  EXPECT_EQ(spec->mounts[0].type, "proc");
  EXPECT_TRUE(spec->mounts[0].options.empty());
  EXPECT_EQ(spec->mounts[1].type, "cgroup");
  EXPECT_EQ(spec->mounts[1].options, (std::vector<std::string>{"ro", "nosuid", "noexec", "nodev"}));
  EXPECT_EQ(spec->mounts[2].type, "");
  EXPECT_EQ(spec->mounts[2].source, "/var/data");

  ASSERT_TRUE(spec->linux);
  const LinuxSpec& lx = *spec->linux;
  ASSERT_EQ(lx.namespaces.size(), 5u);
  ASSERT_NE(lx.findNamespace("network"), nullptr);
  EXPECT_EQ(lx.findNamespace("network")->path, "/var/run/netns/cni-1");
  EXPECT_EQ(lx.findNamespace("pid")->path, "");
  EXPECT_EQ(lx.findNamespace("user"), nullptr);
  ASSERT_EQ(lx.devices.size(), 2u);
  EXPECT_EQ(lx.devices[0].path, "/dev/fuse");
  EXPECT_EQ(lx.devices[0].type, 'c');
  EXPECT_EQ(lx.devices[0].major, 10);
  EXPECT_EQ(lx.devices[0].minor, 229);
  EXPECT_EQ(lx.devices[0].fileMode, 0666u);
  EXPECT_EQ(lx.devices[0].uid, 0u);
  EXPECT_EQ(lx.devices[1].type, 'p');
  EXPECT_FALSE(lx.devices[1].fileMode);
  EXPECT_FALSE(lx.devices[1].uid);
  EXPECT_EQ(lx.cgroupsPath, "/k8s.io/abc");
  EXPECT_EQ(lx.rootfsPropagation, "rslave");
  EXPECT_EQ(lx.maskedPaths, std::vector<std::string>{"/proc/kcore"});
  EXPECT_EQ(lx.readonlyPaths, (std::vector<std::string>{"/proc/sys", "/proc/bus"}));
  EXPECT_EQ(lx.sysctl, (std::map<std::string, std::string>{{"net.ipv4.ip_forward", "1"},
                                                           {"kernel.shm_rmid_forced", "1"}}));

  ASSERT_TRUE(lx.resources);
  const Resources& r = *lx.resources;
  EXPECT_EQ(r.memoryLimit, 536870912);
  EXPECT_EQ(r.memoryReservation, 268435456);
  EXPECT_EQ(r.memorySwap, -1);
  EXPECT_EQ(r.memorySwappiness, 0u);
  EXPECT_EQ(r.cpuShares, 512u);
  EXPECT_EQ(r.cpuQuota, 50000);
  EXPECT_EQ(r.cpuPeriod, 100000u);
  EXPECT_EQ(r.cpusetCpus, "0-1");
  EXPECT_EQ(r.cpusetMems, "0");
  EXPECT_EQ(r.pidsLimit, 64);
  ASSERT_EQ(r.devices.size(), 3u);
  EXPECT_TRUE(r.devices[1].allow);
  EXPECT_EQ(r.devices[1].type, "c");
  EXPECT_EQ(r.devices[1].major, 1);
  EXPECT_EQ(r.devices[1].minor, 3);
  EXPECT_EQ(r.devices[1].access, "rw");
  EXPECT_EQ(r.devices[2].major, 136);
  EXPECT_FALSE(r.devices[2].minor);
  EXPECT_EQ(r.unified, (std::map<std::string, std::string>{{"memory.high", "400000000"},
                                                           {"io.weight", "default 100"}}));

  ASSERT_TRUE(lx.seccomp);
  const Seccomp& s = *lx.seccomp;
  EXPECT_EQ(s.defaultAction, "SCMP_ACT_ERRNO");
  EXPECT_EQ(s.defaultErrnoRet, 1u);
  EXPECT_EQ(s.architectures,
            (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  EXPECT_EQ(s.flags, std::vector<std::string>{"SECCOMP_FILTER_FLAG_LOG"});
  ASSERT_EQ(s.syscalls.size(), 4u);
  EXPECT_EQ(s.syscalls[0].names, (std::vector<std::string>{"read", "write", "exit_group"}));
  EXPECT_EQ(s.syscalls[0].action, "SCMP_ACT_ALLOW");
  EXPECT_FALSE(s.syscalls[0].errnoRet);
  EXPECT_TRUE(s.syscalls[0].args.empty());
  ASSERT_EQ(s.syscalls[1].args.size(), 1u);
  EXPECT_EQ(s.syscalls[1].args[0].index, 0u);
  EXPECT_EQ(s.syscalls[1].args[0].op, "SCMP_CMP_EQ");
  ASSERT_EQ(s.syscalls[2].args.size(), 1u);
  EXPECT_EQ(s.syscalls[2].args[0].index, 5u);
  EXPECT_EQ(s.syscalls[2].args[0].value, 2114060288u);
  EXPECT_EQ(s.syscalls[2].args[0].valueTwo, 0u);
  EXPECT_EQ(s.syscalls[2].args[0].op, "SCMP_CMP_MASKED_EQ");
  EXPECT_EQ(s.syscalls[3].action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(s.syscalls[3].errnoRet, 38u);
}

TEST(RuntimeSpec, LinuxAbsentNullOrEmpty) {
  auto absent = parseRuntimeSpec(specWith(""));
  ASSERT_TRUE(absent) << absent.error().message;
  EXPECT_FALSE(absent->linux);
  EXPECT_FALSE(absent->process.capabilities);
  EXPECT_TRUE(absent->mounts.empty());

  // null reads as absent, as Go's encoding/json (containerd, runc) reads it.
  auto null =
      parseRuntimeSpec(specWith(R"("capabilities": null, "user": null)", R"("linux": null)"));
  ASSERT_TRUE(null) << null.error().message;
  EXPECT_FALSE(null->linux);
  EXPECT_FALSE(null->process.capabilities);

  auto empty = parseRuntimeSpec(linuxWith(""));
  ASSERT_TRUE(empty) << empty.error().message;
  ASSERT_TRUE(empty->linux);
  EXPECT_TRUE(empty->linux->namespaces.empty());
  EXPECT_FALSE(empty->linux->resources);
  EXPECT_FALSE(empty->linux->seccomp);
  EXPECT_FALSE(empty->linux->hasNamespace("pid"));
}

TEST(RuntimeSpec, FieldOfTheWrongType) {
  expectError(specWith(R"("user": {"uid": "0"})"), "process.user.uid must be an integer");
  expectError(specWith(R"("user": [0])"), "process.user must be an object");
  expectError(specWith(R"("noNewPrivileges": "yes")"), "process.noNewPrivileges must be a boolean");
  expectError(specWith(R"("capabilities": {"bounding": "CAP_KILL"})"),
              "process.capabilities.bounding must be an array");
  expectError(specWith("", R"("hostname": 1)"), "hostname must be a string");
  expectError(specWith("", R"("mounts": {"destination": "/x"})"), "mounts must be an array");
  expectError(specWith("", R"("mounts": [{"destination": "/x", "options": ["ro", 5]}])"),
              "mounts[0].options[1] must be a string");
  expectError(specWith("", R"("linux": "yes")"), "linux must be an object");
  expectError(linuxWith(R"("namespaces": [{"type": "pid"}, "ipc"])"),
              "linux.namespaces[1] must be an object");
  expectError(linuxWith(R"("resources": {"memory": {"limit": 1.5}})"),
              "linux.resources.memory.limit must be an integer");
  expectError(linuxWith(R"("resources": {"cpu": {"cpus": 2}})"),
              "linux.resources.cpu.cpus must be a string");
  expectError(linuxWith(R"("sysctl": {"net.ipv4.ip_forward": 1})"),
              R"(linux.sysctl["net.ipv4.ip_forward"] must be a string)");
  expectError(linuxWith(R"("seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {}})"),
              "linux.seccomp.syscalls must be an array");
}

TEST(RuntimeSpec, NumberOutOfRange) {
  expectError(specWith(R"("user": {"uid": -1})"),
              "process.user.uid: -1 is out of range (0..4294967295)");
  expectError(specWith(R"("user": {"gid": 4294967296})"),
              "process.user.gid: 4294967296 is out of range (0..4294967295)");
  expectError(specWith(R"("oomScoreAdj": 1001)"),
              "process.oomScoreAdj: 1001 is out of range (-1000..1000)");
  expectError(specWith(R"("rlimits": [{"type": "RLIMIT_AS", "soft": -1, "hard": 1}])"),
              "process.rlimits[0].soft: -1 is out of range (0..18446744073709551615)");
  expectError(linuxWith(R"("resources": {"memory": {"swappiness": -1}})"),
              "linux.resources.memory.swappiness: -1 is out of range (0..18446744073709551615)");
  expectError(linuxWith(R"("resources": {"pids": {"limit": 9223372036854775808}})"),
              "linux.resources.pids.limit: 9223372036854775808 is out of range "
              "(-9223372036854775808..9223372036854775807)");
}

TEST(RuntimeSpec, UidOrGidThatMeansUnchanged) {
  expectError(specWith(R"("user": {"uid": 4294967295})"),
              "process.user.uid: 4294967295 is not a valid uid");
  expectError(specWith(R"("user": {"gid": 4294967295})"),
              "process.user.gid: 4294967295 is not a valid gid");
  expectError(specWith(R"("user": {"additionalGids": [1, 4294967295]})"),
              "process.user.additionalGids[1]: 4294967295 is not a valid gid");
  expectError(linuxWith(R"("devices": [{"path": "/dev/x", "type": "c", "uid": 4294967295}])"),
              "linux.devices[0].uid: 4294967295 is not a valid uid");
}

TEST(RuntimeSpec, UnknownCapability) {
  expectError(specWith(R"("capabilities": {"ambient": ["CAP_KILL", "CAP_FOO"]})"),
              R"(process.capabilities.ambient[1]: unknown capability "CAP_FOO")");
  expectError(specWith(R"("capabilities": {"bounding": ["CAP_CHOWN", "CAP_LAST_CAP"]})"),
              R"(process.capabilities.bounding[1]: unknown capability "CAP_LAST_CAP")");
}

TEST(RuntimeSpec, BadRlimit) {
  expectError(specWith(R"("rlimits": [{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}])"),
              R"(process.rlimits[0].type: unknown rlimit "RLIMIT_FOO")");
  expectError(specWith(R"("rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1}])"),
              "process.rlimits[0].hard is missing");
  expectError(specWith(R"("rlimits": [{"type": "RLIMIT_NOFILE", "soft": 2, "hard": 1}])"),
              "process.rlimits[0]: the soft limit 2 is above the hard limit 1");
  expectError(specWith(R"("rlimits": [{"type": "RLIMIT_CPU", "soft": 1, "hard": 1},
                                      {"type": "RLIMIT_CPU", "soft": 2, "hard": 2}])"),
              R"(process.rlimits[1].type: rlimit "RLIMIT_CPU" listed twice)");
}

TEST(RuntimeSpec, BadMount) {
  expectError(specWith("", R"("mounts": [{"destination": "/a"}, {"destination": "b"}])"),
              R"(mounts[1].destination must be an absolute path, not "b")");
  expectError(specWith("", R"("mounts": [{"type": "tmpfs"}])"), "mounts[0].destination is missing");
}

TEST(RuntimeSpec, UnknownNamespaceType) {
  expectError(linuxWith(R"("namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "foo"}])"),
              R"(linux.namespaces[2].type: unknown namespace type "foo")");
  expectError(linuxWith(R"("namespaces": [{"path": "/proc/1/ns/net"}])"),
              "linux.namespaces[0].type is missing");
}

TEST(RuntimeSpec, NamespaceListedTwice) {
  expectError(linuxWith(R"("namespaces": [{"type": "pid"}, {"type": "network"},
                                          {"type": "pid", "path": "/proc/1/ns/pid"}])"),
              R"(linux.namespaces[2].type: namespace type "pid" listed twice)");
}

TEST(RuntimeSpec, BadDevice) {
  expectError(linuxWith(R"("devices": [{"path": "/dev/x", "type": "x"}])"),
              R"(linux.devices[0].type: unknown device type "x")");
  expectError(linuxWith(R"("devices": [{"path": "/dev/x", "type": "cb"}])"),
              R"(linux.devices[0].type: unknown device type "cb")");
  expectError(linuxWith(R"("devices": [{"path": "dev/x", "type": "c"}])"),
              R"(linux.devices[0].path must be an absolute path, not "dev/x")");
}

TEST(RuntimeSpec, BadDeviceCgroupRule) {
  expectError(
      linuxWith(R"("resources": {"devices": [{"allow": true}, {"allow": true, "type": "p"}]})"),
      R"(linux.resources.devices[1].type: unknown device type "p")");
  expectError(linuxWith(R"("resources": {"devices": [{"allow": true, "access": "rwx"}]})"),
              R"(linux.resources.devices[0].access: "rwx" is not a combination of r, w and m)");
  expectError(linuxWith(R"("resources": {"devices": [{"allow": true, "access": ""}]})"),
              R"(linux.resources.devices[0].access: "" is not a combination of r, w and m)");
  expectError(linuxWith(R"("resources": {"devices": [{"access": "r"}]})"),
              "linux.resources.devices[0].allow is missing");
}

TEST(RuntimeSpec, UnknownRootfsPropagation) {
  expectError(linuxWith(R"("rootfsPropagation": "recursive")"),
              R"(linux.rootfsPropagation: unknown propagation "recursive")");
  for (const char* ok : {"", "private", "rprivate", "slave", "rslave", "shared", "rshared",
                         "unbindable", "runbindable"}) {
    auto spec = parseRuntimeSpec(linuxWith(fmt::format(R"("rootfsPropagation": "{}")", ok)));
    EXPECT_TRUE(spec) << ok << ": " << spec.error().message;
  }
}

// A seccomp section with defaultAction ALLOW and `rest` added.
std::string seccompWith(std::string_view rest) {
  return linuxWith(fmt::format(R"("seccomp": {{"defaultAction": "SCMP_ACT_ALLOW", {}}})", rest));
}

constexpr std::string_view kThreeRules =
    R"({"names": ["a"], "action": "SCMP_ACT_ALLOW"}, {"names": ["b"], "action": "SCMP_ACT_LOG"},
       {"names": ["c"], "action": "SCMP_ACT_NOTIFY"})";

TEST(RuntimeSpec, UnknownSeccompAction) {
  expectError(
      seccompWith(fmt::format(R"("syscalls": [{}, {{"names": ["d"], "action": "SCMP_ACT_FOO"}}])",
                              kThreeRules)),
      R"(linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO")");
  expectError(linuxWith(R"("seccomp": {"defaultAction": "ALLOW"})"),
              R"(linux.seccomp.defaultAction: unknown action "ALLOW")");
  expectError(linuxWith(R"("seccomp": {"architectures": ["SCMP_ARCH_X86_64"]})"),
              "linux.seccomp.defaultAction is missing");
  expectError(seccompWith(R"("syscalls": [{"names": ["a"]}])"),
              "linux.seccomp.syscalls[0].action is missing");
  expectError(seccompWith(R"("syscalls": [{"names": [], "action": "SCMP_ACT_KILL"}])"),
              "linux.seccomp.syscalls[0].names is empty");
}

TEST(RuntimeSpec, UnknownSeccompOperator) {
  expectError(
      seccompWith(R"("syscalls": [{"names": ["a"], "action": "SCMP_ACT_KILL_THREAD", "args": [
          {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 1, "op": "EQ"}]}])"),
      R"(linux.seccomp.syscalls[0].args[1].op: unknown operator "EQ")");
  expectError(seccompWith(R"("syscalls": [{"names": ["a"], "action": "SCMP_ACT_TRAP",
                                           "args": [{"index": 0, "value": 1}]}])"),
              "linux.seccomp.syscalls[0].args[0].op is missing");
}

TEST(RuntimeSpec, SeccompArgIndexAboveFive) {
  expectError(seccompWith(R"("syscalls": [{"names": ["a"], "action": "SCMP_ACT_TRACE",
                                           "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_NE"}]}])"),
              "linux.seccomp.syscalls[0].args[0].index: 6 is out of range (0..5)");
}

TEST(RuntimeSpec, UnknownSeccompArchitecture) {
  expectError(seccompWith(R"("architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AMD64"])"),
              R"(linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_AMD64")");
}

TEST(RuntimeSpec, UnknownSeccompFlag) {
  expectError(
      seccompWith(R"("flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_NEW_LISTENER"])"),
      R"(linux.seccomp.flags[1]: unknown flag "SECCOMP_FILTER_FLAG_NEW_LISTENER")");
}

TEST(RuntimeSpec, CapabilityNumbersMatchTheKernelHeader) {
#define RUNWASI_CAP(name) \
  { #name, name }
  const std::pair<std::string_view, int> kernel[] = {
      RUNWASI_CAP(CAP_CHOWN),
      RUNWASI_CAP(CAP_DAC_OVERRIDE),
      RUNWASI_CAP(CAP_DAC_READ_SEARCH),
      RUNWASI_CAP(CAP_FOWNER),
      RUNWASI_CAP(CAP_FSETID),
      RUNWASI_CAP(CAP_KILL),
      RUNWASI_CAP(CAP_SETGID),
      RUNWASI_CAP(CAP_SETUID),
      RUNWASI_CAP(CAP_SETPCAP),
      RUNWASI_CAP(CAP_LINUX_IMMUTABLE),
      RUNWASI_CAP(CAP_NET_BIND_SERVICE),
      RUNWASI_CAP(CAP_NET_BROADCAST),
      RUNWASI_CAP(CAP_NET_ADMIN),
      RUNWASI_CAP(CAP_NET_RAW),
      RUNWASI_CAP(CAP_IPC_LOCK),
      RUNWASI_CAP(CAP_IPC_OWNER),
      RUNWASI_CAP(CAP_SYS_MODULE),
      RUNWASI_CAP(CAP_SYS_RAWIO),
      RUNWASI_CAP(CAP_SYS_CHROOT),
      RUNWASI_CAP(CAP_SYS_PTRACE),
      RUNWASI_CAP(CAP_SYS_PACCT),
      RUNWASI_CAP(CAP_SYS_ADMIN),
      RUNWASI_CAP(CAP_SYS_BOOT),
      RUNWASI_CAP(CAP_SYS_NICE),
      RUNWASI_CAP(CAP_SYS_RESOURCE),
      RUNWASI_CAP(CAP_SYS_TIME),
      RUNWASI_CAP(CAP_SYS_TTY_CONFIG),
      RUNWASI_CAP(CAP_MKNOD),
      RUNWASI_CAP(CAP_LEASE),
      RUNWASI_CAP(CAP_AUDIT_WRITE),
      RUNWASI_CAP(CAP_AUDIT_CONTROL),
      RUNWASI_CAP(CAP_SETFCAP),
      RUNWASI_CAP(CAP_MAC_OVERRIDE),
      RUNWASI_CAP(CAP_MAC_ADMIN),
      RUNWASI_CAP(CAP_SYSLOG),
      RUNWASI_CAP(CAP_WAKE_ALARM),
      RUNWASI_CAP(CAP_BLOCK_SUSPEND),
      RUNWASI_CAP(CAP_AUDIT_READ),
      RUNWASI_CAP(CAP_PERFMON),
      RUNWASI_CAP(CAP_BPF),
      RUNWASI_CAP(CAP_CHECKPOINT_RESTORE),
  };
#undef RUNWASI_CAP
  static_assert(std::size(kernel) == CAP_LAST_CAP + 1);
  for (const auto& [name, number] : kernel) EXPECT_EQ(capabilityNumber(name), number) << name;
  EXPECT_EQ(capabilityNumber("CAP_FOO"), std::nullopt);
  EXPECT_EQ(capabilityNumber("cap_chown"), std::nullopt);  // the spec spells them upper case
  EXPECT_EQ(capabilityNumber(""), std::nullopt);
}

TEST(RuntimeSpec, EveryRlimitName) {
  const std::pair<const char*, int> names[] = {
      {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
      {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
      {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
      {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
  };
  for (const auto& [name, resource] : names) {
    auto spec = parseRuntimeSpec(
        specWith(fmt::format(R"("rlimits": [{{"type": "{}", "soft": 1, "hard": 2}}])", name)));
    ASSERT_TRUE(spec) << name << ": " << spec.error().message;
    EXPECT_EQ(spec->process.rlimits.at(0).resource, resource) << name;
  }
}

class ReadRuntimeSpec : public ::testing::Test {
 protected:
  void write(const std::string& text) {
    std::ofstream out(bundle_.path() / "config.json", std::ios::binary);
    out << text;
    ASSERT_TRUE(out.good());
  }

  runwasi::testing::ScratchDir bundle_{"runtime-spec-test-"};
};

TEST_F(ReadRuntimeSpec, ReadsConfigJson) {
  write(R"({"process": {"args": ["/m.wasm"], "env": ["K=V"]}, "root": {"path": "r"}})");
  auto spec = readRuntimeSpec(bundle_.path());
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->process.args, std::vector<std::string>{"/m.wasm"});
  EXPECT_EQ(spec->process.env, std::vector<std::string>{"K=V"});
  EXPECT_EQ(spec->rootPath, "r");
}

TEST_F(ReadRuntimeSpec, MissingFileNamesThePath) {
  auto spec = readRuntimeSpec(bundle_.path());
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().code, ErrorCode::kNotFound) << spec.error().message;
  std::string path = (bundle_.path() / "config.json").string();
  EXPECT_NE(spec.error().message.find(path), std::string::npos) << spec.error().message;

  auto noBundle = readRuntimeSpec(bundle_.path() / "missing");
  ASSERT_FALSE(noBundle);
  EXPECT_NE(noBundle.error().message.find((bundle_.path() / "missing" / "config.json").string()),
            std::string::npos)
      << noBundle.error().message;
}

TEST_F(ReadRuntimeSpec, MalformedFileNamesThePathAndTheProblem) {
  write(R"({"process": {"args": ["/m.wasm"])");
  auto spec = readRuntimeSpec(bundle_.path());
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().code, ErrorCode::kInvalidArgument) << spec.error().message;
  EXPECT_NE(spec.error().message.find((bundle_.path() / "config.json").string()), std::string::npos)
      << spec.error().message;
  EXPECT_NE(spec.error().message.find("not valid JSON"), std::string::npos) << spec.error().message;

  write(R"({"process": {"args": ["/m.wasm"], "cwd": "rel"}})");
  auto relative = readRuntimeSpec(bundle_.path());
  ASSERT_FALSE(relative);
  EXPECT_EQ(relative.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(relative.error().message.find("config.json"), std::string::npos)
      << relative.error().message;
  EXPECT_NE(relative.error().message.find("process.cwd"), std::string::npos)
      << relative.error().message;
}

TEST(EnvValue, LastOneWins) {
  std::vector<std::string> env{"PATH=/a", "HOME=/root", "PATH=/b:/c"};
  EXPECT_EQ(envValue(env, "PATH"), "/b:/c");
  EXPECT_EQ(envValue(env, "HOME"), "/root");
}

TEST(EnvValue, PrefixIsNotConfused) {
  EXPECT_EQ(envValue({"PATHX=/wrong", "PATH=/right", "XPATH=/wrong"}, "PATH"), "/right");
  EXPECT_EQ(envValue({"PATHX=/wrong"}, "PATH"), "");
  EXPECT_EQ(envValue({"PATH"}, "PATH"), "");
  EXPECT_EQ(envValue({"PAT=/short"}, "PATH"), "");
}

TEST(EnvValue, AbsentEmptyAndEqualsInTheValue) {
  EXPECT_EQ(envValue({}, "A"), "");
  EXPECT_EQ(envValue({"A=1"}, "B"), "");
  EXPECT_EQ(envValue({"A=1", "A="}, "A"), "");
  EXPECT_EQ(envValue({"A=x=y"}, "A"), "x=y");
}

TEST(ProcessSpecAlone, ParsesAnExecsProcessAndNamesItsFields) {
  auto process = parseProcessSpec(
      R"({"args": ["/bin/sh", "-c", "true"], "env": ["A=1"], "cwd": "/run", "terminal": true,
          "user": {"uid": 1000, "gid": 5}, "noNewPrivileges": true,
          "capabilities": {"bounding": ["CAP_KILL"]}})");
  ASSERT_TRUE(process) << process.error().message;
  EXPECT_EQ(process->args, (std::vector<std::string>{"/bin/sh", "-c", "true"}));
  EXPECT_EQ(process->cwd, "/run");
  EXPECT_TRUE(process->terminal);
  EXPECT_EQ(process->user.uid, 1000u);
  EXPECT_TRUE(process->noNewPrivileges);
  ASSERT_TRUE(process->capabilities);
  EXPECT_EQ(process->capabilities->bounding, std::vector<std::string>{"CAP_KILL"});

  auto message = [](std::string_view json) {
    auto parsed = parseProcessSpec(json);
    return parsed ? std::string("ok") : parsed.error().message;
  };
  EXPECT_EQ(message("{"), "process: not valid JSON");
  EXPECT_EQ(message("[]"), "process must be an object");
  EXPECT_EQ(message(R"({"cwd": "/"})"), "process.args is missing: nothing to run");
  EXPECT_EQ(message(R"({"args": ["/x"], "cwd": "rel"})"),
            "process.cwd must be an absolute path, not \"rel\"");
  EXPECT_NE(message(R"({"args": ["/x"], "capabilities": {"bounding": ["CAP_NOPE"]}})")
                .find("process.capabilities.bounding"),
            std::string::npos);
}

TEST(LinuxResourcesAlone, ParsesAnUpdateAndNamesItsFields) {
  auto resources = parseLinuxResources(R"({"memory": {"limit": 67108864}, "cpu": {"shares": 512},
                              "pids": {"limit": 9}})");
  ASSERT_TRUE(resources) << resources.error().message;
  EXPECT_EQ(resources->memoryLimit, 67108864);
  EXPECT_EQ(resources->cpuShares, 512u);
  EXPECT_EQ(resources->pidsLimit, 9);
  EXPECT_TRUE(resources->devices.empty());
  auto bad = parseLinuxResources("{\"memory\":");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "linux.resources: not valid JSON");
  auto wrongType = parseLinuxResources(R"({"memory": {"limit": "lots"}})");
  ASSERT_FALSE(wrongType);
  EXPECT_NE(wrongType.error().message.find("linux.resources.memory.limit"), std::string::npos)
      << wrongType.error().message;
}

}  // namespace
}  // namespace runwasi::oci
