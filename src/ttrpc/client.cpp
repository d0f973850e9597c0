#include "ttrpc/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "runwasi/ttrpc/wire.pb.h"
#include "ttrpc/unix_socket.h"

namespace runwasi::ttrpc {
namespace {

using Clock = std::chrono::steady_clock;

// Milliseconds left before the deadline for poll(2): -1 waits forever, 0 has passed.
int pollTimeout(std::optional<Clock::time_point> deadline) {
  if (!deadline) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > std::numeric_limits<int>::max() ? std::numeric_limits<int>::max()
                                                : static_cast<int>(left);
}

StatusOr<std::string> parseResponse(const std::string& body) {
  wire::Response response;
  if (!response.ParseFromString(body)) {
    return makeStatus(Code::kInternal, "ttrpc: cannot parse the response envelope");
  }
  if (response.has_status() && response.status().code() != 0) {
    return makeStatus(static_cast<Code>(response.status().code()), response.status().message());
  }
  return std::move(*response.mutable_payload());
}

}  // namespace

Expected<std::unique_ptr<Client>> Client::connect(const std::string& path) {
  TRY(UniqueFd fd, connectUnix(path));
  return adopt(std::move(fd));
}

Expected<std::unique_ptr<Client>> Client::adopt(UniqueFd connected) {
  // Non-blocking so that a write can give up at the call's deadline.
  TRY_VOID(setNonBlocking(connected.get()));
  std::unique_ptr<Client> client(new Client(std::move(connected)));
  client->reader_ = std::thread([c = client.get()] { c->readLoop(); });
  return client;
}

Client::Client(UniqueFd fd) : fd_(std::move(fd)) {}

Client::~Client() {
  close();
  if (reader_.joinable()) reader_.join();
}

void Client::close() {
  {
    std::lock_guard lock(mutex_);
    if (!closedReason_) closedReason_ = "ttrpc: client closed";
  }
  // Wakes the reader (its read returns 0), which fails the pending calls.
  ::shutdown(fd_.get(), SHUT_RDWR);
}

bool Client::connected() const {
  std::lock_guard lock(mutex_);
  return !closedReason_.has_value();
}

StatusOr<std::string> Client::call(std::string_view service, std::string_view method,
                                   std::string_view payload, std::chrono::milliseconds timeout,
                                   const Metadata& metadata) {
  std::optional<Clock::time_point> deadline;
  // Beyond a year counts as no timeout (and keeps the arithmetic below from overflowing).
  if (timeout < std::chrono::hours(24 * 365)) deadline = Clock::now() + timeout;

  wire::Request request;
  request.set_service(std::string(service));
  request.set_method(std::string(method));
  request.set_payload(std::string(payload));
  if (deadline) request.set_timeout_nano(std::chrono::nanoseconds(timeout).count());
  for (const auto& [key, value] : metadata) {
    auto* kv = request.add_metadata();
    kv->set_key(key);
    kv->set_value(value);
  }

  uint32_t streamId;
  auto pending = std::make_shared<PendingCall>();
  {
    std::lock_guard lock(mutex_);
    if (closedReason_) return makeStatus(Code::kUnavailable, *closedReason_);
    if (nextStreamId_ > std::numeric_limits<uint32_t>::max()) {
      return makeStatus(Code::kResourceExhausted, "ttrpc: stream ids exhausted");
    }
    streamId = static_cast<uint32_t>(nextStreamId_);
    nextStreamId_ += 2;
    pending_[streamId] = pending;
  }
  auto forget = [&] {
    std::lock_guard lock(mutex_);
    pending_.erase(streamId);
  };

  auto frame = encodeFrame(streamId, FrameType::kRequest, request.SerializeAsString());
  if (!frame) {
    forget();
    return makeStatus(Code::kResourceExhausted, "ttrpc: request " + frame.error().message);
  }
  if (auto written = writeFrame(*frame, deadline); !written) {
    forget();
    return tl::unexpected(std::move(written).error());
  }

  std::unique_lock lock(mutex_);
  auto done = [&] { return pending->result.has_value(); };
  if (deadline) {
    pending->answered.wait_until(lock, *deadline, done);
  } else {
    pending->answered.wait(lock, done);
  }
  if (!pending->result) {
    pending_.erase(streamId);  // a late response finds no caller and is dropped
    return makeStatus(Code::kDeadlineExceeded, "ttrpc: " + std::string(service) + "/" +
                                                   std::string(method) + " timed out after " +
                                                   std::to_string(timeout.count()) + " ms");
  }
  return std::move(*pending->result);
}

StatusOr<void> Client::writeFrame(const std::string& frame,
                                  std::optional<Clock::time_point> deadline) {
  std::lock_guard lock(writeMutex_);
  size_t written = 0;
  while (written < frame.size()) {
    ssize_t n = ::send(fd_.get(), frame.data() + written, frame.size() - written, MSG_NOSIGNAL);
    if (n >= 0) {
      written += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      std::string why = std::string("ttrpc: connection lost: ") + std::strerror(errno);
      return makeStatus(Code::kUnavailable, why);
    }
    pollfd pfd{fd_.get(), POLLOUT, 0};
    int ready = ::poll(&pfd, 1, pollTimeout(deadline));
    if (ready == 0) {
      // Half a frame on the wire would garble every later one: give the connection up.
      if (written > 0) close();
      return makeStatus(Code::kDeadlineExceeded, "ttrpc: timed out sending the request");
    }
    if (ready < 0 && errno != EINTR) {
      return makeStatus(Code::kUnavailable, std::string("ttrpc: poll: ") + std::strerror(errno));
    }
  }
  return {};
}

void Client::readLoop() {
  FrameDecoder decoder;
  char buffer[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd_.get(), buffer, sizeof(buffer));
    if (n == 0) {
      failAll("ttrpc: connection closed");
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        pollfd pfd{fd_.get(), POLLIN, 0};
        ::poll(&pfd, 1, -1);
        continue;
      }
      failAll(std::string("ttrpc: connection lost: ") + std::strerror(errno));
      return;
    }
    decoder.feed(std::string_view(buffer, static_cast<size_t>(n)));
    while (auto decoded = decoder.next()) {
      if (auto* oversized = std::get_if<OversizedFrame>(&*decoded)) {
        deliver(oversized->header.streamId,
                makeStatus(Code::kResourceExhausted,
                           "ttrpc: response of " + std::to_string(oversized->header.length) +
                               " bytes exceeds the maximum message size"));
        continue;
      }
      auto& frame = std::get<Frame>(*decoded);
      if (frame.header.type != static_cast<uint8_t>(FrameType::kResponse)) continue;
      deliver(frame.header.streamId, parseResponse(frame.body));
    }
  }
}

void Client::deliver(uint32_t streamId, StatusOr<std::string> result) {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(streamId);
  if (it == pending_.end()) return;  // its caller timed out already
  it->second->result = std::move(result);
  it->second->answered.notify_one();
  pending_.erase(it);
}

void Client::failAll(const std::string& why) {
  std::lock_guard lock(mutex_);
  if (!closedReason_) closedReason_ = why;
  for (auto& [id, call] : pending_) {
    call->result = makeStatus(Code::kUnavailable, *closedReason_);
    call->answered.notify_one();
  }
  pending_.clear();
}

}  // namespace runwasi::ttrpc
