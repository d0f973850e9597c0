#!/usr/bin/python3
"""Pod start time through CRI: a one-container Wasm pod under our shims vs the same pod
shape with a static native hello under runc.

    bench/pod_start.py [--build DIR] [--runtimes v8,wasm2c,runc] [-n RUNS] [--warmups N]
                       [--no-build] [--keep] [--doc] [--json FILE]

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
docs/benchmarks.md (method, how to reproduce, machine); --json FILE also writes every pod's
times (seconds: running, output and each step) per handler.
"""
import os
import re
import shutil
import signal
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/, for benchlib
import benchlib  # noqa: E402
from benchlib import (  # noqa: E402
    E2E, NATIVE_HELLO, NATIVE_IMAGE, WASM_HELLO, WASM_IMAGE, Failure, Runtime, fmt_ms, log, run)

PROG = "pod_start.py"
K8S_NS = "k8s.io"
POD_NAMESPACE = "runwasi-bench"
RPC_TIMEOUT_S = 60
EXIT_TIMEOUT_S = 30     # StartContainer returned -> exited with its output in the log
SHIM_EXIT_TIMEOUT_S = 10
POLL_S = 0.002  # between ContainerStatus polls; finer polling would load the 2-CPU VM
PHASES = ("RunPodSandbox", "CreateContainer", "StartContainer", "exit+log")

# name: the CRI runtime handler; expect: the one stdout line every container must log.
RUNTIMES = [
    Runtime("v8", "io.containerd.v8.v1", "containerd-shim-v8-v1", WASM_IMAGE, WASM_HELLO),
    Runtime("wasm2c", "io.containerd.wasm2c.v1", "containerd-shim-wasm2c-v1", WASM_IMAGE, WASM_HELLO),
    Runtime("runc", "io.containerd.runc.v2", None, NATIVE_IMAGE, NATIVE_HELLO),
]


def die(msg):
    benchlib.die(PROG, msg)


def pause_tar(opts):
    return os.path.join(opts.build, "tools", "pause", "pause-image.tar")


# --- the private containerd ------------------------------------------------------------

class PrivateContainerd(benchlib.PrivateContainerd):
    """benchlib's, started with our pause image (CRI, a CNI bridge network), and the CNI
    network's name, to check that the pods left no IP lease behind."""

    def __init__(self, path_prepend, pause_image, keep):
        super().__init__("pod-start-bench.", path_prepend, keep, ["--pause-image", pause_image])

    def cni_network(self):
        import json
        with open(os.path.join(self.dir, "cni", "net.d", "10-runwasi.conflist")) as f:
            return json.load(f)["name"]


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


def measure(bench, warmups):
    """A measure for benchlib.interleaved: one pod of a runtime (Bench.one_pod)."""
    def one(rt, i):
        r = bench.one_pod(rt, f"{rt.name}-{os.getpid()}-{i}")
        if i < warmups:
            log(f"warm-up {i} {rt.name}: running {r[0] * 1000:.1f} ms, output {r[1] * 1000:.1f} ms")
        return r
    return one


def progress(t):
    return (f"{statistics.median(x[0] for x in t) * 1000:.1f}/"
            f"{statistics.median(x[1] for x in t) * 1000:.1f}")


# --- report ----------------------------------------------------------------------------

def digest(t):
    """{"running": (median, best, p90), "output": (...), "phases": (medians...)} of one
    runtime's [(running_s, output_s, phases)...]."""
    return {"running": benchlib.spread(x[0] for x in t), "output": benchlib.spread(x[1] for x in t),
            "phases": tuple(statistics.median(x[2][j] for x in t) for j in range(len(PHASES)))}


def render(rts, stats, problems, skipped):
    lines = ["| handler (runtime) | image | running: median | best | p90 | / runc "
             "| output: median | best | p90 | / runc |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    rr, ro = benchlib.ratios(rts, stats, "running"), benchlib.ratios(rts, stats, "output")
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
    lines += benchlib.problem_lines(problems, skipped)
    return "\n".join(lines)


def render_doc(table, opts):
    method = [
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
        "(nearest rank)."]
    return benchlib.render_doc(opts, "bench/pod_start.py", "Pod start through CRI: Wasm shims vs runc",
                               method, "Debian's containerd, runc, gcc, containernetworking-plugins, "
                               "python3-grpcio and python3-protobuf",
                               f"Results, ms ({opts.runs} pods per handler):", table)


def main():
    opts = benchlib.parse_args(__doc__, PROG, RUNTIMES, "containerd, runc, CNI")
    for f in ("/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback"):
        if not os.access(f, os.X_OK):
            die(f"{f} is missing (containernetworking-plugins: scripts/install-deps.sh)")
    try:
        import grpc  # noqa: F401  (cri_client.py needs both; checked before containerd starts)
        import google.protobuf  # noqa: F401
    except ImportError as e:
        die(f"{e}: run with /usr/bin/python3 and python3-grpcio python3-protobuf installed "
            f"(scripts/install-deps.sh)")

    # SIGTERM unwinds like Ctrl-C, so the private containerd is stopped either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        rts, skipped = benchlib.build(opts, opts.selected, first=["pause_image"],
                                      runc_tools=("runc", "containerd-shim-runc-v2"))
        if not os.path.exists(pause_tar(opts)):
            raise Failure(f"{pause_tar(opts)} is missing (build the target pause_image, or drop --no-build)")
        tars = benchlib.make_images(opts.build, rts, os.path.join(opts.build, "bench", "pod_start"),
                                    entrypoint="/hello")
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
                for tar, image in tars:
                    # CRI runs pure Wasm images from the content store
                    flags = ["--all-platforms", "--no-unpack"] if image == WASM_IMAGE else []
                    run(cd.ctr("-n", K8S_NS, "images", "import", *flags, tar))
                cri = Cri(cd.sock)
                for image in sorted({rt.image for rt in rts}):
                    if not cri.image_present(image):
                        raise Failure(f"CRI does not see the image {image}")
                bench = Bench(cd, cri, cgroup_parent)
                log(f"measuring {', '.join(rt.name for rt in rts)}: {opts.warmups} warm-up + "
                    f"{opts.runs} rounds")
                times, problems = benchlib.interleaved(rts, opts.warmups, opts.runs,
                                                      measure(bench, opts.warmups), progress)
                bench.assert_clean()
            finally:
                if cri:
                    cri.close()
        stop_problem = cd.stop_problem
    except Failure as e:
        fatal = str(e)
        log(f"{PROG}: {fatal}")
    finally:
        cg_left = benchlib.remove_cgroup(cgroup_parent)
        if cg_left:
            log(f"cgroups left: {cg_left}")

    stats = benchlib.summarize(rts, times, problems, digest)
    for rt in rts:
        s = stats[rt.name]
        if s:
            log(f"{rt.name}: running median {fmt_ms(s['running'][0])} ms (best {fmt_ms(s['running'][1])}, "
                f"p90 {fmt_ms(s['running'][2])}); output median {fmt_ms(s['output'][0])} ms")
    if fatal:
        return 1
    benchlib.write_json(opts.json, benchlib.raw_results(
        opts, rts, times, problems, skipped,
        lambda r: {"running_s": r[0], "output_s": r[1], "phases_s": dict(zip(PHASES, r[2]))}))
    table = render(rts, stats, problems, skipped)
    print(render_doc(table, opts) if opts.doc else table)
    return 1 if problems or stop_problem or cg_left else 0


if __name__ == "__main__":
    sys.exit(main())
