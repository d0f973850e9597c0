// A ttrpc server: one epoll loop on a unix socket, handlers on a small thread pool.
//
// Per ttrpc 1.1 (Go) semantics: requests on one connection are served concurrently and
// answered in any order; a request with an even stream id, or one that does not parse,
// gets InvalidArgument; an unregistered service or method gets Unimplemented; frames of
// unknown type are ignored; a frame over 4 MiB gets ResourceExhausted on its stream and
// its body is dropped unread (the connection stays usable); a client that hangs up loses
// the answers still pending.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include "common/error.h"
#include "common/unique_fd.h"
#include "ttrpc/call.h"
#include "ttrpc/responder.h"
#include "ttrpc/status.h"
#include "ttrpc/worker_pool.h"

namespace runwasi::ttrpc {

struct ServerOptions {
  // Threads that run handlers. Long polls (Wait) answer through their Responder later
  // and return at once, so they do not hold a thread.
  size_t handlerThreads = 4;
  // Accept only peers with this process's effective uid and gid (SO_PEERCRED), as
  // containerd's shims do (ttrpc.UnixSocketRequireSameUser); others are closed at once.
  bool requireSameUser = true;
  // Called on the loop thread whenever the last open connection closes (containerd
  // hanging up is the shim's cue to exit). Not called while stopping.
  std::function<void()> onIdle;
};

class Server {
 public:
  // Answers through the responder, from any thread, now or later.
  using AsyncHandler = std::function<void(Call call, Responder responder)>;
  // Returns the serialized response message or a status; runs to completion.
  using UnaryHandler = std::function<StatusOr<std::string>(const Call& call)>;

  static Expected<std::unique_ptr<Server>> create(ServerOptions options = {});
  // After run() has returned (or was never called): waits for handlers still executing;
  // their answers are dropped.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Registration happens before run(). A handler that throws answers Internal.
  void addMethod(std::string service, std::string method, UnaryHandler handler);
  void addAsyncMethod(std::string service, std::string method, AsyncHandler handler);

  // Listens on a new socket at path (removed again when the server stops).
  Expected<void> listen(const std::string& path);
  // Serves an already listening socket, e.g. one inherited by the shim daemon.
  Expected<void> listen(UniqueFd listeningSocket);

  // Serves on the calling thread until stop(). Before returning it writes the answers
  // already given (for up to a second) and closes every connection. Call it once.
  Expected<void> run();
  // Makes run() return. Callable from any thread and from a signal handler. Requests
  // still unanswered are not waited for: a Shutdown handler answers first, then stops.
  void stop();

  size_t connectionCount() const { return connectionCount_.load(); }

 private:
  struct Connection;

  explicit Server(ServerOptions options);

  void acceptConnections();
  // false when the connection must close.
  bool readFrom(Connection& conn);
  void handleFrame(Connection& conn, uint32_t streamId, const std::string& body);
  void respondNow(Connection& conn, uint32_t streamId, Status status);
  bool flush(Connection& conn);
  void updateEvents(Connection& conn);
  void deliverMail();
  void closeConnection(uint64_t id);
  void closeAll();

  ServerOptions options_;
  std::map<std::pair<std::string, std::string>, AsyncHandler> methods_;
  std::map<std::string, size_t> serviceMethodCounts_;  // names the missing part in errors

  // Loop thread only, after construction.
  UniqueFd epoll_;
  UniqueFd listener_;
  std::string listenPath_;  // unlinked at the end when listen(path) created it
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
  uint64_t nextConnectionId_ = 2;  // 0 and 1 tag the wake fd and the listener in epoll

  std::shared_ptr<detail::Mailbox> mailbox_;
  std::atomic<bool> stopping_{false};  // lock-free: stop() stays async-signal-safe
  std::atomic<size_t> connectionCount_{0};
  // Last member: destroyed first, so running handlers finish while the rest still exists.
  std::unique_ptr<WorkerPool> pool_;
};

}  // namespace runwasi::ttrpc
