// wasm2c-specific behaviour: artifacts (round trip, rejection, cache key), and that traps,
// exits and refused runs leave nothing behind. The generic behaviour is in the typed suite.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "capture.h"
#include "common/file.h"
#include "engine/artifact_cache.h"
#include "engine/wasm2c/wasm2c_engine.h"

namespace runwasi::testing {
namespace {

using engine::Engine;
using engine::ModuleSource;
using engine::RunOptions;
using engine::RunResult;

// A module from WAT text, through wat2wasm.
ModuleSource watModule(std::string_view name, std::string_view wat) {
  ScratchDir dir;
  std::filesystem::path in = dir.path() / "m.wat", out = dir.path() / "m.wasm";
  std::ofstream(in) << wat;
  std::string cmd = "wat2wasm '" + in.string() + "' -o '" + out.string() + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto bytes = readFile(out);
  EXPECT_TRUE(bytes.has_value());
  return engine::makeModuleSource(std::string(name), bytes.value_or(Bytes{}));
}

ModuleSource fileModule(std::string_view name) {
  auto bytes = readFile(modulePath(name));
  EXPECT_TRUE(bytes.has_value()) << modulePath(name);
  return engine::makeModuleSource(std::string(name), bytes.value_or(Bytes{}));
}

UniqueFd memfdWith(std::span<const uint8_t> bytes) {
  UniqueFd fd(::memfd_create("wasm2c-test", MFD_CLOEXEC));
  EXPECT_EQ(::write(fd.get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  return fd;
}

// An engine that cannot compile: whatever it runs came from the artifact it was given.
std::unique_ptr<Engine> engineWithoutCompiler(std::vector<std::string> cflags = {}) {
  return engine::makeWasm2cEngine({"", "/nonexistent/cc", std::move(cflags)});
}

struct GuestRun {
  Expected<RunResult> result;
  std::string out;
};

GuestRun runWith(Engine& engine, const ModuleSource& module, int artifactFd,
                 wasi::Config config = {}, RunOptions options = {}) {
  MemFile out;
  config.args = {module.name};
  config.stdoutFd = out.fd();
  auto host = wasi::Host::create(std::move(config));
  if (!host) return {tl::unexpected(host.error()), ""};
  auto result = engine.run(module, artifactFd, options, **host);
  host->reset();
  return {std::move(result), out.contents()};
}

Bytes precompiled(const Engine& engine, const ModuleSource& module) {
  auto artifact = engine.precompiler()->precompile(module);
  EXPECT_TRUE(artifact.has_value()) << (artifact ? "" : artifact.error().message);
  return artifact.value_or(Bytes{});
}

size_t countOpenFds() {
  size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Lines and total size of this process's mappings.
std::pair<size_t, uint64_t> mappings() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  size_t lines = 0;
  uint64_t bytes = 0;
  while (std::getline(maps, line)) {
    ++lines;
    uint64_t lo = 0, hi = 0;
    char dash;
    std::istringstream(line) >> std::hex >> lo >> dash >> hi;
    bytes += hi - lo;
  }
  return {lines, bytes};
}

constexpr std::string_view kOpenThenTrap = R"((module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "held.txt")
  (func (export "_start")
    ;; creates and opens held.txt in the first preopen, then traps with the fd open
    (i32.store (i32.const 200)
      (call $path_open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 8) (i32.const 1)
                       (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 64)))
    unreachable))
)";

constexpr std::string_view kRecurse = R"((module
  (func $f (export "_start") (call $f))
  (func $g (param i32) (result i32) (i32.add (i32.const 1) (call $g (local.get 0))))
  (func (export "accumulate") (drop (call $g (i32.const 0)))))
)";

constexpr std::string_view kReadStdin = R"((module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 16))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 32)))))
)";

constexpr std::string_view kStub = R"((module
  (import "env" "host_magic" (func $magic (param i64 f32) (result f64)))
  (func (export "_start") (drop (call $magic (i64.const 1) (f32.const 2)))))
)";

