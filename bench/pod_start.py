#!/usr/bin/python3
"""Pod start time through CRI: a one-container Wasm pod under our shims vs the same pod
shape with a static native hello under runc.

    bench/pod_start.py [--build DIR] [--runtimes v8,wasm2c,runc] [-n RUNS] [--warmups N]
                       [--no-build] [--keep] [--doc]

Runtime handlers (default all three; scripts/containerd-private.sh configures them):
  v8       io.containerd.v8.v1      containerd-shim-v8-v1      tests/modules/hello.wasm
  wasm2c   io.containerd.wasm2c.v1  containerd-shim-wasm2c-v1  tests/modules/hello.wasm
  runc     io.containerd.runc.v2    runc (Debian's)            bench/native-hello/hello.c,
                                                               `gcc -static -O2`
Prerequisites: root, Debian's containerd (with its CRI plugin), runc, gcc, the CNI
plugins in /usr/lib/cni, /usr/bin/python3 with python3-grpcio and python3-protobuf (the
CRI client is tests/e2e/cri_client.py, imported), and a configured build directory
(`cmake -S . -B build-bench -G Ninja`). Unless --no-build, the script runs
`cmake --build DIR --target pause_image oci-tar-builder test_modules` plus the shim
targets of the chosen Wasm handlers (containerd-shim-v8-v1, containerd-shim-wasm2c-v1).
A Wasm handler whose shim binary is not in DIR/tools afterwards is skipped with a message.

Steps: the Wasm image is `oci-tar-builder --name runwasi-bench/hello --module hello.wasm`
(entrypoint /hello.wasm), imported into namespace k8s.io with `--all-platforms
--no-unpack` as CRI needs; the native image is tests/e2e/make_oci_image.py with the static
binary as /hello and `--entrypoint /hello`. Neither container config names a command: CRI
takes the image's entrypoint, as for a pod spec without `command`. A private containerd
(scripts/containerd-private.sh start --path-prepend DIR/tools --pause-image
DIR/tools/pause/pause-image.tar: CRI, a CNI bridge network, our pause image) serves both.
Every round then starts one pod per handler (round-robin), each timed in this process
over CRI's gRPC API as kubelet drives it:
    t0  RunPodSandbox(pod config, handler)  (pause container, network namespace, CNI)
        CreateContainer(hello)  StartContainer
    t1  StartContainer returned: the container is running       -> column "running"
        ContainerStatus polled (about every 2 ms) until CONTAINER_EXITED, exit code 0, and
    t2  the hello line is in the CRI log file (log_directory/log_path) -> column "output"
then StopPodSandbox + RemovePodSandbox and a wait until the pod's shim has exited (not
timed). Pod config as kubelet's default: network and IPC of the pod, a pid namespace per
container, a cgroup_parent of the run's own (cgroupfs). 2 warm-up rounds (discarded; the
first pods fill the shims' compile cache), then RUNS rounds (default 20). Every pod must
start, its container exit 0 and its CRI log hold exactly its hello line on stdout; any
failure stops that handler and makes the exit status 1. Reported: median, best and p90
(nearest rank) in ms per column, each Wasm handler's median divided by runc's, and the
median of each CRI call. At the end no pod, container, shim, mount or IP lease may be left
(checked), and the private containerd is always stopped (--keep leaves its directory).
The Markdown report goes to stdout (progress to stderr); --doc prints it as a section for
docs/benchmarks.md (method, how to reproduce, machine).
"""
import argparse
import datetime
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "bench")
E2E = os.path.join(REPO, "tests", "e2e")
CONTAINERD_PRIVATE = os.path.join(REPO, "scripts", "containerd-private.sh")
MAKE_OCI_IMAGE = os.path.join(E2E, "make_oci_image.py")
NATIVE_SRC = os.path.join(BENCH, "native-hello", "hello.c")

WASM_IMAGE = "docker.io/runwasi-bench/hello:latest"
NATIVE_IMAGE = "docker.io/runwasi-bench/native-hello:latest"
WASM_OUT = "hello from wasm"
NATIVE_OUT = "hello from native"
K8S_NS = "k8s.io"
POD_NAMESPACE = "runwasi-bench"
RPC_TIMEOUT_S = 60
EXIT_TIMEOUT_S = 30     # StartContainer returned -> exited with its output in the log
SHIM_EXIT_TIMEOUT_S = 10
POLL_S = 0.002  # between ContainerStatus polls; finer polling would load the 2-CPU VM
PHASES = ("RunPodSandbox", "CreateContainer", "StartContainer", "exit+log")


