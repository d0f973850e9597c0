#!/usr/bin/env bash
# Runs every test: installs dependencies, builds, runs ctest (unit tests, the typed engine
# suite, the CLI tests, the WASI conformance suite on every engine), then builds with
# AddressSanitizer + UndefinedBehaviorSanitizer and runs the tests again under them.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/install-deps.sh

cmake --preset default
cmake --build --preset default -j "$jobs"
ctest --preset default -j "$jobs"

# Sanitizers: the same tests, except the conformance suite (already run above, and it
# exercises the same CLI paths the CLI tests cover).
cmake --preset asan
cmake --build --preset asan -j "$jobs"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --preset asan -j "$jobs" -E '^wasi_testsuite_'
