#!/usr/bin/env bash
# Runs every test: installs dependencies, builds, runs ctest (unit tests, the typed engine
# suite, the CLI tests, the WASI conformance suite on every engine), then builds with
# AddressSanitizer + UndefinedBehaviorSanitizer and runs the tests again under them.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

# Runs ctest with a preset; when tests fail, prints their whole output again at the end
# (ctest prints it where each test ends, long before the summary a CI log's tail shows).
run_ctest() {
  local preset=$1 dir=$2
  shift 2
  local rc=0
  ctest --preset "$preset" "$@" || rc=$?
  if ((rc != 0)) && [[ -f $dir/Testing/Temporary/LastTest.log ]]; then
    echo "=== output of the failed tests (from $dir/Testing/Temporary/LastTest.log) ==="
    awk '/^[0-9]+\/[0-9]+ Testing: / { section = ""; inside = 1 }
         inside { section = section $0 "\n" }
         /^Test [A-Z]/ && !/^Test Pass/ && inside { failed = 1 }
         / end time: / && inside { if (failed) printf "%s", section; inside = 0; failed = 0 }' \
      "$dir/Testing/Temporary/LastTest.log" | tail -c 200000
  fi
  return "$rc"
}

scripts/install-deps.sh

cmake --preset default
cmake --build --preset default -j "$jobs"
run_ctest default build -j "$jobs"

# Sanitizers: the same tests, except the conformance suite (already run above, and it
# exercises the same CLI paths the CLI tests cover).
cmake --preset asan
cmake --build --preset asan -j "$jobs"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=print_stacktrace=1 \
  run_ctest asan build-asan -j "$jobs" -E '^wasi_testsuite_'
