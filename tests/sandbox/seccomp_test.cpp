// Seccomp: profiles compile into BPF, a bad profile fails with the field that is wrong, and
// forked children that load a program see exactly the profile's effect.
#include "sandbox/seccomp.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>

#include <fmt/format.h>

namespace runwasi::sandbox {
namespace {

using Clock = std::chrono::steady_clock;

oci::SeccompRule rule(std::vector<std::string> names, std::string action,
                      std::optional<uint32_t> errnoRet = std::nullopt,
                      std::vector<oci::SeccompArg> args = {}) {
  return oci::SeccompRule{std::move(names), std::move(action), errnoRet, std::move(args)};
}

oci::SeccompArg arg(uint32_t index, std::string op, uint64_t value, uint64_t valueTwo = 0) {
  return oci::SeccompArg{index, value, valueTwo, std::move(op)};
}

oci::Seccomp makeProfile(std::string defaultAction, std::vector<oci::SeccompRule> syscalls = {}) {
  oci::Seccomp profile;
  profile.defaultAction = std::move(defaultAction);
  profile.syscalls = std::move(syscalls);
  return profile;
}

SeccompProgram compiled(const oci::Seccomp& profile) {
  auto program = compileSeccomp(profile);
  if (!program) {
    ADD_FAILURE() << program.error().message;
    return {};
  }
  return *std::move(program);
}

// A check in a confined child: the child cannot use gtest, so a failure exits with the line
// (mod 200, offset past the codes used below) and says which on stderr when write is allowed.
#define CHILD_CHECK(cond)                                                 \
  do {                                                                    \
    if (!(cond)) {                                                        \
      const char msg[] = "seccomp_test child: check failed: " #cond "\n"; \
      [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);          \
      return 10 + __LINE__ % 200;                                         \
    }                                                                     \
  } while (0)

constexpr int kLoadFailed = 3;

// Ends a child with a raw exit_group. Not _exit: ASan intercepts it for its leak check,
// which needs syscalls the profiles deny. Not [[noreturn]] either: ASan precedes calls to
// those with __asan_handle_no_return, which calls sigaltstack.
void exitChild(int code) {
  ::syscall(SYS_exit_group, code);
}

// Forks; the child sets no_new_privs, loads the program and exits with body()'s result.
// Returns the child's wait status.
template <typename Body>
int runConfined(const SeccompProgram& program, Body body) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) exitChild(2);
    if (loadSeccomp(program) != 0) exitChild(kLoadFailed);
    exitChild(body());
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

::testing::AssertionResult exitedZero(int status) {
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ::testing::AssertionSuccess();
  if (WIFEXITED(status)) {
    return ::testing::AssertionFailure() << "child exited with " << WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return ::testing::AssertionFailure() << "child killed by " << strsignal(WTERMSIG(status));
  }
  return ::testing::AssertionFailure() << "child status " << status;
}

// The raw syscall's errno, 0 on success (wrappers may retry or mask errors).
int sysErrno(long rc) {
  return rc < 0 ? errno : 0;
}

TEST(SeccompTest, EmptyProfileCompiles) {
  oci::Seccomp profile = makeProfile("SCMP_ACT_ALLOW");
  auto program = compileSeccomp(profile);
  ASSERT_TRUE(program) << program.error().message;
  EXPECT_FALSE(program->bpf.empty());
  EXPECT_EQ(program->bpf.size() % sizeof(sock_filter), 0u);
  EXPECT_EQ(program->flags, 0u);
  EXPECT_TRUE(exitedZero(runConfined(*program, [] { return 0; })));
}

TEST(SeccompTest, ErrnoRuleDeniesMkdirOthersWork) {
  oci::Seccomp profile =
      makeProfile("SCMP_ACT_ALLOW", {rule({"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO", 1)});
  SeccompProgram program = compiled(profile);
  int status = runConfined(program, [] {
    CHILD_CHECK(::mkdir("/tmp/seccomp-test-never", 0700) == -1 && errno == EPERM);
    CHILD_CHECK(::mkdirat(AT_FDCWD, "/tmp/seccomp-test-never", 0700) == -1 && errno == EPERM);
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHILD_CHECK(fd >= 0);
    CHILD_CHECK(::close(fd) == 0);
    CHILD_CHECK(::getpid() > 1);
    return 0;
  });
  EXPECT_TRUE(exitedZero(status));
}

TEST(SeccompTest, ProcStatusShowsFilterMode) {
  oci::Seccomp profile = makeProfile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_ERRNO")});
  SeccompProgram program = compiled(profile);
  int status = runConfined(program, [] {
    int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    CHILD_CHECK(fd >= 0);
    char buf[8192];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    CHILD_CHECK(n > 0);
    buf[n] = '\0';
    CHILD_CHECK(std::strstr(buf, "\nSeccomp:\t2\n") != nullptr);
    return 0;
  });
  EXPECT_TRUE(exitedZero(status));
}

TEST(SeccompTest, DefaultErrnoRet) {
  // Everything is denied but exiting: the child's check uses raw syscalls only.
  oci::Seccomp profile =
      makeProfile("SCMP_ACT_ERRNO", {rule({"exit", "exit_group"}, "SCMP_ACT_ALLOW")});
  profile.defaultErrnoRet = ENOTSUP;
  SeccompProgram program = compiled(profile);
  int status = runConfined(program, [] {
    CHILD_CHECK(sysErrno(::syscall(SYS_mkdirat, AT_FDCWD, "/tmp/x", 0700)) == ENOTSUP);
    CHILD_CHECK(sysErrno(::syscall(SYS_getppid)) == ENOTSUP);
    return 0;
  });
  EXPECT_TRUE(exitedZero(status));

  profile.defaultErrnoRet.reset();  // EPERM
  program = compiled(profile);
  status = runConfined(program, [] {
    CHILD_CHECK(sysErrno(::syscall(SYS_getppid)) == EPERM);
    return 0;
  });
  EXPECT_TRUE(exitedZero(status));
}

TEST(SeccompTest, ArgumentFilter) {
  // personality(0xffffffff) only queries the persona: allowed; any change is denied.
  oci::Seccomp profile = makeProfile(
      "SCMP_ACT_ERRNO",
      {rule({"exit", "exit_group"}, "SCMP_ACT_ALLOW"),
       rule({"personality"}, "SCMP_ACT_ALLOW", {}, {arg(0, "SCMP_CMP_EQ", 0xffffffff)})});
  SeccompProgram program = compiled(profile);
  int status = runConfined(program, [] {
    CHILD_CHECK(sysErrno(::syscall(SYS_personality, 0xffffffffUL)) == 0);
    CHILD_CHECK(sysErrno(::syscall(SYS_personality, PER_LINUX)) == EPERM);
    CHILD_CHECK(sysErrno(::syscall(SYS_getppid)) == EPERM);
    return 0;
  });
  EXPECT_TRUE(exitedZero(status));
}

TEST(SeccompTest, MaskedEqUsesValueAsMaskAndValueTwoAsDatum) {
  // umask(m) is denied when (m & 070) == 020. Swapping mask and datum would deny nothing.
  oci::Seccomp profile = makeProfile(
      "SCMP_ACT_ALLOW",
      {rule({"umask"}, "SCMP_ACT_ERRNO", EACCES, {arg(0, "SCMP_CMP_MASKED_EQ", 070, 020)})});
  SeccompProgram program = compiled(profile);
  int status = runConfined(program, [] {
    CHILD_CHECK(sysErrno(::syscall(SYS_umask, 027)) == EACCES);
    CHILD_CHECK(sysErrno(::syscall(SYS_umask, 022)) == EACCES);
    CHILD_CHECK(sysErrno(::syscall(SYS_umask, 002)) == 0);
    CHILD_CHECK(sysErrno(::syscall(SYS_umask, 077)) == 0);
    return 0;
  });
  EXPECT_TRUE(exitedZero(status));
}

TEST(SeccompTest, ArgsOnTheSameIndexAreAlternatives) {
  // libseccomp refuses two comparisons of arg 0 in one rule; they become two rules (OR).
  oci::Seccomp profile = makeProfile(
      "SCMP_ACT_ALLOW", {rule({"umask"}, "SCMP_ACT_ERRNO", EACCES,
                              {arg(0, "SCMP_CMP_EQ", 011), arg(0, "SCMP_CMP_EQ", 022)})});
  SeccompProgram program = compiled(profile);
  int status = runConfined(program, [] {
    CHILD_CHECK(sysErrno(::syscall(SYS_umask, 011)) == EACCES);
    CHILD_CHECK(sysErrno(::syscall(SYS_umask, 022)) == EACCES);
    CHILD_CHECK(sysErrno(::syscall(SYS_umask, 033)) == 0);
    return 0;
  });
  EXPECT_TRUE(exitedZero(status));
}

TEST(SeccompTest, ArgsOnDifferentIndicesAreAllRequired) {
  // mkdirat(AT_FDCWD, *, 0700) denied: both comparisons must hold.
  oci::Seccomp profile =
      makeProfile("SCMP_ACT_ALLOW", {rule({"mkdirat"}, "SCMP_ACT_ERRNO", EACCES,
                                          {arg(0, "SCMP_CMP_EQ", static_cast<uint32_t>(AT_FDCWD)),
                                           arg(2, "SCMP_CMP_EQ", 0700)})});
  SeccompProgram program = compiled(profile);
  int status = runConfined(program, [] {
    CHILD_CHECK(sysErrno(::syscall(SYS_mkdirat, AT_FDCWD, "/nonexistent/a/b", 0700)) == EACCES);
    CHILD_CHECK(sysErrno(::syscall(SYS_mkdirat, AT_FDCWD, "/nonexistent/a/b", 0755)) == ENOENT);
    return 0;
  });
  EXPECT_TRUE(exitedZero(status));
}

TEST(SeccompTest, UnknownSyscallNamesAreSkipped) {
  oci::Seccomp profile = makeProfile(
      "SCMP_ACT_ALLOW", {rule({"no_such_syscall", "mkdir", "mkdirat"}, "SCMP_ACT_ERRNO"),
                         rule({"another_future_syscall"}, "SCMP_ACT_KILL_PROCESS")});
  SeccompProgram program = compiled(profile);
  int status = runConfined(program, [] {
    CHILD_CHECK(::mkdir("/tmp/seccomp-test-never", 0700) == -1 && errno == EPERM);
    return 0;
  });
  EXPECT_TRUE(exitedZero(status));
}

TEST(SeccompTest, RuleWithTheDefaultActionIsSkipped) {
  oci::Seccomp profile =
      makeProfile("SCMP_ACT_ERRNO", {rule({"exit", "exit_group"}, "SCMP_ACT_ALLOW"),
                                     rule({"getppid"}, "SCMP_ACT_ERRNO", EPERM),
                                     rule({"getpid"}, "SCMP_ACT_ERRNO", EACCES)});
  SeccompProgram program = compiled(profile);
  int status = runConfined(program, [] {
    CHILD_CHECK(sysErrno(::syscall(SYS_getppid)) == EPERM);
    CHILD_CHECK(sysErrno(::syscall(SYS_getpid)) == EACCES);
    return 0;
  });
  EXPECT_TRUE(exitedZero(status));
}

TEST(SeccompTest, KillActionsKillWithSigsys) {
  for (const char* action :
       {"SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP"}) {
    SCOPED_TRACE(action);
    oci::Seccomp profile = makeProfile("SCMP_ACT_ALLOW", {rule({"getppid"}, action)});
    SeccompProgram program = compiled(profile);
    int status = runConfined(program, [] {
      ::syscall(SYS_getppid);
      return 0;
    });
    ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
    EXPECT_EQ(WTERMSIG(status), SIGSYS);
  }
}

TEST(SeccompTest, LogAndTraceActions) {
  // LOG allows (and logs); TRACE without a tracer fails the call with ENOSYS.
  oci::Seccomp profile = makeProfile(
      "SCMP_ACT_ALLOW", {rule({"getppid"}, "SCMP_ACT_LOG"), rule({"umask"}, "SCMP_ACT_TRACE", 7)});
  SeccompProgram program = compiled(profile);
  int status = runConfined(program, [] {
    CHILD_CHECK(::syscall(SYS_getppid) > 0);
    CHILD_CHECK(sysErrno(::syscall(SYS_umask, 022)) == ENOSYS);
    return 0;
  });
  EXPECT_TRUE(exitedZero(status));
}

TEST(SeccompTest, Flags) {
  oci::Seccomp profile = makeProfile("SCMP_ACT_ALLOW");
  profile.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                   "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
  SeccompProgram program = compiled(profile);
  EXPECT_EQ(program.flags, unsigned{SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW |
                                    SECCOMP_FILTER_FLAG_TSYNC});

  profile.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"};
  profile.syscalls = {rule({"mkdir"}, "SCMP_ACT_ERRNO")};
  program = compiled(profile);
  int status = runConfined(program, [] {
    CHILD_CHECK(::mkdir("/tmp/seccomp-test-never", 0700) == -1 && errno == EPERM);
    return 0;
  });
  EXPECT_TRUE(exitedZero(status));
}

TEST(SeccompTest, ArchitecturesIncludingTheNativeOne) {
  oci::Seccomp profile =
      makeProfile("SCMP_ACT_ALLOW", {rule({"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO")});
  profile.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                           "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"};
  SeccompProgram program = compiled(profile);
  int status = runConfined(program, [] {
    CHILD_CHECK(::mkdir("/tmp/seccomp-test-never", 0700) == -1 && errno == EPERM);
    return 0;
  });
  EXPECT_TRUE(exitedZero(status));
}

void expectInvalid(const oci::Seccomp& profile, std::string_view message) {
  auto program = compileSeccomp(profile);
  ASSERT_FALSE(program) << "expected: " << message;
  EXPECT_EQ(program.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(program.error().message, message);
}

TEST(SeccompTest, ErrorsNameTheField) {
  const oci::Seccomp ok = makeProfile("SCMP_ACT_ALLOW");
  oci::Seccomp p = ok;
  p.defaultAction = "SCMP_ACT_FOO";
  expectInvalid(p, "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_FOO\"");
  p.defaultAction = "";
  expectInvalid(p, "linux.seccomp.defaultAction: unknown action \"\"");
  p.defaultAction = "SCMP_ACT_NOTIFY";
  expectInvalid(p,
                "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY needs a seccomp listener, which "
                "is not supported");

  p = ok;
  p.syscalls = {rule({"mkdir"}, "SCMP_ACT_ERRNO"), rule({"getpid"}, "SCMP_ACT_NOTIFY")};
  expectInvalid(p,
                "linux.seccomp.syscalls[1].action: SCMP_ACT_NOTIFY needs a seccomp listener, "
                "which is not supported");
  p.syscalls = {rule({"mkdir"}, "SCMP_ACT_BAR")};
  expectInvalid(p, "linux.seccomp.syscalls[0].action: unknown action \"SCMP_ACT_BAR\"");

  p.syscalls = {
      rule({"a"}, "SCMP_ACT_ERRNO"), rule({"b"}, "SCMP_ACT_ERRNO"), rule({"c"}, "SCMP_ACT_ERRNO"),
      rule({"umask"}, "SCMP_ACT_ERRNO", {}, {arg(0, "SCMP_CMP_EQ", 1), arg(7, "SCMP_CMP_EQ", 1)})};
  expectInvalid(p, "linux.seccomp.syscalls[3].args[1].index: 7 is above 5");
  // Checked even when no name is known to libseccomp.
  p.syscalls = {rule({"no_such_syscall"}, "SCMP_ACT_ERRNO", {}, {arg(6, "SCMP_CMP_EQ", 1)})};
  expectInvalid(p, "linux.seccomp.syscalls[0].args[0].index: 6 is above 5");
  p.syscalls = {rule({"umask"}, "SCMP_ACT_ERRNO", {}, {arg(0, "SCMP_CMP_FOO", 1)})};
  expectInvalid(p, "linux.seccomp.syscalls[0].args[0].op: unknown operator \"SCMP_CMP_FOO\"");

  p = ok;
  p.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_FOO"};
  expectInvalid(p, "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_FOO\"");

  p = ok;
  p.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_FOO"};
  expectInvalid(p, "linux.seccomp.flags[1]: unknown flag \"SECCOMP_FILTER_FLAG_FOO\"");
}

// A profile in the style of containerd's default (contrib/seccomp/seccomp_default.go) for an
// amd64 container without CAP_SYS_ADMIN: the syscalls any program needs, clone without
// namespace flags, clone3 as ENOSYS (so that libc falls back to clone), everything else EPERM.
// Some names are of newer kernels or other architectures: libseccomp skips or maps them.
oci::Seccomp containerdStyleProfile() {
  static const char* const kAllowed =
      "accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown "
      "chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime "
      "clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect "
      "copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old "
      "epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat "
      "exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark "
      "fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync "
      "fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs "
      "fstatfs64 fsync ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait "
      "futex_waitv futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32 "
      "geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid "
      "getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid "
      "getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt "
      "get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch "
      "inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents "
      "io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit "
      "io_uring_enter io_uring_register io_uring_setup ipc kill landlock_add_rule "
      "landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat "
      "listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise "
      "map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod "
      "mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open "
      "mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink "
      "mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at "
      "nanosleep newfstatat _newselect open openat openat2 pause pidfd_getfd pidfd_open "
      "pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll "
      "ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 "
      "pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv "
      "recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename "
      "renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending "
      "rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait "
      "rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr "
      "sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler "
      "sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr "
      "sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop "
      "semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto "
      "setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 "
      "setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid "
      "setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt "
      "set_thread_area set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget "
      "shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn socket socketcall "
      "socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync "
      "sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete "
      "timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64 "
      "timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 "
      "times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime "
      "utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev "
      "arch_prctl modify_ldt";
  std::vector<std::string> names;
  std::istringstream words(kAllowed);
  for (std::string name; words >> name;) names.push_back(name);

  constexpr uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                       CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;
  oci::Seccomp profile = makeProfile(
      "SCMP_ACT_ERRNO",
      {
          rule(std::move(names), "SCMP_ACT_ALLOW"),
          // containerd lists these as five rules of one comparison each.
          rule({"personality"}, "SCMP_ACT_ALLOW", {},
               {arg(0, "SCMP_CMP_EQ", 0x0), arg(0, "SCMP_CMP_EQ", 0x8),
                arg(0, "SCMP_CMP_EQ", 0x20000), arg(0, "SCMP_CMP_EQ", 0x20008),
                arg(0, "SCMP_CMP_EQ", 0xffffffff)}),
          rule({"clone"}, "SCMP_ACT_ALLOW", {}, {arg(0, "SCMP_CMP_MASKED_EQ", kNamespaceFlags, 0)}),
          rule({"clone3"}, "SCMP_ACT_ERRNO", ENOSYS),
      });
  profile.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  return profile;
}

TEST(SeccompTest, ContainerdStyleProfile) {
  oci::Seccomp profile = containerdStyleProfile();
  ASSERT_GT(profile.syscalls[0].names.size(), 300u);

  // Compile time, reported in the test's output and XML properties.
  constexpr int kRuns = 20;
  SeccompProgram program;
  Clock::duration total{}, best = Clock::duration::max();
  for (int i = 0; i < kRuns; ++i) {
    auto start = Clock::now();
    auto compiledProgram = compileSeccomp(profile);
    auto took = Clock::now() - start;
    ASSERT_TRUE(compiledProgram) << compiledProgram.error().message;
    program = *std::move(compiledProgram);
    total += took;
    best = std::min(best, took);
  }
  auto us = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  };
  std::printf(
      "[ compile  ] containerd-style profile: %zu BPF instructions, mean %lld us, best "
      "%lld us over %d runs\n",
      program.bpf.size() / sizeof(sock_filter), static_cast<long long>(us(total / kRuns)),
      static_cast<long long>(us(best)), kRuns);
  ::testing::Test::RecordProperty("compile_mean_us", std::to_string(us(total / kRuns)));

  int status = runConfined(program, [] {
    // fork (glibc: clone without namespace flags) and wait.
    pid_t pid = ::fork();
    CHILD_CHECK(pid >= 0);
    if (pid == 0) exitChild(42);
    int st = 0;
    CHILD_CHECK(::waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 42);
    // A thread: clone3 says ENOSYS, glibc falls back to clone.
    bool ran = false;
    std::thread([&] { ran = true; }).join();
    CHILD_CHECK(ran);
    void* mem =
        ::mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHILD_CHECK(mem != MAP_FAILED);
    static_cast<char*>(mem)[4096] = 1;
    CHILD_CHECK(::munmap(mem, 1 << 20) == 0);
    int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    CHILD_CHECK(fd >= 0);
    char buf[4096];
    CHILD_CHECK(::read(fd, buf, sizeof buf) > 0);
    CHILD_CHECK(::close(fd) == 0);
    CHILD_CHECK(::personality(0xffffffff) != -1);
    // Namespaces and what is not listed are denied with EPERM.
    CHILD_CHECK(::unshare(CLONE_NEWNS) == -1 && errno == EPERM);
    CHILD_CHECK(sysErrno(::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)) == EPERM);
    CHILD_CHECK(::mount("none", "/tmp", "tmpfs", 0, nullptr) == -1 && errno == EPERM);
    CHILD_CHECK(sysErrno(::syscall(SYS_clone3, nullptr, 0)) == ENOSYS);
    return 0;
  });
  EXPECT_TRUE(exitedZero(status));
}

}  // namespace
}  // namespace runwasi::sandbox
