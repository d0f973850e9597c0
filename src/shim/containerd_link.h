// The shim daemon's connection to containerd's gRPC API (the -address socket), for images
// and the content store. Made when a Create first needs it (a module that is not in the
// rootfs): the gRPC client is a plugin whose libraries cost ~10 ms of CPU to load, which
// no container that has its module in the rootfs should pay for.
#pragma once

#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "common/error.h"
#include "oci/containerd_client.h"

namespace runwasi::shim {

class ContainerdLink {
 public:
  // Nothing happens until connect() or client().
  ContainerdLink(std::string address, std::string ns);
  ~ContainerdLink();
  ContainerdLink(const ContainerdLink&) = delete;
  ContainerdLink& operator=(const ContainerdLink&) = delete;

  // Starts loading the client and connecting on a thread of its own; idempotent.
  void connect();
  // The client once loaded (waits for connect()'s thread, starting it if needed); the
  // same error for every caller if it could not be loaded. Thread-safe.
  Expected<oci::ContainerdStoreClient*> client();

 private:
  std::string address_;
  std::string ns_;
  std::once_flag started_;
  std::shared_future<Expected<std::shared_ptr<oci::ContainerdStoreClient>>> loaded_;
};

}  // namespace runwasi::shim
