#!/usr/bin/env bash
# A private containerd for the e2e tests and the demo: Debian's containerd with its own
# config, root, state and sockets under one directory, started in the background and
# stopped by PID, leaving nothing behind.
#
#   containerd-private.sh start DIR [--path-prepend BINDIR]... [--pause-image TAR]
#       Writes DIR/config.toml, starts containerd (PATH prefixed by each BINDIR, so it finds
#       our shims), waits until it answers and prints `export CONTAINERD_ADDRESS=...` lines
#       for eval. Log: DIR/containerd.log, PID: DIR/containerd.pid.
#       CRI (on the same socket): runtime handlers runc, wasm (= v8), v8 and wasm2c; a CNI
#       bridge network (DIR/cni: its config, its IPAM store) with a bridge and a /24 of its
#       own; --pause-image imports TAR (tools/pause's image) into namespace k8s.io and
#       makes it the sandbox_image.
#   containerd-private.sh stop DIR [--keep]
#       Deletes the tasks it still runs, stops it (SIGTERM, SIGKILL after 10 s), kills the
#       shims and containers it left, deletes their runc state, unmounts everything under
#       DIR (pods' network namespaces too), deletes its CNI bridge and cached CNI results,
#       removes its shim sockets from /run/containerd/s and then DIR (unless --keep).
#       Idempotent. (`ctr run --fifo-dir DIR/fifo` keeps ctr's FIFOs in DIR too.)
#   containerd-private.sh ctr DIR ARGS...
#       ctr --address DIR/containerd.sock ARGS...
#
# Environment: CONTAINERD_PRIVATE_LOG_LEVEL (debug, info, ...; default info),
# CONTAINERD_PRIVATE_TIMEOUT (seconds start waits; default 20), CONTAINERD and CTR (the
# binaries; default from PATH).
set -euo pipefail

readonly containerd_bin=${CONTAINERD:-containerd}
readonly ctr_bin=${CTR:-ctr}
# Fixed by containerd whatever its config: shim sockets live here (PROTOCOL.md).
readonly shim_socket_dir=/run/containerd/s
readonly runc_root=/run/containerd/runc

die() {
  echo "containerd-private: $*" >&2
  exit 1
}

