#!/usr/bin/env bash
# scripts/containerd-private.sh against Debian's containerd: start answers (version,
# plugins, namespaces), an image built here imports, unpacks, mounts and runs under runc,
# and stop leaves nothing behind, both after a normal run and after containerd was
# SIGKILLed with a container running. Skips (77) only without root or containerd.
#
# usage: containerd_private_test.sh [SCRIPT]   (env RUNWASI_E2E_CC: a C compiler)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
script=${1:-$here/../../scripts/containerd-private.sh}
cc=${RUNWASI_E2E_CC:-cc}
image=docker.io/runwasi-e2e/pause:latest
hello="hello from the e2e layer"

# shellcheck source=lib.sh
source "$here/lib.sh"

require_root_and_containerd
command -v runc >/dev/null || fail "runc is missing (Debian's containerd depends on it)"

work=$(mktemp -d)
dirs=()
cleanup() {
  local d
  for d in "${dirs[@]}"; do "$script" stop "$d" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

sockets_before=$(shim_sockets)

assert_clean() {
  local dir=$1 p leftover
  shift
  leftover=$(procs_in "$dir")
  [[ -z $leftover ]] || fail "processes left for $dir:"$'\n'"$leftover"
  [[ -z $(mounts_in "$dir") ]] || fail "mounts left under $dir: $(mounts_in "$dir")"
  [[ ! -e $dir ]] || fail "$dir was not removed"
  for p in "$@"; do
    alive "$p" && fail "pid $p ($(tr '\0' ' ' <"/proc/$p/cmdline")) survived stop"
  done
  leftover=$(grep -rlsF "bundle=$dir/" /run/containerd/runc || true)
  [[ -z $leftover ]] || fail "runc state left: $leftover"
  return 0
}

no_cgroup() {
  local left
  left=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -path "*/e2e/$1" 2>/dev/null || true)
  [[ -z $left ]] || fail "cgroups left: $left"
}

start() {
  local dir=$1 out
  out=$("$script" start "$dir" --path-prepend "$work/bin") ||
    fail "containerd did not start; see the log above"
  eval "$out"
  [[ $CONTAINERD_ADDRESS == "$dir/containerd.sock" ]] || fail "CONTAINERD_ADDRESS=$CONTAINERD_ADDRESS"
  [[ $CONTAINERD_TTRPC_ADDRESS == "$dir/containerd.sock.ttrpc" ]] ||
    fail "CONTAINERD_TTRPC_ADDRESS=$CONTAINERD_TTRPC_ADDRESS"
}

c() { "$script" ctr "$1" -n e2e "${@:2}"; }

