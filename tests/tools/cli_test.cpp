// The runwasi CLI from the outside: statuses, messages, flags, on every engine.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "../support/process.h"
#include "common/file.h"
#include "common/unique_fd.h"

namespace runwasi::testing {
namespace {

namespace fs = std::filesystem;

std::string module(std::string_view name) {
  return (fs::path(RUNWASI_TEST_MODULES_DIR) / (std::string(name) + ".wasm")).string();
}

using Outcome = ProcessResult;

std::vector<std::string> cliArgv(const std::vector<std::string>& args) {
  std::vector<std::string> argv{RUNWASI_CLI};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

Outcome runCli(const std::vector<std::string>& args,
               const std::vector<std::string>& extraEnv = {}) {
  return runProcess(cliArgv(args), extraEnv);
}

size_t lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

class Cli : public ::testing::TestWithParam<std::string> {
 protected:
  // Runs `runwasi run --engine E <args>` with the shared test cache.
  Outcome run(std::vector<std::string> args, const std::vector<std::string>& extraEnv = {}) {
    std::vector<std::string> all{"run", "--engine", GetParam(), "--cache-dir",
                                 RUNWASI_TEST_CACHE_DIR};
    all.insert(all.end(), args.begin(), args.end());
    return runCli(all, extraEnv);
  }
  // A setup failure: status 125, exactly one line on stderr naming `part`, nothing on stdout.
  void expectSetupError(const Outcome& o, std::string_view part) {
    EXPECT_EQ(o.status, 125) << o.err;
    EXPECT_EQ(lines(o.err), 1u) << o.err;
    EXPECT_NE(o.err.find(part), std::string::npos) << o.err;
    EXPECT_EQ(o.out, "");
  }
};

TEST_P(Cli, HelloExitsZero) {
  Outcome o = run({module("hello")});
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "hello from wasm\n");
  EXPECT_EQ(o.err, "");
}

TEST_P(Cli, GuestExitCodePassesThrough) {
  EXPECT_EQ(run({module("exit42")}).status, 42);
}

TEST_P(Cli, TrapExits134WithTheMessageOnStderr) {
  Outcome o = run({module("trap_unreachable")});
  EXPECT_EQ(o.status, 134);
  EXPECT_NE(o.err.find("wasm trap"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("unreachable"), std::string::npos) << o.err;
}

TEST_P(Cli, NamedFunctionAfterHash) {
  Outcome o = run({module("custom_entry") + "#greet"});
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "greet called\n");
}

TEST_P(Cli, EnvFlagsAndInheritEnv) {
  Outcome o = run({"--env", "A=1", "--env=B=2", module("args_env"), "x"}, {"HOST_ONLY=yes"});
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("env=A=1\nenv=B=2\n"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("HOST_ONLY"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("argv[1]=x\n"), std::string::npos) << o.out;

  o = run({"--inherit-env", "--env", "HOST_ONLY=overridden", module("args_env")},
          {"HOST_ONLY=yes"});
  EXPECT_NE(o.out.find("env=HOST_ONLY=overridden\n"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("env=HOST_ONLY=yes"), std::string::npos) << o.out;
}

TEST_P(Cli, DirFlagPreopensAHostDirectory) {
  fs::path dir = fs::temp_directory_path() / ("runwasi-cli-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Outcome o = run({"--dir", dir.string() + "::/data", module("file_rw"), "/data/f.txt", "abc"});
  EXPECT_EQ(o.status, 0) << o.err;
  auto b = readFile(dir / "f.txt");
  EXPECT_TRUE(b && std::string(b->begin(), b->end()) == "abc");
  fs::remove_all(dir);
}

TEST_P(Cli, MissingModuleFile) {
  expectSetupError(run({"/nonexistent/app.wasm"}), "No such file");
}
TEST_P(Cli, NotAWasmFile) {
  expectSetupError(run({module("not_wasm")}), "not a WebAssembly module");
}
TEST_P(Cli, TruncatedModule) {
  expectSetupError(run({module("truncated")}), "truncated");
}
TEST_P(Cli, InvalidModule) {
  expectSetupError(run({module("invalid")}), "invalid.wasm");
}
TEST_P(Cli, MissingExport) {
  expectSetupError(run({module("hello") + "#nope"}), "\"nope\"");
}
TEST_P(Cli, MissingImport) {
  expectSetupError(run({module("import_unknown")}), "env.host_magic");
}
TEST_P(Cli, MissingPreopenDir) {
  expectSetupError(run({"--dir", "/nonexistent-dir::/", module("hello")}), "/nonexistent-dir");
}

TEST_P(Cli, UsageErrorsExit2) {
  Outcome o = runCli({"run", "--engine", GetParam(), "--bogus", module("hello")});
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find("unknown option"), std::string::npos) << o.err;
  EXPECT_EQ(runCli({"run", "--engine", GetParam()}).status, 2);
  EXPECT_EQ(runCli({"run", "--engine", "nosuch", module("hello")}).status, 2);
}

TEST_P(Cli, InfiniteLoopRunsUntilKilled) {
  UniqueFd out = captureFile(), err = captureFile();
  pid_t pid = spawnProcess(cliArgv({"run", "--engine", GetParam(), "--cache-dir",
                                    RUNWASI_TEST_CACHE_DIR, module("infinite_loop")}),
                           out.get(), err.get());
  ASSERT_GT(pid, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  int wstatus = 0;
  EXPECT_EQ(::waitpid(pid, &wstatus, WNOHANG), 0) << "the loop ended by itself: " << captured(err);
  ::kill(pid, SIGKILL);
  EXPECT_EQ(waitFor(pid), 128 + SIGKILL);
}

TEST_P(Cli, CompileFillsTheCacheAndRunUsesIt) {
  fs::path cache = fs::temp_directory_path() / ("runwasi-cache-" + std::to_string(::getpid()));
  Outcome c =
      runCli({"compile", "--engine", GetParam(), "--cache-dir", cache.string(), module("hello")});
  EXPECT_EQ(c.status, 0) << c.err;
  size_t files = 0;
  for (auto& e : fs::recursive_directory_iterator(cache))
    if (e.is_regular_file()) ++files;
  EXPECT_EQ(files, 2u);  // the artifact and its stamp
  Outcome r =
      runCli({"run", "--engine", GetParam(), "--cache-dir", cache.string(), module("hello")});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "hello from wasm\n");
  fs::remove_all(cache);
}

INSTANTIATE_TEST_SUITE_P(Engines, Cli, ::testing::Values("v8", "wasm2c"),
                         [](const auto& info) { return info.param; });

TEST(CliVersion, NamesEveryEngine) {
  Outcome o = runCli({"--version"});
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.out.rfind("runwasi ", 0), 0u) << o.out;
  EXPECT_NE(o.out.find("v8"), std::string::npos);
  EXPECT_NE(o.out.find("wasm2c"), std::string::npos);
}

}  // namespace
}  // namespace runwasi::testing
