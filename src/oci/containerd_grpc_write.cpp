// Content.Write: a blob into containerd's content store.
//
// The stream is lock-step: containerd answers every request before reading the next
// (services/content/contentserver). The first request (STAT) names the ref and opens the
// ingest, holding its lock for the stream; WRITE requests append at the offset they name
// (offset 0 restarts an ingest a failed writer left behind); COMMIT checks the size and
// digest, applies the labels and ends the stream, repeating its last answer. An expected
// digest already in the store ends it with AlreadyExists at whichever request names it.
#include <algorithm>

#include <fmt/core.h>

#include "oci/containerd_grpc.h"

namespace runwasi::oci {
namespace {

// Well under containerd's 16 MiB message limit, and large enough that the round trip per
// chunk costs little next to copying the bytes.
constexpr size_t kWriteChunkSize = 1 << 20;

using WriteStream =
    grpc::ClientReaderWriter<content_v1::WriteContentRequest, content_v1::WriteContentResponse>;

}  // namespace

Expected<ContentInfo> GrpcStoreClient::writeBlob(std::string_view ref,
                                                 std::span<const uint8_t> bytes,
                                                 std::string_view expectedDigest,
                                                 const Labels& labels, std::string_view leaseId) {
  std::string digest = "sha256:" + sha256Hex(bytes);
  if (!expectedDigest.empty() && expectedDigest != digest) {
    TRY_VOID(checkSha256Digest(expectedDigest));
    return makeError(
        ErrorCode::kInvalidArgument,
        fmt::format("containerd Content.Write {}: the bytes hash to {}", expectedDigest, digest));
  }
  if (ref.empty())
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("containerd Content.Write {}: empty ref", digest));

  auto written = streamBlob(ref, bytes, digest, labels, leaseId);
  if (!written) {
    if (written.error().code != ErrorCode::kAlreadyExists) return tl::unexpected(written.error());
    // Already there (ingested before, or by a writer racing this one): the caller still
    // gets what it asked for, labels and lease included.
    if (!leaseId.empty()) TRY_VOID(leaseContent(leaseId, digest));
    if (!labels.empty()) return updateContentLabels(digest, labels);
  }
  return contentInfo(digest);
}

Expected<void> GrpcStoreClient::streamBlob(std::string_view ref, std::span<const uint8_t> bytes,
                                           std::string_view digest, const Labels& labels,
                                           std::string_view leaseId) {
  grpc::ClientContext context;
  prepareContext(context, settings_, settings_.options.callTimeout, leaseId);
  std::unique_ptr<WriteStream> stream = content_->Write(&context);
  const auto total = static_cast<int64_t>(bytes.size());

  // One request and its answer; a broken stream yields the status containerd ended it with.
  content_v1::WriteContentResponse response;
  auto exchange = [&](const content_v1::WriteContentRequest& request) -> Expected<void> {
    if (stream->Write(request) && stream->Read(&response)) return {};
    return tl::unexpected(callError(stream->Finish(), settings_, "Content.Write", digest));
  };

  content_v1::WriteContentRequest stat;
  stat.set_action(content_v1::STAT);
  stat.set_ref(std::string(ref));
  stat.set_total(total);
  stat.set_expected(std::string(digest));
  TRY_VOID(exchange(stat));

  size_t offset = 0;
  do {
    size_t n = std::min(kWriteChunkSize, bytes.size() - offset);
    bool last = offset + n == bytes.size();
    content_v1::WriteContentRequest write;
    write.set_action(last ? content_v1::COMMIT : content_v1::WRITE);
    write.set_offset(static_cast<int64_t>(offset));
    write.set_data(bytes.data() + offset, n);
    if (last) {
      write.set_total(total);
      write.set_expected(std::string(digest));
      copyLabels(labels, write.mutable_labels());
    }
    TRY_VOID(exchange(write));
    offset += n;
    if (static_cast<uint64_t>(response.offset()) != offset) {
      context.TryCancel();
      stream->Finish();
      return makeError(ErrorCode::kInternal,
                       fmt::format("containerd Content.Write {}: at offset {} after writing {} "
                                   "bytes",
                                   digest, response.offset(), offset));
    }
  } while (offset < bytes.size());

  // containerd sends the commit's answer twice (once more as the stream ends): read until
  // the end, since Finish() waits for unread messages.
  stream->WritesDone();
  for (content_v1::WriteContentResponse extra; stream->Read(&extra);) {
  }
  grpc::Status status = stream->Finish();
  if (!status.ok()) return tl::unexpected(callError(status, settings_, "Content.Write", digest));
  if (response.digest() != digest)
    return makeError(
        ErrorCode::kInternal,
        fmt::format("containerd Content.Write {}: committed as {}", digest, response.digest()));
  return {};
}

}  // namespace runwasi::oci
