#include "containerd_inventory.h"

#include <grpcpp/grpcpp.h>

#include <fmt/core.h>

#include "github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/leases/v1/leases.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.grpc.pb.h"

namespace runwasi::stress {
namespace {

namespace containers_v1 = containerd::services::containers::v1;
namespace leases_v1 = containerd::services::leases::v1;
namespace snapshots_v1 = containerd::services::snapshots::v1;
namespace tasks_v1 = containerd::services::tasks::v1;

class GrpcInventory final : public ContainerdInventory {
 public:
  GrpcInventory(std::shared_ptr<grpc::Channel> channel, std::string ns,
                std::chrono::milliseconds timeout)
      : ns_(std::move(ns)),
        timeout_(timeout),
        containers_(containers_v1::Containers::NewStub(channel)),
        leases_(leases_v1::Leases::NewStub(channel)),
        snapshots_(snapshots_v1::Snapshots::NewStub(channel)),
        tasks_(tasks_v1::Tasks::NewStub(channel)) {}

  Expected<ContainerdObjects> list(std::string_view prefix, std::string_view snapshotter) override {
    ContainerdObjects found;
    auto keep = [&](std::vector<std::string>& into, const std::string& id) {
      if (id.starts_with(prefix)) into.push_back(id);
    };
    TRY(auto containers, unary<containers_v1::ListContainersResponse>(
                             "Containers.List", [&](auto* context, auto* response) {
                               return containers_->List(context, {}, response);
                             }));
    for (const auto& c : containers.containers()) keep(found.containers, c.id());
    TRY(auto tasks,
        unary<tasks_v1::ListTasksResponse>("Tasks.List", [&](auto* context, auto* response) {
          return tasks_->List(context, {}, response);
        }));
    for (const auto& t : tasks.tasks())
      keep(found.tasks, t.container_id().empty() ? t.id() : t.container_id());
    TRY(auto leases,
        unary<leases_v1::ListResponse>("Leases.List", [&](auto* context, auto* response) {
          return leases_->List(context, {}, response);
        }));
    for (const auto& l : leases.leases()) keep(found.leases, l.id());
    {
      grpc::ClientContext context;
      prepare(context);
      snapshots_v1::ListSnapshotsRequest request;
      request.set_snapshotter(std::string(snapshotter));
      auto reader = snapshots_->List(&context, request);
      snapshots_v1::ListSnapshotsResponse chunk;
      while (reader->Read(&chunk))
        for (const auto& info : chunk.info()) keep(found.snapshots, info.name());
      TRY_VOID(check(reader->Finish(), "Snapshots.List"));
    }
    return found;
  }

  Expected<bool> snapshotExists(std::string_view snapshotter, std::string_view key) override {
    grpc::ClientContext context;
    prepare(context);
    snapshots_v1::StatSnapshotRequest request;
    request.set_snapshotter(std::string(snapshotter));
    request.set_key(std::string(key));
    snapshots_v1::StatSnapshotResponse response;
    grpc::Status status = snapshots_->Stat(&context, request, &response);
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) return false;
    TRY_VOID(check(status, "Snapshots.Stat"));
    return true;
  }

 private:
  // One unary call: `invoke(context, response)` under the namespace and the deadline.
  template <typename Response, typename Invoke>
  Expected<Response> unary(std::string_view method, Invoke&& invoke) {
    grpc::ClientContext context;
    prepare(context);
    Response response;
    TRY_VOID(check(invoke(&context, &response), method));
    return response;
  }

  void prepare(grpc::ClientContext& context) const {
    context.AddMetadata("containerd-namespace", ns_);
    context.set_deadline(std::chrono::system_clock::now() + timeout_);
  }

  static Expected<void> check(const grpc::Status& status, std::string_view method) {
    if (status.ok()) return {};
    return makeError(status.error_code() == grpc::StatusCode::NOT_FOUND ? ErrorCode::kNotFound
                                                                        : ErrorCode::kUnavailable,
                     fmt::format("containerd {}: {}", method, status.error_message()));
  }

  const std::string ns_;
  const std::chrono::milliseconds timeout_;
  const std::unique_ptr<containers_v1::Containers::Stub> containers_;
  const std::unique_ptr<leases_v1::Leases::Stub> leases_;
  const std::unique_ptr<snapshots_v1::Snapshots::Stub> snapshots_;
  const std::unique_ptr<tasks_v1::Tasks::Stub> tasks_;
};

}  // namespace

Expected<std::unique_ptr<ContainerdInventory>> openInventory(const std::string& socketPath,
                                                             const std::string& ns,
                                                             std::chrono::milliseconds timeout) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);  // never route a unix socket through a proxy
  auto channel =
      grpc::CreateCustomChannel("unix:" + socketPath, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + timeout))
    return makeError(
        ErrorCode::kUnavailable,
        fmt::format("containerd at {} did not answer within {} ms", socketPath, timeout.count()));
  return std::make_unique<GrpcInventory>(std::move(channel), ns, timeout);
}

}  // namespace runwasi::stress
