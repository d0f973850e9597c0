// The shim's front: the small binary containerd runs for every `start` and `delete`.
//
// containerd execs the shim binary twice per container: `start`, and `delete` whenever a
// shim's connection closes. A binary that links the whole shim (protobuf, OpenSSL,
// libseccomp, the engine) spends ~2.5 ms of CPU per exec in the dynamic loader and on
// page faults before main: ~5 ms per container, a tenth of a V8 container's whole cost.
// The front links only what start and delete use (protobuf statically, no OpenSSL), and
// the rest of the shim is a second binary, the shim daemon binary: the same name in
// another directory (pluginSearchDirs: ../lib/runwasi beside the front, then the build
// tree), with all of runShim's actions.
//
// start: as the daemon binary's start (startShimWith), but the daemon comes from the
// daemon binary's engine host (engine_host.h), or, when the host cannot fork it, is the
// daemon binary exec'd with the hidden action `daemon` (bootstrap.h): the listening socket
// as fd 3, the runtime options on stdin. delete and -v: the daemon binary's code, run here.
// The hidden actions (engine-host, daemon) exec the daemon binary.
#pragma once

#include <filesystem>

#include "shim/bootstrap.h"

namespace runwasi::shim {

// The whole front; `daemonBuildDir` is where the build tree keeps the daemon binary.
int runShimFront(int argc, char** argv, const ShimIdentity& identity,
                 const std::filesystem::path& daemonBuildDir);

// The daemon binary named identity.name, executable, in the first of
// pluginSearchDirs(buildDir) that has one; NotFound naming the directories otherwise.
Expected<std::filesystem::path> findShimDaemonBinary(const ShimIdentity& identity,
                                                     const std::filesystem::path& buildDir);

}  // namespace runwasi::shim
