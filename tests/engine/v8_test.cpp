// V8-specific behaviour: the code cache artifact (verification, fallback, use), i64
// arguments as BigInt, memory.grow between host calls, compile errors, stack limits.
// (What every engine must do is in engine_conformance_test.cpp.)
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <v8-platform.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "../support/wasm_fixtures.h"
#include "capture.h"
#include "common/unique_fd.h"
#include "engine/engine.h"
#include "engine/v8/artifact_format.h"
#include "engine/v8/v8_engine.h"
#include "engine/v8/v8_platform.h"
#include "engine/wasm2c/wasm2c_engine.h"

namespace runwasi::engine {
namespace {

using v8engine::kArtifactHeaderSize;

using runwasi::testing::exitModule;

// (module
//   (import "wasi_snapshot_preview1" "fd_seek" (func (param i32 i64 i32 i32) (result i32)))
//   (import "wasi_snapshot_preview1" "fd_advise" (func (param i32 i64 i64 i32) (result i32)))
//   (memory (export "memory") 1)
//   (func (export "_start")
//     (drop (call 0 (i32.const -1) (i64.const 0x8000000000000001) (i32.const 2) (i32.const 16)))
//     (drop (call 1 (i32.const 7) (i64.const -1) (i64.const 0x123456789abcdef0)
//                   (i32.const 0x7fffffff)))))
const Bytes kI64Module = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x14, 0x03, 0x60, 0x04, 0x7f, 0x7e,
    0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x04, 0x7f, 0x7e, 0x7e, 0x7f, 0x01, 0x7f, 0x60, 0x00, 0x00,
    0x02, 0x45, 0x02, 0x16, 0x77, 0x61, 0x73, 0x69, 0x5f, 0x73, 0x6e, 0x61, 0x70, 0x73, 0x68,
    0x6f, 0x74, 0x5f, 0x70, 0x72, 0x65, 0x76, 0x69, 0x65, 0x77, 0x31, 0x07, 0x66, 0x64, 0x5f,
    0x73, 0x65, 0x65, 0x6b, 0x00, 0x00, 0x16, 0x77, 0x61, 0x73, 0x69, 0x5f, 0x73, 0x6e, 0x61,
    0x70, 0x73, 0x68, 0x6f, 0x74, 0x5f, 0x70, 0x72, 0x65, 0x76, 0x69, 0x65, 0x77, 0x31, 0x09,
    0x66, 0x64, 0x5f, 0x61, 0x64, 0x76, 0x69, 0x73, 0x65, 0x00, 0x01, 0x03, 0x02, 0x01, 0x02,
    0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x13, 0x02, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79,
    0x02, 0x00, 0x06, 0x5f, 0x73, 0x74, 0x61, 0x72, 0x74, 0x00, 0x02, 0x0a, 0x2f, 0x01, 0x2d,
    0x00, 0x41, 0x7f, 0x42, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f, 0x41,
    0x02, 0x41, 0x10, 0x10, 0x00, 0x1a, 0x41, 0x07, 0x42, 0x7f, 0x42, 0xf0, 0xbd, 0xf3, 0xd5,
    0x89, 0xcf, 0x95, 0x9a, 0x12, 0x41, 0xff, 0xff, 0xff, 0xff, 0x07, 0x10, 0x01, 0x1a, 0x0b,
};

// (module
//   (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
//   (memory (export "memory") 1)
//   ;; stores TAG at the start of the last page, then fd_write(1, [{that, 4}] at 16, 1, 24)
//   (func $writeLast (param $tag i32) ...)
//   (func (export "_start")
//     (call $writeLast (i32.const 0x30726731))     ;; "1gr0" in page 0
//     (drop (memory.grow (i32.const 15)))
//     (call $writeLast (i32.const 0x30726732))     ;; "2gr0" in page 15
//     (drop (memory.grow (i32.const 48)))
//     (call $writeLast (i32.const 0x30726733))))   ;; "3gr0" in page 63
const Bytes kGrowModule = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x10, 0x03, 0x60, 0x04, 0x7f, 0x7f, 0x7f,
    0x7f, 0x01, 0x7f, 0x60, 0x01, 0x7f, 0x00, 0x60, 0x00, 0x00, 0x02, 0x23, 0x01, 0x16, 0x77, 0x61,
    0x73, 0x69, 0x5f, 0x73, 0x6e, 0x61, 0x70, 0x73, 0x68, 0x6f, 0x74, 0x5f, 0x70, 0x72, 0x65, 0x76,
    0x69, 0x65, 0x77, 0x31, 0x08, 0x66, 0x64, 0x5f, 0x77, 0x72, 0x69, 0x74, 0x65, 0x00, 0x00, 0x03,
    0x03, 0x02, 0x01, 0x02, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x13, 0x02, 0x06, 0x6d, 0x65, 0x6d,
    0x6f, 0x72, 0x79, 0x02, 0x00, 0x06, 0x5f, 0x73, 0x74, 0x61, 0x72, 0x74, 0x00, 0x02, 0x0a, 0x57,
    0x02, 0x30, 0x01, 0x01, 0x7f, 0x3f, 0x00, 0x41, 0x01, 0x6b, 0x41, 0x80, 0x80, 0x04, 0x6c, 0x21,
    0x01, 0x20, 0x01, 0x20, 0x00, 0x36, 0x02, 0x00, 0x41, 0x10, 0x20, 0x01, 0x36, 0x02, 0x00, 0x41,
    0x14, 0x41, 0x04, 0x36, 0x02, 0x00, 0x41, 0x01, 0x41, 0x10, 0x41, 0x01, 0x41, 0x18, 0x10, 0x00,
    0x1a, 0x0b, 0x24, 0x00, 0x41, 0xb1, 0xce, 0xc9, 0x83, 0x03, 0x10, 0x01, 0x41, 0x0f, 0x40, 0x00,
    0x1a, 0x41, 0xb2, 0xce, 0xc9, 0x83, 0x03, 0x10, 0x01, 0x41, 0x30, 0x40, 0x00, 0x1a, 0x41, 0xb3,
    0xce, 0xc9, 0x83, 0x03, 0x10, 0x01, 0x0b,
};

