#include "event_sink.h"

#include <algorithm>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <fmt/format.h>

#include "common/log.h"
#include "github.com/containerd/containerd/api/events/task.pb.h"
#include "github.com/containerd/containerd/api/services/ttrpc/events/v1/events.pb.h"
#include "shim/event_publisher.h"

namespace runwasi::stress {
namespace {

namespace gpb = google::protobuf;
constexpr char kEventsService[] = "containerd.services.events.ttrpc.v1.Events";

// The container an event is about: every task event has a container_id field.
Expected<std::string> containerIdOf(std::string_view typeName, const std::string& value) {
  const gpb::Descriptor* type =
      gpb::DescriptorPool::generated_pool()->FindMessageTypeByName(std::string(typeName));
  if (!type)
    return makeError(ErrorCode::kInvalidArgument, fmt::format("unknown type {}", typeName));
  std::unique_ptr<gpb::Message> event(
      gpb::MessageFactory::generated_factory()->GetPrototype(type)->New());
  if (!event->ParseFromString(value))
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("a {} that does not parse", typeName));
  const gpb::FieldDescriptor* field = type->FindFieldByName("container_id");
  if (!field || field->type() != gpb::FieldDescriptor::TYPE_STRING)
    return makeError(ErrorCode::kInvalidArgument, fmt::format("{} has no container_id", typeName));
  return event->GetReflection()->GetString(*event, field);
}

}  // namespace

Expected<std::unique_ptr<EventSink>> EventSink::start(const std::string& socketPath,
                                                      std::string ns) {
  // Links the task events' descriptors into the generated pool containerIdOf searches.
  (void)containerd::events::TaskCreate::descriptor();
  std::unique_ptr<EventSink> sink(new EventSink(std::move(ns)));
  ttrpc::ServerOptions options;
  options.handlerThreads = 2;
  TRY(sink->server_, ttrpc::Server::create(std::move(options)));
  EventSink* self = sink.get();
  sink->server_->addMethod(kEventsService, "Forward",
                           [self](const ttrpc::Call& call) { return self->forward(call); });
  TRY_VOID(sink->server_->listen(socketPath));
  sink->loop_ = std::thread([self] {
    if (auto ran = self->server_->run(); !ran)
      log::error("events service: {}", ran.error().message);
  });
  return sink;
}

EventSink::~EventSink() {
  if (server_) server_->stop();
  if (loop_.joinable()) loop_.join();
}

EventTally EventSink::tally() const {
  std::lock_guard lock(mutex_);
  return tally_;
}

ttrpc::StatusOr<std::string> EventSink::forward(const ttrpc::Call& call) {
  containerd::services::events::ttrpc::v1::ForwardRequest request;
  auto reject = [this](std::string why) -> ttrpc::StatusOr<std::string> {
    std::lock_guard lock(mutex_);
    tally_.rejected.push_back(why);
    return ttrpc::makeStatus(ttrpc::Code::kInvalidArgument, std::move(why));
  };
  if (!request.ParseFromString(call.payload)) return reject("a ForwardRequest that does not parse");
  const auto& envelope = request.envelope();
  if (envelope.namespace_() != ns_)
    return reject(fmt::format("{} in namespace \"{}\", not \"{}\"", envelope.topic(),
                              envelope.namespace_(), ns_));
  auto known = std::find_if(shim::kEventTopics.begin(), shim::kEventTopics.end(),
                            [&](const shim::EventTopic& t) { return t.topic == envelope.topic(); });
  if (known == shim::kEventTopics.end())
    return reject(fmt::format("unknown topic \"{}\"", envelope.topic()));
  // containerd's typeurl resolves the bare full name (PROTOCOL.md).
  if (envelope.event().type_url() != known->eventType)
    return reject(fmt::format("{} carries a \"{}\", not a {}", envelope.topic(),
                              envelope.event().type_url(), known->eventType));
  auto id = containerIdOf(known->eventType, envelope.event().value());
  if (!id) return reject(fmt::format("{}: {}", envelope.topic(), id.error().message));

  std::lock_guard lock(mutex_);
  ++tally_.total;
  ++tally_.byTopic[envelope.topic()];
  ++tally_.byTask[*id][envelope.topic()];
  return std::string();  // google.protobuf.Empty
}

}  // namespace runwasi::stress
