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

// The spec `ctr run` gives container `id` (oci::defaultSpecJson, cgroupsPath /NS/ID):
// process.args is /<module file name> then spec.args; the sandbox-id annotation if any.
nlohmann::json taskSpec(const std::string& id, const BundleSpec& spec);

// Writes the bundle into the new directory `dir`: config.json, rootfs/<module>, and empty
// `stdout` and `stderr` beside them.
Expected<void> writeBundle(const std::filesystem::path& dir, const std::string& id,
                           const BundleSpec& spec);

}  // namespace runwasi::stress
