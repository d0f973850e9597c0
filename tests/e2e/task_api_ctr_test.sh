#!/usr/bin/env bash
# Issue 5's task API through ctr, for our shims (io.containerd.v8.v1, io.containerd.wasm2c.v1)
# against io.containerd.runc.v2 on the same image, under a private containerd. A busybox
# container counts into /tmp/count (read by the host through /proc/PID/root); then:
#   1. ctr task exec: a native shell's stdout, stderr and exit code; the native probe:
#      not pid 1, the init's namespaces and cgroup, the same identity (uid, gid,
#      capabilities, no_new_privs, seccomp: the container runs with ctr's --seccomp) as
#      runc's exec; ours: the Wasm probe too, with what runc gives the native one;
#   2. ctr task exec -t (through script(1), the console 45x123): the probe sees a tty on
#      0, 1 and 2, ttyname /dev/pts/0 and the window size; ours: the Wasm probe a tty too;
#      ctr run -t with input typed into sh: the output and the exit code;
#   3. ctr task exec -d and ctr task ps: the init pid, and the exec's pid with its exec id;
#      a second exec with the same id fails;
#   4. ctr task pause: PAUSED, freezer.state FROZEN, no progress, exec refused; resume:
#      RUNNING, THAWED, progress again;
#   5. Tasks.Update with a memory limit (what ctr 1.7's `task update --memory-limit` sends;
#      Debian's ctr 1.6 has no `task update`): memory.limit_in_bytes; bad JSON refused;
#   6. ours: checkpoint refused, saying why; after SIGKILL: exec and pause refused;
#      delete;
#   7. ctr events: /tasks/exec-added, /tasks/exec-started, /tasks/exit (with the exec id
#      and exit status), /tasks/paused, /tasks/resumed, as runc's shim sends them.
# Each observation is written as "KEY VALUE" per runtime; ours must equal runc's on every
# key runc has. After each runtime nothing may be left (process, task, container, bundle,
# mount, cgroup). Skips (77) only without root or containerd.
#
# usage: task_api_ctr_test.sh SHIM_DIR MODULES_DIR SCRIPT MAKE_OCI_IMAGE
#   SHIM_DIR holds containerd-shim-v8-v1 and containerd-shim-wasm2c-v1; MODULES_DIR the
#   built tests/modules (sandbox_probe, sandbox_probe.wasm); SCRIPT is
#   scripts/containerd-private.sh; MAKE_OCI_IMAGE is tests/e2e/make_oci_image.py.
# Environment: RUNTIMES (default "runc v8 wasm2c"; runc always runs first, as reference).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

