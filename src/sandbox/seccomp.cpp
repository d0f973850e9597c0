#include "sandbox/seccomp.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace runwasi::sandbox {
namespace {

constexpr std::string_view kField = "linux.seccomp";
constexpr unsigned kMaxArgIndex = 5;  // syscalls take at most six arguments

struct ArchName {
  std::string_view name;
  uint32_t token;
};
// The OCI names (runtime-spec config-linux.md) of the architectures libseccomp 2.5 knows.
constexpr std::array kArchitectures = {
    ArchName{"SCMP_ARCH_X86", SCMP_ARCH_X86},
    ArchName{"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    ArchName{"SCMP_ARCH_X32", SCMP_ARCH_X32},
    ArchName{"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    ArchName{"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    ArchName{"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    ArchName{"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    ArchName{"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    ArchName{"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    ArchName{"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    ArchName{"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    ArchName{"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    ArchName{"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    ArchName{"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    ArchName{"SCMP_ARCH_S390", SCMP_ARCH_S390},
    ArchName{"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    ArchName{"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    ArchName{"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    ArchName{"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
};

struct OpName {
  std::string_view name;
  scmp_compare op;
};
constexpr std::array kOperators = {
    OpName{"SCMP_CMP_NE", SCMP_CMP_NE},
    OpName{"SCMP_CMP_LT", SCMP_CMP_LT},
    OpName{"SCMP_CMP_LE", SCMP_CMP_LE},
    OpName{"SCMP_CMP_EQ", SCMP_CMP_EQ},
    OpName{"SCMP_CMP_GE", SCMP_CMP_GE},
    OpName{"SCMP_CMP_GT", SCMP_CMP_GT},
    OpName{"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

struct FlagName {
  std::string_view name;
  unsigned bit;  // 0: accepted and ignored
};
constexpr std::array kFlags = {
    FlagName{"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    FlagName{"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    FlagName{"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    // Only changes how a listener's wait is interrupted; there is no listener (no NOTIFY).
    FlagName{"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", 0},
};

template <typename Table>
auto findByName(const Table& table, std::string_view name) -> const typename Table::value_type* {
  for (const auto& entry : table) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

// The libseccomp action for an OCI action name. errnoRet is the return code of ERRNO and the
// message of TRACE, EPERM by default for both (as runc and crun).
Expected<uint32_t> resolveAction(std::string_view name, std::optional<uint32_t> errnoRet,
                                 std::string_view field) {
  uint32_t ret = errnoRet.value_or(EPERM);
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(ret);
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(ret);
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (name == "SCMP_ACT_NOTIFY") {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: SCMP_ACT_NOTIFY needs a seccomp listener, which is not "
                                 "supported",
                                 field));
  }
  return makeError(ErrorCode::kInvalidArgument,
                   fmt::format("{}: unknown action \"{}\"", field, name));
}

struct FilterDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using FilterCtx = std::unique_ptr<void, FilterDeleter>;

tl::unexpected<Error> libseccompError(std::string message, int rc) {
  return tl::unexpected(
      Error{ErrorCode::kInvalidArgument, -rc, fmt::format("{}: {}", message, std::strerror(-rc))});
}

// The rule's comparisons, checked. Empty: the rule is unconditional.
Expected<std::vector<scmp_arg_cmp>> resolveArgs(const oci::SeccompRule& rule,
                                                std::string_view field) {
  std::vector<scmp_arg_cmp> cmps;
  cmps.reserve(rule.args.size());
  for (size_t i = 0; i < rule.args.size(); ++i) {
    const oci::SeccompArg& arg = rule.args[i];
    if (arg.index > kMaxArgIndex) {
      return makeError(ErrorCode::kInvalidArgument, fmt::format("{}.args[{}].index: {} is above {}",
                                                                field, i, arg.index, kMaxArgIndex));
    }
    const OpName* op = findByName(kOperators, arg.op);
    if (op == nullptr) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("{}.args[{}].op: unknown operator \"{}\"", field, i, arg.op));
    }
    // For SCMP_CMP_MASKED_EQ, datum_a is the mask and datum_b the value: the spec's value
    // and valueTwo in that order, as runc passes them.
    cmps.push_back(scmp_arg_cmp{arg.index, op->op, arg.value, arg.valueTwo});
  }
  return cmps;
}

// libseccomp refuses two comparisons of the same argument in one rule; runc then adds each
// comparison as a rule of its own (their OR), and so do we.
bool repeatsAnIndex(const std::vector<scmp_arg_cmp>& cmps) {
  std::array<bool, kMaxArgIndex + 1> seen{};
  for (const scmp_arg_cmp& cmp : cmps) {
    if (seen[cmp.arg]) return true;
    seen[cmp.arg] = true;
  }
  return false;
}

Expected<void> addRule(void* ctx, const oci::SeccompRule& rule, uint32_t defaultAction,
                       size_t index) {
  std::string field = fmt::format("{}.syscalls[{}]", kField, index);
  TRY(uint32_t action, resolveAction(rule.action, rule.errnoRet, field + ".action"));
  TRY(std::vector<scmp_arg_cmp> cmps, resolveArgs(rule, field));
  // libseccomp refuses a rule with the default action; it would change nothing anyway.
  if (action == defaultAction) return {};
  bool separate = repeatsAnIndex(cmps);
  for (const std::string& name : rule.names) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    // Unknown to this libseccomp (a newer kernel's syscall): skipped, as runc does.
    if (nr == __NR_SCMP_ERROR) continue;
    auto add = [&](unsigned count, const scmp_arg_cmp* first) -> Expected<void> {
      int rc = seccomp_rule_add_array(ctx, action, nr, count, first);
      if (rc < 0) return libseccompError(fmt::format("{}: syscall \"{}\"", field, name), rc);
      return {};
    };
    if (!separate) {
      TRY_VOID(add(static_cast<unsigned>(cmps.size()), cmps.data()));
      continue;
    }
    for (const scmp_arg_cmp& cmp : cmps) {
      TRY_VOID(add(1, &cmp));
    }
  }
  return {};
}

Expected<Bytes> exportBpf(void* ctx) {
  UniqueFd fd(::memfd_create("seccomp-bpf", MFD_CLOEXEC));
  if (!fd) return makeSysError("memfd_create");
  int rc = seccomp_export_bpf(ctx, fd.get());
  if (rc < 0) {
    return tl::unexpected(
        Error{ErrorCode::kInternal, -rc,
              fmt::format("exporting the seccomp BPF program: {}", std::strerror(-rc))});
  }
  TRY(Bytes bpf, readFd(fd.get(), "the seccomp BPF program"));
  // The kernel refuses longer programs; better to fail Create than the container's start.
  if (bpf.size() / sizeof(sock_filter) > BPF_MAXINSNS) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: the compiled filter has {} instructions, the kernel takes "
                                 "at most {}",
                                 kField, bpf.size() / sizeof(sock_filter), BPF_MAXINSNS));
  }
  return bpf;
}

}  // namespace

Expected<SeccompProgram> compileSeccomp(const oci::Seccomp& profile) {
  SeccompProgram program;
  for (size_t i = 0; i < profile.flags.size(); ++i) {
    const FlagName* flag = findByName(kFlags, profile.flags[i]);
    if (flag == nullptr) {
      return makeError(ErrorCode::kInvalidArgument, fmt::format("{}.flags[{}]: unknown flag \"{}\"",
                                                                kField, i, profile.flags[i]));
    }
    program.flags |= flag->bit;
  }

  TRY(uint32_t defaultAction, resolveAction(profile.defaultAction, profile.defaultErrnoRet,
                                            fmt::format("{}.defaultAction", kField)));
  FilterCtx ctx(seccomp_init(defaultAction));
  if (!ctx) {
    return makeError(
        ErrorCode::kInvalidArgument,
        fmt::format("{}.defaultAction: libseccomp refuses \"{}\"", kField, profile.defaultAction));
  }
  // We export the program and load it ourselves; no_new_privs is the spec's to ask for.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0); rc < 0) {
    return libseccompError("setting SCMP_FLTATR_CTL_NNP", rc);
  }

  for (size_t i = 0; i < profile.architectures.size(); ++i) {
    const std::string& name = profile.architectures[i];
    const ArchName* arch = findByName(kArchitectures, name);
    if (arch == nullptr) {
      return makeError(
          ErrorCode::kInvalidArgument,
          fmt::format("{}.architectures[{}]: unknown architecture \"{}\"", kField, i, name));
    }
    // The native architecture is in the filter from the start.
    if (int rc = seccomp_arch_add(ctx.get(), arch->token); rc < 0 && rc != -EEXIST) {
      return libseccompError(fmt::format("{}.architectures[{}]: \"{}\"", kField, i, name), rc);
    }
  }

  for (size_t i = 0; i < profile.syscalls.size(); ++i) {
    TRY_VOID(addRule(ctx.get(), profile.syscalls[i], defaultAction, i));
  }

  TRY(program.bpf, exportBpf(ctx.get()));
  return program;
}

int loadSeccomp(const SeccompProgram& program) {
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(program.bpf.size() / sizeof(sock_filter));
  // The kernel only reads the filter.
  prog.filter = reinterpret_cast<sock_filter*>(const_cast<uint8_t*>(program.bpf.data()));
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, program.flags, &prog) == 0) return 0;
  int err = errno;
  // Kernels before 3.17 have no seccomp(2); prctl takes no flags.
  if (err == ENOSYS && program.flags == 0) {
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0) return 0;
    err = errno;
  }
  return err;
}

}  // namespace runwasi::sandbox
