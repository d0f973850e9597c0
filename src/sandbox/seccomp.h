// The spec's seccomp profile, compiled with libseccomp into a BPF program in the shim (so
// that a bad profile fails Create before any process exists) and loaded by the container
// process just before it runs its workload.
#pragma once

#include "common/error.h"
#include "common/file.h"
#include "oci/runtime_spec.h"

namespace runwasi::sandbox {

struct SeccompProgram {
  Bytes bpf;             // struct sock_filter[], as seccomp(2) takes it
  unsigned flags = 0;    // SECCOMP_FILTER_FLAG_* for seccomp(SECCOMP_SET_MODE_FILTER)
};

// InvalidArgument naming the field ("linux.seccomp.syscalls[3].action: unknown action
// \"SCMP_ACT_FOO\""): unknown action, architecture, flag or operator, an argument index
// above 5, SCMP_ACT_NOTIFY (no listener is supported). Syscall names unknown to libseccomp
// are skipped (profiles list syscalls of newer kernels), as runc does.
Expected<SeccompProgram> compileSeccomp(const oci::Seccomp& profile);

// In the container process: installs the program (seccomp(2), falling back to prctl).
// Returns errno on failure; async-signal-safe enough for a forked child (no allocation).
int loadSeccomp(const SeccompProgram& program);

}  // namespace runwasi::sandbox
