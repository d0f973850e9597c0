// The shim command line, socket addresses and the bundle's group id (no processes).
#include "shim/bootstrap.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/temp_dir.h"
#include "shim/bootstrap_flags.h"
#include "shim/shim_address.h"
#include "ttrpc/server.h"
#include "ttrpc/unix_socket.h"

namespace runwasi::shim {
namespace {

Expected<ShimFlags> parse(std::vector<std::string> args) {
  return parseShimFlags(args);
}

std::string parseError(std::vector<std::string> args) {
  auto flags = parse(std::move(args));
  EXPECT_FALSE(flags.has_value());
  if (flags) return "";
  EXPECT_EQ(flags.error().code, ErrorCode::kInvalidArgument);
  return flags.error().message;
}

TEST(ShimFlags, ParsesContainerdStartLine) {
  auto flags = parse({"-namespace", "default", "-address", "/run/containerd/containerd.sock",
                      "-publish-binary", "/usr/bin/containerd", "-id", "c1", "-debug", "start"});
  ASSERT_TRUE(flags) << flags.error().message;
  EXPECT_EQ(flags->ns, "default");
  EXPECT_EQ(flags->address, "/run/containerd/containerd.sock");
  EXPECT_EQ(flags->publishBinary, "/usr/bin/containerd");
  EXPECT_EQ(flags->id, "c1");
  EXPECT_TRUE(flags->debug);
  EXPECT_FALSE(flags->version);
  EXPECT_EQ(flags->bundle, "");
  EXPECT_EQ(flags->action, ShimAction::kStart);
}

TEST(ShimFlags, ParsesEqualsSyntaxDoubleDashAndDelete) {
  auto flags = parse({"--namespace=k8s.io", "-id=c2", "-address=/a.sock", "-bundle", "/b",
                      "-debug=false", "--", "delete"});
  ASSERT_TRUE(flags) << flags.error().message;
  EXPECT_EQ(flags->ns, "k8s.io");
  EXPECT_EQ(flags->id, "c2");
  EXPECT_EQ(flags->address, "/a.sock");
  EXPECT_EQ(flags->bundle, "/b");
  EXPECT_FALSE(flags->debug);
  EXPECT_EQ(flags->action, ShimAction::kDelete);
  EXPECT_EQ(flags->publishBinary, "containerd");  // Go's default
}

TEST(ShimFlags, DeleteNeedsNoAddress) {
  auto flags = parse({"-namespace", "ns", "-id", "c", "delete"});
  ASSERT_TRUE(flags) << flags.error().message;
  EXPECT_EQ(flags->action, ShimAction::kDelete);
}

TEST(ShimFlags, VersionAloneIsEnough) {
  auto flags = parse({"-v"});
  ASSERT_TRUE(flags) << flags.error().message;
  EXPECT_TRUE(flags->version);
  EXPECT_EQ(flags->action, ShimAction::kNone);
}

TEST(ShimFlags, RejectsBadLinesWithClearMessages) {
  EXPECT_EQ(parseError({"-namespace", "ns", "-foo", "x", "start"}),
            "flag provided but not defined: -foo");
  EXPECT_EQ(parseError({"-namespace", "ns", "-id"}), "flag needs an argument: -id");
  EXPECT_EQ(parseError({"-debug=maybe", "start"}), "invalid boolean value \"maybe\" for -debug");
  EXPECT_EQ(parseError({"---id", "x"}), "bad flag syntax: ---id");
  EXPECT_EQ(parseError({"-namespace", "ns", "-id", "c", "-address", "a"}),
            "no action given: expected start or delete (or -v)");
  EXPECT_EQ(parseError({"-namespace", "ns", "-id", "c", "-address", "a", "stop"}),
            "unknown action \"stop\": expected start or delete");
  EXPECT_EQ(parseError({"-namespace", "ns", "-id", "c", "-address", "a", "start", "more"}),
            "unexpected argument \"more\" after the action");
  EXPECT_EQ(parseError({"-id", "c", "-address", "a", "start"}), "shim namespace cannot be empty");
  EXPECT_EQ(parseError({"-namespace", "ns", "-address", "a", "start"}), "flag -id is required");
  EXPECT_EQ(parseError({"-namespace", "ns", "-id", "c", "start"}), "flag -address is required");
}

TEST(ShimAddress, GoCleanPath) {
  // Cases from Go's path/filepath tests.
  const std::pair<std::string, std::string> cases[] = {
      {"", "."},
      {"abc", "abc"},
      {"abc/def", "abc/def"},
      {".", "."},
      {"..", ".."},
      {"../..", "../.."},
      {"/", "/"},
      {"//", "/"},
      {"/abc/", "/abc"},
      {"abc//def//ghi", "abc/def/ghi"},
      {"abc/./def", "abc/def"},
      {"/./abc/def", "/abc/def"},
      {"abc/def/ghi/../jkl", "abc/def/jkl"},
      {"abc/def/../ghi/../jkl", "abc/jkl"},
      {"abc/..", "."},
      {"abc/../..", ".."},
      {"/abc/..", "/"},
      {"/abc/../..", "/"},
      {"abc/../../..", "../.."},
      {"/../abc", "/abc"},
      {"../abc/./../def", "../def"},
  };
  for (const auto& [in, out] : cases) EXPECT_EQ(goCleanPath(in), out) << "Clean(" << in << ")";
}

TEST(ShimAddress, MatchesContainerdsFormula) {
  // Expected values from `echo -n "<containerd address>/<ns>/<group>" | sha256sum`.
  EXPECT_EQ(socketAddress("/run/containerd/containerd.sock", "default", "pod-1"),
            "unix:///run/containerd/s/"
            "2afd5a65484af2a20a0dd33730bd668bba5f5e1344c937a6935f947cbb972c97");
  EXPECT_EQ(socketAddress("/run/containerd/containerd.sock", "k8s.io", "abc"),
            "unix:///run/containerd/s/"
            "a99a1752d3a0fadfb1f869026f16760475df03a572e20f4ccea9e6c1e5470b72");
  // filepath.Join cleans: a doubled slash or a trailing one changes nothing.
  EXPECT_EQ(socketAddress("/run/containerd//containerd.sock/", "k8s.io", "abc"),
            socketAddress("/run/containerd/containerd.sock", "k8s.io", "abc"));
  EXPECT_NE(socketAddress("/run/containerd/containerd.sock", "k8s.io", "abd"),
            socketAddress("/run/containerd/containerd.sock", "k8s.io", "abc"));
}

TEST(ShimAddress, SocketPathOf) {
  auto path = socketPathOf("unix:///run/containerd/s/abc");
  ASSERT_TRUE(path);
  EXPECT_EQ(*path, "/run/containerd/s/abc");
  EXPECT_FALSE(socketPathOf("/run/containerd/s/abc"));
  EXPECT_FALSE(socketPathOf("unix://"));
}

// `delete` and grouping trust a socket only when a daemon answers on it: a bare listener
// (a daemon being killed still has one for a few ms) takes connections but never answers.
TEST(ShimAddress, DaemonAnswersOnlyWhenSomethingServes) {
  auto dir = TempDir::create("daemon-answers-");
  ASSERT_TRUE(dir) << dir.error().message;
  const std::string path = (*dir / "s").string();
  EXPECT_FALSE(daemonAnswers(path));  // no file

  auto bare = ttrpc::listenUnix(path);
  ASSERT_TRUE(bare) << bare.error().message;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(daemonAnswers(path, std::chrono::milliseconds(200)));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(150));
  bare->reset();  // closed: the file stays, connections are refused
  EXPECT_FALSE(daemonAnswers(path));
  ASSERT_EQ(::unlink(path.c_str()), 0);

