#!/usr/bin/env bash
# stress-test in containerd mode (issue 7) against a private containerd, through its gRPC
# API:
#   1. 20 tasks, 4 at a time, for runc (io.containerd.runc.v2, a static native hello) and
#      for our v8, wasm2c and null shims (short runtime names; hello.wasm in the rootfs
#      format): exit 0, no failure, no problem, 20 measured + 4 warm-up tasks succeeded,
#      percentiles in order, the snapshot parent = the image's layer (its chain ID);
#   2. failures are reported, never hidden: file_rw.wasm -- --read /nonexistent (v8) fails
#      every task at wait with status 1 and the module's stderr; a native program exiting 3
#      under runc likewise (its stderr reached us through runc's shim too); the runs exit 1;
#   3. pure Wasm images (runwasi format, CNCF artifact, imported --no-unpack) get an empty
#      snapshot parent and run under v8, wasm2c and null (the module from the layer);
#   4. the tool's own leak check: a container, its snapshot and a lease named like the
#      run's tasks, planted while a task runs, are reported (exit 1) and removed;
#   5. set-up errors: an image that is not there, an image that is not unpacked (a clear
#      message, exit 1, no task run);
# and after each run nothing is left: no container, task, lease or task snapshot in the
# namespace (ctr), no shim or container process, no new socket in /run/containerd/s, no
# cgroup under the namespace, no mount under the private containerd's directory.
#   6. --pod: runc and wasm2c pass 20 tasks sharing one shim; with v8 running 3 sleeping
#      tasks at once, every bundle names the pod's one shim socket; a pod task that cannot
#      be created (no such shim) fails set-up saying so and leaves nothing;
# Skips (77) only without root or containerd.
#
# usage: stress_containerd_test.sh TOOLS_DIR MODULES_DIR SCRIPT MAKE_OCI_IMAGE NATIVE_HELLO_C
#   TOOLS_DIR holds stress-test, oci-tar-builder and containerd-shim-{v8,wasm2c,null}-v1;
#   MODULES_DIR the built tests/modules (hello.wasm, file_rw.wasm, sleep.wasm); SCRIPT is
#   scripts/containerd-private.sh; MAKE_OCI_IMAGE tests/e2e/make_oci_image.py;
#   NATIVE_HELLO_C bench/native-hello/hello.c. RUNWASI_E2E_CC: the C compiler (cc).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

