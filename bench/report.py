#!/usr/bin/python3
"""The whole benchmark suite in one command: runs every benchmark with stated sizes, then
rewrites the generated parts of docs/benchmarks.md and the plots in docs/bench/*.svg.

    bench/report.sh [--build DIR] [--quick] [--only STAGE,...] [--render-only]
                    [--out DIR] [--doc FILE] [--plots DIR] [--wait-load L] [--hold-lock]

Stages, in this order (sizes: the defaults; --quick: tiny ones, for a smoke run):
  cpu                bench/cpu.py -n 3 --start-runs 20 (all five programs)
  ctr_run            bench/ctr_run.py -n 30            (v8, wasm2c, runc)
  pod_start          bench/pod_start.py -n 20          (v8, wasm2c, runc)
  stress_mock        stress-test --mode mock, null, wasm2c and v8 (one shim for all tasks):
                     200 tasks at parallel 1, 2 and 8, and the headline 1000 at parallel 4
  stress_containerd  stress-test --mode containerd against a private containerd, the same
                     plus runc with a static native hello (a shim per task, as ctr run),
                     then the headline again with --pod (one shim for all tasks, as a
                     pod's containers share one); when this stress-test has no
                     containerd mode yet the section says so instead of failing
  density            bench/density.py --k 1,10,50,100, one shim per container and pod-shared
Each stage's raw results go to OUT (default BUILD/bench-report) as STAGE.json with
STAGE.meta.json (its commands, duration, load average, exit status) and STAGE.log. Then
every block of FILE (default docs/benchmarks.md) between `<!-- report:begin NAME -->` and
`<!-- report:end NAME -->` is replaced by what this run generated for NAME (a stage not run,
e.g. outside --only, keeps its block); everything outside the markers is written by hand
and kept as it is. Plots (gnuplot, SVG) go to PLOTS (default docs/bench). --render-only
rebuilds the blocks and plots from OUT without running anything.
Stages that start containerd or shims hold /tmp/runwasi-e2e.lock (flock) while they run,
as the e2e tests do; --hold-lock holds it from the first stage to the last. Unless --no-build, `cmake --build BUILD` first (not counted in the
suite's time). --wait-load L: first wait (up to 30 minutes) until the 1-minute load
average is below L. Needs root, Debian's containerd, runc, gcc, clang, node (optional),
gnuplot, python3-grpcio and python3-protobuf (scripts/install-deps.sh). Exit status 1 if
any stage failed (its block then says why).
"""
import argparse
import fcntl
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/, for benchlib
import benchlib  # noqa: E402
from benchlib import REPO, Failure, log  # noqa: E402

PROG = "report.py"
STAGES = ["cpu", "ctr_run", "pod_start", "stress_mock", "stress_containerd", "density"]
LOCKED = {"ctr_run", "pod_start", "stress_mock", "stress_containerd", "density"}
LOCK = "/tmp/runwasi-e2e.lock"
BLOCKS = ["run", "headline", *STAGES, "ratios"]

SIZES = {
    "full": {"cpu_runs": 3, "cpu_start_runs": 20, "cpu_programs": "fib,sieve,crc32,sha256,matmul",
             "ctr_runs": 30, "pod_runs": 20,
             "stress_parallel": [1, 2, 4, 8], "stress_count": 200,
             "headline_parallel": 4, "headline_count": 1000,
             "density_k": "1,10,50,100", "density_modes": "shim-per-container,pod-shared"},
    "quick": {"cpu_runs": 1, "cpu_start_runs": 3, "cpu_programs": "fib",
              "ctr_runs": 3, "pod_runs": 2,
              "stress_parallel": [1, 4], "stress_count": 20,
              "headline_parallel": 4, "headline_count": 40,
              "density_k": "2,4", "density_modes": "shim-per-container,pod-shared"},
}

# stress-test runtimes: (name, containerd runtime type, image kind).
STRESS_RUNTIMES = [("null", "io.containerd.null.v1", "wasm"),
                   ("wasm2c", "io.containerd.wasm2c.v1", "wasm"),
                   ("v8", "io.containerd.v8.v1", "wasm"),
                   ("runc", "io.containerd.runc.v2", "native")]
STRESS_NS = "bench-stress"
# Issue 7's throughput targets (reported, not asserted).
CONTAINERD_VS_RUNC = 2.0
CONTAINERD_VS_NULL = 0.7
MOCK_TASKS_PER_S = 200


class Stage:
    """One stage's bookkeeping: its commands and how they went, saved as STAGE.meta.json."""

    def __init__(self, name, out):
        self.name = name
        self.out = out
        self.meta = {"stage": name, "commands": [], "problems": [], "lock_wait_s": 0.0}
        self.log_path = os.path.join(out, f"{name}.log")
        open(self.log_path, "w").close()

    def run(self, cmd, stdout_path=None, ok_codes=(0,)):
        """Runs cmd, its stderr into STAGE.log (and ours), stdout into stdout_path (else
        the log); returns the CompletedProcess (its stdout when not redirected)."""
        log(f"[{self.name}] {shlex.join(cmd)}")
        t0 = time.monotonic()
        with open(self.log_path, "a") as logf:
            logf.write(f"$ {shlex.join(cmd)}\n")
            logf.flush()
            out = open(stdout_path, "w") if stdout_path else subprocess.PIPE
            try:
                p = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, text=True,
                                   stdin=subprocess.DEVNULL)
            finally:
                if stdout_path:
                    out.close()
            logf.write(p.stderr)
            if p.stdout:
                logf.write(p.stdout)
        sys.stderr.write("".join(f"  {line}\n" for line in p.stderr.splitlines()[-6:]))
        self.meta["commands"].append({"cmd": shlex.join(cmd), "rc": p.returncode,
                                      "seconds": round(time.monotonic() - t0, 3)})
        if p.returncode not in ok_codes:
            self.meta["problems"].append(f"`{shlex.join(cmd)}` exited {p.returncode}; its stderr ends:\n"
                                         f"{p.stderr.strip()[-600:]}")
        return p

    def save(self):
        with open(os.path.join(self.out, f"{self.name}.meta.json"), "w") as f:
            json.dump(self.meta, f, indent=2)


