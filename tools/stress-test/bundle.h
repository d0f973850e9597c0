// Task bundles for the mock: what containerd would prepare under
// <state>/io.containerd.runtime.v2.task/NS/ID, minus the snapshot mounts: config.json, a
// rootfs holding the module, and regular files for the task's stdout and stderr.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace runwasi::stress {

// The annotation that groups containers of a pod onto one shim.
inline constexpr char kSandboxIdAnnotation[] = "io.kubernetes.cri.sandbox-id";

struct BundleSpec {
  std::string ns;                        // cgroupsPath is /NS/ID, as ctr makes it
  std::filesystem::path module;          // copied into the rootfs as /<file name>
  std::vector<std::string> args;         // after the entrypoint
  std::optional<std::string> sandboxId;  // the sandbox-id annotation (one shim for all)
};

// The spec `ctr run` gives a container (containerd's default spec for `id`): its own pid,
// ipc, uts, mount and network namespaces, the default mounts, masked and read-only
// paths, capabilities and rlimits, cgroupsPath /NS/ID. process.args is /<module file name>
// then spec.args.
nlohmann::json taskSpec(const std::string& id, const BundleSpec& spec);

// Writes the bundle into the new directory `dir`: config.json, rootfs/<module>, and empty
// `stdout` and `stderr` beside them.
Expected<void> writeBundle(const std::filesystem::path& dir, const std::string& id,
                           const BundleSpec& spec);

// The cgroup directories of cgroupsPath (absolute) that exist, in any hierarchy under
// /sys/fs/cgroup (v1 controllers, the unified one of hybrid mode, or a v2-only root).
std::vector<std::filesystem::path> cgroupDirs(const std::string& cgroupsPath);

// Mount points (as this process sees them) at or under `dir`, deepest last.
std::vector<std::string> mountsUnder(const std::filesystem::path& dir);

}  // namespace runwasi::stress
