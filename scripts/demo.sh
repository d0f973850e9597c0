#!/usr/bin/env bash
# The main job, for now: builds runwasi and runs the demo workload on every engine.
# (Issue 3 turns this into the demo through a private containerd with our shim.)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)" --target runwasi wasi_demo_app

runwasi=build/tools/runwasi
demo=build/demo/wasi-demo-app.wasm
"$runwasi" --version
for engine in v8 wasm2c; do
  echo "== engine $engine"
  "$runwasi" run --engine "$engine" "$demo" echo "hello from wasi-demo-app on $engine"
  set +e
  "$runwasi" run --engine "$engine" "$demo" exit 7
  echo "exit status: $?"
  set -e
done
