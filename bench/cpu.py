#!/usr/bin/env python3
"""CPU and start-up benchmarks: native gcc -O2 vs runwasi's engines vs node:wasi.

    bench/cpu.py [--runwasi PATH] [--build-dir DIR] [-n RUNS] [--start-runs RUNS]
                 [--programs fib,sieve,...] [--doc] [--json FILE]

Builds bench/cpu/*.c twice into the build directory (never the source tree): natively with
`gcc -O2` and for wasm32-wasi with `clang -O2` (clang runs from a private directory holding
only clang and wasm-ld, so it cannot find binaryen's wasm-opt). Then, for each program:
  native                     the gcc binary
  runwasi v8 / wasm2c        `runwasi run --engine E --cache-dir DIR`, after
                             `runwasi compile --engine E --cache-dir DIR` (timed separately,
                             from an empty cache), so compile time is excluded from the run
  node / node --no-liftoff   node's node:wasi through bench/node-wasi-run.mjs (the peer)
Each is run RUNS times (default 5), interleaved (every round runs every runtime once, so
load from elsewhere hits all alike), and the best wall time kept; every run's stdout must
equal native's (each program prints a checksum). Start-up: the hello module's start-to-exit
wall time, median of --start-runs (default 20), per engine precompiled and with --no-cache,
plus node and a native hello for reference.

Engines whose runwasi binary is missing, or that cannot run hello, are skipped with a
message on stderr. The runwasi path comes from --runwasi, else $RUNWASI, else
build/tools/runwasi under the repository. The Markdown report goes to stdout (progress to
stderr); --doc prints it as a standalone document (method, machine, commands, targets;
docs/benchmarks.md itself is written by bench/report.sh, which runs this script);
--json FILE also writes every figure (seconds) and the geometric means. Python 3 standard
library only.
"""
import argparse
import datetime
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "bench")
PROGRAMS = ["fib", "sieve", "crc32", "sha256", "matmul"]
ENGINES = ["v8", "wasm2c"]
HELLO_SRC = os.path.join(REPO, "tests", "modules", "hello.c")
HELLO_OUT = b"hello from wasm\n"

# Targets from the project plan: CPU suite geometric mean vs native, and the precompiled
# hello start-to-exit time (ms).
CPU_TARGETS = {"v8": 1.3, "wasm2c": 1.2}
START_TARGETS_MS = {"v8": 35.0, "wasm2c": 5.0}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def die(msg):
    log(f"cpu.py: {msg}")
    sys.exit(1)


class Toolchain:
    """Builds C natively and for wasm32-wasi, outside the source tree."""

    def __init__(self, build_dir):
        self.out = os.path.join(build_dir, "out")
        os.makedirs(self.out, exist_ok=True)
        clang = shutil.which("clang") or shutil.which("clang-14")
        if not clang:
            die("clang not found (needed for the wasm32-wasi builds)")
        real_clang = os.path.realpath(clang)
        ld = shutil.which("wasm-ld", path=os.path.dirname(real_clang)) or shutil.which("wasm-ld")
        if not ld:
            die("wasm-ld not found (lld)")
        # clang looks for wasm-opt in its own directory and on PATH: give it neither.
        self.tooldir = os.path.join(build_dir, "wasm-toolchain")
        os.makedirs(self.tooldir, exist_ok=True)
        links = {"clang": real_clang}
        links.update({n: os.path.realpath(ld) for n in ("wasm-ld", "wasm-ld-14", "wasm-ld-15", "wasm-ld-16")})
        for name, target in links.items():
            path = os.path.join(self.tooldir, name)
            if os.path.lexists(path):
                os.remove(path)
            os.symlink(target, path)

    @staticmethod
    def _fresh(out, src):
        return os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src)

    def native(self, src, name):
        out = os.path.join(self.out, name)
        if not self._fresh(out, src):
            subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", src, "-o", out], check=True)
        return out

    def wasm(self, src, name):
        out = os.path.join(self.out, name + ".wasm")
        if not self._fresh(out, src):
            env = dict(os.environ, PATH=self.tooldir)
            subprocess.run([os.path.join(self.tooldir, "clang"), "--target=wasm32-wasi", "-O2", "-s",
                            "-Wall", "-Wextra", "-Werror", src, "-o", out], check=True, env=env)
        return out


def timed(cmd, stdin=subprocess.DEVNULL):
    """Runs cmd once; returns (seconds, returncode, stdout, stderr)."""
    start = time.perf_counter()
    p = subprocess.run(cmd, stdin=stdin, capture_output=True)
    return time.perf_counter() - start, p.returncode, p.stdout, p.stderr


