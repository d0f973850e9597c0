#!/usr/bin/env bash
# Issue 5, part 1: Kubernetes pods through containerd's CRI plugin (Debian's containerd,
# a private instance: scripts/containerd-private.sh with its CNI bridge network and our
# pause image as sandbox_image), driven by tests/e2e/cri_client.py as a kubelet would.
# The same pod shapes run first with runc (handler runc) as the reference, then with our
# shims (handlers v8 and wasm2c; the one-container pod uses handler wasm, i.e. v8):
#   1. pod P = pause + app + busybox sidecar (app: wasi-demo-app `daemon` from a pure Wasm
#      image imported --no-unpack; runc: a busybox loop printing the same verse): both
#      CONTAINER_RUNNING with live pids; the pod has an IP from the bridge's subnet; app,
#      sidecar and pause share one network, IPC and UTS namespace (not the host's), the
#      pod IP is on eth0 in it, and each container has its own pid namespace;
#   2. the CRI log files (log_directory/log_path) hold the app's verse on stdout and the
#      sidecar's lines on stdout and stderr, in CRI's log format;
#   3. ExecSync into the sidecar (sh -c 'echo hi; echo oops >&2; exit 3') and into the app
#      (Wasm: wasi-demo-app echo / exit 3) returns stdout, stderr and exit code;
#   4. one shim per pod: with P at 2 and then 3 containers and a second pod Q of 1, the
#      containerd-shim-* daemons of this containerd number exactly the pods, every task of
#      a pod is a child of its pod's shim and all its bundles name one shim socket;
#      removing P's third container keeps P's shim; removing Q ends Q's shim and its socket;
#      Q shares its pid namespace (shareProcessNamespace): its app is in pause's;
#   5. an OOM-killed container (sandbox_probe `alloc 256` under a 32 MiB memory limit in
#      the container config; Wasm for our shims, native for runc) has exit code 137 and
#      reason OOMKilled in ContainerStatus;
#   6. StopPodSandbox + RemovePodSandbox leave no pod, container, task, bundle, process,
#      shim, shim socket, mount, network namespace, cgroup, bridge port, IP lease or cached
#      CNI result.
# Skips (77) only without root or containerd.
#
# usage: cri_test.sh SHIM_DIR OCI_TAR_BUILDER DEMO_WASM MODULES_DIR SCRIPT MAKE_OCI_IMAGE
#                    PAUSE_IMAGE CRI_CLIENT
#   SHIM_DIR holds containerd-shim-{v8,wasm2c}-v1; MODULES_DIR the built tests/modules
#   (sandbox_probe, sandbox_probe.wasm); SCRIPT is scripts/containerd-private.sh;
#   PAUSE_IMAGE is tools/pause's pause-image.tar; CRI_CLIENT is tests/e2e/cri_client.py.
# Environment: RUNTIMES (a subset of "runc v8 wasm2c").
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=cri_lib.sh
source "$(dirname "$0")/cri_lib.sh"

[[ $# -eq 8 ]] ||
  fail "usage: $0 SHIM_DIR OCI_TAR_BUILDER DEMO_WASM MODULES_DIR SCRIPT MAKE_OCI_IMAGE PAUSE_IMAGE CRI_CLIENT"
shim_dir=$1 tar_builder=$2 demo_wasm=$3 modules=$4 script=$5 make_image=$6 pause_image=$7 cri_client=$8

require_root_and_containerd
read -r -a runtimes <<<"${RUNTIMES:-runc v8 wasm2c}"
for rt in "${runtimes[@]}"; do
  case $rt in
    runc) command -v containerd-shim-runc-v2 >/dev/null && command -v runc >/dev/null ||
      fail "runc and containerd-shim-runc-v2 are needed (scripts/install-deps.sh)" ;;
    v8 | wasm2c) [[ -x $shim_dir/containerd-shim-$rt-v1 ]] || fail "$shim_dir/containerd-shim-$rt-v1 is not built" ;;
    *) fail "RUNTIMES: unknown runtime '$rt' (runc v8 wasm2c)" ;;
  esac
done
for f in "$tar_builder" "$script" "$cri_client" /usr/lib/cni/bridge /usr/lib/cni/host-local \
  /usr/lib/cni/loopback /bin/busybox; do
  [[ -x $f ]] || fail "$f is missing (build, or scripts/install-deps.sh: containernetworking-plugins, busybox-static)"
