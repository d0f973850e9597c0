// mount(2) option lists as OCI specs and containerd write them ("nosuid", "rbind", "ro",
// "mode=755"), split into flags, a propagation change and filesystem data.
#pragma once

#include <string>
#include <vector>

namespace runwasi::sandbox {

struct MountOptions {
  unsigned long flags = 0;
  unsigned long propagation = 0;  // applied with a second mount call
  std::string data;               // ','-joined, for the filesystem
};

// Unknown options (lowerdir=..., size=..., mode=...) go to data, in order; tmpcopyup and
// other runtime-only options are the caller's to filter out.
MountOptions parseMountOptions(const std::vector<std::string>& options);

// The propagation flags of one option name ("rslave" -> MS_SLAVE | MS_REC); 0 if none.
unsigned long propagationFlags(std::string_view name);

}  // namespace runwasi::sandbox
