// The containerd store client as a plugin: runwasi-containerd-client.so carries the client
// and links libgrpc++, which the program loads only when it first connects. A shim's start
// never maps gRPC (exec of a program linked to libgrpc++ costs ~6 ms more here); its Create
// pays once.
#pragma once

#include <memory>
#include <string_view>

#include "common/error.h"
#include "oci/containerd_client.h"

// Both sides must be built from the same sources with the same compiler: the factory hands
// C++ objects across. The loader compares this string before calling anything else.
#define RUNWASI_CONTAINERD_CLIENT_ABI "runwasi-containerd-client/1 " __VERSION__

// What the plugin exports (extern "C"):
//   const char* runwasi_containerd_client_abi(void);   returns RUNWASI_CONTAINERD_CLIENT_ABI
//   void runwasi_containerd_client_connect(...);        a runwasi::oci::ContainerdClientConnect
namespace runwasi::oci {

inline constexpr std::string_view kContainerdClientPluginFile = "runwasi-containerd-client.so";

using ContainerdClientConnect = void (*)(std::string_view socketPath, std::string_view ns,
                                         const ContainerdClientOptions& options,
                                         Expected<std::unique_ptr<ContainerdStoreClient>>* result);

// Connects to containerd (see connectContainerd) with the plugin's store client. The plugin
// is looked up on the plugin search path (common/plugin_library.h) and loaded on the first
// call; later calls reuse it, a failure to load is returned to every call. A program that
// links runwasi_containerd_client gets that client instead: the plugin would register the
// same .proto files again, which protobuf aborts on (so a program linking
// runwasi_proto_grpc without the client must not call this). Thread-safe.
Expected<std::unique_ptr<ContainerdStoreClient>> loadContainerdClient(
    std::string_view socketPath, std::string_view ns, const ContainerdClientOptions& options = {});

}  // namespace runwasi::oci
