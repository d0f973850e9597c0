// What every task of a containerd-mode run is made from, read from the image the way
// `ctr run` reads it: the manifest for this machine (or the Wasm one), its config, the OCI
// runtime spec built from the config on containerd's default spec, and the parent of each
// task's rootfs snapshot.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "oci/containerd_client.h"
#include "oci/image_manifest.h"

namespace runwasi::stress {

struct TaskTemplate {
  std::string image;           // the image's name in containerd (what Containers.Create gets)
  std::string manifestDigest;  // the manifest the tasks run
  std::string platform;        // the config's "os/architecture", e.g. "linux/amd64"
  bool wasm = false;           // a Wasm image: runwasi's format or the CNCF artifact
  // The chain ID of the config's rootfs.diff_ids: what the image's unpacked layers are
  // stored under in a snapshotter. "" for a pure Wasm image (no tar layers): its tasks get
  // an empty rootfs, as CRI gives them.
  std::string snapshotParent;
  nlohmann::json spec;  // the runtime spec; linux.cgroupsPath is each task's

  // The spec of task `id` as JSON text: cgroupsPath /NS/ID, as ctr gives it; with a
  // `sandboxId`, the annotation that puts the task on that pod's shim.
  std::string specFor(std::string_view ns, std::string_view id,
                      std::string_view sandboxId = {}) const;
};

// The chain ID of layers with these diff IDs (the OCI image spec's ChainID): the first diff
// ID, then "sha256:" + hex(sha256(previous + " " + next)) for each next one; "" for none.
std::string chainId(std::span<const std::string> diffIds);

// The manifest to run from an index: its Wasm manifest if it has one (as the shims read
// Wasm images), else the one for linux/`architecture`, else its only manifest.
// NotFound naming the platforms it has otherwise.
Expected<oci::ContentRef> pickManifest(std::span<const oci::ContentRef> manifests,
                                       std::string_view architecture);

// The machine's architecture as image configs name it (amd64, arm64, ...).
std::string_view hostArchitecture();

// Builds the template from a manifest and its config, as ctr's WithImageConfigArgs does:
// containerd's default spec, process.args = Entrypoint + (`args` if any, else Cmd), env =
// the default PATH overridden by the config's Env, cwd = WorkingDir, a numeric User. A
// Wasm image without an Entrypoint (the CNCF artifact has none) gets "/<title>" of its
// first module layer. InvalidArgument when there is nothing to run or the config is bad.
Expected<TaskTemplate> templateFromConfig(const oci::ParsedManifest& manifest,
                                          std::span<const uint8_t> configJson,
                                          const std::vector<std::string>& args);

// Reads image `name` (or its normalized form, "busybox" as docker.io/library/busybox:latest)
// through containerd: Images.Get, the manifest (picked from an index), the config; then
// templateFromConfig.
Expected<TaskTemplate> resolveImage(oci::ContainerdStoreClient& client, std::string_view name,
                                    const std::vector<std::string>& args);

}  // namespace runwasi::stress
