// A Wasm engine's containerd shim: the binary protocol (bootstrap.h) with the daemon that
// serves the Task API over instances forked from a zygote holding that engine.
#pragma once

#include "sandbox/zygote.h"
#include "shim/bootstrap.h"

namespace runwasi::shim {

struct WasmShimOptions {
  // Starts ask a per-node engine host to fork the daemon with the engine already loaded
  // (engine_host.h): for engines whose runtime is costly to load (V8's libnode).
  bool engineHost = false;
};

// The whole main() of a shim binary such as containerd-shim-v8-v1: `makeEngine` makes the
// engine once in the zygote (which forks every container), or once per node in the
// engine host.
int runWasmShim(int argc, char** argv, const ShimIdentity& identity,
                sandbox::EngineFactory makeEngine, WasmShimOptions options = {});

// The daemon: logs to the bundle's `log` FIFO (debug level with -debug), becomes a child
// subreaper, starts the zygote (before any thread exists), the reaper, the event publisher
// and the ttrpc server on context.listener, and serves until Shutdown finds no task left
// (or containerd hangs up with none left). Returns the process exit code.
int runWasmDaemon(DaemonContext& context, const ShimIdentity& identity,
                  const sandbox::EngineFactory& makeEngine);

}  // namespace runwasi::shim