class Lock:
    """flock(LOCK) around a `with` block; the time waited goes to stage.meta."""

    def __init__(self, stage):
        self.stage = stage

    def __enter__(self):
        self.f = open(LOCK, "a")
        t0 = time.monotonic()
        try:
            fcntl.flock(self.f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"[{self.stage.name}] waiting for {LOCK}")
            fcntl.flock(self.f, fcntl.LOCK_EX)
        self.stage.meta["lock_wait_s"] += time.monotonic() - t0
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()
        return False


# --- the stages ------------------------------------------------------------------------

def stage_cpu(st, opts, sz):
    st.run([sys.executable, os.path.join(REPO, "bench", "cpu.py"),
            "--runwasi", os.path.join(opts.build, "tools", "runwasi"),
            "--build-dir", os.path.join(opts.build, "bench", "cpu"),
            "-n", str(sz["cpu_runs"]), "--start-runs", str(sz["cpu_start_runs"]),
            "--programs", sz["cpu_programs"], "--json", os.path.join(opts.out, "cpu.json")],
           stdout_path=os.path.join(opts.out, "cpu.md"))


def stage_script(script, runs_key):
    def stage(st, opts, sz):
        st.run([sys.executable, os.path.join(REPO, "bench", script), "--build", opts.build, "--no-build",
                "-n", str(sz[runs_key]), "--json", os.path.join(opts.out, f"{st.name}.json")],
               stdout_path=os.path.join(opts.out, f"{st.name}.md"))
    return stage


def stage_density(st, opts, sz):
    st.run([sys.executable, os.path.join(REPO, "bench", "density.py"), "--build", opts.build, "--no-build",
            "--k", sz["density_k"], "--modes", sz["density_modes"],
            "--json", os.path.join(opts.out, "density.json")],
           stdout_path=os.path.join(opts.out, "density.md"))


def stress_plan(sz):
    """[(parallel, count)] of a stress stage: the sweep, with the headline count at its
    parallelism."""
    plan = [(p, sz["stress_count"]) for p in sz["stress_parallel"] if p != sz["headline_parallel"]]
    plan.append((sz["headline_parallel"], sz["headline_count"]))
    return sorted(plan)


def stress_runs(st, opts, sz, runtimes, common, image_of, tag, plan=None):
    """stress-test for each (parallel, count) of the plan (default stress_plan(sz)) and each
    runtime (round-robin at each parallelism); returns [{runtime, parallel, count, report or
    error}]."""
    tool = os.path.join(opts.build, "tools", "stress-test")
    results = []
    for parallel, count in plan or stress_plan(sz):
        for name, runtime, kind in runtimes:
            path = os.path.join(opts.out, "stress", f"{tag}-{name}-p{parallel}.json")
            if os.path.exists(path):
                os.remove(path)
            p = st.run([tool, *common, "--runtime", runtime, "--image", image_of[kind],
                        "--count", str(count), "--parallel", str(parallel), "--json", path])
            r = {"runtime": name, "runtime_type": runtime, "parallel": parallel, "count": count,
                 "rc": p.returncode}
            if os.path.exists(path):
                with open(path) as f:
                    r["report"] = json.load(f)
            else:
                r["error"] = (p.stderr or p.stdout).strip()[-600:]
            if p.returncode == 2 and "report" not in r:
                return results, r  # a usage error: the tool cannot do this mode at all
            results.append(r)
    return results, None


def stage_stress_mock(st, opts, sz):
    os.makedirs(os.path.join(opts.out, "stress"), exist_ok=True)
    image = {"wasm": os.path.join(opts.build, "tests", "modules", "hello.wasm")}
    runtimes = [r for r in STRESS_RUNTIMES if r[2] == "wasm"]
    results, fatal = stress_runs(st, opts, sz, runtimes, ["--mode", "mock", "--namespace", STRESS_NS],
                                 image, "mock")
    benchlib.remove_cgroup(STRESS_NS)
    write(opts.out, "stress_mock", {"plan": stress_plan(sz), "results": results,
                                    "unavailable": fatal and fatal.get("error")})


