#include "engine/null/null_engine.h"

namespace runwasi::engine {
namespace {

class NullEngine final : public Engine {
 public:
  std::string_view name() const override { return "null"; }
  std::string version() const override { return "1 (runs nothing, exits 0)"; }
  // canHandle: the default (wasm magic), so a bad image still fails Create as with the
  // real engines; no precompiler, so Create compiles nothing.

  Expected<RunResult> run(const ModuleSource&, int, const RunOptions& options,
                          wasi::Host&) override {
    // The container process waits for Start here, as with every engine: without it the
    // task would exit before containerd starts it.
    if (options.beforeInstantiate) options.beforeInstantiate();
    return RunResult{RunResult::Kind::kReturned, 0, {}};
  }
};

}  // namespace

std::unique_ptr<Engine> makeNullEngine() {
  return std::make_unique<NullEngine>();
}

}  // namespace runwasi::engine
