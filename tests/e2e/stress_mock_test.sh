#!/usr/bin/env bash
# stress-test in mock mode (issue 7) for the v8, wasm2c and null shims, no containerd:
#   1. 20 tasks of hello.wasm, 4 at a time, one shim for all: exit 0, no failure, 20
#      measured + 4 warm-up tasks succeeded, 24 of each task event, percentiles in order;
#   2. one shim per task (v8): the same, a shim started per task;
#   3. failures are reported, never hidden: exit42.wasm (v8, wasm2c) fails every task at
#      wait with its status and output, not_wasm.wasm (null) every task at create with the
#      shim's message; the run exits 1;
# and after each run nothing is left: no process naming the run's directory (shims,
# zygotes, containers), no new socket in /run/containerd/s, no cgroup under the
# namespace, no mount, no bundle. Skips (77) only without root.
#
# usage: stress_mock_test.sh TOOLS_DIR MODULES_DIR
#   TOOLS_DIR holds stress-test and containerd-shim-{v8,wasm2c,null}-v1; MODULES_DIR the
#   built tests/modules (hello.wasm, exit42.wasm, not_wasm.wasm).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

[[ $# -eq 2 ]] || fail "usage: $0 TOOLS_DIR MODULES_DIR"
tools=$1 modules=$2
[[ $EUID -eq 0 ]] || skip "needs root"
stress=$tools/stress-test
for f in "$stress" "$tools"/containerd-shim-{v8,wasm2c,null}-v1; do
  [[ -x $f ]] || fail "$f is not built"
done
for m in hello exit42 not_wasm; do [[ -r $modules/$m.wasm ]] || fail "$modules/$m.wasm is missing"; done
command -v jq >/dev/null || fail "jq is missing (apt-get install jq)"

work=$(mktemp -d)
ns=e2e-stress-$$
cleanup() {
  rmdir /sys/fs/cgroup/*/"$ns" /sys/fs/cgroup/"$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/run"
sockets_before=$(shim_sockets)

# What is left, in words; nothing when clean.
leftovers() {
  local left
  left=$(procs_in "$work")
  [[ -z $left ]] || { echo "processes left:"$'\n'"$left"; return; }
  left=$(comm -13 <(echo "$sockets_before") <(shim_sockets))
  [[ -z $left ]] || { echo "new sockets left under /run/containerd/s: $left"; return; }
  # The tool removes the namespace level too once its tasks' cgroups are gone.
  left=$(find /sys/fs/cgroup/*/"$ns" /sys/fs/cgroup/"$ns" -maxdepth 1 2>/dev/null || true)
  [[ -z $left ]] || { echo "cgroups left: $left"; return; }
  left=$(mounts_in "$work")
  [[ -z $left ]] || { echo "mounts left: $left"; return; }
  left=$(find "$work/run" -mindepth 1 2>/dev/null)
  [[ -z $left ]] || { echo "left in the work directory: $left"; return; }
}

# run_stress NAME ARGS...: stress-test in mock mode, its JSON in $work/NAME.json, its
# stdout in $work/NAME.out; sets rc. $stress_path, when set, is its PATH.
run_stress() {
  local name=$1
  shift
  step "$name: stress-test $*"
  rc=0
  PATH=${stress_path:-$PATH} "$stress" --mode mock --namespace "$ns" --work-dir "$work/run" --json "$work/$name.json" \
    "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
  cat "$work/$name.out"
  [[ -s $work/$name.err ]] && sed 's/^/  stderr: /' "$work/$name.err"
  [[ -s $work/$name.json ]] || fail "$name: no JSON report"
}

# expect NAME JQ-FILTER: the filter must be true of NAME's JSON report.
expect() {
  jq -e "$2" "$work/$1.json" >/dev/null || fail "$1: not true of the report: $2 (report: $work/$1.json:
$(jq -c '{tasks, failures: .failures[:3], problems, details}' "$work/$1.json"))"
}

