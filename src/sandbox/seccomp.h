// The spec's seccomp profile, compiled with libseccomp into a BPF program in the shim (so
// that a bad profile fails Create before any process exists) and loaded by the container
// process just before it runs its workload.
#pragma once

#include "common/error.h"
#include "common/file.h"
#include "oci/runtime_spec.h"

namespace runwasi::sandbox {

struct SeccompProgram {
  Bytes bpf;           // struct sock_filter[], as seccomp(2) takes it
  unsigned flags = 0;  // SECCOMP_FILTER_FLAG_* for seccomp(SECCOMP_SET_MODE_FILTER)
};

// InvalidArgument naming the field ("linux.seccomp.syscalls[3].action: unknown action
// \"SCMP_ACT_FOO\""): unknown action, architecture, flag or operator, an argument index
// above 5, SCMP_ACT_NOTIFY (no listener is supported), a filter longer than the kernel takes
// (BPF_MAXINSNS). Syscall names unknown to libseccomp are skipped (profiles list syscalls of
// newer kernels), as runc does; so are rules whose action is the default action. Several
// comparisons of one argument in a rule become one rule each (their OR), as in runc.
// ERRNO and TRACE take errnoRet (defaultErrnoRet for the default action), EPERM when absent;
// SCMP_ACT_KILL is SCMP_ACT_KILL_THREAD.
Expected<SeccompProgram> compileSeccomp(const oci::Seccomp& profile);

// In the container process: installs the program (seccomp(2), falling back to prctl).
// Returns errno on failure; async-signal-safe enough for a forked child (no allocation).
// The kernel takes a filter only from a process with no_new_privs set or CAP_SYS_ADMIN in
// its user namespace: the caller orders it, loading before dropping capabilities unless the
// spec asks for no_new_privs (set it first then). Filters with SECCOMP_FILTER_FLAG_TSYNC
// apply to every thread; a forked child has one.
int loadSeccomp(const SeccompProgram& program);

}  // namespace runwasi::sandbox
