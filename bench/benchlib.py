"""What bench/ctr_run.py and bench/pod_start.py share: their command line, the build of the
shims and the hello images, the private containerd, the round-robin measuring loop, the
statistics, and the machine and reproduce parts of their --doc sections.

Errors that the run cannot go on after raise Failure (the scripts report it and exit 1);
die(prog, msg) exits at once. Python 3 standard library only; the scripts put bench/ on
sys.path to import it.
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

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "bench")
E2E = os.path.join(REPO, "tests", "e2e")
CONTAINERD_PRIVATE = os.path.join(REPO, "scripts", "containerd-private.sh")
MAKE_OCI_IMAGE = os.path.join(E2E, "make_oci_image.py")
NATIVE_SRC = os.path.join(BENCH, "native-hello", "hello.c")

WASM_IMAGE = "docker.io/runwasi-bench/hello:latest"
NATIVE_IMAGE = "docker.io/runwasi-bench/native-hello:latest"
WASM_HELLO = "hello from wasm"      # the line tests/modules/hello.wasm prints
NATIVE_HELLO = "hello from native"  # the line bench/native-hello/hello.c prints


class Runtime:
    def __init__(self, name, runtime, shim, image, expect, args=()):
        self.name = name        # the name for --runtimes (pod_start.py: the CRI runtime handler)
        self.runtime = runtime  # its containerd runtime type
        self.shim = shim        # our shim binary (a target in tools/), or None for runc
        self.image = image
        self.expect = expect    # what every run must print (each script says in what form)
        self.args = list(args)  # ctr_run.py: the command after IMAGE ID on the ctr line


class Failure(Exception):
    """Something the run cannot go on after; the script reports it and exits 1."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def die(prog, msg):
    log(f"{prog}: {msg}")
    sys.exit(1)


def run(cmd, **kw):
    """Runs cmd with its output captured; raises Failure with its output when it fails."""
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise Failure(f"{' '.join(cmd)} failed (rc={p.returncode}):\n"
                      f"{(p.stdout + p.stderr).strip()[-2000:]}")
    return p.stdout


# --- command line ----------------------------------------------------------------------