def stage_stress_containerd(st, opts, sz):
    os.makedirs(os.path.join(opts.out, "stress"), exist_ok=True)
    tools = os.path.join(opts.build, "tools")
    rts = [benchlib.Runtime("v8", "io.containerd.v8.v1", "containerd-shim-v8-v1", benchlib.WASM_IMAGE, None),
           benchlib.Runtime("runc", "io.containerd.runc.v2", None, benchlib.NATIVE_IMAGE, None)]
    data = {"plan": stress_plan(sz), "results": [], "unavailable": None}
    try:
        tars = benchlib.make_images(opts.build, rts, os.path.join(opts.build, "bench", "stress"),
                                    entrypoint="/hello")
        with benchlib.PrivateContainerd("stress-bench.", tools, False) as cd:
            for tar, _ in tars:
                benchlib.run(cd.ctr("-n", STRESS_NS, "images", "import", tar))
            common = ["--mode", "containerd", "--address", cd.sock, "--namespace", STRESS_NS]
            image = {"wasm": benchlib.WASM_IMAGE, "native": benchlib.NATIVE_IMAGE}
            data["results"], fatal = stress_runs(st, opts, sz, STRESS_RUNTIMES, common, image, "containerd")
            if not fatal:
                # The headline again with the tasks sharing one shim, as a pod's containers do.
                headline = [(sz["headline_parallel"], sz["headline_count"])]
                data["pod"], fatal = stress_runs(st, opts, sz, STRESS_RUNTIMES, common + ["--pod"],
                                                 image, "containerd-pod", plan=headline)
            if fatal:
                data["unavailable"] = fatal.get("error") or f"stress-test exited {fatal['rc']}"
                st.meta["problems"] = [p for p in st.meta["problems"] if "exited 2" not in p]
            if (left := cd.processes()):
                st.meta["problems"].append(f"processes left after the runs: {sorted(left)}")
        if cd.stop_problem:
            st.meta["problems"].append(cd.stop_problem)
    except Failure as e:
        st.meta["problems"].append(str(e))
    finally:
        benchlib.remove_cgroup(STRESS_NS)
    write(opts.out, "stress_containerd", data)


def write(out, name, data):
    benchlib.write_json(os.path.join(out, f"{name}.json"), data)


STAGE_FUNCS = {"cpu": stage_cpu, "ctr_run": stage_script("ctr_run.py", "ctr_runs"),
               "pod_start": stage_script("pod_start.py", "pod_runs"),
               "stress_mock": stage_stress_mock, "stress_containerd": stage_stress_containerd,
               "density": stage_density}


# --- reading the results ---------------------------------------------------------------