class Runtime:
    def __init__(self, label, prefix, engine=None):
        self.label = label
        self.prefix = prefix  # command up to the module path
        self.engine = engine  # runwasi engine name, or None

    def cmd(self, target, args=()):
        return [*self.prefix, target, *args]


def runtimes(runwasi, engines, cache_dirs):
    node = shutil.which("node")
    rts = []
    for engine in ENGINES:
        if runwasi and engine in engines:
            rts.append(Runtime(f"runwasi {engine}",
                               [runwasi, "run", "--engine", engine, "--cache-dir", cache_dirs[engine]],
                               engine))
    if node:
        runner = os.path.join(BENCH, "node-wasi-run.mjs")
        rts.append(Runtime("node", [node, "--no-warnings", runner]))
        rts.append(Runtime("node --no-liftoff", [node, "--no-warnings", "--no-liftoff", runner]))
    else:
        log("skipping node: node not found on PATH")
    return rts


def interleaved(cmds, runs, expect):
    """Wall times of each command over `runs` rounds; each round runs every command once,
    so a burst of load from elsewhere on a shared machine hits all of them alike.
    Returns {label: [seconds...]} and {label: problem}; a command with a problem stops."""
    times = {label: [] for label in cmds}
    problems = {}
    for _ in range(runs):
        for label, cmd in cmds.items():
            if label in problems:
                continue
            secs, rc, out, err = timed(cmd)
            if rc != 0 or out != expect:
                problems[label] = f"rc={rc} stdout={out[:120]!r} stderr={err[-300:]!r}"
            else:
                times[label].append(secs)
    return times, problems


def best_interleaved(cmds, runs, expect):
    """Best wall time of each command (see interleaved): {label: seconds or None}, problems."""
    times, problems = interleaved(cmds, runs, expect)
    return {l: (None if l in problems else min(t)) for l, t in times.items()}, problems


def median_interleaved(cmds, runs, expect):
    """Median wall time of each command (see interleaved): {label: seconds or None}, problems."""
    times, problems = interleaved(cmds, runs, expect)
    return {l: (None if l in problems else statistics.median(t)) for l, t in times.items()}, problems


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def fmt_s(v):
    return "–" if v is None else f"{v:.3f}"


def fmt_ms(v):
    return "–" if v is None else f"{v * 1000:.1f}"