class Runtime:
    def __init__(self, name, runtime, shim, image, expect):
        self.name = name        # the CRI runtime handler, and the name for --runtimes
        self.runtime = runtime  # its containerd runtime type
        self.shim = shim        # our shim binary (a target in tools/), or None for runc
        self.image = image
        self.expect = expect    # the one stdout line every container must log


RUNTIMES = [
    Runtime("v8", "io.containerd.v8.v1", "containerd-shim-v8-v1", WASM_IMAGE, WASM_OUT),
    Runtime("wasm2c", "io.containerd.wasm2c.v1", "containerd-shim-wasm2c-v1", WASM_IMAGE, WASM_OUT),
    Runtime("runc", "io.containerd.runc.v2", None, NATIVE_IMAGE, NATIVE_OUT),
]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Failure(Exception):
    """Something the run cannot go on after; main reports it and exits 1."""


def die(msg):
    log(f"pod_start.py: {msg}")
    sys.exit(1)


def run(cmd, **kw):
    """Runs cmd with its output captured; dies with its output when it fails."""
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise Failure(f"{' '.join(cmd)} failed (rc={p.returncode}):\n"
                      f"{(p.stdout + p.stderr).strip()[-2000:]}")
    return p.stdout


# --- build and images ------------------------------------------------------------------

def build_targets(build, targets):
    """The cmake targets that the build directory defines, among `targets`."""
    p = subprocess.run(["cmake", "--build", build, "--target", "help"], capture_output=True, text=True)
    defined = {line.split(":", 1)[0].strip() for line in p.stdout.splitlines() if ":" in line}
    return [t for t in targets if t in defined]


def pause_tar(opts):
    return os.path.join(opts.build, "tools", "pause", "pause-image.tar")


def build(opts, rts):
    """Builds what the run needs; returns the runtimes whose binaries exist."""
    tools = os.path.join(opts.build, "tools")
    wasm = [rt for rt in rts if rt.shim]
    failed = set()
    if not opts.no_build:
        needed = ["pause_image"] + (["oci-tar-builder", "test_modules"] if wasm else [])
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
    if not os.path.exists(pause_tar(opts)):
        raise Failure(f"{pause_tar(opts)} is missing (build the target pause_image, or drop --no-build)")
    usable = []
    for rt in rts:
        if rt.shim:
            if rt.name in failed:
                continue
            if not os.access(os.path.join(tools, rt.shim), os.X_OK):
                log(f"skipping {rt.name}: no shim binary {os.path.join(tools, rt.shim)} "
                    f"(the build defines no target {rt.shim} yet, or it was not built)")
                continue
        elif not (shutil.which("runc") and shutil.which("containerd-shim-runc-v2")):
            log("skipping runc: runc or containerd-shim-runc-v2 not found on PATH")
            continue
        usable.append(rt)
    return usable


def oci_arch():
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


def make_images(opts, rts, out):
    """Writes the image tarballs the runtimes need; returns [(path, unpack)]."""
    os.makedirs(out, exist_ok=True)
    tars = []
    if any(rt.image == NATIVE_IMAGE for rt in rts):
        native = os.path.join(out, "hello-native-static")
        if not (os.path.exists(native) and os.path.getmtime(native) >= os.path.getmtime(NATIVE_SRC)):
            run(["gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", NATIVE_SRC, "-o", native])
        tar = os.path.join(out, "native-hello.tar")
        run([sys.executable, MAKE_OCI_IMAGE, "--entrypoint", "/hello", tar, NATIVE_IMAGE, oci_arch(),
             f"/hello={native}"])
        tars.append((tar, True))
    if any(rt.image == WASM_IMAGE for rt in rts):
        module = os.path.join(opts.build, "tests", "modules", "hello.wasm")
        builder = os.path.join(opts.build, "tools", "oci-tar-builder")
        for f in (module, builder):
            if not os.path.exists(f):
                raise Failure(f"{f} is missing (build the targets oci-tar-builder and test_modules, "
                              f"or drop --no-build)")
        tar = os.path.join(out, "wasm-hello.tar")
        run([builder, "--name", WASM_IMAGE, "--module", module, "-o", tar])
        tars.append((tar, False))  # CRI runs pure Wasm images from the content store
    return tars


