// containerd-shim-null-v1: runtime io.containerd.null.v1, the shim with an engine that runs
// nothing (exit 0 at once). Everything else is the real shim: the stress test's floor.
#include "engine/null/null_engine.h"
#include "shim/wasm_shim.h"

int main(int argc, char** argv) {
  return runwasi::shim::runWasmShim(
      argc, argv, {"containerd-shim-null-v1", RUNWASI_VERSION, RUNWASI_GIT_REVISION},
      []() -> runwasi::Expected<std::unique_ptr<runwasi::engine::Engine>> {
        return runwasi::engine::makeNullEngine();
      });
}
