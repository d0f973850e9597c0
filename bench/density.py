#!/usr/bin/env python3
"""Density and memory: K sleeping containers per runtime, the time to start them all and
the memory each one adds (PSS and RSS from /proc/PID/smaps_rollup).

    bench/density.py [--build DIR] [--runtimes v8,wasm2c,runc] [--k 10,50,100]
                     [--parallel P] [--modes shim-per-container,pod-shared]
                     [--settle SECONDS] [--no-build] [--keep] [--doc] [--json FILE]

Runtimes (default all three):
  v8       io.containerd.v8.v1      containerd-shim-v8-v1      tests/modules/sleep.wasm
  wasm2c   io.containerd.wasm2c.v1  containerd-shim-wasm2c-v1  tests/modules/sleep.wasm
  runc     io.containerd.runc.v2    runc (Debian's)            tests/modules/sleep.c built
                                                               `gcc -static -O2`
The sleeper is the same C program for all: sleep.c (nanosleep for an hour), as a Wasm
module in a plain image (tests/e2e/make_oci_image.py with /sleep.wasm, as
tests/e2e/sandbox_ctr_test.sh makes it) and as a static native binary (/sleep).
Prerequisites: root, Debian's containerd and runc, gcc, a configured build directory
(`cmake -S . -B build-bench -G Ninja`); unless --no-build the script builds test_modules and
the chosen shims (a shim that does not build is skipped with a message).

Steps: a private containerd (scripts/containerd-private.sh, DIR/tools on its PATH) imports
both images into namespace `density`. Per runtime, one warm-up container (`sleep 0`, run to
its end: wasm2c compiles the module into its cache there), then for each K and mode:
  1. K containers `ctr run -d --null-io --runtime RT IMAGE ID /sleep[.wasm] 3600000`, P
     ctr processes at a time (--parallel, default 4; pod-shared: the first alone, as a
     pod's sandbox comes before its containers). "start all": from the first ctr's
     spawn until the last ctr returned (`run -d` returns once the task is started), then
     `ctr tasks ls` must show all K RUNNING.
  2. --settle seconds (default 2) of rest, then the memory of every process the K
     containers added: the processes naming this containerd's socket (shim daemons; our
     shims' zygotes and container processes keep the daemon's argv), but not containerd or
     ctr, and all their descendants (runc's container processes). Each process is one
     role: "container" (a task's PID from `ctr tasks ls`, and what it forked), "shim" (the
     root of a tree: the daemon containerd started) or "zygote" (the rest: a shim's
     non-container child). Per process, /proc/PID/smaps_rollup's Rss, Pss, Pss_Anon,
     Pss_File and USS (Private_Clean + Private_Dirty). Per container = sum / K.
  3. All K killed and deleted (`ctr tasks delete --force`, `ctr containers delete`, P at
     a time, one at a time for a shared shim; "delete all" timed), then nothing may be left: no task, container, bundle,
     process, mount or cgroup of theirs (checked, waiting up to 10 s for shims to exit).
Modes: shim-per-container (default; what `ctr run` does: one shim per container) and
pod-shared (every container of a K carries the annotation io.kubernetes.cri.sandbox-id, so
one shim serves them all, as the containers of one Kubernetes pod; both our shims and
runc's shim group by it).
Honesty: PSS divides each shared page among every process on the machine that maps it, so
the sum over a set of processes is that set's fair share and never counts a page twice;
RSS counts shared pages (libnode, libc, a wasm2c .so) once per process and overstates.
containerd's own memory (its metadata per container) is not in the sums; its RSS and PSS
before and after are reported beside them. Kernel memory (page tables, namespaces,
overlay mounts, cgroups) is not in smaps and not counted, for any runtime.
Markdown to stdout (progress to stderr); --doc: a section for docs/benchmarks.md; --json
FILE: every measurement. Exit 1 on any failure or leftover. Python 3 standard library.
"""
import concurrent.futures
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/, for benchlib
import benchlib  # noqa: E402
from benchlib import Failure, Runtime, log, run  # noqa: E402

