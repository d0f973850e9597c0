#include "wasi/fd_table.h"

#include <utility>

namespace runwasi::wasi {

Result<FdEntry*> FdTable::get(Fd fd, Rights base, Rights inheriting) {
  if (fd >= entries_.size() || !entries_[fd]) return fail(Errno::kBadf);
  FdEntry& entry = *entries_[fd];
  if ((entry.base & base) != base || (entry.inheriting & inheriting) != inheriting)
    return fail(Errno::kNotcapable);
  return &entry;
}

Result<FdEntry*> FdTable::getDirectory(Fd fd, Rights base, Rights inheriting) {
  auto entry = get(fd);
  if (!entry) return entry;
  if (!(*entry)->isDirectory()) return fail(Errno::kNotdir);
  return get(fd, base, inheriting);
}

Result<Fd> FdTable::add(FdEntry entry) {
  Fd fd = kFirstAllocated;
  while (fd < entries_.size() && entries_[fd]) ++fd;
  if (fd == UINT32_MAX) return fail(Errno::kMfile);
  put(fd, std::move(entry));
  return fd;
}

void FdTable::put(Fd fd, FdEntry entry) {
  if (fd >= entries_.size()) entries_.resize(static_cast<size_t>(fd) + 1);
  entries_[fd] = std::move(entry);
}

Result<void> FdTable::close(Fd fd) {
  if (fd >= entries_.size() || !entries_[fd]) return fail(Errno::kBadf);
  entries_[fd].reset();
  while (!entries_.empty() && !entries_.back()) entries_.pop_back();
  return {};
}

Result<void> FdTable::renumber(Fd from, Fd to) {
  if (!get(from) || !get(to)) return fail(Errno::kBadf);
  if (from == to) return {};
  entries_[to] = std::move(entries_[from]);
  return close(from);
}

}  // namespace runwasi::wasi
