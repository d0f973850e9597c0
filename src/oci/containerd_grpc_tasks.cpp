// Snapshots and Tasks on top of the store client: the whole ContainerdClient.
#include <fmt/core.h>

#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.grpc.pb.h"
#include "oci/containerd_grpc.h"

namespace runwasi::oci {
namespace {

namespace snapshots_v1 = containerd::services::snapshots::v1;
namespace tasks_v1 = containerd::services::tasks::v1;

SnapshotMount toMount(const containerd::types::Mount& m) {
  return SnapshotMount{m.type(), m.source(), m.target(), {m.options().begin(), m.options().end()}};
}

class GrpcContainerdClient final : public ContainerdClient, public GrpcStoreClient {
 public:
  GrpcContainerdClient(std::shared_ptr<grpc::Channel> channel, CallSettings settings)
      : GrpcStoreClient(std::move(channel), std::move(settings)),
        snapshots_(snapshots_v1::Snapshots::NewStub(channel_)),
        tasks_(tasks_v1::Tasks::NewStub(channel_)) {}

  Expected<std::vector<SnapshotMount>> snapshotsPrepare(std::string_view snapshotter, std::string_view key,
                                                std::string_view parent,
                                                std::string_view leaseId) override {
    snapshots_v1::PrepareSnapshotRequest request;
    request.set_snapshotter(std::string(snapshotter));
    request.set_key(std::string(key));
    request.set_parent(std::string(parent));
    TRY(auto response, call(*snapshots_, &snapshots_v1::Snapshots::Stub::Prepare, request,
                            "Snapshots.Prepare", key, leaseId));
    std::vector<SnapshotMount> mounts;
    for (const containerd::types::Mount& m : response.mounts()) mounts.push_back(toMount(m));
    return mounts;
  }

  Expected<void> snapshotsRemove(std::string_view snapshotter, std::string_view key) override {
    snapshots_v1::RemoveSnapshotRequest request;
    request.set_snapshotter(std::string(snapshotter));
    request.set_key(std::string(key));
    TRY_VOID(call(*snapshots_, &snapshots_v1::Snapshots::Stub::Remove, request, "Snapshots.Remove",
                  key));
    return {};
  }

  Expected<uint32_t> createTask(const TaskCreate& task) override {
    tasks_v1::CreateTaskRequest request;
    request.set_container_id(task.containerId);
    for (const SnapshotMount& m : task.rootfs) {
      containerd::types::Mount* out = request.add_rootfs();
      out->set_type(m.type);
      out->set_source(m.source);
      out->set_target(m.target);
      for (const std::string& option : m.options) out->add_options(option);
    }
    request.set_stdin(task.stdinPath);
    request.set_stdout(task.stdoutPath);
    request.set_stderr(task.stderrPath);
    request.set_terminal(task.terminal);
    TRY(auto response,
        call(*tasks_, &tasks_v1::Tasks::Stub::Create, request, "Tasks.Create", task.containerId));
    return response.pid();
  }

  Expected<uint32_t> startTask(std::string_view containerId) override {
    tasks_v1::StartRequest request;
    request.set_container_id(std::string(containerId));
    TRY(auto response,
        call(*tasks_, &tasks_v1::Tasks::Stub::Start, request, "Tasks.Start", containerId));
    return response.pid();
  }

  Expected<TaskExit> waitTask(std::string_view containerId,
                              std::optional<std::chrono::milliseconds> timeout) override {
    tasks_v1::WaitRequest request;
    request.set_container_id(std::string(containerId));
    // Not call(): a task may run for as long as it likes.
    grpc::ClientContext context;
    prepareContext(context, settings_, timeout);
    tasks_v1::WaitResponse response;
    grpc::Status status = tasks_->Wait(&context, request, &response);
    if (!status.ok())
      return tl::unexpected(callError(status, settings_, "Tasks.Wait", containerId));
    return TaskExit{response.exit_status(), toTimePoint(response.exited_at())};
  }

  Expected<void> killTask(std::string_view containerId, int signal, bool all) override {
    tasks_v1::KillRequest request;
    request.set_container_id(std::string(containerId));
    request.set_signal(static_cast<uint32_t>(signal));
    request.set_all(all);
    TRY_VOID(call(*tasks_, &tasks_v1::Tasks::Stub::Kill, request, "Tasks.Kill", containerId));
    return {};
  }

  Expected<TaskExit> deleteTask(std::string_view containerId) override {
    tasks_v1::DeleteTaskRequest request;
    request.set_container_id(std::string(containerId));
    TRY(auto response,
        call(*tasks_, &tasks_v1::Tasks::Stub::Delete, request, "Tasks.Delete", containerId));
    return TaskExit{response.exit_status(), toTimePoint(response.exited_at())};
  }

 private:
  const std::unique_ptr<snapshots_v1::Snapshots::Stub> snapshots_;
  const std::unique_ptr<tasks_v1::Tasks::Stub> tasks_;
};

}  // namespace

Expected<std::unique_ptr<ContainerdClient>> connectContainerd(
    std::string_view socketPath, std::string_view ns, const ContainerdClientOptions& options) {
  CallSettings settings{std::string(socketPath), std::string(ns), options};
  TRY(auto channel, connectChannel(settings));
  return std::make_unique<GrpcContainerdClient>(std::move(channel), std::move(settings));
}

}  // namespace runwasi::oci
