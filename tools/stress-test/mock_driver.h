// Mock mode: no containerd. The driver plays containerd's part for the runtime's shim: it
// serves the Events service the shim publishes to (TTRPC_ADDRESS), writes each task's
// bundle, runs the shim binary's `start` and `delete` as containerd does, and drives
// Create, Start, Wait and Delete over ttrpc.
//
// One shim serves every task by default, as for the containers of one pod (each bundle
// carries the pod's sandbox-id annotation; the shim is started once, for a sandbox bundle,
// and shut down after the last task). That is what runwasi's stress-test does in its mock
// mode, and it measures what the shim itself costs per task; --shim-per-task instead starts
// a shim for each task (start, Connect, ..., Shutdown, delete), as `ctr run` makes
// containerd do, which adds the shim's own start-up to every task.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "driver.h"
#include "options.h"

namespace runwasi::stress {

struct MockConfig {
  std::filesystem::path shim;     // the shim binary
  std::string ns;                 // the containerd namespace the shims are told
  std::filesystem::path module;   // the .wasm put in every task's rootfs
  std::vector<std::string> args;  // the tasks' arguments after the module
  bool shimPerTask = false;
  std::filesystem::path shimLog;  // empty: the shims' logs go nowhere
  bool debug = false;
  // The run's work directory goes in here; empty: /dev/shm when it is a tmpfs, else
  // $TMPDIR or /tmp.
  std::filesystem::path workBase;
  std::string idPrefix;  // the sandbox's id is PREFIX-sandbox
};

// The shim binary for `options`: --shim; the runtime itself when it is an absolute path;
// otherwise containerd's binary name for it (shimBinaryName) on PATH, then beside this
// program. NotFound saying where it looked.
Expected<std::filesystem::path> findShimBinary(const Options& options);

// InvalidArgument when the module is not a readable file.
Expected<std::unique_ptr<Driver>> makeMockDriver(MockConfig config);

}  // namespace runwasi::stress
