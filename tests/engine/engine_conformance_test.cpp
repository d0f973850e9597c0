// One conformance suite, typed over every engine: each test module, each outcome.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "../support/process.h"
#include "capture.h"
#include "common/file.h"
#include "common/unique_fd.h"
#include "engine/registry.h"

namespace runwasi::testing {
namespace {

using engine::RunResult;

struct V8 {
  static constexpr const char* kName = "v8";
};
struct Wasm2c {
  static constexpr const char* kName = "wasm2c";
};

template <typename E>
class EngineConformance : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { engine_ = std::move(*engine::makeEngine(E::kName)); }
  static void TearDownTestSuite() { engine_.reset(); }

  RunOutput run(std::string_view module, const RunSpec& spec = {}) {
    return runModule(*engine_, module, spec);
  }

  // Runs a module that must return or exit normally.
  RunResult runOk(std::string_view module, const RunSpec& spec, RunOutput& output) {
    output = run(module, spec);
    EXPECT_TRUE(output.result.has_value()) << (output.result ? "" : output.result.error().message);
    return output.result.value_or(RunResult{RunResult::Kind::kTrapped, 999, "no result"});
  }

  static inline std::unique_ptr<engine::Engine> engine_;
};

class EngineNames {
 public:
  template <typename E>
  static std::string GetName(int) {
    return E::kName;
  }
};

using Engines = ::testing::Types<V8, Wasm2c>;
TYPED_TEST_SUITE(EngineConformance, Engines, EngineNames);

TYPED_TEST(EngineConformance, HelloReturnsZero) {
  RunOutput out{RunResult{}, "", ""};
  RunResult r = this->runOk("hello", {}, out);
  EXPECT_EQ(r.kind, RunResult::Kind::kReturned);
  EXPECT_EQ(r.exitCode, 0u);
  EXPECT_EQ(out.out, "hello from wasm\n");
  EXPECT_EQ(out.err, "");
}

TYPED_TEST(EngineConformance, HelloWithoutPrecompiledArtifact) {
  RunSpec spec;
  spec.precompiled = false;
  RunOutput out{RunResult{}, "", ""};
  RunResult r = this->runOk("hello", spec, out);
  EXPECT_EQ(r.exitCode, 0u);
  EXPECT_EQ(out.out, "hello from wasm\n");
}

// The container process waits for Start in beforeInstantiate: it must come once, after
// loading and before any guest code (here: before the guest's first write).
TYPED_TEST(EngineConformance, BeforeInstantiateRunsOnceBeforeTheGuest) {
  UniqueFd out(::memfd_create("guest-stdout", MFD_CLOEXEC));
  ASSERT_TRUE(out);
  auto size = [&] {
    struct stat st{};
    return ::fstat(out.get(), &st) == 0 ? st.st_size : -1;
  };
  int calls = 0;
  off_t sizeAtCall = -1;
  RunSpec spec;
  spec.stdoutFd = out.get();
  spec.beforeInstantiate = [&] {
    ++calls;
    sizeAtCall = size();
  };
  RunOutput output{RunResult{}, "", ""};
  RunResult r = this->runOk("hello", spec, output);
  EXPECT_EQ(r.exitCode, 0u);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(sizeAtCall, 0);
  EXPECT_EQ(size(), static_cast<off_t>(std::string_view("hello from wasm\n").size()));

  // A module that does not link never gets that far.
  calls = 0;
  RunSpec unlinked;
  unlinked.beforeInstantiate = [&] { ++calls; };
  EXPECT_FALSE(this->run("import_unknown", unlinked).result.has_value());
  EXPECT_EQ(calls, 0);
}

TYPED_TEST(EngineConformance, ProcExitCodeIsTheExitStatus) {
  RunOutput out{RunResult{}, "", ""};
  RunResult r = this->runOk("exit42", {}, out);
  EXPECT_EQ(r.kind, RunResult::Kind::kExited);
  EXPECT_EQ(r.exitCode, 42u);
}

TYPED_TEST(EngineConformance, CustomEntrypointIsCalled) {
  RunSpec spec;
  spec.function = "greet";
  RunOutput out{RunResult{}, "", ""};
  RunResult r = this->runOk("custom_entry", spec, out);
  EXPECT_EQ(r.exitCode, 0u);
  EXPECT_EQ(out.out, "greet called\n");
}

TYPED_TEST(EngineConformance, MissingExportIsALinkError) {
  RunSpec spec;
  spec.function = "no_such_function";
  RunOutput out = this->run("hello", spec);
  ASSERT_FALSE(out.result.has_value());
  EXPECT_NE(out.result.error().message.find("no_such_function"), std::string::npos)
      << out.result.error().message;
}

TYPED_TEST(EngineConformance, ModuleWithoutStartIsALinkError) {
  RunSpec spec;
  spec.precompiled = false;
  RunOutput out = this->run("no_start", spec);
  ASSERT_FALSE(out.result.has_value());
  EXPECT_NE(out.result.error().message.find("_start"), std::string::npos)
      << out.result.error().message;
}

struct TrapCase {
  const char* module;
  const char* messagePart;
};

TYPED_TEST(EngineConformance, TrapsEndTheRunWith134AndAMessage) {
  for (TrapCase c : {TrapCase{"trap_unreachable", "unreachable"},
                     TrapCase{"trap_div_zero", "divide"}, TrapCase{"trap_oob", "out of bounds"}}) {
    SCOPED_TRACE(c.module);
    RunOutput out{RunResult{}, "", ""};
    RunResult r = this->runOk(c.module, {}, out);
    EXPECT_EQ(r.kind, RunResult::Kind::kTrapped);
    EXPECT_EQ(r.exitCode, 134u);
    EXPECT_NE(r.trapMessage.find(c.messagePart), std::string::npos) << r.trapMessage;
  }
}

TYPED_TEST(EngineConformance, OutputBeforeATrapIsKept) {
  RunOutput out{RunResult{}, "", ""};
  this->runOk("trap_unreachable", {}, out);
  EXPECT_EQ(out.out, "before trap\n");
}

TYPED_TEST(EngineConformance, ArgsAndEnvAreExactlyTheGivenOnes) {
  RunSpec spec;
  spec.args = {"x", "y z", ""};
  spec.env = {"A=1", "B=two words", "EMPTY="};
  RunOutput out{RunResult{}, "", ""};
  RunResult r = this->runOk("args_env", spec, out);
  EXPECT_EQ(r.exitCode, 0u);
  EXPECT_EQ(out.out,
            "argc=4\nargv[0]=args_env.wasm\nargv[1]=x\nargv[2]=y z\nargv[3]=\n"
            "env=A=1\nenv=B=two words\nenv=EMPTY=\n");
}

TYPED_TEST(EngineConformance, FilesInAPreopenAreWrittenAndReadBack) {
  ScratchDir dir;
  RunSpec spec;
  spec.preopens = {{dir.path().string(), "/data"}};
  spec.args = {"/data/out.txt", "some content"};
  RunOutput out{RunResult{}, "", ""};
  RunResult r = this->runOk("file_rw", spec, out);
  EXPECT_EQ(r.exitCode, 0u) << out.err;
  EXPECT_EQ(out.out, "some content\n");
  auto onHost = readFile(dir.path() / "out.txt");
  ASSERT_TRUE(onHost.has_value());
  EXPECT_EQ(std::string(onHost->begin(), onHost->end()), "some content");
}

TYPED_TEST(EngineConformance, AHostFileIsReadableThroughAPreopen) {
  ScratchDir dir;
  std::ofstream(dir.path() / "in.txt") << "from the host";
  RunSpec spec;
  spec.preopens = {{dir.path().string(), "/"}};
  spec.args = {"--read", "/in.txt"};
  RunOutput out{RunResult{}, "", ""};
  RunResult r = this->runOk("file_rw", spec, out);
  EXPECT_EQ(r.exitCode, 0u) << out.err;
  EXPECT_EQ(out.out, "from the host");
}

TYPED_TEST(EngineConformance, NoPreopenMeansNoFiles) {
  RunSpec spec;
  spec.args = {"/data/out.txt", "x"};
  RunOutput out{RunResult{}, "", ""};
  RunResult r = this->runOk("file_rw", spec, out);
  EXPECT_EQ(r.exitCode, 1u);
  EXPECT_NE(out.err.find("file_rw:"), std::string::npos) << out.err;
}

TYPED_TEST(EngineConformance, StdinIsCopiedToStdout) {
  RunSpec spec;
  spec.stdinData = std::string(100000, 'q') + "end\n";
  RunOutput out{RunResult{}, "", ""};
  RunResult r = this->runOk("stdin_echo", spec, out);
  EXPECT_EQ(r.exitCode, 0u);
  EXPECT_EQ(out.out, spec.stdinData);
}

TYPED_TEST(EngineConformance, SleepWaitsThroughPollOneoff) {
  RunSpec spec;
  spec.args = {"120"};
  RunOutput out{RunResult{}, "", ""};
  auto start = std::chrono::steady_clock::now();
  RunResult r = this->runOk("sleep", spec, out);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.exitCode, 0u) << out.err;
  EXPECT_GE(elapsed, std::chrono::milliseconds(120));
  EXPECT_EQ(out.out.rfind("slept ", 0), 0u) << out.out;
}