[[ $# -eq 4 ]] || fail "usage: $0 SHIM_DIR MODULES_DIR SCRIPT MAKE_OCI_IMAGE"
shim_dir=$1 modules=$2 script=$3 make_image=$4
task_update=$(dirname "$0")/task_update.py

require_root_and_containerd
read -r -a ours <<<"${RUNTIMES:-runc v8 wasm2c}"
runtimes=(runc)
for rt in "${ours[@]}"; do [[ $rt == runc ]] || runtimes+=("$rt"); done
declare -A runtime_name=(
  [runc]=io.containerd.runc.v2 [v8]=io.containerd.v8.v1 [wasm2c]=io.containerd.wasm2c.v1)
for rt in "${runtimes[@]}"; do
  [[ -n ${runtime_name[$rt]:-} ]] || fail "RUNTIMES: unknown runtime '$rt' (runc v8 wasm2c)"
  [[ $rt == runc || -x $shim_dir/containerd-shim-$rt-v1 ]] ||
    fail "$shim_dir/containerd-shim-$rt-v1 is not built"
done
command -v containerd-shim-runc-v2 >/dev/null && command -v runc >/dev/null ||
  fail "runc and containerd-shim-runc-v2 are needed as the reference"
[[ -x /bin/busybox ]] || fail "/bin/busybox is missing (busybox-static)"
command -v script >/dev/null || fail "script(1) is missing (util-linux): needed for a tty"
for f in "$make_image" "$task_update" "$modules"/{sandbox_probe,sandbox_probe.wasm}; do
  [[ -r $f ]] || fail "$f is missing"
done
/usr/bin/python3 -c 'import grpc' 2>/dev/null ||
  fail "python3-grpcio is missing (for /usr/bin/python3): task_update.py needs it"

ctr_e2e_setup e2e-taskapi

c() { "$script" ctr "$dir" -n "$ns" "$@"; }
printf -v ctr_cmd '%q ' "$script" ctr "$dir" -n "$ns"
fifo=$work/fifo
image=docker.io/runwasi-e2e/task-api:latest

leftovers() {
  local left
  left=$(leftover_procs)
  [[ -z $left ]] || { echo "processes left:"$'\n'"$left"; return; }
  left=$(c tasks ls -q)
  [[ -z $left ]] || { echo "tasks left: $left"; return; }
  left=$(c containers ls -q)
  [[ -z $left ]] || { echo "containers left: $left"; return; }
  left=$(find "$dir/state/io.containerd.runtime.v2.task" -mindepth 2 -maxdepth 2 2>/dev/null || true)
  [[ -z $left ]] || { echo "bundles left: $left"; return; }
  left=$(mounts_in "$dir")
  [[ -z $left ]] || { echo "mounts left: $left"; return; }
  left=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d \
    \( -path "/sys/fs/cgroup/*/$ns/*" -o -path "/sys/fs/cgroup/$ns/*" \) 2>/dev/null || true)
  [[ -z $left ]] || { echo "cgroups left: $left"; return; }
  left=$(find "$fifo" -mindepth 1 2>/dev/null || true)
  [[ -z $left ]] || { echo "FIFOs left: $left"; return; }
}

# Observations: "KEY VALUE" lines in $work/seen.RT.
note() { echo "$2 ${*:3}" >>"$work/seen.$1"; }
# run_ctr ARGS...: ctr ARGS with no stdin; sets rc, output in $work/out and $work/err.
run_ctr() {
  rc=0
  c "$@" >"$work/out" 2>"$work/err" </dev/null || rc=$?
}
# in_tty CMD [INPUT]: CMD (a string) in script(1)'s pty of 45 rows, 123 columns, typing
# the file INPUT (default none); sets rc, output (CRs and the "^@" echo of a NUL dropped) in $work/out.
in_tty() {
  rc=0
  script -qec "stty rows 45 cols 123; $1" /dev/null <"${2:-/dev/null}" >"$work/tty" 2>&1 || rc=$?
  tr -d '\r' <"$work/tty" | sed 's/\^@//g' >"$work/out"
}
gone() { ! alive "$1"; }
seen() { printf 'exit %s; stdout:\n%s\nstderr:\n%s' "$rc" "$(cat "$work/out")" "$(cat "$work/err" 2>/dev/null)"; }
value() { { grep -m1 "^$2: " "$1" || true; } | sed "s/^$2: //"; }
count_of() { cat "/proc/$1/root/tmp/count" 2>/dev/null || echo 0; }
counting() { (($(count_of "$1") > 0)); }
events_have() { grep -qF "$1" "$work/events"; }

step "image: busybox, the probes, sleep.wasm"
arch=$(oci_arch)
python3 "$make_image" "$work/image.tar" "$image" "$arch" /bin/busybox=/bin/busybox \
  "/bin/sh->busybox" /tmp/ /sandbox_probe="$modules/sandbox_probe" \
  /sandbox_probe.wasm="$modules/sandbox_probe.wasm" >/dev/null

step "start the private containerd with our shims on its PATH"
t0=$SECONDS
start_containerd --path-prepend "$shim_dir"
c images import "$work/image.tar" >/dev/null
assert_clean "after start"
ctr --address "$dir/containerd.sock" -n "$ns" events >"$work/events" 2>&1 &
events_pid=$!
sleep 0.3

loop='i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.05; done'
for rt in "${runtimes[@]}"; do
  runtime=${runtime_name[$rt]}
  id=api-$rt
  : >"$work/seen.$rt"
  c run -d --seccomp --fifo-dir "$fifo" --runtime "$runtime" "$image" "$id" /bin/sh -c "$loop" \
    </dev/null >/dev/null 2>&1 || fail "$rt: ctr run -d $id failed"
  wait_for 5 task_is "$id" RUNNING || fail "$rt: $id is not RUNNING: $(c tasks ls)"
  pid=$(c tasks ls | awk -v id="$id" '$1 == id {print $2}')
  wait_for 5 counting "$pid" || fail "$rt: $id does not count"

  step "$rt 1: exec a shell and the probes"
  run_ctr tasks exec --fifo-dir "$fifo" --exec-id e1 "$id" /bin/sh -c 'echo out; echo err >&2; exit 3'
  [[ $rc -eq 3 && $(<"$work/out") == out && $(<"$work/err") == err ]] ||
    fail "$rt: exec of a shell: want exit 3, 'out', 'err'; $(seen)"
  note "$rt" exec-shell "rc=$rc out=$(<"$work/out") err=$(<"$work/err")"
  for probe in /sandbox_probe /sandbox_probe.wasm; do
    [[ $probe == *.wasm && $rt == runc ]] && continue
    run_ctr tasks exec --fifo-dir "$fifo" --exec-id p1 "$id" "$probe"
    [[ $rc -eq 0 ]] || fail "$rt: exec $probe: $(seen)"
    [[ $(value "$work/out" pid) =~ ^[0-9]+$ && $(value "$work/out" pid) != 1 ]] ||
      fail "$rt: exec $probe is pid '$(value "$work/out" pid)' in the container"
    for t in pid mnt net ipc uts; do
      [[ $(value "$work/out" "ns $t") == "$(readlink "/proc/$pid/ns/$t")" ]] ||
        fail "$rt: exec $probe: ns $t $(value "$work/out" "ns $t"), the init's $(readlink "/proc/$pid/ns/$t")"
    done
    grep -q "^cgroup: .*:/$ns/$id\$" "$work/out" || fail "$rt: exec $probe is not in /$ns/$id: $(seen)"
    kind=native
    [[ $probe == *.wasm ]] && kind=wasm
    for key in uid gid CapEff CapBnd NoNewPrivs Seccomp; do note "$rt" "exec-$kind-$key" "$(value "$work/out" "$key")"; done
  done
  # The Wasm probe's identity is what the native one gets from runc.
  if [[ $rt != runc ]]; then
    for key in uid gid CapEff CapBnd NoNewPrivs Seccomp; do
      echo "exec-native-$key $(grep "^exec-wasm-$key " "$work/seen.$rt" | cut -d' ' -f2-)" >>"$work/seen.wasm-$rt"
    done
  fi

  step "$rt 2: exec -t and run -t"
  for probe in /sandbox_probe /sandbox_probe.wasm; do
    [[ $probe == *.wasm && $rt == runc ]] && continue
    # ctr resizes the pty only once the process has started: the native probe reads the
    # size after a pause (the Wasm one prints none).
    if [[ $probe == *.wasm ]]; then cmd="$probe tty"; else cmd="/bin/sh -c 'sleep 0.5; exec $probe tty'"; fi
    in_tty "${ctr_cmd}tasks exec -t --fifo-dir $fifo --exec-id t1 $id $cmd"
    [[ $rc -eq 0 ]] || fail "$rt: exec -t $probe: $(seen)"
    for fd in 0 1 2; do
      grep -qx "tty: $fd yes" "$work/out" || fail "$rt: exec -t $probe: fd $fd is no tty: $(seen)"
    done
    if [[ $probe != *.wasm ]]; then
      note "$rt" exec-t-ttyname "$(value "$work/out" ttyname)"
      note "$rt" exec-t-winsize "$(value "$work/out" winsize)"
    fi
  done
  printf 'echo hi-$((6*7)); exit 5\n' >"$work/typed"
  in_tty "${ctr_cmd}run -t --rm --fifo-dir $fifo --runtime $runtime $image tty-$rt /bin/sh" "$work/typed"
  if [[ $rc -ne 5 ]] || ! grep -qx 'hi-42' "$work/out"; then
    fail "$rt: ctr run -t with input: want exit 5 and 'hi-42'; $(seen)"
  fi
  note "$rt" run-t "rc=$rc"

  step "$rt 3: exec -d, task ps, a duplicate exec id"
  run_ctr tasks exec -d --fifo-dir "$fifo" --exec-id s1 "$id" /bin/busybox sleep 60
  [[ $rc -eq 0 ]] || fail "$rt: exec -d: $(seen)"
  run_ctr tasks ps "$id"
  awk -v p="$pid" '$1 == p && $2 == "-"' "$work/out" | grep -q . || fail "$rt: task ps lacks the init $pid: $(seen)"
  info=$(awk -v p="$pid" 'NR > 1 && $1 != p && $2 != "-" {print $2}' "$work/out")
  [[ $info == *s1* ]] || fail "$rt: task ps shows no process of exec s1: $(seen)"
  note "$rt" ps-exec-info "$info"
  exec_pid=$(awk -v p="$pid" 'NR > 1 && $1 != p && $2 != "-" {print $1}' "$work/out")
  [[ $(tr '\0' ' ' <"/proc/$exec_pid/cmdline") == "/bin/busybox sleep 60 " ]] ||
    fail "$rt: task ps's exec pid $exec_pid is not the exec: $(tr '\0' ' ' <"/proc/$exec_pid/cmdline")"
  run_ctr tasks exec --fifo-dir "$fifo" --exec-id s1 "$id" /bin/sh -c true
  [[ $rc -ne 0 ]] || fail "$rt: a second exec s1 succeeded"
  [[ $rt == runc ]] || grep -q "exec process s1 already exists in task $id" "$work/err" ||
    fail "$rt: duplicate exec id: $(seen)"
  note "$rt" exec-duplicate "rc!=0"
  run_ctr tasks kill --exec-id s1 -s SIGKILL "$id"
  [[ $rc -eq 0 ]] || fail "$rt: kill of exec s1: $(seen)"
  wait_for 5 gone "$exec_pid" || fail "$rt: exec s1 (pid $exec_pid) survived SIGKILL"
  # ctr exits with an exec's status when it deletes it.
  run_ctr tasks delete --exec-id s1 "$id"
  [[ $rc -eq 137 ]] || fail "$rt: delete of exec s1: want 137; $(seen)"
  note "$rt" exec-delete "rc=$rc"
  # ctr leaves a detached exec's FIFOs (whatever the runtime): not the shim's to remove.
  find "$fifo" -name 's1-stdin' -printf '%h\n' | xargs -r rm -rf

  step "$rt 4: pause and resume"
  freezer=/sys/fs/cgroup/freezer/$ns/$id/freezer.state
  run_ctr tasks pause "$id"
  [[ $rc -eq 0 ]] || fail "$rt: pause: $(seen)"
  note "$rt" paused-status "$(task_status "$id")"
  note "$rt" paused-freezer "$(cat "$freezer")"
  n=$(count_of "$pid")
  sleep 0.5
  [[ $(count_of "$pid") == "$n" ]] || fail "$rt: the paused container went on counting"
  run_ctr tasks exec --fifo-dir "$fifo" --exec-id x1 "$id" /bin/sh -c true
  [[ $rc -ne 0 ]] || fail "$rt: exec into a paused task succeeded"
  note "$rt" exec-paused "rc!=0"
  run_ctr tasks resume "$id"
  [[ $rc -eq 0 ]] || fail "$rt: resume: $(seen)"
  note "$rt" resumed-status "$(task_status "$id")"
  note "$rt" resumed-freezer "$(cat "$freezer")"
  wait_for 5 eval '(($(count_of "$pid") > n))' || fail "$rt: no progress after resume"

  if [[ $rt != runc ]]; then
    run_ctr tasks checkpoint "$id"
    [[ $rc -ne 0 ]] && grep -q "checkpoint is not supported by containerd-shim-$rt-v1" "$work/err" ||
      fail "$rt: checkpoint: $(seen)"
  fi

  step "$rt 5: update --memory-limit (Tasks.Update, as ctr 1.7's task update), bad JSON"
  update() {
    rc=0
    /usr/bin/python3 "$task_update" "$dir/containerd.sock" "$ns" "$id" "$@" >"$work/out" 2>"$work/err" || rc=$?
  }
  update --memory-limit 67108864
  [[ $rc -eq 0 ]] || fail "$rt: update: $(seen)"
  note "$rt" memory-limit "$(cat "/sys/fs/cgroup/memory/$ns/$id/memory.limit_in_bytes")"
  update --resources '{"memory": {"limit": '
  [[ $rc -ne 0 ]] || fail "$rt: an update with bad JSON succeeded"
  [[ $rt == runc ]] || grep -q "cannot update task $id: linux.resources: not valid JSON" "$work/err" ||
    fail "$rt: update with bad JSON: $(seen)"
  note "$rt" update-bad-json "rc!=0 limit=$(cat "/sys/fs/cgroup/memory/$ns/$id/memory.limit_in_bytes")"

  step "$rt 6: stopped: exec and pause refused"
  c tasks kill -s SIGKILL "$id"
  wait_for 5 task_is "$id" STOPPED || fail "$rt: $id is not STOPPED after SIGKILL"
  run_ctr tasks exec --fifo-dir "$fifo" --exec-id late "$id" /bin/sh -c true
  [[ $rc -ne 0 ]] || fail "$rt: exec into a stopped task succeeded"
  [[ $rt == runc ]] || grep -q "cannot exec in task $id: it is stopped" "$work/err" ||
    fail "$rt: exec into a stopped task: $(seen)"
  note "$rt" exec-stopped "rc!=0"
  run_ctr tasks pause "$id"
  [[ $rc -ne 0 ]] || fail "$rt: pause of a stopped task succeeded"
  [[ $rt == runc ]] || grep -q "cannot pause task $id: it is stopped" "$work/err" ||
    fail "$rt: pause of a stopped task: $(seen)"
  note "$rt" pause-stopped "rc!=0"
  c tasks delete "$id" >/dev/null 2>&1 || fail "$rt: task delete $id failed"
  c containers rm "$id"

  step "$rt 7: events"
  wait_for 5 events_have "/tasks/delete {\"container_id\":\"$id\"" || fail "$rt: no /tasks/delete for $id"
  mine() { grep -F "\"container_id\":\"$id\"" "$work/events" || true; }
  for topic in /tasks/exec-added /tasks/exec-started /tasks/paused /tasks/resumed; do
    mine | grep -qF "$topic " || fail "$rt: no $topic event:"$'\n'"$(mine)"
  done
  mine | grep -F "/tasks/exec-added " | grep -qF '"exec_id":"e1"' || fail "$rt: no exec-added for e1"
  mine | grep -F "/tasks/exit " | grep -F '"id":"e1"' | grep -qF '"exit_status":3' ||
    fail "$rt: no /tasks/exit of e1 with status 3:"$'\n'"$(mine)"
  note "$rt" topics "$(mine | grep -o ' /tasks/[a-z-]* ' | sort -u | tr -d ' ' | paste -sd' ')"
  assert_clean "$rt"
done

step "ours against runc"
for rt in "${runtimes[@]}"; do
  [[ $rt == runc ]] && continue
  for file in "$work/seen.$rt" "$work/seen.wasm-$rt"; do
    while read -r key expected; do
      got=$(grep -m1 "^$key " "$file" | cut -d' ' -f2-) || true
      [[ $got == "$expected" ]] ||
        fail "$rt: $key is '$got' ($(basename "$file")), runc's '$expected'"
    done < <(grep -E "^($(cut -d' ' -f1 "$file" | paste -sd'|')) " "$work/seen.runc")
  done
  echo "$rt: $(wc -l <"$work/seen.$rt") observations, the same as runc's"
done
cat "$work/seen.runc"

step "stop: nothing left"
kill "$events_pid"
events_pid=""
"$script" stop "$dir"
[[ -z $(procs_in "$dir") ]] || fail "processes left after stop: $(procs_in "$dir")"
echo "PASS ($((SECONDS - t0)) s with containerd)"
