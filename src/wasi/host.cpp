// Host creation (stdio, preopens, sockets) and the dispatch of calls to the members.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <new>
#include <utility>

#include "common/log.h"
#include "wasi/host_impl.h"

namespace runwasi::wasi {
namespace {

// The letter functions.def uses for a parameter of type T.
template <typename T>
constexpr char paramLetter() {
  static_assert(std::is_same_v<T, uint32_t> || std::is_same_v<T, uint64_t>,
                "WASI parameters are uint32_t (i32) or uint64_t (i64)");
  return std::is_same_v<T, uint64_t> ? 'I' : 'i';
}

template <typename... P>
constexpr bool signatureMatches(Errno (HostImpl::*)(const GuestMemory&, P...),
                                std::string_view params) {
  const char letters[] = {paramLetter<P>()..., '\0'};
  return std::string_view(letters, sizeof...(P)) == params;
}

template <typename... P, size_t... I>
Errno invokeWith(HostImpl& host, Errno (HostImpl::*fn)(const GuestMemory&, P...),
                 const GuestMemory& memory, [[maybe_unused]] const uint64_t* args,
                 std::index_sequence<I...>) {
  return (host.*fn)(memory, static_cast<P>(args[I])...);  // an i32 arrives zero-extended
}

template <typename... P>
Errno invoke(HostImpl& host, Errno (HostImpl::*fn)(const GuestMemory&, P...),
             const GuestMemory& memory, const uint64_t* args) {
  return invokeWith(host, fn, memory, args, std::index_sequence_for<P...>{});
}

// Base and inheriting rights for a host fd handed to the guest (stdio, sockets).
std::pair<Rights, Rights> rightsFor(Filetype type, int hostFd) {
  switch (type) {
    case Filetype::kRegularFile:
      return {right::kRegularFile, 0};
    case Filetype::kDirectory:
      return {right::kDirectory, right::kDirectoryInheriting};
    case Filetype::kSocketStream:
    case Filetype::kSocketDgram:
      return {right::kSocket, 0};
    case Filetype::kCharacterDevice:
      // A terminal must not look seekable: wasi-libc's isatty() tests exactly that.
      if (isatty(hostFd)) return {right::kStream, 0};
      return {right::kStream | right::kFdSeek | right::kFdTell, 0};
    default:
      // Pipes and the rest: lseek(2) itself reports ESPIPE.
      return {right::kStream | right::kFdSeek | right::kFdTell, 0};
  }
}

// A guest entry for a dup of a borrowed host fd.
Result<FdEntry> adopt(int hostFd) {
  UniqueFd fd(fcntl(hostFd, F_DUPFD_CLOEXEC, 0));
  if (!fd) return fail(lastErrno());
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return fail(lastErrno());
  FdEntry entry;
  entry.type = filetypeOf(st, fd.get());
  std::tie(entry.base, entry.inheriting) = rightsFor(entry.type, fd.get());
  const int fl = fcntl(fd.get(), F_GETFL);
  entry.blockingEmulated = fl >= 0 && (fl & O_NONBLOCK);
  entry.host = std::move(fd);
  return entry;
}

}  // namespace

Expected<std::unique_ptr<Host>> Host::create(Config config) {
  return HostImpl::create(std::move(config));
}

Expected<std::unique_ptr<Host>> HostImpl::create(Config config) {
  auto host = std::make_unique<HostImpl>(std::move(config));
  TRY_VOID(host->adoptStdio());
  TRY_VOID(host->openPreopens());
  TRY_VOID(host->adoptSockets());
  return std::unique_ptr<Host>(std::move(host));
}

Expected<void> HostImpl::adoptStdio() {
  const int stdio[] = {config_.stdinFd, config_.stdoutFd, config_.stderrFd};
  for (Fd guestFd = 0; guestFd < 3; ++guestFd) {
    auto entry = adopt(stdio[guestFd]);
    // A closed host stdio fd leaves the guest's closed too (it then gets EBADF).
    if (!entry) {
      log::debug("wasi: guest fd {} left closed: host fd {} is not usable", guestFd,
                 stdio[guestFd]);
      continue;
    }
    fds_.put(guestFd, std::move(*entry));
  }
  return {};
}

Expected<void> HostImpl::openPreopens() {
  Fd guestFd = 3;
  for (const Preopen& preopen : config_.preopens) {
    UniqueFd fd(open(preopen.hostPath.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    // A directory we may search but not list still works for paths.
    if (!fd && errno == EACCES)
      fd.reset(open(preopen.hostPath.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
      const int err = errno;
      auto error =
          makeSysError(fmt::format("preopen \"{}\": cannot open directory", preopen.hostPath), err);
      if (err == ENOTDIR) error.value().code = ErrorCode::kInvalidArgument;  // a bad config
      return error;
    }
    FdEntry entry;
    entry.host = std::move(fd);
    entry.type = Filetype::kDirectory;
    entry.base = right::kDirectory;
    entry.inheriting = right::kDirectoryInheriting;
    entry.preopenName = preopen.guestPath;
    fds_.put(guestFd++, std::move(entry));
  }
  return {};
}

Expected<void> HostImpl::adoptSockets() {
  Fd guestFd = static_cast<Fd>(3 + config_.preopens.size());
  for (int socketFd : config_.sockets) {
    auto entry = adopt(socketFd);
    if (!entry) {
      return makeSysError(fmt::format("socket fd {}: cannot hand it to the guest", socketFd),
                          EBADF);
    }
    if (!entry->isSocket())
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("socket fd {}: not a socket", socketFd));
    fds_.put(guestFd++, std::move(*entry));
  }
  return {};
}

uint32_t HostImpl::call(FunctionId id, GuestMemory memory, const uint64_t* args) {
  try {
    switch (id) {
#define WASI_FUNCTION(name, params, result)                               \
  case FunctionId::name:                                                  \
    static_assert(signatureMatches(&HostImpl::name, params),              \
                  #name ": member signature differs from functions.def"); \
    return static_cast<uint32_t>(invoke(*this, &HostImpl::name, memory, args));
#include "wasi/functions.def"
      case FunctionId::kCount:
        break;
    }
    return static_cast<uint32_t>(Errno::kNosys);
  } catch (const std::bad_alloc&) {
    return static_cast<uint32_t>(Errno::kNomem);
  } catch (...) {
    return static_cast<uint32_t>(Errno::kIo);
  }
}

}  // namespace runwasi::wasi
