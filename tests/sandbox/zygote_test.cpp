// The zygote: containers forked from it run each engine's modules, are the test process's
// own children, and leave nothing behind.
#include "sandbox/zygote.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "../support/wasm_fixtures.h"
#include "common/file.h"
#include "common/temp_dir.h"
#include "engine/artifact_cache.h"
#include "engine/plugin.h"
#ifdef RUNWASI_SANDBOX_TEST_REGISTRY
#include "engine/registry.h"
#endif

namespace runwasi::sandbox {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The build tree: this binary is <build>/tests/sandbox/sandbox_test.
fs::path buildDir() {
  return fs::read_symlink("/proc/self/exe").parent_path() / ".." / "..";
}
fs::path modulePath(std::string_view name) {
  return buildDir() / "tests" / "modules" / (std::string(name) + ".wasm");
}

Expected<std::unique_ptr<engine::Engine>> makeTestEngine(const std::string& name) {
#ifdef RUNWASI_SANDBOX_TEST_REGISTRY
  return engine::makeEngine(name);
#else
  if (name == "v8") return engine::loadEnginePlugin("runwasi-engine-v8.so");
  return makeError(ErrorCode::kUnavailable, "sandbox_test is not linked with the registry");
#endif
}

struct Pipe {
  UniqueFd read, write;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) std::abort();
    read.reset(fds[0]);
    write.reset(fds[1]);
  }
};

int countFds() {
  int n = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// The zygote's children (it must never have any: containers are ours).
std::string childrenOf(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/task/{}/children", pid, pid));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

pid_t parentOf(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  pid_t ppid = -1;
  auto close = stat.rfind(')');
  if (close != std::string::npos) std::sscanf(stat.c_str() + close + 2, "%*c %d", &ppid);
  return ppid;
}

struct Outcome {
  int status = -1;
  std::string out, err;
  pid_t parent = -1;
};

// Reads stdout and stderr to EOF, then reaps the container.
Outcome finish(pid_t pid, Pipe& out, Pipe& err) {
  Outcome o;
  out.write.reset();
  err.write.reset();
  pollfd fds[2] = {{out.read.get(), POLLIN, 0}, {err.read.get(), POLLIN, 0}};
  std::string* sinks[2] = {&o.out, &o.err};
  int open = 2;
  while (open > 0 && ::poll(fds, 2, 30000) > 0) {
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !fds[i].revents) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        fds[i].fd = -1;
        --open;
      }
    }
  }
  o.parent = parentOf(pid);  // still there: a zombie until we reap it
  EXPECT_EQ(::waitpid(pid, &o.status, 0), pid);
  return o;
}

class ZygoteTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto probe = makeTestEngine(GetParam());
    if (!probe) GTEST_SKIP() << probe.error().message;
    if (GetParam() == "wasm2c") precompile(**probe);
    probe->reset();
    auto z = Zygote::start([name = GetParam()] { return makeTestEngine(name); });
    ASSERT_TRUE(z) << z.error().message;
    zygote_ = std::make_unique<Zygote>(std::move(*z));
    auto ready = zygote_->waitReady();
    ASSERT_TRUE(ready) << ready.error().message;
  }

  // wasm2c runs only precompiled code; the shim precompiles in Create, as here.
  void precompile(engine::Engine& e) {
    engine::ArtifactCache cache(buildDir() / "test-cache");
    for (const char* name : {"hello", "exit42", "trap_unreachable", "infinite_loop", "args_env",
                             "stdin_echo", "file_rw", "fresh_state", "trap_oob"}) {
      auto bytes = readFile(modulePath(name));
      ASSERT_TRUE(bytes) << bytes.error().message;
      auto source = engine::makeModuleSource(name, std::move(*bytes));
      auto fd = engine::precompiledArtifact(e, source, cache);
      ASSERT_TRUE(fd) << fd.error().message;
      artifacts_[name] = std::make_shared<UniqueFd>(std::move(*fd));
    }
  }

  SpawnRequest request(std::string_view module) {
    SpawnRequest r;
    r.containerId = std::string(module);
    r.modulePath = modulePath(module).string();
    r.args = {std::string(module) + ".wasm"};
    auto it = artifacts_.find(std::string(module));
    if (it != artifacts_.end()) r.artifactFd = it->second->get();
    return r;
  }

  Outcome run(SpawnRequest r, std::string_view input = {}) {
    Pipe in, out, err;
    r.stdinFd = in.read.get();
    r.stdoutFd = out.write.get();
    r.stderrFd = err.write.get();
    auto pid = zygote_->spawn(r);
    EXPECT_TRUE(pid) << pid.error().message;
    if (!pid) return {};
    in.read.reset();
    if (!input.empty()) {
      EXPECT_EQ(::write(in.write.get(), input.data(), input.size()),
                static_cast<ssize_t>(input.size()));
    }
    in.write.reset();
    return finish(*pid, out, err);
  }

  std::unique_ptr<Zygote> zygote_;
  std::map<std::string, std::shared_ptr<UniqueFd>> artifacts_;
};