def load(out, name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def load_text(out, name):
    try:
        with open(os.path.join(out, name)) as f:
            return f.read().strip()
    except OSError:
        return None


def stress_table(results):
    """{runtime: {parallel: report}} of the runs that gave a report."""
    table = {}
    for r in results or []:
        if "report" in r:
            table.setdefault(r["runtime"], {})[r["parallel"]] = r["report"]
    return table


def tps(report):
    return report["tasks_per_second"] if report and report.get("passed") else None


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(v, spec=".2f", none="–"):
    return none if v is None else format(v, spec)


class Results:
    """Everything the blocks and plots are made of, read from OUT."""

    def __init__(self, out):
        self.out = out
        self.meta = {s: load(out, f"{s}.meta.json") for s in STAGES}
        self.run = load(out, "run.json") or {}
        self.cpu = load(out, "cpu.json")
        self.ctr_run = load(out, "ctr_run.json")
        self.pod_start = load(out, "pod_start.json")
        self.stress = {m: load(out, f"stress_{m}.json") for m in ("mock", "containerd")}
        self.density = load(out, "density.json")

    def median(self, data, name, key=None):
        if not data or name not in data["runtimes"]:
            return None
        values = [(r if key is None else r[key]) for r in data["runtimes"][name]["results"]]
        return statistics.median(values) if values else None

    def headline_size(self, mode):
        """(parallel, count) of a stress stage's headline run: its largest."""
        data = self.stress[mode]
        return tuple(max(data["plan"], key=lambda pc: pc[1])) if data and data["plan"] else (None, None)

    def headline(self, mode, name, pod=False):
        """The headline run's report; pod: containerd mode's run with --pod."""
        data = self.stress[mode]
        if not data:
            return None
        results = data.get("pod") if pod else data["results"]
        return stress_table(results).get(name, {}).get(self.headline_size(mode)[0])

    def density_pss(self, name, k=None, mode="shim-per-container"):
        if not self.density:
            return None
        rs = [r for r in self.density["results"] if r["runtime"] == name and r["mode"] == mode]
        if k is not None:
            rs = [r for r in rs if r["k"] == k]
        return rs[-1]["per_container_kb"]["pss"] / 1024 if rs else None

    def ratios(self):
        """[(metric, {runtime: ratio})] for the ratio table and plot."""
        rows = []
        for label, data, key in (("ctr run --rm latency / runc", self.ctr_run, None),
                                 ("pod start (running) / runc", self.pod_start, "running_s")):
            runc = self.median(data, "runc", key)
            rows.append((label, {n: ratio(self.median(data, n, key), runc) for n in ("v8", "wasm2c")}))
        for mode in ("mock", "containerd"):
            null = tps(self.headline(mode, "null"))
            if mode == "containerd":
                runc = tps(self.headline(mode, "runc"))
                rows.append(("containerd throughput / runc",
                             {n: ratio(tps(self.headline(mode, n)), runc) for n in ("v8", "wasm2c")}))
                runc_pod = tps(self.headline(mode, "runc", pod=True))
                rows.append(("containerd throughput, --pod / runc --pod",
                             {n: ratio(tps(self.headline(mode, n, pod=True)), runc_pod)
                              for n in ("v8", "wasm2c")}))
            rows.append((f"{mode} throughput / null floor",
                         {n: ratio(tps(self.headline(mode, n)), null) for n in ("v8", "wasm2c")}))
        if self.density:
            ks = sorted({r["k"] for r in self.density["results"]})
            k = ks[-1] if ks else None
            runc = self.density_pss("runc", k)
            rows.append((f"PSS per container (K={k}) / runc",
                         {n: ratio(self.density_pss(n, k), runc) for n in ("v8", "wasm2c")}))
        return rows


# --- the blocks ------------------------------------------------------------------------

def stage_status(res, name):
    m = res.meta.get(name)
    if not m:
        return None, ["Not run yet: `bench/report.sh` (or `--only " + name + "`) fills this block."]
    lines = []
    if m["problems"]:
        lines += ["", "**Problems in this stage:**", ""]
        for p in m["problems"]:
            head, _, detail = p.partition("\n")
            lines.append(f"- {head.replace(REPO + '/', '')}")
            if detail.strip():
                lines += ["", "  ```", *(f"  {line}" for line in detail.strip().splitlines()), "  ```"]
    return m, lines


def commands_block(m):
    if not m or not m["commands"]:
        return []
    cmds = [c["cmd"].replace(REPO + "/", "") for c in m["commands"]]
    if len(cmds) > 6:
        cmds = cmds[:3] + [f"# ... {len(cmds) - 4} more like these (see STAGE.meta.json)"] + cmds[-1:]
    load = m.get("loadavg_before")
    return [f"Run {m.get('started', '?')}, {m.get('seconds', 0):.0f} s"
            + (f", 1-minute load average {load[0]:.2f} at its start" if load else "")
            + (f" (waited {m['lock_wait_s']:.0f} s for the e2e lock)" if m.get("lock_wait_s", 0) >= 1 else "")
            + ":", "", "```sh", *cmds, "```", ""]


def block_run(res, opts):
    r = res.run
    if not r:
        return "Not run yet."
    m = r["machine"]
    lines = [f"- Finished: {r['date']}; the whole suite took **{r['seconds'] / 60:.1f} minutes** "
             f"({r['size']} sizes; the build before it not counted)",
             f"- Machine: {m['cpu']}, {m['cpus']} CPUs, {m['memory_kb'] / 1048576:.1f} GiB memory; "
             f"kernel {m['kernel']}; {m['containerd']}; {m['runc']}",
             f"- Load: 1-minute load average {r['load_before'][0]:.2f} at the start, "
             f"{r['load_after'][0]:.2f} at the end (other work shares this VM; each stage's own "
             "figure below includes the suite's previous stage, as a load average lags a minute)"
             + ("; the e2e lock held throughout, so no one's e2e test ran beside it" if r.get("held_lock") else ""),
             f"- Command: `{r['command']}`", "",
             "| stage | finished | seconds | load at start | status |", "|---|---|---|---|---|"]
    for s in STAGES:
        mt = res.meta.get(s)
        if mt:
            # A stage rerun alone (--only) after the whole run shows its own time here.
            lines.append(f"| {s} | {mt.get('finished', r['date'])} | {mt.get('seconds', 0):.0f} | "
                         f"{mt.get('loadavg_before', [0])[0]:.2f} | "
                         f"{'problems (see its section)' if mt['problems'] else 'ok'} |")
    return "\n".join(lines)


def target_row(what, value, limit, unit, higher_better, fmt_spec=".2f"):
    if value is None:
        return f"| {what} | not measured | – |"
    met = value >= limit if higher_better else value <= limit
    return f"| {what} | {format(value, fmt_spec)}{unit} | {'yes' if met else 'no'} |"


def block_headline(res, opts):
    lines = ["| target | measured | met |", "|---|---|---|"]
    if res.cpu:
        g = res.cpu["geomean_vs_native"]
        for e, limit in res.cpu["targets"]["cpu_geomean"].items():
            lines.append(target_row(f"{e} CPU suite ≤ {limit}x native (geomean)", g.get(f"runwasi {e}"),
                                    limit, "x", False))
        for e, limit in res.cpu["targets"]["start_ms"].items():
            v = res.cpu["start_median_s"].get(f"runwasi {e}, precompiled")
            lines.append(target_row(f"{e} precompiled hello start-to-exit ≤ {limit:g} ms",
                                    None if v is None else v * 1000, limit, " ms", False, ".1f"))
    for n in ("v8", "wasm2c"):
        runc = res.median(res.ctr_run, "runc")
        lines.append(target_row(f"{n} `ctr run --rm` median ≤ 0.8× runc",
                                ratio(res.median(res.ctr_run, n), runc), 0.8, "×", False))
    hp, hc = res.headline_size("mock")
    for n in ("null", "wasm2c", "v8"):
        lines.append(target_row(f"mock mode, {n}: ≥ {MOCK_TASKS_PER_S} tasks/s ({hc} tasks, parallel {hp})",
                                tps(res.headline("mock", n)), MOCK_TASKS_PER_S, " tasks/s", True, ".1f"))
    c = {n: tps(res.headline("containerd", n)) for n in ("null", "wasm2c", "v8", "runc")}
    unavailable = res.stress["containerd"] and res.stress["containerd"].get("unavailable")
    for n in ("wasm2c", "v8"):
        if unavailable or not res.stress["containerd"]:
            lines.append(f"| containerd mode, {n}: ≥ {CONTAINERD_VS_RUNC:g}× runc, ≥ "
                         f"{CONTAINERD_VS_NULL:.0%} of null | not measured (no containerd mode "
                         f"in stress-test yet) | – |")
            continue
        hp, hc = res.headline_size("containerd")
        lines.append(target_row(f"containerd mode, {n}: ≥ {CONTAINERD_VS_RUNC:g}× runc's tasks/s "
                                f"({hc} tasks, parallel {hp})",
                                ratio(c[n], c["runc"]), CONTAINERD_VS_RUNC, "×", True))
        lines.append(target_row(f"containerd mode, {n}: ≥ {CONTAINERD_VS_NULL:.0%} of null's tasks/s",
                                ratio(c[n], c["null"]), CONTAINERD_VS_NULL, "×", True))
        pod = {m: tps(res.headline("containerd", m, pod=True)) for m in (n, "runc", "null")}
        if any(v is not None for v in pod.values()):
            lines.append(target_row(f"containerd mode `--pod` (one shim for all tasks, runc's too), "
                                    f"{n}: ≥ {CONTAINERD_VS_RUNC:g}× runc's tasks/s",
                                    ratio(pod[n], pod["runc"]), CONTAINERD_VS_RUNC, "×", True))
            lines.append(target_row(f"containerd mode `--pod`, {n}: ≥ {CONTAINERD_VS_NULL:.0%} of null's tasks/s",
                                    ratio(pod[n], pod["null"]), CONTAINERD_VS_NULL, "×", True))
    if res.density:
        import density
        ks = sorted({r["k"] for r in res.density["results"]})
        for n, limit in density.TARGETS_MIB.items():
            for k in ks:
                lines.append(target_row(f"{n}: PSS per sleeping container ≤ {limit} MiB (K={k}, a shim each)",
                                        res.density_pss(n, k), limit, " MiB", False))
            m = density.marginal(res.density["results"], n, density.MODES[0])
            lines.append(target_row(f"{n}: what one more sleeping container adds (PSS, K={ks[0]}→{ks[-1]}, "
                                    f"a shim each) ≤ {limit} MiB", None if m is None else m / 1024,
                                    limit, " MiB", False))
    return "\n".join(lines)


def block_cpu(res, opts):
    m, extra = stage_status(res, "cpu")
    if not m:
        return extra[0]
    return "\n".join(commands_block(m) + [load_text(res.out, "cpu.md") or "No results."] + extra)


def block_script(name, plot, caption):
    def block(res, opts):
        m, extra = stage_status(res, name)
        if not m:
            return extra[0]
        return "\n".join(commands_block(m) + [load_text(res.out, f"{name}.md") or "No results.", "",
                                              f"![{caption}](bench/{plot}.svg)"] + extra)
    return block


def block_stress(mode):
    def block(res, opts):
        name = f"stress_{mode}"
        m, extra = stage_status(res, name)
        if not m:
            return extra[0]
        data = res.stress[mode]
        lines = commands_block(m)
        if data and data.get("unavailable"):
            return "\n".join(lines + [
                "**Not measured: this build's stress-test has no containerd mode yet.** It said:", "",
                "```", data["unavailable"].strip(), "```", "",
                "Once `stress-test --mode containerd` exists, `bench/report.sh --only "
                "stress_containerd` fills this block."] + extra)
        table = stress_table(data and data["results"])
        plan = data["plan"] if data else []
        names = [n for n, *_ in STRESS_RUNTIMES if n in table]
        lines += ["Tasks per second (succeeded measured tasks / the measured phase's wall time; "
                  "count at each parallelism in the header):", "",
                  "| runtime | " + " | ".join(f"parallel {p} ({c})" for p, c in plan) + " |",
                  "|---|" + "---|" * len(plan)]
        for n in names:
            cells = []
            for p, _ in plan:
                rep = table[n].get(p)
                cells.append("–" if rep is None else
                             (f"{rep['tasks_per_second']:.1f}" + ("" if rep["passed"] else " (FAILED)")))
            lines.append(f"| `{n}` | " + " | ".join(cells) + " |")
        hp, hc = res.headline_size(mode)
        lines += ["", f"Headline ({hc} tasks, parallel {hp}): latency per task in ms (Create → Delete "
                  "returned; `total`), the shims' CPU per task, and ratios:", "",
                  "| runtime | tasks/s | total p50 | p90 | p99 | max | create p50 | wait p50 "
                  "| shim CPU ms/task | / null |" + (" / runc |" if mode == "containerd" else ""),
                  "|---|---|---|---|---|---|---|---|---|---|" + ("---|" if mode == "containerd" else "")]
        null = tps(res.headline(mode, "null"))
        runc = tps(res.headline(mode, "runc"))
        for n in names:
            rep = table[n].get(hp)
            if not rep:
                continue
            lat = rep["latency_ms"]
            cpu = rep.get("details", {}).get("cpu_ms_per_task", {}).get("shims")
            lines.append(f"| `{n}` | {fmt(tps(rep), '.1f', 'FAILED')} | {lat['total']['p50']:.1f} | "
                         f"{lat['total']['p90']:.1f} | {lat['total']['p99']:.1f} | {lat['total']['max']:.1f} | "
                         f"{lat.get('create', {}).get('p50', 0):.1f} | {lat.get('wait', {}).get('p50', 0):.1f} | "
                         f"{fmt(cpu, '.1f')} | {fmt(ratio(tps(rep), null))} |"
                         + (f" {fmt(ratio(tps(rep), runc))} |" if mode == "containerd" else ""))
        if mode == "containerd" and data and data.get("pod"):
            pod = stress_table(data["pod"])
            null_pod, runc_pod = (tps(res.headline(mode, m, pod=True)) for m in ("null", "runc"))
            lines += ["", f"The headline again with `--pod`: all tasks share one shim (runc's shim "
                      "too), as a pod's containers do; a task created first and never started "
                      "holds it:", "",
                      "| runtime | tasks/s | total p50 | p90 | p99 | create p50 | / null | / runc |",
                      "|---|---|---|---|---|---|---|---|"]
            for n in names:
                rep = pod.get(n, {}).get(hp)
                if not rep:
                    continue
                lat = rep["latency_ms"]
                lines.append(f"| `{n}` | {fmt(tps(rep), '.1f', 'FAILED')} | {lat['total']['p50']:.1f} | "
                             f"{lat['total']['p90']:.1f} | {lat['total']['p99']:.1f} | "
                             f"{lat.get('create', {}).get('p50', 0):.1f} | "
                             f"{fmt(ratio(tps(rep), null_pod))} | {fmt(ratio(tps(rep), runc_pod))} |")
        failed = [r for r in (data["results"] + data.get("pod", []) if data else [])
                  if "report" in r and not r["report"]["passed"]]
        for r in failed:
            rep = r["report"]
            lines.append(f"- FAILED: {r['runtime']} parallel {r['parallel']}: "
                         f"{rep['tasks']['failed']} failed tasks; problems {rep['problems'][:2]}; "
                         f"first failure {(rep['failures'] or [{}])[0].get('message', '')[:200]!r}")
        lines += ["", f"![throughput vs parallelism, {mode}](bench/throughput-{mode}.svg)",
                  f"![latency per task, {mode}](bench/latency-stress-{mode}.svg)"]
        return "\n".join(lines + extra)
    return block


def block_density(res, opts):
    m, extra = stage_status(res, "density")
    if not m:
        return extra[0]
    table = load_text(res.out, "density.md") or "No results."
    if res.density and not res.density.get("fatal"):
        import density  # its table again from the JSON, so --render-only follows its changes
        d = res.density
        table = density.render(d["results"], d["problems"], d["skipped"], None)
    return "\n".join(commands_block(m) + [table, "",
                                          "![memory per container vs K](bench/memory-vs-k.svg)",
                                          "![start-all time vs K](bench/start-all-vs-k.svg)"] + extra)


def block_ratios(res, opts):
    rows = res.ratios()
    lines = ["Medians (headlines for throughput) divided by the baseline's; latency and memory: "
             "lower is better, throughput: higher is better.", "",
             "| ratio | v8 | wasm2c |", "|---|---|---|"]
    for label, vals in rows:
        lines.append(f"| {label} | {fmt(vals.get('v8'))} | {fmt(vals.get('wasm2c'))} |")
    lines += ["", "![ratios](bench/ratios.svg)"]
    return "\n".join(lines)


BLOCK_FUNCS = {"run": block_run, "headline": block_headline, "cpu": block_cpu,
               "ctr_run": block_script("ctr_run", "latency-ctr-run", "ctr run --rm latency CDF"),
               "pod_start": block_script("pod_start", "latency-pod-start", "pod start latency CDF"),
               "stress_mock": block_stress("mock"), "stress_containerd": block_stress("containerd"),
               "density": block_density, "ratios": block_ratios}


def replace_blocks(text, blocks):
    """text with the content between each block's markers replaced; Failure when a
    marker is missing or out of order."""
    for name, content in blocks.items():
        begin, end = f"<!-- report:begin {name} -->", f"<!-- report:end {name} -->"
        a, b = text.find(begin), text.find(end)
        if a < 0 or b < a:
            raise Failure(f"{begin} ... {end} not found (in that order) in the document")
        text = text[:a + len(begin)] + "\n" + content.strip() + "\n" + text[b:]
    return text


# --- plots -----------------------------------------------------------------------------

SVG = 'set terminal svg size 760,440 dynamic font "sans,12" background "white"'
COLORS = {"null": "#888888", "wasm2c": "#1b9e77", "v8": "#d95f02", "runc": "#7570b3"}


def gnuplot(plots, name, script, data):
    """Writes data files ({file name: text}) and the script into OUT/plots, runs gnuplot,
    output PLOTS/NAME.svg."""
    work = os.path.join(plots["work"], name)
    os.makedirs(work, exist_ok=True)
    for fname, text in data.items():
        with open(os.path.join(work, fname), "w") as f:
            f.write(text)
    out = os.path.join(plots["dir"], f"{name}.svg")
    gp = os.path.join(work, "plot.gp")
    with open(gp, "w") as f:
        f.write(f"{SVG}\nset output '{out}'\ncd '{work}'\nset grid\nset key outside right top\n{script}\n")
    p = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if p.returncode != 0:
        raise Failure(f"gnuplot {gp}: {p.stderr.strip()[-500:]}")
    # gnuplot's SVG names the script's title and date nowhere, but strip trailing spaces
    # so regenerated files diff cleanly.
    with open(out) as f:
        svg = "\n".join(line.rstrip() for line in f.read().splitlines()) + "\n"
    with open(out, "w") as f:
        f.write(svg)
    return out


def plot_cdf(plots, name, data, key, title):
    if not data:
        return None
    series = {}
    for n, rt in data["runtimes"].items():
        vals = sorted((r if key is None else r[key]) * 1000 for r in rt["results"])
        if vals:
            series[n] = f"{vals[0]:.3f} 0\n" + "".join(f"{v:.3f} {(i + 1) / len(vals):.4f}\n"
                                                       for i, v in enumerate(vals))
    if not series:
        return None
    lines = [f"set title '{title}'", "set xlabel 'ms'", "set ylabel 'fraction of runs ≤ x'",
             "set yrange [0:1.02]", "set xrange [0:*]", "set key right bottom inside"]
    plot = ", ".join(f"'{n}.dat' using 1:2 with steps lw 2 lc rgb '{COLORS.get(n, '#000')}' title '{n}'"
                     for n in series)
    return gnuplot(plots, name, "\n".join(lines) + "\nplot " + plot, {f"{n}.dat": v for n, v in series.items()})


def plot_throughput(plots, res, mode):
    data = res.stress[mode]
    table = stress_table(data and data["results"])
    if not table:
        return None
    files = {}
    for n in table:
        files[f"{n}.dat"] = "".join(f"{p} {tps(rep)}\n" for p, rep in sorted(table[n].items())
                                    if tps(rep) is not None)
    ps = sorted({p for p, _ in data["plan"]})
    plot = ", ".join(f"'{n}.dat' using 1:2 with linespoints lw 2 pt 7 lc rgb '{COLORS.get(n, '#000')}' "
                     f"title '{n}'" for n in table if files[f"{n}.dat"])
    script = (f"set title 'stress-test --mode {mode}: throughput vs parallelism'\n"
              f"set logscale x 2\nset xrange [{ps[0] * 0.85}:{ps[-1] * 1.2}]\nset xtics ({', '.join(map(str, ps))})\n"
              "set xlabel 'parallel tasks (--parallel)'\nset ylabel 'tasks/s'\nset yrange [0:*]\nplot " + plot)
    return gnuplot(plots, f"throughput-{mode}", script, files)


def plot_stress_latency(plots, res, mode):
    names = [n for n, *_ in STRESS_RUNTIMES if res.headline(mode, n)]
    if not names:
        return None
    rows = ""
    for i, n in enumerate(names):
        t = res.headline(mode, n)["latency_ms"]["total"]
        # x, box low (p50), whisker low (min), whisker high (p99), box high (p90), label
        rows += f"{i} {t['p50']} {t['min']} {t['p99']} {t['p90']} {n}\n"
    script = (f"set title 'stress-test --mode {mode}: latency per task (headline run)'\n"
              "set ylabel 'ms (box p50–p90, whiskers min–p99)'\nset xrange [-0.6:" + f"{len(names) - 0.4}]\n"
              "set yrange [0:*]\nset boxwidth 0.4\nset style fill solid 0.4\nunset key\n"
              "plot 'lat.dat' using 1:2:3:4:5:xtic(6) with candlesticks whiskerbars lw 2 lc rgb '#1b9e77'")
    return gnuplot(plots, f"latency-stress-{mode}", script, {"lat.dat": rows})


def plot_density(plots, res):
    if not res.density or not res.density["results"]:
        return []
    files = {}
    for r in res.density["results"]:
        key = f"{r['runtime']}-{r['mode']}.dat"
        files[key] = files.get(key, "") + (f"{r['k']} {r['per_container_kb']['pss'] / 1024:.3f} "
                                           f"{r['per_container_kb']['rss'] / 1024:.3f} {r['start_all_s']:.3f}\n")
    def series(col):
        out = []
        for key in files:
            n, mode = key[:-4].split("-", 1)
            dash = "dt 1" if mode == "shim-per-container" else "dt 2"
            out.append(f"'{key}' using 1:{col} with linespoints lw 2 pt 7 {dash} "
                       f"lc rgb '{COLORS.get(n, '#000')}' title '{n}, {mode}'")
        return ", ".join(out)
    ks = sorted({r["k"] for r in res.density["results"]})
    xaxis = (f"set xlabel 'K (containers)'\nset logscale x\nset xrange [{ks[0] * 0.8}:{ks[-1] * 1.25}]\n"
             f"set xtics ({', '.join(map(str, ks))})\nset yrange [0:*]\n")
    made = [gnuplot(plots, "memory-vs-k", "set title 'PSS per sleeping container vs K'\n" + xaxis +
                    "set ylabel 'MiB per container (PSS)'\nplot " + series(2), files)]
    linear = (f"set xlabel 'K (containers)'\nset xrange [0:{ks[-1] * 1.05}]\n"
              f"set xtics ({', '.join(map(str, ks))})\nset yrange [0:*]\nset key left top\n")
    made.append(gnuplot(plots, "start-all-vs-k", "set title 'time to start K sleeping containers'\n" + linear +
                        "set ylabel 'seconds'\nplot " + series(4), files))
    return made


def plot_ratios(plots, res):
    rows = [(label, vals) for label, vals in res.ratios() if any(v is not None for v in vals.values())]
    if not rows:
        return None
    text = "".join(f"\"{label}\" {fmt(vals.get('v8'), '.4f', '?')} {fmt(vals.get('wasm2c'), '.4f', '?')}\n"
                   for label, vals in rows)
    script = ("set title 'Wasm shims relative to their baselines (1 = equal)'\n"
              "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.8\n"
              "set boxwidth 0.9\nset yrange [0:*]\nset ylabel 'ratio'\nset xtics rotate by -25 scale 0\n"
              "set datafile missing '?'\nset arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2\n"
              f"plot 'ratios.dat' using 2:xtic(1) lc rgb '{COLORS['v8']}' title 'v8', "
              f"'' using 3 lc rgb '{COLORS['wasm2c']}' title 'wasm2c'")
    return gnuplot(plots, "ratios", script, {"ratios.dat": text})


def make_plots(res, opts):
    if not shutil.which("gnuplot"):
        raise Failure("gnuplot not found (apt-get install gnuplot-nox; scripts/install-deps.sh)")
    plots = {"dir": opts.plots, "work": os.path.join(opts.out, "plots")}
    os.makedirs(opts.plots, exist_ok=True)
    made = [plot_cdf(plots, "latency-ctr-run", res.ctr_run, None, "ctr run --rm: distribution of run times"),
            plot_cdf(plots, "latency-pod-start", res.pod_start, "running_s",
                     "pod start through CRI (until the container runs): distribution"),
            plot_throughput(plots, res, "mock"), plot_throughput(plots, res, "containerd"),
            plot_stress_latency(plots, res, "mock"), plot_stress_latency(plots, res, "containerd"),
            *plot_density(plots, res), plot_ratios(plots, res)]
    return [m for m in made if m]


# --- main ------------------------------------------------------------------------------

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 2)[2],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("BENCH_BUILD", os.path.join(REPO, "build")),
                    help="the configured CMake build directory (default build)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run, not a measurement")
    ap.add_argument("--only", help="comma-separated stages to run (default all)")
    ap.add_argument("--render-only", action="store_true", help="only rebuild the blocks and plots from OUT")
    ap.add_argument("--no-build", action="store_true", help="do not run cmake --build first")
    ap.add_argument("--out", help="raw results directory (default BUILD/bench-report)")
    ap.add_argument("--doc", default=os.path.join(REPO, "docs", "benchmarks.md"), help="the document to update")
    ap.add_argument("--plots", default=os.path.join(REPO, "docs", "bench"), help="where the SVGs go")
    ap.add_argument("--wait-load", type=float, help="wait until the 1-minute load average is below this")
    ap.add_argument("--hold-lock", action="store_true",
                    help="hold the e2e lock for the whole suite, not only its containerd stages "
                         "(no e2e test of anyone else runs in between: a quieter run)")
    opts = ap.parse_args()
    opts.build = os.path.abspath(opts.build)
    opts.out = os.path.abspath(opts.out or os.path.join(opts.build, "bench-report"))
    opts.stages = STAGES if not opts.only else [s for s in opts.only.split(",") if s]
    for s in opts.stages:
        if s not in STAGES:
            benchlib.die(PROG, f"unknown stage {s} (have {', '.join(STAGES)})")
    if not opts.render_only:
        if os.geteuid() != 0:
            benchlib.die(PROG, "needs root (containerd, shims, cgroups)")
        if not os.path.exists(os.path.join(opts.build, "CMakeCache.txt")):
            benchlib.die(PROG, f"{opts.build} is not a configured build directory "
                               f"(cmake -S . -B {opts.build} -G Ninja)")
    return opts