PROG = "density.py"
NS = "density"
WASM_SLEEP_IMAGE = "docker.io/runwasi-bench/sleep-wasm:latest"
NATIVE_SLEEP_IMAGE = "docker.io/runwasi-bench/sleep-native:latest"
SLEEP_SRC = os.path.join(benchlib.REPO, "tests", "modules", "sleep.c")
SLEEP_MS = "3600000"
GROUP_ANNOTATION = "io.kubernetes.cri.sandbox-id"
MODES = ("shim-per-container", "pod-shared")
FIELDS = {"Rss": "rss", "Pss": "pss", "Pss_Anon": "pss_anon", "Pss_File": "pss_file",
          "Private_Clean": "private_clean", "Private_Dirty": "private_dirty"}
CTR_TIMEOUT_S = 60
GONE_TIMEOUT_S = 10
# Targets from issue 7 (reported, not asserted): PSS per sleeping container, MiB.
TARGETS_MIB = {"wasm2c": 10, "v8": 20}

# args: the command after IMAGE ID on the ctr line.
RUNTIMES = [
    Runtime("v8", "io.containerd.v8.v1", "containerd-shim-v8-v1", WASM_SLEEP_IMAGE, None, ["/sleep.wasm"]),
    Runtime("wasm2c", "io.containerd.wasm2c.v1", "containerd-shim-wasm2c-v1", WASM_SLEEP_IMAGE, None,
            ["/sleep.wasm"]),
    Runtime("runc", "io.containerd.runc.v2", None, NATIVE_SLEEP_IMAGE, None, ["/sleep"]),
]


def die(msg):
    benchlib.die(PROG, msg)


def extra_args(ap):
    ap.add_argument("--k", default="10,50,100", help="comma-separated container counts (default 10,50,100)")
    ap.add_argument("--parallel", type=int, default=4, help="ctr processes at a time (default 4)")
    ap.add_argument("--modes", default=MODES[0],
                    help=f"comma-separated of {','.join(MODES)} (default {MODES[0]})")
    ap.add_argument("--settle", type=float, default=2.0,
                    help="seconds between the last start and the memory reading (default 2)")


def make_images(opts, rts, out):
    """The sleeper images the runtimes need, as tarballs in out: [(path, name)]."""
    os.makedirs(out, exist_ok=True)
    tars = []
    arch = benchlib.oci_arch()
    if any(rt.image == NATIVE_SLEEP_IMAGE for rt in rts):
        native = benchlib.static_binary(SLEEP_SRC, os.path.join(out, "sleep-native-static"))
        tar = os.path.join(out, "sleep-native.tar")
        run([sys.executable, benchlib.MAKE_OCI_IMAGE, tar, NATIVE_SLEEP_IMAGE, arch, f"/sleep={native}"])
        tars.append((tar, NATIVE_SLEEP_IMAGE))
    if any(rt.image == WASM_SLEEP_IMAGE for rt in rts):
        module = os.path.join(opts.build, "tests", "modules", "sleep.wasm")
        if not os.path.exists(module):
            raise Failure(f"{module} is missing (build the target test_modules, or drop --no-build)")
        tar = os.path.join(out, "sleep-wasm.tar")
        run([sys.executable, benchlib.MAKE_OCI_IMAGE, tar, WASM_SLEEP_IMAGE, arch, f"/sleep.wasm={module}"])
        tars.append((tar, WASM_SLEEP_IMAGE))
    return tars


# --- memory ----------------------------------------------------------------------------

def smaps_rollup(pid):
    """{field: kB} of FIELDS from /proc/PID/smaps_rollup, plus uss; None if it is gone."""
    values = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in FIELDS:
                    values[FIELDS[key]] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if "pss" not in values:
        return None  # a kernel thread, or a process that exited while being read
    values["uss"] = values.pop("private_clean", 0) + values.pop("private_dirty", 0)
    return values


def add(total, values):
    for k, v in values.items():
        total[k] = total.get(k, 0) + v


def roles(procs, task_pids):
    """{pid: role} of the processes the containers added (see the module's doc)."""
    table = {pid: v for pid, v in procs.items()}
    containers = benchlib.descendants(table, [p for p in task_pids if p in table])
    role = {}
    for pid, (ppid, _) in procs.items():
        if pid in containers:
            role[pid] = "container"
        elif ppid not in procs:
            role[pid] = "shim"
        else:
            role[pid] = "zygote"
    return role