// The hello tells the shim what it needs of the engine without loading it: the same name,
// version, cache key and layer types as the engine made here.
TEST_P(ZygoteTest, HelloCarriesTheEngineFacts) {
  auto facts = zygote_->waitReady();
  ASSERT_TRUE(facts) << facts.error().message;
  auto probe = makeTestEngine(GetParam());
  ASSERT_TRUE(probe) << probe.error().message;
  engine::Engine& e = **probe;
  EXPECT_EQ(facts->name, GetParam());
  EXPECT_EQ(facts->version, e.version());
  ASSERT_NE(e.precompiler(), nullptr);
  EXPECT_EQ(facts->cacheKey, e.precompiler()->cacheKey());
  EXPECT_FALSE(facts->cacheKey.empty());
  EXPECT_EQ(facts->layerTypes, e.supportedLayerTypes());
}

TEST_P(ZygoteTest, HelloIsADirectChildOfTheCaller) {
  Outcome o = run(request("hello"));
  EXPECT_EQ(o.out, "hello from wasm\n");
  EXPECT_EQ(o.err, "");
  ASSERT_TRUE(WIFEXITED(o.status));
  EXPECT_EQ(WEXITSTATUS(o.status), 0);
  EXPECT_EQ(o.parent, ::getpid());
  EXPECT_EQ(childrenOf(zygote_->pid()), "");
}

TEST_P(ZygoteTest, ExitCodeIsTheStatus) {
  Outcome o = run(request("exit42"));
  ASSERT_TRUE(WIFEXITED(o.status));
  EXPECT_EQ(WEXITSTATUS(o.status), 42);
}

TEST_P(ZygoteTest, TrapExits134WithTheMessageOnStderr) {
  Outcome o = run(request("trap_unreachable"));
  ASSERT_TRUE(WIFEXITED(o.status));
  EXPECT_EQ(WEXITSTATUS(o.status), 134);
  EXPECT_NE(o.err.find("unreachable"), std::string::npos) << o.err;
}

TEST_P(ZygoteTest, ArgsEnvAndStdin) {
  SpawnRequest r = request("args_env");
  r.args.push_back("x y");
  r.env = {"A=1", "B=two"};
  Outcome o = run(r);
  EXPECT_EQ(o.out, "argc=2\nargv[0]=args_env.wasm\nargv[1]=x y\nenv=A=1\nenv=B=two\n");
  EXPECT_EQ(WEXITSTATUS(o.status), 0);

  Outcome echo = run(request("stdin_echo"), "some input\n");
  EXPECT_EQ(echo.out, "some input\n");
  EXPECT_EQ(WEXITSTATUS(echo.status), 0);
}

TEST_P(ZygoteTest, RootfsIsPreopenedAsRoot) {
  auto rootfs = TempDir::create("zygote-rootfs-");
  ASSERT_TRUE(rootfs);
  fs::create_directory(*rootfs / "work");
  SpawnRequest r = request("file_rw");
  r.rootfs = rootfs->path().string();
  r.cwd = "/work";
  r.args = {"file_rw", "/out.txt", "written"};
  Outcome o = run(r);
  EXPECT_EQ(o.out, "written\n") << o.err;
  EXPECT_EQ(WEXITSTATUS(o.status), 0);
  auto content = readFile(*rootfs / "out.txt");
  ASSERT_TRUE(content);
  EXPECT_EQ(std::string(content->begin(), content->end()), "written");

  r.cwd = "/missing";
  Outcome bad = run(r);
  EXPECT_EQ(WEXITSTATUS(bad.status), kContainerSetupFailedExit);
  EXPECT_NE(bad.err.find("/missing"), std::string::npos) << bad.err;
}

