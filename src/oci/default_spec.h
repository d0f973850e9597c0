// containerd's default runtime spec for a Linux container, as `ctr run` writes it into a
// bundle: the stress test's mock bundles and the shim tests start from it, so that they
// ask our shims for the same sandbox containerd would.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace runwasi::oci {

// containerd 1.6's default capability set (oci.populateDefaultUnixSpec), in its order.
extern const std::vector<std::string> kDefaultCapabilities;

// config.json text: process `args` as root in "/", containerd's default PATH, the default
// capabilities (bounding, effective, permitted), RLIMIT_NOFILE 1024, noNewPrivileges;
// root "rootfs"; the default mounts (proc, /dev tmpfs, devpts, shm, mqueue, sysfs) plus
// the read-only cgroup mount ctr adds and a /run tmpfs; new pid, ipc, uts, mount and
// network namespaces; containerd's masked and read-only paths; all devices denied;
// linux.cgroupsPath `cgroupsPath` (ctr's is /NAMESPACE/ID).
std::string defaultSpecJson(const std::vector<std::string>& args, std::string_view cgroupsPath);

}  // namespace runwasi::oci