class Wasm2cEngineTest : public ::testing::Test {
 protected:
  std::unique_ptr<Engine> engine_ = engine::makeWasm2cEngine();
};

TEST_F(Wasm2cEngineTest, NameAndVersion) {
  EXPECT_EQ(engine_->name(), "wasm2c");
  EXPECT_NE(engine_->version().find("1.0.32"), std::string::npos) << engine_->version();
  ASSERT_NE(engine_->precompiler(), nullptr);
  std::string key = engine_->precompiler()->cacheKey();
  EXPECT_EQ(key.rfind("wasm2c 1.0.32", 0), 0u) << key;
  EXPECT_NE(key.find("-O2"), std::string::npos) << key;
  EXPECT_NE(key.find("cc "), std::string::npos) << key;
}

TEST_F(Wasm2cEngineTest, ArtifactRoundTripIsLoadedAndUsed) {
  ModuleSource hello = fileModule("hello");
  Bytes artifact = precompiled(*engine_, hello);
  UniqueFd fd = memfdWith(artifact);
  auto noCompiler = engineWithoutCompiler();
  for (int i = 0; i < 2; ++i) {  // loadable again after the first dlclose
    GuestRun run = runWith(*noCompiler, hello, fd.get());
    ASSERT_TRUE(run.result.has_value()) << run.result.error().message;
    EXPECT_EQ(run.result->kind, RunResult::Kind::kReturned);
    EXPECT_EQ(run.out, "hello from wasm\n");
  }
  // Without the artifact, that engine would have had to compile, and cannot.
  GuestRun compiled = runWith(*noCompiler, hello, -1);
  ASSERT_FALSE(compiled.result.has_value());
  EXPECT_NE(compiled.result.error().message.find("/nonexistent/cc"), std::string::npos)
      << compiled.result.error().message;
}

TEST_F(Wasm2cEngineTest, ForeignOrCorruptedArtifactsFallBackToCompiling) {
  ModuleSource hello = fileModule("hello");
  Bytes good = precompiled(*engine_, hello);
  ASSERT_GT(good.size(), 4096u);

  std::vector<std::pair<std::string, Bytes>> bad;
  bad.emplace_back("made for another module", precompiled(*engine_, fileModule("exit42")));
  Bytes flipped = good;
  flipped[good.size() / 3] ^= 0x40;
  bad.emplace_back("one byte flipped", flipped);
  bad.emplace_back("truncated", Bytes(good.begin(), good.begin() + good.size() / 2));
  bad.emplace_back("empty", Bytes{});
  auto libc = readFile("/lib/x86_64-linux-gnu/libc.so.6");
  if (libc) bad.emplace_back("a foreign shared object", *libc);

  auto noCompiler = engineWithoutCompiler();
  for (auto& [what, bytes] : bad) {
    SCOPED_TRACE(what);
    UniqueFd fd = memfdWith(bytes);
    GuestRun refused = runWith(*noCompiler, hello, fd.get());  // not loaded, so it must compile
    EXPECT_FALSE(refused.result.has_value());
    GuestRun run = runWith(*engine_, hello, fd.get());  // and compiling works
    ASSERT_TRUE(run.result.has_value()) << run.result.error().message;
    EXPECT_EQ(run.out, "hello from wasm\n");
  }
}

TEST_F(Wasm2cEngineTest, CacheKeyFollowsTheFlags) {
  std::vector<std::string> o1 = engine::wasm2c::defaultCflags();
  for (std::string& flag : o1)
    if (flag == "-O2") flag = "-O1";
  auto other = engine::makeWasm2cEngine({"", "", o1});
  std::string key = engine_->precompiler()->cacheKey();
  std::string otherKey = other->precompiler()->cacheKey();
  EXPECT_NE(key, otherKey);
  EXPECT_NE(otherKey.find("-O1"), std::string::npos) << otherKey;
  EXPECT_EQ(key, engine::makeWasm2cEngine()->precompiler()->cacheKey());

  // An artifact made under other flags is not loaded.
  ModuleSource hello = fileModule("hello");
  UniqueFd fd = memfdWith(precompiled(*other, hello));
  EXPECT_TRUE(runWith(*engineWithoutCompiler(o1), hello, fd.get()).result.has_value());
  EXPECT_FALSE(runWith(*engineWithoutCompiler(), hello, fd.get()).result.has_value());
}