// A guest that catches JS exceptions must still stop at proc_exit (wasm exception handling,
// on by default in V8 10.2; built with `wat2wasm --enable-exceptions`):
// (module
//   (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
//   (memory (export "memory") 1)
//   (func (export "_start")
//     (try (do (call $exit (i32.const 3))) (catch_all))
//     (loop $l (br $l))))
const Bytes kCatchingExitModule = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x60, 0x01, 0x7f, 0x00,
    0x60, 0x00, 0x00, 0x02, 0x24, 0x01, 0x16, 0x77, 0x61, 0x73, 0x69, 0x5f, 0x73, 0x6e, 0x61,
    0x70, 0x73, 0x68, 0x6f, 0x74, 0x5f, 0x70, 0x72, 0x65, 0x76, 0x69, 0x65, 0x77, 0x31, 0x09,
    0x70, 0x72, 0x6f, 0x63, 0x5f, 0x65, 0x78, 0x69, 0x74, 0x00, 0x00, 0x03, 0x02, 0x01, 0x01,
    0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x13, 0x02, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79,
    0x02, 0x00, 0x06, 0x5f, 0x73, 0x74, 0x61, 0x72, 0x74, 0x00, 0x01, 0x0a, 0x11, 0x01, 0x0f,
    0x00, 0x06, 0x40, 0x41, 0x03, 0x10, 0x00, 0x19, 0x0b, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b,
};

// (module (memory (export "memory") 1)
//   (func (export "_start") (drop (i32.add (i32.const 1) (i64.const 2)))))  ;; fails validation
const Bytes kInvalidBodyModule = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
    0x03, 0x02, 0x01, 0x00, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x13, 0x02, 0x06, 0x6d,
    0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x06, 0x5f, 0x73, 0x74, 0x61, 0x72, 0x74,
    0x00, 0x00, 0x0a, 0x0a, 0x01, 0x08, 0x00, 0x41, 0x01, 0x42, 0x02, 0x6a, 0x1a, 0x0b,
};

