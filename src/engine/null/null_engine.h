// The null engine: accepts any binary module and "runs" it by returning exit 0 at once,
// compiling and executing nothing. It is the floor of the stress test and benchmarks: a
// shim built on it costs what containerd, the shim process and the container sandbox
// cost, without any engine work.
#pragma once

#include <memory>

#include "engine/engine.h"

namespace runwasi::engine {

std::unique_ptr<Engine> makeNullEngine();

}  // namespace runwasi::engine
