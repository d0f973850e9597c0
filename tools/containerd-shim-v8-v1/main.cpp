// containerd-shim-v8-v1: runtime io.containerd.v8.v1, WebAssembly containers on V8.
//
// V8 comes from the engine plugin, loaded once per node by the engine host (the daemons it
// forks, their zygotes and containers inherit it), or by a daemon's zygote when there is no
// host: containerd runs this binary twice per container (start and delete), and linking
// libnode directly would make each of them pay its relocation (~10-20 ms) before main.
#include "engine/plugin.h"
#include "shim/wasm_shim.h"

int main(int argc, char** argv) {
  return runwasi::shim::runWasmShim(
      argc, argv, {"containerd-shim-v8-v1", RUNWASI_VERSION, RUNWASI_GIT_REVISION},
      [] { return runwasi::engine::loadEnginePlugin("runwasi-engine-v8.so"); },
      {.engineHost = true});
}