// (module (memory (export "memory") 1)
//   (func $rec (param i32) (result i32)
//     (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
//       (else (i32.add (call $rec (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))
//   (func (export "_start") (drop (call $rec (i32.const DEPTH)))))
Bytes recursionModule(uint32_t depth) {
  Bytes m = {
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x09, 0x02, 0x60, 0x01, 0x7f, 0x01,
      0x7f, 0x60, 0x00, 0x00, 0x03, 0x03, 0x02, 0x00, 0x01, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07,
      0x13, 0x02, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x06, 0x5f, 0x73, 0x74,
      0x61, 0x72, 0x74, 0x00, 0x01, 0x0a, 0x21, 0x02, 0x15, 0x00, 0x20, 0x00, 0x45, 0x04, 0x7f,
      0x41, 0x00, 0x05, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x00, 0x41, 0x01, 0x6a, 0x0b, 0x0b,
      0x09, 0x00, 0x41, 0xc0, 0x84, 0x3d, 0x10, 0x00, 0x1a, 0x0b,
  };
  // The constant is a 3-byte signed LEB128 at [size-7, size-4): depth < 2^20.
  EXPECT_LT(depth, 1u << 20);
  size_t at = m.size() - 7;
  m[at] = static_cast<uint8_t>(0x80 | (depth & 0x7f));
  m[at + 1] = static_cast<uint8_t>(0x80 | ((depth >> 7) & 0x7f));
  m[at + 2] = static_cast<uint8_t>((depth >> 14) & 0x3f);
  return m;
}

// Records every host call; implements fd_write (into `written`) and proc_exit.
class RecordingHost : public wasi::Host {
 public:
  struct Call {
    wasi::FunctionId id;
    std::vector<uint64_t> args;
    uint64_t memorySize;
  };

  uint32_t call(wasi::FunctionId id, wasi::GuestMemory memory, const uint64_t* args) override {
    const wasi::FunctionInfo& info = wasi::kFunctions[static_cast<size_t>(id)];
    calls.push_back({id, std::vector<uint64_t>(args, args + info.params.size()), memory.size()});
    if (id == wasi::FunctionId::proc_exit) exit_ = static_cast<uint32_t>(args[0]);
    if (id == wasi::FunctionId::fd_write) {
      for (uint64_t i = 0; i < args[2]; ++i) {
        auto base = memory.load<uint32_t>(args[1] + 8 * i);
        auto length = memory.load<uint32_t>(args[1] + 8 * i + 4);
        if (!base || !length) return 21;  // EFAULT
        auto bytes = memory.bytes(*base, *length);
        if (!bytes) return 21;
        written.append(reinterpret_cast<const char*>(bytes->data()), bytes->size());
      }
    }
    return 0;
  }
  std::optional<uint32_t> exitCode() const override { return exit_; }

  std::vector<Call> calls;
  std::string written;

 private:
  std::optional<uint32_t> exit_;
};

// A memfd holding `bytes`, with its offset left at the end (run() must not rely on it).
UniqueFd memfdWith(std::span<const uint8_t> bytes) {
  UniqueFd fd(memfd_create("v8-artifact", MFD_CLOEXEC));
  EXPECT_TRUE(fd.valid());
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd.get(), bytes.data() + done, bytes.size() - done);
    EXPECT_GT(n, 0);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  return fd;
}