# --- the private containerd ------------------------------------------------------------

class PrivateContainerd:
    """scripts/containerd-private.sh start/stop around a `with` block."""

    def __init__(self, path_prepend, pause_image, keep):
        # Short path under /tmp: containerd's socket paths must fit in 107 bytes.
        self.dir = tempfile.mkdtemp(prefix="pod-start-bench.")
        self.path_prepend = path_prepend
        self.pause_image = pause_image
        self.keep = keep
        self.sock = os.path.join(self.dir, "containerd.sock")
        self.stop_problem = None

    def __enter__(self):
        try:
            cmd = [CONTAINERD_PRIVATE, "start", self.dir, "--pause-image", self.pause_image]
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

    def cni_network(self):
        import json
        with open(os.path.join(self.dir, "cni", "net.d", "10-runwasi.conflist")) as f:
            return json.load(f)["name"]

    def shims(self):
        """PIDs of shim daemons (and their forks) of this containerd: processes whose
        argv[0] is a containerd-shim-* binary and which name this containerd's socket."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if argv and os.path.basename(argv[0]).startswith(b"containerd-shim-") and \
                    self.sock.encode() in argv:
                found.append(int(entry))
        return found

    def mounts(self):
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f]
        return [p for p in points if p == self.dir or p.startswith(self.dir + "/")]


# --- CRI -------------------------------------------------------------------------------

class Cri:
    """runtime.v1 calls over one gRPC channel, through tests/e2e/cri_client.py's CriApi."""

    def __init__(self, sock):
        sys.path.insert(0, E2E)
        import cri_client  # exits with a hint when grpc or protobuf is missing
        from google.protobuf import json_format
        import grpc
        self.grpc = grpc
        self.json_format = json_format
        containerd = shutil.which("containerd") or "/usr/bin/containerd"
        self.api = cri_client.CriApi(containerd)
        self.channel = grpc.insecure_channel(cri_client.endpoint_target(sock))
        states = self.api.pool.FindEnumTypeByName("runtime.v1.ContainerState").values_by_name
        self.EXITED = states["CONTAINER_EXITED"].number
        self.RUNNING = states["CONTAINER_RUNNING"].number
        self.state_name = {v.number: k for k, v in states.items()}

    def close(self):
        self.channel.close()

    def msg(self, type_name, fields):
        return self.json_format.ParseDict(fields, self.api.message(type_name)())

    def rt(self, method, **fields):
        request = self.api.message(method + "Request")(**fields)
        try:
            return self.api.call(self.channel, "RuntimeService", method, request, RPC_TIMEOUT_S)
        except self.grpc.RpcError as e:
            raise Failure(f"{method}: rpc error: {e.code().name}: {e.details()}") from None

    def image_present(self, image):
        spec = self.api.message("ImageSpec")(image=image)
        request = self.api.message("ImageStatusRequest")(image=spec)
        return self.api.call(self.channel, "ImageService", "ImageStatus", request,
                             RPC_TIMEOUT_S).HasField("image")


def log_line_re(text):
    """A CRI log line `<RFC 3339 time> stdout F TEXT`."""
    return re.compile(r"^\d{4}-\d{2}-\d{2}T[0-9:.]+(Z|[+-][0-9:]+) stdout F " + re.escape(text) + "$")


