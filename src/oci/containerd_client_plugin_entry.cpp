// runwasi-containerd-client.so's exports (see containerd_client_plugin.h).
#include "common/plugin_library.h"
#include "oci/containerd_client_plugin.h"
#include "oci/containerd_grpc.h"

RUNWASI_PLUGIN_EXPORT const char* runwasi_containerd_client_abi() {
  return RUNWASI_CONTAINERD_CLIENT_ABI;
}

RUNWASI_PLUGIN_EXPORT void runwasi_containerd_client_connect(
    std::string_view socketPath, std::string_view ns,
    const runwasi::oci::ContainerdClientOptions& options,
    runwasi::Expected<std::unique_ptr<runwasi::oci::ContainerdStoreClient>>* result) {
  *result = runwasi::oci::connectContainerdStore(socketPath, ns, options);
}

// The exports must match the loader's type.
static_assert(std::is_same_v<decltype(&runwasi_containerd_client_connect),
                             runwasi::oci::ContainerdClientConnect>);
