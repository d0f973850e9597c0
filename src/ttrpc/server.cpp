#include "ttrpc/server.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <thread>
#include <vector>

#include "common/log.h"
#include "runwasi/ttrpc/wire.pb.h"
#include "ttrpc/frame.h"
#include "ttrpc/unix_socket.h"

namespace runwasi::ttrpc {
namespace {

constexpr uint64_t kWakeTag = 0;
constexpr uint64_t kListenerTag = 1;
constexpr size_t kReadChunk = 64 * 1024;
// Reads per readiness event, so one busy client cannot starve the others.
constexpr int kReadsPerEvent = 16;
// A client that sends requests but does not read its answers is not read from while this
// much is waiting to be written (ttrpc's Go server blocks the same way).
constexpr size_t kMaxPendingOutput = 8u << 20;
constexpr auto kFinalFlushTime = std::chrono::seconds(1);

// A client-chosen name as it may appear in a status message (a protobuf string, so
// UTF-8): printable ASCII kept, other bytes as \xNN, at most 200 characters.
std::string printable(std::string_view name) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : name.substr(0, 200)) {
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    }
  }
  if (name.size() > 200) out += "...";
  return out;
}

bool sameUser(int fd) {
  ucred peer{};
  socklen_t size = sizeof(peer);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0) {
    log::warn("ttrpc: refusing a connection: SO_PEERCRED: {}", std::strerror(errno));
    return false;
  }
  if (peer.uid != ::geteuid() || peer.gid != ::getegid()) {
    log::warn("ttrpc: refusing a connection from uid {} gid {} (pid {})", peer.uid, peer.gid,
              peer.pid);
    return false;
  }
  return true;
}

}  // namespace

struct Server::Connection {
  uint64_t id = 0;
  UniqueFd fd;
  FrameDecoder decoder;
  std::string output;  // encoded frames not yet written, from outputOffset on
  size_t outputOffset = 0;
  uint32_t events = 0;  // what epoll watches for now

  size_t pendingOutput() const { return output.size() - outputOffset; }
};

Expected<std::unique_ptr<Server>> Server::create(ServerOptions options) {
  std::unique_ptr<Server> server(new Server(std::move(options)));
  server->epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!server->epoll_) return makeSysError("epoll_create1");
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return makeSysError("eventfd");
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kWakeTag;
  if (::epoll_ctl(server->epoll_.get(), EPOLL_CTL_ADD, wake.get(), &event) != 0) {
    return makeSysError("epoll_ctl(eventfd)");
  }
  server->mailbox_ = std::make_shared<detail::Mailbox>(std::move(wake));
  server->pool_ = std::make_unique<WorkerPool>(server->options_.handlerThreads);
  return server;
}

Server::Server(ServerOptions options) : options_(std::move(options)) {}

Server::~Server() {
  // Handlers still running may answer: their responses are dropped, not written.
  if (mailbox_) mailbox_->close();
  pool_.reset();
  closeAll();
}

void Server::addMethod(std::string service, std::string method, UnaryHandler handler) {
  addAsyncMethod(std::move(service), std::move(method),
                 [handler = std::move(handler)](Call call, Responder responder) {
                   responder.finish(handler(call));
                 });
}

void Server::addAsyncMethod(std::string service, std::string method, AsyncHandler handler) {
  ++serviceMethodCounts_[service];
  methods_[{std::move(service), std::move(method)}] = std::move(handler);
}

Expected<void> Server::listen(const std::string& path) {
  TRY(UniqueFd fd, listenUnix(path));
  TRY_VOID(listen(std::move(fd)));
  listenPath_ = path;
  return {};
}

Expected<void> Server::listen(UniqueFd listeningSocket) {
  if (listener_) return makeError(ErrorCode::kFailedPrecondition, "ttrpc server already listens");
  TRY_VOID(setNonBlocking(listeningSocket.get()));
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kListenerTag;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listeningSocket.get(), &event) != 0) {
    return makeSysError("epoll_ctl(listener)");
  }
  listener_ = std::move(listeningSocket);
  return {};
}

void Server::stop() {
  stopping_.store(true);
  mailbox_->wake();
}

