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
