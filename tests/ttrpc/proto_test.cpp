// The containerd protos generated at build time: present, linkable, and on the wire as
// containerd expects.
#include <gtest/gtest.h>

#include "github.com/containerd/cgroups/stats/v1/metrics.pb.h"
#include "github.com/containerd/cgroups/v2/stats/metrics.pb.h"
#include "github.com/containerd/containerd/api/events/task.pb.h"
#include "github.com/containerd/containerd/api/services/ttrpc/events/v1/events.pb.h"
#include "github.com/containerd/containerd/api/types/metrics.pb.h"
#include "github.com/containerd/containerd/runtime/v2/runc/options/oci.pb.h"
#include "github.com/containerd/containerd/runtime/v2/task/shim.pb.h"
#include "google/rpc/status.pb.h"
#include "runwasi/ttrpc/wire.pb.h"

namespace {

TEST(GeneratedProtos, ShimServiceAndMessagesExist) {
  const auto* service =
      containerd::task::v2::CreateTaskRequest::descriptor()->file()->FindServiceByName("Task");
  ASSERT_NE(service, nullptr);
  EXPECT_EQ(service->full_name(), "containerd.task.v2.Task");
  for (const char* method :
       {"State", "Create", "Start", "Delete", "Pids", "Pause", "Resume", "Checkpoint", "Kill",
        "Exec", "ResizePty", "CloseIO", "Update", "Wait", "Stats", "Connect", "Shutdown"}) {
    EXPECT_NE(service->FindMethodByName(method), nullptr) << method;
  }
  containerd::task::v2::CreateTaskRequest create;
  create.add_rootfs()->set_type("overlay");
  EXPECT_EQ(create.rootfs(0).type(), "overlay");
}

TEST(GeneratedProtos, EventsEnvelopeKeepsItsFieldNumbers) {
  containerd::services::events::ttrpc::v1::ForwardRequest forward;
  auto* envelope = forward.mutable_envelope();
  envelope->set_namespace_("default");  // `namespace` is a C++ keyword
  envelope->set_topic("/tasks/exit");
  containerd::events::TaskExit exit;
  exit.set_container_id("c1");
  exit.set_exit_status(3);
  envelope->mutable_event()->set_type_url("containerd.events.TaskExit");
  envelope->mutable_event()->set_value(exit.SerializeAsString());
  // Envelope field 2 (namespace), length-delimited: tag 0x12.
  std::string bytes = envelope->SerializeAsString();
  EXPECT_NE(bytes.find(std::string("\x12\x07"
                                   "default")),
            std::string::npos);
}

TEST(GeneratedProtos, StatsAndOptionsTypes) {
  io::containerd::cgroups::v1::Metrics v1;
  v1.mutable_memory()->mutable_usage()->set_usage(4096);
  io::containerd::cgroups::v2::Metrics v2;
  v2.mutable_pids()->set_current(2);
  containerd::types::Metric metric;
  metric.set_id("c1");
  metric.mutable_data()->PackFrom(v2);
  EXPECT_EQ(metric.data().type_url(), "type.googleapis.com/io.containerd.cgroups.v2.Metrics");
  containerd::runc::v1::Options options;
  options.set_binary_name("runwasi");
  EXPECT_TRUE(options.IsInitialized());
  google::rpc::Status status;
  status.set_code(12);
  runwasi::ttrpc::wire::Response response;
  *response.mutable_status() = status;
  EXPECT_EQ(response.status().code(), 12);
}

}  // namespace