class V8EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { engine_ = makeV8Engine(); }
  static void TearDownTestSuite() { engine_.reset(); }

  static Engine& engine() { return *engine_; }
  static const Precompiler& precompiler() { return *engine_->precompiler(); }

  // Runs `module` (with `artifact` as precompiled form unless empty) to a RunResult.
  static RunResult run(const ModuleSource& module, std::span<const uint8_t> artifact,
                       RecordingHost& host) {
    UniqueFd fd;
    if (!artifact.empty()) fd = memfdWith(artifact);
    auto result = engine_->run(module, fd.valid() ? fd.get() : -1, RunOptions{}, host);
    EXPECT_TRUE(result.has_value()) << result.error().message;
    return result.value_or(RunResult{RunResult::Kind::kTrapped, 999, "no result"});
  }

  // An artifact holding the code compiled from `codeFrom` but labelled as made from
  // `labelledAs`: when run() uses it, codeFrom's behaviour shows.
  static Bytes relabelledArtifact(const ModuleSource& codeFrom, const ModuleSource& labelledAs) {
    auto artifact = precompiler().precompile(codeFrom);
    EXPECT_TRUE(artifact.has_value()) << artifact.error().message;
    if (!artifact) return {};
    auto payload =
        v8engine::verifyArtifact(*artifact, v8engine::moduleDigest(codeFrom.digest, codeFrom.bytes),
                                 precompiler().cacheKey());
    EXPECT_TRUE(payload.has_value()) << payload.error().message;
    if (!payload) return {};
    return v8engine::encodeArtifact(*payload,
                                    v8engine::moduleDigest(labelledAs.digest, labelledAs.bytes),
                                    precompiler().cacheKey());
  }

  static inline std::unique_ptr<Engine> engine_;
};

TEST_F(V8EngineTest, NameVersionAndCacheKey) {
  EXPECT_EQ(engine().name(), "v8");
  EXPECT_NE(engine().version().find("10.2"), std::string::npos) << engine().version();
  ASSERT_NE(engine().precompiler(), nullptr);
  std::string key = precompiler().cacheKey();
  EXPECT_NE(key.find("v8"), std::string::npos) << key;
  EXPECT_NE(key.find(engine().version().substr(3)), std::string::npos) << key;
  EXPECT_NE(key.find("--no-liftoff"), std::string::npos) << key;
}

TEST_F(V8EngineTest, ArtifactRoundTrip) {
  ModuleSource exit1 = makeModuleSource("exit1.wasm", exitModule(1));
  auto artifact = precompiler().precompile(exit1);
  ASSERT_TRUE(artifact.has_value()) << artifact.error().message;
  EXPECT_GT(artifact->size(), kArtifactHeaderSize);
  RecordingHost host;
  RunResult r = run(exit1, *artifact, host);
  EXPECT_EQ(r.kind, RunResult::Kind::kExited);
  EXPECT_EQ(r.exitCode, 1u);
}

// The artifact's code is what runs: code compiled from exit(1), labelled as exit(2)'s,
// exits with 1. (V8 does not check the code against the wire bytes; our digests do.)
TEST_F(V8EngineTest, ArtifactCodeIsWhatRuns) {
  ModuleSource exit1 = makeModuleSource("exit1.wasm", exitModule(1));
  ModuleSource exit2 = makeModuleSource("exit2.wasm", exitModule(2));
  Bytes swapped = relabelledArtifact(exit1, exit2);
  RecordingHost host;
  RunResult r = run(exit2, swapped, host);
  EXPECT_EQ(r.kind, RunResult::Kind::kExited);
  EXPECT_EQ(r.exitCode, 1u);
}

