#!/usr/bin/env bash
# Our shims under a real (private) containerd, driven with ctr, for both runtimes
# (io.containerd.v8.v1 and io.containerd.wasm2c.v1):
#   1. run --rm: echo prints exactly "hello" (stderr "exiting"), exit 42 gives ctr 42, a
#      trapping module gives 134 with "wasm trap" on stderr;
#   2. run -d daemon: RUNNING in task ls, task ps lists its live pid (a child of the shim,
#      named wasm:ID), SIGKILL -> STOPPED and exit status 137, SIGTERM -> 143;
#   3. ctr events shows /tasks/create, /tasks/start, /tasks/exit, /tasks/delete in order;
#   4. 50 sequential run --rm leave no shim, socket, bundle, mount, snapshot or zombie;
#   5. a SIGKILLed shim takes its container with it, containerd notices, nothing is left;
#   6. bad inputs (missing entrypoint, not Wasm, invalid module, a spec without
#      process/args) fail create with our message and leave nothing; run -t works.
# Skips (77) only without root or containerd.
#
# usage: shim_ctr_test.sh SHIM_DIR OCI_TAR_BUILDER DEMO_WASM MODULES_DIR SCRIPT MAKE_OCI_IMAGE
#   SHIM_DIR holds containerd-shim-v8-v1 and containerd-shim-wasm2c-v1; MODULES_DIR the
#   built tests/modules (trap_unreachable.wasm, invalid.wasm, not_wasm.wasm); SCRIPT is
#   scripts/containerd-private.sh; MAKE_OCI_IMAGE is tests/e2e/make_oci_image.py.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