// The key names the tool binaries by path, size and mtime: replacing either tool changes it,
// and nothing else does.
TEST_F(Wasm2cEngineTest, CacheKeyFollowsTheToolBinaries) {
  ScratchDir tmp;
  auto writeTool = [&](const std::string& name, const std::string& text) {
    std::filesystem::path path = tmp.path() / name;
    std::ofstream(path, std::ios::trunc) << "#!/bin/sh\n" << text << "\n";
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    return path.string();
  };
  std::string cc = writeTool("cc", "exec cc \"$@\"");
  std::string w2c = writeTool("wasm2c", "exec wasm2c \"$@\"");
  auto keyOf = [&] { return engine::makeWasm2cEngine({w2c, cc, {}})->precompiler()->cacheKey(); };
  std::string key = keyOf();
  EXPECT_NE(key.find(std::filesystem::canonical(cc).string() + " (size "), std::string::npos)
      << key;
  EXPECT_NE(key.find(std::filesystem::canonical(w2c).string() + " (size "), std::string::npos)
      << key;
  EXPECT_EQ(key, keyOf());

  writeTool("cc", "exec gcc \"$@\"");  // an upgraded or switched compiler
  std::string newCompiler = keyOf();
  EXPECT_NE(newCompiler, key);
  EXPECT_EQ(newCompiler, keyOf());
  writeTool("wasm2c", "exec /usr/bin/wasm2c \"$@\"");
  EXPECT_NE(keyOf(), newCompiler);

  // The build's own compiler also carries the --version line CMake read from it.
  std::string ours = engine_->precompiler()->cacheKey();
  size_t at = ours.find("; cc "), end = ours.find(" (size ", at);
  ASSERT_NE(end, std::string::npos) << ours;
  std::string compiler = ours.substr(at + 5, end - at - 5);
  std::string versionLine;
  if (FILE* p = ::popen((compiler + " --version").c_str(), "r")) {
    char line[512] = {};
    if (std::fgets(line, sizeof line, p)) versionLine = line;
    ::pclose(p);
  }
  if (!versionLine.empty() && versionLine.back() == '\n') versionLine.pop_back();
  ASSERT_FALSE(versionLine.empty()) << compiler;
  // (gcc names itself after argv[0]: "cc (Debian ...) 12.2.0" vs "x86_64-linux-gnu-gcc-12 (...")
  std::string afterName = versionLine.substr(versionLine.find(' '));
  EXPECT_TRUE(ours.ends_with(afterName)) << ours << " vs " << versionLine;
}

int g_childExits = 0;  // SIGCHLDs seen by ChildExitCounter's handler
void countChildExit(int) {
  __atomic_add_fetch(&g_childExits, 1, __ATOMIC_RELAXED);
}

// Counts SIGCHLDs (one per child process that exits) while it exists.
class ChildExitCounter {
 public:
  ChildExitCounter() {
    struct sigaction sa = {};
    sa.sa_handler = countChildExit;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGCHLD, &sa, &previous_);
    __atomic_store_n(&g_childExits, 0, __ATOMIC_RELAXED);
  }
  ~ChildExitCounter() { ::sigaction(SIGCHLD, &previous_, nullptr); }
  // The count once no more signal is in flight (the handler may run on another thread).
  int settled() const {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return __atomic_load_n(&g_childExits, __ATOMIC_RELAXED);
  }

 private:
  struct sigaction previous_;
};

