// The engine host's client side (engine_host.h): what a start does to have the host fork
// its daemon, and the protocol both sides speak (engine_host_wire.h). Kept apart from the
// host itself, which links the engine's sandbox: the shim's front (front.h) links this alone.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/fd_message.h"
#include "common/sha256_portable.h"
#include "shim/engine_host.h"
#include "shim/engine_host_wire.h"

extern char** environ;

namespace runwasi::shim {
namespace host_wire {

sockaddr_un abstractAddress(const std::string& name, socklen_t& length) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  size_t n = std::min(name.size(), sizeof(address.sun_path) - 1);
  std::memcpy(address.sun_path + 1, name.data(), n);  // sun_path[0] = 0: abstract
  length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
  return address;
}

void setTimeouts(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

Expected<void> sendMessage(int socket, std::string_view data, std::string_view peer, int fd) {
  std::vector<int> fds;
  if (fd >= 0) fds.push_back(fd);
  return sendFdMessage(socket, data, fds, peer);
}

namespace {

std::string hex(std::string_view bytes) {
  return lowerHex(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

Expected<std::string> unhex(std::string_view text) {
  if (text.size() % 2 != 0) return makeError(ErrorCode::kInvalidArgument, "odd hex length");
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    auto digit = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = digit(text[i]), lo = digit(text[i + 1]);
    if (hi < 0 || lo < 0) return makeError(ErrorCode::kInvalidArgument, "bad hex digit");
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

}  // namespace

std::string encode(const HostedStart& s) {
  nlohmann::json j;
  j["argv"] = s.argv;
  j["env"] = s.env;
  j["cwd"] = s.cwd;
  j["socketPath"] = s.socketPath;
  j["runtimeOptions"] = hex(s.runtimeOptions);
  j["oomScoreAdj"] = s.oomScoreAdj;
  j["umask"] = s.umask;
  // Paths and environment values need not be UTF-8: replace rather than throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Expected<HostedStart> decode(std::string_view text) {
  try {
    auto j = nlohmann::json::parse(text);
    HostedStart s;
    s.argv = j.at("argv").get<std::vector<std::string>>();
    s.env = j.at("env").get<std::vector<std::string>>();
    s.cwd = j.at("cwd").get<std::string>();
    s.socketPath = j.at("socketPath").get<std::string>();
    TRY(s.runtimeOptions, unhex(j.at("runtimeOptions").get<std::string>()));
    s.oomScoreAdj = j.at("oomScoreAdj").get<int>();
    s.umask = j.at("umask").get<unsigned>();
    if (s.argv.empty()) return makeError(ErrorCode::kInvalidArgument, "empty argv");
    return s;
  } catch (const nlohmann::json::exception& e) {
    return makeError(ErrorCode::kInvalidArgument, fmt::format("bad start request: {}", e.what()));
  }
}

}  // namespace host_wire

namespace {

using namespace host_wire;

// The environment the engine's loading reads (RUNWASI_V8_EXTRA_FLAGS changes V8's flags and
// its cache key, RUNWASI_ENGINE_DIR where the plugin comes from; the loader's LD_*), as one
// digest: starts whose settings differ must not share a host.
std::string engineEnvironmentDigest() {
  std::vector<std::string> entries;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    if ((entry.starts_with("RUNWASI_") && !entry.starts_with("RUNWASI_ENGINE_HOST=")) ||
        entry.starts_with("LD_"))
      entries.emplace_back(entry);
  }
  std::sort(entries.begin(), entries.end());
  std::string joined;
  for (const std::string& entry : entries) joined.append(entry).push_back('\0');
  return portableSha256Hex(joined).substr(0, 16);
}

// A host for the next starts: `<shim> engine-host`, detached (own session, cwd /, stdio on
// /dev/null, no descriptor of start's), as a grandchild so that start need not reap it.
void launchHost(std::string_view name, const std::filesystem::path& binary) {
  pid_t child = ::fork();
  if (child < 0) return;
  if (child == 0) {
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    int devNull = ::open("/dev/null", O_RDWR);
    if (devNull < 0 || ::chdir("/") != 0) ::_exit(127);
    ::dup2(devNull, 0);
    ::dup2(devNull, 1);
    ::dup2(devNull, 2);
    ::syscall(SYS_close_range, 3, ~0U, 0);
    std::string program(name);
    std::vector<const char*> argv = {program.c_str(), "engine-host"};
    argv.insert(argv.end(), kCommandLineRoom, "");
    argv.push_back(nullptr);
    ::execv(binary.c_str(), const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

bool engineHostEnabled() {
  const char* value = std::getenv("RUNWASI_ENGINE_HOST");
  return value == nullptr || std::string_view(value) != "0";
}

std::string engineHostSocketName(std::string_view name, const std::filesystem::path& binary) {
  struct stat st {};
  if (::stat(binary.c_str(), &st) != 0) return "";
  return fmt::format("runwasi-engine-host/{}/{:x}-{:x}-{:x}-{:x}.{:09}/{}", name, st.st_dev,
                     st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                     engineEnvironmentDigest());
}

Expected<pid_t> forkHostedDaemon(std::string_view shimName, const std::filesystem::path& binary,
                                 const HostedStart& start, int listener) {
  std::string name = engineHostSocketName(shimName, binary);
  if (name.empty())
    return makeError(ErrorCode::kUnavailable, "cannot identify the binary " + binary.string());
  UniqueFd socket(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!socket) return makeSysError("engine host socket");
  socklen_t length;
  sockaddr_un address = abstractAddress(name, length);
  if (::connect(socket.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    // Not there, or bound by a host still loading the engine (not listening yet).
    int err = errno;
    if (err == ECONNREFUSED || err == ENOENT) launchHost(shimName, binary);
    return makeSysError("connecting to the engine host", err);
  }
  setTimeouts(socket.get(), kReplyTimeoutMs);
  TRY_VOID(sendMessage(socket.get(), encode(start), "engine host", listener));
  std::vector<UniqueFd> none;
  TRY(std::string reply, receiveFdMessage(socket.get(), none, kMaxMessage, "engine host"));
  pid_t pid = -1;
  try {
    auto j = nlohmann::json::parse(reply);
    if (j.contains("error"))
      return makeError(ErrorCode::kUnavailable,
                       "the engine host refused: " + j["error"].get<std::string>());
    pid = j.at("pid").get<pid_t>();
  } catch (const nlohmann::json::exception& e) {
    return makeError(ErrorCode::kInternal, fmt::format("bad engine host reply: {}", e.what()));
  }
  TRY_VOID(sendMessage(socket.get(), kGo, "engine host"));
  return pid;
}

}  // namespace runwasi::shim
