// stress-test's command line: defaults, every flag in both spellings, and the errors.
#include <gtest/gtest.h>

#include "options.h"

namespace runwasi::stress {
namespace {

using namespace std::chrono_literals;

Expected<Options> parse(std::vector<std::string> args) {
  return parseOptions(args);
}

void expectUsageError(std::vector<std::string> args, std::string_view needle) {
  auto o = parse(args);
  ASSERT_FALSE(o) << "accepted: " << ::testing::PrintToString(args);
  EXPECT_EQ(o.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(o.error().message.find(needle), std::string::npos)
      << "\"" << o.error().message << "\" does not contain \"" << needle << "\"";
}

TEST(StressOptions, Defaults) {
  auto o = parse({"--image", "hello.wasm"});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->mode, Mode::kMock);
  EXPECT_EQ(o->runtime, "io.containerd.v8.v1");
  EXPECT_EQ(o->image, "hello.wasm");
  EXPECT_EQ(o->count, 10u);
  EXPECT_EQ(o->parallel, 1u);
  EXPECT_EQ(o->warmupCount(), 1u);  // one per worker unless given
  EXPECT_EQ(o->timeout, 10s);
  EXPECT_TRUE(o->json.empty());
  EXPECT_FALSE(o->shimPerTask);
  EXPECT_TRUE(o->args.empty());
}

TEST(StressOptions, EveryFlagWithSeparateAndJoinedValues) {
  auto o = parse({"--mode",
                  "mock",
                  "--runtime=io.containerd.null.v1",
                  "--image",
                  "m.wasm",
                  "--count=1000",
                  "--parallel",
                  "4",
                  "--warmup=0",
                  "--timeout",
                  "2500ms",
                  "--json=out.json",
                  "--namespace",
                  "ns1",
                  "--shim",
                  "/x/shim",
                  "--shim-per-task",
                  "--shim-log=log.txt",
                  "--debug",
                  "--work-dir",
                  "/w",
                  "--",
                  "echo",
                  "--count"});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->runtime, "io.containerd.null.v1");
  EXPECT_EQ(o->count, 1000u);
  EXPECT_EQ(o->parallel, 4u);
  EXPECT_EQ(o->warmupCount(), 0u);
  EXPECT_EQ(o->timeout, 2500ms);
  EXPECT_EQ(o->json, "out.json");
  EXPECT_EQ(o->ns, "ns1");
  EXPECT_EQ(o->shim, "/x/shim");
  EXPECT_TRUE(o->shimPerTask);
  EXPECT_EQ(o->shimLog, "log.txt");
  EXPECT_TRUE(o->debug);
  EXPECT_EQ(o->workDir, "/w");
  // After "--" nothing is a flag.
  EXPECT_EQ(o->args, (std::vector<std::string>{"echo", "--count"}));
}

TEST(StressOptions, WarmupDefaultsToParallel) {
  auto o = parse({"--image", "m.wasm", "--parallel", "6"});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->warmupCount(), 6u);
}

TEST(StressOptions, ContainerdMode) {
  auto o = parse({"--mode=containerd", "--image", "docker.io/library/hello:latest", "--runtime",
                  "io.containerd.runc.v2", "--address", "/run/c.sock"});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->mode, Mode::kContainerd);
  EXPECT_EQ(o->address, "/run/c.sock");
  EXPECT_EQ(o->snapshotter, "overlayfs");
  // Mode flags may come before --mode; --work-dir serves both modes.
  o = parse({"--snapshotter", "native", "--work-dir=/w", "--mode", "containerd", "--image", "i"});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->snapshotter, "native");
  EXPECT_EQ(o->workDir, "/w");
  EXPECT_EQ(o->address, "/run/containerd/containerd.sock");
  EXPECT_FALSE(o->pod);  // a shim per task, as for ctr run
  o = parse({"--mode", "containerd", "--image", "i", "--pod"});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_TRUE(o->pod);
}

