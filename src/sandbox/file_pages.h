// The zygote's resident pages of the engine's libraries, given back once loading is over.
//
// Loading libnode reads its whole symbol and relocation tables (8.6 MiB) and runs its
// static constructors: the zygote ends up with ~21 MiB of libnode's file pages mapped, of
// which the containers it forks use a part (fork copies no page table entries of a file
// mapping that has no private pages: each container maps what it touches itself). The
// pages stay in the page cache; only this process's mappings of them go (they come back on
// a fault, without I/O while cached). PSS and RSS count mapped pages, and so does the
// memory a node has for one more container.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_set>

#include "common/error.h"

namespace runwasi::sandbox {

// The files mapped into this process, by path.
Expected<std::unordered_set<std::string>> mappedFiles();

struct ReleasedPages {
  size_t mappings = 0;  // mappings whose pages were dropped
  size_t bytes = 0;     // resident bytes they had
};

// Drops this process's page table entries of every read-only private file mapping that
// holds only the file's own bytes (no anonymous page: no relocated or written copy, which
// would be lost), for the files not in `keep`. Cheap to call more than once.
Expected<ReleasedPages> releaseCleanFilePages(const std::unordered_set<std::string>& keep);

}  // namespace runwasi::sandbox
