// A client for containerd's gRPC API (checked against Debian's containerd 1.6.20): the store
// services a shim reads Wasm images through and writes precompiled artifacts to
// (Containers, Images, Content, Leases), and the runtime services a stress test drives the
// way ctr does (Snapshots, Tasks). No gRPC or protobuf type appears here, so code that
// includes this header need not link them.
//
// Two ways to get a client:
//   connectContainerd()     this header; defined by the static library
//                           runwasi_containerd_client, which links libgrpc++ (tools, tests).
//   loadContainerdClient()  oci/containerd_client_plugin.h; the store client from the
//                           plugin runwasi-containerd-client.so, loaded with libgrpc++ on first
//                           use (the shim, whose start must not pay for loading gRPC).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/file.h"
#include "oci/descriptor.h"

namespace runwasi::oci {

using Labels = std::map<std::string, std::string>;

// The labels containerd's garbage collector reads (containerd/docs/garbage-collection.md).
namespace gc_label {
// On a blob (or image, container...): keeps the blob named by the value alive as long as
// the labelled object lives. Any suffix after the prefix makes the key unique.
inline constexpr std::string_view kContentRefPrefix = "containerd.io/gc.ref.content.";
// On a lease: an RFC 3339 time after which the lease no longer protects anything.
inline constexpr std::string_view kExpire = "containerd.io/gc.expire";
}  // namespace gc_label

// The type URL containerd gives a container's OCI runtime spec (its value is the JSON).
inline constexpr std::string_view kRuntimeSpecTypeUrl =
    "types.containerd.io/opencontainers/runtime-spec/1/Spec";

struct ContainerdClientOptions {
  // The deadline of each call (a task's Wait aside, see waitTask): a Content.Read or Write
  // of a whole blob must finish within it too.
  std::chrono::milliseconds callTimeout{5000};
  // How long connecting may take; a missing socket or a refused connection fails at once.
  std::chrono::milliseconds connectTimeout{2000};
};

struct ContainerRecord {
  std::string id;
  std::string image;        // the image's name, "" when none
  std::string runtime;      // e.g. "io.containerd.runc.v2"
  std::string snapshotter;  // e.g. "overlayfs"
  std::string snapshotKey;  // the container's rootfs snapshot, "" when none
  Labels labels;
  std::string specJson;  // the OCI runtime spec (config.json)
};

struct ImageRecord {
  std::string name;
  Descriptor target;  // a manifest or an index
  Labels labels;
};

struct ContentInfo {
  std::string digest;
  uint64_t size = 0;
  Labels labels;
};

struct SnapshotMount {
  std::string type;
  std::string source;
  std::string target;
  std::vector<std::string> options;
};

struct TaskCreate {
  std::string containerId;
  std::vector<SnapshotMount> rootfs;  // e.g. what snapshotsPrepare returned
  // Paths the shim opens for the process's stdio ("" for none), usually FIFOs. (Default
  // initializers, so that designated initializers may leave them out.)
  std::string stdinPath{};
  std::string stdoutPath{};
  std::string stderrPath{};
  bool terminal = false;
};

struct TaskExit {
  uint32_t status = 0;  // the exit code, or 128 + signal
  std::chrono::system_clock::time_point exitedAt;
};

// Containers, Images, Content and Leases.
//
// Every call carries the client's namespace (gRPC metadata `containerd-namespace`) and the
// call deadline. Errors carry containerd's code (NotFound, AlreadyExists, InvalidArgument,
// FailedPrecondition, Unavailable, ...) and read "containerd <Service>.<Method> <subject>:
// <containerd's message>".
//
// Thread-safe: any number of threads may call one client at once (the gRPC channel and
// stubs are, and the client holds no other state). Loading gRPC starts its threads in the
// process: fork() after that only to exec.
class ContainerdStoreClient {
 public:
  virtual ~ContainerdStoreClient() = default;