def usable_engines(runwasi, hello):
    """The runwasi engines that exist and run hello correctly (with a throwaway cache)."""
    if not runwasi:
        return set()
    ok = set()
    for engine in ENGINES:
        with tempfile.TemporaryDirectory() as cache:
            cmd = [runwasi, "run", "--engine", engine, "--cache-dir", cache, hello]
            try:
                p = subprocess.run(cmd, capture_output=True, timeout=300)
            except subprocess.TimeoutExpired:
                log(f"skipping runwasi {engine}: hello timed out")
                continue
        if p.returncode == 0 and p.stdout == HELLO_OUT:
            ok.add(engine)
        else:
            log(f"skipping runwasi {engine}: hello failed (rc={p.returncode}, "
                f"stderr={p.stderr.decode(errors='replace').strip()[-200:]!r})")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runwasi", default=os.environ.get("RUNWASI", os.path.join(REPO, "build", "tools", "runwasi")))
    ap.add_argument("--build-dir", default=os.environ.get("BENCH_BUILD_DIR", os.path.join(REPO, "build-bench", "bench")))
    ap.add_argument("-n", "--runs", type=int, default=5)
    ap.add_argument("--start-runs", type=int, default=20)
    ap.add_argument("--programs", default=",".join(PROGRAMS))
    ap.add_argument("--doc", action="store_true", help="print a standalone report document")
    ap.add_argument("--json", metavar="FILE", help="also write every figure as JSON to FILE")
    opts = ap.parse_args()
    programs = [p for p in opts.programs.split(",") if p]
    for p in programs:
        if p not in PROGRAMS:
            die(f"unknown program {p} (have {', '.join(PROGRAMS)})")

    runwasi = os.path.abspath(opts.runwasi)
    if not os.access(runwasi, os.X_OK):
        log(f"skipping runwasi engines: no runwasi binary at {runwasi} (set --runwasi or $RUNWASI)")
        runwasi = None

    tc = Toolchain(os.path.abspath(opts.build_dir))
    # One artifact cache per engine, emptied first, so `compile` times a real compile.
    cache_dirs = {e: os.path.join(os.path.abspath(opts.build_dir), "cache", e) for e in ENGINES}
    for d in cache_dirs.values():
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)

    log("building")
    native = {p: tc.native(os.path.join(BENCH, "cpu", p + ".c"), p) for p in programs}
    wasm = {p: tc.wasm(os.path.join(BENCH, "cpu", p + ".c"), p) for p in programs}
    hello_native_src = os.path.join(tc.out, "hello_native.c")
    with open(hello_native_src, "w") as f:
        f.write('#include <stdio.h>\nint main(void) { printf("hello from wasm\\n"); return 0; }\n')
    hello_native = tc.native(hello_native_src, "hello_native")
    hello = tc.wasm(HELLO_SRC, "hello")

    engines = usable_engines(runwasi, hello)
    rts = runtimes(runwasi, engines, cache_dirs)

    # Precompile into the empty caches so runs measure execution, not compilation.
    compile_s = {}
    for engine in sorted(engines):
        for name, target in [*((p, wasm[p]) for p in programs), ("hello", hello)]:
            cmd = [runwasi, "compile", "--engine", engine, "--cache-dir", cache_dirs[engine], target]
            secs, rc, _, err = timed(cmd)
            if rc != 0:
                die(f"{' '.join(cmd)} failed: {err.decode(errors='replace')}")
            compile_s[(engine, name)] = secs
            log(f"compile {engine} {name}: {secs:.3f} s")

    results = {}  # (runtime label, program) -> best seconds
    expected = {}
    errors = []
    for p in programs:
        secs, rc, out, err = timed([native[p]])
        if rc != 0:
            die(f"native {p} failed: rc={rc} {err!r}")
        expected[p] = out
        cmds = {"native": [native[p]], **{rt.label: rt.cmd(wasm[p]) for rt in rts}}
        best, problems = best_interleaved(cmds, opts.runs, out)
        if best["native"] is None:
            die(f"native {p} is not deterministic: {problems['native']}")
        log(f"native {p}: {best['native']:.3f} s  {out.decode().strip()}")
        for label, v in best.items():
            results[(label, p)] = v
            if label == "native":
                continue
            if v is None:
                errors.append(f"{label} {p}: {problems[label]}")
                log(f"{label} {p}: FAILED {problems[label]}")
            else:
                log(f"{label} {p}: {v:.3f} s ({v / best['native']:.2f}x)")

    cmds = {"native hello (gcc)": [hello_native]}
    for engine in sorted(engines):
        base = [runwasi, "run", "--engine", engine, "--cache-dir", cache_dirs[engine]]
        cmds[f"runwasi {engine}, precompiled"] = [*base, hello]
        cmds[f"runwasi {engine}, --no-cache"] = [*base, "--no-cache", hello]
    cmds.update({rt.label: rt.cmd(hello) for rt in rts if rt.engine is None})
    start, problems = median_interleaved(cmds, opts.start_runs, HELLO_OUT)  # label -> seconds
    errors.extend(f"{label} hello: {problem}" for label, problem in problems.items())
    for label, v in start.items():
        log(f"{label} hello: {fmt_ms(v)} ms")

    if opts.json:
        write_json(opts.json, programs, rts, results, start, compile_s, errors, opts)
    report = render(programs, rts, results, start, compile_s, sorted(engines), errors, opts)
    if opts.doc:
        report = render_doc(report, results, start, sorted(engines), opts, runwasi)
    print(report)
    return 1 if errors else 0


def geomeans(programs, labels, results):
    """{label: geometric mean of its ratios to native over programs, or None if one failed}."""
    out = {}
    for label in labels:
        values = [results.get((label, p)) for p in programs]
        out[label] = (geomean([v / results[("native", p)] for v, p in zip(values, programs)])
                      if all(v is not None for v in values) else None)
    return out


def write_json(path, programs, rts, results, start, compile_s, errors, opts):
    labels = ["native"] + [r.label for r in rts]
    data = {"settings": {"runs": opts.runs, "start_runs": opts.start_runs, "programs": programs},
            "best_s": {label: {p: results.get((label, p)) for p in programs} for label in labels},
            "geomean_vs_native": geomeans(programs, labels, results),
            "start_median_s": start,
            "compile_s": {e: {n: v for (e2, n), v in compile_s.items() if e2 == e}
                          for e in sorted({e for e, _ in compile_s})},
            "targets": {"cpu_geomean": CPU_TARGETS, "start_ms": START_TARGETS_MS},
            "errors": errors}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def render(programs, rts, results, start, compile_s, engines, errors, opts):
    lines = []
    labels = ["native"] + [r.label for r in rts]
    lines.append(f"### CPU suite: best of {opts.runs} wall-clock seconds (ratio to native)\n")
    lines.append("| runtime | " + " | ".join(programs) + " | geomean vs native |")
    lines.append("|---|" + "---|" * len(programs) + "---|")
    means = geomeans(programs, labels, results)
    for label in labels:
        cells = []
        for p in programs:
            v, n = results.get((label, p)), results[("native", p)]
            cells.append("failed" if v is None else
                         f"{v:.3f}" if label == "native" else f"{v:.3f} ({v / n:.2f}x)")
        g = means[label]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {'–' if g is None else f'{g:.2f}x'} |")
    if engines:
        lines.append(f"\n### Precompile time (`runwasi compile`, empty cache), seconds\n")
        lines.append("| engine | " + " | ".join(programs) + " | hello |")
        lines.append("|---|" + "---|" * (len(programs) + 1))
        for e in engines:
            lines.append(f"| {e} | " + " | ".join(fmt_s(compile_s.get((e, p))) for p in [*programs, "hello"]) + " |")
    lines.append(f"\n### Start-to-exit of hello.wasm, median wall-clock ms ({opts.start_runs} runs)\n")
    lines.append("| runtime | ms |")
    lines.append("|---|---|")
    for label, v in start.items():
        lines.append(f"| {label} | {fmt_ms(v)} |")
    if errors:
        lines.append("\n### Failures\n")
        lines.extend(f"- {e}" for e in errors)
    return "\n".join(lines)


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return cpu, os.cpu_count(), platform.release()


