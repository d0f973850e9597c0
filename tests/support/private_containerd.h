// Test support: a private containerd under a directory, started and stopped by
// scripts/containerd-private.sh. The test target defines RUNWASI_CONTAINERD_PRIVATE (the
// script), RUNWASI_CONTAINERD and RUNWASI_CTR (the binaries, empty when not installed).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "process.h"

namespace runwasi::testing {

// Why tests against containerd cannot run here, "" when they can.
inline std::string containerdSkipReason() {
  if (std::string(RUNWASI_CONTAINERD).empty() || std::string(RUNWASI_CTR).empty())
    return "containerd is not installed (apt-get install containerd)";
  if (::geteuid() != 0) return "containerd needs root";
  return "";
}

// The private containerd's directory, stopped (and removed) by the script when the object
// goes.
class PrivateContainerd {
 public:
  explicit PrivateContainerd(std::filesystem::path dir) : dir_(std::move(dir)) {}
  PrivateContainerd(const PrivateContainerd&) = delete;
  PrivateContainerd& operator=(const PrivateContainerd&) = delete;
  ~PrivateContainerd() { script({"stop", dir_.string()}); }

  ProcessResult start() { return script({"start", dir_.string()}); }
  ProcessResult ctr(std::vector<std::string> args) {
    args.insert(args.begin(), {"ctr", dir_.string()});
    return script(std::move(args));
  }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path socket() const { return dir_ / "containerd.sock"; }

 private:
  static ProcessResult script(std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/env", std::string("CONTAINERD=") + RUNWASI_CONTAINERD,
                               std::string("CTR=") + RUNWASI_CTR, RUNWASI_CONTAINERD_PRIVATE});
    return runProcess(std::move(args));
  }

  std::filesystem::path dir_;
};

}  // namespace runwasi::testing
