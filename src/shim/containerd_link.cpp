#include "shim/containerd_link.h"

#include "oci/containerd_client_plugin.h"

namespace runwasi::shim {

ContainerdLink::ContainerdLink(std::string address, std::string ns)
    : address_(std::move(address)), ns_(std::move(ns)) {}

// A load still running finishes before the daemon goes (the future's thread is joined).
ContainerdLink::~ContainerdLink() = default;

void ContainerdLink::connect() {
  std::call_once(started_, [this] {
    loaded_ = std::async(std::launch::async,
                         [address = address_, ns = ns_]()
                             -> Expected<std::shared_ptr<oci::ContainerdStoreClient>> {
                           TRY(auto client, oci::loadContainerdClient(address, ns));
                           return std::shared_ptr<oci::ContainerdStoreClient>(std::move(client));
                         })
                  .share();
  });
}

Expected<oci::ContainerdStoreClient*> ContainerdLink::client() {
  connect();
  const auto& loaded = loaded_.get();
  if (!loaded) return tl::unexpected(loaded.error());
  return loaded->get();
}

}  // namespace runwasi::shim
