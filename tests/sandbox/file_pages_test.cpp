// releaseCleanFilePages: which mappings give their pages back, and that what a process
// reads through them afterwards is unchanged.
#include "sandbox/file_pages.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../support/scratch_dir.h"
#include "common/file.h"
#include "common/unique_fd.h"

namespace runwasi::sandbox {
namespace {

namespace fs = std::filesystem;
constexpr size_t kSize = 1 << 20;

// The Rss, in KiB, of the mapping that starts at `address` (-1 if there is none).
long rssKbAt(const void* address) {
  auto smaps = readFile("/proc/self/smaps");
  if (!smaps) return -1;
  std::string text(smaps->begin(), smaps->end());
  char start[32];
  std::snprintf(start, sizeof start, "%lx-", reinterpret_cast<unsigned long>(address));
  size_t at = text.find(std::string("\n") + start);
  if (at == std::string::npos && !text.starts_with(start)) return -1;
  size_t rss = text.find("\nRss:", at == std::string::npos ? 0 : at + 1);
  if (rss == std::string::npos) return -1;
  size_t digits = text.find_first_not_of(' ', rss + 5);
  long value = -1;
  std::from_chars(text.data() + digits, text.data() + text.size(), value);
  return value;
}

class FilePagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = scratch_.path() / "data";
    std::vector<char> bytes(kSize);
    for (size_t i = 0; i < kSize; ++i) bytes[i] = static_cast<char>(i * 7 + 3);
    std::ofstream(path_, std::ios::binary).write(bytes.data(), static_cast<long>(kSize));
    expected_ = std::move(bytes);
  }
  void TearDown() override {
    for (auto [address, size] : maps_) ::munmap(address, size);
  }

  // The file mapped private with `prot`, every page read.
  char* mapAndTouch(int prot) {
    UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_TRUE(fd);
    void* address = ::mmap(nullptr, kSize, prot, MAP_PRIVATE, fd.get(), 0);
    EXPECT_NE(address, MAP_FAILED);
    maps_.push_back({address, kSize});
    auto* bytes = static_cast<char*>(address);
    volatile char sum = 0;
    for (size_t i = 0; i < kSize; i += 4096) sum = static_cast<char>(sum + bytes[i]);
    return bytes;
  }

  bool sameAsFile(const char* bytes) const { return std::memcmp(bytes, expected_.data(), kSize) == 0; }

  runwasi::testing::ScratchDir scratch_;
  fs::path path_;
  std::vector<char> expected_;
  std::vector<std::pair<void*, size_t>> maps_;
};

TEST_F(FilePagesTest, MappedFilesListsThisProgramAndItsLibraries) {
  auto files = mappedFiles();
  ASSERT_TRUE(files) << files.error().message;
  EXPECT_TRUE(files->contains(fs::read_symlink("/proc/self/exe").string()));
  EXPECT_FALSE(files->contains(path_.string()));
  mapAndTouch(PROT_READ);
  files = mappedFiles();
  ASSERT_TRUE(files) << files.error().message;
  EXPECT_TRUE(files->contains(path_.string()));
}

TEST_F(FilePagesTest, ReadOnlyMappingGivesItsPagesBackAndReadsTheSame) {
  char* bytes = mapAndTouch(PROT_READ);
  ASSERT_EQ(rssKbAt(bytes), static_cast<long>(kSize / 1024));

  auto released = releaseCleanFilePages({});
  ASSERT_TRUE(released) << released.error().message;
  EXPECT_GE(released->mappings, 1u);
  EXPECT_GE(released->bytes, kSize);
  EXPECT_EQ(rssKbAt(bytes), 0);
  EXPECT_TRUE(sameAsFile(bytes));  // faulted back in from the page cache
  EXPECT_EQ(rssKbAt(bytes), static_cast<long>(kSize / 1024));
}

TEST_F(FilePagesTest, FilesToKeepKeepTheirPages) {
  char* bytes = mapAndTouch(PROT_READ);
  auto released = releaseCleanFilePages({path_.string()});
  ASSERT_TRUE(released) << released.error().message;
  EXPECT_EQ(rssKbAt(bytes), static_cast<long>(kSize / 1024));
}

// A fork that inherited the engine has every file mapped already: nothing is released.
TEST_F(FilePagesTest, NothingIsReleasedWhenEveryFileIsKept) {
  char* bytes = mapAndTouch(PROT_READ);
  auto files = mappedFiles();
  ASSERT_TRUE(files) << files.error().message;
  auto released = releaseCleanFilePages(*files);
  ASSERT_TRUE(released) << released.error().message;
  EXPECT_EQ(released->mappings, 0u);
  EXPECT_EQ(released->bytes, 0u);
  EXPECT_EQ(rssKbAt(bytes), static_cast<long>(kSize / 1024));
}

// A written page of a private mapping exists only in this process: dropping it would
// bring the file's bytes back. Relocated library data is such a mapping, made read-only.
TEST_F(FilePagesTest, MappingWithAPrivateCopyIsLeftAlone) {
  char* bytes = mapAndTouch(PROT_READ | PROT_WRITE);
  bytes[100] = 'x';
  ASSERT_EQ(::mprotect(bytes, kSize, PROT_READ), 0);
  auto released = releaseCleanFilePages({});
  ASSERT_TRUE(released) << released.error().message;
  EXPECT_EQ(bytes[100], 'x');
  EXPECT_EQ(rssKbAt(bytes), static_cast<long>(kSize / 1024));
}

TEST_F(FilePagesTest, WritableMappingIsLeftAlone) {
  char* bytes = mapAndTouch(PROT_READ | PROT_WRITE);
  auto released = releaseCleanFilePages({});
  ASSERT_TRUE(released) << released.error().message;
  EXPECT_EQ(rssKbAt(bytes), static_cast<long>(kSize / 1024));
  EXPECT_TRUE(sameAsFile(bytes));
}

}  // namespace
}  // namespace runwasi::sandbox
