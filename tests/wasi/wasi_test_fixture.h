// Shared fixture: a WASI host over a real 64 KiB linear memory, with a temp dir preopened.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "../support/scratch_dir.h"
#include "wasi/abi.h"
#include "wasi/host.h"

namespace runwasi::wasi {
// Readable errnos in test failures.
inline void PrintTo(Errno e, std::ostream* os) {
  *os << "errno " << static_cast<int>(e);
}
}  // namespace runwasi::wasi

namespace runwasi::wasi::test {

std::filesystem::path testTmpdir();  // $WASI_TEST_TMPDIR, or empty for the default
void writeHostFile(const std::string& path, std::string_view content);
std::string readHostFile(const std::string& path);

class WasiTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kMemorySize = 64 * 1024;
  static constexpr Fd kRoot = 3;  // the preopened `sandbox` dir, guest name "/"

  void SetUp() override;
  // Builds the host from `config` (the default one when not called from a test).
  void createHost(Config config);
  Config defaultConfig() const;

  GuestMemory memory() { return GuestMemory(mem_.data(), mem_.size()); }
  Errno call(FunctionId id, std::initializer_list<uint64_t> args);

  // Guest memory arena: fresh, 8-aligned space per call (reset per test).
  uint32_t alloc(uint32_t size);
  uint32_t putString(std::string_view s);
  template <typename T>
  T load(uint32_t offset) {
    return *memory().load<T>(offset);
  }
  template <typename T>
  void store(uint32_t offset, const T& value) {
    ASSERT_TRUE(memory().store(offset, value));
  }
  std::string loadString(uint32_t offset, uint32_t len) {
    return std::string(*memory().string(offset, len));
  }
  // An iovec array with one buffer per entry of `sizes`; returns the array's address and
  // fills `buffers` with each buffer's address.
  uint32_t putIovecs(const std::vector<uint32_t>& sizes, std::vector<uint32_t>* buffers);

  // Shorthands that return the errno and the resulting fd / size.
  Errno open(Fd dir, std::string_view path, uint32_t oflags, Rights base, Rights inheriting, Fd* fd,
             uint32_t fdflags = 0, uint32_t lookup = 0);
  Errno openFile(std::string_view path, Fd* fd, uint32_t oflags = 0,
                 Rights base = right::kRegularFile) {
    return open(kRoot, path, oflags, base, 0, fd);
  }
  Errno pathCall(FunctionId id, Fd dir, std::string_view path);  // (fd, ptr, len) functions
  Errno write(Fd fd, std::string_view data, uint32_t* written = nullptr);
  Errno read(Fd fd, uint32_t len, std::string* data);
  Errno fdstat(Fd fd, Fdstat* stat);
  Errno filestat(Fd fd, Filestat* stat);
  Errno pathFilestat(Fd dir, std::string_view path, uint32_t lookup, Filestat* stat);
  Errno dropRights(Fd fd, Rights base, Rights inheriting);

  // Host path of a guest path under the preopened sandbox; outside() is beside it.
  std::string hostPath(std::string_view name) const {
    return sandboxPath_ + "/" + std::string(name);
  }
  std::string outside(std::string_view name) const { return top_ / name; }

  std::vector<uint8_t> mem_ = std::vector<uint8_t>(kMemorySize);
  uint32_t arena_ = 1024;
  // Holds `sandbox` (preopened) and things outside it. WASI_TEST_TMPDIR runs the suite on
  // another file system (tmpfs, overlayfs, ...).
  testing::ScratchDir top_{"wasi_test.", testTmpdir()};
  std::string sandboxPath_;
  std::unique_ptr<Host> host_;
};

}  // namespace runwasi::wasi::test