  virtual Expected<ContainerRecord> getContainer(std::string_view id) = 0;
  // Creates the container; record.specJson goes in as the Any kRuntimeSpecTypeUrl.
  virtual Expected<ContainerRecord> createContainer(const ContainerRecord& record) = 0;
  virtual Expected<void> deleteContainer(std::string_view id) = 0;

  virtual Expected<ImageRecord> getImage(std::string_view name) = 0;
  virtual Expected<std::vector<ImageRecord>> listImages() = 0;
  // sync: return only after the garbage collector has run (and removed what only the
  // image kept).
  virtual Expected<void> deleteImage(std::string_view name, bool sync) = 0;

  virtual Expected<ContentInfo> contentInfo(std::string_view digest) = 0;
  // The whole blob, checked against its sha256 digest and its size in the store.
  // FailedPrecondition before reading anything when it is larger than maxSize.
  virtual Expected<Bytes> readBlob(std::string_view digest, uint64_t maxSize) = 0;
  // Sets each label to its value; an empty value removes the label. Other labels stay.
  virtual Expected<ContentInfo> updateContentLabels(std::string_view digest,
                                                    const Labels& labels) = 0;
  virtual Expected<void> deleteContent(std::string_view digest) = 0;
  // Writes and commits a blob under the ingest reference `ref` (any name unique to this
  // write; a write under a ref that another writer holds is Unavailable). expectedDigest
  // ("" to compute it here) must be the bytes' sha256. With a leaseId the blob is held by
  // that lease until something else (a gc.ref label) keeps it. A blob already in the store
  // counts as written: it gets the labels (and the lease) all the same.
  virtual Expected<ContentInfo> writeBlob(std::string_view ref, std::span<const uint8_t> bytes,
                                          std::string_view expectedDigest, const Labels& labels,
                                          std::string_view leaseId) = 0;

  // Creates a lease (a random id when `id` is empty) and returns its id. With expiresAfter
  // it gets the gc.expire label: once that time has passed, it protects nothing.
  virtual Expected<std::string> createLease(std::string_view id, const Labels& labels,
                                            std::optional<std::chrono::seconds> expiresAfter) = 0;
  // sync: return only after the garbage collector has run.
  virtual Expected<void> deleteLease(std::string_view id, bool sync) = 0;
};

// Adds Snapshots and Tasks, for driving containers as ctr does.
class ContainerdClient : public virtual ContainerdStoreClient {
 public:
  // Prepares an active snapshot `key` on top of `parent` ("" for an empty one) and returns
  // the mounts of its rootfs. Under a lease (leaseId not empty) the garbage collector
  // cannot take it before a container references it.
  virtual Expected<std::vector<SnapshotMount>> snapshotsPrepare(std::string_view snapshotter,
                                                        std::string_view key,
                                                        std::string_view parent,
                                                        std::string_view leaseId) = 0;
  virtual Expected<void> snapshotsRemove(std::string_view snapshotter, std::string_view key) = 0;

  // Creates the container's task (its init process, not yet started); returns its pid.
  virtual Expected<uint32_t> createTask(const TaskCreate& task) = 0;
  virtual Expected<uint32_t> startTask(std::string_view containerId) = 0;
  // Blocks until the task exits: with no timeout, as long as that takes.
  virtual Expected<TaskExit> waitTask(std::string_view containerId,
                                      std::optional<std::chrono::milliseconds> timeout) = 0;
  virtual Expected<void> killTask(std::string_view containerId, int signal, bool all) = 0;
  virtual Expected<TaskExit> deleteTask(std::string_view containerId) = 0;
};

// Connects to containerd's gRPC socket, for namespace `ns`. Unavailable, naming the socket,
// when nothing answers there within options.connectTimeout (at once when the socket does
// not exist or refuses the connection).
Expected<std::unique_ptr<ContainerdClient>> connectContainerd(
    std::string_view socketPath, std::string_view ns, const ContainerdClientOptions& options = {});

}  // namespace runwasi::oci
