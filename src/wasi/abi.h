// The wasi_snapshot_preview1 ABI: enums, flag bits and the structs as laid out in guest
// memory (from typenames.witx), each struct's size and field offsets checked at compile time.
#pragma once

#include <cstddef>
#include <cstdint>

#include <tl/expected.hpp>

namespace runwasi::wasi {

// Error codes, in witx order (the value is the guest-visible number).
enum class Errno : uint16_t {
  kSuccess,
  k2big,
  kAcces,
  kAddrinuse,
  kAddrnotavail,
  kAfnosupport,
  kAgain,
  kAlready,
  kBadf,
  kBadmsg,
  kBusy,
  kCanceled,
  kChild,
  kConnaborted,
  kConnrefused,
  kConnreset,
  kDeadlk,
  kDestaddrreq,
  kDom,
  kDquot,
  kExist,
  kFault,
  kFbig,
  kHostunreach,
  kIdrm,
  kIlseq,
  kInprogress,
  kIntr,
  kInval,
  kIo,
  kIsconn,
  kIsdir,
  kLoop,
  kMfile,
  kMlink,
  kMsgsize,
  kMultihop,
  kNametoolong,
  kNetdown,
  kNetreset,
  kNetunreach,
  kNfile,
  kNobufs,
  kNodev,
  kNoent,
  kNoexec,
  kNolck,
  kNolink,
  kNomem,
  kNomsg,
  kNoprotoopt,
  kNospc,
  kNosys,
  kNotconn,
  kNotdir,
  kNotempty,
  kNotrecoverable,
  kNotsock,
  kNotsup,
  kNotty,
  kNxio,
  kOverflow,
  kOwnerdead,
  kPerm,
  kPipe,
  kProto,
  kProtonosupport,
  kPrototype,
  kRange,
  kRofs,
  kSpipe,
  kSrch,
  kStale,
  kTimedout,
  kTxtbsy,
  kXdev,
  kNotcapable,
};
static_assert(static_cast<int>(Errno::kNotcapable) == 76);

// A host-side result: a value or the errno the guest gets.
template <typename T>
using Result = tl::expected<T, Errno>;
inline tl::unexpected<Errno> fail(Errno e) {
  return tl::unexpected(e);
}

// The WASI errno for a Linux errno (one table, in errno_map.cpp).
Errno errnoFromHost(int hostErrno);
// errnoFromHost(errno), for right after a failed system call.
Errno lastErrno();

using Fd = uint32_t;
using Size = uint32_t;
using GuestPtr = uint32_t;
using Filesize = uint64_t;
using Timestamp = uint64_t;
using Rights = uint64_t;
using Dircookie = uint64_t;

enum class ClockId : uint32_t { kRealtime, kMonotonic, kProcessCputime, kThreadCputime };

enum class Filetype : uint8_t {
  kUnknown,
  kBlockDevice,
  kCharacterDevice,
  kDirectory,
  kRegularFile,
  kSocketDgram,
  kSocketStream,
  kSymbolicLink,
};

enum class Whence : uint8_t { kSet, kCur, kEnd };

enum class Advice : uint8_t { kNormal, kSequential, kRandom, kWillneed, kDontneed, kNoreuse };

enum class Eventtype : uint8_t { kClock, kFdRead, kFdWrite };

enum class Preopentype : uint8_t { kDir };

// rights bits.
namespace right {
inline constexpr Rights kFdDatasync = 1ull << 0;
inline constexpr Rights kFdRead = 1ull << 1;
inline constexpr Rights kFdSeek = 1ull << 2;
inline constexpr Rights kFdFdstatSetFlags = 1ull << 3;
inline constexpr Rights kFdSync = 1ull << 4;
inline constexpr Rights kFdTell = 1ull << 5;
inline constexpr Rights kFdWrite = 1ull << 6;
inline constexpr Rights kFdAdvise = 1ull << 7;
inline constexpr Rights kFdAllocate = 1ull << 8;
inline constexpr Rights kPathCreateDirectory = 1ull << 9;
inline constexpr Rights kPathCreateFile = 1ull << 10;
inline constexpr Rights kPathLinkSource = 1ull << 11;
inline constexpr Rights kPathLinkTarget = 1ull << 12;
inline constexpr Rights kPathOpen = 1ull << 13;
inline constexpr Rights kFdReaddir = 1ull << 14;
inline constexpr Rights kPathReadlink = 1ull << 15;
inline constexpr Rights kPathRenameSource = 1ull << 16;
inline constexpr Rights kPathRenameTarget = 1ull << 17;
inline constexpr Rights kPathFilestatGet = 1ull << 18;
inline constexpr Rights kPathFilestatSetSize = 1ull << 19;
inline constexpr Rights kPathFilestatSetTimes = 1ull << 20;
inline constexpr Rights kFdFilestatGet = 1ull << 21;
inline constexpr Rights kFdFilestatSetSize = 1ull << 22;
inline constexpr Rights kFdFilestatSetTimes = 1ull << 23;
inline constexpr Rights kPathSymlink = 1ull << 24;
inline constexpr Rights kPathRemoveDirectory = 1ull << 25;
inline constexpr Rights kPathUnlinkFile = 1ull << 26;
inline constexpr Rights kPollFdReadwrite = 1ull << 27;
inline constexpr Rights kSockShutdown = 1ull << 28;
inline constexpr Rights kSockAccept = 1ull << 29;
inline constexpr Rights kAll = (1ull << 30) - 1;

// What a descriptor of each kind can do at most (a path_open result is masked by these).
inline constexpr Rights kRegularFile =
    kFdDatasync | kFdRead | kFdSeek | kFdFdstatSetFlags | kFdSync | kFdTell | kFdWrite | kFdAdvise |
    kFdAllocate | kFdFilestatGet | kFdFilestatSetSize | kFdFilestatSetTimes | kPollFdReadwrite;
inline constexpr Rights kDirectory =
    kFdDatasync | kFdFdstatSetFlags | kFdSync | kPathCreateDirectory | kPathCreateFile |
    kPathLinkSource | kPathLinkTarget | kPathOpen | kFdReaddir | kPathReadlink | kPathRenameSource |
    kPathRenameTarget | kPathFilestatGet | kPathFilestatSetSize | kPathFilestatSetTimes |
    kFdFilestatGet | kFdFilestatSetTimes | kPathSymlink | kPathRemoveDirectory | kPathUnlinkFile |
    kPollFdReadwrite;
inline constexpr Rights kDirectoryInheriting = kDirectory | kRegularFile;
// A terminal, pipe or other stream: no positioning.
inline constexpr Rights kStream = kFdRead | kFdWrite | kFdFdstatSetFlags | kFdFilestatGet |
                                  kPollFdReadwrite | kFdSync | kFdDatasync | kFdAdvise;
inline constexpr Rights kSocket = kStream | kSockShutdown | kSockAccept;
}  // namespace right

// fdflags bits.
namespace fdflag {
inline constexpr uint16_t kAppend = 1 << 0;
inline constexpr uint16_t kDsync = 1 << 1;
inline constexpr uint16_t kNonblock = 1 << 2;
inline constexpr uint16_t kRsync = 1 << 3;
inline constexpr uint16_t kSync = 1 << 4;
inline constexpr uint16_t kAll = (1 << 5) - 1;
}  // namespace fdflag

// oflags bits.
namespace oflag {
inline constexpr uint16_t kCreat = 1 << 0;
inline constexpr uint16_t kDirectory = 1 << 1;
inline constexpr uint16_t kExcl = 1 << 2;
inline constexpr uint16_t kTrunc = 1 << 3;
inline constexpr uint16_t kAll = (1 << 4) - 1;
}  // namespace oflag

// lookupflags bits.
inline constexpr uint32_t kLookupSymlinkFollow = 1 << 0;

// fstflags bits.
namespace fstflag {
inline constexpr uint16_t kAtim = 1 << 0;
inline constexpr uint16_t kAtimNow = 1 << 1;
inline constexpr uint16_t kMtim = 1 << 2;
inline constexpr uint16_t kMtimNow = 1 << 3;
inline constexpr uint16_t kAll = (1 << 4) - 1;
}  // namespace fstflag

inline constexpr uint16_t kSubclockAbstime = 1 << 0;
inline constexpr uint16_t kEventFdReadwriteHangup = 1 << 0;

inline constexpr uint16_t kRiRecvPeek = 1 << 0;
inline constexpr uint16_t kRiRecvWaitall = 1 << 1;
inline constexpr uint16_t kRoRecvDataTruncated = 1 << 0;

inline constexpr uint8_t kSdRd = 1 << 0;
inline constexpr uint8_t kSdWr = 1 << 1;

// ---- Structs, exactly as in guest memory (little-endian, natural alignment). ----

struct Iovec {
  GuestPtr buf;
  Size bufLen;
};
static_assert(sizeof(Iovec) == 8 && offsetof(Iovec, bufLen) == 4);
using Ciovec = Iovec;  // same layout; the const-ness is only in the guest's type

struct Fdstat {
  Filetype fsFiletype;
  uint16_t fsFlags;
  Rights fsRightsBase;
  Rights fsRightsInheriting;
};
static_assert(sizeof(Fdstat) == 24 && alignof(Fdstat) == 8);
static_assert(offsetof(Fdstat, fsFlags) == 2 && offsetof(Fdstat, fsRightsBase) == 8 &&
              offsetof(Fdstat, fsRightsInheriting) == 16);

struct Filestat {
  uint64_t dev;
  uint64_t ino;
  Filetype filetype;
  uint64_t nlink;
  Filesize size;
  Timestamp atim;
  Timestamp mtim;
  Timestamp ctim;
};
static_assert(sizeof(Filestat) == 64);
static_assert(offsetof(Filestat, ino) == 8 && offsetof(Filestat, filetype) == 16 &&
              offsetof(Filestat, nlink) == 24 && offsetof(Filestat, size) == 32 &&
              offsetof(Filestat, atim) == 40 && offsetof(Filestat, mtim) == 48 &&
              offsetof(Filestat, ctim) == 56);

struct Dirent {
  Dircookie dNext;
  uint64_t dIno;
  uint32_t dNamlen;
  Filetype dType;
};
static_assert(sizeof(Dirent) == 24);
static_assert(offsetof(Dirent, dIno) == 8 && offsetof(Dirent, dNamlen) == 16 &&
              offsetof(Dirent, dType) == 20);

struct PrestatDir {
  Size prNameLen;
};
struct Prestat {
  Preopentype tag;
  PrestatDir dir;  // the union's only case
};
static_assert(sizeof(Prestat) == 8 && offsetof(Prestat, dir) == 4);

struct SubscriptionClock {
  ClockId id;
  Timestamp timeout;
  Timestamp precision;
  uint16_t flags;
};
static_assert(sizeof(SubscriptionClock) == 32);
static_assert(offsetof(SubscriptionClock, timeout) == 8 &&
              offsetof(SubscriptionClock, precision) == 16 &&
              offsetof(SubscriptionClock, flags) == 24);

struct SubscriptionFdReadwrite {
  Fd fileDescriptor;
};
static_assert(sizeof(SubscriptionFdReadwrite) == 4);

struct SubscriptionU {
  Eventtype tag;
  union {
    SubscriptionClock clock;
    SubscriptionFdReadwrite fdReadwrite;  // fd_read and fd_write
  } u;
};
static_assert(sizeof(SubscriptionU) == 40 && offsetof(SubscriptionU, u) == 8);

struct Subscription {
  uint64_t userdata;
  SubscriptionU u;
};
static_assert(sizeof(Subscription) == 48 && offsetof(Subscription, u) == 8);

struct EventFdReadwrite {
  Filesize nbytes;
  uint16_t flags;
};
static_assert(sizeof(EventFdReadwrite) == 16 && offsetof(EventFdReadwrite, flags) == 8);

struct Event {
  uint64_t userdata;
  Errno error;
  Eventtype type;
  EventFdReadwrite fdReadwrite;
};
static_assert(sizeof(Event) == 32);
static_assert(offsetof(Event, error) == 8 && offsetof(Event, type) == 10 &&
              offsetof(Event, fdReadwrite) == 16);

}  // namespace runwasi::wasi