def memory_of(cd, task_pids):
    """The memory of every process this containerd's tasks added: {"total": {field: kB},
    "by_role": {role: {"processes": n, field: kB}}}. Failure when a task's PID is not
    among them."""
    procs = cd.processes()
    missing = [p for p in task_pids if p not in procs]
    if missing:
        raise Failure(f"task PIDs {missing[:5]} are not among the processes of this containerd")
    role = roles(procs, task_pids)
    # V8's engine host: the parent of shim daemons it forked; one per node, counted whole.
    table = benchlib.process_table()
    for pid in [p for p, r in role.items() if r == "shim"]:
        host = procs[pid][0]
        argv = table.get(host, (0, []))[1]
        if len(argv) > 1 and argv[1] == b"engine-host" and host not in role:
            role[host] = "engine host"
    procs = {**procs, **{p: table[p] for p, r in role.items() if r == "engine host"}}
    total, by_role = {}, {}
    for pid in procs:
        values = smaps_rollup(pid)
        if values is None:
            continue
        add(total, values)
        r = by_role.setdefault(role[pid], {"processes": 0})
        r["processes"] += 1
        add(r, values)
    return {"total": total, "by_role": by_role, "processes": len(procs)}


def containerd_memory(cd):
    pid = cd.pid()
    return smaps_rollup(pid) if pid else None


# --- the K containers ------------------------------------------------------------------

def ctr_pool(cd, commands, parallel):
    """Runs the ctr commands, `parallel` at a time; Failure naming the first that failed."""
    def one(cmd):
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                        text=True, timeout=CTR_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return f"{' '.join(cmd[3:])}: timed out after {CTR_TIMEOUT_S} s"
        if p.returncode != 0:
            return f"{' '.join(cmd[3:])}: rc={p.returncode} {(p.stdout + p.stderr).strip()[-400:]}"
        return None
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        errors = [e for e in pool.map(one, commands) if e]
    if errors:
        raise Failure(f"{len(errors)} of {len(commands)} ctr commands failed; first: {errors[0]}")


def tasks(cd):
    """{container id: (pid, status)} from `ctr tasks ls`."""
    out = run(cd.ctr("-n", NS, "tasks", "ls"))
    found = {}
    for line in out.splitlines()[1:]:
        f = line.split()
        if len(f) >= 3:
            found[f[0]] = (int(f[1]), f[2])
    return found


def cgroups_left(ids=None):
    """Cgroup directories under /NS (ctr's cgroupsPath is /NS/ID), in any hierarchy: those
    of the containers ids, or all."""
    return [os.path.join(d, c) for d in benchlib.cgroup_dirs(NS) for c in os.listdir(d)
            if os.path.isdir(os.path.join(d, c)) and (ids is None or c in ids)]


def leftovers(cd, ids):
    """What the containers `ids` left, in words; empty when clean."""
    left = []
    if (t := tasks(cd)):
        left.append(f"tasks: {sorted(t)[:5]}")
    if (c := run(cd.ctr("-n", NS, "containers", "ls", "-q")).split()):
        left.append(f"containers: {c[:5]}")
    bundles = os.path.join(cd.dir, "state", "io.containerd.runtime.v2.task", NS)
    if os.path.isdir(bundles) and os.listdir(bundles):
        left.append(f"bundles: {os.listdir(bundles)[:5]}")
    if (procs := cd.processes()):
        left.append("processes: " + ", ".join(
            f"{pid} {b' '.join(argv[:3]).decode(errors='replace')}" for pid, (_, argv) in sorted(procs.items())[:5]))
    if (m := cd.mounts()):
        left.append(f"mounts: {m[:5]}")
    if (cg := cgroups_left(ids)):
        left.append(f"cgroups: {cg[:5]}")
    return left


def wait_clean(cd, ids, what):
    deadline = time.monotonic() + GONE_TIMEOUT_S
    while (left := leftovers(cd, ids)):
        if time.monotonic() > deadline:
            raise Failure(f"{what}: left after {GONE_TIMEOUT_S} s: " + "; ".join(left))
        time.sleep(0.1)


