#!/usr/bin/env python3
"""First vs cached start of a large Wasm image: the precompile cache in containerd's content store.

    bench/cache_start.py [--build DIR] [--runtimes v8,wasm2c] [-n RUNS] [--module FILE]
                         [--no-build] [--keep] [--doc] [--json FILE]

Runtimes (default both):
  v8       io.containerd.v8.v1      containerd-shim-v8-v1       V8's code cache (TurboFan)
  wasm2c   io.containerd.wasm2c.v1  containerd-shim-wasm2c-v1   a shared object (wasm2c + gcc)

Prerequisites: root, Debian's containerd, a configured build directory. The module is
bench/big-module/build.sh's sqlite3.wasm (SQLite 3.46.1's shell, ~5.5 MB of wasm; built
into DIR/bench/big-module on the first run, which takes minutes and installs clang's wasm
toolchain with apt) unless --module names another WASI command module. Unless --no-build,
the script runs `cmake --build DIR --target oci-tar-builder stress-test` plus the chosen
shims.

Steps: `oci-tar-builder --format runwasi` makes a pure Wasm image of the module (its only
layer is the module, of runwasi's layer media type); a private containerd
(scripts/containerd-private.sh) imports it with `--all-platforms --no-unpack`. Then, per
runtime, RUNS rounds of two starts each, one after the other:
  first   every artifact this engine stored for the module's layer is removed from the
          content store (`ctr content rm` of the blob the layer's
          runwasi.io/precompiled/<engine>/* label names), so the shim precompiles the
          module, stores the artifact and labels the layer;
  cached  the same again with the artifact in place: the shim reads it from the store.
Each start is one task through containerd's gRPC API, a new shim each time:
`stress-test --mode containerd --count 1 --warmup 0 --image IMAGE --runtime RT -- :memory:
'select sqlite_version(); ...'`, which times Create, Start, Wait and Delete and checks exit
status 0. The shim's log (in containerd's) must say "precompiled ... stored as" after each
first start and "using the precompiled artifact" after each cached one, or the round is a
failure. Reported per runtime: the median, best and p90 of the whole task (Create to
Delete) and of Create (where the module is compiled or its artifact read), first and
cached, and first / cached of the medians (target >= 10). wasm2c's first start compiles
~60 MB of C with gcc: about 100 s each here, so 10 rounds take ~17 minutes.
Progress goes to stderr, the Markdown table to stdout; --doc prints it as a section for
docs/benchmarks.md; --json FILE writes every measured time. Python 3 standard library only.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/, for benchlib
import benchlib  # noqa: E402
from benchlib import REPO, Failure, Runtime, log, run  # noqa: E402

PROG = "cache_start.py"
IMAGE = "docker.io/runwasi-bench/sqlite:latest"
NAMESPACE = "runwasi-bench"
SQL = ("select sqlite_version(); create table t(a, b); "
       "insert into t values (1, 'one'), (2, 'two'); select count(*), sum(a) from t;")
TASK_TIMEOUT = "900s"
TARGET = 10.0  # first / cached, per runtime (issue 6)

RUNTIMES = [
    Runtime("v8", "io.containerd.v8.v1", "containerd-shim-v8-v1", IMAGE, None),
    Runtime("wasm2c", "io.containerd.wasm2c.v1", "containerd-shim-wasm2c-v1", IMAGE, None),
]
KINDS = ("first", "cached")
# What the shim logs (src/shim/instance.cpp, artifactFor) for each kind of start.
SHIM_SAYS = {"first": re.compile(r"precompiled .* \(stored as sha256:"),
             "cached": re.compile(r"using the precompiled artifact sha256:\S+ from the content store")}


def extra_options(ap):
    ap.add_argument("--module", help="the WASI command module (default: bench/big-module's sqlite3.wasm)")


class Bench:
    def __init__(self, opts, containerd, stress_test):
        self.opts = opts
        self.cd = containerd
        self.stress_test = stress_test
        self.log_path = os.path.join(containerd.dir, "containerd.log")
        self.work = tempfile.mkdtemp(prefix="cache-start.", dir=containerd.dir)

    def ctr(self, *args):
        return run(self.cd.ctr("-n", NAMESPACE, *args))

    def layer_digest(self):
        """The digest of the image's one layer (of its manifest, or its index's first)."""
        manifest = json.loads(self.content_of(self.image_target()))
        if manifest.get("mediaType", "").endswith("index.v1+json") or "manifests" in manifest:
            manifest = json.loads(self.content_of(manifest["manifests"][0]["digest"]))
        layers = manifest.get("layers", [])
        if len(layers) != 1:
            raise Failure(f"the image has {len(layers)} layers, expected the module's one")
        return layers[0]["digest"]

    def image_target(self):
        for line in self.ctr("images", "ls").splitlines()[1:]:
            fields = line.split()
            if fields and fields[0] == IMAGE:
                return next(f for f in fields if f.startswith("sha256:"))
        raise Failure(f"{IMAGE} is not in `ctr images ls`")

    def content_of(self, digest):
        return self.ctr("content", "get", digest)

    def labels(self, digest):
        """{key: value} of a blob's labels, from `ctr content ls` (labels are the last field)."""
        for line in self.ctr("content", "ls").splitlines()[1:]:
            fields = line.split()
            if fields and fields[0] == digest:
                last = fields[-1]
                if "=" not in last:
                    return {}
                return dict(kv.split("=", 1) for kv in last.split(","))
        raise Failure(f"{digest} is not in `ctr content ls`")

    def forget_artifacts(self, rt, layer):
        """Removes every artifact of rt stored for the layer (the blobs its labels name)."""
        prefix = f"runwasi.io/precompiled/{rt.name}/"
        present = set(self.ctr("content", "ls", "-q").split())
        for key, artifact in self.labels(layer).items():
            if key.startswith(prefix) and artifact in present:
                self.ctr("content", "rm", artifact)

    def log_size(self):
        return os.path.getsize(self.log_path)

    def shim_said_since(self, offset, pattern):
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        return bool(pattern.search(text))

    def start_once(self, rt, kind, index):
        """One task; returns {step: seconds} (total, create, start, wait, delete)."""
        out = os.path.join(self.work, f"{rt.name}-{kind}-{index}.json")
        offset = self.log_size()
        cmd = [self.stress_test, "--mode", "containerd", "--address", self.cd.sock,
               "--namespace", NAMESPACE, "--image", IMAGE, "--runtime", rt.name,
               "--count", "1", "--parallel", "1", "--warmup", "0", "--timeout", TASK_TIMEOUT,
               "--work-dir", self.work, "--json", out, "--", ":memory:", SQL]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise Failure(f"{rt.name} {kind} start {index}: stress-test failed (rc={p.returncode}):\n"
                          f"{(p.stdout + p.stderr).strip()[-2000:]}")
        with open(out) as f:
            report = json.load(f)
        if not self.shim_said_since(offset, SHIM_SAYS[kind]):
            raise Failure(f"{rt.name} {kind} start {index}: the shim's log (in {self.log_path}) "
                          f"does not show a {kind} start ({SHIM_SAYS[kind].pattern})")
        return {step: d["p50"] / 1000.0 for step, d in report["latency_ms"].items()}

    def measure(self, rt, layer):
        times = {kind: [] for kind in KINDS}
        for i in range(self.opts.runs):
            self.forget_artifacts(rt, layer)
            times["first"].append(self.start_once(rt, "first", i))
            times["cached"].append(self.start_once(rt, "cached", i))
            log(f"{rt.name} {i + 1}/{self.opts.runs}: first {times['first'][-1]['total']:.3f} s, "
                f"cached {times['cached'][-1]['total'] * 1000:.1f} ms")
        return times


