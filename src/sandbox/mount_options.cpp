#include "sandbox/mount_options.h"

#include <sys/mount.h>

#include <algorithm>
#include <string_view>

namespace runwasi::sandbox {
namespace {

// An option that sets (or, with clear, removes) mount(2) flags; the names follow
// containerd's mount_linux.go so a snapshotter's options mean the same thing here.
struct FlagOption {
  std::string_view name;
  bool clear;
  unsigned long flags;
};

constexpr FlagOption kFlagOptions[] = {
    {"async", true, MS_SYNCHRONOUS},
    {"atime", true, MS_NOATIME},
    {"bind", false, MS_BIND},
    {"defaults", false, 0},
    {"dev", true, MS_NODEV},
    {"diratime", true, MS_NODIRATIME},
    {"dirsync", false, MS_DIRSYNC},
    {"exec", true, MS_NOEXEC},
    {"noatime", false, MS_NOATIME},
    {"nodev", false, MS_NODEV},
    {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},
    {"norelatime", true, MS_RELATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"nosuid", false, MS_NOSUID},
    {"rbind", false, MS_BIND | MS_REC},
    {"relatime", false, MS_RELATIME},
    {"remount", false, MS_REMOUNT},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"strictatime", false, MS_STRICTATIME},
    {"suid", true, MS_NOSUID},
    {"sync", false, MS_SYNCHRONOUS},
};

struct PropagationOption {
  std::string_view name;
  unsigned long flags;
};

constexpr PropagationOption kPropagationOptions[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

}  // namespace

MountOptions parseMountOptions(const std::vector<std::string>& options) {
  MountOptions out;
  for (const std::string& option : options) {
    auto flag = std::find_if(std::begin(kFlagOptions), std::end(kFlagOptions),
                             [&](const FlagOption& f) { return f.name == option; });
    if (flag != std::end(kFlagOptions)) {
      if (flag->clear) {
        out.flags &= ~flag->flags;
      } else {
        out.flags |= flag->flags;
      }
      continue;
    }
    auto prop = std::find_if(std::begin(kPropagationOptions), std::end(kPropagationOptions),
                             [&](const PropagationOption& p) { return p.name == option; });
    if (prop != std::end(kPropagationOptions)) {
      out.propagation = prop->flags;  // the last one wins
      continue;
    }
    if (!out.data.empty()) out.data += ',';
    out.data += option;
  }
  return out;
}

unsigned long propagationFlags(std::string_view name) {
  for (const PropagationOption& p : kPropagationOptions)
    if (p.name == name) return p.flags;
  return 0;
}

}  // namespace runwasi::sandbox