def wait_for_load(limit):
    deadline = time.monotonic() + 1800
    while os.getloadavg()[0] >= limit and time.monotonic() < deadline:
        log(f"load average {os.getloadavg()[0]:.2f} ≥ {limit}: waiting")
        time.sleep(30)


def run_suite(opts):
    os.makedirs(opts.out, exist_ok=True)
    if not opts.no_build:
        log(f"building {opts.build}")
        p = subprocess.run(["cmake", "--build", opts.build], capture_output=True, text=True)
        if p.returncode != 0:
            raise Failure(f"cmake --build {opts.build} failed:\n{(p.stdout + p.stderr)[-2000:]}")
    sz = SIZES["quick" if opts.quick else "full"]
    held = None
    if opts.hold_lock:
        held = Lock(Stage("lock", opts.out))
        held.__enter__()
        log(f"holding {LOCK} for the whole suite (waited {held.stage.meta['lock_wait_s']:.0f} s)")
    try:
        if opts.wait_load:
            wait_for_load(opts.wait_load)
        return run_stages(opts, sz, held is not None)
    finally:
        if held:
            held.__exit__(None, None, None)


def run_stages(opts, sz, locked):
    t0 = time.monotonic()
    load_before = os.getloadavg()
    failed = []
    for name in opts.stages:
        st = Stage(name, opts.out)
        st.meta["loadavg_before"] = os.getloadavg()
        st.meta["started"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        log(f"=== {name} (load {st.meta['loadavg_before'][0]:.2f})")
        ts = time.monotonic()
        try:
            if name in LOCKED and not locked:
                with Lock(st):
                    STAGE_FUNCS[name](st, opts, sz)
            else:
                STAGE_FUNCS[name](st, opts, sz)
        except Failure as e:
            st.meta["problems"].append(str(e))
        except Exception as e:  # a bug here must not lose the other stages
            st.meta["problems"].append(f"{type(e).__name__}: {e}")
            log(traceback.format_exc())
        st.meta["seconds"] = time.monotonic() - ts - st.meta["lock_wait_s"]
        st.meta["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        st.save()
        if st.meta["problems"]:
            failed.append(name)
        log(f"=== {name}: {st.meta['seconds']:.0f} s{' with problems' if st.meta['problems'] else ''}")
    if set(opts.stages) == set(STAGES):  # only a whole run describes the run
        benchlib.write_json(os.path.join(opts.out, "run.json"), {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "seconds": time.monotonic() - t0, "size": "quick" if opts.quick else "full",
            "sizes": sz, "machine": benchlib.machine(), "load_before": load_before,
            "load_after": os.getloadavg(),
            "held_lock": locked,
            "command": shlex.join(["bench/report.sh", *sys.argv[1:]])})
    return failed


def render(opts, stages):
    res = Results(opts.out)
    blocks = {}
    for name in BLOCKS:
        if name in stages or name in ("headline", "ratios") or (name == "run" and res.run):
            try:
                blocks[name] = BLOCK_FUNCS[name](res, opts)
            except Exception as e:  # results of an unexpected shape: say so in the block
                log(traceback.format_exc())
                blocks[name] = f"**Could not render this block from {opts.out}:** {type(e).__name__}: {e}"
    with open(opts.doc) as f:
        text = f.read()
    text = replace_blocks(text, blocks)
    with open(opts.doc, "w") as f:
        f.write(text)
    made = make_plots(res, opts)
    log(f"wrote {opts.doc} and {len(made)} plots in {opts.plots}")


def main():
    opts = parse_args()
    failed = []
    try:
        if not opts.render_only:
            failed = run_suite(opts)
        render(opts, STAGES if opts.render_only else opts.stages)
    except Failure as e:
        benchlib.die(PROG, str(e))
    if failed:
        log(f"{PROG}: stages with problems: {', '.join(failed)} (their blocks say what)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
