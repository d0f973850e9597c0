#!/usr/bin/env python3
"""`ctr run --rm` latency: the Wasm hello under our shims vs a static native hello under runc.

    bench/ctr_run.py [--build DIR] [--runtimes v8,wasm2c,runc] [-n RUNS] [--warmups N]
                     [--no-build] [--keep] [--doc]

Runtimes (default all three):
  v8       io.containerd.v8.v1      containerd-shim-v8-v1      tests/modules/hello.wasm
  wasm2c   io.containerd.wasm2c.v1  containerd-shim-wasm2c-v1  tests/modules/hello.wasm
  runc     io.containerd.runc.v2    runc (Debian's)            bench/native-hello/hello.c,
                                                               `gcc -static -O2`
Prerequisites: root, Debian's containerd and runc, gcc, and a configured build directory
(`cmake -S . -B build-bench -G Ninja`). Unless --no-build, the script itself runs
`cmake --build DIR --target oci-tar-builder test_modules` plus the shim targets of the
chosen Wasm runtimes (containerd-shim-v8-v1, containerd-shim-wasm2c-v1) that the build
defines. A Wasm runtime whose shim binary is not in DIR/tools afterwards (or whose build
fails) is skipped with a message on stderr.

Steps: the Wasm image is `oci-tar-builder --name runwasi-bench/hello --module hello.wasm`;
the native image is tests/e2e/make_oci_image.py with the static binary as /hello (its
config has no Entrypoint, so /hello is given on the ctr line). A private containerd
(scripts/containerd-private.sh start, DIR/tools on its PATH for the shims, fifo dir inside
it) imports both; then every round runs
    ctr --address SOCK run --rm [--fifo-dir D] --runtime RT IMAGE UNIQUE-ID [/hello]
once per runtime (round-robin, so load from elsewhere hits all alike) and times the ctr
process from spawn to exit: 2 warm-up rounds (discarded; a shim may fill its compile cache
there), then RUNS rounds (default 20). Every run must exit 0 and print the hello line.
Reported: median, best and p90 (nearest rank) in ms, and each Wasm shim's median divided
by runc's (target <= 0.8). The private containerd is always stopped at the end; --keep
leaves its directory (log, state) for debugging.
The Markdown report goes to stdout (progress to stderr); --doc prints it as a section for
docs/benchmarks.md (method, how to reproduce, machine). Python 3 standard library only.
"""
import argparse
import datetime
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
CONTAINERD_PRIVATE = os.path.join(REPO, "scripts", "containerd-private.sh")
MAKE_OCI_IMAGE = os.path.join(REPO, "tests", "e2e", "make_oci_image.py")
NATIVE_SRC = os.path.join(BENCH, "native-hello", "hello.c")

WASM_IMAGE = "docker.io/runwasi-bench/hello:latest"
NATIVE_IMAGE = "docker.io/runwasi-bench/native-hello:latest"
WASM_OUT = b"hello from wasm\n"
NATIVE_OUT = b"hello from native\n"
RUN_TIMEOUT_S = 120
TARGET_RATIO = 0.8  # each Wasm shim's median / runc's median (issue 4: the sandbox included)


class Runtime:
    def __init__(self, name, runtime, shim, image, args, expect):
        self.name = name        # short name for --runtimes
        self.runtime = runtime  # containerd runtime name
        self.shim = shim        # our shim binary (a target in tools/), or None for runc
        self.image = image
        self.args = args        # command after IMAGE ID on the ctr line
        self.expect = expect    # the stdout every run must print


RUNTIMES = [
    Runtime("v8", "io.containerd.v8.v1", "containerd-shim-v8-v1", WASM_IMAGE, [], WASM_OUT),
    Runtime("wasm2c", "io.containerd.wasm2c.v1", "containerd-shim-wasm2c-v1", WASM_IMAGE, [], WASM_OUT),
    Runtime("runc", "io.containerd.runc.v2", None, NATIVE_IMAGE, ["/hello"], NATIVE_OUT),
]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def die(msg):
    log(f"ctr_run.py: {msg}")
    sys.exit(1)


def run(cmd, **kw):
    """Runs cmd with its output captured; dies with its stderr when it fails."""
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        die(f"{' '.join(cmd)} failed (rc={p.returncode}):\n{(p.stdout + p.stderr).strip()[-2000:]}")
    return p.stdout


def build_targets(build, targets):
    """The cmake targets that the build directory defines, among `targets`."""
    p = subprocess.run(["cmake", "--build", build, "--target", "help"], capture_output=True, text=True)
    defined = {line.split(":", 1)[0].strip() for line in p.stdout.splitlines() if ":" in line}
    return [t for t in targets if t in defined]


