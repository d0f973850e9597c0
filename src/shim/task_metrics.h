// The metrics Stats answers with: containerd's cgroups metrics types, from the
// container's cgroup, or from /proc for a task without one.
#pragma once

#include <sys/types.h>

#include <google/protobuf/any.pb.h>

#include "common/error.h"
#include "sandbox/cgroup.h"

namespace runwasi::shim {

// io.containerd.cgroups.v1.Metrics where the memory controller is a v1 hierarchy (hybrid
// machines too), v2 on unified-only machines, packed in an Any as containerd expects.
// Without a cgroup (no linux section in the spec): the process `pid`'s own CPU time and
// resident memory, as v1 metrics.
Expected<google::protobuf::Any> taskMetrics(const sandbox::Cgroup* cgroup, pid_t pid);

}  // namespace runwasi::shim