def big_module(opts):
    if opts.module:
        return os.path.abspath(opts.module)
    out = os.path.join(opts.build, "bench", "big-module")
    log(f"building the large module into {out} (cached after the first time)")
    run([os.path.join(REPO, "bench", "big-module", "build.sh"), out])
    return os.path.join(out, "sqlite3.wasm")


def stats_of(samples, step):
    return benchlib.spread(s[step] for s in samples)


def table(rts, results):
    lines = ["| runtime | start | task median s | best s | p90 s | Create median s | first / cached (task) |",
             "|---|---|---|---|---|---|---|"]
    ratios = {}
    for rt in rts:
        times = results.get(rt.name)
        if not times:
            continue
        first, cached = stats_of(times["first"], "total"), stats_of(times["cached"], "total")
        ratios[rt.name] = first[0] / cached[0]
        for kind, s in (("first", first), ("cached", cached)):
            create = stats_of(times[kind], "create")
            ratio = f"**{ratios[rt.name]:.0f}x**" if kind == "cached" else ""
            lines.append(f"| `{rt.runtime}` | {kind} | {s[0]:.3f} | {s[1]:.3f} | {s[2]:.3f} | "
                         f"{create[0]:.3f} | {ratio} |")
    lines.append("")
    for name, r in ratios.items():
        lines.append(f"- {name}: first / cached median **{r:.1f}x** "
                     f"(target >= {TARGET:.0f}x: {'met' if r >= TARGET else 'not met'})")
    return "\n".join(lines)


