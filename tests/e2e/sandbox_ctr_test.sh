#!/usr/bin/env bash
# Issue 4's acceptance: every container, Wasm or native, runs in a Linux sandbox like
# runc's. Our shims (io.containerd.v8.v1, io.containerd.wasm2c.v1) under a private
# containerd, driven with ctr, against io.containerd.runc.v2 as the reference, with
# tests/modules/sandbox_probe (native and Wasm) reporting what it sees from inside:
#   1. report: pid 1; hostname, uid/gid/groups/umask, capabilities, NoNewPrivs and Seccomp
#      (ctr run --seccomp) as runc's; the mount points as runc's set and /proc /dev
#      /dev/pts /dev/shm /dev/mqueue /sys among them; /dev with null zero full random
#      urandom tty and the fd/stdin/stdout/stderr links; the spec's environment (native:
#      exactly runc's, which adds HOME=/; Wasm: the spec's, HOME=/ allowed); each of the
#      spec's namespaces other than the host's; the spec's cgroup; Wasm: the "/" preopen;
#   2. --memory-limit 32 MiB and `alloc 256`: exit 137 and a /tasks/oom event;
#   3. a spec through ctr run --config: hostname "probe-host"; pids.limit 5 and `fork 20`
#      (native): fewer than 20 forks, EAGAIN;
#   4. --read-only: writing / fails with EROFS (and works without it);
#   5. --mount bind rw: the host sees the file; ro: EROFS; Wasm: /data among the
#      preopens, and path_escape.wasm (on "/" and on /data) escapes nothing;
#   6. busybox: /bin/sh -c 'echo ok' prints ok;
#   7. 50 run -d / kill -9 / delete cycles per kind (Wasm: sleep.wasm, native: busybox
#      sleep), then no process, mount or cgroup of theirs is left;
#   8. bad specs (unknown namespace, missing root.path, a mount of an unknown fs type,
#      an unknown seccomp action, uid 4294967295) fail create with a message naming the
#      field and leave nothing.
# Every scenario runs for each runtime in RUNTIMES (default "runc v8 wasm2c"; the Wasm
# parts only for our shims); runc's report is the reference whatever RUNTIMES says.
# After each scenario nothing may be left: no task, container, bundle, mount, cgroup or
# process (shim, or a container seen running) of the containers so far.
# Skips (77) only without root or containerd.
#
# usage: sandbox_ctr_test.sh SHIM_DIR MODULES_DIR SCRIPT MAKE_OCI_IMAGE
#   SHIM_DIR holds containerd-shim-v8-v1 and containerd-shim-wasm2c-v1; MODULES_DIR the
#   built tests/modules (sandbox_probe, sandbox_probe.wasm, sleep.wasm, path_escape.wasm);
#   SCRIPT is scripts/containerd-private.sh; MAKE_OCI_IMAGE is tests/e2e/make_oci_image.py.
# Environment: RUNTIMES (a subset of "runc v8 wasm2c"), KINDS (a subset of "native wasm":
# the probes to run; the cycles too), CYCLES (default 50).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

