#include "sandbox/spawn_protocol.h"

#include <sys/socket.h>

#include <array>
#include <cstring>

#include <fmt/format.h>

#include "common/fd_message.h"

namespace runwasi::sandbox::protocol {
namespace {

constexpr uint32_t kRequestMagic = 0x5a594731;  // "ZYG1"
constexpr uint32_t kReplyMagic = 0x5a595231;    // "ZYR1"
constexpr uint32_t kFactsMagic = 0x5a594631;    // "ZYF1"

// Which optional fds follow the message, in this order.
enum FdBit : uint32_t {
  kStdin = 1,
  kStdout = 2,
  kStderr = 4,
  kModule = 8,
  kArtifact = 16,
  kStartGate = 32,
  kSeccomp = 64,
  kStatus = 128,
  kConsoleSocket = 256,
};

class Writer {
 public:
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) buf_ += static_cast<char>(v >> (8 * i));
  }
  void str(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    buf_ += s;
  }
  void strs(const std::vector<std::string>& v) {
    u32(static_cast<uint32_t>(v.size()));
    for (const std::string& s : v) str(s);
  }
  const std::string& data() const { return buf_; }

 private:
  std::string buf_;
};

// Reads what Writer wrote; any overrun makes ok() false, never reads out of bounds.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  uint32_t u32() {
    if (data_.size() < 4) return fail();
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= static_cast<uint32_t>(static_cast<uint8_t>(data_[i])) << (8 * i);
    data_.remove_prefix(4);
    return v;
  }
  std::string str() {
    uint32_t n = u32();
    if (!ok_ || data_.size() < n) return fail(), std::string();
    std::string s(data_.substr(0, n));
    data_.remove_prefix(n);
    return s;
  }
  std::vector<std::string> strs() {
    uint32_t n = u32();
    std::vector<std::string> v;
    for (uint32_t i = 0; ok_ && i < n; ++i) v.push_back(str());  // ok_ bounds a bogus n
    return v;
  }
  bool good() const { return ok_; }                 // nothing overran so far
  bool ok() const { return ok_ && data_.empty(); }  // everything read, exactly

 private:
  uint32_t fail() {
    ok_ = false;
    data_ = {};
    return 0;
  }
  std::string_view data_;
  bool ok_ = true;
};

static_assert(kMaxFds <= kMaxMessageFds);

Expected<void> sendWithFds(int socket, const std::string& data, const std::vector<int>& fds) {
  if (data.size() > kMaxMessage)
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("spawn request too large ({} bytes, limit {}): args or env too "
                                 "long",
                                 data.size(), kMaxMessage));
  return sendFdMessage(socket, data, fds, "zygote");
}

// One message and the fds that came with it (owned). An empty string with no error: EOF.
Expected<std::string> receiveWithFds(int socket, std::vector<UniqueFd>& fds) {
  return receiveFdMessage(socket, fds, kMaxMessage, "zygote");
}

}  // namespace

Expected<void> sendRequest(int socket, const SpawnRequest& r) {
  std::vector<int> fds;
  uint32_t mask = 0;
  auto add = [&](int fd, FdBit bit) {
    if (fd < 0) return;
    fds.push_back(fd);
    mask |= bit;
  };
  add(r.stdinFd, kStdin);
  add(r.stdoutFd, kStdout);
  add(r.stderrFd, kStderr);
  add(r.moduleFd, kModule);
  add(r.artifactFd, kArtifact);
  add(r.startGateFd, kStartGate);
  add(r.seccompFd, kSeccomp);
  add(r.statusFd, kStatus);
  add(r.consoleSocketFd, kConsoleSocket);
  for (int fd : r.cgroupProcsFds) fds.push_back(fd);  // after the optional ones, counted
  if (r.namespaceFds.size() != r.namespaceTypes.size())
    return makeError(ErrorCode::kInvalidArgument, "spawn request: one fd per namespace type");
  for (int fd : r.namespaceFds) fds.push_back(fd);  // after the cgroup ones, counted

  Writer w;
  w.u32(kRequestMagic);
  w.u32(mask);
  w.str(r.containerId);
  w.str(r.modulePath);
  w.str(r.function);
  w.u32(r.stubUnknownImports ? 1 : 0);
  w.u32(r.precompileOnly ? 1 : 0);
  w.strs(r.args);
  w.strs(r.env);
  w.str(r.rootfs);
  w.str(r.cwd);
  w.u32(static_cast<uint32_t>(r.preopens.size()));
  for (const wasi::Preopen& p : r.preopens) {
    w.str(p.hostPath);
    w.str(p.guestPath);
  }
  w.str(r.sandboxSpec);
  w.u32(static_cast<uint32_t>(r.cloneFlags));
  w.u32(static_cast<uint32_t>(r.cloneFlags >> 32));
  w.str(r.pidNamespace);
  w.u32(static_cast<uint32_t>(r.cgroupProcsFds.size()));
  w.u32(r.seccompFlags);
  w.str(r.nativePath);
  w.u32(r.exec ? 1 : 0);
  w.strs(r.namespaceTypes);
  if (fds.size() > kMaxFds)
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("spawn request has {} fds, limit {}", fds.size(), kMaxFds));
  return sendWithFds(socket, w.data(), fds);
}