done
for f in "$demo_wasm" "$make_image" "$pause_image" "$modules"/{sandbox_probe,sandbox_probe.wasm}; do
  [[ -r $f ]] || fail "$f is missing"
done
for tool in jq nsenter ip; do command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps.sh)"; done
cri_require_python
cri_workspace cri

arch=$(oci_arch)
wasm_image=docker.io/runwasi-e2e/cri-wasm:latest
native_image=docker.io/runwasi-e2e/cri-busybox:latest
verse='This is a song that never ends.'

step "images: Wasm (wasi-demo-app, sandbox_probe.wasm), busybox + sandbox_probe; pause"
"$tar_builder" --name "$wasm_image" --module "$demo_wasm" --module "$modules/sandbox_probe.wasm" \
  -o "$work/wasm.tar" >/dev/null
python3 "$make_image" "$work/busybox.tar" "$native_image" "$arch" \
  /bin/busybox=/bin/busybox "/bin/sh->busybox" "/bin/sleep->busybox" \
  /sandbox_probe="$modules/sandbox_probe" /tmp/ >/dev/null

step "start the private containerd (CRI, CNI bridge, our pause image)"
start_containerd --path-prepend "$shim_dir" --pause-image "$pause_image"
# CRI runs pure Wasm images from the content store: it never unpacks them (PROTOCOL.md).
c images import --all-platforms --no-unpack "$work/wasm.tar" >/dev/null
c images import "$work/busybox.tar" >/dev/null
conflist=$dir/cni/net.d/10-runwasi.conflist
subnet=$(jq -r '.plugins[0].ipam.ranges[0][0].subnet' "$conflist")
bridge=$(jq -r '.plugins[0].bridge' "$conflist")
network=$(jq -r '.name' "$conflist")
sandbox_image=$(awk -F'"' '/^ *sandbox_image = / {print $2}' "$dir/config.toml")
[[ -n $sandbox_image ]] || fail "config.toml names no sandbox_image"
for image in "$sandbox_image" "$wasm_image" "$native_image"; do
  cri img "$image" >/dev/null || fail "CRI does not see the image $image"
done
echo "CNI network $network: bridge $bridge, subnet $subnet; sandbox image $sandbox_image"

declare -A host_ns=()
for t in net ipc uts pid; do host_ns[$t]=$(readlink "/proc/self/ns/$t"); done

# --- helpers -------------------------------------------------------------------------

