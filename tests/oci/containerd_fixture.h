// The containerd client's tests: a private containerd (scripts/containerd-private.sh) for
// the whole suite, and per test a namespace of its own and a client in it.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <string>
#include <vector>

#include "../support/private_containerd.h"
#include "../support/process.h"
#include "../support/scratch_dir.h"
#include "oci/containerd_client.h"
#include "oci/image_builder.h"

namespace runwasi::oci {

class ContainerdFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skipReason_ = testing::containerdSkipReason();
    if (!skipReason_.empty()) return;
    // Installed and root: from here on, every failure fails the tests.
    scratch_ = std::make_unique<testing::ScratchDir>("runwasi-cc-");
    containerd_ = std::make_unique<testing::PrivateContainerd>(*scratch_ / "containerd");
    testing::ProcessResult started = containerd_->start();
    startError_ = started.status == 0 ? "" : "containerd did not start: " + started.err;
  }

  static void TearDownTestSuite() {
    containerd_.reset();  // stops it, before its directory goes
    scratch_.reset();
  }

  void SetUp() override {
    if (!skipReason_.empty()) GTEST_SKIP() << skipReason_;
    ASSERT_TRUE(startError_.empty()) << startError_;
    // containerd namespaces: letters, digits and [._-]; one per test keeps tests apart.
    ns_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::transform(ns_.begin(), ns_.end(), ns_.begin(),
                   [](unsigned char c) { return std::isalnum(c) ? std::tolower(c) : '-'; });
    auto client = connectContainerd(socket(), ns_);
    ASSERT_TRUE(client) << client.error().message;
    client_ = std::move(*client);
  }

  static std::string socket() { return containerd_->socket().string(); }

  // ctr in this test's namespace.
  testing::ProcessResult ctr(std::vector<std::string> args) {
    args.insert(args.begin(), {"-n", ns_});
    return containerd_->ctr(std::move(args));
  }

  // Builds the image and imports it into this test's namespace, unpacked or not.
  BuiltImage importImage(const ImageSpec& spec, bool unpack) {
    auto tar = *scratch_ / (ns_ + ".tar");
    auto built = writeImageTarball(spec, tar);
    EXPECT_TRUE(built) << built.error().message;
    std::vector<std::string> args = {"images", "import"};
    if (!unpack) args.push_back("--no-unpack");
    args.push_back(tar.string());
    testing::ProcessResult imported = ctr(args);
    EXPECT_EQ(imported.status, 0) << imported.out << imported.err;
    return built ? *built : BuiltImage{};
  }

  static inline std::string skipReason_;
  static inline std::string startError_;
  static inline std::unique_ptr<testing::ScratchDir> scratch_;
  static inline std::unique_ptr<testing::PrivateContainerd> containerd_;

  std::string ns_;
  std::unique_ptr<ContainerdClient> client_;
};

}  // namespace runwasi::oci