usage() {
  sed -n '6,22s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

# DIR made absolute without requiring it to exist; every path below derives from it.
absolute_dir() {
  [[ -n $1 ]] || die "DIR must not be empty"
  realpath -m -- "$1"
}

# The PID in DIR/containerd.pid if that process is still our containerd (not a recycled PID).
running_pid() {
  local dir=$1 pid
  [[ -r $dir/containerd.pid ]] || return 1
  pid=$(<"$dir/containerd.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  cmdline_has "$pid" "$dir/config.toml" || return 1
  echo "$pid"
}

# True when one of PID's arguments is exactly ARG.
cmdline_has() {
  local pid=$1 arg=$2 a
  [[ -r /proc/$pid/cmdline ]] || return 1
  while IFS= read -r -d '' a; do
    [[ $a == "$arg" ]] && return 0
  done <"/proc/$pid/cmdline" 2>/dev/null
  return 1
}

# True while PID exists and is not a zombie.
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

answers() {
  # ctr keeps retrying a socket that does not exist yet; do not wait on it.
  [[ -S $1/containerd.sock ]] && timeout 2 "$ctr_bin" --address "$1/containerd.sock" version >/dev/null 2>&1
}

# CNI names derived from DIR, so that two private containerds never share a bridge, a
# network (libcni caches results per network name) or an address range.
dir_hash() { printf '%s' "$1" | sha256sum | cut -c1-8; }
cni_bridge() { echo "rwcni$(dir_hash "$1")"; } # 13 characters: IFNAMSIZ allows 15
cni_network() { echo "runwasi-$(dir_hash "$1")"; }
readonly cni_cache_dir=/var/lib/cni/results # libcni's default, which containerd keeps

# A free 10.123.N.0/24: N from DIR's hash, or the next N while a host route covers it.
cni_subnet() {
  local n i routes
  routes=$(ip -4 route show 2>/dev/null || true)
  n=$((16#$(dir_hash "$1" | cut -c1-2)))
  for ((i = 0; i < 256; i++)); do
    if ! grep -q "^10\.123\.$(((n + i) % 256))\." <<<"$routes"; then
      echo "10.123.$(((n + i) % 256)).0/24"
      return 0
    fi
  done
  die "no free /24 in 10.123.0.0/16 for the CNI bridge"
}

# The image name a tarball made by tests/e2e/make_oci_image.py (or ctr export) carries.
image_name_in() {
  local name
  name=$(tar -xOf "$1" index.json 2>/dev/null | python3 -c '
import json, sys
for m in json.load(sys.stdin).get("manifests", []):
    name = m.get("annotations", {}).get("io.containerd.image.name")
    if name:
        print(name)
        break
') || true
  [[ -n $name ]] || die "$1: no io.containerd.image.name in its index.json"
  [[ $name != *[\\\"$'\n']* ]] || die "$1: the image name $name holds quotes"
  echo "$name"
}

write_cni_config() {
  local dir=$1 subnet
  subnet=$(cni_subnet "$dir")
  mkdir -p "$dir/cni/net.d" "$dir/cni/ipam"
  # No ipMasq or portmap: they would add iptables rules to the host. Pods reach each
  # other and the host through the bridge, which is all the tests need.
  cat >"$dir/cni/net.d/10-runwasi.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$(cni_network "$dir")",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$(cni_bridge "$dir")",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$subnet"}]],
        "dataDir": "$dir/cni/ipam"
      }
    }
  ]
}
EOF
}

write_config() {
  local dir=$1 level=$2 sandbox_image=$3 sandbox_line=""
  [[ -z $sandbox_image ]] || sandbox_line="  sandbox_image = \"$sandbox_image\""
  # CRI: on this machine root may not lower oom_score_adj (restrict_oom_score_adj); pods'
  # network namespaces live under our state; the streaming server (exec, attach) takes a
  # free port, so that private containerds do not collide on 10010. The runtime handlers
  # are what a RuntimeClass names (docs/kubernetes.md); runc's options type is runc's only.
  cat >"$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"

[grpc]
  address = "$dir/containerd.sock"

[ttrpc]
  address = "$dir/containerd.sock.ttrpc"

[debug]
  level = "$level"

[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"

[plugins."io.containerd.grpc.v1.cri"]
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
$sandbox_line
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wasm]
      runtime_type = "io.containerd.v8.v1"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.v8]
      runtime_type = "io.containerd.v8.v1"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wasm2c]
      runtime_type = "io.containerd.wasm2c.v1"
EOF
  write_cni_config "$dir"
}

