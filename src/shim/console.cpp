#include "shim/console.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/log.h"

namespace runwasi::shim {
namespace {

// Output held while the stdout FIFO is full; the master is not read beyond it.
constexpr size_t kMaxPending = 64 * 1024;

Expected<void> makeNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
    return makeSysError("setting O_NONBLOCK on a console fd");
  return {};
}

// Writes what it can of `pending` to `fd`; false when `fd` failed for good.
bool flush(int fd, std::string& pending) {
  while (!pending.empty()) {
    ssize_t n = ::write(fd, pending.data(), pending.size());
    if (n > 0) {
      pending.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    return false;
  }
  return true;
}

}  // namespace

Expected<std::unique_ptr<Console>> Console::start(UniqueFd master, UniqueFd in, UniqueFd out,
                                                  std::string name) {
  for (const UniqueFd* fd : {&master, &in, &out})
    if (*fd) TRY_VOID(makeNonBlocking(fd->get()));
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop) return makeSysError("eventfd for the console");
  std::unique_ptr<Console> console(new Console(std::move(master), std::move(in), std::move(out),
                                               std::move(stop), std::move(name)));
  console->thread_ = std::thread([c = console.get()] { c->run(); });
  return console;
}

Console::Console(UniqueFd master, UniqueFd in, UniqueFd out, UniqueFd stop, std::string name)
    : master_(std::move(master)),
      in_(std::move(in)),
      out_(std::move(out)),
      stop_(std::move(stop)),
      name_(std::move(name)) {}

Console::~Console() {
  uint64_t one = 1;
  (void)!::write(stop_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

Expected<void> Console::resize(uint32_t width, uint32_t height) const {
  winsize size{};
  size.ws_col = static_cast<unsigned short>(width);
  size.ws_row = static_cast<unsigned short>(height);
  if (::ioctl(master_.get(), TIOCSWINSZ, &size) != 0)
    return makeSysError(fmt::format("resizing the terminal of {}", name_));
  return {};
}

bool Console::waitOutputDone(std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex_);
  return done_.wait_for(lock, limit, [this] { return outputDone_; });
}

void Console::run() {
  std::string toMaster, toOut;  // stdin bytes for the process; its output for the FIFO
  bool masterDone = false;
  char buf[16 * 1024];
  for (;;) {
    if (masterDone && (toOut.empty() || !out_)) break;
    pollfd fds[4] = {{stop_.get(), POLLIN, 0},
                     {master_.get(), 0, 0},
                     {in_ && toMaster.empty() ? in_.get() : -1, POLLIN, 0},
                     {out_ && !toOut.empty() ? out_.get() : -1, POLLOUT, 0}};
    if (!masterDone && toOut.size() < kMaxPending) fds[1].events |= POLLIN;
    if (!masterDone && !toMaster.empty()) fds[1].events |= POLLOUT;
    if (fds[1].events == 0) fds[1].fd = -1;
    int ready = ::poll(fds, 4, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      log::warn("{}: console: poll: {}", name_, std::strerror(errno));
      break;
    }
    if (fds[0].revents) break;
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(master_.get(), buf, sizeof buf);
      if (n > 0) {
        if (out_) toOut.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        masterDone = true;  // EIO: no slave is open any more
        toMaster.clear();
      }
    }
    if (!masterDone && (fds[1].revents & POLLOUT) && !flush(master_.get(), toMaster))
      toMaster.clear();
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(in_.get(), buf, sizeof buf);
      if (n > 0) {
        toMaster.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        in_.reset();  // stdin closed (CloseIO): nothing more to copy in
      }
    }
    if ((fds[3].revents & (POLLOUT | POLLERR | POLLHUP)) && !flush(out_.get(), toOut)) {
      log::debug("{}: console: the stdout FIFO failed: {}", name_, std::strerror(errno));
      out_.reset();
      toOut.clear();
    }
  }
  std::lock_guard lock(mutex_);
  outputDone_ = true;
  done_.notify_all();
}

}  // namespace runwasi::shim