def build(opts, rts):
    """Builds what the run needs; returns the runtimes whose binaries exist."""
    tools = os.path.join(opts.build, "tools")
    wasm = [rt for rt in rts if rt.shim]
    if not opts.no_build:
        needed = ["oci-tar-builder", "test_modules"] if wasm else []
        if needed:
            log(f"building {' '.join(needed)}")
            run(["cmake", "--build", opts.build, "--target", *needed])
        shims = build_targets(opts.build, [rt.shim for rt in wasm])
        for rt in wasm:
            if rt.shim not in shims:
                continue
            log(f"building {rt.shim}")
            p = subprocess.run(["cmake", "--build", opts.build, "--target", rt.shim],
                               capture_output=True, text=True)
            if p.returncode != 0:
                log(f"skipping {rt.name}: building {rt.shim} failed:\n"
                    f"{(p.stdout + p.stderr).strip()[-1500:]}")
                rt.shim_failed = True
    usable = []
    for rt in rts:
        if rt.shim:
            if getattr(rt, "shim_failed", False):
                continue
            if not os.access(os.path.join(tools, rt.shim), os.X_OK):
                log(f"skipping {rt.name}: no shim binary {os.path.join(tools, rt.shim)} "
                    f"(the build defines no target {rt.shim} yet, or it was not built)")
                continue
        elif not shutil.which("runc"):
            log("skipping runc: runc not found on PATH")
            continue
        usable.append(rt)
    return usable


def make_images(opts, rts, out):
    """Writes the image tarballs the runtimes need; returns their paths."""
    os.makedirs(out, exist_ok=True)
    tars = []
    if any(rt.image == NATIVE_IMAGE for rt in rts):
        native = os.path.join(out, "hello-native-static")
        if not (os.path.exists(native) and os.path.getmtime(native) >= os.path.getmtime(NATIVE_SRC)):
            run(["gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", NATIVE_SRC, "-o", native])
        tar = os.path.join(out, "native-hello.tar")
        run([sys.executable, MAKE_OCI_IMAGE, tar, NATIVE_IMAGE, "amd64", f"/hello={native}"])
        tars.append(tar)
    if any(rt.image == WASM_IMAGE for rt in rts):
        module = os.path.join(opts.build, "tests", "modules", "hello.wasm")
        builder = os.path.join(opts.build, "tools", "oci-tar-builder")
        for f in (module, builder):
            if not os.path.exists(f):
                die(f"{f} is missing (build the targets oci-tar-builder and test_modules, or drop --no-build)")
        tar = os.path.join(out, "wasm-hello.tar")
        run([builder, "--name", WASM_IMAGE, "--module", module, "-o", tar])
        tars.append(tar)
    return tars


class PrivateContainerd:
    """scripts/containerd-private.sh start/stop around a `with` block."""

    def __init__(self, path_prepend, keep):
        # Short path under /tmp: containerd's socket paths must fit in 107 bytes.
        self.dir = tempfile.mkdtemp(prefix="ctr-run-bench.")
        self.path_prepend = path_prepend
        self.keep = keep
        self.sock = os.path.join(self.dir, "containerd.sock")
        self.fifo = os.path.join(self.dir, "fifo")

    def __enter__(self):
        try:
            cmd = [CONTAINERD_PRIVATE, "start", self.dir]
            if self.path_prepend:
                cmd += ["--path-prepend", self.path_prepend]
            env = run(cmd)
            for line in env.splitlines():  # `export CONTAINERD_ADDRESS=...`: check, not eval
                if line.startswith("export CONTAINERD_ADDRESS="):
                    address = line.split("=", 1)[1].strip("'\"")
                    if address != self.sock:
                        die(f"containerd-private.sh printed {address}, expected {self.sock}")
            os.makedirs(self.fifo, exist_ok=True)
        except BaseException:
            self.stop()
            raise
        log(f"private containerd in {self.dir}")
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self):
        cmd = [CONTAINERD_PRIVATE, "stop", self.dir] + (["--keep"] if self.keep else [])
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0 or p.stderr.strip():
            log(f"containerd-private.sh stop: rc={p.returncode} {p.stderr.strip()}")
        if self.keep:
            log(f"kept {self.dir} (containerd.log, state); remove it with "
                f"scripts/containerd-private.sh stop {self.dir}")

    def ctr(self, *args):
        return ["ctr", "--address", self.sock, *args]