  // A ttrpc server with no Task service answers Unimplemented: alive.
  auto server = ttrpc::Server::create();
  ASSERT_TRUE(server) << server.error().message;
  ASSERT_TRUE((*server)->listen(path));
  std::thread serving([&] { (void)(*server)->run(); });
  EXPECT_TRUE(daemonAnswers(path));
  (*server)->stop();
  serving.join();
}

TEST(ShimVersion, MirrorsGoShimLayout) {
  EXPECT_EQ(versionText({"containerd-shim-v8-v1", "0.1.0", "v0.1.0-3-gabc"}),
            "containerd-shim-v8-v1:\n  Version:  0.1.0\n  Revision: v0.1.0-3-gabc\n\n");
}

class GroupIdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("bootstrap-group-");
    ASSERT_TRUE(dir) << dir.error().message;
    dir_.emplace(std::move(*dir));
  }
  void writeConfig(const std::string& text) { std::ofstream(dir_->path() / "config.json") << text; }
  Expected<std::string> group() { return readGroupId(dir_->path(), "ctr-id"); }

  std::optional<TempDir> dir_;
};

TEST_F(GroupIdTest, SandboxAnnotationNamesTheGroup) {
  writeConfig(R"({"ociVersion":"1.0.2","annotations":{"io.kubernetes.cri.sandbox-id":"pod-7"}})");
  EXPECT_EQ(group().value_or("?"), "pod-7");
}

TEST_F(GroupIdTest, DefaultsToTheContainerId) {
  writeConfig(R"({"ociVersion":"1.0.2"})");
  EXPECT_EQ(group().value_or("?"), "ctr-id");
  writeConfig(R"({"annotations":{"other":"x"}})");
  EXPECT_EQ(group().value_or("?"), "ctr-id");
  writeConfig(R"({"annotations":null})");
  EXPECT_EQ(group().value_or("?"), "ctr-id");
}

TEST_F(GroupIdTest, BadSpecsAreClearErrors) {
  auto missing = group();
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("config.json"), std::string::npos)
      << missing.error().message;
  writeConfig("{not json");
  auto malformed = group();
  ASSERT_FALSE(malformed);
  EXPECT_NE(malformed.error().message.find("config.json is not valid JSON"), std::string::npos)
      << malformed.error().message;
  writeConfig("[1]");
  EXPECT_FALSE(group());
  writeConfig(R"({"annotations":{"io.kubernetes.cri.sandbox-id":7}})");
  EXPECT_FALSE(group());
  writeConfig(R"({"annotations":[]})");
  EXPECT_FALSE(group());
}

}  // namespace
}  // namespace runwasi::shim