# Runs the image detached as ID; prints "TASK_PID SHIM_PID SHIM_SOCKET".
run_detached() {
  local dir=$1 id=$2 task_pid shim_pid bundle
  c "$dir" run -d --fifo-dir "$dir/fifo" "$image" "$id" /pause >/dev/null
  task_pid=$(c "$dir" tasks ls | awk -v id="$id" '$1 == id && $3 == "RUNNING" {print $2}')
  [[ -n $task_pid ]] || fail "task $id is not RUNNING: $(c "$dir" tasks ls)"
  shim_pid=$(awk '{print $4}' "/proc/$task_pid/stat")
  bundle=$dir/state/io.containerd.runtime.v2.task/e2e/$id
  [[ -r $bundle/address ]] || fail "no shim address file in $bundle"
  local socket
  socket=$(<"$bundle/address")
  socket=${socket#unix://}
  [[ -S $socket ]] || fail "shim socket $socket does not exist"
  [[ $(readlink "/proc/$shim_pid/cwd") == "$bundle" ]] || fail "pid $shim_pid is not the shim"
  echo "$task_pid $shim_pid $socket"
}

step "image: a static pause binary and a text file in one layer"
mkdir -p "$work/bin"
printf '#include <unistd.h>\nint main(void) { for (;;) pause(); }\n' >"$work/pause.c"
"$cc" -x c -static -O2 -o "$work/pause" "$work/pause.c" || fail "$cc cannot link a static binary"
echo "$hello" >"$work/hello.txt"
arch=$(oci_arch)
python3 "$here/make_oci_image.py" "$work/image.tar" "$image" "$arch" \
  /pause="$work/pause" /hello.txt="$work/hello.txt" >/dev/null

step "start fails, cleanly, when containerd does not come up"
bad=$(mktemp -d)
dirs+=("$bad")
if CONTAINERD=/bin/false "$script" start "$bad" >/dev/null 2>&1; then
  fail "start succeeded with CONTAINERD=/bin/false"
fi
"$script" stop "$bad"
assert_clean "$bad"

step "start: the private containerd answers"
dir1=$(mktemp -d)
dirs+=("$dir1")
t0=$SECONDS
start "$dir1"
pid1=$(<"$dir1/containerd.pid")
# Outputs are captured first: with pipefail, grep -q closing the pipe early fails it.
version=$("$script" ctr "$dir1" version)
grep -q '^Server:' <<<"$version" || fail "ctr version shows no server:"$'\n'"$version"
environ=$(tr '\0' '\n' <"/proc/$pid1/environ")
grep -qx "PATH=$work/bin:.*" <<<"$environ" || fail "containerd's PATH does not start with $work/bin"
plugins=$("$script" ctr "$dir1" plugins ls)
for p in 'io.containerd.snapshotter.v1 +overlayfs' 'io.containerd.runtime.v2 +task' \
  'io.containerd.grpc.v1 +cri'; do
  grep -Eq "^$p .* ok *$" <<<"$plugins" || fail "plugin $p is not ok:"$'\n'"$plugins"
done
"$script" ctr "$dir1" namespaces create e2e
namespaces=$("$script" ctr "$dir1" namespaces ls -q)
grep -qx e2e <<<"$namespaces" || fail "namespace e2e not listed: $namespaces"

step "import, unpack, mount (left mounted for stop) and run"
c "$dir1" images import "$work/image.tar" >/dev/null
images=$(c "$dir1" images ls -q)
grep -qxF "$image" <<<"$images" || fail "$image not imported: $images"
[[ -n $(c "$dir1" snapshots ls | tail -n +2) ]] || fail "the image was not unpacked"
mkdir "$dir1/mnt"
c "$dir1" images mount "$image" "$dir1/mnt" >/dev/null
[[ $(<"$dir1/mnt/hello.txt") == "$hello" ]] || fail "mounted image lacks hello.txt"
read -r task1 shim1 socket1 < <(run_detached "$dir1" pause1)

step "stop: tasks deleted, containerd stopped, mounts and dir gone"
"$script" stop "$dir1"
assert_clean "$dir1" "$pid1" "$task1" "$shim1"
no_cgroup pause1
[[ ! -e $socket1 ]] || fail "shim socket $socket1 left"

step "stop after containerd was SIGKILLed with a task running"
dir2=$(mktemp -d)
dirs+=("$dir2")
start "$dir2"
pid2=$(<"$dir2/containerd.pid")
c "$dir2" images import "$work/image.tar" >/dev/null
read -r task2 shim2 socket2 < <(run_detached "$dir2" pause2)
kill -KILL "$pid2"
while alive "$pid2"; do sleep 0.05; done
alive "$shim2" || fail "the shim died with containerd; the orphan case is not exercised"
[[ -n $(mounts_in "$dir2") ]] || fail "no rootfs mount under $dir2 to clean up"
"$script" stop "$dir2"
assert_clean "$dir2" "$task2" "$shim2"
no_cgroup pause2
[[ ! -e $socket2 ]] || fail "shim socket $socket2 left"

step "stop is idempotent"
"$script" stop "$dir2"
"$script" stop "$dir1" --keep

new_sockets=$(comm -13 <(echo "$sockets_before") <(shim_sockets))
[[ -z $new_sockets ]] || fail "new sockets under /run/containerd/s: $new_sockets"
echo "PASS ($((SECONDS - t0)) s with containerd)"
