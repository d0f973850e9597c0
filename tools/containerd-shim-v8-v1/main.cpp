// containerd-shim-v8-v1: runtime io.containerd.v8.v1, WebAssembly containers on V8.
#include "engine/v8/v8_engine.h"
#include "shim/wasm_shim.h"

int main(int argc, char** argv) {
  return runwasi::shim::runWasmShim(
      argc, argv, {"containerd-shim-v8-v1", RUNWASI_VERSION, RUNWASI_GIT_REVISION},
      []() -> runwasi::Expected<std::unique_ptr<runwasi::engine::Engine>> {
        return runwasi::engine::makeV8Engine();
      });
}
