#include "oci/containerd_client_plugin.h"

#include "common/plugin_library.h"

namespace runwasi::oci {

// runwasi_containerd_client's own store-client factory (oci/containerd_grpc.h), declared
// weak: not null exactly when this program links the client and its .proto files.
[[gnu::weak]] Expected<std::unique_ptr<ContainerdStoreClient>> connectContainerdStore(
    std::string_view socketPath, std::string_view ns, const ContainerdClientOptions& options);

namespace {

Expected<ContainerdClientConnect> loadPlugin() {
  constexpr std::string_view kKind = "containerd client plugin";
  TRY(PluginLibrary plugin,
      openPlugin(PluginRequest{.file = kContainerdClientPluginFile,
                               .kind = kKind,
                               .abiSymbol = "runwasi_containerd_client_abi",
                               .abi = RUNWASI_CONTAINERD_CLIENT_ABI,
                               .buildDir = RUNWASI_CONTAINERD_CLIENT_BUILD_DIR}));
  TRY(void* connect, pluginSymbol(plugin, kKind, "runwasi_containerd_client_connect"));
  return reinterpret_cast<ContainerdClientConnect>(connect);
}

}  // namespace

Expected<std::unique_ptr<ContainerdStoreClient>> loadContainerdClient(
    std::string_view socketPath, std::string_view ns, const ContainerdClientOptions& options) {
  if (connectContainerdStore) return connectContainerdStore(socketPath, ns, options);
  // Loaded once, by whichever thread comes first (a function-local static).
  static const Expected<ContainerdClientConnect> connect = loadPlugin();
  if (!connect) return tl::unexpected(connect.error());
  Expected<std::unique_ptr<ContainerdStoreClient>> result =
      makeError(ErrorCode::kInternal, "the containerd client plugin returned nothing");
  (*connect)(socketPath, ns, options, &result);
  return result;
}

}  // namespace runwasi::oci