[[ $# -eq 4 ]] || fail "usage: $0 SHIM_DIR MODULES_DIR SCRIPT MAKE_OCI_IMAGE"
shim_dir=$1 modules=$2 script=$3 make_image=$4

require_root_and_containerd
read -r -a runtimes <<<"${RUNTIMES:-runc v8 wasm2c}"
cycles=${CYCLES:-50}
kinds=" ${KINDS:-native wasm} "
declare -A runtime_name=(
  [runc]=io.containerd.runc.v2 [v8]=io.containerd.v8.v1 [wasm2c]=io.containerd.wasm2c.v1)
for rt in "${runtimes[@]}"; do
  [[ -n ${runtime_name[$rt]:-} ]] || fail "RUNTIMES: unknown runtime '$rt' (runc v8 wasm2c)"
  [[ $rt == runc || -x $shim_dir/containerd-shim-$rt-v1 ]] ||
    fail "$shim_dir/containerd-shim-$rt-v1 is not built"
done
command -v runc >/dev/null || fail "runc is not installed (scripts/install-deps.sh)"
command -v containerd-shim-runc-v2 >/dev/null ||
  fail "containerd-shim-runc-v2 is not installed (Debian's containerd ships it)"
busybox=/bin/busybox
[[ -x $busybox ]] || fail "$busybox is missing (busybox-static; scripts/install-deps.sh)"
[[ -x $script ]] || fail "$script is missing"
for f in "$make_image" "$modules"/{sandbox_probe,sandbox_probe.wasm,sleep.wasm,path_escape.wasm}; do
  [[ -r $f ]] || fail "$f is missing"
done
command -v jq >/dev/null || fail "jq is missing"

ctr_e2e_setup e2e-sandbox

c() { "$script" ctr "$dir" -n "$ns" "$@"; }

is_ours() { [[ $1 != runc ]]; }
# Kinds of container a runtime runs here (of KINDS): runc only native ones.
kinds_of() {
  [[ $kinds != *" native "* ]] || echo native
  [[ $kinds != *" wasm "* ]] || ! is_ours "$1" || echo wasm
}
declare -A image=(
  [native]=docker.io/runwasi-e2e/probe-native:latest
  [wasm]=docker.io/runwasi-e2e/probe-wasm:latest
  [busybox]=docker.io/runwasi-e2e/busybox:latest)
declare -A entry=([native]=/sandbox_probe [wasm]=/sandbox_probe.wasm)

# The test shell's namespaces, which a container's must differ from.
declare -A host_ns=()
for t in pid mnt net ipc uts cgroup; do host_ns[$t]=$(readlink "/proc/self/ns/$t"); done

# The host pid and start time of each container seen running.
touch "$work/container_pids"
start_time() {
  local stat
  local -a f
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  read -r -a f <<<"${stat##*) }"  # from field 3 on: the start time is field 22
  echo "${f[19]}"
}
record_pid() { echo "$1 $(start_time "$1")" >>"$work/container_pids"; }

# Recorded container processes still alive (the same pid and start time). Namespaces are
# no use here: the kernel reuses their inode numbers at once, for anyone's containers.
live_containers() {
  local pid start
  while read -r pid start; do
    alive "$pid" && [[ $(start_time "$pid") == "$start" ]] && echo "$pid ($(tr '\0' ' ' <"/proc/$pid/cmdline"))"
  done <"$work/container_pids"
  return 0
}

# Cgroups under ctr's /NS level (v1: in each hierarchy; v2: in the unified one).
leftover_cgroups() {
  find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d \
    \( -path "/sys/fs/cgroup/*/$ns/*" -o -path "/sys/fs/cgroup/$ns/*" \) 2>/dev/null || true
}

# What is left, in words; nothing when clean.
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
  left=$(mounts_in "$work")
  [[ -z $left ]] || { echo "mounts left: $left"; return; }
  left=$(leftover_cgroups)
  [[ -z $left ]] || { echo "cgroups left: $left"; return; }
  left=$(live_containers)
  [[ -z $left ]] || { echo "container processes alive: $left"; return; }
}


events_have() { grep -qF "$1" "$work/events"; }

# Removes what a failed or finished run left to ctr (its container; a task ctr did not
# delete), so the next check sees only what the runtime left.
forget() {
  if c tasks ls -q | grep -qxF "$1"; then c tasks delete --force "$1" >/dev/null 2>&1 || true; fi
  if c containers ls -q | grep -qxF "$1"; then c containers rm "$1" >/dev/null 2>&1 || true; fi
}

# run_rm RT ID CTR_RUN_ARGS...: ctr run --rm on runtime RT (ARGS: flags, image or
# --config, the id again, the command); sets rc, output in $work/out and $work/err.
run_rm() {
  local rt=$1 id=$2
  shift 2
  rc=0
  c run --rm --fifo-dir "$work/fifo" --runtime "${runtime_name[$rt]}" "$@" \
    >"$work/out" 2>"$work/err" </dev/null || rc=$?
  forget "$id"
}

# probe RT KIND ID [CTR_FLAGS...] [-- PROBE_ARGS...]: the probe of KIND in its image.
probe() {
  local rt=$1 kind=$2 id=$3
  shift 3
  local -a flags=()
  while [[ $# -gt 0 && $1 != -- ]]; do
    flags+=("$1")
    shift
  done
  [[ $# -gt 0 ]] && shift
  run_rm "$rt" "$id" "${flags[@]}" "${image[$kind]}" "$id" "${entry[$kind]}" "$@"
}

# Output of the last run, for messages.
seen() { printf 'exit %s; stdout:\n%s\nstderr:\n%s' "$rc" "$(<"$work/out")" "$(<"$work/err")"; }

# expect_out WHAT RC LINE: the last run exited RC and printed the line LINE.
expect_out() {
  [[ $rc -eq $2 ]] && grep -qxF -- "$3" "$work/out" ||
    fail "$1: expected exit $2 and the line '$3'; $(seen)"
}

# Values of KEY in a probe report (sorted, unique).
values() { { grep "^$2: " "$1" || true; } | sed "s/^$2: //" | sort -u; }
value() { { grep -m1 "^$2: " "$1" || true; } | sed "s/^$2: //"; }

# Compares KEY's values in report FILE with runc's; fails showing both.
same_as_runc() {
  local what=$1 file=$2 key=$3
  [[ $(values "$file" "$key") == $(values "$ref" "$key") ]] ||
    fail "$what: '$key' differs from runc's; runc:"$'\n'"$(values "$ref" "$key")"$'\n'"ours:"$'\n'"$(values "$file" "$key")"
}

# spec_for ID VARIANT KIND [ARGS...]: writes $work/ID.json, ctr's default spec with our
# rootfs directory, cgroupsPath /NS/ID, the probe of KIND with ARGS, changed by VARIANT.
spec_for() {
  local id=$1 variant=$2 kind=$3
  shift 3
  python3 - "$work/base.json" "$work/$id.json" "$id" "$variant" "$work/rootfs" "/$ns/$id" \
    "${entry[$kind]}" "$@" <<'EOF'
import json, sys
base, out, id, variant, rootfs, cgroup, *args = sys.argv[1:]
s = json.load(open(base))
s["root"] = {"path": rootfs, "readonly": True}
s["linux"]["cgroupsPath"] = cgroup
s["process"]["args"] = args
if variant == "hostname":
    s["hostname"] = "probe-host"
elif variant == "pids":
    s["linux"].setdefault("resources", {})["pids"] = {"limit": 5}
elif variant == "badns":
    s["linux"]["namespaces"].append({"type": "nosuchns"})
elif variant == "noroot":
    s["root"]["path"] = "/nonexistent/rootfs-" + id
elif variant == "badmount":
    s["mounts"].append({"destination": "/bad", "type": "nosuchfs", "source": "none"})
elif variant == "badseccomp":
    s["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_NOSUCH",
                             "architectures": ["SCMP_ARCH_X86_64"], "syscalls": []}
elif variant == "baduid":
    s["process"]["user"]["uid"] = 4294967295
else:
    assert variant == "plain", variant
json.dump(s, open(out, "w"))
EOF
}

# ---------------------------------------------------------------------------------------
step "images: the probe (native and Wasm, with sleep.wasm and path_escape.wasm), busybox"
arch=$(oci_arch)
python3 "$make_image" "$work/native.tar" "${image[native]}" "$arch" \
  /sandbox_probe="$modules/sandbox_probe" >/dev/null
python3 "$make_image" "$work/wasm.tar" "${image[wasm]}" "$arch" \
  /sandbox_probe.wasm="$modules/sandbox_probe.wasm" /sleep.wasm="$modules/sleep.wasm" \
  /path_escape.wasm="$modules/path_escape.wasm" >/dev/null
python3 "$make_image" "$work/busybox.tar" "${image[busybox]}" "$arch" \
  /bin/busybox="$busybox" "/bin/sh->busybox" /tmp/ >/dev/null
# The rootfs of the --config specs: both probes.
mkdir "$work/rootfs"
cp "$modules/sandbox_probe" "$modules/sandbox_probe.wasm" "$work/rootfs/"

step "start the private containerd with our shims on its PATH"
t0=$SECONDS
start_containerd --path-prepend "$shim_dir"
for kind in native wasm busybox; do c images import "$work/$kind.tar" >/dev/null; done
c oci spec >"$work/base.json"
assert_clean "after start"
# Events of the whole run (for /tasks/oom). Run directly (not through c) so $! is ctr.
ctr --address "$dir/containerd.sock" -n "$ns" events >"$work/events" 2>&1 &
events_pid=$!
sleep 0.3

# ---------------------------------------------------------------------------------------
# report RT KIND ID: the probe's report (ctr --seccomp, an extra env entry) in
# $work/report-ID, the spec ctr made in $work/spec-ID. Created, inspected, then started.
report() {
  local rt=$1 kind=$2 id=$3
  c containers create --runtime "${runtime_name[$rt]}" --seccomp --env "PROBE_ENV=a b=c" \
    "${image[$kind]}" "$id" "${entry[$kind]}" >/dev/null || fail "$rt/$kind: create $id failed"
  c containers info "$id" | jq .Spec >"$work/spec-$id"
  rc=0
  c tasks start --fifo-dir "$work/fifo" "$id" >"$work/out" 2>"$work/err" </dev/null || rc=$?
  forget "$id"
  cp "$work/out" "$work/report-$id"
  [[ $rc -eq 0 ]] || fail "$rt/$kind: the report exited $rc; $(seen)"
}

step "reference: runc's report of the native probe"
report runc native ref-runc
ref=$work/report-ref-runc
sed 's/^/  runc: /' "$ref" | grep -v -e '^  runc: dev: ' -e '^  runc: cgroup: '
assert_clean "after runc's report"

scenario_report() {
  local rt=$1 kind=$2 id=report-$1-$2 what="$1/$2 report"
  report "$rt" "$kind" "$id"
  local r=$work/report-$id spec=$work/spec-$id key t want have
  [[ $(value "$r" pid) == 1 ]] || fail "$what: pid is '$(value "$r" pid)', not 1"
  for key in hostname uid gid groups umask CapInh CapPrm CapEff CapBnd CapAmb NoNewPrivs Seccomp; do
    same_as_runc "$what" "$r" "$key"
  done
  # Mounts: the required ones with their types, and the same points as runc's.
  for want in "/proc proc" "/dev tmpfs" "/dev/pts devpts" "/dev/shm tmpfs" \
    "/dev/mqueue mqueue" "/sys sysfs"; do
    grep -qxF "mount: $want" "$r" || fail "$what: no 'mount: $want'; mounts:"$'\n'"$(values "$r" mount)"
  done
  if [[ $(values "$r" mount | cut -d' ' -f1 | sort -u) != $(values "$ref" mount | cut -d' ' -f1 | sort -u) ]]; then
    fail "$what: mount points differ from runc's:"$'\n'"$(diff <(values "$ref" mount | cut -d' ' -f1 | sort -u) \
      <(values "$r" mount | cut -d' ' -f1 | sort -u))"
  fi
  for want in "null chr" "zero chr" "full chr" "random chr" "urandom chr" "tty chr" \
    "fd lnk -> /proc/self/fd" "stdin lnk -> /proc/self/fd/0" "stdout lnk -> /proc/self/fd/1" \
    "stderr lnk -> /proc/self/fd/2"; do
    grep -qxF "dev: $want" "$r" || fail "$what: no 'dev: $want' in /dev:"$'\n'"$(values "$r" dev)"
  done
  # The environment: the spec's; runc adds HOME=/ when the spec has no HOME.
  local spec_env
  spec_env=$(jq -r '.process.env[]' "$spec" | sort -u)
  [[ -z $(comm -23 <(echo "$spec_env") <(values "$r" env)) ]] ||
    fail "$what: spec env missing: $(comm -23 <(echo "$spec_env") <(values "$r" env) | tr '\n' ' ')"
  if [[ $kind == native ]]; then
    same_as_runc "$what" "$r" env
  else
    have=$(comm -23 <(values "$r" env) <(echo "$spec_env") | grep -vx 'HOME=/' || true)
    [[ -z $have ]] || fail "$what: env not in the spec: $have"
  fi
  # Namespaces: each of the spec's other than the host's.
  for t in $(jq -r '.linux.namespaces[] | select(.path == null or .path == "") | .type' "$spec"); do
    case $t in mount) t=mnt ;; network) t=net ;; user | time) continue ;; esac
    have=$(value "$r" "ns $t")
    [[ -n $have && $have != error* && $have != "${host_ns[$t]}" ]] ||
      fail "$what: the $t namespace is '$have' (the host's: ${host_ns[$t]})"
  done
  # The cgroup: the spec's cgroupsPath (as seen without a cgroup namespace).
  if ! jq -e '.linux.namespaces[] | select(.type == "cgroup")' "$spec" >/dev/null; then
    want=$(jq -r .linux.cgroupsPath "$spec")
    if [[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]; then
      grep -qxF "cgroup: 0::$want" "$r" || fail "$what: not in cgroup $want:"$'\n'"$(values "$r" cgroup)"
    else
      for key in memory pids; do
        grep -qE "^cgroup: [0-9]+:$key:$want\$" "$r" ||
          fail "$what: not in the $key cgroup $want:"$'\n'"$(values "$r" cgroup)"
      done
    fi
  fi
  if [[ $kind == wasm ]]; then
    grep -qE '^preopen: [0-9]+ /$' "$r" || fail "$what: no '/' preopen:"$'\n'"$(values "$r" preopen)"
  fi
}

scenario_oom() {
  local rt=$1 kind=$2 id=oom-$1-$2
  probe "$rt" "$kind" "$id" --memory-limit 33554432 -- alloc 256
  [[ $rc -eq 137 ]] || fail "$rt/$kind: alloc 256 under a 32 MiB limit: expected exit 137; $(seen)"
  wait_for 5 events_have "/tasks/oom {\"container_id\":\"$id\"}" ||
    fail "$rt/$kind: no /tasks/oom event for $id; events of $id:"$'\n'"$(grep -F "\"$id\"" "$work/events")"
}

scenario_config() {
  local rt=$1 kind=$2 id
  id=hostname-$rt-$kind
  spec_for "$id" hostname "$kind"
  run_rm "$rt" "$id" --config "$work/$id.json" "$id"
  [[ $rc -eq 0 ]] || fail "$rt/$kind: the --config report exited $rc; $(seen)"
  [[ $(value "$work/out" hostname) == probe-host ]] ||
    fail "$rt/$kind: spec hostname probe-host, the probe sees '$(value "$work/out" hostname)'"
  [[ $kind == native ]] || return 0
  id=pids-$rt-$kind
  spec_for "$id" pids "$kind" fork 20
  run_rm "$rt" "$id" --config "$work/$id.json" "$id"
  local forks
  forks=$(value "$work/out" fork)
  [[ $rc -eq 0 && $forks =~ ^([0-9]+)\ of\ 20\ ok$ ]] && ((BASH_REMATCH[1] < 20)) ||
    fail "$rt/$kind: fork 20 under pids.limit 5: expected fewer than 20; $(seen)"
  [[ $(value "$work/out" "fork error") == "Resource temporarily unavailable" ]] ||
    fail "$rt/$kind: fork under pids.limit 5 failed with '$(value "$work/out" "fork error")', not EAGAIN"
}

scenario_read_only() {
  local rt=$1 kind=$2
  probe "$rt" "$kind" "rw-$rt-$kind" -- write /x
  expect_out "$rt/$kind: write /x on a writable rootfs" 0 "write /x: ok"
  probe "$rt" "$kind" "ro-$rt-$kind" --read-only -- write /x
  expect_out "$rt/$kind: write /x with --read-only" 1 "write /x: Read-only file system"
}

scenario_bind() {
  local rt=$1 kind=$2 host=$work/bind-$1-$2 rw ro id
  mkdir "$host"
  rw=type=bind,src=$host,dst=/data,options=rbind:rw
  ro=type=bind,src=$host,dst=/data,options=rbind:ro
  probe "$rt" "$kind" "bindrw-$rt-$kind" --mount "$rw" -- write /data/f
  expect_out "$rt/$kind: write /data/f on a rw bind mount" 0 "write /data/f: ok"
  [[ $(<"$host/f") == "written by sandbox_probe" ]] ||
    fail "$rt/$kind: the host's $host/f holds '$(cat "$host/f" 2>&1)'"
  probe "$rt" "$kind" "bindro-$rt-$kind" --mount "$ro" -- write /data/g
  expect_out "$rt/$kind: write /data/g on a ro bind mount" 1 "write /data/g: Read-only file system"
  [[ ! -e $host/g ]] || fail "$rt/$kind: $host/g exists after a write to a ro mount"
  [[ $kind == wasm ]] || return 0
  probe "$rt" "$kind" "bindpre-$rt-$kind" --mount "$rw"
  [[ $rc -eq 0 ]] && grep -qE '^preopen: [0-9]+ /data$' "$work/out" ||
    fail "$rt/$kind: /data is not among the preopens: $(seen)"
  # path_escape: on the rootfs and on the mount; it creates pe_* files, none may appear
  # outside (on the host: anywhere in $work but the bind directory).
  local guest
  for guest in / /data; do
    id=escape-$rt-${guest#/}
    id=${id%-}  # the one on "/" is escape-RT
    run_rm "$rt" "$id" --mount "$rw" "${image[wasm]}" "$id" /path_escape.wasm "$guest"
    [[ $rc -eq 0 ]] || fail "$rt/$kind: path_escape.wasm $guest: $(seen)"
  done
  local outside
  outside=$(find "$work" -path "$work/cd" -prune -o -path "$host" -prune -o -name 'pe_*' -print)
  [[ -z $outside ]] || fail "$rt/$kind: path_escape left files outside: $outside"
}

scenario_busybox() {
  local rt=$1 id=busybox-$1
  run_rm "$rt" "$id" "${image[busybox]}" "$id" /bin/sh -c 'echo ok'
  [[ $rc -eq 0 ]] && [[ $(<"$work/out") == ok ]] || fail "$rt: busybox sh -c 'echo ok': $(seen)"
}

# CYCLES × run -d, SIGKILL, task delete, container delete of KIND (wasm: sleep.wasm;
# native: busybox sleep); each container's pid is recorded for the leftover check.
scenario_cycles() {
  local rt=$1 kind=$2 i id pid t=$SECONDS
  local -a cmd
  if [[ $kind == wasm ]]; then
    cmd=("${image[wasm]}" ID /sleep.wasm 100000)
  else
    cmd=("${image[busybox]}" ID /bin/busybox sleep 100)
  fi
  for ((i = 0; i < cycles; i++)); do
    id=cycle-$rt-$kind-$i
      cmd[1]=$id
    c run -d --fifo-dir "$work/fifo" --runtime "${runtime_name[$rt]}" "${cmd[@]}" \
      >/dev/null 2>"$work/err" </dev/null || fail "$rt/$kind: run -d $id: $(<"$work/err")"
    wait_for 5 task_is "$id" RUNNING || fail "$rt/$kind: $id is not RUNNING: $(c tasks ls)"
    pid=$(c tasks ls | awk -v id="$id" '$1 == id {print $2}')
    record_pid "$pid"
    c tasks kill -s SIGKILL "$id"
    wait_for 5 task_is "$id" STOPPED || fail "$rt/$kind: $id is not STOPPED after SIGKILL: $(c tasks ls)"
    c tasks delete "$id" >/dev/null 2>"$work/err" || fail "$rt/$kind: task delete $id: $(<"$work/err")"
    c containers rm "$id" || fail "$rt/$kind: containers rm $id failed"
  done
  echo "$rt/$kind: $cycles cycles in $((SECONDS - t)) s"
}

# bad_spec RT KIND VARIANT MESSAGE: the spec fails, MESSAGE (case-insensitive) is in
# ctr's output.
bad_spec() {
  local rt=$1 kind=$2 variant=$3 message=$4 id=$3-$1
  spec_for "$id" "$variant" "$kind"
  run_rm "$rt" "$id" --config "$work/$id.json" "$id"
  [[ $rc -ne 0 ]] || fail "$rt: the $variant spec ran; $(seen)"
  grep -qiF -- "$message" "$work/err" "$work/out" ||
    fail "$rt: the $variant spec's failure does not mention '$message'; $(seen)"
  assert_clean "$rt after the $variant spec"
}

scenario_bad_specs() {
  local rt=$1
  # Ours must name the spec field; runc's own wording is checked for the reference.
  if is_ours "$rt"; then
    bad_spec "$rt" wasm badns "linux.namespaces"
    bad_spec "$rt" wasm noroot "root.path"
    bad_spec "$rt" wasm badmount "mounts"
    bad_spec "$rt" wasm badseccomp "seccomp"
    bad_spec "$rt" wasm baduid "uid"
  else
    bad_spec "$rt" native badns "namespace"
    bad_spec "$rt" native noroot "rootfs"
    bad_spec "$rt" native badmount "mounting"
    bad_spec "$rt" native badseccomp "seccomp"
    bad_spec "$rt" native baduid "uid"
  fi
}

for rt in "${runtimes[@]}"; do
  t_rt=$SECONDS
  for kind in $(kinds_of "$rt"); do
    step "$rt/$kind 1: the report against runc's"
    scenario_report "$rt" "$kind"
    step "$rt/$kind 2: a 32 MiB memory limit: OOM, exit 137, /tasks/oom"
    scenario_oom "$rt" "$kind"
    step "$rt/$kind 3: --config: hostname$([[ $kind == native ]] && echo ', pids.limit 5')"
    scenario_config "$rt" "$kind"
    step "$rt/$kind 4: --read-only rootfs"
    scenario_read_only "$rt" "$kind"
    step "$rt/$kind 5: bind mounts rw and ro$([[ $kind == wasm ]] && echo ', preopens, path_escape')"
    scenario_bind "$rt" "$kind"
    assert_clean "$rt/$kind scenarios 1-5"
  done
  step "$rt 6: busybox sh -c 'echo ok'"
  scenario_busybox "$rt"
  step "$rt 7: $cycles run -d / SIGKILL / delete cycles per kind"
  for kind in $(kinds_of "$rt"); do scenario_cycles "$rt" "$kind"; done
  assert_clean "$rt after the cycles"
  step "$rt 8: bad specs fail naming the field and leave nothing"
  scenario_bad_specs "$rt"
  echo "$rt: $((SECONDS - t_rt)) s"
done

kill "$events_pid"
wait "$events_pid" 2>/dev/null || true
events_pid=""
assert_clean "at the end"

step "stop: nothing left"
"$script" stop "$dir"
[[ -z $(procs_in "$dir") ]] || fail "processes left after stop: $(procs_in "$dir")"
[[ -z $(live_containers) ]] || fail "container processes alive after stop: $(live_containers)"
echo "PASS ($((SECONDS - t0)) s with containerd; runtimes: ${runtimes[*]})"