// A run from a cached artifact execs nothing: not for the cache key, not for loading.
TEST_F(Wasm2cEngineTest, CachedRunStartsNoChildProcess) {
  ModuleSource hello = fileModule("hello");
  ScratchDir cacheDir;
  engine::ArtifactCache cache(cacheDir.path());
  ASSERT_TRUE(engine::precompiledArtifact(*engine_, hello, cache).has_value());

  auto fresh = engine::makeWasm2cEngine();  // a new process's engine: nothing probed yet
  ChildExitCounter children;
  std::string key = fresh->precompiler()->cacheKey();
  EXPECT_EQ(key, fresh->precompiler()->cacheKey());
  EXPECT_EQ(key, engine_->precompiler()->cacheKey());
  auto fd = engine::precompiledArtifact(*fresh, hello, cache);  // the CLI's lookup
  ASSERT_TRUE(fd.has_value()) << fd.error().message;
  for (int i = 0; i < 2; ++i) {
    GuestRun run = runWith(*fresh, hello, fd->get());
    ASSERT_TRUE(run.result.has_value()) << run.result.error().message;
    EXPECT_EQ(run.out, "hello from wasm\n");
  }
  EXPECT_EQ(children.settled(), 0);

  // The counter does see the tools when something does run them.
  EXPECT_TRUE(fresh->precompiler()->precompile(hello).has_value());
  EXPECT_GE(children.settled(), 3);  // cc --version, wasm2c --version, wasm2c, cc
}

// Tool failures are one-line errors quoting the tool, and leave no temp dir behind.
TEST_F(Wasm2cEngineTest, ToolFailuresAreOneLineErrorsAndLeaveNothingBehind) {
  ScratchDir tmp;
  std::filesystem::path fakeCc = tmp.path() / "fake-cc";
  std::ofstream(fakeCc) << "#!/bin/sh\n"
                           "if [ \"$1\" = --version ]; then echo 'fake-cc 1.0'; exit 0; fi\n"
                           "echo 'guest.c:1: error: no compiler today' >&2\n"
                           "echo 'second line' >&2\nexit 1\n";
  std::filesystem::permissions(fakeCc, std::filesystem::perms::owner_all);
  std::filesystem::path work = tmp.path() / "work";
  std::filesystem::create_directory(work);
  const char* oldTmp = std::getenv("TMPDIR");
  std::string savedTmp = oldTmp ? oldTmp : "";
  ::setenv("TMPDIR", work.c_str(), 1);

  auto fake = engine::makeWasm2cEngine({"", fakeCc.string(), {}});
  EXPECT_NE(fake->precompiler()->cacheKey().find(std::filesystem::canonical(fakeCc).string()),
            std::string::npos);
  auto failed = fake->precompiler()->precompile(fileModule("hello"));
  ASSERT_FALSE(failed.has_value());
  const std::string& message = failed.error().message;
  EXPECT_NE(message.find("no compiler today"), std::string::npos) << message;
  EXPECT_NE(message.find("second line"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;

  auto invalid = engine_->precompiler()->precompile(fileModule("invalid"));
  ASSERT_FALSE(invalid.has_value());
  EXPECT_NE(invalid.error().message.find("wasm2c"), std::string::npos) << invalid.error().message;
  EXPECT_TRUE(engine_->precompiler()->precompile(fileModule("hello")).has_value());

  if (oldTmp)
    ::setenv("TMPDIR", savedTmp.c_str(), 1);
  else
    ::unsetenv("TMPDIR");
  EXPECT_TRUE(std::filesystem::is_empty(work));
}

TEST_F(Wasm2cEngineTest, TrapMidRunReleasesEverything) {
  ModuleSource module = watModule("open_then_trap", kOpenThenTrap);
  UniqueFd artifact = memfdWith(precompiled(*engine_, module));
  ScratchDir dir;
  wasi::Config config;
  config.preopens = {{dir.path().string(), "/"}};

  GuestRun warm = runWith(*engine_, module, artifact.get(), config);
  ASSERT_TRUE(warm.result.has_value()) << warm.result.error().message;
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "held.txt"));  // the host did open it
  size_t fds = countOpenFds();
  auto [lines, bytes] = mappings();
  for (int i = 0; i < 40; ++i) {
    GuestRun run = runWith(*engine_, module, artifact.get(), config);
    ASSERT_TRUE(run.result.has_value()) << run.result.error().message;
    EXPECT_EQ(run.result->kind, RunResult::Kind::kTrapped);
    EXPECT_EQ(run.result->exitCode, engine::kTrapExitCode);
    EXPECT_EQ(run.result->trapMessage, "unreachable executed");
  }
  EXPECT_EQ(countOpenFds(), fds);  // the host's fds, the dlopen'ed artifact: all closed
  auto [linesAfter, bytesAfter] = mappings();
  EXPECT_LE(linesAfter, lines + 4);              // no .so left mapped
  EXPECT_LE(bytesAfter, bytes + (64ull << 20));  // no 8 GiB reservation left behind
}

