// The Linux container around one process, made from the bundle's OCI spec: what runc's
// init does, in the process the zygote forked, between the fork and the workload.
//
// The shim checks the spec, creates the cgroup and compiles the seccomp profile before
// anything is forked (checkSandboxSpec, createCgroup, compileSeccomp); the zygote clones
// the process into its new namespaces (cloneFlags); the process then joins its cgroup,
// sets up its root filesystem and identity (enterSandbox), gives up its privileges
// (dropPrivileges) and reports the outcome on a status pipe the shim reads
// (reportSetup/readSetupStatus), so that every failure fails Create with its reason.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "oci/runtime_spec.h"
#include "sandbox/seccomp.h"
#include "wasi/host.h"

namespace runwasi::sandbox {

// InvalidArgument naming the field for what the sandbox cannot honour: user and time
// namespaces, joining a mount namespace by path, a hostname or a domain sysctl without a
// UTS namespace of its own, net.* sysctls without a network namespace of its own, sysctls
// that are not namespaced (they would change the host), a relative mount destination.
Expected<void> checkSandboxSpec(const oci::RuntimeSpec& spec);

// Appends runc's default device rules (the default devices usable, mknod allowed) after
// the spec's, when the spec restricts devices at all.
void addDefaultDeviceRules(oci::Resources& resources);

// clone3 flags for the spec's new namespaces (type without path). The cgroup namespace is
// not among them: the process unshares it itself once it has joined its cgroup.
uint64_t cloneFlags(const oci::LinuxSpec& linux);
// The path of a pid namespace to join, or empty: the zygote enters it for the clone.
std::string pidNamespacePath(const oci::LinuxSpec& linux);

// What the container process needs besides the spec.
struct SandboxContext {
  const oci::RuntimeSpec* spec = nullptr;  // spec->linux is engaged
  std::string rootfs;                      // the rootfs on the host
  std::vector<UniqueFd>* cgroupProcs = nullptr;  // cgroup.procs files to join (consumed)
  int consoleSocket = -1;  // valid: make a pty in the new root and send its master here
  // joinSandbox: the running container's namespaces (spec types, and fds of
  // /proc/<init>/ns/...); a pid namespace among them was entered by the zygote already.
  const std::vector<std::string>* namespaceTypes = nullptr;
  std::vector<UniqueFd>* namespaceFds = nullptr;
};

// In the container process, as root: joins the cgroup and the namespaces given by path,
// unshares the cgroup namespace, brings up lo in a new network namespace, mounts the
// spec's mounts and default devices in the rootfs, pivots into it, masks and write-protects
// paths, sets hostname, sysctls, oom_score_adj (EPERM only logged), rlimits, the user and
// groups, umask and the working directory. Errors carry errno and name the spec field.
Expected<void> enterSandbox(const SandboxContext& context);

// For an exec, as root: joins the running container's cgroup and namespaces (its mount
// namespace last, which puts the process in the container's root; without one, a chroot
// into `rootfs`), makes the pty when asked, and sets the process's rlimits,
// oom_score_adj, bounding set, user and groups, umask and working directory, as
// enterSandbox does for the container's own process.
Expected<void> joinSandbox(const SandboxContext& context);

// Then: no_new_privs, the seccomp filter (`seccomp` may be null) and the capability sets,
// in the order that lets each step still succeed. Without `execFollows` (a module runs in
// this process) the capability sets are those an execve would leave (see the .cpp).
Expected<void> dropPrivileges(const oci::ProcessSpec& process, const SeccompProgram* seccomp,
                              bool execFollows);

// For a Wasm guest after enterSandbox: "/" and every spec mount destination that is a
// directory, each preopened at its own path.
std::vector<wasi::Preopen> sandboxPreopens(const oci::RuntimeSpec& spec);

// The status pipe: the process writes one message (success, or errno and message), the
// shim reads it; EOF without a message means the process died during set-up.
void reportSetup(int fd, const Expected<void>& outcome);
Expected<void> readSetupStatus(int fd);

}  // namespace runwasi::sandbox