def delete_all(cd, ids, parallel):
    """Kills and deletes the tasks and containers among ids that exist; the errors."""
    errors = []
    present = tasks(cd)
    try:
        ctr_pool(cd, [cd.ctr("-n", NS, "tasks", "delete", "--force", cid) for cid in ids if cid in present],
                 parallel)
    except Failure as e:
        errors.append(f"tasks delete: {e}")
    present = set(run(cd.ctr("-n", NS, "containers", "ls", "-q")).split())
    try:
        ctr_pool(cd, [cd.ctr("-n", NS, "containers", "delete", cid) for cid in ids if cid in present],
                 parallel)
    except Failure as e:
        errors.append(f"containers delete: {e}")
    return errors


def run_cmd(cd, rt, cid, ms, group=None):
    flags = ["--annotation", f"{GROUP_ANNOTATION}={group}"] if group else []
    return cd.ctr("-n", NS, "run", "-d", "--null-io", *flags, "--runtime", rt.runtime, rt.image, cid,
                  *rt.args, ms)


def warm_up(cd, rt, tag):
    """One sleeper that exits at once, run to its end (fills wasm2c's compile cache)."""
    cid = f"warm-{rt.name}-{tag}"
    t0 = time.perf_counter()
    run(cd.ctr("-n", NS, "run", "--rm", "--null-io", "--runtime", rt.runtime, rt.image, cid, *rt.args, "0"))
    return time.perf_counter() - t0


def measure(cd, rt, k, mode, opts):
    """Starts k sleepers of rt, reads their memory, deletes them; returns the result."""
    tag = f"{rt.name}-{mode}-{k}-{os.getpid()}"
    ids = [f"d-{tag}-{i}" for i in range(k)]
    group = f"pod-{tag}" if mode == "pod-shared" else None
    before_cd = containerd_memory(cd)
    if (stray := cd.processes()):
        raise Failure(f"processes of this containerd before the start: {sorted(stray)}")
    try:
        commands = [run_cmd(cd, rt, cid, SLEEP_MS, group) for cid in ids]
        t0 = time.perf_counter()
        if group:
            # The first container starts the group's shim alone, as a pod's sandbox does
            # before its containers: our shims' `start` does not expect two of a new group
            # at once (one can take the other's half-made socket for a dead shim's).
            ctr_pool(cd, commands[:1], 1)
            commands = commands[1:]
        ctr_pool(cd, commands, opts.parallel)
        start_s = time.perf_counter() - t0
        running = tasks(cd)
        bad = [cid for cid in ids if running.get(cid, (0, ""))[1] != "RUNNING"]
        if bad:
            raise Failure(f"not RUNNING after start: {bad[:5]} ({[running.get(c) for c in bad[:5]]})")
        time.sleep(opts.settle)
        task_pids = [running[cid][0] for cid in ids]
        mem = memory_of(cd, task_pids)
        after_cd = containerd_memory(cd)
        # Still all running after the reading: a sleeper that died would not count.
        running = tasks(cd)
        bad = [cid for cid in ids if running.get(cid, (0, ""))[1] != "RUNNING"]
        if bad:
            raise Failure(f"not RUNNING after the memory reading: {bad[:5]}")
    finally:
        t1 = time.perf_counter()
        # A shared shim exits after the Shutdown that finds it empty: deleting its
        # containers in parallel can leave it running (seen with runc's shim).
        errors = delete_all(cd, ids, 1 if group else opts.parallel)
        delete_s = time.perf_counter() - t1
        try:
            wait_clean(cd, ids, f"{rt.name} {mode} K={k}")
        except Failure as e:
            errors.append(str(e))
        if errors:
            raise Failure("; ".join(errors))
    per = {f: v / k for f, v in mem["total"].items()}
    log(f"{rt.name} {mode} K={k}: start all {start_s:.2f} s, delete all {delete_s:.2f} s; "
        f"per container PSS {per['pss'] / 1024:.2f} MiB, RSS {per['rss'] / 1024:.2f} MiB "
        f"({mem['processes']} processes)")
    return {"runtime": rt.name, "runtime_type": rt.runtime, "mode": mode, "k": k,
            "start_all_s": start_s, "delete_all_s": delete_s,
            "processes": mem["processes"], "total_kb": mem["total"], "per_container_kb": per,
            "by_role_kb": mem["by_role"],
            "containerd_before_kb": before_cd, "containerd_after_kb": after_cd}


