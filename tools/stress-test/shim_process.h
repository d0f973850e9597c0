// One shim daemon as containerd runs it: `start` in a bundle (with TTRPC_ADDRESS and
// GOMAXPROCS set as containerd 1.6 does), a ttrpc connection to the address it prints,
// and at the end Shutdown, the wait for the daemon to go, and `delete`.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/message_lite.h>

#include "common/error.h"
#include "common/unique_fd.h"
#include "driver.h"
#include "ttrpc/client.h"

namespace runwasi::stress {

inline constexpr char kTaskService[] = "containerd.task.v2.Task";

// How the shim binary is run; the same for every shim of a run.
struct ShimCommand {
  std::filesystem::path binary;
  std::string ns;                // -namespace
  std::string address;           // -address: containerd's gRPC socket (the mock: a name only)
  std::string publishBinary;     // -publish-binary
  bool debug = false;            // -debug
  std::vector<std::string> env;  // the whole environment, TTRPC_ADDRESS included

  // The binary's argv for `action` ("start" or "delete") of task `id`.
  std::vector<std::string> argv(const std::string& id, const std::filesystem::path& bundle,
                                std::string_view action) const;
};

// A Task API call that ends by `deadline`: its response, or an error naming the method and
// the status.
Expected<std::string> callTask(ttrpc::Client& client, std::string_view method,
                               const google::protobuf::MessageLite& request, Deadline deadline);
template <typename Response>
Expected<Response> callTask(ttrpc::Client& client, std::string_view method,
                            const google::protobuf::MessageLite& request, Deadline deadline) {
  TRY(std::string payload, callTask(client, method, request, deadline));
  Response response;
  if (!response.ParseFromString(payload))
    return makeError(ErrorCode::kInternal,
                     std::string(method) + ": a response that does not parse");
  return response;
}

class ShimProcess {
 public:
  // Runs `start` for task `id` in `bundle` and connects to the daemon; asks it for its pid
  // (Connect), so that stop() can wait for it.
  static Expected<std::unique_ptr<ShimProcess>> start(const ShimCommand& command, std::string id,
                                                      std::filesystem::path bundle,
                                                      Deadline deadline);
  // stop()s if that was not done, logging what went wrong.
  ~ShimProcess();
  ShimProcess(const ShimProcess&) = delete;
  ShimProcess& operator=(const ShimProcess&) = delete;

  ttrpc::Client& client() { return *client_; }
  const std::string& socketPath() const { return socketPath_; }
  pid_t pid() const { return pid_; }
  // The CPU time of the daemon, the containers it reaped and its live children (the
  // zygote), taken as stop() begins (until then: now). Zero if the pid was never known.
  // In whole clock ticks (/proc/PID/stat): meaningful for a long-lived shim only.
  std::chrono::nanoseconds cpuTime() const;

  // Shutdown, then waits for the daemon to exit, then `delete` as containerd runs it once a
  // shim's connection has closed. A daemon still there at the deadline is SIGKILLed (and
  // the error says so). Once only; later calls do nothing.
  Expected<void> stop(Deadline deadline);

 private:
  ShimProcess(const ShimCommand& command, std::string id, std::filesystem::path bundle)
      : command_(command), id_(std::move(id)), bundle_(std::move(bundle)) {}
  Expected<void> connect(const std::string& address, Deadline deadline);
  // SIGKILLs the daemon (found by its command line when Connect never told its pid).
  void kill();

  const ShimCommand& command_;
  const std::string id_;
  const std::filesystem::path bundle_;
  std::string socketPath_;
  std::unique_ptr<ttrpc::Client> client_;
  pid_t pid_ = 0;
  UniqueFd pidfd_;  // the daemon, to wait for its exit
  bool stopped_ = false;
  std::chrono::nanoseconds cpuAtStop_{};
};

}  // namespace runwasi::stress
