// The gRPC side of the containerd client (containerd_client.h), shared by its source files
// and nothing else: only code linking libgrpc++ includes this.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/content/v1/content.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/leases/v1/leases.grpc.pb.h"
#include "oci/containerd_client.h"

namespace runwasi::oci {

namespace containers_v1 = containerd::services::containers::v1;
namespace content_v1 = containerd::services::content::v1;
namespace images_v1 = containerd::services::images::v1;
namespace leases_v1 = containerd::services::leases::v1;

// Where the client talks to and how.
struct CallSettings {
  std::string socketPath;
  std::string ns;
  ContainerdClientOptions options;
};

// Fills a fresh context: the namespace (and lease) metadata and a deadline `timeout` from
// now (none when nullopt).
void prepareContext(grpc::ClientContext& context, const CallSettings& settings,
                    std::optional<std::chrono::milliseconds> timeout,
                    std::string_view leaseId = {});

// A failed call as an Error: containerd's code, "containerd <method> <subject>: <message>".
Error callError(const grpc::Status& status, const CallSettings& settings, std::string_view method,
                std::string_view subject);

// A channel to settings.socketPath, connected (or an Unavailable error naming the socket).
Expected<std::shared_ptr<grpc::Channel>> connectChannel(const CallSettings& settings);

// InvalidArgument unless `digest` is "sha256:" and 64 lower-case hex digits (the only
// algorithm the client can verify).
Expected<void> checkSha256Digest(std::string_view digest);

Labels toLabels(const google::protobuf::Map<std::string, std::string>& labels);
void copyLabels(const Labels& labels, google::protobuf::Map<std::string, std::string>* out);
std::chrono::system_clock::time_point toTimePoint(const google::protobuf::Timestamp& timestamp);

// Containers, Images, Content and Leases over one channel.
class GrpcStoreClient : public virtual ContainerdStoreClient {
 public:
  GrpcStoreClient(std::shared_ptr<grpc::Channel> channel, CallSettings settings);

  Expected<ContainerRecord> getContainer(std::string_view id) override;
  Expected<ContainerRecord> createContainer(const ContainerRecord& record) override;
  Expected<void> deleteContainer(std::string_view id) override;
  Expected<ImageRecord> getImage(std::string_view name) override;
  Expected<std::vector<ImageRecord>> listImages() override;
  Expected<void> deleteImage(std::string_view name, bool sync) override;
  Expected<ContentInfo> contentInfo(std::string_view digest) override;
  Expected<Bytes> readBlob(std::string_view digest, uint64_t maxSize) override;
  Expected<ContentInfo> updateContentLabels(std::string_view digest, const Labels& labels) override;
  Expected<void> deleteContent(std::string_view digest) override;
  Expected<ContentInfo> writeBlob(std::string_view ref, std::span<const uint8_t> bytes,
                                  std::string_view expectedDigest, const Labels& labels,
                                  std::string_view leaseId) override;
  Expected<std::string> createLease(std::string_view id, const Labels& labels,
                                    std::optional<std::chrono::seconds> expiresAfter) override;
  Expected<void> deleteLease(std::string_view id, bool sync) override;

 protected:
  // One unary call under the call deadline: `method` of `stub` (e.g.
  // &Images::Stub::Get), named `name` ("Images.Get") in errors, about `subject`.
  template <typename Stub, typename Request, typename Response>
  Expected<Response> call(Stub& stub,
                          grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                       Response*),
                          const Request& request, std::string_view name, std::string_view subject,
                          std::string_view leaseId = {}) const {
    grpc::ClientContext context;
    prepareContext(context, settings_, settings_.options.callTimeout, leaseId);
    Response response;
    grpc::Status status = (stub.*method)(&context, request, &response);
    if (!status.ok()) return tl::unexpected(callError(status, settings_, name, subject));
    return response;
  }

  // The stubs are used through const methods: gRPC's stubs are thread-safe.
  const CallSettings settings_;
  const std::shared_ptr<grpc::Channel> channel_;

 private:
  // Content.Write's stream, for writeBlob (containerd_grpc_write.cpp).
  Expected<void> streamBlob(std::string_view ref, std::span<const uint8_t> bytes,
                            std::string_view digest, const Labels& labels,
                            std::string_view leaseId);
  // Adds the blob to the lease, as if it had been written under it.
  Expected<void> leaseContent(std::string_view leaseId, std::string_view digest);

  const std::unique_ptr<containers_v1::Containers::Stub> containers_;
  const std::unique_ptr<images_v1::Images::Stub> images_;
  const std::unique_ptr<content_v1::Content::Stub> content_;
  const std::unique_ptr<leases_v1::Leases::Stub> leases_;
};

// The store client alone: what the plugin hands out. (Its presence in a program also tells
// loadContainerdClient that the program links these .proto files itself.)
Expected<std::unique_ptr<ContainerdStoreClient>> connectContainerdStore(
    std::string_view socketPath, std::string_view ns, const ContainerdClientOptions& options);

}  // namespace runwasi::oci