class Bench:
    def __init__(self, cd, cri, cgroup_parent):
        self.cd = cd
        self.cri = cri
        self.cgroup_parent = cgroup_parent
        self.logs = os.path.join(cd.dir, "logs")

    def configs(self, rt, name):
        logdir = os.path.join(self.logs, name)
        os.makedirs(logdir)
        ns_opts = {"network": "POD", "ipc": "POD", "pid": "CONTAINER"}
        pod = self.cri.msg("PodSandboxConfig", {
            "metadata": {"name": name, "uid": f"uid-{name}", "namespace": POD_NAMESPACE, "attempt": 0},
            "hostname": name, "log_directory": logdir,
            "linux": {"cgroup_parent": "/" + self.cgroup_parent,
                      "security_context": {"namespace_options": ns_opts}}})
        # No command: CRI runs the image's entrypoint (/hello.wasm, /hello).
        ctr = self.cri.msg("ContainerConfig", {
            "metadata": {"name": "hello", "attempt": 0}, "image": {"image": rt.image},
            "log_path": "hello.log",
            "linux": {"security_context": {"namespace_options": ns_opts}}})
        return pod, ctr, os.path.join(logdir, "hello.log")

    def one_pod(self, rt, name):
        """Starts one pod with one hello container under rt's handler and waits for its
        output; always stops and removes the pod. Returns (running_s, output_s, phases)."""
        cri = self.cri
        pod_cfg, ctr_cfg, log_file = self.configs(rt, name)
        want = log_line_re(rt.expect)
        pod_id = None
        try:
            t0 = time.perf_counter()
            pod_id = cri.rt("RunPodSandbox", config=pod_cfg, runtime_handler=rt.name).pod_sandbox_id
            t_pod = time.perf_counter()
            cid = cri.rt("CreateContainer", pod_sandbox_id=pod_id, config=ctr_cfg,
                         sandbox_config=pod_cfg).container_id
            t_create = time.perf_counter()
            cri.rt("StartContainer", container_id=cid)
            t_run = time.perf_counter()
            # Exited with code 0 and its line in the CRI log, in whichever order they come.
            deadline = t_run + EXIT_TIMEOUT_S
            exited = logged = False
            while True:
                if not exited:
                    status = cri.rt("ContainerStatus", container_id=cid).status
                    exited = status.state == cri.EXITED
                    if exited and status.exit_code != 0:
                        raise Failure(f"{name}: exit code {status.exit_code} "
                                      f"({status.reason}: {status.message})")
                if not logged:
                    try:
                        with open(log_file) as f:
                            logged = any(want.match(line) for line in f.read().splitlines())
                    except FileNotFoundError:
                        pass
                if exited and logged:
                    t_out = time.perf_counter()
                    break
                if time.perf_counter() > deadline:
                    raise Failure(f"{name}: not exited with output {EXIT_TIMEOUT_S} s after "
                                  f"StartContainer: state {cri.state_name.get(status.state)}, "
                                  f"log {log_file}: {'present' if logged else 'empty or missing'}")
                time.sleep(POLL_S)
            # Checked outside the timing: exit code, and exactly the hello line on stdout.
            status = cri.rt("ContainerStatus", container_id=cid).status
            if status.exit_code != 0:
                raise Failure(f"{name}: exit code {status.exit_code} ({status.reason}: {status.message})")
            if status.log_path != log_file:
                raise Failure(f"{name}: CRI's log path is {status.log_path}, expected {log_file}")
            time.sleep(0.01)  # anything the container wrote after its line would show now
            with open(log_file) as f:
                lines = f.read().splitlines()
            if len(lines) != 1 or not want.match(lines[0]):
                raise Failure(f"{name}: its CRI log {log_file} holds {lines[:5]!r}, "
                              f"expected one line '<time> stdout F {rt.expect}'")
            phases = (t_pod - t0, t_create - t_pod, t_run - t_create, t_out - t_run)
            return t_run - t0, t_out - t0, phases
        finally:
            if pod_id:
                cri.rt("StopPodSandbox", pod_sandbox_id=pod_id)
                cri.rt("RemovePodSandbox", pod_sandbox_id=pod_id)
                self.wait_shims_gone(name)

    def wait_shims_gone(self, what):
        """The pod's shim exits on its own after RemovePodSandbox; the next pod must not
        share the machine with it."""
        deadline = time.monotonic() + SHIM_EXIT_TIMEOUT_S
        while (left := self.cd.shims()):
            if time.monotonic() > deadline:
                raise Failure(f"{what}: shim processes {left} still run {SHIM_EXIT_TIMEOUT_S} s "
                              f"after RemovePodSandbox")
            time.sleep(0.01)

    def leftovers(self):
        """What the pods left, in words; empty when clean."""
        cri = self.cri
        left = []
        pods = cri.rt("ListPodSandbox").items
        if pods:
            left.append(f"pods: {[p.id for p in pods]}")
        ctrs = cri.rt("ListContainers").containers
        if ctrs:
            left.append(f"containers: {[c.id for c in ctrs]}")
        for kind in ("tasks", "containers"):
            out = run(self.cd.ctr("-n", K8S_NS, kind, "ls", "-q")).split()
            if out:
                left.append(f"containerd {kind}: {out}")
        task_dir = os.path.join(self.cd.dir, "state", "io.containerd.runtime.v2.task")
        if os.path.isdir(task_dir):
            bundles = [os.path.join(ns, b) for ns in os.listdir(task_dir)
                       for b in os.listdir(os.path.join(task_dir, ns))]
            if bundles:
                left.append(f"bundles: {bundles}")
        if (shims := self.cd.shims()):
            left.append(f"shim processes: {shims}")
        if (mounts := self.cd.mounts()):
            left.append(f"mounts: {mounts}")
        ipam = os.path.join(self.cd.dir, "cni", "ipam", self.cd.cni_network())
        if os.path.isdir(ipam):
            leases = [f for f in os.listdir(ipam) if re.fullmatch(r"[0-9.]+", f)]
            if leases:
                left.append(f"IP leases: {leases}")
        return left

    def assert_clean(self):
        for _ in range(20):
            left = self.leftovers()
            if not left:
                return
            time.sleep(0.1)
        raise Failure("left behind: " + "; ".join(left))


