// What a container process does between the zygote's fork and its exit.
#pragma once

#include "engine/engine.h"
#include "sandbox/spawn_protocol.h"

namespace runwasi::sandbox {

// Binds stdio, enters the working directory, makes the WASI host (rootfs as "/"), runs the
// module and exits: the guest's code; 134 on a trap; kContainerSetupFailedExit when the
// module cannot be started (the reason goes to the container's stderr). Never returns.
[[noreturn]] void runContainer(engine::Engine& engine, protocol::ReceivedRequest& request,
                               const engine::ModuleSource& module);

// A precompile request (SpawnRequest::precompileOnly): writes the engine's artifact for
// `module` to the received stdout and exits 0; on failure the reason goes to the received
// stderr and it exits kContainerSetupFailedExit. Never returns.
[[noreturn]] void runPrecompile(engine::Engine& engine, protocol::ReceivedRequest& request,
                                const engine::ModuleSource& module);

}  // namespace runwasi::sandbox