TYPED_TEST(EngineConformance, RandomBytesComeFromTheKernel) {
  RunOutput out{RunResult{}, "", ""};
  RunResult r = this->runOk("random", {}, out);
  EXPECT_EQ(r.exitCode, 0u) << out.err;
  EXPECT_EQ(out.out.size(), 130u);
}

TYPED_TEST(EngineConformance, MemoryGrows) {
  RunOutput out{RunResult{}, "", ""};
  RunResult r = this->runOk("memory_grow", {}, out);
  EXPECT_EQ(r.exitCode, 0u) << out.err;
  unsigned pages = 0;
  ASSERT_EQ(std::sscanf(out.out.c_str(), "grew %u pages", &pages), 1) << out.out;
  EXPECT_GE(pages, 1024u);
}

TYPED_TEST(EngineConformance, LargeOutputArrivesWhole) {
  RunOutput out{RunResult{}, "", ""};
  RunResult r = this->runOk("large_output", {}, out);
  EXPECT_EQ(r.exitCode, 0u) << out.err;
  EXPECT_EQ(out.out.size(), 10u * 1024 * 1024);
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(out.out.data()), out.out.size());
  EXPECT_EQ(sha256Hex(bytes), "4e4714aa1dbc252803a21aa49508f7d93fb50b665d80469d4f95b07ada244213");
}