Expected<void> Server::run() {
  if (!listener_) return makeError(ErrorCode::kFailedPrecondition, "ttrpc server has no socket");
  std::vector<epoll_event> events(64);
  while (!stopping_.load()) {
    int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto error = makeSysError("epoll_wait");
      closeAll();
      return error;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      uint32_t ready = events[i].events;
      if (tag == kWakeTag) {
        uint64_t count;
        [[maybe_unused]] ssize_t r = ::read(mailbox_->wakeFd(), &count, sizeof(count));
        deliverMail();
        continue;
      }
      if (tag == kListenerTag) {
        acceptConnections();
        continue;
      }
      // An earlier event of this batch may have closed it: look it up by id.
      auto it = connections_.find(tag);
      if (it == connections_.end()) continue;
      Connection& conn = *it->second;
      bool open = true;
      if (ready & (EPOLLIN | EPOLLHUP | EPOLLERR)) open = readFrom(conn);
      if (open && (ready & EPOLLOUT)) open = flush(conn);
      if (!open) closeConnection(tag);
    }
  }
  closeAll();
  return {};
}

void Server::acceptConnections() {
  for (;;) {
    UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      // Out of fds or memory: back off briefly instead of spinning on the ready listener.
      log::warn("ttrpc: accept failed: {}", std::strerror(errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return;
    }
    if (options_.requireSameUser && !sameUser(fd.get())) continue;  // closes it
    auto conn = std::make_unique<Connection>();
    conn->id = nextConnectionId_++;
    conn->fd = std::move(fd);
    conn->events = EPOLLIN;
    epoll_event event{};
    event.events = conn->events;
    event.data.u64 = conn->id;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, conn->fd.get(), &event) != 0) {
      log::warn("ttrpc: epoll_ctl(connection) failed: {}", std::strerror(errno));
      continue;
    }
    connections_.emplace(conn->id, std::move(conn));
    connectionCount_.fetch_add(1);
  }
}

bool Server::readFrom(Connection& conn) {
  char buffer[kReadChunk];
  for (int i = 0; i < kReadsPerEvent; ++i) {
    ssize_t n = ::read(conn.fd.get(), buffer, sizeof(buffer));
    if (n == 0) {
      if (conn.decoder.partial()) log::debug("ttrpc: connection closed inside a frame");
      return false;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      log::debug("ttrpc: read failed: {}", std::strerror(errno));
      return false;
    }
    conn.decoder.feed(std::string_view(buffer, static_cast<size_t>(n)));
    while (auto decoded = conn.decoder.next()) {
      if (auto* oversized = std::get_if<OversizedFrame>(&*decoded)) {
        respondNow(conn, oversized->header.streamId,
                   Status{Code::kResourceExhausted,
                          "message length " + std::to_string(oversized->header.length) +
                              " exceed maximum message size of " + std::to_string(kMaxFrameBody)});
        continue;
      }
      auto& frame = std::get<Frame>(*decoded);
      // Unknown types are ignored for forward compatibility, as ttrpc does.
      if (frame.header.type != static_cast<uint8_t>(FrameType::kRequest)) continue;
      handleFrame(conn, frame.header.streamId, frame.body);
    }
    if (conn.pendingOutput() >= kMaxPendingOutput) break;
  }
  return flush(conn);
}

