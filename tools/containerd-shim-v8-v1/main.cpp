// containerd-shim-v8-v1: runtime io.containerd.v8.v1, WebAssembly containers on V8.
//
// V8 comes from the engine plugin, loaded only by the daemon's zygote: containerd runs this
// binary twice per container (start, whose fork is the daemon, and delete), and linking
// libnode directly would make each of them pay its relocation (~10-20 ms) before main.
#include "engine/plugin.h"
#include "shim/wasm_shim.h"

int main(int argc, char** argv) {
  return runwasi::shim::runWasmShim(
      argc, argv, {"containerd-shim-v8-v1", RUNWASI_VERSION, RUNWASI_GIT_REVISION},
      [] { return runwasi::engine::loadEnginePlugin("runwasi-engine-v8.so"); });
}
