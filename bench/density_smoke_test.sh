#!/usr/bin/env bash
# Smoke test of bench/density.py (ctest e2e_bench_density): K = 2 sleeping containers per
# runtime (v8, wasm2c, runc), one shim each and pod-shared. density.py itself fails when a
# container does not start or anything is left (task, container, bundle, process, mount,
# cgroup); this checks the JSON it writes. Skips (77) without root or containerd.
#
# usage: density_smoke_test.sh BUILD_DIR   (the shims and test modules built)
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "SKIP: needs root"; exit 77; }
command -v containerd >/dev/null && command -v ctr >/dev/null || { echo "SKIP: no containerd"; exit 77; }
json=$(mktemp)
trap 'rm -f "$json"' EXIT
/usr/bin/python3 "$(dirname "$0")/density.py" --build "$1" --no-build --k 2 \
  --modes shim-per-container,pod-shared --settle 0.2 --json "$json"
/usr/bin/python3 - "$json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert not d["problems"] and not d["fatal"] and not d["stop_problem"], d
want = {(rt, m) for rt in ("v8", "wasm2c", "runc") for m in ("shim-per-container", "pod-shared")}
got = {(r["runtime"], r["mode"]) for r in d["results"]}
assert got == want, f"results for {sorted(got)}, expected {sorted(want)}"
for r in d["results"]:
    what = f"{r['runtime']} {r['mode']}"
    assert r["k"] == 2 and r["start_all_s"] > 0, what
    for f in ("pss", "rss", "uss", "pss_anon"):
        assert r["per_container_kb"][f] > 0, f"{what}: {f}"
    assert r["per_container_kb"]["pss"] <= r["per_container_kb"]["rss"], what
    roles = r["by_role_kb"]
    assert roles["container"]["processes"] == 2, f"{what}: {roles}"
    shims = roles["shim"]["processes"]
    assert shims == (1 if r["mode"] == "pod-shared" else 2), f"{what}: {shims} shims"
    if r["runtime"] != "runc":
        assert roles["zygote"]["processes"] == shims, f"{what}: a zygote per shim: {roles}"
print("PASS: density.py K=2, every runtime and mode, nothing left")
PY