TEST(StressOptions, ShortRuntimeNames) {
  auto runtimeOf = [](std::string name) {
    auto o = parse({"--image", "i", "--runtime", name});
    return o ? o->runtime : "error: " + o.error().message;
  };
  EXPECT_EQ(runtimeOf("runc"), "io.containerd.runc.v2");
  EXPECT_EQ(runtimeOf("v8"), "io.containerd.v8.v1");
  EXPECT_EQ(runtimeOf("wasm2c"), "io.containerd.wasm2c.v1");
  EXPECT_EQ(runtimeOf("null"), "io.containerd.null.v1");
  // Full names and paths as they are.
  EXPECT_EQ(runtimeOf("io.containerd.runc.v1"), "io.containerd.runc.v1");
  EXPECT_EQ(runtimeOf("/opt/containerd-shim-x-v3"), "/opt/containerd-shim-x-v3");
}

TEST(StressOptions, HelpStopsParsing) {
  auto o = parse({"--help", "--count", "0"});  // no --image needed, the rest not read
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_TRUE(o->help);
  // Flags are read in order: a bad one before -h is still the error.
  EXPECT_FALSE(parse({"--count", "0", "-h"}));
}

TEST(StressOptions, Errors) {
  expectUsageError({"--count", "5"}, "missing --image");
  expectUsageError({"--image", "m", "--bogus"}, "unknown argument \"--bogus\"");
  expectUsageError({"--image", "m", "--count"}, "--count needs a value");
  expectUsageError({"--image", "m", "--count", "0"}, "--count must be at least 1");
  expectUsageError({"--image", "m", "--parallel", "0"}, "--parallel must be at least 1");
  expectUsageError({"--image", "m", "--count", "12x"}, "not a whole number");
  expectUsageError({"--image", "m", "--count", "-3"}, "not a whole number");
  expectUsageError({"--image", "m", "--count="}, "not a whole number");
  expectUsageError({"--image", "m", "--mode", "real"}, "expected mock or containerd");
  expectUsageError({"--image", "m", "--timeout", "soon"}, "bad duration");
  expectUsageError({"--image", "m", "--debug=yes"}, "--debug takes no value");
  expectUsageError({"--image", "m", "--runtime="}, "--runtime is empty");
  expectUsageError({"--mode", "containerd", "--image", "m", "--shim-per-task"},
                   "--shim-per-task is only for --mode mock");
  expectUsageError({"--mode", "containerd", "--image", "m", "--shim", "/s"},
                   "--shim is only for --mode mock");
  expectUsageError({"--image", "m", "--address", "/c.sock"},
                   "--address is only for --mode containerd");
  expectUsageError({"--snapshotter", "native", "--image", "m"},
                   "--snapshotter is only for --mode containerd");
  expectUsageError({"--image", "m", "--pod"}, "--pod is only for --mode containerd");
  expectUsageError({"--mode", "containerd", "--image", "m", "--pod=yes"}, "--pod takes no value");
}

TEST(StressDuration, UnitsAndBareSeconds) {
  EXPECT_EQ(parseDuration("500ms").value(), 500ms);
  EXPECT_EQ(parseDuration("10s").value(), 10s);
  EXPECT_EQ(parseDuration("1.5s").value(), 1500ms);
  EXPECT_EQ(parseDuration("2m").value(), 120s);
  EXPECT_EQ(parseDuration("3").value(), 3s);
  EXPECT_EQ(parseDuration("0.25").value(), 250ms);
  EXPECT_EQ(parseDuration("1ms").value(), 1ms);
}

TEST(StressDuration, Rejects) {
  for (const char* bad : {"", "0", "0s", "0.1ms", "-1s", "s", "ms", "10h", "1 s", "abc", "1e400"})
    EXPECT_FALSE(parseDuration(bad)) << "accepted \"" << bad << "\"";
}

TEST(StressShimBinaryName, ContainerdRule) {
  EXPECT_EQ(shimBinaryName("io.containerd.v8.v1").value(), "containerd-shim-v8-v1");
  EXPECT_EQ(shimBinaryName("io.containerd.null.v1").value(), "containerd-shim-null-v1");
  EXPECT_EQ(shimBinaryName("io.containerd.runc.v2").value(), "containerd-shim-runc-v2");
  // Only the last two parts count.
  EXPECT_EQ(shimBinaryName("wasm2c.v1").value(), "containerd-shim-wasm2c-v1");
  for (const char* bad : {"runc", "", ".v1", "io.", "io..v1"})
    EXPECT_FALSE(shimBinaryName(bad)) << "accepted \"" << bad << "\"";
}

}  // namespace
}  // namespace runwasi::stress