def timed(cmd):
    """Runs cmd once; returns (seconds, returncode, stdout, stderr)."""
    start = time.perf_counter()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        return time.perf_counter() - start, "timeout", e.stdout or b"", e.stderr or b""
    return time.perf_counter() - start, p.returncode, p.stdout, p.stderr


def interleaved(cd, rts, warmups, runs):
    """ctr run --rm wall times per runtime over warmups + runs rounds, each round running
    every runtime once; warm-up times are dropped. A runtime whose run fails stops.
    Returns {name: [seconds...]} and {name: problem}."""
    times = {rt.name: [] for rt in rts}
    problems = {}
    for i in range(warmups + runs):
        for rt in rts:
            if rt.name in problems:
                continue
            cid = f"bench-{rt.name}-{os.getpid()}-{i}"
            cmd = cd.ctr("run", "--rm", "--fifo-dir", cd.fifo, "--runtime", rt.runtime, rt.image, cid, *rt.args)
            secs, rc, out, err = timed(cmd)
            if rc != 0 or out != rt.expect:
                problems[rt.name] = (f"round {i}: rc={rc} stdout={out[:120]!r} "
                                     f"stderr={err.decode(errors='replace').strip()[-400:]!r}")
                log(f"{rt.name}: FAILED {problems[rt.name]}")
            elif i >= warmups:
                times[rt.name].append(secs)
        if i + 1 == warmups:
            log(f"{warmups} warm-up rounds done")
        elif i >= warmups and (i + 1 - warmups) % 5 == 0:
            log(f"{i + 1 - warmups}/{runs} rounds: " + ", ".join(
                f"{n} {statistics.median(t) * 1000:.1f} ms" for n, t in times.items() if t and n not in problems))
    return times, problems


