// How a server handler answers its request, from any thread, now or later.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "ttrpc/status.h"

namespace runwasi::ttrpc {

namespace detail {

// Where responders leave encoded response frames for the server's loop thread. Shared
// with every responder, so one may outlive the server: after close() posts are dropped.
class Mailbox {
 public:
  struct Letter {
    uint64_t connectionId;
    std::string frame;
  };

  explicit Mailbox(UniqueFd wakeFd) : wakeFd_(std::move(wakeFd)) {}

  // Queues a frame and wakes the loop; false once the server closed the mailbox.
  bool post(uint64_t connectionId, std::string frame);
  std::vector<Letter> take();
  void close();
  // Makes the loop's epoll_wait return. Async-signal-safe (a write to an eventfd).
  void wake() const;
  int wakeFd() const { return wakeFd_.get(); }

 private:
  const UniqueFd wakeFd_;  // an eventfd the loop polls
  std::mutex mutex_;
  std::vector<Letter> letters_;  // guarded by mutex_
  bool closed_ = false;          // guarded by mutex_
};

}  // namespace detail

// Answers one request exactly once. Copies share the request: the first answer wins and
// later ones are ignored. Thread-safe; the frame is encoded on the calling thread and
// written by the server's loop. If every copy is destroyed unanswered, the client gets
// Internal ("no response") rather than waiting forever.
class Responder {
 public:
  Responder(std::shared_ptr<detail::Mailbox> mailbox, uint64_t connectionId, uint32_t streamId);

  // OK with the serialized response message.
  void reply(std::string payload) const;
  // A non-OK status (code must not be kOk; kOk is sent as Unknown).
  void fail(Status status) const;
  // Either of the above.
  void finish(StatusOr<std::string> result) const;

  uint32_t streamId() const;
  // True once any copy has answered.
  bool answered() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace runwasi::ttrpc