pid_of() { cri status "$1" | jq -r '.info.info.pid // empty'; }
pod_pid() { cri inspectp "$1" | jq -r '.info.info.pid // empty'; }
pod_ip() { cri inspectp "$1" | jq -r '.status.network.ip // empty'; }
ns_of() { readlink "/proc/$1/ns/$2"; }
bundle_of() { echo "$dir/state/io.containerd.runtime.v2.task/k8s.io/$1"; }
# check_one_shim POD_ID CONTAINER_ID...: every task of the pod (pause and containers) is a
# child of one shim daemon and every bundle names one socket; prints that shim's pid.
check_one_shim() {
  local pod_id=$1 id pid parent shim="" socket="" addr
  shift
  for id in "$pod_id" "$@"; do
    if [[ $id == "$pod_id" ]]; then pid=$(pod_pid "$id"); else pid=$(pid_of "$id"); fi
    [[ -n $pid ]] && alive "$pid" || fail "task $id has no live pid ($pid)"
    parent=$(ppid_of "$pid")
    is_our_shim "$parent" || fail "task $id (pid $pid): its parent $parent is not a shim of this containerd"
    [[ -z $shim || $shim == "$parent" ]] || fail "task $id runs under shim $parent, the pod's other tasks under $shim"
    shim=$parent
    addr=$(<"$(bundle_of "$id")/address") || fail "task $id: no address file in its bundle"
    [[ -z $socket || $socket == "$addr" ]] || fail "task $id: its bundle names $addr, the pod's other tasks $socket"
    socket=$addr
  done
  [[ -S ${socket#unix://} ]] || fail "pod $pod_id: its shim socket $socket does not exist"
  echo "$shim ${socket#unix://}"
}

# expect_shims N WHAT: exactly N shim daemons of this containerd.
expect_shims() {
  local -a daemons=()
  mapfile -t daemons < <(shim_daemons)
  ((${#daemons[@]} == $1)) ||
    fail "$2: ${#daemons[@]} shim daemons (${daemons[*]}), expected $1:"$'\n'"$(procs_in "$dir")"
  echo "$2: $1 shim daemon(s): ${daemons[*]}"
}

# wait_log FILE STREAM TEXT: FILE gets a CRI log line "<RFC 3339 time> STREAM F TEXT".
has_log_line() {
  [[ -r $1 ]] && grep -qE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+) $2 F $3\$" "$1"
}
wait_log() {
  wait_for 10 has_log_line "$1" "$2" "$(sed 's/[.[\*^$]/\\&/g' <<<"$3")" ||
    fail "$1: no '$2 F $3' line within 10 s; it holds:"$'\n'"$(head -n 5 "$1" 2>/dev/null)"
}

# exec_check WHAT RT ID EXPECTED_STDOUT EXPECTED_STDERR EXPECTED_CODE -- CMD...
exec_check() {
  local what=$1 rt=$2 id=$3 want_out=$4 want_err=$5 want_code=$6 rc=0 got
  shift 7
  got=$(cri exec-sync --json --timeout 20 "$id" -- "$@" 2>"$work/exec.err") || rc=$?
  ((rc == 0)) || fail "$rt $what: ExecSync failed: $(<"$work/exec.err")"
  [[ $(jq -r .stdout <<<"$got") == "$want_out" && $(jq -r .stderr <<<"$got") == "$want_err" &&
    $(jq -r .exit_code <<<"$got") == "$want_code" ]] ||
    fail "$rt $what: ExecSync gave $got; expected stdout '$want_out', stderr '$want_err', exit $want_code"
  echo "$rt $what: ExecSync ok ($got)"
}

# What the pods of the current runtime left, in words; nothing when clean.
ip_lease() { [[ -e $dir/cni/ipam/$network/$1 ]]; }
leftovers() {
  local left
  # A failed query must not read as "nothing left".
  left=$(cri_leftovers)
  [[ -z $left ]] || { echo "$left"; return; }
  left=$(cri ps | jq -r '.containers[]?.id') || { echo "ListContainers failed"; return; }
  [[ -z $left ]] || { echo "containers left: $left"; return; }
  left=$(find "$dir/state/io.containerd.runtime.v2.task" -mindepth 2 -maxdepth 2 2>/dev/null || true)
  [[ -z $left ]] || { echo "bundles left: $left"; return; }
  [[ ! -e $q_netns && ! -e $p_netns ]] || { echo "network namespaces left: $q_netns $p_netns"; return; }
  left=$(ip -o link show master "$bridge" 2>/dev/null || true)
  [[ -z $left ]] || { echo "bridge ports left: $left"; return; }
  ! ip_lease "$ip" || { echo "IP lease left: $ip"; return; }
  left=$(grep -lsF -- "\"sandbox\":\"$dir/" /var/lib/cni/results/* || true)
  [[ -z $left ]] || { echo "CNI results left: $left"; return; }
}

# --- the scenarios, per runtime ------------------------------------------------------

for rt in "${runtimes[@]}"; do
  t0=$SECONDS
  handler=$rt
  one_handler=$rt
  [[ $rt == v8 ]] && one_handler=wasm   # the alias handler, same shim
  if [[ $rt == runc ]]; then
    app_image=$native_image
    app_cmd=(/bin/sh -c "while :; do echo '$verse'; /bin/busybox sleep 1; done")
    third_cmd=(/bin/busybox sleep 100000)
    oom_cmd=(/sandbox_probe alloc 256)
    oom_image=$native_image
  else
    app_image=$wasm_image
    app_cmd=(/wasi-demo-app.wasm daemon)
    third_cmd=(/wasi-demo-app.wasm sleep 100000)
    oom_cmd=(/sandbox_probe.wasm alloc 256)
    oom_image=$wasm_image
  fi
  side_cmd=(/bin/sh -c 'echo sidecar up; echo sidecar stderr >&2; exec /bin/busybox sleep 100000')

  step "$rt 1: pod P (handler $handler) = pause + app + busybox sidecar"
  pod=p-$rt
  pod_config "$pod" >/dev/null
  pod_id=$(cri runp --runtime "$handler" "$work/$pod.pod.json") || fail "$rt: RunPodSandbox failed"
  app=$(run_container "$pod_id" "$pod" app "$app_image" 0 "${app_cmd[@]}")
  side=$(run_container "$pod_id" "$pod" sidecar "$native_image" 0 "${side_cmd[@]}")
  for id in "$app" "$side"; do
    [[ $(state_of "$id") == CONTAINER_RUNNING ]] || fail "$rt: container $id is not running: $(status_of "$id")"
  done
  pause_pid=$(pod_pid "$pod_id")
  app_pid=$(pid_of "$app")
  side_pid=$(pid_of "$side")
  for p in "$pause_pid" "$app_pid" "$side_pid"; do
    [[ -n $p ]] && alive "$p" || fail "$rt: a pod process is not alive (pause $pause_pid, app $app_pid, sidecar $side_pid)"
  done
  [[ $(tr '\0' ' ' <"/proc/$pause_pid/cmdline") == "/pause " ]] ||
    fail "$rt: the sandbox runs '$(tr '\0' ' ' <"/proc/$pause_pid/cmdline")', not our /pause"
  ip=$(pod_ip "$pod_id")
  [[ $ip == "${subnet%.0/24}".* ]] || fail "$rt: pod IP '$ip' is not in $subnet"
  for t in net ipc uts; do
    [[ $(ns_of "$app_pid" $t) == "$(ns_of "$pause_pid" $t)" && $(ns_of "$side_pid" $t) == "$(ns_of "$pause_pid" $t)" ]] ||
      fail "$rt: $t namespaces differ: pause $(ns_of "$pause_pid" $t), app $(ns_of "$app_pid" $t), sidecar $(ns_of "$side_pid" $t)"
    [[ $(ns_of "$pause_pid" $t) != "${host_ns[$t]}" ]] || fail "$rt: the pod is in the host's $t namespace"
  done
  [[ $(ns_of "$app_pid" pid) != "$(ns_of "$side_pid" pid)" && $(ns_of "$app_pid" pid) != "${host_ns[pid]}" ]] ||
    fail "$rt: app and sidecar should each have a pid namespace of their own (pid: CONTAINER): app $(ns_of "$app_pid" pid), sidecar $(ns_of "$side_pid" pid), host ${host_ns[pid]}"
  nsenter --net="/proc/$app_pid/ns/net" ip -4 -o addr show dev eth0 | grep -qF "inet $ip/" ||
    fail "$rt: the app's network namespace has no eth0 with the pod IP $ip"
  # What the clean-up check looks for must exist now: cgroups, a bridge port, an IP lease.
  for p in "$pause_pid" "$app_pid" "$side_pid"; do
    grep -q ":memory:/$cgroup_parent/" "/proc/$p/cgroup" ||
      fail "$rt: pid $p is not in a memory cgroup under /$cgroup_parent: $(grep :memory: "/proc/$p/cgroup")"
  done
  [[ -n $(ip -o link show master "$bridge") ]] || fail "$rt: the bridge $bridge has no port"
  ip_lease "$ip" || fail "$rt: host-local holds no lease for $ip in $dir/cni/ipam/$network"
  echo "$rt: pod $pod_id IP $ip; pause $pause_pid, app $app_pid, sidecar $side_pid share $(ns_of "$pause_pid" net)"

  step "$rt 2: CRI log files"
  app_log=$(cri logpath "$app")
  [[ $app_log == "$work/logs/$pod/app.log" ]] || fail "$rt: app log path is $app_log"
  wait_log "$app_log" stdout "$verse"
  wait_log "$work/logs/$pod/sidecar.log" stdout "sidecar up"
  wait_log "$work/logs/$pod/sidecar.log" stderr "sidecar stderr"
  echo "$rt: $(head -n 1 "$app_log")"

  step "$rt 3: ExecSync into the sidecar and the app"
  exec_check "exec into the sidecar" "$rt" "$side" hi oops 3 -- /bin/sh -c 'echo hi; echo oops >&2; exit 3'
  if [[ $rt == runc ]]; then
    exec_check "exec into the app" "$rt" "$app" hi oops 3 -- /bin/sh -c 'echo hi; echo oops >&2; exit 3'
  else
    exec_check "exec (Wasm) into the app: echo" "$rt" "$app" hi exiting 0 -- /wasi-demo-app.wasm echo hi
    exec_check "exec (Wasm) into the app: exit 3" "$rt" "$app" "" exiting 3 -- /wasi-demo-app.wasm exit 3
  fi

  step "$rt 4: one shim per pod (P of 2, then 3 containers; Q of 1 with handler $one_handler)"
  shim_info=$(check_one_shim "$pod_id" "$app" "$side")
  read -r p_shim p_socket <<<"$shim_info"
  expect_shims 1 "$rt: P with 2 containers"
  third=$(run_container "$pod_id" "$pod" third "$app_image" 0 "${third_cmd[@]}")
  shim_info=$(check_one_shim "$pod_id" "$app" "$side" "$third")
  read -r shim _ <<<"$shim_info"
  [[ $shim == "$p_shim" ]] || fail "$rt: P's third container went to shim $shim, not $p_shim"
  expect_shims 1 "$rt: P with 3 containers"
  q=q-$rt
  pod_config "$q" POD >/dev/null   # shareProcessNamespace: the app joins pause's pid namespace
  q_id=$(cri runp --runtime "$one_handler" "$work/$q.pod.json") || fail "$rt: RunPodSandbox Q failed"
  q_app=$(run_container "$q_id" "$q" app "$app_image" 0 "${app_cmd[@]}")
  shim_info=$(check_one_shim "$q_id" "$q_app")
  read -r q_shim q_socket <<<"$shim_info"
  q_pause_pid=$(pod_pid "$q_id")
  q_app_pid=$(pid_of "$q_app")
  [[ $(ns_of "$q_app_pid" pid) == "$(ns_of "$q_pause_pid" pid)" ]] ||
    fail "$rt: Q (pid namespace POD): app $(ns_of "$q_app_pid" pid), pause $(ns_of "$q_pause_pid" pid)"
  [[ $q_shim != "$p_shim" && $q_socket != "$p_socket" ]] || fail "$rt: pods P and Q share shim $q_shim"
  expect_shims 2 "$rt: P with 3 containers and Q with 1"
  cri stop "$third" && cri rm "$third" || fail "$rt: could not remove P's third container"
  alive "$p_shim" || fail "$rt: P's shim $p_shim exited when one of its containers was removed"
  check_one_shim "$pod_id" "$app" "$side" >/dev/null

  step "$rt 5: an OOM-killed container reports OOMKilled and 137"
  oom=$(run_container "$q_id" "$q" oom "$oom_image" $((32 << 20)) "${oom_cmd[@]}")
  wait_for 30 is_exited "$oom" || fail "$rt: the OOM container did not exit within 30 s: $(status_of "$oom")"
  oom_status=$(status_of "$oom")
  [[ $(jq -r .status.exit_code <<<"$oom_status") == 137 && $(jq -r .status.reason <<<"$oom_status") == OOMKilled ]] ||
    fail "$rt: OOM container: exit $(jq -r .status.exit_code <<<"$oom_status"), reason '$(jq -r .status.reason <<<"$oom_status")'; expected 137 and OOMKilled"
  echo "$rt: OOM container: exit 137, reason OOMKilled"

  step "$rt 6: stop and remove Q, then P: nothing left"
  q_netns=$(cri inspectp "$q_id" | jq -r '.info.info.runtimeSpec.linux.namespaces[] | select(.type == "network") | .path')
  p_netns=$(cri inspectp "$pod_id" | jq -r '.info.info.runtimeSpec.linux.namespaces[] | select(.type == "network") | .path')
  [[ -e $q_netns && -e $p_netns ]] || fail "$rt: the pods' network namespaces ($q_netns, $p_netns) do not exist"
  cri stopp "$q_id" && cri rmp "$q_id" || fail "$rt: could not stop and remove pod Q"
  wait_for 5 gone "$q_shim" || fail "$rt: Q's shim $q_shim still runs after its pod was removed"
  [[ ! -e $q_socket ]] || fail "$rt: Q's shim socket $q_socket is left"
  alive "$p_shim" || fail "$rt: P's shim $p_shim ended with Q's"
  expect_shims 1 "$rt: after removing Q"
  cri stopp "$pod_id" && cri rmp "$pod_id" || fail "$rt: could not stop and remove pod P"
  wait_for 5 gone "$p_shim" || fail "$rt: P's shim $p_shim still runs after its pod was removed"
  [[ ! -e $p_socket ]] || fail "$rt: P's shim socket $p_socket is left"

  assert_clean "$rt: after removing both pods"
  echo "$rt: done in $((SECONDS - t0)) s"
done

echo "PASS"
