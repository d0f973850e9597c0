// The V8 engine (Debian's libnode, V8 10.2): JIT-compiles WASI preview1 modules, with a
// verified code cache as its precompiled form.
#pragma once

#include <memory>

#include "engine/engine.h"

namespace runwasi::engine {

std::unique_ptr<Engine> makeV8Engine();

}  // namespace runwasi::engine