[[ $# -eq 6 ]] || fail "usage: $0 SHIM_DIR OCI_TAR_BUILDER DEMO_WASM MODULES_DIR SCRIPT MAKE_OCI_IMAGE"
shim_dir=$1 tar_builder=$2 demo_wasm=$3 modules=$4 script=$5 make_image=$6

require_root_and_containerd
runtimes=(v8 wasm2c)
for f in "${runtimes[@]/#/$shim_dir/containerd-shim-}"; do
  [[ -x ${f}-v1 ]] || fail "${f}-v1 is not built"
done
for f in "$tar_builder" "$script"; do [[ -x $f ]] || fail "$f is missing"; done
for f in "$demo_wasm" "$make_image" "$modules"/{trap_unreachable,invalid,not_wasm}.wasm; do
  [[ -r $f ]] || fail "$f is missing"
done
command -v script >/dev/null || fail "script(1) is missing (util-linux): needed for a tty"

ctr_e2e_setup e2e

sockets_before=$(shim_sockets)

ppid_of() { awk '{print $4}' "/proc/$1/stat" 2>/dev/null; }

c() { "$script" ctr "$dir" -n e2e "$@"; }

# Zombies whose parent is our containerd or one of its shims (a zombie reparented to init
# is init's business).
our_zombies() {
  local p stat state ppid out=""
  local -a argv
  for p in /proc/[0-9]*; do
    read -r stat 2>/dev/null <"$p/stat" || continue
    read -r state ppid _ <<<"${stat##*) }"  # after the comm, which may hold anything
    [[ $state == Z ]] || continue
    argv=()
    mapfile -d '' -t argv 2>/dev/null <"/proc/$ppid/cmdline" || true
    if [[ $ppid == "$containerd_pid" || "${argv[*]}" == *"$dir/containerd.sock"* ]]; then
      out+="${p#/proc/} (parent $ppid: ${argv[*]})"$'\n'
    fi
  done
  printf '%s' "$out"
}

# New sockets under /run/containerd/s that are not some other containerd's live shims
# (another private containerd may run beside us; its shims' sockets are not ours).
our_new_sockets() {
  local s owner
  while IFS= read -r s; do
    [[ -n $s ]] || continue
    owner=$(ss -xlpn 2>/dev/null | awk -v s="$s" '$5 == s' | grep -o 'pid=[0-9]*' | head -n1) || true
    owner=${owner#pid=}
    if [[ -n $owner ]] && ! tr '\0' ' ' <"/proc/$owner/cmdline" 2>/dev/null | grep -qF "$dir/"; then
      continue
    fi
    echo "$s${owner:+ (pid $owner)}"
  done < <(comm -13 <(echo "$sockets_before") <(shim_sockets))
}

# Name containerd and our shims give the socket of task ID (sha256 of ADDRESS/NS/ID).
socket_of() {
  echo "/run/containerd/s/$(printf '%s' "$dir/containerd.sock/e2e/$1" | sha256sum | cut -d' ' -f1)"
}

# Task ids used so far and the shim sockets named after them.
ids=()
id_sockets=()
add_id() {
  ids+=("$1")
  id_sockets+=("$(socket_of "$1")")
}


# What is left, in words; nothing when clean.
leftovers() {
  local left s
  left=$(leftover_procs)
  [[ -z $left ]] || { echo "processes left:"$'\n'"$left"; return; }
  left=$(our_zombies)
  [[ -z $left ]] || { echo "zombies left:"$'\n'"$left"; return; }
  left=$(our_new_sockets)
  [[ -z $left ]] || { echo "new sockets left under /run/containerd/s: $left"; return; }
  for s in "${id_sockets[@]}"; do
    [[ ! -e $s ]] || { echo "shim socket left: $s"; return; }
  done
  left=$(find "$dir/state/io.containerd.runtime.v2.task" -mindepth 2 -maxdepth 2 2>/dev/null || true)
  [[ -z $left ]] || { echo "bundles left: $left"; return; }
  left=$(mounts_in "$dir")
  [[ -z $left ]] || { echo "mounts left: $left"; return; }
  left=$(c tasks ls -q)
  [[ -z $left ]] || { echo "tasks left: $left"; return; }
  left=$(c containers ls -q)
  [[ -z $left ]] || { echo "containers left: $left"; return; }
  left=$(c snapshots ls | awk 'NR > 1 && $1 !~ /^sha256:/ {print $1}')
  [[ -z $left ]] || { echo "container snapshots left: $left"; return; }
  # ctr's cgroupsPath is /e2e/<id>: a container's cgroup goes with it (also when its shim
  # was SIGKILLed: the shim's delete removes it).
  left=$(find /sys/fs/cgroup/*/e2e /sys/fs/cgroup/e2e -mindepth 1 -maxdepth 1 -type d 2>/dev/null || true)
  [[ -z $left ]] || { echo "cgroups left: $left"; return; }
}

task_not_running() { [[ $(task_status "$1") != RUNNING ]]; }
gone() { ! alive "$1"; }
events_have() { grep -qF "$1" "$work/events"; }
# True when FILE holds exactly the line TEXT ($(<FILE) would drop extra newlines).
is_line() { cmp -s "$1" <(printf '%s\n' "$2"); }

step "images: the demo app (+ trap and invalid modules) and a hand-made bad one"
arch=$(oci_arch)
image=docker.io/runwasi-e2e/demo:latest
bad_image=docker.io/runwasi-e2e/bad:latest
"$tar_builder" --name "$image" --module "$demo_wasm" --module "$modules/trap_unreachable.wasm" \
  --module "$modules/invalid.wasm" -o "$work/demo.tar" >/dev/null
# oci-tar-builder refuses non-Wasm files such as this text file. (Native executables run
# in the sandbox now: tests/e2e/sandbox_ctr_test.sh.)
python3 "$make_image" "$work/bad.tar" "$bad_image" "$arch" \
  /not_wasm.wasm="$modules/not_wasm.wasm" >/dev/null

step "start the private containerd with our shims on its PATH"
t0=$SECONDS
start_containerd --path-prepend "$shim_dir"
c images import "$work/demo.tar" >/dev/null
c images import "$work/bad.tar" >/dev/null
fifo=$work/fifo
assert_clean "after start"

# Events of the whole run, checked per task in step 3. Run directly (not through c) so
# $! is ctr itself.
ctr --address "$dir/containerd.sock" -n e2e events >"$work/events" 2>&1 &
events_pid=$!
sleep 0.3

# run_rm RUNTIME ID ARGS...: ctr run --rm; sets rc, and the output in $work/out, $work/err.
run_rm() {
  local rt=$1 id=$2
  shift 2
  rc=0
  c run --rm --fifo-dir "$fifo" --runtime "io.containerd.$rt.v1" "$image" "$id" "$@" \
    >"$work/out" 2>"$work/err" </dev/null || rc=$?
}

for rt in "${runtimes[@]}"; do
  shim=containerd-shim-$rt-v1

  step "$rt 1: echo, exit 42, a trap"
  id=echo-$rt
  add_id "$id"
  run_rm "$rt" "$id" /wasi-demo-app.wasm echo hello
  [[ $rc -eq 0 ]] || fail "$rt: echo exited $rc: $(<"$work/err")"
  is_line "$work/out" hello || fail "$rt: echo printed '$(<"$work/out")', not 'hello'"
  is_line "$work/err" exiting || fail "$rt: echo's stderr is '$(<"$work/err")', not 'exiting'"
  add_id "exit-$rt"
  run_rm "$rt" "exit-$rt" /wasi-demo-app.wasm exit 42
  [[ $rc -eq 42 ]] || fail "$rt: exit 42 made ctr exit $rc: $(<"$work/err")"
  add_id "trap-$rt"
  run_rm "$rt" "trap-$rt" /trap_unreachable.wasm
  [[ $rc -eq 134 ]] || fail "$rt: the trap made ctr exit $rc, not 134: $(<"$work/err")"
  grep -q 'wasm trap' "$work/err" || fail "$rt: no 'wasm trap' on stderr: $(<"$work/err")"
  is_line "$work/out" "before trap" ||
    fail "$rt: stdout before the trap is '$(<"$work/out")', not 'before trap'"

  step "$rt 2: daemon, task ls/ps, SIGKILL -> 137, SIGTERM -> 143"
  for sig in KILL TERM; do
    id=daemon-$rt-$sig
    add_id "$id"
    c run -d --fifo-dir "$fifo" --runtime "io.containerd.$rt.v1" "$image" "$id" \
      /wasi-demo-app.wasm daemon >/dev/null 2>&1 </dev/null || fail "$rt: ctr run -d $id failed"
    wait_for 5 task_is "$id" RUNNING || fail "$rt: $id is not RUNNING: $(c tasks ls)"
    pid=$(c tasks ls | awk -v id="$id" '$1 == id {print $2}')
    ps_out=$(c tasks ps "$id")
    ps_pids=$(awk 'NR > 1 {print $1}' <<<"$ps_out")
    [[ $ps_pids =~ ^[0-9]+$ && $ps_pids == "$pid" ]] ||
      fail "$rt: task ps $id does not list just pid $pid:"$'\n'"$ps_out"
    alive "$pid" || fail "$rt: pid $pid of $id is not alive"
    name=$(awk '$1 == "Name:" {print $2}' "/proc/$pid/status")
    want=wasm:$id
    [[ $name == "${want:0:15}" ]] || fail "$rt: /proc/$pid/status names it '$name', not '${want:0:15}'"
    shim_pid=$(ppid_of "$pid")
    shim_args=$(tr '\0' ' ' <"/proc/$shim_pid/cmdline")
    [[ $shim_args == *"/$shim "* && $shim_args == *" -id $id "* &&
      $shim_args == *" -address $dir/containerd.sock "* ]] ||
      fail "$rt: the parent of $pid (pid $shim_pid) is not the shim of $id: $shim_args"
    # ctr has detached: the daemon keeps printing to the FIFOs, nobody reads them.
    sleep 1.2
    alive "$pid" && task_is "$id" RUNNING ||
      fail "$rt: $id died once ctr detached: $(c tasks ls)"
    if [[ $sig == KILL ]]; then
      c tasks kill -s SIGKILL "$id"
      want=137
    else
      c tasks kill "$id"  # SIGTERM
      want=143
    fi
    wait_for 5 task_is "$id" STOPPED || fail "$rt: $id is not STOPPED after SIG$sig: $(c tasks ls)"
    alive "$pid" && fail "$rt: pid $pid of $id survived SIG$sig"
    # ctr task delete reports a non-zero exit status as a warning and still returns 0.
    rc=0
    c tasks delete "$id" >"$work/out" 2>"$work/err" || rc=$?
    [[ $rc -eq 0 ]] || fail "$rt: task delete $id failed ($rc): $(<"$work/err")"
    grep -q "task $id exit with non-zero exit code $want\b" "$work/err" ||
      fail "$rt: task delete $id does not report exit code $want: $(<"$work/err")"
    c containers rm "$id"
  done

  step "$rt 3: events /tasks/create, /tasks/start, /tasks/exit, /tasks/delete in order"
  for id in "echo-$rt" "exit-$rt" "trap-$rt" "daemon-$rt-KILL" "daemon-$rt-TERM"; do
    wait_for 5 events_have "/tasks/delete {\"container_id\":\"$id\"" ||
      fail "$rt: no /tasks/delete event for $id:"$'\n'"$(<"$work/events")"
    order=$(awk -v id="\"container_id\":\"$id\"" 'index($0, id) && $6 ~ /^\/tasks\// {print $6}' \
      "$work/events" | tr '\n' ' ')
    [[ $order == "/tasks/create /tasks/start /tasks/exit /tasks/delete " ]] ||
      fail "$rt: events of $id: '$order'"
  done
  exit_event() { grep -F "/tasks/exit {\"container_id\":\"$1\"" "$work/events"; }
  [[ $(exit_event "exit-$rt") == *'"exit_status":42,'* ]] || fail "$rt: exit event: $(exit_event "exit-$rt")"
  [[ $(exit_event "trap-$rt") == *'"exit_status":134,'* ]] || fail "$rt: trap event: $(exit_event "trap-$rt")"
  [[ $(exit_event "daemon-$rt-KILL") == *'"exit_status":137,'* ]] ||
    fail "$rt: SIGKILL event: $(exit_event "daemon-$rt-KILL")"
  [[ $(exit_event "daemon-$rt-TERM") == *'"exit_status":143,'* ]] ||
    fail "$rt: SIGTERM event: $(exit_event "daemon-$rt-TERM")"
  [[ $(exit_event "echo-$rt") != *'"exit_status":'[1-9]* ]] || fail "$rt: echo event: $(exit_event "echo-$rt")"
  assert_clean "$rt steps 1-3"
done
kill "$events_pid"
wait "$events_pid" 2>/dev/null || true
events_pid=""

step "4: 50 sequential ctr run --rm (25 per runtime), then nothing left"
t4=$SECONDS
for rt in "${runtimes[@]}"; do
  for ((i = 0; i < 25; i++)); do
    id=seq-$rt-$i
    add_id "$id"
    run_rm "$rt" "$id" /wasi-demo-app.wasm echo "hello $i"
    [[ $rc -eq 0 ]] && is_line "$work/out" "hello $i" ||
      fail "$rt: run $i exited $rc, printed '$(<"$work/out")': $(<"$work/err")"
  done
done
echo "50 runs in $((SECONDS - t4)) s"
assert_clean "after 50 runs"

step "5: a shim SIGKILLed mid-task"
for rt in "${runtimes[@]}"; do
  shim=containerd-shim-$rt-v1
  id=shimkill-$rt
  add_id "$id"
  c run -d --fifo-dir "$fifo" --runtime "io.containerd.$rt.v1" "$image" "$id" \
    /wasi-demo-app.wasm daemon >/dev/null 2>&1 </dev/null || fail "$rt: ctr run -d $id failed"
  wait_for 5 task_is "$id" RUNNING || fail "$rt: $id is not RUNNING: $(c tasks ls)"
  pid=$(c tasks ls | awk -v id="$id" '$1 == id {print $2}')
  shim_pid=$(ppid_of "$pid")
  shim_args=$(tr '\0' ' ' <"/proc/$shim_pid/cmdline")
  [[ $shim_args == *"/$shim "* && $shim_args == *" -id $id "* ]] ||
    fail "$rt: the parent of $pid (pid $shim_pid) is not the shim of $id: $shim_args"
  # The shim's other children (its zygote) must go too.
  children=$(for p in /proc/[0-9]*; do
    [[ $(ppid_of "${p#/proc/}") == "$shim_pid" ]] && echo "${p#/proc/}"
  done || true)
  kill -KILL "$shim_pid"
  wait_for 2 gone "$pid" || fail "$rt: container pid $pid outlived its SIGKILLed shim by 2 s"
  for p in $children; do
    wait_for 2 gone "$p" || fail "$rt: pid $p ($(tr '\0' ' ' <"/proc/$p/cmdline")) outlived its shim"
  done
  wait_for 10 task_not_running "$id" || fail "$rt: containerd still shows $id RUNNING: $(c tasks ls)"
  status=$(task_status "$id")
  echo "$rt: after the shim's death containerd shows $id as '${status:-gone}'"
  if [[ -n $status ]]; then
    c tasks delete "$id" >/dev/null 2>&1 || fail "$rt: task delete $id failed after the shim died"
  fi
  c containers rm "$id" || fail "$rt: containers rm $id failed after the shim died"
  assert_clean "$rt after the shim was killed"
done

step "6: bad inputs fail create with our message and leave nothing"
# A spec through ctr run --config (no image, so root.path is ours). ctr re-marshals it,
# so it is always valid JSON: the bad cases are semantic (no process, no or empty args).
c oci spec >"$work/spec.json"
mkdir "$work/rootfs"
cp "$demo_wasm" "$work/rootfs/wasi-demo-app.wasm"
python3 - "$work" <<'EOF'
import copy, json, sys
work = sys.argv[1]
spec = json.load(open(work + "/spec.json"))
spec["root"] = {"path": work + "/rootfs", "readonly": True}
spec["process"]["args"] = ["/wasi-demo-app.wasm", "echo", "from", "config"]
variants = {"good": spec}
variants["noprocess"] = copy.deepcopy(spec)
del variants["noprocess"]["process"]
variants["noargs"] = copy.deepcopy(spec)
variants["noargs"]["process"]["args"] = []  # ctr drops it: "args" omitempty
variants["emptyarg"] = copy.deepcopy(spec)
variants["emptyarg"]["process"]["args"] = [""]
for name, s in variants.items():
    json.dump(s, open(f"{work}/{name}.json", "w"))
EOF

# bad RUNTIME ID MESSAGE HOW...: HOW fails, MESSAGE is in its stderr, nothing is left.
bad() {
  local rt=$1 id=$2 message=$3
  shift 3
  rc=0
  "$@" >"$work/out" 2>"$work/err" </dev/null || rc=$?
  [[ $rc -ne 0 ]] || fail "$rt: $id succeeded"
  grep -qF -- "$message" "$work/err" "$work/out" ||
    fail "$rt: $id: '$message' is not in ctr's output:"$'\n'"$(cat "$work/err" "$work/out")"
  if c containers ls -q | grep -qx "$id"; then
    echo "$rt: ctr left container $id; removing it"
    c containers rm "$id"
  fi
  add_id "$id"
  assert_clean "$rt after $id"
}
ctr_cmd=("$script" ctr "$dir" -n e2e)
for rt in "${runtimes[@]}"; do
  shim=containerd-shim-$rt-v1
  run=("${ctr_cmd[@]}" run --rm --fifo-dir "$fifo" --runtime "io.containerd.$rt.v1")
  bad "$rt" "nope-$rt" "the entrypoint /nope.wasm does not exist in the container's rootfs" \
    "${run[@]}" "$image" "nope-$rt" /nope.wasm
  bad "$rt" "notwasm-$rt" "/not_wasm.wasm is neither a WebAssembly module nor a native executable" \
    "${run[@]}" "$bad_image" "notwasm-$rt" /not_wasm.wasm
  if [[ $rt == v8 ]]; then invalid="invalid module"; else invalid="unexpected opcode"; fi
  bad "$rt" "invalid-$rt" "$invalid" "${run[@]}" "$image" "invalid-$rt" /invalid.wasm
  # ctr -t needs a console on stdin: script(1) gives it a pty (its output is ctr's). A
  # terminal works (tests/e2e/task_api_ctr_test.sh tries it in depth): the guest's line
  # comes through the pty (CRs, and the "^@" echo of a NUL, dropped).
  printf -v tty_cmd '%q ' "${run[@]}" -t "$image" "tty-$rt" /wasi-demo-app.wasm echo hi
  rc=0
  script -qec "$tty_cmd" /dev/null </dev/null >"$work/tty" 2>&1 || rc=$?
  tr -d '\r' <"$work/tty" | sed 's/\^@//g' >"$work/out"
  [[ $rc -eq 0 ]] && grep -qx 'hi' "$work/out" ||
    fail "$rt: ctr run -t echo hi exited $rc, printed: $(cat -A "$work/tty")"
  add_id "tty-$rt"
  assert_clean "$rt after run -t"

  # The --config path itself works: a valid spec runs.
  rc=0
  "${run[@]}" --config "$work/good.json" "config-$rt" >"$work/out" 2>"$work/err" || rc=$?
  [[ $rc -eq 0 ]] && is_line "$work/out" "from config" ||
    fail "$rt: a valid --config spec exited $rc, printed '$(<"$work/out")': $(<"$work/err")"
  add_id "config-$rt"
  bad "$rt" "noprocess-$rt" "config.json: process is missing" \
    "${run[@]}" --config "$work/noprocess.json" "noprocess-$rt"
  bad "$rt" "noargs-$rt" "config.json: process.args is missing" \
    "${run[@]}" --config "$work/noargs.json" "noargs-$rt"
  bad "$rt" "emptyarg-$rt" "config.json: process.args is empty" \
    "${run[@]}" --config "$work/emptyarg.json" "emptyarg-$rt"
done

step "stop: nothing left"
"$script" stop "$dir"
[[ -z $(procs_in "$dir") ]] || fail "processes left after stop: $(procs_in "$dir")"
left=$(our_new_sockets)
[[ -z $left ]] || fail "new sockets under /run/containerd/s: $left"
echo "PASS ($((SECONDS - t0)) s with containerd)"
