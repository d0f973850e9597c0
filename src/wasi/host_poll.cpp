// poll_oneoff: clock subscriptions (relative and absolute) and fd readiness via ppoll(2).
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "wasi/host_impl.h"

namespace runwasi::wasi {
namespace {

constexpr uint64_t kNanosPerSecond = 1'000'000'000u;

uint64_t nowNanos(clockid_t clock) {
  struct timespec ts {};
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * kNanosPerSecond + static_cast<uint64_t>(ts.tv_nsec);
}

Event makeEvent(const Subscription& sub, Errno error) {
  auto event = zeroed<Event>();
  event.userdata = sub.userdata;
  event.error = error;
  event.type = sub.u.tag;
  return event;
}

// A clock subscription, as a deadline on CLOCK_MONOTONIC.
struct ClockWait {
  size_t sub;
  uint64_t deadline;
};

}  // namespace

Errno HostImpl::poll_oneoff(M m, uint32_t in, uint32_t out, uint32_t nsubscriptions,
                            uint32_t neventsOut) {
  if (nsubscriptions == 0) return Errno::kInval;
  auto subs = m.loadArray<Subscription>(in, nsubscriptions);
  if (!subs) return Errno::kFault;
  WASI_CHECK(checkOut(m, out, uint64_t{nsubscriptions} * sizeof(Event)));
  WASI_CHECK(checkOut(m, neventsOut, sizeof(uint32_t)));

  std::vector<Event> events;  // ready without waiting (errors, regular files)
  std::vector<ClockWait> clocks;
  std::vector<struct pollfd> pollFds;
  std::vector<size_t> pollSubs;  // the subscription of each pollFds entry
  const uint64_t start = nowNanos(CLOCK_MONOTONIC);

  for (size_t i = 0; i < subs->size(); ++i) {
    const Subscription& sub = (*subs)[i];
    switch (sub.u.tag) {
      case Eventtype::kClock: {
        const SubscriptionClock& c = sub.u.u.clock;
        auto clock = hostClock(static_cast<uint32_t>(c.id));
        if (!clock) {
          events.push_back(makeEvent(sub, clock.error()));
          break;
        }
        uint64_t remaining = c.timeout;
        if (c.flags & kSubclockAbstime) {
          const uint64_t now = nowNanos(*clock);
          remaining = c.timeout > now ? c.timeout - now : 0;
        }
        const uint64_t deadline = remaining > UINT64_MAX - start ? UINT64_MAX : start + remaining;
        clocks.push_back({i, deadline});
        break;
      }
      case Eventtype::kFdRead:
      case Eventtype::kFdWrite: {
        const bool reading = sub.u.tag == Eventtype::kFdRead;
        auto entry = fds_.get(sub.u.u.fdReadwrite.fileDescriptor);
        if (!entry) {
          events.push_back(makeEvent(sub, entry.error()));
          break;
        }
        const Rights direct = reading ? right::kFdRead : right::kFdWrite;
        if (((*entry)->base & (direct | right::kPollFdReadwrite)) == 0) {
          events.push_back(makeEvent(sub, Errno::kNotcapable));
          break;
        }
        const int hostFd = (*entry)->host.get();
        if ((*entry)->type == Filetype::kRegularFile) {
          // Files are always ready; a read can get the rest of the file.
          Event event = makeEvent(sub, Errno::kSuccess);
          struct stat st {};
          off_t pos = lseek(hostFd, 0, SEEK_CUR);
          if (reading && fstat(hostFd, &st) == 0 && pos >= 0 && st.st_size > pos)
            event.fdReadwrite.nbytes = static_cast<uint64_t>(st.st_size - pos);
          events.push_back(event);
          break;
        }
        pollFds.push_back({hostFd, static_cast<short>(reading ? POLLIN : POLLOUT), 0});
        pollSubs.push_back(i);
        break;
      }
      default:
        return Errno::kInval;
    }
  }

  for (;;) {
    // Wait for the earliest clock, not at all when something is ready already.
    struct timespec timeout {};
    struct timespec* timeoutPtr = &timeout;
    if (events.empty()) {
      if (clocks.empty()) {
        timeoutPtr = nullptr;
      } else {
        uint64_t deadline = UINT64_MAX;
        for (const ClockWait& c : clocks) deadline = std::min(deadline, c.deadline);
        const uint64_t now = nowNanos(CLOCK_MONOTONIC);
        const uint64_t wait = deadline > now ? deadline - now : 0;
        timeout.tv_sec = static_cast<time_t>(std::min<uint64_t>(wait / kNanosPerSecond, INT_MAX));
        timeout.tv_nsec = static_cast<long>(wait % kNanosPerSecond);
      }
    }
    int n = ppoll(pollFds.data(), pollFds.size(), timeoutPtr, nullptr);
    if (n < 0 && errno != EINTR) return lastErrno();
    if (n > 0) {
      for (size_t k = 0; k < pollFds.size(); ++k) {
        const short revents = pollFds[k].revents;
        if (revents == 0) continue;
        const Subscription& sub = (*subs)[pollSubs[k]];
        Event event = makeEvent(sub, Errno::kSuccess);
        if (revents & POLLNVAL) event.error = Errno::kBadf;
        if (revents & POLLHUP) event.fdReadwrite.flags |= kEventFdReadwriteHangup;
        if ((revents & POLLERR) && !(revents & (POLLIN | POLLOUT))) event.error = Errno::kIo;
        int available = 0;
        if (sub.u.tag == Eventtype::kFdRead && event.error == Errno::kSuccess &&
            ioctl(pollFds[k].fd, FIONREAD, &available) == 0 && available > 0)
          event.fdReadwrite.nbytes = static_cast<uint64_t>(available);
        events.push_back(event);
      }
    }
    const uint64_t now = nowNanos(CLOCK_MONOTONIC);
    for (const ClockWait& c : clocks)
      if (c.deadline <= now) events.push_back(makeEvent((*subs)[c.sub], Errno::kSuccess));
    if (!events.empty()) break;
  }

  for (size_t k = 0; k < events.size(); ++k) m.store(out + k * sizeof(Event), events[k]);
  return storeOut<uint32_t>(m, neventsOut, static_cast<uint32_t>(events.size()));
}

}  // namespace runwasi::wasi