cmd_start() {
  [[ $# -ge 1 ]] || usage
  local dir path_prefix="" level=${CONTAINERD_PRIVATE_LOG_LEVEL:-info}
  local timeout_s=${CONTAINERD_PRIVATE_TIMEOUT:-20} pause_image="" sandbox_image=""
  dir=$(absolute_dir "$1")
  shift
  while [[ $# -gt 0 ]]; do
    case $1 in
      --path-prepend)
        [[ $# -ge 2 ]] || die "--path-prepend needs a directory"
        [[ -d $2 ]] || die "--path-prepend $2: not a directory"
        path_prefix+="$(realpath -- "$2"):"
        shift 2
        ;;
      --pause-image)
        [[ $# -ge 2 ]] || die "--pause-image needs an image tarball"
        [[ -r $2 ]] || die "--pause-image $2: not readable"
        pause_image=$(realpath -- "$2")
        sandbox_image=$(image_name_in "$pause_image")
        shift 2
        ;;
      *) die "start: unknown argument $1" ;;
    esac
  done
  [[ $level =~ ^(trace|debug|info|warn|error|fatal|panic)$ ]] ||
    die "CONTAINERD_PRIVATE_LOG_LEVEL=$level is not a containerd log level"
  command -v "$containerd_bin" >/dev/null || die "$containerd_bin not found (apt-get install containerd)"
  command -v "$ctr_bin" >/dev/null || die "$ctr_bin not found (apt-get install containerd)"
  # sun_path holds 107 bytes; containerd would fail later with a less clear message.
  # The path goes into TOML strings unescaped.
  [[ $dir != *[\\\"$'\n']* ]] || die "$dir: quotes, backslashes and newlines are not supported"
  local suffix=/containerd.sock.ttrpc pid
  ((${#dir} + ${#suffix} <= 107)) || die "$dir is too long for a unix socket path"
  if pid=$(running_pid "$dir"); then
    die "a containerd (pid $pid) already runs with $dir/config.toml; stop it first"
  fi

  mkdir -p "$dir"
  write_config "$dir" "$level" "$sandbox_image"
  # setsid: its own session, so the caller's terminal signals do not reach it; stdio to
  # the log so `eval "$(... start ...)"` does not wait on it.
  PATH="$path_prefix$PATH" setsid "$containerd_bin" --config "$dir/config.toml" \
    </dev/null >>"$dir/containerd.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/containerd.pid"

  local deadline=$((SECONDS + timeout_s))
  until answers "$dir"; do
    if ! alive "$pid"; then
      echo "containerd-private: containerd exited during start-up; $dir/containerd.log:" >&2
      tail -n 30 "$dir/containerd.log" >&2
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      echo "containerd-private: containerd did not answer within ${timeout_s} s; $dir/containerd.log:" >&2
      tail -n 30 "$dir/containerd.log" >&2
      kill -KILL "$pid" 2>/dev/null || true
      exit 1
    fi
    sleep 0.1
  done

  if [[ -n $pause_image ]]; then
    # Unpacked (the default), so CRI finds its snapshot; CRI sees the image at once.
    "$ctr_bin" --address "$dir/containerd.sock" -n k8s.io images import "$pause_image" >/dev/null ||
      die "could not import $pause_image into namespace k8s.io"
  fi

  printf 'export CONTAINERD_ADDRESS=%q\n' "$dir/containerd.sock"
  printf 'export CONTAINERD_TTRPC_ADDRESS=%q\n' "$dir/containerd.sock.ttrpc"
  printf 'export CONTAINERD_PRIVATE_DIR=%q\n' "$dir"
}

# Task bundles: DIR/state/io.containerd.runtime.v2.task/NS/ID.
bundles() {
  local b
  for b in "$1"/state/io.containerd.runtime.v2.task/*/*; do
    [[ -d $b ]] && echo "$b"
  done
}

# Shim sockets under /run/containerd/s that this containerd's shims own: from each
# bundle's `address` file, and the name containerd derives for the bundle's id
# (sha256 of ADDRESS/NS/ID), in case the shim died before writing the file.
shim_sockets() {
  local dir=$1 b addr ns id
  while IFS= read -r b; do
    if [[ -r $b/address ]]; then
      addr=$(<"$b/address")
      addr=${addr#unix://}
      [[ $addr == "$shim_socket_dir"/* ]] && echo "$addr"
    fi
    id=${b##*/}
    ns=${b%/*}
    ns=${ns##*/}
    echo "$shim_socket_dir/$(printf '%s' "$dir/containerd.sock/$ns/$id" | sha256sum | cut -d' ' -f1)"
  done < <(bundles "$dir")
}

# Asks containerd to kill and delete the tasks it still runs, so shims and runtimes clean
# up after themselves; bounded, since a broken shim must not hang stop.
delete_tasks() {
  local dir=$1 ns task
  while IFS= read -r ns; do
    while IFS= read -r task; do
      [[ -n $task ]] || continue
      timeout 5 "$ctr_bin" --address "$dir/containerd.sock" -n "$ns" tasks delete --force "$task" \
        >/dev/null 2>&1 || echo "containerd-private: could not delete task $ns/$task" >&2
    done < <(timeout 5 "$ctr_bin" --address "$dir/containerd.sock" -n "$ns" tasks ls -q 2>/dev/null || true)
  done < <(timeout 5 "$ctr_bin" --address "$dir/containerd.sock" namespaces ls -q 2>/dev/null || true)
}

# SIGTERM, then SIGKILL after GRACE seconds.
terminate() {
  local pid=$1 grace=$2 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  echo "containerd-private: pid $pid ignored SIGTERM for ${grace} s; SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

# PIDs of this script and its ancestors: never candidates, even when run from inside DIR.
protected_pids() {
  local pid=$BASHPID
  while [[ $pid =~ ^[0-9]+$ && $pid -gt 1 ]]; do
    echo "$pid"
    pid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null) || break
  done
}

# Processes this containerd left: its own (--config DIR/config.toml), shims and clients
# naming its sockets, processes whose cwd is a bundle or under its root, and all their
# descendants (the containers the shims ran).
leftover_pids() {
  local dir=$1 pid cwd
  local -A protected=() seeds=() parent_of=()
  while IFS= read -r pid; do protected[$pid]=1; done < <(protected_pids)
  for pid in /proc/[0-9]*; do
    pid=${pid#/proc/}
    [[ -n ${protected[$pid]:-} ]] && continue
    alive "$pid" || continue
    parent_of[$pid]=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null) || continue
    cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || cwd=""
    cwd=${cwd% (deleted)}
    if [[ $cwd == "$dir"/state/* || $cwd == "$dir"/root/* ]] ||
      cmdline_has "$pid" "$dir/config.toml" ||
      cmdline_has "$pid" "$dir/containerd.sock" ||
      cmdline_has "$pid" "$dir/containerd.sock.ttrpc"; then
      seeds[$pid]=1
    fi
  done
  # Descendants: repeat until no process's parent is newly a member.
  local changed=1
  while ((changed)); do
    changed=0
    for pid in "${!parent_of[@]}"; do
      if [[ -z ${seeds[$pid]:-} && -n ${seeds[${parent_of[$pid]}]:-} && -z ${protected[$pid]:-} ]]; then
        seeds[$pid]=1
        changed=1
      fi
    done
  done
  for pid in "${!seeds[@]}"; do echo "$pid"; done
}

kill_leftovers() {
  local dir=$1 pid i
  local -a pids=()
  mapfile -t pids < <(leftover_pids "$dir")
  ((${#pids[@]})) || return 0
  echo "containerd-private: killing leftover processes ${pids[*]}" >&2
  kill -KILL "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    local left=0
    for pid in "${pids[@]}"; do alive "$pid" && left=1; done
    ((left)) || return 0
    sleep 0.1
  done
  echo "containerd-private: processes still alive after SIGKILL: ${pids[*]}" >&2
}

# runc's state and cgroups for containers of our bundles, which only `runc delete` removes
# when the shim that would have run it was killed. runc keeps them outside DIR, under
# /run/containerd/runc/NS/ID, with the bundle in the state's labels.
delete_runc_state() {
  local dir=$1 state ns_root id
  [[ -d $runc_root ]] && command -v runc >/dev/null || return 0
  while IFS= read -r state; do
    id=${state%/state.json}
    ns_root=${id%/*}
    id=${id##*/}
    runc --root "$ns_root" delete --force "$id" >/dev/null 2>&1 ||
      echo "containerd-private: runc delete $id failed; $state left" >&2
  done < <(grep -lF "bundle=$dir/state/" "$runc_root"/*/*/state.json 2>/dev/null || true)
}

# Mount points at or under DIR, deepest first; mountinfo escapes space, tab, newline, \.
mounts_under() {
  local dir=$1
  awk -v dir="$dir" '{
      mp = $5
      while (match(mp, /\\[0-7][0-7][0-7]/)) {
        c = sprintf("%c", (substr(mp, RSTART + 1, 1) * 64) + (substr(mp, RSTART + 2, 1) * 8) + substr(mp, RSTART + 3, 1))
        mp = substr(mp, 1, RSTART - 1) c substr(mp, RSTART + 4)
      }
      if (mp == dir || index(mp, dir "/") == 1) print gsub("/", "/", mp) "\t" mp
    }' /proc/self/mountinfo | sort -rn -k1,1 | cut -f2-
}

unmount_all() {
  local dir=$1 mp pass
  # Several passes: a lazy unmount can uncover a mount stacked under the same point.
  for ((pass = 0; pass < 5; pass++)); do
    local -a mps=()
    mapfile -t mps < <(mounts_under "$dir")
    ((${#mps[@]})) || return 0
    for mp in "${mps[@]}"; do
      umount -l -- "$mp" 2>/dev/null || echo "containerd-private: could not unmount $mp" >&2
    done
  done
  [[ -z $(mounts_under "$dir") ]] || echo "containerd-private: mounts remain under $dir" >&2
}

# Our CNI bridge and libcni's cached results for our pods: a pod's CNI DEL
# (StopPodSandbox) removes its veth, address and results, never the bridge; a pod still
# running at stop gets no DEL at all. Results are ours when they name our network or a
# network namespace ("sandbox") under DIR (CRI's own loopback network: cni-loopback-*).
delete_cni_state() {
  local dir=$1 bridge f
  [[ -e $dir/cni/net.d/10-runwasi.conflist ]] || return 0
  bridge=$(cni_bridge "$dir")
  if ip link show "$bridge" >/dev/null 2>&1; then
    ip link del "$bridge" 2>/dev/null || echo "containerd-private: could not delete the bridge $bridge" >&2
  fi
  rm -f -- "$cni_cache_dir/$(cni_network "$dir")"-*
  while IFS= read -r f; do
    rm -f -- "$f"
  done < <(grep -lsF -- "\"sandbox\":\"$dir/" "$cni_cache_dir"/* || true)
}

cmd_stop() {
  [[ $# -ge 1 ]] || usage
  local dir keep=0
  dir=$(absolute_dir "$1")
  shift
  while [[ $# -gt 0 ]]; do
    case $1 in
      --keep) keep=1 ;;
      *) die "stop: unknown argument $1" ;;
    esac
    shift
  done
  [[ -d $dir ]] || return 0

  local -a sockets=()
  mapfile -t sockets < <(shim_sockets "$dir")
  local pid
  if pid=$(running_pid "$dir"); then
    answers "$dir" && delete_tasks "$dir"
    terminate "$pid" 10
  fi
  kill_leftovers "$dir"
  delete_runc_state "$dir"
  unmount_all "$dir"
  delete_cni_state "$dir"
  local s
  for s in "${sockets[@]}"; do
    [[ -S $s ]] && rm -f -- "$s"
  done
  rm -f -- "$dir/containerd.pid"
  ((keep)) && return 0
  if [[ -e $dir/config.toml ]]; then
    # --one-file-system: never descend into a mount that could not be removed.
    rm -rf --one-file-system -- "$dir"
  elif ! rmdir -- "$dir" 2>/dev/null; then
    echo "containerd-private: $dir has no config.toml (not made by start); left in place" >&2
  fi
}

cmd_ctr() {
  [[ $# -ge 1 ]] || usage
  local dir
  dir=$(absolute_dir "$1")
  shift
  exec "$ctr_bin" --address "$dir/containerd.sock" "$@"
}

main() {
  [[ $# -ge 1 ]] || usage
  local cmd=$1
  shift
  case $cmd in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    ctr) cmd_ctr "$@" ;;
    -h | --help | help) usage ;;
    *) die "unknown command $cmd (start, stop, ctr)" ;;
  esac
}

main "$@"
