#include "ttrpc/responder.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include "runwasi/ttrpc/wire.pb.h"
#include "ttrpc/frame.h"

namespace runwasi::ttrpc {

namespace detail {

bool Mailbox::post(uint64_t connectionId, std::string frame) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    letters_.push_back(Letter{connectionId, std::move(frame)});
  }
  wake();
  return true;
}

std::vector<Mailbox::Letter> Mailbox::take() {
  std::lock_guard lock(mutex_);
  return std::exchange(letters_, {});
}

void Mailbox::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  letters_.clear();
}

void Mailbox::wake() const {
  uint64_t one = 1;
  // EAGAIN means the counter is saturated: the loop is woken anyway.
  [[maybe_unused]] ssize_t n = ::write(wakeFd_.get(), &one, sizeof(one));
}

}  // namespace detail

namespace {

// The response frame for a result. A payload too large for one frame becomes a
// ResourceExhausted status, so the client hears about it instead of timing out.
std::string encodeResponse(uint32_t streamId, const StatusOr<std::string>& result) {
  wire::Response response;
  if (result) {
    response.set_payload(*result);
  } else {
    auto* status = response.mutable_status();
    Code code = result.error().code == Code::kOk ? Code::kUnknown : result.error().code;
    status->set_code(static_cast<int32_t>(code));
    status->set_message(result.error().message);
  }
  auto frame = encodeFrame(streamId, FrameType::kResponse, response.SerializeAsString());
  if (frame) return std::move(*frame);

  wire::Response refusal;
  refusal.mutable_status()->set_code(static_cast<int32_t>(Code::kResourceExhausted));
  refusal.mutable_status()->set_message("response " + frame.error().message);
  return *encodeFrame(streamId, FrameType::kResponse, refusal.SerializeAsString());
}

}  // namespace

struct Responder::State {
  std::shared_ptr<detail::Mailbox> mailbox;
  uint64_t connectionId;
  uint32_t streamId;
  std::atomic<bool> answered{false};

  void send(const StatusOr<std::string>& result) {
    if (answered.exchange(true)) return;
    mailbox->post(connectionId, encodeResponse(streamId, result));
  }

  ~State() {
    if (!answered.load()) {
      send(
          makeStatus(Code::kInternal, "ttrpc: the handler dropped the request without a response"));
    }
  }
};

Responder::Responder(std::shared_ptr<detail::Mailbox> mailbox, uint64_t connectionId,
                     uint32_t streamId)
    : state_(std::make_shared<State>()) {
  state_->mailbox = std::move(mailbox);
  state_->connectionId = connectionId;
  state_->streamId = streamId;
}

void Responder::reply(std::string payload) const {
  state_->send(StatusOr<std::string>(std::move(payload)));
}

void Responder::fail(Status status) const {
  state_->send(tl::unexpected(std::move(status)));
}

void Responder::finish(StatusOr<std::string> result) const {
  state_->send(result);
}

uint32_t Responder::streamId() const {
  return state_->streamId;
}

bool Responder::answered() const {
  return state_->answered.load();
}

}  // namespace runwasi::ttrpc