// Every damaged artifact is refused before V8 sees it: the module is compiled from its
// bytes (exit 2), not loaded from the artifact (exit 1), and nothing crashes.
TEST_F(V8EngineTest, DamagedArtifactsFallBackToCompiling) {
  ModuleSource exit1 = makeModuleSource("exit1.wasm", exitModule(1));
  ModuleSource exit2 = makeModuleSource("exit2.wasm", exitModule(2));
  const Bytes good = relabelledArtifact(exit1, exit2);
  ASSERT_GT(good.size(), kArtifactHeaderSize + 16);

  std::vector<std::pair<std::string, Bytes>> damaged;
  for (size_t size : {size_t{0}, size_t{7}, kArtifactHeaderSize - 1, kArtifactHeaderSize,
                      kArtifactHeaderSize + 1, good.size() / 2, good.size() - 1})
    damaged.emplace_back("truncated to " + std::to_string(size),
                         Bytes(good.begin(), good.begin() + static_cast<ptrdiff_t>(size)));
  for (size_t at : {size_t{0}, size_t{8}, size_t{12}, size_t{16}, size_t{30}, size_t{60},
                    size_t{100}, kArtifactHeaderSize + 10, good.size() / 2 + 3, good.size() - 1}) {
    Bytes flipped = good;
    flipped[at] ^= 0x10;
    damaged.emplace_back("byte " + std::to_string(at) + " flipped", std::move(flipped));
  }
  Bytes longer = good;
  longer.push_back(0);
  damaged.emplace_back("one byte appended", std::move(longer));
  auto payload = v8engine::verifyArtifact(good, v8engine::moduleDigest("", exit2.bytes),
                                          precompiler().cacheKey());
  ASSERT_TRUE(payload.has_value()) << payload.error().message;
  damaged.emplace_back("other cache key",
                       v8engine::encodeArtifact(*payload, v8engine::moduleDigest("", exit2.bytes),
                                                precompiler().cacheKey() + " --other-flag"));
  damaged.emplace_back("made from another module", *precompiler().precompile(exit1));

  for (const auto& [what, artifact] : damaged) {
    SCOPED_TRACE(what);
    RecordingHost host;
    RunResult r = run(exit2, artifact, host);
    EXPECT_EQ(r.kind, RunResult::Kind::kExited);
    EXPECT_EQ(r.exitCode, 2u);
  }
}

// A payload that passes our checks but that V8 refuses (its own header says another V8
// or other flags): V8 compiles the wire bytes instead, through the same streaming route.
TEST_F(V8EngineTest, PayloadV8RefusesFallsBackToCompiling) {
  ModuleSource exit1 = makeModuleSource("exit1.wasm", exitModule(1));
  ModuleSource exit2 = makeModuleSource("exit2.wasm", exitModule(2));
  Bytes swapped = relabelledArtifact(exit1, exit2);
  ASSERT_GT(swapped.size(), kArtifactHeaderSize + 16);
  Bytes payload(swapped.begin() + kArtifactHeaderSize, swapped.end());
  for (size_t at : {size_t{0}, size_t{4}, size_t{12}}) {  // V8's magic, version and flag hashes
    SCOPED_TRACE("V8 header byte " + std::to_string(at));
    Bytes refused = payload;
    refused[at] ^= 0x01;
    RecordingHost host;
    RunResult r = run(exit2,
                      v8engine::encodeArtifact(refused, v8engine::moduleDigest("", exit2.bytes),
                                               precompiler().cacheKey()),
                      host);
    EXPECT_EQ(r.kind, RunResult::Kind::kExited);
    EXPECT_EQ(r.exitCode, 2u);
  }
}

TEST_F(V8EngineTest, UnreadableArtifactFdFallsBackToCompiling) {
  ModuleSource exit2 = makeModuleSource("exit2.wasm", exitModule(2));
  int pipeFds[2];
  ASSERT_EQ(pipe2(pipeFds, O_CLOEXEC | O_NONBLOCK), 0);
  UniqueFd readEnd(pipeFds[0]), writeEnd(pipeFds[1]);
  for (int fd : {readEnd.get(), 1 << 20 /* not open */}) {
    RecordingHost host;
    auto r = engine().run(exit2, fd, RunOptions{}, host);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->exitCode, 2u);
  }
}

TEST_F(V8EngineTest, ArtifactIsReadFromOffsetZero) {
  ModuleSource exit1 = makeModuleSource("exit1.wasm", exitModule(1));
  ModuleSource exit2 = makeModuleSource("exit2.wasm", exitModule(2));
  Bytes swapped = relabelledArtifact(exit1, exit2);
  UniqueFd fd = memfdWith(swapped);
  ASSERT_EQ(lseek(fd.get(), 5, SEEK_SET), 5);
  RecordingHost host;
  auto r = engine().run(exit2, fd.get(), RunOptions{}, host);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->exitCode, 1u);  // loaded from the artifact
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 5);
}