def p90(values):
    """Nearest-rank 90th percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def fmt_ms(v):
    return "–" if v is None else f"{v * 1000:.1f}"


def summarize(rts, times, problems):
    """{name: (median, best, p90) or None}."""
    return {rt.name: (None if rt.name in problems or not times[rt.name] else
                      (statistics.median(times[rt.name]), min(times[rt.name]), p90(times[rt.name])))
            for rt in rts}


def ratios(rts, stats):
    """{wasm runtime name: its median / runc's median} for the runtimes measured."""
    runc = stats.get("runc")
    if not runc:
        return {}
    return {rt.name: stats[rt.name][0] / runc[0] for rt in rts if rt.shim and stats.get(rt.name)}


def render(rts, stats, problems, skipped, opts):
    lines = [f"| runtime | image | median ms | best ms | p90 ms | median / runc |",
             "|---|---|---|---|---|---|"]
    r = ratios(rts, stats)
    for rt in rts:
        s = stats.get(rt.name)
        image = "hello.wasm" if rt.image == WASM_IMAGE else "static native hello"
        if s is None:
            cells = ["failed"] * 3
        else:
            cells = [fmt_ms(v) for v in s]
        ratio = "1.00" if rt.name == "runc" and s else (f"{r[rt.name]:.2f}" if rt.name in r else "–")
        lines.append(f"| `{rt.runtime}` | {image} | " + " | ".join(cells) + f" | {ratio} |")
    for name, why in skipped.items():
        rt = next(x for x in RUNTIMES if x.name == name)
        lines.append(f"| `{rt.runtime}` | – | not measured | | | |")
    if r:
        lines.append("")
        for name, v in r.items():
            rt = next(x for x in RUNTIMES if x.name == name)
            lines.append(f"- `{rt.runtime}` median / runc median: **{v:.2f}** "
                         f"(target ≤ {TARGET_RATIO:.1f}: {'met' if v <= TARGET_RATIO else 'not met'})")
    if problems or skipped:
        lines.append("")
        lines.extend(f"- {n}: failed: {p}" for n, p in problems.items())
        lines.extend(f"- {n}: not measured: {p}" for n, p in skipped.items())
    return "\n".join(lines)


def version_of(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def render_doc(table, opts):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    build = os.path.relpath(opts.build, REPO)
    build = build if not build.startswith("..") else opts.build
    names = ",".join(rt.name for rt in opts.selected)
    lines = ["## `ctr run --rm`: Wasm shims vs runc", "",
             "Generated by `bench/ctr_run.py --doc`; numbers from one run on the machine below.", "",
             "- What: wall time of `ctr run --rm --runtime RT IMAGE ID` from spawn to exit, against a "
             "private containerd (`scripts/containerd-private.sh`, overlayfs snapshotter, images "
             "already imported and unpacked). It covers the whole container life: create, start, "
             "wait, stdout copy, delete, shim shutdown.",
             "- Wasm: `tests/modules/hello.wasm` (prints one line) in an image from `oci-tar-builder`, "
             "under `io.containerd.v8.v1` and `io.containerd.wasm2c.v1`. Native: "
             "`bench/native-hello/hello.c` built with `gcc -static -O2`, the only file of its image, "
             "under `io.containerd.runc.v2` (Debian's runc).",
             f"- {opts.warmups} warm-up rounds (discarded), then {opts.runs} rounds; every round runs "
             "each runtime once (round-robin), with a fresh container ID per run. Every run must exit 0 "
             "and print its hello line. Median, best and p90 (nearest rank).",
             f"- Target: each Wasm shim's median ≤ {TARGET_RATIO:.1f}× runc's median.",
             "- The VM is shared and noisy (±20% between runs is normal).", "",
             "Machine:", "",
             f"- CPU: {cpu}, {os.cpu_count()} CPUs (`nproc`); kernel {platform.release()}",
             f"- {version_of(['containerd', '--version'])}; {version_of(['runc', '--version'])}",
             f"- Date: {now}", "",
             "Reproduce (root; Debian's containerd, runc and gcc):", "",
             "```sh",
             f"cmake -S . -B {build} -G Ninja",
             f"python3 bench/ctr_run.py --build {build} --runtimes {names} -n {opts.runs} --doc",
             "```", "",
             f"Results, ms ({opts.runs} runs each):", "",
             table]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 2)[2],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("BENCH_BUILD", os.path.join(REPO, "build-bench")),
                    help="the configured CMake build directory (default build-bench)")
    ap.add_argument("--runtimes", default=",".join(rt.name for rt in RUNTIMES),
                    help="comma-separated subset of " + ",".join(rt.name for rt in RUNTIMES))
    ap.add_argument("-n", "--runs", type=int, default=20, help="measured rounds (default 20)")
    ap.add_argument("--warmups", type=int, default=2, help="discarded rounds first (default 2)")
    ap.add_argument("--no-build", action="store_true", help="do not run cmake --build")
    ap.add_argument("--keep", action="store_true", help="keep the private containerd's directory")
    ap.add_argument("--doc", action="store_true", help="print a section for docs/benchmarks.md")
    opts = ap.parse_args()
    names = [n for n in opts.runtimes.split(",") if n]
    known = {rt.name: rt for rt in RUNTIMES}
    for n in names:
        if n not in known:
            die(f"unknown runtime {n} (have {', '.join(known)})")
    if opts.runs < 1 or opts.warmups < 0:
        die("-n must be at least 1 and --warmups at least 0")
    opts.build = os.path.abspath(opts.build)
    if not os.path.exists(os.path.join(opts.build, "CMakeCache.txt")):
        die(f"{opts.build} is not a configured build directory (cmake -S . -B {opts.build} -G Ninja)")
    if os.geteuid() != 0:
        die("needs root (containerd, runc)")
    for tool in ("containerd", "ctr", "gcc"):
        if not shutil.which(tool):
            die(f"{tool} not found on PATH")
    opts.selected = [known[n] for n in names]  # RUNTIMES order is the round-robin order
    opts.selected.sort(key=RUNTIMES.index)

    rts = build(opts, opts.selected)
    skipped = {rt.name: "shim binary missing or not buildable (see stderr)"
               for rt in opts.selected if rt not in rts}
    if not rts:
        die("no runtime left to measure")
    if "runc" not in [rt.name for rt in rts]:
        log("note: without runc there is no baseline: no ratios")

    tars = make_images(opts, rts, os.path.join(opts.build, "bench", "ctr_run"))
    tools = os.path.join(opts.build, "tools")
    with PrivateContainerd(tools if any(rt.shim for rt in rts) else None, opts.keep) as cd:
        for tar in tars:
            run(cd.ctr("images", "import", tar))
        log(f"measuring {', '.join(rt.name for rt in rts)}: {opts.warmups} warm-up + {opts.runs} rounds")
        times, problems = interleaved(cd, rts, opts.warmups, opts.runs)

    stats = summarize(rts, times, problems)
    for rt in rts:
        s = stats[rt.name]
        if s:
            log(f"{rt.name}: median {fmt_ms(s[0])} ms, best {fmt_ms(s[1])} ms, p90 {fmt_ms(s[2])} ms")
    table = render(rts, stats, problems, skipped, opts)
    print(render_doc(table, opts) if opts.doc else table)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