TEST_P(ZygoteTest, ModuleFromAnOpenFd) {
  SpawnRequest r = request("hello");
  UniqueFd module(::open(r.modulePath.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(module);
  r.modulePath.clear();
  r.moduleFd = module.get();
  Outcome o = run(r);
  EXPECT_EQ(o.out, "hello from wasm\n");
  EXPECT_EQ(WEXITSTATUS(o.status), 0);
}

TEST_P(ZygoteTest, BadModulesFailBeforeTheFork) {
  SpawnRequest missing = request("hello");
  missing.modulePath = "/nonexistent/module.wasm";
  auto pid = zygote_->spawn(missing);
  ASSERT_FALSE(pid);
  EXPECT_NE(pid.error().message.find("/nonexistent/module.wasm"), std::string::npos);

  SpawnRequest notWasm = request("hello");
  notWasm.modulePath = (buildDir() / "tests" / "modules" / "not_wasm.txt").string();
  if (!fs::exists(notWasm.modulePath))
    notWasm.modulePath = fs::path(__FILE__).parent_path().parent_path() / "modules/not_wasm.txt";
  pid = zygote_->spawn(notWasm);
  ASSERT_FALSE(pid);
  EXPECT_EQ(pid.error().code, ErrorCode::kInvalidArgument) << pid.error().message;

  SpawnRequest noExport = request("hello");
  noExport.function = "no_such_export";
  pid = zygote_->spawn(noExport);
  ASSERT_FALSE(pid);

  int status;
  EXPECT_EQ(::waitpid(-1, &status, WNOHANG), 0);  // only the zygote, still running
  EXPECT_TRUE(zygote_->spawn(request("hello")).has_value()) << "the zygote goes on serving";
  EXPECT_GT(::wait(&status), 0);
}

TEST_P(ZygoteTest, SignalsKillNormally) {
  // A shim blocks SIGTERM and SIGCHLD (signalfd): containers must not inherit that.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &block, &old);
  auto z = Zygote::start([name = GetParam()] { return makeTestEngine(name); });
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(z);

  for (int sig : {SIGKILL, SIGTERM}) {
    Pipe out;
    SpawnRequest r = request("infinite_loop");
    r.stdoutFd = out.write.get();
    auto pid = z->spawn(r);
    ASSERT_TRUE(pid) << pid.error().message;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // inside the guest by now
    int status;
    EXPECT_EQ(::waitpid(*pid, &status, WNOHANG), 0) << "still running";
    ASSERT_EQ(::kill(*pid, sig), 0);
    ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << status;
    EXPECT_EQ(WTERMSIG(status), sig);
  }
}

TEST_P(ZygoteTest, TwentySpawnsLeaveNoZombieAndNoFd) {
  int before = countFds();
  for (int i = 0; i < 20; ++i) {
    Outcome o = run(request(i % 2 ? "hello" : "exit42"));
    EXPECT_EQ(WEXITSTATUS(o.status), i % 2 ? 0 : 42);
  }
  EXPECT_EQ(countFds(), before);
  int status;
  EXPECT_EQ(::waitpid(-1, &status, WNOHANG), 0);  // the zygote runs; no zombie of ours
  EXPECT_EQ(childrenOf(zygote_->pid()), "");
}

TEST_P(ZygoteTest, StopEndsTheZygote) {
  pid_t pid = zygote_->pid();
  ASSERT_EQ(::kill(pid, 0), 0);
  zygote_->stop();
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  auto after = zygote_->spawn(request("hello"));
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, ErrorCode::kFailedPrecondition);
}

TEST_P(ZygoteTest, ADeadZygoteIsUnavailable) {
  ASSERT_EQ(::kill(zygote_->pid(), SIGKILL), 0);
  auto pid = zygote_->spawn(request("hello"));
  ASSERT_FALSE(pid);
  EXPECT_EQ(pid.error().code, ErrorCode::kUnavailable) << pid.error().message;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// V8's code cache for a module, made in a child: V8 must not start its threads here.
UniqueFd v8CodeCache(const fs::path& path) {
  engine::ArtifactCache cache(buildDir() / "test-cache");
  auto bytes = readFile(path);
  if (!bytes) return {};
  auto source = engine::makeModuleSource(path.filename().string(), std::move(*bytes));
  pid_t child = ::fork();
  if (child == 0) {
    auto e = makeTestEngine("v8");
    ::_exit(e && engine::precompiledArtifact(**e, source, cache) ? 0 : 1);
  }
  int status;
  ::waitpid(child, &status, 0);
  auto e = makeTestEngine("v8");  // cacheKey() needs no initialised V8
  if (!e) return {};
  auto fd = cache.open(**e, source);
  return fd ? std::move(*fd) : UniqueFd();
}

// For V8, gives `r` its module's code cache as the shim would (`cache` keeps it open);
// wasm2c's requests have their artifacts already. False when it cannot be made.
bool withV8Artifact(SpawnRequest& r, std::string_view module, UniqueFd& cache) {
  if (r.artifactFd >= 0) return true;
  cache = v8CodeCache(modulePath(module));
  r.artifactFd = cache.get();
  return cache.valid();
}

// Not a pass/fail check: how long from spawn() to the guest's first byte of output, against
// fork+exec of `runwasi run` (which loads the engine each time).
TEST_P(ZygoteTest, TimeToFirstOutput) {
  constexpr int kRuns = 15;
  auto firstByte = [](int fd) {
    char c;
    return ::read(fd, &c, 1) == 1;
  };
  auto viaZygote = [&](int artifactFd) {
    std::vector<double> ms;
    for (int i = 0; i < kRuns; ++i) {
      Pipe out;
      SpawnRequest r = request("hello");
      r.artifactFd = artifactFd;
      r.stdoutFd = out.write.get();
      auto t0 = Clock::now();
      auto pid = zygote_->spawn(r);
      if (!pid) return 0.0;
      out.write.reset();
      if (firstByte(out.read.get()))
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      int status;
      ::waitpid(*pid, &status, 0);
    }
    return median(ms);
  };
  auto viaCli = [&] {
    fs::path runwasi = buildDir() / "tools" / "runwasi";
    std::vector<double> ms;
    for (int i = 0; i < kRuns && fs::exists(runwasi); ++i) {
      Pipe out;
      auto t0 = Clock::now();
      pid_t pid = ::fork();
      if (pid == 0) {
        ::dup2(out.write.get(), 1);
        ::setenv("RUNWASI_CACHE_DIR", (buildDir() / "test-cache").c_str(), 1);
        std::string path = runwasi.string(), mod = modulePath("hello").string();
        std::string engine = GetParam();
        ::execl(path.c_str(), path.c_str(), "run", "--engine", engine.c_str(), mod.c_str(),
                static_cast<char*>(nullptr));
        ::_exit(127);
      }
      out.write.reset();
      if (firstByte(out.read.get()))
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      int status;
      ::waitpid(pid, &status, 0);
    }
    return median(ms);
  };

  SpawnRequest plain = request("hello");
  std::string line = fmt::format("{}: spawn to first output, median of {}: zygote {:.2f} ms",
                                 GetParam(), kRuns, viaZygote(plain.artifactFd));
  if (GetParam() == "v8") {
    UniqueFd cache = v8CodeCache(modulePath("hello"));
    if (cache) line += fmt::format(", zygote + code cache {:.2f} ms", viaZygote(cache.get()));
  }
  line += fmt::format(", fork+exec `runwasi run` (cached artifact) {:.2f} ms", viaCli());
  std::cout << line << "\n";
  RecordProperty("timing", line);
}

// Every container starts from the module's initial state (memory, globals, start function
// run once), however many ran it before from the same zygote, and however much the zygote
// prepared for them (V8: its isolate, and the module itself from the second container on).
TEST_P(ZygoteTest, EveryContainerStartsFromTheModulesInitialState) {
  SpawnRequest r = request("fresh_state");
  UniqueFd cache;
  ASSERT_TRUE(withV8Artifact(r, "fresh_state", cache));
  for (int i = 0; i < 5; ++i) {
    Outcome o = run(r);
    EXPECT_EQ(o.out, "fresh\n") << "container " << i << ": " << o.err;
    ASSERT_TRUE(WIFEXITED(o.status)) << o.status;
    EXPECT_EQ(WEXITSTATUS(o.status), 54) << "container " << i;
  }
  EXPECT_EQ(childrenOf(zygote_->pid()), "");
}

// An out-of-bounds access is a trap in every container, also in those that run the
// zygote's prepared module (V8: its code was registered with the trap handler in the
// zygote; the fork inherits that registration and the signal handler).
TEST_P(ZygoteTest, OutOfBoundsTrapsInEveryContainer) {
  SpawnRequest r = request("trap_oob");
  UniqueFd cache;
  ASSERT_TRUE(withV8Artifact(r, "trap_oob", cache));
  for (int i = 0; i < 4; ++i) {
    Outcome o = run(r);
    EXPECT_EQ(o.out, "before trap\n") << "container " << i;
    ASSERT_TRUE(WIFEXITED(o.status)) << "container " << i << ": " << o.status;
    EXPECT_EQ(WEXITSTATUS(o.status), 134) << "container " << i;
    EXPECT_NE(o.err.find("out of bounds"), std::string::npos) << "container " << i << ": " << o.err;
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, ZygoteTest, ::testing::Values("v8", "wasm2c"),
                         [](const auto& info) { return info.param; });


// V8: once a second container has run a module, the zygote keeps that module loaded (from
// the container's artifact, verified as run() verifies it) and later containers run it as
// loaded there. Shown with an artifact holding exit(1)'s code but labelled as made from
// exit(2): containers given it exit 1; a container given no artifact at all exits 1 too
// when it runs the zygote's module, 2 when it compiles exit(2) itself (as it does with
// RUNWASI_V8_PREPARE_FORKS=0, the control).
TEST(ZygoteV8, ContainersRunTheModuleTheZygotePrepared) {
  auto probe = makeTestEngine("v8");
  if (!probe) GTEST_SKIP() << probe.error().message;
  auto dir = TempDir::create("zygote-v8-");
  ASSERT_TRUE(dir);
  Bytes exit1 = testing::exitModule(1), exit2 = testing::exitModule(2);
  ASSERT_TRUE(writeFileAtomic(*dir / "exit1.wasm", exit1));
  ASSERT_TRUE(writeFileAtomic(*dir / "exit2.wasm", exit2));
  UniqueFd made = v8CodeCache(*dir / "exit1.wasm");
  ASSERT_TRUE(made);
  auto artifact = readFd(made.get(), "artifact");
  ASSERT_TRUE(artifact);
  ASSERT_GT(artifact->size(), 120u);
  Sha256Digest label = sha256(exit2);  // the header's module digest (artifact_format.h)
  std::copy(label.begin(), label.end(), artifact->begin() + 56);
  ASSERT_TRUE(writeFileAtomic(*dir / "artifact", *artifact));
  UniqueFd artifactFd(::open((*dir / "artifact").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(artifactFd);

  for (bool prepare : {true, false}) {
    if (!prepare) ::setenv("RUNWASI_V8_PREPARE_FORKS", "0", 1);
    auto z = Zygote::start([] { return makeTestEngine("v8"); });
    ::unsetenv("RUNWASI_V8_PREPARE_FORKS");
    ASSERT_TRUE(z) << z.error().message;
    auto exitOf = [&](int artifact) {
      SpawnRequest r;
      r.containerId = "exit2";
      r.modulePath = (*dir / "exit2.wasm").string();
      r.args = {"exit2.wasm"};
      r.artifactFd = artifact;
      auto pid = z->spawn(r);
      EXPECT_TRUE(pid) << pid.error().message;
      int status = -1;
      if (pid) ::waitpid(*pid, &status, 0);
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    };
    EXPECT_EQ(exitOf(artifactFd.get()), 1) << "the artifact's code runs";
    EXPECT_EQ(exitOf(artifactFd.get()), 1) << "the artifact's code runs";
    EXPECT_EQ(exitOf(-1), prepare ? 1 : 2) << (prepare ? "prepared" : "not prepared");
    EXPECT_EQ(exitOf(-1), prepare ? 1 : 2) << (prepare ? "prepared" : "not prepared");
  }
}

TEST(ZygoteStart, RefusesAMultiThreadedProcess) {
  // In a child, so the thread started here cannot outlive the check in gtest's process.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    Pipe gate;
    std::thread t([&] {
      char c;
      (void)::read(gate.read.get(), &c, 1);
    });
    auto z = Zygote::start([] { return makeError(ErrorCode::kInternal, "never called"); });
    bool refused = !z && z.error().code == ErrorCode::kFailedPrecondition &&
                   z.error().message.find("2 threads") != std::string::npos;
    gate.write.reset();
    t.join();
    ::_exit(refused ? 0 : 1);
  }
  int status;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(ZygoteStart, EngineErrorsReachTheCaller) {
  auto z = Zygote::start([] { return makeError(ErrorCode::kNotFound, "unknown engine \"nope\""); });
  ASSERT_TRUE(z);
  auto ready = z->waitReady();
  ASSERT_FALSE(ready);
  EXPECT_EQ(ready.error().code, ErrorCode::kNotFound);
  EXPECT_NE(ready.error().message.find("nope"), std::string::npos);
  SpawnRequest r;
  r.modulePath = modulePath("hello").string();
  auto pid = z->spawn(r);
  ASSERT_FALSE(pid);
  EXPECT_EQ(pid.error().code, ErrorCode::kNotFound);
  pid_t zp = z->pid();
  z->stop();
  EXPECT_EQ(::kill(zp, 0), -1);
}

// The Rss, in KiB, of `pid`'s mappings of `file` (-1 if it cannot be read).
long rssKbOfFile(pid_t pid, const std::string& file) {
  std::ifstream smaps(fmt::format("/proc/{}/smaps", pid));
  if (!smaps) return -1;
  long total = 0;
  bool inFile = false;
  for (std::string line; std::getline(smaps, line);) {
    if (line.starts_with("Rss:")) {
      if (inFile) total += std::stol(line.substr(4));
    } else if (line.find('-') < line.find(' ')) {  // a mapping's first line, with a path or not
      inFile = line.ends_with(" " + file);
    }
  }
  return total;
}

// What loading an engine leaves mapped in the zygote (libnode: its symbol and relocation
// tables, its constructors' code) is given back once no request waits: here a file the
// engine factory maps and reads, as a library's loading would. The zygote still works.
TEST(ZygoteStart, GivesBackTheEnginesFilePagesWhenIdle) {
  auto dir = TempDir::create("zygote-pages-");
  ASSERT_TRUE(dir);
  std::string library = (*dir / "libengine.so").string();
  std::ofstream(library, std::ios::binary) << std::string(1 << 20, 'x');
  auto z = Zygote::start([library]() -> Expected<std::unique_ptr<engine::Engine>> {
    UniqueFd fd(::open(library.c_str(), O_RDONLY | O_CLOEXEC));
    void* at = ::mmap(nullptr, 1 << 20, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (at == MAP_FAILED) return makeSysError("mmap");
    volatile char sum = 0;
    for (size_t i = 0; i < (1 << 20); i += 4096) sum = static_cast<char>(sum + static_cast<char*>(at)[i]);
    return makeTestEngine("wasm2c");
  });
  ASSERT_TRUE(z) << z->pid();
  auto ready = z->waitReady();
  ASSERT_TRUE(ready) << ready.error().message;
  long rss = -1;
  for (auto deadline = Clock::now() + std::chrono::seconds(5); Clock::now() < deadline;) {
    rss = rssKbOfFile(z->pid(), library);
    if (rss == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(rss, 0) << "the zygote kept the engine's file pages";

  // A module runs as before (wasm2c: from its precompiled artifact, as the shim gives it).
  auto engine = makeTestEngine("wasm2c");
  ASSERT_TRUE(engine) << engine.error().message;
  auto bytes = readFile(modulePath("exit42"));
  ASSERT_TRUE(bytes);
  engine::ArtifactCache cache(*dir / "cache");
  auto artifact = engine::precompiledArtifact(
      **engine, engine::makeModuleSource("exit42", std::move(*bytes)), cache);
  ASSERT_TRUE(artifact) << artifact.error().message;
  SpawnRequest r;
  r.containerId = "exit42";
  r.modulePath = modulePath("exit42").string();
  r.args = {"exit42.wasm"};
  r.artifactFd = artifact->get();
  auto pid = z->spawn(r);
  ASSERT_TRUE(pid) << pid.error().message;
  int status = -1;
  ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 42) << status;
  z->stop();
}

}  // namespace
}  // namespace runwasi::sandbox