def parse_args(doc, prog, runtimes, root_for, extra=None, rounds=True):
    """The command line the containerd scripts take (their usage is the docstring `doc`),
    checked: dies (as prog) on a bad one, without root (needed for root_for) or without
    containerd, ctr or gcc. opts.selected: the chosen runtimes, once each, in the order of
    `runtimes` (the round-robin order). extra(parser) adds a script's own options; rounds:
    whether it takes -n and --warmups. Every script takes --json FILE (its raw results)."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                 epilog=doc.split("\n\n", 2)[2],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("BENCH_BUILD", os.path.join(REPO, "build-bench")),
                    help="the configured CMake build directory (default build-bench)")
    ap.add_argument("--runtimes", default=",".join(rt.name for rt in runtimes),
                    help="comma-separated subset of " + ",".join(rt.name for rt in runtimes))
    if rounds:
        ap.add_argument("-n", "--runs", type=int, default=20, help="measured rounds (default 20)")
        ap.add_argument("--warmups", type=int, default=2, help="discarded rounds first (default 2)")
    ap.add_argument("--no-build", action="store_true", help="do not run cmake --build")
    ap.add_argument("--keep", action="store_true", help="keep the private containerd's directory")
    ap.add_argument("--doc", action="store_true", help="print a section for docs/benchmarks.md")
    ap.add_argument("--json", metavar="FILE", help="also write the raw results as JSON to FILE")
    if extra:
        extra(ap)
    opts = ap.parse_args()
    if not rounds:
        opts.runs, opts.warmups = 1, 0
    names = [n for n in opts.runtimes.split(",") if n]
    known = {rt.name: rt for rt in runtimes}
    for n in names:
        if n not in known:
            die(prog, f"unknown runtime {n} (have {', '.join(known)})")
    if not names:
        die(prog, "--runtimes names no runtime")
    if opts.runs < 1 or opts.warmups < 0:
        die(prog, "-n must be at least 1 and --warmups at least 0")
    opts.build = os.path.abspath(opts.build)
    if not os.path.exists(os.path.join(opts.build, "CMakeCache.txt")):
        die(prog, f"{opts.build} is not a configured build directory (cmake -S . -B {opts.build} -G Ninja)")
    if os.geteuid() != 0:
        die(prog, f"needs root ({root_for})")
    for tool in ("containerd", "ctr", "gcc"):
        if not shutil.which(tool):
            die(prog, f"{tool} not found on PATH")
    opts.selected = sorted((known[n] for n in set(names)), key=runtimes.index)
    return opts


# --- build and images ------------------------------------------------------------------

def build_targets(build, targets):
    """The cmake targets that the build directory defines, among `targets`."""
    p = subprocess.run(["cmake", "--build", build, "--target", "help"], capture_output=True, text=True)
    defined = {line.split(":", 1)[0].strip() for line in p.stdout.splitlines() if ":" in line}
    return [t for t in targets if t in defined]


def build(opts, rts, first=(), runc_tools=("runc",)):
    """Builds what the run needs (unless opts.no_build): the targets `first`, with a Wasm
    runtime among rts also oci-tar-builder and test_modules, then each Wasm runtime's shim
    that the build defines. Keeps the runtimes whose binaries exist; a shim that failed
    to build or is missing, or runc without all of runc_tools on PATH, is skipped with a
    message. Returns the runtimes to measure and {skipped name: why}; Failure when none is
    left."""
    tools = os.path.join(opts.build, "tools")
    wasm = [rt for rt in rts if rt.shim]
    failed = set()
    if not opts.no_build:
        needed = list(first) + (["oci-tar-builder", "test_modules"] if wasm else [])
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
                failed.add(rt.name)
    usable = []
    for rt in rts:
        if rt.shim:
            if rt.name in failed:
                continue
            if not os.access(os.path.join(tools, rt.shim), os.X_OK):
                log(f"skipping {rt.name}: no shim binary {os.path.join(tools, rt.shim)} "
                    f"(the build defines no target {rt.shim} yet, or it was not built)")
                continue
        elif not all(shutil.which(t) for t in runc_tools):
            log(f"skipping runc: {' or '.join(runc_tools)} not found on PATH")
            continue
        usable.append(rt)
    skipped = {rt.name: "shim binary missing or not buildable (see stderr)" for rt in rts if rt not in usable}
    if not usable:
        raise Failure("no runtime left to measure")
    if "runc" not in [rt.name for rt in usable]:
        log("note: without runc there is no baseline: no ratios")
    return usable, skipped


def oci_arch():
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


def static_binary(src, out):
    """`gcc -static -O2` of the C file src into out, unless out is newer; returns out."""
    if not (os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src)):
        run(["gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", src, "-o", out])
    return out


def write_json(path, data):
    """data as indented JSON into path (its directory made), when path is given."""
    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def raw_results(opts, rts, times, problems, skipped, sample=lambda r: r):
    """What --json writes for a script driven by interleaved(): the settings, the machine,
    and per runtime its containerd runtime type and every measured result (sample(result))."""
    return {"settings": {"runs": opts.runs, "warmups": opts.warmups, "build": opts.build},
            "machine": machine(),
            "runtimes": {rt.name: {"runtime": rt.runtime, "image": rt.image,
                                   "results": [sample(r) for r in times.get(rt.name, [])]}
                         for rt in rts},
            "problems": problems, "skipped": skipped}


def make_images(build, rts, out, entrypoint=None):
    """Writes the image tarballs the runtimes need into out; returns [(path, image name)].
    Native: bench/native-hello/hello.c built `gcc -static -O2` as /hello, the only file of
    an image from tests/e2e/make_oci_image.py (with `--entrypoint ENTRYPOINT` if given).
    Wasm: `oci-tar-builder --name WASM_IMAGE --module hello.wasm` from the build."""
    os.makedirs(out, exist_ok=True)
    tars = []
    if any(rt.image == NATIVE_IMAGE for rt in rts):
        native = static_binary(NATIVE_SRC, os.path.join(out, "hello-native-static"))
        tar = os.path.join(out, "native-hello.tar")
        flags = ["--entrypoint", entrypoint] if entrypoint else []
        run([sys.executable, MAKE_OCI_IMAGE, *flags, tar, NATIVE_IMAGE, oci_arch(), f"/hello={native}"])
        tars.append((tar, NATIVE_IMAGE))
    if any(rt.image == WASM_IMAGE for rt in rts):
        module = os.path.join(build, "tests", "modules", "hello.wasm")
        builder = os.path.join(build, "tools", "oci-tar-builder")
        for f in (module, builder):
            if not os.path.exists(f):
                raise Failure(f"{f} is missing (build the targets oci-tar-builder and test_modules, "
                              f"or drop --no-build)")
        tar = os.path.join(out, "wasm-hello.tar")
        run([builder, "--name", WASM_IMAGE, "--module", module, "-o", tar])
        tars.append((tar, WASM_IMAGE))
    return tars


# --- the private containerd ------------------------------------------------------------

class PrivateContainerd:
    """scripts/containerd-private.sh start/stop around a `with` block, in a fresh directory
    /tmp/PREFIX*; start_args go to `start` (before --path-prepend)."""

    def __init__(self, prefix, path_prepend, keep, start_args=()):
        # Short path under /tmp: containerd's socket paths must fit in 107 bytes.
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.path_prepend = path_prepend
        self.keep = keep
        self.start_args = list(start_args)
        self.sock = os.path.join(self.dir, "containerd.sock")
        self.stop_problem = None

    def __enter__(self):
        try:
            cmd = [CONTAINERD_PRIVATE, "start", self.dir, *self.start_args]
            if self.path_prepend:
                cmd += ["--path-prepend", self.path_prepend]
            env = run(cmd)
            for line in env.splitlines():  # `export CONTAINERD_ADDRESS=...`: check, not eval
                if line.startswith("export CONTAINERD_ADDRESS="):
                    address = line.split("=", 1)[1].strip("'\"")
                    if address != self.sock:
                        raise Failure(f"containerd-private.sh printed {address}, expected {self.sock}")
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
        # Nothing should be left for stop to kill, unmount or delete: it says so on stderr.
        if p.returncode != 0 or p.stderr.strip():
            self.stop_problem = f"containerd-private.sh stop: rc={p.returncode} {p.stderr.strip()}"
            log(self.stop_problem)
        if self.keep:
            log(f"kept {self.dir} (containerd.log, state); remove it with "
                f"scripts/containerd-private.sh stop {self.dir}")

    def ctr(self, *args):
        return ["ctr", "--address", self.sock, *args]

    def pid(self):
        """containerd's own PID (from DIR/containerd.pid), or None."""
        try:
            with open(os.path.join(self.dir, "containerd.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def shims(self):
        """PIDs of shim daemons (and their forks) of this containerd: processes whose
        argv[0] is a containerd-shim-* binary and which name this containerd's socket."""
        return [pid for pid, (_, argv) in process_table().items()
                if argv and os.path.basename(argv[0]).startswith(b"containerd-shim-")
                and self.sock.encode() in argv]

    def processes(self):
        """{pid: (ppid, argv)} of every process this containerd's tasks added: those naming
        its socket (shims; our shims' zygotes and containers keep their argv) other than
        containerd and ctr clients, and all their descendants (runc's containers)."""
        table = process_table()
        me = self.pid()
        seeds = [pid for pid, (_, argv) in table.items()
                 if pid != me and self.sock.encode() in argv and argv
                 and os.path.basename(argv[0]) != b"ctr"]
        return {pid: table[pid] for pid in descendants(table, seeds)}

    def mounts(self):
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f]
        return [p for p in points if p == self.dir or p.startswith(self.dir + "/")]


def cgroup_dirs(name):
    """The directories of the top-level cgroup `name` in every hierarchy (v1, hybrid, v2)."""
    dirs = []
    for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if os.path.isdir(root):
            dirs += [d for d in [os.path.join(root, name)] + [os.path.join(root, h, name) for h in os.listdir(root)]
                     if os.path.isdir(d)]
    return list(dict.fromkeys(dirs))  # hybrid: unified/NAME is found from both roots


def remove_cgroup(name):
    """rmdir the top-level cgroup `name` in every hierarchy; returns those that could not go
    (a container's cgroup left inside)."""
    left = []
    for d in cgroup_dirs(name):
        try:
            os.rmdir(d)
        except OSError as e:
            left.append(f"{d}: {e.strerror}")
    return left


def process_table():
    """{pid: (ppid, argv as a list of bytes)} of every live process but zombies."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if fields[0] == b"Z":
            continue
        table[int(entry)] = (int(fields[1]), argv[:-1] if argv and argv[-1] == b"" else argv)
    return table


def descendants(table, roots):
    """roots and every process of table (process_table()) below one of them."""
    found = set(r for r in roots if r in table)
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    todo = list(found)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


# --- measuring -------------------------------------------------------------------------

def interleaved(rts, warmups, runs, measure, progress):
    """Runs measure(rt, i) once per runtime in every round i of warmups + runs rounds
    (round-robin, so load from elsewhere hits all alike) and keeps what it returns from the
    rounds after the warm-ups. A runtime whose measure raises Failure stops. Every 5
    measured rounds, progress(results) says a runtime's results so far on stderr.
    Returns {name: [result...]} and {name: problem}."""
    times = {rt.name: [] for rt in rts}
    problems = {}
    for i in range(warmups + runs):
        for rt in rts:
            if rt.name in problems:
                continue
            try:
                r = measure(rt, i)
            except Failure as e:
                problems[rt.name] = f"round {i}: {e}"
                log(f"{rt.name}: FAILED {problems[rt.name]}")
                continue
            if i >= warmups:
                times[rt.name].append(r)
        if i + 1 == warmups:
            log(f"{warmups} warm-up rounds done")
        elif i >= warmups and (i + 1 - warmups) % 5 == 0:
            log(f"{i + 1 - warmups}/{runs} rounds: " + ", ".join(
                f"{n} {progress(t)} ms" for n, t in times.items() if t and n not in problems))
    return times, problems


# --- report ----------------------------------------------------------------------------

def p90(values):
    """Nearest-rank 90th percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def spread(values):
    """(median, best, p90) of values."""
    values = list(values)
    return statistics.median(values), min(values), p90(values)


def fmt_ms(v):
    return "–" if v is None else f"{v * 1000:.1f}"


def summarize(rts, times, problems, digest=spread):
    """{name: digest(its results), or None when it failed or has none}."""
    return {rt.name: (None if rt.name in problems or not times[rt.name] else digest(times[rt.name]))
            for rt in rts}


def ratios(rts, stats, key=None):
    """{wasm runtime name: its median / runc's median} for the runtimes measured; key
    names the column when a runtime's stats are {column: (median, best, p90)}."""
    def median(s):
        return (s if key is None else s[key])[0]
    runc = stats.get("runc")
    if not runc:
        return {}
    return {rt.name: median(stats[rt.name]) / median(runc) for rt in rts if rt.shim and stats.get(rt.name)}


def problem_lines(problems, skipped):
    """The report's closing list of failed and skipped runtimes (none when all went well)."""
    if not (problems or skipped):
        return []
    return ([""] + [f"- {n}: failed: {p}" for n, p in problems.items()]
            + [f"- {n}: not measured: {p}" for n, p in skipped.items()])


def version_of(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def machine():
    """The machine a run measured, as a dict: CPU model and count, memory, kernel,
    containerd and runc versions, the load average, the date (UTC)."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem_kb = None
    try:
        with open("/proc/meminfo") as f:
            mem_kb = next(int(l.split()[1]) for l in f if l.startswith("MemTotal:"))
    except (OSError, StopIteration, ValueError):
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "memory_kb": mem_kb, "kernel": platform.release(),
            "containerd": version_of(["containerd", "--version"]),
            "runc": version_of(["runc", "--version"]),
            "loadavg": os.getloadavg(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def machine_lines():
    """The Machine bullets of a --doc section: CPU model and count, kernel, containerd and
    runc versions, date."""
    m = machine()
    return [f"- CPU: {m['cpu']}, {m['cpus']} CPUs (`nproc`); kernel {m['kernel']}",
            f"- {m['containerd']}; {m['runc']}",
            f"- Date: {m['date']}"]


def render_doc(opts, command, title, method, needs, results, table, args=None):
    """A section for docs/benchmarks.md: `## title`, the method bullets, the machine, how to
    reproduce (root; needs) with `command` (e.g. `python3 bench/ctr_run.py`) and this run's
    options (args: the script's own, default `-n RUNS`), then `results` over the table."""
    build = os.path.relpath(opts.build, REPO)
    build = build if not build.startswith("..") else opts.build
    names = ",".join(rt.name for rt in opts.selected)
    lines = [f"## {title}", "",
             f"Generated by `{command.split()[-1]} --doc`; numbers from one run on the machine below.", "",
             *method,
             "- The VM is shared and noisy (±20% between runs is normal).", "",
             "Machine:", "",
             *machine_lines(), "",
             f"Reproduce (root; {needs}):", "",
             "```sh",
             f"cmake -S . -B {build} -G Ninja",
             f"{command} --build {build} --runtimes {names} {args or f'-n {opts.runs}'} --doc",
             "```", "",
             results, "",
             table]
    return "\n".join(lines) + "\n"