def main():
    opts = benchlib.parse_args(__doc__, PROG, RUNTIMES, "containerd and its shims", extra_options)
    opts.warmups = 0
    try:
        if not opts.no_build:
            run(["cmake", "--build", opts.build, "--target", "oci-tar-builder", "stress-test"])
        rts, skipped = benchlib.build(opts, opts.selected)
        stress_test = os.path.join(opts.build, "tools", "stress-test")
        module = big_module(opts)
        size = os.path.getsize(module)
        log(f"module {module}: {size / 1e6:.1f} MB")
        results, problems = {}, {}
        tools = os.path.join(opts.build, "tools")
        with benchlib.PrivateContainerd("cache-start.", tools, opts.keep) as cd:
            bench = Bench(opts, cd, stress_test)
            tar = os.path.join(bench.work, "sqlite.tar")
            run([os.path.join(tools, "oci-tar-builder"), "--format", "runwasi", "--name", IMAGE,
                 "--module", module, "-o", tar])
            bench.ctr("images", "import", "--all-platforms", "--no-unpack", tar)
            layer = bench.layer_digest()
            for rt in rts:
                try:
                    results[rt.name] = bench.measure(rt, layer)
                except Failure as e:
                    problems[rt.name] = str(e)
                    log(f"{rt.name}: {e}")
        if cd.stop_problem:
            problems["containerd"] = cd.stop_problem
    except Failure as e:
        benchlib.die(PROG, str(e))
    benchlib.write_json(opts.json, {
        "settings": {"runs": opts.runs, "build": opts.build, "module": module, "module_bytes": size,
                     "sql": SQL},
        "machine": benchlib.machine(),
        "runtimes": {name: times for name, times in results.items()},
        "problems": problems, "skipped": skipped})
    body = table(rts, results) + "\n".join(benchlib.problem_lines(problems, skipped))
    if opts.doc:
        method = [
            f"- Module: `{os.path.basename(module)}`, {size / 1e6:.1f} MB of wasm "
            "(bench/big-module/build.sh: SQLite 3.46.1's shell), as a runwasi-format image "
            "(`oci-tar-builder --format runwasi`) imported with `--no-unpack`.",
            "- Each start is one task through containerd's gRPC API (`stress-test --mode containerd "
            "--count 1`), a new shim each time, running a few SQL statements in `:memory:`.",
            "- *first*: the engine's artifact removed from the content store first, so Create "
            "precompiles and stores it; *cached*: the next start, which reads it back. The shim's "
            "log is checked for both.",
            f"- {opts.runs} rounds per runtime (first, then cached); median, best, p90 of the task "
            "(Create to Delete) and the median of Create alone.",
        ]
        print(benchlib.render_doc(opts, "python3 bench/cache_start.py",
                                  "First vs cached start of a large module (issue 6)", method,
                                  "Debian's containerd; the first run builds the module",
                                  "Results:", body))
    else:
        print(body)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
