// Every engine this build has, by name.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "engine/engine.h"

namespace runwasi::engine {

// Engine names, the default first.
std::vector<std::string_view> engineNames();

// A new engine of that name; NotFound (listing the known names) otherwise.
Expected<std::unique_ptr<Engine>> makeEngine(std::string_view name);

}  // namespace runwasi::engine
