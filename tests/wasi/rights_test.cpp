// Table-driven checks over the function list: every fd-taking function refuses a bad fd
// (EBADF) and an fd without the right it needs (ENOTCAPABLE), and does nothing then.
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "wasi_test_fixture.h"

namespace runwasi::wasi::test {
namespace {

using F = FunctionId;

struct Case {
  FunctionId id;
  std::vector<size_t> fdParams;  // which parameters are fds
  Rights needed;                 // the right the fd must hold (0: none)
};

// Every function with an fd parameter, with the right it needs of that fd.
const std::vector<Case>& fdCases() {
  static const std::vector<Case> cases = {
      {F::fd_advise, {0}, right::kFdAdvise},
      {F::fd_allocate, {0}, right::kFdAllocate},
      {F::fd_close, {0}, 0},
      {F::fd_datasync, {0}, right::kFdDatasync},
      {F::fd_fdstat_get, {0}, 0},
      {F::fd_fdstat_set_flags, {0}, right::kFdFdstatSetFlags},
      {F::fd_fdstat_set_rights, {0}, 0},
      {F::fd_filestat_get, {0}, right::kFdFilestatGet},
      {F::fd_filestat_set_size, {0}, right::kFdFilestatSetSize},
      {F::fd_filestat_set_times, {0}, right::kFdFilestatSetTimes},
      {F::fd_pread, {0}, right::kFdRead},
      {F::fd_prestat_get, {0}, 0},
      {F::fd_prestat_dir_name, {0}, 0},
      {F::fd_pwrite, {0}, right::kFdWrite},
      {F::fd_read, {0}, right::kFdRead},
      {F::fd_readdir, {0}, right::kFdReaddir},
      {F::fd_renumber, {0, 1}, 0},
      {F::fd_seek, {0}, right::kFdSeek},
      {F::fd_sync, {0}, right::kFdSync},
      {F::fd_tell, {0}, right::kFdTell},
      {F::fd_write, {0}, right::kFdWrite},
      {F::path_create_directory, {0}, right::kPathCreateDirectory},
      {F::path_filestat_get, {0}, right::kPathFilestatGet},
      {F::path_filestat_set_times, {0}, right::kPathFilestatSetTimes},
      {F::path_link, {0, 4}, right::kPathLinkSource},
      {F::path_link, {}, right::kPathLinkTarget},
      {F::path_open, {0}, right::kPathOpen},
      {F::path_readlink, {0}, right::kPathReadlink},
      {F::path_remove_directory, {0}, right::kPathRemoveDirectory},
      {F::path_rename, {0, 3}, right::kPathRenameSource},
      {F::path_rename, {}, right::kPathRenameTarget},
      {F::path_symlink, {2}, right::kPathSymlink},
      {F::path_unlink_file, {0}, right::kPathUnlinkFile},
      {F::sock_accept, {0}, right::kSockAccept},
      {F::sock_recv, {0}, right::kFdRead},
      {F::sock_send, {0}, right::kFdWrite},
      {F::sock_shutdown, {0}, right::kSockShutdown},
  };
  return cases;
}

class RightsTest : public WasiTest {
 protected:
  // Arguments that are valid apart from the fds: pointers to room for any result, a path
  // "f" (its length where one is expected), sizes that fit.
  std::vector<uint64_t> argsFor(FunctionId id, Fd fd) {
    const uint64_t out = alloc(512), buf = alloc(64), path = putString("f"), other = putString("g");
    std::vector<uint64_t> args;
    switch (id) {
      case F::fd_advise:
        args = {fd, 0, 1, 0};
        break;
      case F::fd_allocate:
        args = {fd, 0, 1};
        break;
      case F::fd_fdstat_set_flags:
        args = {fd, 0};
        break;
      case F::fd_fdstat_set_rights:
        args = {fd, 0, 0};
        break;
      case F::fd_filestat_set_size:
        args = {fd, 4};
        break;
      case F::fd_filestat_set_times:
        args = {fd, 0, 0, 0};
        break;
      case F::fd_pread:
      case F::fd_pwrite:
        args = {fd, out, 0, 0, out};
        break;
      case F::fd_prestat_dir_name:
        args = {fd, buf, 64};
        break;
      case F::fd_read:
      case F::fd_write:
        args = {fd, out, 0, out};
        break;
      case F::fd_readdir:
        args = {fd, buf, 64, 0, out};
        break;
      case F::fd_renumber:
        args = {fd, fd};
        break;
      case F::fd_seek:
        args = {fd, 0, 0, out};
        break;
      case F::path_create_directory:
      case F::path_remove_directory:
      case F::path_unlink_file:
        args = {fd, path, 1};
        break;
      case F::path_filestat_get:
        args = {fd, 0, path, 1, out};
        break;
      case F::path_filestat_set_times:
        args = {fd, 0, path, 1, 0, 0, 0};
        break;
      case F::path_link:
        args = {fd, 0, path, 1, fd, other, 1};
        break;
      case F::path_open:
        args = {fd, 0, path, 1, 0, 0, 0, 0, out};
        break;
      case F::path_readlink:
        args = {fd, path, 1, buf, 64, out};
        break;
      case F::path_rename:
        args = {fd, path, 1, fd, other, 1};
        break;
      case F::path_symlink:
        args = {path, 1, fd, other, 1};
        break;
      case F::sock_accept:
        args = {fd, 0, out};
        break;
      case F::sock_recv:
        args = {fd, out, 0, 0, out, out + 8};
        break;
      case F::sock_send:
        args = {fd, out, 0, 0, out};
        break;
      case F::sock_shutdown:
        args = {fd, kSdWr};
        break;
      default:
        args = {fd, out};
        break;  // (fd, result pointer) and (fd)
    }
    args.resize(kMaxParams);
    return args;
  }
  Errno callWith(FunctionId id, const std::vector<uint64_t>& args) {
    return static_cast<Errno>(host_->call(id, memory(), args.data()));
  }
};

TEST_F(RightsTest, EveryFdParameterIsCheckedForBadf) {
  writeHostFile(hostPath("f"), "data");
  for (const Case& c : fdCases()) {
    for (size_t param : c.fdParams) {
      std::vector<uint64_t> args = argsFor(c.id, kRoot);
      args[param] = 1234;
      EXPECT_EQ(callWith(c.id, args), Errno::kBadf)
          << kFunctions[static_cast<size_t>(c.id)].name << " param " << param;
    }
  }
  EXPECT_EQ(readHostFile(hostPath("f")), "data");
  EXPECT_FALSE(std::filesystem::exists(hostPath("g")));
}

TEST_F(RightsTest, EveryNeededRightIsChecked) {
  writeHostFile(hostPath("f"), "data");
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  Config config = defaultConfig();
  config.sockets = {sv[0]};
  createHost(std::move(config));
  close(sv[0]);
  const Fd kSock = 4;
  Fd file = 0;
  ASSERT_EQ(openFile("f", &file), Errno::kSuccess);
  for (const Case& c : fdCases()) {
    if (c.needed == 0) continue;
    const std::string name(kFunctions[static_cast<size_t>(c.id)].name);
    const bool isPath = name.rfind("path_", 0) == 0, isSock = name.rfind("sock_", 0) == 0;
    const Fd fd = isPath || c.id == F::fd_readdir ? kRoot : isSock ? kSock : file;
    Fdstat before{};
    ASSERT_EQ(fdstat(fd, &before), Errno::kSuccess);
    ASSERT_NE(before.fsRightsBase & c.needed, 0u) << name;
    ASSERT_EQ(call(F::fd_fdstat_set_rights,
                   {fd, before.fsRightsBase & ~c.needed, before.fsRightsInheriting}),
              Errno::kSuccess);
    EXPECT_EQ(callWith(c.id, argsFor(c.id, fd)), Errno::kNotcapable) << name;
    // Put the right back by re-creating the fds (rights only ever drop).
    arena_ = 1024;
    config = defaultConfig();
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    config.sockets = {sv[0]};
    createHost(std::move(config));
    close(sv[0]);
    close(sv[1]);
    ASSERT_EQ(openFile("f", &file), Errno::kSuccess);
  }
  EXPECT_EQ(readHostFile(hostPath("f")), "data");
  EXPECT_FALSE(std::filesystem::exists(hostPath("g")));
}

}  // namespace
}  // namespace runwasi::wasi::test
