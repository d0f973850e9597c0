// The zygote's side of prepared modules: a module loaded once into the zygote's prepared
// isolate (isolate_session.h), with the import wrappers its WASI imports need compiled, so
// that every fork that runs it finds it ready instead of loading it and compiling them.
#pragma once

#include "common/error.h"
#include "engine/engine.h"

namespace runwasi::engine::v8engine {

// Makes the prepared isolate (isolate_session.h) if there is none, with the WASI functions
// in its context (wasi_imports.h). The error says why there is none.
Expected<void> prepareIsolateForForks();

// Loads `module` from its artifact (verified as run() verifies it) into the prepared
// isolate, preparing that isolate first if needed, and has V8 compile its import wrappers.
// Runs none of the module. Only from an artifact: compiling here would hold up the zygote
// (TurboFan takes ~200 ms for a 2 MB module) and every fork compiles without one anyway.
// The error says why nothing was prepared.
Expected<void> prepareModule(const ModuleSource& module, int artifactFd);

}  // namespace runwasi::engine::v8engine