# The report of a run in which every one of COUNT measured and WARMUP warm-up tasks
# succeeded, with all four events each and SHIMS shims started.
expect_success() {
  local name=$1 count=$2 warmup=$3 shims=$4 all=$(($2 + $3))
  ((rc == 0)) || fail "$name: exit status $rc, expected 0"
  grep -q '^PASSED$' "$work/$name.out" || fail "$name: no PASSED line"
  expect "$name" ".passed == true and .failures == [] and .problems == []"
  expect "$name" ".tasks == {measured: $count, succeeded: $count, failed: 0, warmup: $warmup, warmup_succeeded: $warmup}"
  expect "$name" ".details.events.received == $((all * 4))"
  expect "$name" '.details.events.by_topic | keys == ["/tasks/create", "/tasks/delete", "/tasks/exit", "/tasks/start"]'
  expect "$name" "[.details.events.by_topic[]] | all(. == $all)"
  expect "$name" ".details.shims_started == $shims"
  # CPU per task: the tool's always; the shims' only when one shim ran them all.
  if ((shims == 1)); then
    expect "$name" ".details.cpu_ms_per_task.shims > 0 and .details.cpu_ms_per_task.tool > 0"
  else
    expect "$name" ".details.cpu_ms_per_task.shims == null and .details.cpu_ms_per_task.tool > 0"
  fi
  expect "$name" ".tasks_per_second > 0 and .latency_ms.total.n == $count"
  expect "$name" '[.latency_ms[] | .min <= .p50 and .p50 <= .p90 and .p90 <= .p99 and .p99 <= .max] | all'
  expect "$name" '.latency_ms.total.p50 >= .latency_ms.create.p50'
}

for rt in v8 wasm2c null; do
  run_stress "$rt" --runtime "io.containerd.$rt.v1" --shim "$tools/containerd-shim-$rt-v1" \
    --image "$modules/hello.wasm" --count 20 --parallel 4
  expect_success "$rt" 20 4 1
  expect "$rt" ".settings.runtime == \"io.containerd.$rt.v1\" and .settings.parallel == 4"
  assert_clean "after $rt"
done

# The shim found from the runtime name beside stress-test (not on PATH), one per task.
stress_path=/nonexistent run_stress v8-per-task --runtime io.containerd.v8.v1 \
  --image "$modules/hello.wasm" --count 6 --parallel 2 --shim-per-task
expect_success v8-per-task 6 2 8
expect v8-per-task ".driver.shim == \"$(realpath "$tools/containerd-shim-v8-v1")\""
assert_clean "after v8, a shim per task"

for rt in v8 wasm2c; do
  run_stress "$rt-exit42" --runtime "io.containerd.$rt.v1" --shim "$tools/containerd-shim-$rt-v1" \
    --image "$modules/exit42.wasm" --count 5 --parallel 2
  ((rc == 1)) || fail "$rt-exit42: exit status $rc, expected 1"
  grep -q '^FAILED$' "$work/$rt-exit42.out" || fail "$rt-exit42: no FAILED line"
  grep -q 'exited with status 42' "$work/$rt-exit42.out" || fail "$rt-exit42: no failure on stdout"
  expect "$rt-exit42" '.passed == false and .problems == []'
  expect "$rt-exit42" '.tasks == {measured: 5, succeeded: 0, failed: 5, warmup: 2, warmup_succeeded: 0}'
  expect "$rt-exit42" '.failures | length == 7'
  expect "$rt-exit42" '[.failures[] | .step == "wait" and (.message | test("exited with status 42 .*exiting with 42"))] | all'
  expect "$rt-exit42" '[.failures[] | select(.warmup)] | length == 2'
  # They ran to the end: every event is there, and each was deleted.
  expect "$rt-exit42" '.details.events.received == 28 and .details.events.by_topic["/tasks/delete"] == 7'
  assert_clean "after $rt with exit42.wasm"
done

run_stress null-not-wasm --runtime io.containerd.null.v1 --shim "$tools/containerd-shim-null-v1" \
  --image "$modules/not_wasm.wasm" --count 4 --parallel 2
((rc == 1)) || fail "null-not-wasm: exit status $rc, expected 1"
expect null-not-wasm '.passed == false and .problems == [] and .tasks.succeeded == 0'
expect null-not-wasm '.failures | length == 6'
expect null-not-wasm '[.failures[] | .step == "create" and (.message | test("neither a WebAssembly module"))] | all'
expect null-not-wasm '.details.events.received == 0'
assert_clean "after null with not_wasm.wasm"

echo "PASS"
