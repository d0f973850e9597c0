#!/usr/bin/env python3
"""`ctr run --rm` latency: the Wasm hello under our shims vs a static native hello under runc.

    bench/ctr_run.py [--build DIR] [--runtimes v8,wasm2c,runc] [-n RUNS] [--warmups N]
                     [--no-build] [--keep] [--doc] [--json FILE]

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
docs/benchmarks.md (method, how to reproduce, machine); --json FILE also writes every
measured time (seconds) per runtime. Python 3 standard library only.
"""
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/, for benchlib
import benchlib  # noqa: E402
from benchlib import (  # noqa: E402
    NATIVE_HELLO, NATIVE_IMAGE, WASM_HELLO, WASM_IMAGE, Failure, Runtime, fmt_ms, log, run)

PROG = "ctr_run.py"
WASM_OUT = f"{WASM_HELLO}\n".encode()
NATIVE_OUT = f"{NATIVE_HELLO}\n".encode()
RUN_TIMEOUT_S = 120
TARGET_RATIO = 0.8  # each Wasm shim's median / runc's median (issue 4: the sandbox included)

# expect: the stdout every run must print; args: the command after IMAGE ID on the ctr line.
RUNTIMES = [
    Runtime("v8", "io.containerd.v8.v1", "containerd-shim-v8-v1", WASM_IMAGE, WASM_OUT),
    Runtime("wasm2c", "io.containerd.wasm2c.v1", "containerd-shim-wasm2c-v1", WASM_IMAGE, WASM_OUT),
    Runtime("runc", "io.containerd.runc.v2", None, NATIVE_IMAGE, NATIVE_OUT, ["/hello"]),
]


def die(msg):
    benchlib.die(PROG, msg)


def timed(cmd):
    """Runs cmd once; returns (seconds, returncode, stdout, stderr)."""
    start = time.perf_counter()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        return time.perf_counter() - start, "timeout", e.stdout or b"", e.stderr or b""
    return time.perf_counter() - start, p.returncode, p.stdout, p.stderr


def measure(cd, fifo):
    """A measure for benchlib.interleaved: the seconds of one `ctr run --rm` of a runtime,
    which must exit 0 and print its hello line (Failure otherwise)."""
    def one(rt, i):
        cid = f"bench-{rt.name}-{os.getpid()}-{i}"
        cmd = cd.ctr("run", "--rm", "--fifo-dir", fifo, "--runtime", rt.runtime, rt.image, cid, *rt.args)
        secs, rc, out, err = timed(cmd)
        if rc != 0 or out != rt.expect:
            raise Failure(f"rc={rc} stdout={out[:120]!r} "
                          f"stderr={err.decode(errors='replace').strip()[-400:]!r}")
        return secs
    return one


def render(rts, stats, problems, skipped, opts):
    lines = [f"| runtime | image | median ms | best ms | p90 ms | median / runc |",
             "|---|---|---|---|---|---|"]
    r = benchlib.ratios(rts, stats)
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
    lines += benchlib.problem_lines(problems, skipped)
    return "\n".join(lines)


def render_doc(table, opts):
    method = [
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
        f"- Target: each Wasm shim's median ≤ {TARGET_RATIO:.1f}× runc's median."]
    return benchlib.render_doc(opts, "python3 bench/ctr_run.py", "`ctr run --rm`: Wasm shims vs runc",
                               method, "Debian's containerd, runc and gcc",
                               f"Results, ms ({opts.runs} runs each):", table)


def main():
    opts = benchlib.parse_args(__doc__, PROG, RUNTIMES, "containerd, runc")
    try:
        rts, skipped = benchlib.build(opts, opts.selected)
        tars = benchlib.make_images(opts.build, rts, os.path.join(opts.build, "bench", "ctr_run"))
        tools = os.path.join(opts.build, "tools")
        with benchlib.PrivateContainerd("ctr-run-bench.", tools if any(rt.shim for rt in rts) else None,
                                        opts.keep) as cd:
            try:
                fifo = os.path.join(cd.dir, "fifo")
                os.makedirs(fifo, exist_ok=True)
                for tar, _ in tars:
                    run(cd.ctr("images", "import", tar))
                log(f"measuring {', '.join(rt.name for rt in rts)}: {opts.warmups} warm-up + {opts.runs} rounds")
                times, problems = benchlib.interleaved(
                    rts, opts.warmups, opts.runs, measure(cd, fifo),
                    lambda t: f"{statistics.median(t) * 1000:.1f}")
            except Failure as e:
                die(str(e))  # before the private containerd stops, as always
    except Failure as e:
        die(str(e))

    stats = benchlib.summarize(rts, times, problems)
    for rt in rts:
        s = stats[rt.name]
        if s:
            log(f"{rt.name}: median {fmt_ms(s[0])} ms, best {fmt_ms(s[1])} ms, p90 {fmt_ms(s[2])} ms")
    benchlib.write_json(opts.json, benchlib.raw_results(opts, rts, times, problems, skipped))
    table = render(rts, stats, problems, skipped, opts)
    print(render_doc(table, opts) if opts.doc else table)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