Expected<std::optional<ReceivedRequest>> receiveRequest(int socket) {
  std::vector<UniqueFd> fds;
  TRY(std::string data, receiveWithFds(socket, fds));
  if (data.empty()) return std::nullopt;

  Reader rd(data);
  ReceivedRequest out;
  SpawnRequest& r = out.request;
  uint32_t magic = rd.u32();
  uint32_t mask = rd.u32();
  r.containerId = rd.str();
  r.modulePath = rd.str();
  r.function = rd.str();
  r.stubUnknownImports = rd.u32() != 0;
  r.precompileOnly = rd.u32() != 0;
  r.args = rd.strs();
  r.env = rd.strs();
  r.rootfs = rd.str();
  r.cwd = rd.str();
  uint32_t preopens = rd.u32();
  for (uint32_t i = 0; i < preopens && rd.good(); ++i) {
    std::string host = rd.str();
    r.preopens.push_back(wasi::Preopen{std::move(host), rd.str()});
  }
  r.sandboxSpec = rd.str();
  uint64_t low = rd.u32();
  r.cloneFlags = low | (static_cast<uint64_t>(rd.u32()) << 32);
  r.pidNamespace = rd.str();
  uint32_t cgroupFds = rd.u32();
  r.seccompFlags = rd.u32();
  r.nativePath = rd.str();
  r.exec = rd.u32() != 0;
  r.namespaceTypes = rd.strs();
  if (!rd.ok() || magic != kRequestMagic)
    return makeError(ErrorCode::kInvalidArgument, "malformed spawn request");

  size_t next = 0;
  for (auto [bit, slot] :
       {std::pair{kStdin, &out.stdinFd}, std::pair{kStdout, &out.stdoutFd},
        std::pair{kStderr, &out.stderrFd}, std::pair{kModule, &out.moduleFd},
        std::pair{kArtifact, &out.artifactFd}, std::pair{kStartGate, &out.startGateFd},
        std::pair{kSeccomp, &out.seccompFd}, std::pair{kStatus, &out.statusFd},
        std::pair{kConsoleSocket, &out.consoleSocketFd}}) {
    if (!(mask & bit)) continue;
    if (next >= fds.size())
      return makeError(ErrorCode::kInvalidArgument, "spawn request is missing its fds");
    *slot = std::move(fds[next++]);
  }
  if (fds.size() - next != cgroupFds + r.namespaceTypes.size())
    return makeError(ErrorCode::kInvalidArgument,
                     "spawn request is missing its cgroup or namespace fds");
  for (uint32_t i = 0; i < cgroupFds; ++i) out.cgroupProcsFds.push_back(std::move(fds[next++]));
  for (; next < fds.size(); ++next) out.namespaceFds.push_back(std::move(fds[next]));
  return out;
}

Expected<void> sendReply(int socket, const Expected<pid_t>& reply) {
  Writer w;
  w.u32(kReplyMagic);
  w.u32(reply ? 1 : 0);
  if (reply) {
    w.u32(static_cast<uint32_t>(*reply));
  } else {
    w.u32(static_cast<uint32_t>(reply.error().code));
    w.u32(static_cast<uint32_t>(reply.error().sysErrno));
    w.str(reply.error().message);
  }
  return sendWithFds(socket, w.data(), {});
}

Expected<pid_t> receiveReply(int socket) {
  std::vector<UniqueFd> fds;
  TRY(std::string data, receiveWithFds(socket, fds));
  if (data.empty()) return makeError(ErrorCode::kUnavailable, "the zygote has exited");
  Reader rd(data);
  uint32_t magic = rd.u32();
  bool ok = rd.u32() != 0;
  if (ok) {
    auto pid = static_cast<pid_t>(rd.u32());
    if (rd.ok() && magic == kReplyMagic) return pid;
  } else {
    Error e;
    e.code = static_cast<ErrorCode>(rd.u32());
    e.sysErrno = static_cast<int>(rd.u32());
    e.message = rd.str();
    if (rd.ok() && magic == kReplyMagic) return tl::unexpected(std::move(e));
  }
  return makeError(ErrorCode::kInternal, "malformed reply from the zygote");
}

Expected<void> sendEngineFacts(int socket, const EngineFacts& facts) {
  Writer w;
  w.u32(kFactsMagic);
  w.str(facts.name);
  w.str(facts.version);
  w.str(facts.cacheKey);
  w.strs(facts.layerTypes);
  return sendWithFds(socket, w.data(), {});
}

Expected<EngineFacts> receiveEngineFacts(int socket) {
  std::vector<UniqueFd> fds;
  TRY(std::string data, receiveWithFds(socket, fds));
  if (data.empty()) return makeError(ErrorCode::kUnavailable, "the zygote has exited");
  Reader rd(data);
  uint32_t magic = rd.u32();
  EngineFacts facts;
  facts.name = rd.str();
  facts.version = rd.str();
  facts.cacheKey = rd.str();
  facts.layerTypes = rd.strs();
  if (!rd.ok() || magic != kFactsMagic)
    return makeError(ErrorCode::kInternal, "malformed engine facts from the zygote");
  return facts;
}

}  // namespace runwasi::sandbox::protocol