[[ $# -eq 5 ]] || fail "usage: $0 TOOLS_DIR MODULES_DIR SCRIPT MAKE_OCI_IMAGE NATIVE_HELLO_C"
tools=$1 modules=$2 script=$3 make_image=$4 hello_c=$5
cc=${RUNWASI_E2E_CC:-cc}

require_root_and_containerd
stress=$tools/stress-test
for f in "$stress" "$tools/oci-tar-builder" "$tools"/containerd-shim-{v8,wasm2c,null}-v1 "$script"; do
  [[ -x $f ]] || fail "$f is not built"
done
for f in "$modules"/{hello,file_rw,sleep}.wasm "$make_image" "$hello_c"; do [[ -r $f ]] || fail "$f is missing"; done
command -v jq >/dev/null || fail "jq is missing (apt-get install jq)"
command -v runc >/dev/null || skip "runc is not installed (apt-get install runc)"

ns=e2e-stressc
ctr_e2e_setup "$ns"
c() { "$script" ctr "$dir" -n "$ns" "$@"; }

step "images"
mkdir "$work/img"
"$cc" -static -O2 -o "$work/img/hello" "$hello_c" || fail "cannot build $hello_c statically"
cat >"$work/img/fail3.c" <<'EOF'
#include <stdio.h>
int main(void) { fputs("native failing\n", stderr); return 3; }
EOF
"$cc" -static -O2 -o "$work/img/fail3" "$work/img/fail3.c" || fail "cannot build fail3.c"
python3 "$make_image" --entrypoint /hello "$work/img/native.tar" docker.io/stressc/native:1 "$(oci_arch)" \
  "/hello=$work/img/hello" >/dev/null
python3 "$make_image" --entrypoint /fail3 "$work/img/fail3.tar" docker.io/stressc/fail3:1 "$(oci_arch)" \
  "/fail3=$work/img/fail3" >/dev/null
# Never unpacked: its own layer (other bytes), imported --no-unpack.
printf 'x' >"$work/img/other"
python3 "$make_image" --entrypoint /hello "$work/img/packed.tar" docker.io/stressc/packed:1 "$(oci_arch)" \
  "/hello=$work/img/hello" "/other=$work/img/other" >/dev/null
builder=$tools/oci-tar-builder
"$builder" --name stressc/hello-wasm:1 --module "$modules/hello.wasm" -o "$work/img/wasm.tar" >/dev/null
"$builder" --name stressc/file-rw:1 --module "$modules/file_rw.wasm" -o "$work/img/file_rw.tar" >/dev/null
"$builder" --name stressc/sleep:1 --module "$modules/sleep.wasm" -o "$work/img/sleep.tar" >/dev/null
"$builder" --name stressc/hello-runwasi:1 --format runwasi --module "$modules/hello.wasm" \
  -o "$work/img/runwasi.tar" >/dev/null
"$builder" --name stressc/hello-artifact:1 --as-artifact --module "$modules/hello.wasm" \
  -o "$work/img/artifact.tar" >/dev/null

sockets_before=$(shim_sockets)
start_containerd --path-prepend "$tools"
address=$dir/containerd.sock
for t in native fail3 wasm file_rw sleep; do c images import "$work/img/$t.tar" >/dev/null; done
for t in packed runwasi artifact; do c images import --all-platforms --no-unpack "$work/img/$t.tar" >/dev/null; done
snapshots_before=$(c snapshots ls | awk 'NR > 1 {print $1}' | sort)

# The diff ID (= digest: the layer is an uncompressed tar) of an image tarball's only layer,
# which is also its chain ID.
layer_of() { tar -xOf "$1" index.json | jq -r '.manifests[0].digest' | sed 's/^sha256://' |
  xargs -I{} tar -xOf "$1" "blobs/sha256/{}" | jq -r '.layers[0].digest'; }

# What is left, in words; nothing when clean.
leftovers() {
  local left
  left=$(c containers ls -q)
  [[ -z $left ]] || { echo "containers left: $left"; return; }
  left=$(c tasks ls -q)
  [[ -z $left ]] || { echo "tasks left: $left"; return; }
  left=$(c leases ls -q)
  [[ -z $left ]] || { echo "leases left: $left"; return; }
  left=$(comm -13 <(echo "$snapshots_before") <(c snapshots ls | awk 'NR > 1 {print $1}' | sort))
  [[ -z $left ]] || { echo "snapshots left: $left"; return; }
  left=$(leftover_procs)
  [[ -z $left ]] || { echo "processes left:"$'\n'"$left"; return; }
  left=$(comm -13 <(echo "$sockets_before") <(shim_sockets))
  [[ -z $left ]] || { echo "new sockets left under /run/containerd/s: $left"; return; }
  left=$(find /sys/fs/cgroup/*/"$ns" /sys/fs/cgroup/"$ns" -mindepth 1 -maxdepth 1 -type d 2>/dev/null || true)
  [[ -z $left ]] || { echo "cgroups left: $left"; return; }
  left=$(mounts_in "$dir")
  [[ -z $left ]] || { echo "mounts left: $left"; return; }
}

# run_stress NAME ARGS...: stress-test in containerd mode, its JSON in $work/NAME.json, its
# stdout in $work/NAME.out; sets rc.
run_stress() {
  local name=$1
  shift
  step "$name: stress-test $*"
  rc=0
  # A long --timeout: wasm2c's first task compiles the module.
  "$stress" --mode containerd --address "$address" --namespace "$ns" --json "$work/$name.json" \
    --timeout 60s "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
  cat "$work/$name.out"
  [[ -s $work/$name.err ]] && sed 's/^/  stderr: /' "$work/$name.err"
  [[ -s $work/$name.json ]] || fail "$name: no JSON report"
}

# expect NAME JQ-FILTER: the filter must be true of NAME's JSON report.
expect() {
  jq -e "$2" "$work/$1.json" >/dev/null || fail "$1: not true of the report: $2 (report:
$(jq -c '{tasks, driver, failures: .failures[:3], problems}' "$work/$1.json"))"
}

for run in "runc native native" "v8 hello-wasm wasm" "wasm2c hello-wasm wasm" "null hello-wasm wasm"; do
  read -r rt image tarball <<<"$run"
  run_stress "$rt" --runtime "$rt" --image "stressc/$image:1" --count 20 --parallel 4
  ((rc == 0)) || fail "$rt: exit status $rc, expected 0"
  grep -q '^PASSED$' "$work/$rt.out" || fail "$rt: no PASSED line"
  expect "$rt" '.passed == true and .failures == [] and .problems == []'
  expect "$rt" '.tasks == {measured: 20, succeeded: 20, failed: 0, warmup: 4, warmup_succeeded: 4}'
  expect "$rt" '.tasks_per_second > 0 and .latency_ms.total.n == 20 and .latency_ms.delete.n == 20'
  expect "$rt" '[.latency_ms[] | .min > 0 and .min <= .p50 and .p50 <= .p90 and .p90 <= .p99 and .p99 <= .max] | all'
  full=io.containerd.$rt.v1
  [[ $rt == runc ]] && full=io.containerd.runc.v2
  expect "$rt" ".settings.runtime == \"$full\" and .driver.runtime == \"$full\""
  expect "$rt" ".driver.image == \"docker.io/stressc/$image:1\" and .driver.wasm_image == false"
  expect "$rt" ".driver.snapshot_parent == \"$(layer_of "$work/img/$tarball.tar")\""
  expect "$rt" '.details.cpu_ms_per_task.tool > 0'
  assert_clean "after $rt"
done

run_stress v8-exit1 --runtime v8 --image stressc/file-rw:1 --count 4 --parallel 2 -- --read /nonexistent
((rc == 1)) || fail "v8-exit1: exit status $rc, expected 1"
grep -q '^FAILED$' "$work/v8-exit1.out" || fail "v8-exit1: no FAILED line"
expect v8-exit1 '.passed == false and .problems == []'
expect v8-exit1 '.tasks == {measured: 4, succeeded: 0, failed: 4, warmup: 2, warmup_succeeded: 0}'
expect v8-exit1 '.failures | length == 6'
expect v8-exit1 '[.failures[] | .step == "wait" and (.message | test("exited with status 1 .*output: .*/nonexistent"))] | all'
assert_clean "after v8 with file_rw.wasm exiting 1"

run_stress runc-exit3 --runtime runc --image stressc/fail3:1 --count 2 --parallel 2
((rc == 1)) || fail "runc-exit3: exit status $rc, expected 1"
expect runc-exit3 '.passed == false and .problems == [] and .tasks.failed == 2 and (.failures | length == 4)'
expect runc-exit3 '[.failures[] | .step == "wait" and (.message | test("exited with status 3 .*output: \"native failing\\\\n\""))] | all'
assert_clean "after runc with a native program exiting 3"

# Pure Wasm images: no layer to unpack, so each task's rootfs is an empty snapshot and the
# shim reads the module from the image's layer (issue 6): both formats under every shim.
for rt in v8 wasm2c null; do
  for image in runwasi artifact; do
    # The artifact's config has no entrypoint: the module is named after `--`.
    args=()
    [[ $image == artifact ]] && args=(-- /hello.wasm)
    run_stress "$rt-$image" --runtime "$rt" --image "stressc/hello-$image:1" --count 2 --parallel 1 \
      "${args[@]}"
    ((rc == 0)) || fail "$rt-$image: exit status $rc"
    expect "$rt-$image" '.driver.wasm_image == true and .driver.snapshot_parent == "" and .problems == []'
    expect "$rt-$image" '.driver.platform == "wasip1/wasm" and .passed == true'
    assert_clean "after $rt with the $image image"
  done
done

# --pod: the tasks share one shim, as a pod's containers do. runc and wasm2c run the hello
# loop so; then v8 runs sleeping tasks, and while they run every bundle (the pod's task's
# and those of the tasks) names the one socket of the pod's group.
for run in "runc native" "wasm2c hello-wasm"; do
  read -r rt image <<<"$run"
  run_stress "$rt-pod" --runtime "$rt" --image "stressc/$image:1" --count 20 --parallel 4 --pod
  ((rc == 0)) || fail "$rt-pod: exit status $rc, expected 0"
  expect "$rt-pod" '.passed == true and .failures == [] and .problems == [] and .settings.pod == true'
  expect "$rt-pod" '.tasks == {measured: 20, succeeded: 20, failed: 0, warmup: 4, warmup_succeeded: 4}'
  expect "$rt-pod" '.driver.shims | test("^one for all tasks \\(a pod: sandbox-id stress-[0-9]+-pod\\)$")'
  assert_clean "after $rt with --pod"
done
step "v8-pod: stress-test --runtime v8 --image stressc/sleep:1 --count 6 --parallel 3 --warmup 0 --pod -- 700"
rc=0
"$stress" --mode containerd --address "$address" --namespace "$ns" --json "$work/v8-pod.json" \
  --runtime v8 --image stressc/sleep:1 --count 6 --parallel 3 --warmup 0 --pod -- 700 \
  >"$work/v8-pod.out" 2>&1 &
stress_pid=$!
bundles=$dir/state/io.containerd.runtime.v2.task/$ns
pod_bundle=$bundles/stress-$stress_pid-pod
three_run() { (($(c tasks ls | awk '$3 == "RUNNING"' | wc -l) >= 3)); }
wait_for 20 three_run || fail "v8-pod: three tasks never ran at once: $(c tasks ls)"
pod_socket=$(<"$pod_bundle/address") || fail "v8-pod: no pod task bundle $pod_bundle"
seen=0
for b in "$bundles"/stress-"$stress_pid"-*; do
  [[ -r $b/address ]] || continue
  [[ $(<"$b/address") == "$pod_socket" ]] || fail "v8-pod: ${b##*/} names $(<"$b/address"), the pod $pod_socket"
  seen=$((seen + 1))
done
((seen >= 4)) || fail "v8-pod: $seen bundles with an address, expected the pod's and 3 tasks'"
wait "$stress_pid" || rc=$?
cat "$work/v8-pod.out"
((rc == 0)) || fail "v8-pod: exit status $rc, expected 0"
expect v8-pod '.passed == true and .tasks.succeeded == 6 and .problems == []'
assert_clean "after v8 with --pod"
# The pod's task cannot be created (a runtime with no shim): set-up fails saying so, no
# task runs, and what set-up made for it (container, snapshot, lease) is gone.
run_stress pod-no-shim --runtime io.containerd.nosuch.v1 --image stressc/hello-wasm:1 --count 1 --pod
((rc == 1)) || fail "pod-no-shim: exit status $rc, expected 1"
expect pod-no-shim '.problems[0] | test("^set-up: creating the pod.s task stress-[0-9]+-pod \\(never started; it holds the shim\\): ")'
expect pod-no-shim '(.problems | length) == 1 and .tasks.succeeded == 0'
assert_clean "after a pod whose task could not be created"

# The run's own leak check: a container (with its snapshot) and a lease named like the
# run's tasks, made while its one task sleeps, are reported and removed.
step "planted: stress-test --runtime v8 --image stressc/sleep:1 --count 1 --warmup 0 -- 1500"
rc=0
"$stress" --mode containerd --address "$address" --namespace "$ns" --json "$work/planted.json" \
  --runtime v8 --image stressc/sleep:1 --count 1 --warmup 0 -- 1500 >"$work/planted.out" 2>&1 &
stress_pid=$!
task_runs() { [[ $(c tasks ls | awk -v id="stress-$stress_pid-0" '$1 == id {print $3}') == RUNNING ]]; }
wait_for 10 task_runs || fail "planted: the task never ran"
c containers create docker.io/stressc/native:1 "stress-$stress_pid-planted" >/dev/null
c leases create --id "stress-$stress_pid-lease" >/dev/null
wait "$stress_pid" || rc=$?
cat "$work/planted.out"
((rc == 1)) || fail "planted: exit status $rc, expected 1"
expect planted '.tasks.succeeded == 1 and .failures == []'
for left in "container left: stress-$stress_pid-planted" "snapshot left: stress-$stress_pid-planted" \
  "lease left: stress-$stress_pid-lease"; do
  expect planted "any(.problems[]; . == \"$left\")"
done
assert_clean "after the planted leftovers (stress-test removes what it finds)"

run_stress missing --runtime null --image stressc/nothing:1 --count 1
((rc == 1)) || fail "missing: exit status $rc, expected 1"
expect missing '.problems[0] | test("set-up: image stressc/nothing:1 in namespace e2e-stressc: .*not found")'
expect missing '.tasks.succeeded == 0 and ([.failures[] | .step == "not run"] | all)'

run_stress packed --runtime runc --image stressc/packed:1 --count 1
((rc == 1)) || fail "packed: exit status $rc, expected 1"
expect packed '.problems[0] | test("set-up: image docker.io/stressc/packed:1 is not unpacked for snapshotter overlayfs.*does not exist; import it without --no-unpack")'
assert_clean "after the set-up errors"

echo "PASS"
