// Containerd mode: every task goes through a real containerd's gRPC API, as `ctr run --rm`
// takes a container through it, so that any runtime (runc's io.containerd.runc.v2 too) can
// be measured on the same loop.
//
// Set-up reads the image (image_spec.h): its manifest, its config, the runtime spec built
// from it and the parent of the tasks' rootfs snapshots (the chain ID of the image's
// layers, which must be unpacked for the snapshotter; none for a pure Wasm image). Then per
// task, timed as the loop's steps:
//   create  Leases.Create (the task's objects are leased, so containerd's garbage collector
//           cannot take the snapshot before the container holds it), Snapshots.Prepare,
//           Containers.Create, Tasks.Create (containerd starts the shim; stdout and stderr
//           go to regular files in the work directory, which every shim opens for writing)
//   start   Tasks.Start
//   wait    Tasks.Wait: the exit status
//   delete  Tasks.Delete, Containers.Delete, Snapshots.Remove, Leases.Delete
// cleanUp takes away whatever a failed task left (Tasks.Kill, Wait and Delete, then the
// container, the snapshot and the lease). At the end nothing of the run may be left: no
// container, task, snapshot or lease whose id is the run's, no shim socket of its tasks in
// /run/containerd/s, no process naming a task, no cgroup /NS/ID, no mount of a task.
// With `pod`, a task made at set-up and deleted at tear-down (never started, untimed)
// holds the one shim that every task's spec asks for by its sandbox-id annotation.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "driver.h"

namespace runwasi::stress {

struct ContainerdConfig {
  std::string address;  // containerd's gRPC socket
  std::string ns;
  std::string runtime;            // containerd's runtime name, e.g. io.containerd.runc.v2
  std::string image;              // the image's name in the namespace
  std::vector<std::string> args;  // replace the image's Cmd when not empty
  std::string snapshotter;
  // Each gRPC call's deadline (a task's Wait gets what is left of the task's).
  std::chrono::milliseconds callTimeout{10'000};
  // The run's work directory (stdout and stderr files) goes in here; empty: /dev/shm when
  // it is a tmpfs, else $TMPDIR or /tmp.
  std::filesystem::path workBase;
  std::string idPrefix;  // every task's id starts with it, and nothing else's
  // The tasks share one shim, as a pod's containers do: set-up creates a task that is
  // never started (its id is idPrefix + "-pod"; the pod's pause, in effect), every task's
  // spec names it in io.kubernetes.cri.sandbox-id, and tear-down deletes it.
  bool pod = false;
};

Expected<std::unique_ptr<Driver>> makeContainerdDriver(ContainerdConfig config);

}  // namespace runwasi::stress