// The zygote's preparation (Engine::prepareForks, prepareModuleForForks), in a process that
// then runs modules itself: the first run takes over the prepared isolate and runs the
// prepared module (an artifact with exit(1)'s code labelled as exit(2)'s: exit 1 although
// run() is given no artifact); that isolate is disposed of with the run, with the module,
// and later runs make their own (exit 2: compiled). Under ASan this checks that teardown.
TEST_F(V8EngineTest, PreparedIsolateAndModuleServeTheNextRunOnly) {
  ModuleSource exit1 = makeModuleSource("exit1.wasm", exitModule(1));
  ModuleSource exit2 = makeModuleSource("exit2.wasm", exitModule(2));
  Bytes swapped = relabelledArtifact(exit1, exit2);
  UniqueFd artifact = memfdWith(swapped);
  engine().prepareForks();
  engine().prepareModuleForForks(exit2, artifact.get());
  for (uint32_t expected : {1u, 2u, 2u}) {
    RecordingHost host;
    RunResult r = run(exit2, {}, host);
    EXPECT_EQ(r.kind, RunResult::Kind::kExited);
    EXPECT_EQ(r.exitCode, expected);
  }
  // Preparing again after the take-over works as the first time.
  engine().prepareForks();
  engine().prepareModuleForForks(exit2, artifact.get());
  RecordingHost host;
  EXPECT_EQ(run(exit2, {}, host).exitCode, 1u);
}

// The zygote never compiles a module for its forks (that would hold up every spawn behind
// it): without an artifact, or with one that fails verification, nothing is prepared.
TEST_F(V8EngineTest, ModulesArePreparedOnlyFromAVerifiedArtifact) {
  ModuleSource exit1 = makeModuleSource("exit1.wasm", exitModule(1));
  ModuleSource exit2 = makeModuleSource("exit2.wasm", exitModule(2));
  Bytes swapped = relabelledArtifact(exit1, exit2);
  swapped.back() ^= 1;  // the payload digest no longer matches
  UniqueFd damaged = memfdWith(swapped);
  engine().prepareForks();
  engine().prepareModuleForForks(exit2, -1);
  engine().prepareModuleForForks(exit2, damaged.get());
  RecordingHost host;
  RunResult r = run(exit2, {}, host);  // takes the prepared isolate, which holds no module
  EXPECT_EQ(r.exitCode, 2u);
}

