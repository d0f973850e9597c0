// The engine-neutral WASI preview1 host: one per guest instance.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "wasi/function_table.h"
#include "wasi/guest_memory.h"

namespace runwasi::wasi {

struct Preopen {
  std::string hostPath;   // directory on the host (or in the container's mount namespace)
  std::string guestPath;  // the name the guest sees, e.g. "/" or "/data"
};

struct Config {
  std::vector<std::string> args;  // argv, args[0] is the program name
  std::vector<std::string> env;   // "KEY=VALUE", exactly what the guest sees
  std::vector<Preopen> preopens;  // fds 3, 4, ... in this order
  // Host fds that become the guest's 0, 1, 2 (borrowed: the host dups them).
  int stdinFd = 0;
  int stdoutFd = 1;
  int stderrFd = 2;
  // Host socket fds handed to the guest after the preopens (borrowed: the host dups them).
  std::vector<int> sockets;
};

class Host {
 public:
  // Opens the preopens; fails with a clear message naming a missing or unusable directory.
  static Expected<std::unique_ptr<Host>> create(Config config);
  virtual ~Host() = default;

  // Runs one wasi_snapshot_preview1 function. `args` holds one value per parameter of
  // kFunctions[id] (an i32 zero-extended). Returns the WASI errno (0 for proc_exit).
  // Never throws, never exits the process: proc_exit sets exitCode() and returns, and the
  // engine must then unwind the guest.
  virtual uint32_t call(FunctionId id, GuestMemory memory, const uint64_t* args) = 0;

  // Set once the guest called proc_exit (or proc_raise with a terminating signal).
  virtual std::optional<uint32_t> exitCode() const = 0;
};

}  // namespace runwasi::wasi
