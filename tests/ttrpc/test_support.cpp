#include "test_support.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

#include "ttrpc/unix_socket.h"

namespace runwasi::ttrpc::testing {

RunningServer::RunningServer(ServerOptions options)
    : socketPath_((dir_.path() / "ttrpc.sock").string()) {
  auto server = Server::create(std::move(options));
  if (!server) throw std::runtime_error(server.error().message);
  server_ = std::move(*server);
}

RunningServer::~RunningServer() {
  stopAndJoin();
}

void RunningServer::start() {
  auto listening = server_->listen(socketPath_);
  if (!listening) throw std::runtime_error(listening.error().message);
  thread_ = std::thread([this] {
    auto result = server_->run();
    if (!result) throw std::runtime_error(result.error().message);
  });
}

void RunningServer::stopAndJoin() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

std::unique_ptr<Client> RunningServer::connect() {
  auto client = Client::connect(socketPath_);
  if (!client) throw std::runtime_error(client.error().message);
  return std::move(*client);
}

RawConnection::RawConnection(const std::string& path) {
  auto fd = connectUnix(path);
  if (!fd) throw std::runtime_error(fd.error().message);
  fd_ = std::move(*fd);
}

void RawConnection::sendBytes(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("send failed");
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

void RawConnection::sendFrame(uint32_t streamId, uint8_t type, std::string_view body) {
  std::string frame(kFrameHeaderSize, '\0');
  encodeHeader(FrameHeader{static_cast<uint32_t>(body.size()), streamId, type, 0},
               std::span<uint8_t, kFrameHeaderSize>(reinterpret_cast<uint8_t*>(frame.data()),
                                                    kFrameHeaderSize));
  frame.append(body);
  sendBytes(frame);
}

void RawConnection::sendRequest(uint32_t streamId, const std::string& service,
                                const std::string& method, const std::string& payload) {
  sendFrame(streamId, static_cast<uint8_t>(FrameType::kRequest),
            requestBody(service, method, payload));
}

std::optional<Frame> RawConnection::receiveFrame(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto decoded = decoder_.next()) {
      if (auto* frame = std::get_if<Frame>(&*decoded)) return std::move(*frame);
      throw std::runtime_error("oversized frame from the server");
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd pfd{fd_.get(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
    char buffer[65536];
    ssize_t n = ::recv(fd_.get(), buffer, sizeof(buffer), 0);
    if (n <= 0) return std::nullopt;
    decoder_.feed(std::string_view(buffer, static_cast<size_t>(n)));
  }
}

std::optional<wire::Response> RawConnection::receiveResponse(uint32_t* streamId,
                                                             std::chrono::milliseconds timeout) {
  auto frame = receiveFrame(timeout);
  if (!frame) return std::nullopt;
  if (frame->header.type != static_cast<uint8_t>(FrameType::kResponse)) {
    throw std::runtime_error("expected a response frame");
  }
  if (streamId) *streamId = frame->header.streamId;
  wire::Response response;
  if (!response.ParseFromString(frame->body)) throw std::runtime_error("bad response body");
  return response;
}

bool RawConnection::closedByPeer(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{fd_.get(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return false;
    char buffer[4096];
    ssize_t n = ::recv(fd_.get(), buffer, sizeof(buffer), 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
  }
}

std::string requestBody(const std::string& service, const std::string& method,
                        const std::string& payload) {
  wire::Request request;
  request.set_service(service);
  request.set_method(method);
  request.set_payload(payload);
  return request.SerializeAsString();
}

}  // namespace runwasi::ttrpc::testing