TEST_F(Wasm2cEngineTest, ExitReleasesEverythingToo) {
  ModuleSource module = fileModule("exit42");
  UniqueFd artifact = memfdWith(precompiled(*engine_, module));
  ASSERT_TRUE(runWith(*engine_, module, artifact.get()).result.has_value());
  auto [lines, bytes] = mappings();
  for (int i = 0; i < 20; ++i) {
    GuestRun run = runWith(*engine_, module, artifact.get());
    ASSERT_TRUE(run.result.has_value()) << run.result.error().message;
    EXPECT_EQ(run.result->kind, RunResult::Kind::kExited);
    EXPECT_EQ(run.result->exitCode, 42u);
  }
  auto [linesAfter, bytesAfter] = mappings();
  EXPECT_LE(linesAfter, lines + 4);
  EXPECT_LE(bytesAfter, bytes + (64ull << 20));
}

// gcc turns a wasm recursion into a loop unless sibling calls are kept; then the guest
// hangs instead of trapping. GuestRun on a small-stack thread: its fault needs an alt stack too.
TEST_F(Wasm2cEngineTest, InfiniteRecursionTrapsOnAnyThread) {
  ModuleSource module = watModule("recurse", kRecurse);
  UniqueFd artifact = memfdWith(precompiled(*engine_, module));
  for (const char* function : {"_start", "accumulate"}) {
    SCOPED_TRACE(function);
    struct Job {
      Engine* engine;
      ModuleSource* module;
      int fd;
      const char* function;
      GuestRun run{RunResult{}, ""};
    } job{engine_.get(), &module, artifact.get(), function};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1 << 20);
    pthread_t thread;
    ASSERT_EQ(pthread_create(
                  &thread, &attr,
                  [](void* p) -> void* {
                    auto* j = static_cast<Job*>(p);
                    RunOptions options;
                    options.function = j->function;
                    j->run = runWith(*j->engine, *j->module, j->fd, {}, options);
                    return nullptr;
                  },
                  &job),
              0);
    pthread_join(thread, nullptr);
    pthread_attr_destroy(&attr);
    ASSERT_TRUE(job.run.result.has_value()) << job.run.result.error().message;
    EXPECT_EQ(job.run.result->kind, RunResult::Kind::kTrapped);
    EXPECT_EQ(job.run.result->trapMessage, "call stack exhausted");

    // The main thread's stack grows on demand up to RLIMIT_STACK, with a guard gap below.
    RunOptions options;
    options.function = function;
    GuestRun here = runWith(*engine_, module, artifact.get(), {}, options);
    ASSERT_TRUE(here.result.has_value()) << here.result.error().message;
    EXPECT_EQ(here.result->kind, RunResult::Kind::kTrapped);
    EXPECT_EQ(here.result->trapMessage, "call stack exhausted");
  }
}

