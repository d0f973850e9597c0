// What containerd holds in a namespace, listed through its gRPC API: how a containerd-mode
// run checks that its tasks left nothing in containerd (the client in src/oci has no List
// calls; only this check needs them). No gRPC type appears here.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace runwasi::stress {

// Ids of the objects whose id starts with a prefix, by kind.
struct ContainerdObjects {
  std::vector<std::string> containers, tasks, snapshots, leases;
  bool empty() const {
    return containers.empty() && tasks.empty() && snapshots.empty() && leases.empty();
  }
};

class ContainerdInventory {
 public:
  virtual ~ContainerdInventory() = default;

  // Containers (Containers.List), tasks (Tasks.List), snapshots of `snapshotter`
  // (Snapshots.List: keys) and leases (Leases.List) whose id starts with `prefix`.
  virtual Expected<ContainerdObjects> list(std::string_view prefix,
                                           std::string_view snapshotter) = 0;
  // Whether snapshot `key` exists (Snapshots.Stat); errors other than NotFound are errors.
  virtual Expected<bool> snapshotExists(std::string_view snapshotter, std::string_view key) = 0;
};

// A channel of its own to containerd's gRPC socket, for namespace `ns`; each call has
// `timeout`. Unavailable when containerd does not answer within it.
Expected<std::unique_ptr<ContainerdInventory>> openInventory(const std::string& socketPath,
                                                             const std::string& ns,
                                                             std::chrono::milliseconds timeout);

}  // namespace runwasi::stress