// Forks of a process that prepared an isolate (a zygote's containers) each take it over
// and reseed V8's address hints: without that, every fork would continue the zygote's
// random sequence and map its V8 memory at the same addresses as its siblings.
TEST_F(V8EngineTest, ForksOfAPreparedProcessPlaceTheirMappingsApart) {
  ModuleSource exit3 = makeModuleSource("exit3.wasm", exitModule(3));
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd readEnd(fds[0]), writeEnd(fds[1]);
  pid_t zygote = ::fork();
  ASSERT_GE(zygote, 0);
  if (zygote == 0) {
    readEnd.reset();
    engine().prepareForks();
    for (int i = 0; i < 2; ++i) {
      pid_t child = ::fork();
      if (child == 0) {
        RecordingHost host;
        RunOptions options;
        options.processExitsAfterRun = true;
        auto r = engine().run(exit3, -1, options, host);
        void* hint = v8engine::v8Platform().GetPageAllocator()->GetRandomMmapAddr();
        bool ok = r && r->exitCode == 3 &&
                  ::write(writeEnd.get(), &hint, sizeof hint) == static_cast<ssize_t>(sizeof hint);
        ::_exit(ok ? 0 : 1);
      }
      int status = 0;
      ::waitpid(child, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ::_exit(2);
    }
    ::_exit(0);
  }
  writeEnd.reset();
  int status = 0;
  ASSERT_EQ(::waitpid(zygote, &status, 0), zygote);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  void* hints[2] = {};
  ASSERT_EQ(::read(readEnd.get(), hints, sizeof hints), static_cast<ssize_t>(sizeof hints));
  EXPECT_NE(hints[0], hints[1]);
}

TEST_F(V8EngineTest, I64ArgumentsReachTheHostIntact) {
  ModuleSource module = makeModuleSource("i64.wasm", kI64Module);
  RecordingHost host;
  RunResult r = run(module, {}, host);
  EXPECT_EQ(r.kind, RunResult::Kind::kReturned);
  ASSERT_EQ(host.calls.size(), 2u);
  EXPECT_EQ(host.calls[0].id, wasi::FunctionId::fd_seek);
  EXPECT_EQ(host.calls[0].args, (std::vector<uint64_t>{0xffffffffu, 0x8000000000000001u, 2, 16}));
  EXPECT_EQ(host.calls[1].id, wasi::FunctionId::fd_advise);
  EXPECT_EQ(host.calls[1].args,
            (std::vector<uint64_t>{7, 0xffffffffffffffffu, 0x123456789abcdef0u, 0x7fffffffu}));
}

TEST_F(V8EngineTest, MemoryGrowBetweenHostCallsIsSeen) {
  ModuleSource module = makeModuleSource("grow.wasm", kGrowModule);
  RecordingHost host;
  RunResult r = run(module, {}, host);
  EXPECT_EQ(r.kind, RunResult::Kind::kReturned);
  EXPECT_EQ(host.written, "1gr02gr03gr0");
  ASSERT_EQ(host.calls.size(), 3u);
  EXPECT_EQ(host.calls[0].memorySize, 1u * 65536);
  EXPECT_EQ(host.calls[1].memorySize, 16u * 65536);
  EXPECT_EQ(host.calls[2].memorySize, 64u * 65536);
}

TEST_F(V8EngineTest, ProcExitCannotBeCaughtByTheGuest) {
  ModuleSource module = makeModuleSource("catch.wasm", kCatchingExitModule);
  RecordingHost host;
  RunResult r = run(module, {}, host);  // would loop forever if the catch_all resumed it
  EXPECT_EQ(r.kind, RunResult::Kind::kExited);
  EXPECT_EQ(r.exitCode, 3u);
}

TEST_F(V8EngineTest, CompileErrorIsOneLineWithV8sMessage) {
  ModuleSource module = makeModuleSource("bad.wasm", kInvalidBodyModule);
  RecordingHost host;
  auto r = engine().run(module, -1, RunOptions{}, host);
  ASSERT_FALSE(r.has_value());
  const std::string& message = r.error().message;
  EXPECT_EQ(message.rfind("bad.wasm: invalid module: CompileError: ", 0), 0u) << message;
  EXPECT_NE(message.find("Compiling function #0 failed"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  auto artifact = precompiler().precompile(module);
  EXPECT_FALSE(artifact.has_value());
}

// Runs `module` on a new thread with a `stackSize`-byte stack.
RunResult runOnThread(Engine& engine, const ModuleSource& module, size_t stackSize) {
  struct Job {
    Engine& engine;
    const ModuleSource& module;
    RecordingHost host;
    Expected<RunResult> result = makeError(ErrorCode::kInternal, "not run");
  } job{engine, module, {}};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, stackSize);
  pthread_t thread;
  int rc = pthread_create(
      &thread, &attr,
      [](void* arg) -> void* {
        auto* job = static_cast<Job*>(arg);
        job->result = job->engine.run(job->module, -1, RunOptions{}, job->host);
        return nullptr;
      },
      &job);
  pthread_attr_destroy(&attr);
  EXPECT_EQ(rc, 0);
  if (rc == 0) pthread_join(thread, nullptr);
  EXPECT_TRUE(job.result.has_value()) << job.result.error().message;
  return job.result.value_or(RunResult{RunResult::Kind::kTrapped, 999, "no result"});
}

// V8 assumes ~1 MB of stack; the engine gives it the calling thread's real stack, so a
// small stack traps cleanly and a large one allows deep recursion.
TEST_F(V8EngineTest, StackOverflowOnASmallThreadStackTraps) {
  ModuleSource module = makeModuleSource("rec.wasm", recursionModule(1000000));
  RunResult r = runOnThread(engine(), module, 256 * 1024);
  EXPECT_EQ(r.kind, RunResult::Kind::kTrapped);
  EXPECT_EQ(r.exitCode, kTrapExitCode);
  EXPECT_EQ(r.trapMessage, "RangeError: Maximum call stack size exceeded");
}

TEST_F(V8EngineTest, DeepRecursionUsesTheWholeThreadStack) {
  // 200k frames: beyond V8's default limit (< 50k), within 64 MiB.
  ModuleSource module = makeModuleSource("rec.wasm", recursionModule(200000));
  RunResult r = runOnThread(engine(), module, 64 * 1024 * 1024);
  EXPECT_EQ(r.kind, RunResult::Kind::kReturned) << r.trapMessage;
}

// In this process (no RLIMIT_AS) V8 runs with the trap handler; under an address-space
// limit it would not fit its ~10 GiB guard regions, so a fresh process with a limit runs
// with explicit bounds checks instead, and says so in its cache key.
TEST_F(V8EngineTest, TrapHandlerOnlyWithoutAnAddressSpaceLimit) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's shadow memory does not fit under a 1 GiB RLIMIT_AS";
#endif
  struct rlimit limit;
  ASSERT_EQ(getrlimit(RLIMIT_AS, &limit), 0);
  if (limit.rlim_cur != RLIM_INFINITY) GTEST_SKIP() << "the tests run under an RLIMIT_AS";
  EXPECT_NE(precompiler().cacheKey().find("trap-handler=on"), std::string::npos)
      << precompiler().cacheKey();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        struct rlimit low;
        low.rlim_cur = low.rlim_max = 1ull << 30;
        setrlimit(RLIMIT_AS, &low);
        auto fresh = makeV8Engine();
        std::string key = fresh->precompiler()->cacheKey();
        if (key.find("trap-handler=off") == std::string::npos) {
          std::fprintf(stderr, "key %s\n", key.c_str());
          std::exit(2);
        }
        testing::RunSpec spec;
        spec.precompiled = false;
        testing::RunOutput grow = testing::runModule(*fresh, "memory_grow", spec);
        testing::RunOutput oob = testing::runModule(*fresh, "trap_oob", spec);
        if (!grow.result || grow.result->exitCode != 0 || !oob.result ||
            oob.result->trapMessage.find("out of bounds") == std::string::npos) {
          std::fprintf(
              stderr, "grow: %s / oob: %s\n",
              grow.result ? grow.err.c_str() : grow.result.error().message.c_str(),
              oob.result ? oob.result->trapMessage.c_str() : oob.result.error().message.c_str());
          std::exit(3);
        }
        std::exit(fresh->precompiler()->cacheKey() == key ? 0 : 4);
      },
      ::testing::ExitedWithCode(0), "");
}