def version_of(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def render_doc(report, results, start, engines, opts, runwasi):
    cpu, ncpu, kernel = machine()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# Benchmarks", "",
             "Generated by `bench/cpu.py --doc`; numbers from one run on the machine below.", "",
             "## Method", "",
             "- CPU suite: five standalone C programs in `bench/cpu/` (fib: recursive fib(43); sieve: "
             "Eratosthenes to 5·10⁷, 4 rounds; crc32: table CRC over 64 MiB, 4 rounds; sha256: 16 MiB, "
             "6 rounds; matmul: 320×320 doubles, 40 rounds). Each prints a checksum; every run's output "
             "must equal the native one.",
             "- Native: `gcc -O2`. Wasm: `clang --target=wasm32-wasi -O2 -s` (Debian wasi-libc, no "
             "wasm-opt). Buffers are static, so the CPU programs never grow memory.",
             "- runwasi: `runwasi run --engine E --cache-dir DIR module.wasm` after "
             "`runwasi compile --engine E --cache-dir DIR module.wasm`; compile time (from an empty "
             "cache) is reported separately. Peers: node's `node:wasi` via `bench/node-wasi-run.mjs`, "
             "default flags and `--no-liftoff`.",
             f"- Wall-clock time of the whole process (spawn to exit), best of {opts.runs} rounds; each "
             "round runs every runtime once, so load from elsewhere hits all of them alike. Start-up: "
             f"median of {opts.start_runs} runs of `tests/modules/hello.c`.",
             "- The VM is shared and noisy (±20% between runs is normal).", "",
             "## Machine", "",
             f"- CPU: {cpu}, {ncpu} CPUs (`nproc`)",
             f"- Kernel: {kernel}; {version_of(['gcc', '--version'])}; {version_of(['clang', '--version'])}; "
             f"node {version_of(['node', '--version'])}",
             f"- runwasi: {version_of([runwasi, '--version']) if runwasi else 'not built'}",
             f"- Date: {now}", "",
             "## Reproduce", "",
             "```sh",
             "cmake -S . -B build-bench -G Ninja && ninja -C build-bench",
             f"python3 bench/cpu.py --runwasi {os.path.relpath(runwasi, REPO) if runwasi else 'build/tools/runwasi'} "
             f"-n {opts.runs} "
             f"--start-runs {opts.start_runs} --doc > docs/benchmarks.md",
             "```", "",
             "## Results", "", report, "",
             "## Targets", "",
             "| target | measured | met |", "|---|---|---|"]
    programs = [p for p in PROGRAMS if ("native", p) in results]
    for engine, limit in CPU_TARGETS.items():
        ratios = [results.get((f"runwasi {engine}", p)) for p in programs]
        g = geomean([r / results[("native", p)] for r, p in zip(ratios, programs)]) \
            if engine in engines and all(r is not None for r in ratios) else None
        lines.append(f"| {engine} CPU suite ≤ {limit}x native (geomean) | "
                     f"{'not measured' if g is None else f'{g:.2f}x'} | "
                     f"{'–' if g is None else ('yes' if g <= limit else 'no')} |")
    for engine, limit in START_TARGETS_MS.items():
        v = start.get(f"runwasi {engine}, precompiled")
        lines.append(f"| {engine} precompiled hello start-to-exit ≤ {limit:g} ms | "
                     f"{'not measured' if v is None else f'{v * 1000:.1f} ms'} | "
                     f"{'–' if v is None else ('yes' if v * 1000 <= limit else 'no')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