TYPED_TEST(EngineConformance, PathEscapesAreAllBlocked) {
  ScratchDir dir;
  RunSpec spec;
  spec.preopens = {{dir.path().string(), "/"}};
  RunOutput out{RunResult{}, "", ""};
  RunResult r = this->runOk("path_escape", spec, out);
  EXPECT_EQ(r.exitCode, 0u) << out.out << out.err;
  EXPECT_EQ(out.out.find("ESCAPED"), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("blocked"), std::string::npos) << out.out;
}

// The body of InfiniteLoopRunsUntilKilled, run in a child process: it never returns.
TYPED_TEST(EngineConformance, DISABLED_InfiniteLoopChild) {
  RunSpec spec;
  spec.stdoutFd = STDOUT_FILENO;
  this->run("infinite_loop", spec);
  ADD_FAILURE() << "the infinite loop returned";
}

TYPED_TEST(EngineConformance, InfiniteLoopRunsUntilKilled) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd readEnd(fds[0]), writeEnd(fds[1]);
  std::string filter = std::string("--gtest_filter=") +
                       ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() +
                       ".DISABLED_InfiniteLoopChild";
  pid_t pid = spawnProcess({"/proc/self/exe", filter, "--gtest_also_run_disabled_tests"},
                           writeEnd.get(), STDERR_FILENO);
  ASSERT_GT(pid, 0);
  writeEnd.reset();

  // The guest says "looping" once it runs (after gtest's own lines).
  std::string seen;
  while (seen.find("looping\n") == std::string::npos) {
    pollfd p{readEnd.get(), POLLIN, 0};
    if (::poll(&p, 1, 120000) != 1) break;
    char buf[4096];
    ssize_t n = ::read(readEnd.get(), buf, sizeof buf);
    if (n <= 0) break;
    seen.append(buf, static_cast<size_t>(n));
  }
  EXPECT_NE(seen.find("looping\n"), std::string::npos) << seen;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, WNOHANG), 0) << "the loop ended by itself: " << seen;
  ::kill(pid, SIGKILL);
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TYPED_TEST(EngineConformance, UnknownImportIsNamed) {
  RunSpec spec;
  spec.precompiled = false;
  RunOutput out = this->run("import_unknown", spec);
  ASSERT_FALSE(out.result.has_value());
  EXPECT_NE(out.result.error().message.find("env.host_magic"), std::string::npos)
      << out.result.error().message;
}

TYPED_TEST(EngineConformance, UnknownImportCanBeAStubThatTraps) {
  RunSpec spec;
  spec.precompiled = false;
  spec.stubUnknownImports = true;
  RunOutput out{RunResult{}, "", ""};
  RunResult r = this->runOk("import_unknown", spec, out);
  EXPECT_EQ(r.kind, RunResult::Kind::kTrapped);
  EXPECT_EQ(r.exitCode, 134u);
}

TYPED_TEST(EngineConformance, WasiImportOfTheWrongTypeIsNamed) {
  RunSpec spec;
  spec.precompiled = false;
  RunOutput out = this->run("import_bad_signature", spec);
  ASSERT_FALSE(out.result.has_value());
  EXPECT_NE(out.result.error().message.find("fd_write"), std::string::npos)
      << out.result.error().message;
}

TYPED_TEST(EngineConformance, BadModulesAreErrorsNotCrashes) {
  for (const char* name : {"not_wasm", "truncated", "invalid"}) {
    SCOPED_TRACE(name);
    for (bool precompiled : {false, true}) {
      RunSpec spec;
      spec.precompiled = precompiled;
      RunOutput out = this->run(name, spec);
      ASSERT_FALSE(out.result.has_value());
      EXPECT_FALSE(out.result.error().message.empty());
      EXPECT_EQ(out.result.error().message.find('\n'), std::string::npos)
          << out.result.error().message;
    }
  }
}

}  // namespace
}  // namespace runwasi::testing
