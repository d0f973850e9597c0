// Containers, Images, Content (but Write) and Leases: one short method per call.
#include <openssl/rand.h>

#include <ctime>

#include <fmt/core.h>

#include "oci/containerd_grpc.h"

namespace runwasi::oci {
namespace {

Descriptor toDescriptor(const containerd::types::Descriptor& d) {
  return Descriptor{d.media_type(), d.digest(), static_cast<uint64_t>(d.size()),
                    toLabels(d.annotations())};
}

ContainerRecord toRecord(const containers_v1::Container& c) {
  return ContainerRecord{.id = c.id(),
                         .image = c.image(),
                         .runtime = c.runtime().name(),
                         .snapshotter = c.snapshotter(),
                         .snapshotKey = c.snapshot_key(),
                         .labels = toLabels(c.labels()),
                         .specJson = c.spec().value()};
}

ImageRecord toRecord(const images_v1::Image& image) {
  return ImageRecord{image.name(), toDescriptor(image.target()), toLabels(image.labels())};
}

ContentInfo toContentInfo(const content_v1::Info& info) {
  return ContentInfo{info.digest(), static_cast<uint64_t>(info.size()), toLabels(info.labels())};
}

// The RFC 3339 form containerd's garbage collector parses for gc.expire.
std::string rfc3339(std::chrono::system_clock::time_point at) {
  std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm utc{};
  ::gmtime_r(&t, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string randomLeaseId() {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();  // OpenSSL's CSPRNG cannot fail here
  std::string id = "runwasi-";
  for (unsigned char b : bytes) id += fmt::format("{:02x}", b);
  return id;
}

}  // namespace

GrpcStoreClient::GrpcStoreClient(std::shared_ptr<grpc::Channel> channel, CallSettings settings)
    : settings_(std::move(settings)),
      channel_(std::move(channel)),
      containers_(containers_v1::Containers::NewStub(channel_)),
      images_(images_v1::Images::NewStub(channel_)),
      content_(content_v1::Content::NewStub(channel_)),
      leases_(leases_v1::Leases::NewStub(channel_)) {}

Expected<std::unique_ptr<ContainerdStoreClient>> connectContainerdStore(
    std::string_view socketPath, std::string_view ns, const ContainerdClientOptions& options) {
  CallSettings settings{std::string(socketPath), std::string(ns), options};
  TRY(auto channel, connectChannel(settings));
  return std::make_unique<GrpcStoreClient>(std::move(channel), std::move(settings));
}

// ---- Containers ------------------------------------------------------------------------

Expected<ContainerRecord> GrpcStoreClient::getContainer(std::string_view id) {
  containers_v1::GetContainerRequest request;
  request.set_id(std::string(id));
  TRY(auto response,
      call(*containers_, &containers_v1::Containers::Stub::Get, request, "Containers.Get", id));
  return toRecord(response.container());
}

Expected<ContainerRecord> GrpcStoreClient::createContainer(const ContainerRecord& record) {
  containers_v1::CreateContainerRequest request;
  containers_v1::Container* c = request.mutable_container();
  c->set_id(record.id);
  c->set_image(record.image);
  c->mutable_runtime()->set_name(record.runtime);
  c->mutable_spec()->set_type_url(std::string(kRuntimeSpecTypeUrl));
  c->mutable_spec()->set_value(record.specJson);
  c->set_snapshotter(record.snapshotter);
  c->set_snapshot_key(record.snapshotKey);
  copyLabels(record.labels, c->mutable_labels());
  TRY(auto response, call(*containers_, &containers_v1::Containers::Stub::Create, request,
                          "Containers.Create", record.id));
  return toRecord(response.container());
}

Expected<void> GrpcStoreClient::deleteContainer(std::string_view id) {
  containers_v1::DeleteContainerRequest request;
  request.set_id(std::string(id));
  TRY_VOID(call(*containers_, &containers_v1::Containers::Stub::Delete, request,
                "Containers.Delete", id));
  return {};
}

// ---- Images ----------------------------------------------------------------------------

Expected<ImageRecord> GrpcStoreClient::getImage(std::string_view name) {
  images_v1::GetImageRequest request;
  request.set_name(std::string(name));
  TRY(auto response, call(*images_, &images_v1::Images::Stub::Get, request, "Images.Get", name));
  return toRecord(response.image());
}

Expected<std::vector<ImageRecord>> GrpcStoreClient::listImages() {
  TRY(auto response, call(*images_, &images_v1::Images::Stub::List, images_v1::ListImagesRequest(),
                          "Images.List", ""));
  std::vector<ImageRecord> images;
  for (const images_v1::Image& image : response.images()) images.push_back(toRecord(image));
  return images;
}

Expected<void> GrpcStoreClient::deleteImage(std::string_view name, bool sync) {
  images_v1::DeleteImageRequest request;
  request.set_name(std::string(name));
  request.set_sync(sync);
  TRY_VOID(call(*images_, &images_v1::Images::Stub::Delete, request, "Images.Delete", name));
  return {};
}

// ---- Content ---------------------------------------------------------------------------

Expected<ContentInfo> GrpcStoreClient::contentInfo(std::string_view digest) {
  content_v1::InfoRequest request;
  request.set_digest(std::string(digest));
  TRY(auto response,
      call(*content_, &content_v1::Content::Stub::Info, request, "Content.Info", digest));
  return toContentInfo(response.info());
}

Expected<Bytes> GrpcStoreClient::readBlob(std::string_view digest, uint64_t maxSize) {
  TRY_VOID(checkSha256Digest(digest));
  // The size first: a blob over the limit is refused before any of it is read.
  TRY(ContentInfo info, contentInfo(digest));
  if (info.size > maxSize)
    return makeError(ErrorCode::kFailedPrecondition,
                     fmt::format("containerd Content.Read {}: the blob has {} bytes, more than "
                                 "the {} allowed",
                                 digest, info.size, maxSize));

  content_v1::ReadContentRequest request;
  request.set_digest(std::string(digest));
  request.set_size(static_cast<int64_t>(info.size));
  grpc::ClientContext context;
  prepareContext(context, settings_, settings_.options.callTimeout);
  std::unique_ptr<grpc::ClientReader<content_v1::ReadContentResponse>> reader =
      content_->Read(&context, request);
  Bytes bytes;
  bytes.reserve(info.size);
  content_v1::ReadContentResponse chunk;
  std::string broken;  // why the stream's chunks are not the blob, when they are not
  while (broken.empty() && reader->Read(&chunk)) {
    if (static_cast<uint64_t>(chunk.offset()) != bytes.size())
      broken = fmt::format("a chunk at offset {} after {} bytes", chunk.offset(), bytes.size());
    else if (bytes.size() + chunk.data().size() > info.size)
      broken = fmt::format("more than the {} bytes Content.Info reported", info.size);
    else
      bytes.insert(bytes.end(), chunk.data().begin(), chunk.data().end());
  }
  if (!broken.empty()) context.TryCancel();
  grpc::Status status = reader->Finish();
  if (!broken.empty())
    return makeError(ErrorCode::kInternal,
                     fmt::format("containerd Content.Read {}: {}", digest, broken));
  if (!status.ok()) return tl::unexpected(callError(status, settings_, "Content.Read", digest));
  if (bytes.size() != info.size)
    return makeError(ErrorCode::kInternal,
                     fmt::format("containerd Content.Read {}: {} bytes read, {} expected", digest,
                                 bytes.size(), info.size));
  if (std::string actual = "sha256:" + sha256Hex(bytes); actual != digest)
    return makeError(
        ErrorCode::kInternal,
        fmt::format("containerd Content.Read {}: the bytes read hash to {}", digest, actual));
  return bytes;
}

Expected<ContentInfo> GrpcStoreClient::updateContentLabels(std::string_view digest,
                                                           const Labels& labels) {
  content_v1::UpdateRequest request;
  request.mutable_info()->set_digest(std::string(digest));
  for (const auto& [key, value] : labels) {
    // A path whose label the request leaves out deletes that label.
    request.mutable_update_mask()->add_paths("labels." + key);
    if (!value.empty()) (*request.mutable_info()->mutable_labels())[key] = value;
  }
  TRY(auto response,
      call(*content_, &content_v1::Content::Stub::Update, request, "Content.Update", digest));
  return toContentInfo(response.info());
}

Expected<void> GrpcStoreClient::deleteContent(std::string_view digest) {
  content_v1::DeleteContentRequest request;
  request.set_digest(std::string(digest));
  TRY_VOID(call(*content_, &content_v1::Content::Stub::Delete, request, "Content.Delete", digest));
  return {};
}

// ---- Leases ----------------------------------------------------------------------------

Expected<std::string> GrpcStoreClient::createLease(
    std::string_view id, const Labels& labels, std::optional<std::chrono::seconds> expiresAfter) {
  leases_v1::CreateRequest request;
  request.set_id(id.empty() ? randomLeaseId() : std::string(id));
  copyLabels(labels, request.mutable_labels());
  if (expiresAfter)
    (*request.mutable_labels())[std::string(gc_label::kExpire)] =
        rfc3339(std::chrono::system_clock::now() + *expiresAfter);
  TRY(auto response,
      call(*leases_, &leases_v1::Leases::Stub::Create, request, "Leases.Create", request.id()));
  return response.lease().id();
}

Expected<void> GrpcStoreClient::deleteLease(std::string_view id, bool sync) {
  leases_v1::DeleteRequest request;
  request.set_id(std::string(id));
  request.set_sync(sync);
  TRY_VOID(call(*leases_, &leases_v1::Leases::Stub::Delete, request, "Leases.Delete", id));
  return {};
}

Expected<void> GrpcStoreClient::leaseContent(std::string_view leaseId, std::string_view digest) {
  leases_v1::AddResourceRequest request;
  request.set_id(std::string(leaseId));
  request.mutable_resource()->set_id(std::string(digest));
  request.mutable_resource()->set_type("content");
  TRY_VOID(call(*leases_, &leases_v1::Leases::Stub::AddResource, request, "Leases.AddResource",
                leaseId));
  return {};
}

}  // namespace runwasi::oci
