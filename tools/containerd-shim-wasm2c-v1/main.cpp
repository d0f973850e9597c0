// containerd-shim-wasm2c-v1: runtime io.containerd.wasm2c.v1, WebAssembly containers on wasm2c.
#include "engine/wasm2c/wasm2c_engine.h"
#include "shim/wasm_shim.h"

int main(int argc, char** argv) {
  return runwasi::shim::runWasmShim(
      argc, argv, {"containerd-shim-wasm2c-v1", RUNWASI_VERSION, RUNWASI_GIT_REVISION},
      []() -> runwasi::Expected<std::unique_ptr<runwasi::engine::Engine>> {
        return runwasi::engine::makeWasm2cEngine();
      });
}
