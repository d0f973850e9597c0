#!/usr/bin/env bash
# Runs the public WASI conformance suite through the runwasi CLI on one engine.
# usage: wasi-testsuite.sh RUNWASI ENGINE TESTSUITE_DIR CACHE_DIR
set -euo pipefail
runwasi=$1 engine=$2 suite=$3 cache=$4
tests=("$suite/tests/c/wasm32-wasip1" "$suite/tests/assemblyscript/wasm32-wasip1")

# Precompile first (wasm2c takes seconds per module) so the runner's per-test timeout
# measures running, not compiling.
find "${tests[@]}" -name '*.wasm' -print0 | xargs -0 "$runwasi" compile --engine "$engine" --cache-dir "$cache"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
WASI_RUNTIME="$runwasi run --engine $engine --cache-dir $cache" WASI_TIMEOUT=${WASI_TIMEOUT:-30} \
  python3 "$suite/runner.py" -r "$suite/adapters/cli.py" -t "${tests[@]}" 2>&1 | tee "$out" || status=$?
# The runner's closing line is "N passed, N failed, N skipped": zero failures required.
last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
case "$last" in
  *" 0 failed"*) ;;
  *) echo "wasi-testsuite ($engine): failures: $last"; exit 1 ;;
esac
exit "$status"
