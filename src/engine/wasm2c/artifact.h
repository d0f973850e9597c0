// The precompiled form of a module: a shared object with a trailer saying what it is.
//
//   [ELF .so][stamp text][u64 stamp length, little-endian][8-byte magic "RW2CSO01"]
//
// The stamp names the module digest, the toolchain's load key and the sha256 of the ELF
// part. The dynamic loader ignores bytes past the ELF segments, so the artifact file itself
// is what gets dlopen'ed; the trailer is checked first, so a foreign, stale or corrupted
// file is never mapped as code.
#pragma once

#include <span>
#include <string_view>

#include "common/error.h"
#include "common/file.h"

namespace runwasi::engine::wasm2c {

// Appends the trailer to the shared object's bytes.
Bytes sealArtifact(Bytes sharedObject, std::string_view moduleDigest, std::string_view loadKey);

// Checks the trailer of the artifact open at `fd` (read with pread: the offset is not used
// or moved). Errors say why it is not loadable.
Expected<void> verifyArtifact(int fd, std::string_view moduleDigest, std::string_view loadKey);

}  // namespace runwasi::engine::wasm2c
