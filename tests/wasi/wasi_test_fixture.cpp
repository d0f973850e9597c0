#include "wasi_test_fixture.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace runwasi::wasi::test {

std::filesystem::path testTmpdir() {
  const char* base = getenv("WASI_TEST_TMPDIR");
  return base ? base : "";
}

void writeHostFile(const std::string& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

std::string readHostFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WasiTest::SetUp() {
  sandboxPath_ = top_ / "sandbox";
  std::filesystem::create_directory(sandboxPath_);
  createHost(defaultConfig());
}

Config WasiTest::defaultConfig() const {
  Config config;
  config.args = {"prog", "first", "second arg"};
  config.env = {"A=1", "EMPTY="};
  config.preopens = {{sandboxPath_, "/"}};
  return config;
}

void WasiTest::createHost(Config config) {
  auto host = Host::create(std::move(config));
  ASSERT_TRUE(host) << host.error().message;
  host_ = std::move(*host);
}

Errno WasiTest::call(FunctionId id, std::initializer_list<uint64_t> args) {
  std::vector<uint64_t> values(args);
  values.resize(kMaxParams);
  return static_cast<Errno>(host_->call(id, memory(), values.data()));
}

uint32_t WasiTest::alloc(uint32_t size) {
  uint32_t at = arena_;
  arena_ = (arena_ + size + 7) & ~7u;
  EXPECT_LE(arena_, kMemorySize - 1024) << "test arena exhausted";
  return at;
}

uint32_t WasiTest::putString(std::string_view s) {
  uint32_t at = alloc(static_cast<uint32_t>(s.size()) + 1);
  std::copy(s.begin(), s.end(), mem_.begin() + at);
  return at;
}

uint32_t WasiTest::putIovecs(const std::vector<uint32_t>& sizes, std::vector<uint32_t>* buffers) {
  uint32_t array = alloc(static_cast<uint32_t>(sizes.size() * sizeof(Iovec)));
  buffers->clear();
  for (size_t i = 0; i < sizes.size(); ++i) {
    uint32_t buf = alloc(sizes[i]);
    buffers->push_back(buf);
    memory().store(array + i * sizeof(Iovec), Iovec{buf, sizes[i]});
  }
  return array;
}

Errno WasiTest::open(Fd dir, std::string_view path, uint32_t oflags, Rights base, Rights inheriting,
                     Fd* fd, uint32_t fdflags, uint32_t lookup) {
  uint32_t p = putString(path);
  uint32_t out = alloc(4);
  store<uint32_t>(out, 0xdeadbeef);
  Errno e = call(FunctionId::path_open,
                 {dir, lookup, p, path.size(), oflags, base, inheriting, fdflags, out});
  *fd = load<uint32_t>(out);
  return e;
}

Errno WasiTest::pathCall(FunctionId id, Fd dir, std::string_view path) {
  uint32_t p = putString(path);
  return call(id, {dir, p, path.size()});
}

Errno WasiTest::write(Fd fd, std::string_view data, uint32_t* written) {
  std::vector<uint32_t> bufs;
  uint32_t iov = putIovecs({static_cast<uint32_t>(data.size())}, &bufs);
  std::copy(data.begin(), data.end(), mem_.begin() + bufs[0]);
  uint32_t out = alloc(4);
  Errno e = call(FunctionId::fd_write, {fd, iov, 1, out});
  if (written) *written = load<uint32_t>(out);
  return e;
}

Errno WasiTest::read(Fd fd, uint32_t len, std::string* data) {
  std::vector<uint32_t> bufs;
  uint32_t iov = putIovecs({len}, &bufs);
  uint32_t out = alloc(4);
  Errno e = call(FunctionId::fd_read, {fd, iov, 1, out});
  if (e == Errno::kSuccess) *data = loadString(bufs[0], load<uint32_t>(out));
  return e;
}

Errno WasiTest::fdstat(Fd fd, Fdstat* stat) {
  uint32_t out = alloc(sizeof(Fdstat));
  Errno e = call(FunctionId::fd_fdstat_get, {fd, out});
  *stat = load<Fdstat>(out);
  return e;
}

Errno WasiTest::filestat(Fd fd, Filestat* stat) {
  uint32_t out = alloc(sizeof(Filestat));
  Errno e = call(FunctionId::fd_filestat_get, {fd, out});
  *stat = load<Filestat>(out);
  return e;
}

Errno WasiTest::pathFilestat(Fd dir, std::string_view path, uint32_t lookup, Filestat* stat) {
  uint32_t p = putString(path);
  uint32_t out = alloc(sizeof(Filestat));
  Errno e = call(FunctionId::path_filestat_get, {dir, lookup, p, path.size(), out});
  *stat = load<Filestat>(out);
  return e;
}

Errno WasiTest::dropRights(Fd fd, Rights base, Rights inheriting) {
  Fdstat st{};
  if (Errno e = fdstat(fd, &st); e != Errno::kSuccess) return e;
  return call(FunctionId::fd_fdstat_set_rights,
              {fd, st.fsRightsBase & ~base, st.fsRightsInheriting & ~inheriting});
}

}  // namespace runwasi::wasi::test