# --- report ----------------------------------------------------------------------------

def mib(kb):
    return "–" if kb is None else f"{kb / 1024:.2f}"


def marginal(results, rt, mode, field="pss"):
    """The slope of the total between the smallest and the largest K (kB per container):
    what one more container adds once the fixed costs are paid."""
    rs = sorted((r for r in results if r["runtime"] == rt and r["mode"] == mode), key=lambda r: r["k"])
    if len(rs) < 2:
        return None
    a, b = rs[0], rs[-1]
    return (b["total_kb"][field] - a["total_kb"][field]) / (b["k"] - a["k"])


def role_cell(r, role):
    v = r["by_role_kb"].get(role)
    if not v:
        return "–"
    return f"{v['processes']} × {v['pss'] / v['processes'] / 1024:.2f}"


def render(results, problems, skipped, opts):
    lines = ["| runtime | shim | K | start all s | per container PSS MiB | RSS MiB | USS MiB "
             "| PSS anon MiB | processes: engine host | shim | zygote | container "
             "| containerd RSS +MiB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        per = r["per_container_kb"]
        cd0, cd1 = r["containerd_before_kb"], r["containerd_after_kb"]
        cd_delta = mib(cd1["rss"] - cd0["rss"]) if cd0 and cd1 else "–"
        lines.append(f"| `{r['runtime']}` | {r['mode']} | {r['k']} | {r['start_all_s']:.2f} | "
                     f"**{mib(per['pss'])}** | {mib(per['rss'])} | {mib(per['uss'])} | "
                     f"{mib(per.get('pss_anon'))} | {role_cell(r, 'engine host')} | "
                     f"{role_cell(r, 'shim')} | {role_cell(r, 'zygote')} | "
                     f"{role_cell(r, 'container')} | {cd_delta} |")
    lines += ["", "Process cells: count × PSS MiB each (mean). The engine host (V8: one per node, "
              "it forks the shim daemons) is in the sums, whole, at every K. containerd RSS +MiB: "
              "containerd's own RSS after the K started minus before (not in the sums)."]
    slopes = []
    for rt in dict.fromkeys(r["runtime"] for r in results):
        for mode in dict.fromkeys(r["mode"] for r in results):
            m = marginal(results, rt, mode)
            if m is not None:
                slopes.append(f"`{rt}` {mode} {m / 1024:.2f} MiB")
    if slopes:
        lines += ["", "Marginal PSS per container (slope of the total from the smallest to the "
                  "largest K): " + "; ".join(slopes) + "."]
    targets = []
    for name, limit in TARGETS_MIB.items():
        rs = sorted((r for r in results if r["runtime"] == name and r["mode"] == MODES[0]),
                    key=lambda r: r["k"])
        if rs:
            cells = [f"K={r['k']}: {r['per_container_kb']['pss'] / 1024:.2f}" for r in rs]
            m = marginal(results, name, MODES[0])
            if m is not None:
                cells.append(f"marginal {m / 1024:.2f}")
            met = [r["k"] for r in rs if r["per_container_kb"]["pss"] / 1024 <= limit]
            targets.append(f"`{name}` ≤ {limit} MiB PSS per container (one shim each), MiB: "
                           + ", ".join(cells) + f" (met at K = {', '.join(map(str, met)) or 'none'})")
    if targets:
        lines += [""] + [f"- {t}" for t in targets]
    lines += benchlib.problem_lines(problems, skipped)
    return "\n".join(lines)


def render_doc(table, opts):
    method = [
        "- What: K sleeping containers (`ctr run -d --null-io`, tests/modules/sleep.c sleeping an "
        "hour: `sleep.wasm` under our shims, the same C built `gcc -static -O2` under runc) "
        "against a private containerd; *start all* from the first `ctr run -d` until the last "
        f"returned, {opts.parallel} at a time; then the memory of every process they added.",
        "- Memory: the sum over the shim daemons, zygotes and container processes (processes "
        "naming the private containerd's socket and their descendants, not containerd or ctr) of "
        "`/proc/PID/smaps_rollup` Pss, Rss, Private_* (USS) and Pss_Anon, divided by K. PSS "
        "shares each page among every process that maps it, so it never counts a page twice; "
        "RSS counts shared pages once per process. Not counted: containerd itself (its RSS "
        "change is shown), kernel memory (page tables, namespaces, mounts, cgroups).",
        f"- Modes: {', '.join(opts.mode_list)}. shim-per-container is what `ctr run` makes "
        "containerd do; pod-shared puts the annotation `io.kubernetes.cri.sandbox-id` on all K, "
        "so one shim serves them, as for the containers of one pod.",
        "- One warm-up container per runtime first (wasm2c compiles the module into its cache "
        "there); after each K everything is deleted and checked gone."]
    return benchlib.render_doc(opts, "python3 bench/density.py", "Density: K sleeping containers",
                               method, "Debian's containerd, runc and gcc",
                               f"Results (K = {opts.k}):", table,
                               args=f"--k {opts.k} --parallel {opts.parallel} --modes {opts.modes}")


def main():
    opts = benchlib.parse_args(__doc__, PROG, RUNTIMES, "containerd, runc, /proc/PID/smaps_rollup",
                               extra=extra_args, rounds=False)
    try:
        opts.k_list = [int(k) for k in opts.k.split(",") if k]
    except ValueError:
        die(f"--k {opts.k}: not a list of numbers")
    opts.mode_list = [m for m in opts.modes.split(",") if m]
    if not opts.k_list or min(opts.k_list) < 1 or opts.parallel < 1 or opts.settle < 0:
        die("--k needs counts of at least 1, --parallel at least 1, --settle at least 0")
    if not opts.mode_list or any(m not in MODES for m in opts.mode_list):
        die(f"--modes {opts.modes}: expected some of {','.join(MODES)}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    results, problems, fatal, stop_problem = [], {}, None, None
    warmups = {}
    rts, skipped = [], {}
    try:
        rts, skipped = benchlib.build(opts, opts.selected, runc_tools=("runc", "containerd-shim-runc-v2"))
        tars = make_images(opts, rts, os.path.join(opts.build, "bench", "density"))
        tools = os.path.join(opts.build, "tools")
        with benchlib.PrivateContainerd("density-bench.", tools if any(rt.shim for rt in rts) else None,
                                        opts.keep) as cd:
            for tar, _ in tars:
                run(cd.ctr("-n", NS, "images", "import", tar))
            for rt in rts:
                try:
                    warmups[rt.name] = warm_up(cd, rt, os.getpid())
                    wait_clean(cd, None, f"{rt.name} warm-up")
                    for mode in opts.mode_list:
                        for k in opts.k_list:
                            results.append(measure(cd, rt, k, mode, opts))
                except Failure as e:
                    problems[rt.name] = str(e)
                    log(f"{rt.name}: FAILED {e}")
                    wait_clean(cd, None, f"after {rt.name}'s failure")
        stop_problem = cd.stop_problem
    except Failure as e:
        fatal = str(e)
        log(f"{PROG}: {fatal}")
    finally:
        benchlib.remove_cgroup(NS)
    if (cg := cgroups_left()):
        log(f"cgroups left: {cg}")
    benchlib.write_json(opts.json, {
        "settings": {"k": opts.k_list, "parallel": opts.parallel, "modes": opts.mode_list,
                     "settle_s": opts.settle, "sleep_ms": int(SLEEP_MS), "build": opts.build},
        "machine": benchlib.machine(), "warmup_s": warmups, "results": results,
        "problems": problems, "skipped": skipped, "fatal": fatal, "stop_problem": stop_problem,
        "excluded": "containerd itself (its RSS/PSS before and after are given per result); "
                    "kernel memory (page tables, namespaces, mounts, cgroups)"})
    if fatal:
        return 1
    table = render(results, problems, skipped, opts)
    print(render_doc(table, opts) if opts.doc else table)
    return 1 if problems or stop_problem or cg else 0


if __name__ == "__main__":
    sys.exit(main())