def interleaved(bench, rts, warmups, runs):
    """Pod start times per runtime over warmups + runs rounds, each round starting one pod
    per runtime; warm-up times are dropped. A runtime whose pod fails stops.
    Returns {name: [(running_s, output_s, phases)...]} and {name: problem}."""
    times = {rt.name: [] for rt in rts}
    problems = {}
    for i in range(warmups + runs):
        for rt in rts:
            if rt.name in problems:
                continue
            name = f"{rt.name}-{os.getpid()}-{i}"
            try:
                r = bench.one_pod(rt, name)
            except Failure as e:
                problems[rt.name] = f"round {i}: {e}"
                log(f"{rt.name}: FAILED {problems[rt.name]}")
                continue
            if i >= warmups:
                times[rt.name].append(r)
            else:
                log(f"warm-up {i} {rt.name}: running {r[0] * 1000:.1f} ms, output {r[1] * 1000:.1f} ms")
        if i + 1 == warmups:
            log(f"{warmups} warm-up rounds done")
        elif i >= warmups and (i + 1 - warmups) % 5 == 0:
            log(f"{i + 1 - warmups}/{runs} rounds: " + ", ".join(
                f"{n} {statistics.median(x[0] for x in t) * 1000:.1f}/"
                f"{statistics.median(x[1] for x in t) * 1000:.1f} ms"
                for n, t in times.items() if t and n not in problems))
    return times, problems


# --- report ----------------------------------------------------------------------------

