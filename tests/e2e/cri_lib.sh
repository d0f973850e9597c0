# shellcheck shell=bash disable=SC2154 # script, cri_client: set by the sourcing test
# CRI helpers for the e2e tests that drive pods with cri_client.py (source after lib.sh).
# The sourcing script sets `script` (scripts/containerd-private.sh) and `cri_client`, then
# calls cri_require_python and cri_workspace, which define python, work (its work
# directory), dir (the private containerd's), cgroup_parent (the pods' cgroup parent), and
# the commands c (ctr in k8s.io) and cri (cri_client.py on that containerd).

# cri_require_python: python=Debian's python3, which holds python3-grpcio and
# python3-protobuf (a python3 earlier on PATH may not); fails without them.
cri_require_python() {
  python=/usr/bin/python3
  "$python" -c 'import grpc, google.protobuf' 2>/dev/null ||
    fail "$python cannot import grpc and google.protobuf (python3-grpcio python3-protobuf: scripts/install-deps.sh)"
}

# cri_workspace TAG [DIAGNOSE]: a fresh work directory, the private containerd's directory
# in it, the pods' cgroup parent runwasi-e2e-TAG-PID, and an EXIT trap that, when the test
# failed, runs the function DIAGNOSE (default: the end of containerd.log), then stops
# containerd and removes all of it.
cri_workspace() {
  work=$(mktemp -d)
  dir=$work/cd
  cgroup_parent=runwasi-e2e-$1-$$
  cri_diagnose=${2:-cri_log_tail}
  # shellcheck disable=SC2034 # lib.sh's leftover_procs reads both
  containerd_pid="" events_pid=""
  trap cri_cleanup EXIT
}

cri_log_tail() {
  echo "--- containerd.log (last 40 lines)"
  tail -n 40 "$dir/containerd.log"
}

cri_cleanup() {
  local rc=$?
  if ((rc != 0 && rc != 77)) && [[ -r $dir/containerd.log ]]; then
    "$cri_diagnose" || true
  fi
  "$script" stop "$dir" >/dev/null 2>&1 || true
  find /sys/fs/cgroup -maxdepth 2 -type d -name "$cgroup_parent" -exec rmdir {} + 2>/dev/null || true
  rm -rf "$work"
}

c() { "$script" ctr "$dir" -n k8s.io "$@"; }
cri() { "$python" "$cri_client" --endpoint "$dir/containerd.sock" "$@"; }

# pod_config NAME [PID_MODE]: writes $work/NAME.pod.json (network and IPC of the pod; a
# pid namespace per container, kubelet's default, or with PID_MODE POD the pod's, as
# shareProcessNamespace asks) and prints its path.
pod_config() {
  local name=$1 pid_mode=${2:-CONTAINER} file=$work/$1.pod.json
  mkdir -p "$work/logs/$name"
  jq -n --arg name "$name" --arg logs "$work/logs/$name" --arg cg "/$cgroup_parent" --arg pid "$pid_mode" '{
      metadata: {name: $name, uid: ("uid-" + $name), namespace: "e2e-cri", attempt: 0},
      hostname: $name, log_directory: $logs,
      linux: {cgroup_parent: $cg,
              security_context: {namespace_options: {network: "POD", ipc: "POD", pid: $pid}}}
    }' >"$file"
  echo "$file"
}

# container_config POD NAME IMAGE MEMORY_BYTES CMD...: writes the config, prints its path.
# Its namespace options are the pod's, as kubelet copies them: CRI takes them from here.
container_config() {
  local pod=$1 name=$2 image=$3 memory=$4 file=$work/$1-$2.ctr.json command
  shift 4
  # Not jq --args: jq would take a "-c" of the command as its own option.
  command=$("$python" -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@")
  jq --arg name "$name" --arg image "$image" --argjson mem "$memory" --argjson cmd "$command" '{
      metadata: {name: $name, attempt: 0}, image: {image: $image},
      command: $cmd, log_path: ($name + ".log"),
      linux: {resources: (if $mem > 0 then {memory_limit_in_bytes: $mem} else {} end),
              security_context: {namespace_options: .linux.security_context.namespace_options}}
    }' "$work/$pod.pod.json" >"$file"
  echo "$file"
}

# run_container POD_ID POD NAME IMAGE MEMORY CMD...: create + start; prints the id.
run_container() {
  local pod_id=$1 pod=$2 name=$3 image=$4 memory=$5 id
  shift 5
  id=$(cri create "$pod_id" "$(container_config "$pod" "$name" "$image" "$memory" "$@")" \
    "$work/$pod.pod.json") || fail "$pod/$name: CreateContainer failed"
  cri start "$id" || fail "$pod/$name: StartContainer failed"
  echo "$id"
}

status_of() { cri status "$1"; }
state_of() { cri status "$1" | jq -r '.status.state'; }
ppid_of() { awk '{print $4}' "/proc/$1/stat" 2>/dev/null; }
gone() { ! alive "$1"; }
is_exited() { [[ $(state_of "$1") == CONTAINER_EXITED ]]; }

# argv[0] is a containerd-shim-* binary and one argument is this containerd's socket.
is_our_shim() {
  local -a argv=()
  mapfile -d '' -t argv 2>/dev/null <"/proc/$1/cmdline" || return 1
  [[ ${#argv[@]} -gt 0 && ${argv[0]##*/} == containerd-shim-* ]] || return 1
  local a
  for a in "${argv[@]}"; do [[ $a == "$dir/containerd.sock" ]] && return 0; done
  return 1
}

# Shim daemons of this containerd: its shim processes whose parent is not one (our shims'
# zygote and Wasm containers are forks of the daemon and keep its command line).
shim_daemons() {
  local f pid
  # One grep finds the few candidates; a fork per process would take seconds.
  for f in $(grep -lsaF -- "$dir/containerd.sock" /proc/[0-9]*/cmdline); do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    is_our_shim "$pid" && alive "$pid" || continue
    is_our_shim "$(ppid_of "$pid")" || echo "$pid"
  done
}

# cri_leftovers: what every CRI test checks after removing its pods, in words (the first
# kind found); nothing when clean: pods, containerd containers and tasks, processes, shim
# daemons, mounts under the private containerd, cgroups under cgroup_parent. A failed
# query is reported, never read as "nothing left".
cri_leftovers() {
  local left
  left=$(cri pods | jq -r '.items[]?.id') || { echo "ListPodSandbox failed"; return; }
  [[ -z $left ]] || { echo "pods left: $left"; return; }
  left=$(c containers ls -q) || { echo "ctr containers ls failed"; return; }
  [[ -z $left ]] || { echo "containerd containers left: $left"; return; }
  left=$(c tasks ls -q) || { echo "ctr tasks ls failed"; return; }
  [[ -z $left ]] || { echo "tasks left: $left"; return; }
  left=$(leftover_procs)
  [[ -z $left ]] || { echo "processes left:"$'\n'"$left"; return; }
  left=$(shim_daemons)
  [[ -z $left ]] || { echo "shims left: $left"; return; }
  left=$(mounts_in "$dir")
  [[ -z $left ]] || { echo "mounts left: $left"; return; }
  left=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d -path "*/$cgroup_parent/*" 2>/dev/null || true)
  [[ -z $left ]] || { echo "cgroups left: $left"; return; }
}