void Server::handleFrame(Connection& conn, uint32_t streamId, const std::string& body) {
  wire::Request request;
  if (!request.ParseFromString(body)) {
    respondNow(conn, streamId, Status{Code::kInvalidArgument, "unmarshal request error"});
    return;
  }
  if (streamId % 2 != 1) {
    respondNow(conn, streamId,
               Status{Code::kInvalidArgument, "StreamID must be odd for client initiated streams"});
    return;
  }
  auto method = methods_.find({request.service(), request.method()});
  if (method == methods_.end()) {
    std::string message =
        serviceMethodCounts_.contains(request.service())
            ? "method " + printable(request.service()) + "/" + printable(request.method())
            : "service " + printable(request.service());
    respondNow(conn, streamId, Status{Code::kUnimplemented, message + " not implemented"});
    return;
  }

  Call call;
  call.service = std::move(*request.mutable_service());
  call.method = std::move(*request.mutable_method());
  call.payload = std::move(*request.mutable_payload());
  call.streamId = streamId;
  if (request.timeout_nano() > 0) {
    call.deadline =
        std::chrono::steady_clock::now() + std::chrono::nanoseconds(request.timeout_nano());
  }
  for (auto& kv : *request.mutable_metadata()) {
    call.metadata.emplace_back(std::move(*kv.mutable_key()), std::move(*kv.mutable_value()));
  }
  Responder responder(mailbox_, conn.id, streamId);
  const AsyncHandler* handler = &method->second;  // methods_ is fixed while serving
  pool_->submit([handler, call = std::move(call), responder]() mutable {
    // The one catch per request: an exception becomes the call's Internal status.
    try {
      (*handler)(std::move(call), responder);
    } catch (const std::exception& e) {
      responder.fail(Status{Code::kInternal, std::string("ttrpc handler failed: ") + e.what()});
    } catch (...) {
      responder.fail(Status{Code::kInternal, "ttrpc handler failed"});
    }
  });
}

void Server::respondNow(Connection& conn, uint32_t streamId, Status status) {
  wire::Response response;
  response.mutable_status()->set_code(static_cast<int32_t>(status.code));
  response.mutable_status()->set_message(std::move(status.message));
  // A status message is far below the frame limit.
  conn.output += *encodeFrame(streamId, FrameType::kResponse, response.SerializeAsString());
}

bool Server::flush(Connection& conn) {
  while (conn.pendingOutput() > 0) {
    ssize_t n = ::send(conn.fd.get(), conn.output.data() + conn.outputOffset, conn.pendingOutput(),
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      log::debug("ttrpc: write failed: {}", std::strerror(errno));
      return false;
    }
    conn.outputOffset += static_cast<size_t>(n);
  }
  if (conn.outputOffset == conn.output.size()) {
    conn.output.clear();
    conn.outputOffset = 0;
  } else if (conn.outputOffset > conn.output.size() / 2) {
    conn.output.erase(0, conn.outputOffset);
    conn.outputOffset = 0;
  }
  updateEvents(conn);
  return true;
}

void Server::updateEvents(Connection& conn) {
  uint32_t wanted = 0;
  if (conn.pendingOutput() < kMaxPendingOutput) wanted |= EPOLLIN;
  if (conn.pendingOutput() > 0) wanted |= EPOLLOUT;
  if (wanted == conn.events) return;
  epoll_event event{};
  event.events = wanted;
  event.data.u64 = conn.id;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, conn.fd.get(), &event) == 0) conn.events = wanted;
}

void Server::deliverMail() {
  std::vector<uint64_t> touched;
  for (auto& letter : mailbox_->take()) {
    auto it = connections_.find(letter.connectionId);
    if (it == connections_.end()) continue;  // the client left; so does its answer
    it->second->output += letter.frame;
    touched.push_back(letter.connectionId);
  }
  for (uint64_t id : touched) {
    auto it = connections_.find(id);
    if (it != connections_.end() && !flush(*it->second)) closeConnection(id);
  }
}

void Server::closeConnection(uint64_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second->fd.get(), nullptr);
  connections_.erase(it);
  if (connectionCount_.fetch_sub(1) == 1 && !stopping_.load() && options_.onIdle) {
    options_.onIdle();
  }
}

void Server::closeAll() {
  if (mailbox_) deliverMail();
  // Answers given before stop() (Shutdown's own, typically) still reach their clients.
  auto deadline = std::chrono::steady_clock::now() + kFinalFlushTime;
  for (auto& [id, conn] : connections_) {
    while (conn->pendingOutput() > 0 && flush(*conn)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd pfd{conn->fd.get(), POLLOUT, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) break;
    }
  }
  connections_.clear();
  connectionCount_.store(0);
  if (mailbox_) mailbox_->close();
  listener_.reset();
  if (!listenPath_.empty()) ::unlink(listenPath_.c_str());
  listenPath_.clear();
}

}  // namespace runwasi::ttrpc
