// fd_readdir: entries with `.` and `..`, cookies, truncation.
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <set>

#include "wasi_test_fixture.h"

namespace runwasi::wasi::test {
namespace {

using F = FunctionId;

struct Entry {
  Dirent dirent;
  std::string name;
};

class ReaddirTest : public WasiTest {
 protected:
  // One fd_readdir call; the parsed complete entries, bufused in *used.
  Errno readdir(Fd fd, uint32_t bufLen, uint64_t cookie, std::vector<Entry>* entries,
                uint32_t* used) {
    uint32_t buf = alloc(bufLen);
    uint32_t out = alloc(4);
    Errno e = call(F::fd_readdir, {fd, buf, bufLen, cookie, out});
    if (e != Errno::kSuccess) return e;
    *used = load<uint32_t>(out);
    entries->clear();
    uint32_t pos = 0;
    while (pos + sizeof(Dirent) <= *used) {
      Dirent d = load<Dirent>(buf + pos);
      if (pos + sizeof(Dirent) + d.dNamlen > *used) break;
      entries->push_back({d, loadString(buf + pos + sizeof(Dirent), d.dNamlen)});
      pos += sizeof(Dirent) + d.dNamlen;
    }
    return e;
  }
};

TEST_F(ReaddirTest, ListsDotDotDotAndEntriesWithTypesAndInodes) {
  writeHostFile(hostPath("file"), "x");
  mkdir(hostPath("sub").c_str(), 0755);
  symlink("file", hostPath("link").c_str());
  std::vector<Entry> entries;
  uint32_t used = 0;
  ASSERT_EQ(readdir(kRoot, 4096, 0, &entries, &used), Errno::kSuccess);
  EXPECT_LT(used, 4096u);  // all of it
  std::map<std::string, Dirent> byName;
  for (const Entry& e : entries) byName[e.name] = e.dirent;
  ASSERT_EQ(byName.size(), 5u);
  EXPECT_EQ(byName["."].dType, Filetype::kDirectory);
  EXPECT_EQ(byName[".."].dType, Filetype::kDirectory);
  EXPECT_EQ(byName["file"].dType, Filetype::kRegularFile);
  EXPECT_EQ(byName["sub"].dType, Filetype::kDirectory);
  EXPECT_EQ(byName["link"].dType, Filetype::kSymbolicLink);
  EXPECT_EQ(byName["file"].dNamlen, 4u);
  struct stat st {};
  ASSERT_EQ(stat(hostPath("file").c_str(), &st), 0);
  EXPECT_EQ(byName["file"].dIno, st.st_ino);
  ASSERT_EQ(stat(sandboxPath_.c_str(), &st), 0);
  EXPECT_EQ(byName["."].dIno, st.st_ino);
}

TEST_F(ReaddirTest, CookiesResumeAfterTheirEntry) {
  for (int i = 0; i < 5; ++i) writeHostFile(hostPath("f" + std::to_string(i)), "");
  std::vector<Entry> all;
  uint32_t used = 0;
  ASSERT_EQ(readdir(kRoot, 4096, 0, &all, &used), Errno::kSuccess);
  ASSERT_EQ(all.size(), 7u);
  for (size_t i = 0; i + 1 < all.size(); ++i) {
    std::vector<Entry> rest;
    ASSERT_EQ(readdir(kRoot, 4096, all[i].dirent.dNext, &rest, &used), Errno::kSuccess);
    ASSERT_EQ(rest.size(), all.size() - i - 1) << i;
    EXPECT_EQ(rest[0].name, all[i + 1].name);
  }
  std::vector<Entry> none;
  ASSERT_EQ(readdir(kRoot, 4096, all.back().dirent.dNext, &none, &used), Errno::kSuccess);
  EXPECT_EQ(used, 0u);
}

TEST_F(ReaddirTest, SmallBufferTruncatesTheLastEntry) {
  writeHostFile(hostPath("a_long_file_name"), "");
  std::vector<Entry> all;
  uint32_t used = 0;
  ASSERT_EQ(readdir(kRoot, 4096, 0, &all, &used), Errno::kSuccess);
  const uint32_t full = used;
  ASSERT_GT(full, 30u);
  // Every prefix length gives exactly that many bytes, equal to the full listing's bytes.
  uint32_t whole = alloc(full);
  ASSERT_EQ(call(F::fd_readdir, {kRoot, whole, full, 0, alloc(4)}), Errno::kSuccess);
  for (uint32_t len : {1u, 23u, 24u, 25u, full - 1}) {
    uint32_t buf = alloc(len + 8);
    store<uint64_t>(buf + len, 0xAAAAAAAAAAAAAAAAull);
    uint32_t out = alloc(4);
    ASSERT_EQ(call(F::fd_readdir, {kRoot, buf, len, 0, out}), Errno::kSuccess);
    EXPECT_EQ(load<uint32_t>(out), len);
    EXPECT_EQ(std::memcmp(&mem_[buf], &mem_[whole], len), 0) << len;
    EXPECT_EQ(load<uint64_t>(buf + len), 0xAAAAAAAAAAAAAAAAull) << "wrote past buf_len";
  }
}

TEST_F(ReaddirTest, ManyEntriesThroughASmallBuffer) {
  for (int i = 0; i < 300; ++i) writeHostFile(hostPath("file." + std::to_string(i)), "");
  std::set<std::string> seen;
  uint64_t cookie = 0;
  for (int calls = 0; calls < 1000; ++calls) {
    std::vector<Entry> entries;
    uint32_t used = 0;
    ASSERT_EQ(readdir(kRoot, 256, cookie, &entries, &used), Errno::kSuccess);
    for (const Entry& e : entries) EXPECT_TRUE(seen.insert(e.name).second) << e.name;
    if (used < 256) break;
    ASSERT_FALSE(entries.empty());
    cookie = entries.back().dirent.dNext;
  }
  EXPECT_EQ(seen.size(), 302u);
}

// The `rm -rf` pattern: unlink what each call returned, then continue from its cookie.
TEST_F(ReaddirTest, DeletingWhileListingSeesEveryEntry) {
  for (int i = 0; i < 200; ++i) writeHostFile(hostPath("victim." + std::to_string(i)), "");
  int removed = 0;
  uint64_t cookie = 0;
  for (int calls = 0; calls < 1000; ++calls) {
    std::vector<Entry> entries;
    uint32_t used = 0;
    ASSERT_EQ(readdir(kRoot, 200, cookie, &entries, &used), Errno::kSuccess);
    for (const Entry& e : entries) {
      if (e.name == "." || e.name == "..") continue;
      ASSERT_EQ(pathCall(F::path_unlink_file, kRoot, e.name), Errno::kSuccess) << e.name;
      ++removed;
    }
    if (used < 200) break;
    cookie = entries.back().dirent.dNext;
  }
  EXPECT_EQ(removed, 200);
  // A new entry shows up when the listing starts over.
  writeHostFile(hostPath("late"), "");
  std::vector<Entry> entries;
  uint32_t used = 0;
  ASSERT_EQ(readdir(kRoot, 1024, 0, &entries, &used), Errno::kSuccess);
  EXPECT_EQ(entries.size(), 3u);
}

// The same on an overlayfs directory merged from two layers (a container rootfs), whose
// positions are indexes into a listing the kernel snapshots per open directory: the host
// must keep one open stream, or deleted entries shift the positions and others get skipped.
// Runs in a child in its own mount namespace, so the mount cannot outlive the test.
TEST_F(ReaddirTest, DeletingWhileListingOnOverlayfs) {
  const std::string lower = outside("lower"), upper = outside("upper"), work = outside("work"),
                    merged = outside("merged");
  for (const auto& d : {lower, upper, work, merged}) std::filesystem::create_directory(d);
  std::filesystem::create_directory(lower + "/m");
  for (int i = 0; i < 300; ++i) writeHostFile(lower + "/m/low." + std::to_string(i), "");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr))
      _exit(77);
    const std::string options = "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work;
    if (mount("overlay", merged.c_str(), "overlay", 0, options.c_str()) != 0) _exit(77);
    for (int i = 0; i < 10; ++i) writeHostFile(merged + "/m/up." + std::to_string(i), "");
    Config config = defaultConfig();
    config.preopens = {{merged + "/m", "/"}};
    createHost(std::move(config));
    int removed = 0;
    uint64_t cookie = 0;
    for (int calls = 0; calls < 1000; ++calls) {
      std::vector<Entry> entries;
      uint32_t used = 0;
      arena_ = 1024;
      if (readdir(kRoot, 256, cookie, &entries, &used) != Errno::kSuccess) _exit(2);
      for (const Entry& e : entries) {
        if (e.name == "." || e.name == "..") continue;
        if (pathCall(F::path_unlink_file, kRoot, e.name) != Errno::kSuccess) _exit(3);
        ++removed;
      }
      if (used < 256) break;
      cookie = entries.back().dirent.dNext;
    }
    _exit(removed == 310 && std::filesystem::is_empty(merged + "/m") ? 0 : 4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot mount overlayfs here (needs root)";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "2: readdir failed, 3: unlink failed, 4: entries missed";
}

TEST_F(ReaddirTest, Errors) {
  std::vector<Entry> entries;
  uint32_t used = 0;
  EXPECT_EQ(readdir(77, 64, 0, &entries, &used), Errno::kBadf);
  EXPECT_EQ(call(F::fd_readdir, {kRoot, kMemorySize - 10, 64, 0, alloc(4)}), Errno::kFault);
  EXPECT_EQ(call(F::fd_readdir, {kRoot, alloc(64), 64, 0, kMemorySize}), Errno::kFault);
  writeHostFile(hostPath("f"), "");
  Fd file = 0;
  ASSERT_EQ(openFile("f", &file), Errno::kSuccess);
  EXPECT_EQ(readdir(file, 64, 0, &entries, &used), Errno::kNotcapable);
  ASSERT_EQ(dropRights(kRoot, right::kFdReaddir, 0), Errno::kSuccess);
  EXPECT_EQ(readdir(kRoot, 64, 0, &entries, &used), Errno::kNotcapable);
}

TEST_F(ReaddirTest, OpenedSubdirectory) {
  mkdir(hostPath("d").c_str(), 0755);
  writeHostFile(hostPath("d/inner"), "");
  Fd d = 0;
  ASSERT_EQ(open(kRoot, "d", oflag::kDirectory, right::kFdReaddir, 0, &d), Errno::kSuccess);
  std::vector<Entry> entries;
  uint32_t used = 0;
  ASSERT_EQ(readdir(d, 1024, 0, &entries, &used), Errno::kSuccess);
  std::set<std::string> names;
  for (const Entry& e : entries) names.insert(e.name);
  EXPECT_EQ(names, (std::set<std::string>{".", "..", "inner"}));
}

}  // namespace
}  // namespace runwasi::wasi::test