def p90(values):
    """Nearest-rank 90th percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def fmt_ms(v):
    return "–" if v is None else f"{v * 1000:.1f}"


def summarize(rts, times, problems):
    """{name: {"running": (median, best, p90), "output": (...), "phases": (medians...)}
    or None}."""
    out = {}
    for rt in rts:
        t = times[rt.name]
        if rt.name in problems or not t:
            out[rt.name] = None
            continue
        cols = {}
        for k, key in enumerate(("running", "output")):
            v = [x[k] for x in t]
            cols[key] = (statistics.median(v), min(v), p90(v))
        cols["phases"] = tuple(statistics.median(x[2][j] for x in t) for j in range(len(PHASES)))
        out[rt.name] = cols
    return out


def ratios(rts, stats, key):
    """{wasm runtime name: its median / runc's median} for column key."""
    runc = stats.get("runc")
    if not runc:
        return {}
    return {rt.name: stats[rt.name][key][0] / runc[key][0] for rt in rts if rt.shim and stats.get(rt.name)}


def render(rts, stats, problems, skipped):
    lines = ["| handler (runtime) | image | running: median | best | p90 | / runc "
             "| output: median | best | p90 | / runc |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    rr, ro = ratios(rts, stats, "running"), ratios(rts, stats, "output")
    for rt in rts:
        s = stats.get(rt.name)
        image = "hello.wasm" if rt.image == WASM_IMAGE else "static native hello"
        cells = []
        for key, r in (("running", rr), ("output", ro)):
            cells += ["failed"] * 3 if s is None else [fmt_ms(v) for v in s[key]]
            cells.append("1.00" if rt.name == "runc" and s else (f"{r[rt.name]:.2f}" if rt.name in r else "–"))
        lines.append(f"| `{rt.name}` (`{rt.runtime}`) | {image} | " + " | ".join(cells) + " |")
    for name in skipped:
        rt = next(x for x in RUNTIMES if x.name == name)
        lines.append(f"| `{rt.name}` (`{rt.runtime}`) | – | not measured | | | | | | | |")
    measured = [rt for rt in rts if stats.get(rt.name)]
    if measured:
        lines += ["", "Median ms of each step:", "",
                  "| handler | " + " | ".join(PHASES) + " |",
                  "|---|" + "---|" * len(PHASES)]
        for rt in measured:
            lines.append(f"| `{rt.name}` | " + " | ".join(fmt_ms(v) for v in stats[rt.name]["phases"]) + " |")
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
    lines = ["## Pod start through CRI: Wasm shims vs runc", "",
             "Generated by `bench/pod_start.py --doc`; numbers from one run on the machine below.", "",
             "- What: a one-container pod started through containerd's CRI API as kubelet does "
             "(`RunPodSandbox` with a runtime handler → `CreateContainer` → `StartContainer`), "
             "timed inside the client (`tests/e2e/cri_client.py`'s CRI API, one gRPC channel) "
             "against a private containerd (`scripts/containerd-private.sh`: CRI, a CNI bridge "
             "network, our pause image, overlayfs). Column *running*: from the start of "
             "`RunPodSandbox` until `StartContainer` returned (the container is running; kubelet's "
             "view). Column *output*: until `ContainerStatus` says exited (polled about every "
             f"{POLL_S * 1000:g} ms) and the hello line is in the container's CRI log file.",
             "- Each pod: its own sandbox (our pause image, run by the pod's shim: ours for `v8` and "
             "`wasm2c`, runc's for `runc`), network namespace with a CNI bridge port and an IP, IPC "
             "and UTS namespaces; the container gets its own pid namespace and cgroup under the "
             "pod's cgroup_parent (cgroupfs), as with kubelet's defaults. Neither container config "
             "names a command: CRI runs the image's entrypoint.",
             "- Wasm: `tests/modules/hello.wasm` in an image from `oci-tar-builder` (entrypoint "
             "`/hello.wasm`, imported `--all-platforms --no-unpack`), under handlers `v8` and "
             "`wasm2c`. Native: `bench/native-hello/hello.c` built with `gcc -static -O2`, the only "
             "file of its image (entrypoint `/hello`), under handler `runc` (Debian's runc).",
             f"- {opts.warmups} warm-up rounds (discarded), then {opts.runs} rounds; every round "
             "starts one pod per handler (round-robin). After each pod: StopPodSandbox, "
             "RemovePodSandbox and a wait until its shim has exited (not timed). Every container "
             "must exit 0 with exactly its hello line in its CRI log; at the end no pod, "
             "container, bundle, shim, mount or IP lease may be left. Median, best and p90 "
             "(nearest rank).",
             "- The VM is shared and noisy (±20% between runs is normal).", "",
             "Machine:", "",
             f"- CPU: {cpu}, {os.cpu_count()} CPUs (`nproc`); kernel {platform.release()}",
             f"- {version_of(['containerd', '--version'])}; {version_of(['runc', '--version'])}",
             f"- Date: {now}", "",
             "Reproduce (root; Debian's containerd, runc, gcc, containernetworking-plugins, "
             "python3-grpcio and python3-protobuf):", "",
             "```sh",
             f"cmake -S . -B {build} -G Ninja",
             f"bench/pod_start.py --build {build} --runtimes {names} -n {opts.runs} --doc",
             "```", "",
             f"Results, ms ({opts.runs} pods per handler):", "",
             table]
    return "\n".join(lines) + "\n"


def remove_cgroup_parent(name):
    """rmdir the run's cgroup_parent in every hierarchy; returns those that could not go
    (a container's cgroup left inside)."""
    left = []
    for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if not os.path.isdir(root):
            continue
        for d in [os.path.join(root, name)] + [os.path.join(root, h, name) for h in os.listdir(root)]:
            if os.path.isdir(d):
                try:
                    os.rmdir(d)
                except OSError as e:
                    left.append(f"{d}: {e.strerror}")
    return left


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
    if not names:
        die("--runtimes names no runtime")
    if opts.runs < 1 or opts.warmups < 0:
        die("-n must be at least 1 and --warmups at least 0")
    opts.build = os.path.abspath(opts.build)
    if not os.path.exists(os.path.join(opts.build, "CMakeCache.txt")):
        die(f"{opts.build} is not a configured build directory (cmake -S . -B {opts.build} -G Ninja)")
    if os.geteuid() != 0:
        die("needs root (containerd, runc, CNI)")
    for tool in ("containerd", "ctr", "gcc"):
        if not shutil.which(tool):
            die(f"{tool} not found on PATH")
    for f in ("/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback"):
        if not os.access(f, os.X_OK):
            die(f"{f} is missing (containernetworking-plugins: scripts/install-deps.sh)")
    try:
        import grpc  # noqa: F401  (cri_client.py needs both; checked before containerd starts)
        import google.protobuf  # noqa: F401
    except ImportError as e:
        die(f"{e}: run with /usr/bin/python3 and python3-grpcio python3-protobuf installed "
            f"(scripts/install-deps.sh)")
    opts.selected = sorted((known[n] for n in set(names)), key=RUNTIMES.index)  # round-robin order

    # SIGTERM unwinds like Ctrl-C, so the private containerd is stopped either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        rts = build(opts, opts.selected)
        skipped = {rt.name: "shim binary missing or not buildable (see stderr)"
                   for rt in opts.selected if rt not in rts}
        if not rts:
            die("no runtime left to measure")
        if "runc" not in [rt.name for rt in rts]:
            log("note: without runc there is no baseline: no ratios")
        tars = make_images(opts, rts, os.path.join(opts.build, "bench", "pod_start"))
    except Failure as e:
        die(str(e))

    tools = os.path.join(opts.build, "tools")
    cgroup_parent = f"runwasi-bench-pods-{os.getpid()}"
    problems, fatal, stop_problem = {}, None, None
    times = {rt.name: [] for rt in rts}
    try:
        with PrivateContainerd(tools if any(rt.shim for rt in rts) else None, pause_tar(opts), opts.keep) as cd:
            cri = None
            try:
                for tar, unpack in tars:
                    flags = [] if unpack else ["--all-platforms", "--no-unpack"]
                    run(cd.ctr("-n", K8S_NS, "images", "import", *flags, tar))
                cri = Cri(cd.sock)
                for image in sorted({rt.image for rt in rts}):
                    if not cri.image_present(image):
                        raise Failure(f"CRI does not see the image {image}")
                bench = Bench(cd, cri, cgroup_parent)
                log(f"measuring {', '.join(rt.name for rt in rts)}: {opts.warmups} warm-up + "
                    f"{opts.runs} rounds")
                times, problems = interleaved(bench, rts, opts.warmups, opts.runs)
                bench.assert_clean()
            finally:
                if cri:
                    cri.close()
        stop_problem = cd.stop_problem
    except Failure as e:
        fatal = str(e)
        log(f"pod_start.py: {fatal}")
    finally:
        cg_left = remove_cgroup_parent(cgroup_parent)
        if cg_left:
            log(f"cgroups left: {cg_left}")

    stats = summarize(rts, times, problems)
    for rt in rts:
        s = stats[rt.name]
        if s:
            log(f"{rt.name}: running median {fmt_ms(s['running'][0])} ms (best {fmt_ms(s['running'][1])}, "
                f"p90 {fmt_ms(s['running'][2])}); output median {fmt_ms(s['output'][0])} ms")
    if fatal:
        return 1
    table = render(rts, stats, problems, skipped)
    print(render_doc(table, opts) if opts.doc else table)
    return 1 if problems or stop_problem or cg_left else 0


if __name__ == "__main__":
    sys.exit(main())