// Both engines catch SIGSEGV (V8 for out-of-bounds accesses under the trap handler, wasm2c
// for its traps). Whichever starts first, each keeps getting its own faults, every time:
// V8's own handler would uninstall itself at the first wasm2c fault (trap_handler.h).
TEST_F(V8EngineTest, SharesSigsegvWithWasm2cInEitherOrder) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // In a fresh process: out-of-bounds traps from engines in this order, or exit 1.
  auto trapsInOrder = [](bool wasm2cFirst) {
    auto v8 = makeV8Engine();
    auto w2c = makeWasm2cEngine();
    std::vector<Engine*> order = {w2c.get(), v8.get(), w2c.get(), v8.get(), v8.get()};
    if (!wasm2cFirst) std::swap(order[0], order[1]);
    for (Engine* e : order) {
      testing::RunOutput oob = testing::runModule(*e, "trap_oob");
      if (!oob.result || oob.result->kind != RunResult::Kind::kTrapped ||
          oob.result->trapMessage.find("out of bounds") == std::string::npos) {
        std::fprintf(stderr, "%s: no out-of-bounds trap\n", std::string(e->name()).c_str());
        std::exit(1);
      }
    }
    std::exit(0);
  };
  EXPECT_EXIT(trapsInOrder(true), ::testing::ExitedWithCode(0), "") << "wasm2c first";
  EXPECT_EXIT(trapsInOrder(false), ::testing::ExitedWithCode(0), "") << "v8 first";
}

}  // namespace
}  // namespace runwasi::engine
