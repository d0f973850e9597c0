// The shim command line as containerd passes it, parsed with Go's flag package rules.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace runwasi::shim {

enum class ShimAction {
  kNone,    // no action: only valid with -v
  kStart,   // start (or reuse) the daemon, print its address
  kDelete,  // clean up after a dead daemon, print a DeleteResponse
};

struct ShimFlags {
  std::string ns;                            // -namespace
  std::string address;                       // -address: containerd's gRPC socket
  std::string publishBinary = "containerd";  // -publish-binary
  std::string id;                            // -id: the task (container) id
  std::string bundle;                        // -bundle: empty means the working directory
  std::string socket;                        // -socket: accepted as Go's shim does, unused
  bool debug = false;                        // -debug
  bool version = false;                      // -v
  ShimAction action = ShimAction::kNone;
};

// Parses the arguments after the program name: "-flag value", "-flag=value", "--flag",
// bool flags as "-debug" or "-debug=false"; the first non-flag argument (or the one after
// "--") is the action. Unknown flags, missing values, unknown or extra actions, and a
// missing -namespace/-id/-address where the action needs them are InvalidArgument errors.
Expected<ShimFlags> parseShimFlags(std::span<const std::string> args);

}  // namespace runwasi::shim
