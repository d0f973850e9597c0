# Helpers the e2e test scripts share; source it after `set -euo pipefail`.

skip() {
  echo "SKIP: $*"
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "--- $*"; }

# Skips (77) without root or containerd and ctr.
require_root_and_containerd() {
  [[ $EUID -eq 0 ]] || skip "needs root"
  if ! command -v containerd >/dev/null || ! command -v ctr >/dev/null; then
    skip "containerd is not installed (apt-get install containerd)"
  fi
}

# Shim sockets of every containerd on the machine (they live in a fixed place).
shim_sockets() { { find /run/containerd/s -maxdepth 1 -type s 2>/dev/null || true; } | sort; }

# Processes whose cmdline or cwd names DIR, read with builtins (a grep would match itself;
# a fork per process would take a second here); one find for all the cwds.
procs_in() {
  local dir=$1 p args cwds found=""
  local -a argv
  cwds=" $(find /proc/[0-9]*/cwd -maxdepth 0 -lname "$dir/*" 2>/dev/null | tr '\n' ' ') " || true
  for p in /proc/[0-9]*; do
    argv=()
    mapfile -d '' -t argv 2>/dev/null <"$p/cmdline" || continue
    args="${argv[*]}"
    if [[ $args == *"$dir"* || $cwds == *" $p/cwd "* ]]; then
      [[ -n $args ]] && found+="${p#/proc/}: $args"$'\n'
    fi
  done
  printf '%s' "$found"
}

# wait_for SECONDS CMD...: polls CMD (a function or command) every 50 ms; true once it
# succeeds, false after SECONDS.
wait_for() {
  local seconds=$1 i
  shift
  for ((i = 0; i < seconds * 20; i++)); do
    "$@" && return 0
    sleep 0.05
  done
  return 1
}

# Processes of the private containerd in $dir other than containerd ($containerd_pid)
# and `ctr events` ($events_pid): shims, zygotes, containers (forked from the shim, they
# keep its cmdline) and stray ctr clients.
leftover_procs() {
  local line out=""
  while IFS= read -r line; do
    [[ -n $line && ${line%%:*} != "$containerd_pid" && ${line%%:*} != "$events_pid" ]] &&
      out+="$line"$'\n'
  done < <(procs_in "$dir")
  printf '%s' "$out"
}

mounts_in() { awk -v d="$1" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo; }

# True while the process exists and is not a zombie.
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ $state != Z ]]
}

# Fails unless the script's `leftovers` (what is left, in words) comes back empty within
# 2 s: a shim may still be on its way out when ctr returns (containerd does not wait).
assert_clean() {
  local what=$1 i
  for ((i = 0; i < 20; i++)); do
    if [[ -z $(leftovers) ]]; then
      ((i == 0)) || echo "($what: clean after $((i * 100)) ms)"
      return 0
    fi
    sleep 0.1
  done
  fail "$what: $(leftovers)"
}

# A task's status as `ctr tasks ls` shows it (the script's `c` runs ctr).
task_status() { c tasks ls | awk -v id="$1" '$1 == id {print $3}'; }
task_is() { [[ $(task_status "$1") == "$2" ]]; }

# The machine's architecture as OCI image configs name it (amd64, arm64, ...).
oci_arch() {
  case $(uname -m) in
    x86_64) echo amd64 ;;
    aarch64) echo arm64 ;;
    *) uname -m ;;
  esac
}

# start_containerd ARGS...: `$script start "$dir" ARGS...` (containerd-private.sh), its
# exports applied and containerd_pid set; the calling script defines script and dir.
start_containerd() {
  local out
  out=$("$script" start "$dir" "$@") || fail "containerd did not start; see the log above"
  eval "$out"
  containerd_pid=$(<"$dir/containerd.pid")
}

# ctr_e2e_setup NS: a work directory ($work, the private containerd's $dir inside it) for
# a ctr test in containerd namespace NS, removed at exit with everything the test started:
# the `ctr events` reader ($events_pid), the private containerd ($script stop), and the
# NS level of the cgroups (ctr's cgroupsPath is /NS/ID; removed only if empty).
ctr_e2e_setup() {
  ns=$1
  work=$(mktemp -d)
  dir=$work/cd
  events_pid=""
  trap ctr_e2e_cleanup EXIT
}
ctr_e2e_cleanup() {
  [[ -n $events_pid ]] && kill "$events_pid" 2>/dev/null
  "$script" stop "$dir" >/dev/null 2>&1 || true
  rmdir /sys/fs/cgroup/*/"$ns" /sys/fs/cgroup/"$ns" 2>/dev/null || true
  rm -rf "$work"
}