TEST_F(Wasm2cEngineTest, SecondConcurrentRunIsRefused) {
  ModuleSource blocking = watModule("read_stdin", kReadStdin);
  ModuleSource hello = fileModule("hello");
  UniqueFd blockingArtifact = memfdWith(precompiled(*engine_, blocking));
  UniqueFd helloArtifact = memfdWith(precompiled(*engine_, hello));
  int pipeFds[2];
  ASSERT_EQ(::pipe2(pipeFds, O_CLOEXEC), 0);
  UniqueFd readEnd(pipeFds[0]), writeEnd(pipeFds[1]);

  GuestRun first{RunResult{}, ""};
  std::thread runner([&] {
    wasi::Config config;
    config.stdinFd = readEnd.get();
    do {  // the main thread's runs below may hold the runtime for a moment
      first = runWith(*engine_, blocking, blockingArtifact.get(), config);
    } while (!first.result && first.result.error().code == ErrorCode::kFailedPrecondition);
  });
  // Until the runner holds the runtime, hello may still run; then it must be refused.
  bool refused = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!refused && std::chrono::steady_clock::now() < deadline) {
    GuestRun second = runWith(*engine_, hello, helloArtifact.get());
    if (!second.result) {
      EXPECT_EQ(second.result.error().code, ErrorCode::kFailedPrecondition);
      EXPECT_NE(second.result.error().message.find("another wasm2c guest"), std::string::npos)
          << second.result.error().message;
      refused = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(refused);
  ASSERT_EQ(::write(writeEnd.get(), "x", 1), 1);
  runner.join();
  ASSERT_TRUE(first.result.has_value()) << first.result.error().message;
  EXPECT_EQ(first.result->kind, RunResult::Kind::kReturned);
  GuestRun after = runWith(*engine_, hello, helloArtifact.get());  // released again
  ASSERT_TRUE(after.result.has_value()) << after.result.error().message;
}

TEST_F(Wasm2cEngineTest, StubbedImportTrapsNamingIt) {
  ModuleSource module = watModule("stub", kStub);
  RunOptions options;
  options.stubUnknownImports = true;
  GuestRun run = runWith(*engine_, module, -1, {}, options);
  ASSERT_TRUE(run.result.has_value()) << run.result.error().message;
  EXPECT_EQ(run.result->kind, RunResult::Kind::kTrapped);
  EXPECT_NE(run.result->trapMessage.find("env.host_magic"), std::string::npos)
      << run.result->trapMessage;
}

// The runtime abort()s when it cannot reserve a memory's 8 GiB; run() must say so first.
TEST_F(Wasm2cEngineTest, LowAddressSpaceLimitIsAnErrorNotAnAbort) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's shadow memory does not fit under a 4 GiB RLIMIT_AS";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ModuleSource hello = fileModule("hello");
  UniqueFd artifact = memfdWith(precompiled(*engine_, hello));
  EXPECT_EXIT(
      {
        struct rlimit limit;
        limit.rlim_cur = limit.rlim_max = 4ull << 30;
        setrlimit(RLIMIT_AS, &limit);
        GuestRun run = runWith(*engine_, hello, artifact.get());
        if (run.result) std::exit(1);
        std::fprintf(stderr, "%s\n", run.result.error().message.c_str());
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "cannot reserve the 8 GiB");
}

// A fault in host code is a crash, never a wasm trap: a longjmp would skip the C++
// frames of the host call.
class CrashingHost : public wasi::Host {
 public:
  uint32_t call(wasi::FunctionId, wasi::GuestMemory, const uint64_t*) override {
    volatile int* nowhere = nullptr;
    return static_cast<uint32_t>(*nowhere);
  }
  std::optional<uint32_t> exitCode() const override { return std::nullopt; }
};

TEST_F(Wasm2cEngineTest, FaultInTheHostIsNotATrap) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ModuleSource hello = fileModule("hello");
  UniqueFd artifact = memfdWith(precompiled(*engine_, hello));
  EXPECT_EXIT(
      {
        CrashingHost host;
        auto result = engine_->run(hello, artifact.get(), {}, host);
        std::exit(result ? 42 : 43);
      },
      // Killed by the SIGSEGV, or (under ASan) reported by ASan's handler: anything but a
      // run() that came back.
      [](int status) {
        return !(WIFEXITED(status) && (WEXITSTATUS(status) == 42 || WEXITSTATUS(status) == 43));
      },
      "");
}

}  // namespace
}  // namespace runwasi::testing
