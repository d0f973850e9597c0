#include "engine/wasm2c/toolchain.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/core.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/scope_exit.h"
#include "common/unique_fd.h"
#include "engine/wasm2c/glue_abi.h"

extern char** environ;

namespace runwasi::engine::wasm2c {
namespace {

// A build-time path when it still exists, else the bare name for a PATH lookup.
std::string toolPath(const std::string& configured, const char* buildPath, const char* name) {
  if (!configured.empty()) return configured;
  std::error_code ec;
  if (buildPath[0] != '\0' && std::filesystem::exists(buildPath, ec)) return buildPath;
  return name;
}

std::filesystem::path resolveOnPath(const std::string& name) {
  std::error_code ec;
  if (name.find('/') != std::string::npos) return std::filesystem::canonical(name, ec);
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::filesystem::path candidate = std::filesystem::path(dir.empty() ? "." : dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return std::filesystem::canonical(candidate, ec);
  }
  return {};
}

struct ToolFile {
  std::filesystem::path path;  // resolved: symlinks followed (cc -> gcc -> gcc-12 ...)
  struct stat st;
};

std::optional<ToolFile> statTool(const std::string& tool) {
  ToolFile file;
  file.path = resolveOnPath(tool);
  if (file.path.empty() || ::stat(file.path.c_str(), &file.st) != 0) return std::nullopt;
  return file;
}

std::string describe(const ToolFile& file) {
  return fmt::format("{} (size {}, mtime {}.{:09})", file.path.string(),
                     static_cast<int64_t>(file.st.st_size),
                     static_cast<int64_t>(file.st.st_mtim.tv_sec), file.st.st_mtim.tv_nsec);
}

// The build's compiler, recorded by CMake: its `--version` line describes `file` only if
// that is still the very binary CMake ran (same path, size and mtime).
bool isTheBuildsCompiler(const ToolFile& file) {
  return file.path == RUNWASI_WASM2C_CC_REAL &&
         static_cast<int64_t>(file.st.st_size) == RUNWASI_WASM2C_CC_SIZE &&
         static_cast<int64_t>(file.st.st_mtim.tv_sec) == RUNWASI_WASM2C_CC_MTIME;
}

std::string firstLines(const std::string& text, size_t count) {
  std::string out;
  std::istringstream in(text);
  std::string line;
  for (size_t i = 0; i < count && std::getline(in, line); ++i) {
    if (line.size() > 200) line = line.substr(0, 200) + "...";
    out += (i ? " | " : "") + line;
  }
  return out;
}

std::string joined(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

// Starts argv with stdin from /dev/null and stdout and stderr on `outFd`.
Expected<pid_t> spawnTool(const std::vector<std::string>& argv, int outFd, const char* dir) {
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  ScopeExit destroy([&] { posix_spawn_file_actions_destroy(&actions); });
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, outFd, 1);
  posix_spawn_file_actions_adddup2(&actions, outFd, 2);
  if (dir) posix_spawn_file_actions_addchdir_np(&actions, dir);
  pid_t pid = -1;
  int err = posix_spawnp(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  if (err != 0) return makeSysError(fmt::format("cannot run {}", argv[0]), err);
  return pid;
}

// The child's wait status; nullopt when a process-wide reaper collected it first.
Expected<std::optional<int>> waitTool(pid_t pid, const std::string& name) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno == EINTR) continue;
    if (errno == ECHILD) return std::optional<int>();
    return makeSysError(fmt::format("waiting for {}", name));
  }
  return std::optional<int>(status);
}

std::string describeStatus(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("signal {}", WTERMSIG(status));
  return fmt::format("status {}", status);
}

}  // namespace

std::string_view wabtVersion() {
  return RUNWASI_WABT_VERSION;
}

std::vector<std::string> defaultCflags() {
  return {"-O2",   "-fPIC", "-shared", "-fvisibility=hidden", "-fno-optimize-sibling-calls",
          "-pipe", "-w"};
}

Toolchain::Toolchain(ToolchainOptions options)
    : wasm2c_(toolPath(options.wasm2c, RUNWASI_WASM2C_EXECUTABLE, "wasm2c")),
      compiler_(toolPath(options.compiler, RUNWASI_WASM2C_CC, "cc")),
      cflags_(options.cflags.empty() ? defaultCflags() : std::move(options.cflags)) {
  loadKey_ = fmt::format("wasm2c {}; glue abi {}; cflags {}", wabtVersion(),
                         RUNWASI_W2C_ABI_VERSION, joined(cflags_));
}

std::string Toolchain::includeDir() const {
  return RUNWASI_WASM_RT_INCLUDE_DIR;
}

std::string toolIdentity(const std::string& tool) {
  std::optional<ToolFile> file = statTool(tool);
  return file ? describe(*file) : fmt::format("{} (not found)", tool);
}

std::string Toolchain::cacheKey() const {
  std::optional<ToolFile> cc = statTool(compiler_);
  std::string compiler = cc ? describe(*cc) : fmt::format("{} (not found)", compiler_);
  if (cc && isTheBuildsCompiler(*cc)) compiler += " " RUNWASI_WASM2C_CC_VERSION;
  return fmt::format("{}; wasm2c {}; cc {}", loadKey_, toolIdentity(wasm2c_), compiler);
}

Expected<void> Toolchain::check() const {
  std::call_once(checked_, [this] {
    if (auto version = toolOutput({compiler_, "--version"}); !version) {
      checkResult_ = tl::unexpected(version.error().context("C compiler " + compiler_));
      return;
    }
    auto w2c = toolOutput({wasm2c_, "--version"});
    if (!w2c) {
      checkResult_ = tl::unexpected(w2c.error().context("wasm2c"));
      return;
    }
    std::string got = firstLines(*w2c, 1);
    if (got != wabtVersion())
      checkResult_ = makeError(ErrorCode::kFailedPrecondition,
                               fmt::format("{} is wabt {}, but this engine's runtime is wabt {}",
                                           wasm2c_, got, wabtVersion()));
  });
  return checkResult_;
}

Expected<void> runTool(const std::vector<std::string>& argv, const std::filesystem::path& dir,
                       const std::filesystem::path& log) {
  UniqueFd out(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out) return makeSysError("cannot create " + log.string());
  TRY(pid_t pid, spawnTool(argv, out.get(), dir.c_str()));
  TRY(std::optional<int> status, waitTool(pid, argv[0]));
  if (status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) return {};
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!status) {
    // Our child was reaped by someone else: judge by the output the caller checks next.
    return {};
  }
  return makeError(ErrorCode::kInvalidArgument,
                   fmt::format("{} failed ({}): {}", argv[0], describeStatus(*status),
                               text.empty() ? "no output" : firstLines(text, 6)));
}

Expected<std::string> toolOutput(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return makeSysError("pipe");
  UniqueFd readEnd(fds[0]);
  UniqueFd writeEnd(fds[1]);
  // dup2 onto 1 and 2 clears O_CLOEXEC there, so only the child's copies stay open.
  auto pid = spawnTool(argv, writeEnd.get(), nullptr);
  writeEnd.reset();
  if (!pid) return tl::unexpected(pid.error());
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(readEnd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  TRY(std::optional<int> waited, waitTool(*pid, argv[0]));
  int status = waited.value_or(0);
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    return makeError(ErrorCode::kFailedPrecondition,
                     fmt::format("{} failed ({}): {}", joined(argv), describeStatus(status),
                                 firstLines(text, 3)));
  return text;
}

}  // namespace runwasi::engine::wasm2c
