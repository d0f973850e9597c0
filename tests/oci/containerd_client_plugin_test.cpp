// The lazily loaded containerd client (runwasi-containerd-client.so) in a program built as
// the shim is: it links the loader (runwasi_oci) and runwasi_proto, whose .proto files are
// registered at start, and not gRPC. The plugin must load beside those files, and gRPC must
// be mapped only once a client is asked for.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "../support/private_containerd.h"
#include "../support/scratch_dir.h"
#include "github.com/containerd/containerd/api/types/mount.pb.h"
#include "oci/containerd_client_plugin.h"

namespace runwasi::oci {
namespace {

using Clock = std::chrono::steady_clock;

bool grpcMapped() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find("libgrpc++") != std::string::npos) return true;
  return false;
}

// Taken before main, before any test could have loaded the plugin.
const bool kGrpcMappedAtStart = grpcMapped();

double millisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

TEST(ContainerdClientPlugin, LoadsGrpcOnlyWhenAClientIsAskedFor) {
  EXPECT_FALSE(kGrpcMappedAtStart) << "a program linking the loader maps libgrpc++ at start";
  // What the shim has registered: one of runwasi_proto's files, which the plugin imports
  // nothing of.
  containerd::types::Mount mount;
  EXPECT_EQ(mount.GetDescriptor()->file()->name(),
            "github.com/containerd/containerd/api/types/mount.proto");

  testing::ScratchDir dir("runwasi-ccp-");
  const std::string missing = (dir / "containerd.sock").string();
  auto start = Clock::now();
  auto client = loadContainerdClient(missing, "default");
  double firstMs = millisSince(start);
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code, ErrorCode::kUnavailable) << client.error().message;
  EXPECT_NE(client.error().message.find(missing), std::string::npos) << client.error().message;
  EXPECT_TRUE(grpcMapped()) << "the plugin (and libgrpc++ with it) is not loaded";

  start = Clock::now();
  EXPECT_FALSE(loadContainerdClient(missing, "default"));
  std::cout << "plugin load + failed connect: " << firstMs << " ms; again: " << millisSince(start)
            << " ms\n";
}

TEST(ContainerdClientPlugin, TalksToContainerd) {
  if (std::string reason = testing::containerdSkipReason(); !reason.empty()) GTEST_SKIP() << reason;
  testing::ScratchDir scratch("runwasi-ccp-");
  testing::PrivateContainerd containerd(scratch / "containerd");
  auto started = containerd.start();
  ASSERT_EQ(started.status, 0) << "containerd did not start: " << started.err;

  auto start = Clock::now();
  auto client = loadContainerdClient(containerd.socket().string(), "plugin");
  std::cout << "plugin load + connect: " << millisSince(start) << " ms\n";
  ASSERT_TRUE(client) << client.error().message;

  const Bytes blob = {'p', 'l', 'u', 'g', 'i', 'n'};
  const std::string digest = "sha256:" + sha256Hex(blob);
  auto lease = (*client)->createLease("", {}, std::chrono::seconds(60));
  ASSERT_TRUE(lease) << lease.error().message;
  auto written = (*client)->writeBlob("plugin-test", blob, digest, {{"via", "plugin"}}, *lease);
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(written->labels, (Labels{{"via", "plugin"}}));

  auto read = (*client)->readBlob(digest, 100);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_TRUE(*read == blob);
  // What a call costs once connected (two round trips for readBlob: Info, then Read).
  std::vector<double> readMs, infoMs;
  for (int i = 0; i < 50; ++i) {
    start = Clock::now();
    ASSERT_TRUE((*client)->readBlob(digest, 100));
    readMs.push_back(millisSince(start));
    start = Clock::now();
    ASSERT_TRUE((*client)->contentInfo(digest));
    infoMs.push_back(millisSince(start));
  }
  std::sort(readMs.begin(), readMs.end());
  std::sort(infoMs.begin(), infoMs.end());
  std::cout << "median readBlob of " << blob.size() << " bytes: " << readMs[25]
            << " ms, contentInfo: " << infoMs[25] << " ms\n";

  auto image = (*client)->getImage("docker.io/library/absent:latest");
  ASSERT_FALSE(image);
  EXPECT_EQ(image.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE((*client)->deleteLease(*lease, true));
}

}  // namespace
}  // namespace runwasi::oci
