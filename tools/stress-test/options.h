// Command-line options of stress-test.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace runwasi::stress {

enum class Mode {
  kMock,        // no containerd: the tool starts the shim and plays containerd's part
  kContainerd,  // through a real containerd's gRPC API (Containers, Tasks)
};

std::string_view modeName(Mode mode);

struct Options {
  bool help = false;
  Mode mode = Mode::kMock;
  std::string runtime = "io.containerd.v8.v1";
  // Mock: a .wasm module, the rootfs of every task; containerd: an image reference.
  std::string image;
  std::vector<std::string> args;  // after "--": the task's arguments after its entrypoint
  size_t count = 10;              // measured tasks
  size_t parallel = 1;            // tasks in flight at most
  std::optional<size_t> warmup;   // tasks run (and checked) before the measured ones
  std::chrono::milliseconds timeout{10'000};  // per task, Create to Delete
  std::string json;                           // --json FILE; empty: no JSON
  std::string ns = "stress-test";             // containerd namespace
  // Where the tasks' files go (mock: bundles; containerd: stdout and stderr); empty:
  // /dev/shm (a tmpfs), $TMPDIR, /tmp.
  std::string workDir;

  // Containerd mode only.
  std::string address = "/run/containerd/containerd.sock";  // containerd's gRPC socket
  std::string snapshotter = "overlayfs";                    // the tasks' rootfs snapshots
  bool pod = false;  // the tasks share one shim, as a pod's containers do

  // Mock mode only.
  std::string shim;          // the shim binary; empty: found from runtime
  bool shimPerTask = false;  // a shim per task instead of one serving every task (a pod)
  std::string shimLog;       // where the shims' logs go (their bundle's `log`); empty: nowhere
  bool debug = false;        // -debug for the shims

  size_t warmupCount() const { return warmup.value_or(parallel); }
};

// Parses the arguments after the program name. Flags take "--flag VALUE" or
// "--flag=VALUE"; everything after "--" is the task's arguments. Errors are one line,
// InvalidArgument, for the usage message.
Expected<Options> parseOptions(std::span<const std::string> args);

// "250ms", "10s", "1.5s", "2m", or a bare number of seconds; more than zero.
Expected<std::chrono::milliseconds> parseDuration(std::string_view text);

// A runtime as containerd names it: a short name (no dot, not a path) is expanded, "runc"
// to io.containerd.runc.v2 and any other NAME to io.containerd.NAME.v1 (v8, wasm2c,
// null); anything else is returned as it is.
std::string fullRuntimeName(std::string_view runtime);

// containerd's rule: runtime io.containerd.NAME.vN runs the binary containerd-shim-NAME-vN
// (the last two dot-separated parts). InvalidArgument for a name with fewer than two.
Expected<std::string> shimBinaryName(std::string_view runtime);

extern const char* const kUsage;

}  // namespace runwasi::stress
