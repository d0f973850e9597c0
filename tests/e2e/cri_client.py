#!/usr/bin/python3
"""A Kubernetes CRI (runtime.v1) client for the e2e tests and for people on a node without
crictl. Nothing of the CRI API is written here: its message and service descriptors come,
at run time, from the gzipped FileDescriptorProtos that containerd's Go binary embeds
(k8s.io/cri-api's api.proto and what it imports); python3-protobuf builds the message
classes from them and python3-grpcio makes generic unary calls.

usage: cri_client.py [--endpoint ADDR] [--containerd BIN] [--timeout S] COMMAND [ARGS]
  runp POD.json [--runtime HANDLER]   RunPodSandbox; prints the pod id
  create POD_ID CTR.json POD.json     CreateContainer; prints the container id
  start ID                            StartContainer
  status ID                           ContainerStatus (verbose) as JSON; the runtime's
                                      JSON `info` values are parsed (pid, runtimeSpec...)
  inspectp POD_ID                     PodSandboxStatus (verbose) as JSON, likewise
  logpath ID                          the container's CRI log file (log_directory/log_path)
  exec-sync ID [--timeout S] [--json] -- CMD [ARG]...
                                      ExecSync: the command's stdout and stderr, and its
                                      exit code as ours (--json: one JSON object instead)
  stop ID [--timeout S]               StopContainer (S seconds before SIGKILL; default 0)
  rm ID                               RemoveContainer
  stopp POD_ID                        StopPodSandbox
  rmp POD_ID                          RemovePodSandbox
  pods                                ListPodSandbox as JSON
  ps [--pod POD_ID]                   ListContainers as JSON
  img IMAGE                           ImageStatus (never pulls) as JSON; exit 1 if absent
  rmi IMAGE                           RemoveImage (every name of the image, as kubelet's
                                      image GC removes it)
  version                             Version as JSON
  describe TYPE                       the fields of runtime.v1.TYPE (e.g. ContainerConfig)
POD.json and CTR.json are runtime.v1.PodSandboxConfig and ContainerConfig in protobuf's
JSON mapping (field names as in the .proto or lowerCamelCase).
ADDR: unix:///path/to/containerd.sock or a socket path; default $CONTAINER_RUNTIME_ENDPOINT,
then $CONTAINERD_ADDRESS (what containerd-private.sh exports), then
/run/containerd/containerd.sock. BIN: the containerd binary holding the descriptors
(default: containerd on PATH). An RPC error prints `rpc error: CODE: message` on stderr
and exits 125.
"""
import argparse
import json
import os
import shutil
import sys
import zlib

try:
    import grpc
    from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
except ImportError as e:  # Debian: python3-grpcio python3-protobuf (for /usr/bin/python3)
    sys.exit(f"cri_client: {e}: install python3-grpcio and python3-protobuf "
             f"(scripts/install-deps.sh) and run with /usr/bin/python3")

CRI_PACKAGE = "runtime.v1"
RPC_ERROR_EXIT = 125


class CriApi:
    """The runtime.v1 services and messages, built from the descriptors in a binary."""

    def __init__(self, binary: str):
        files = self._embedded_files(binary)
        roots = [f for f in files if f.package == CRI_PACKAGE and
                 any(s.name == "RuntimeService" for s in f.service)]
        if not roots:
            raise SystemExit(f"cri_client: {binary} embeds no {CRI_PACKAGE} RuntimeService "
                             f"descriptor (a containerd with the CRI plugin is needed)")
        self.pool = descriptor_pool.DescriptorPool()
        self._added = set()
        self._add(roots[0], files)
        self.file = self.pool.FindFileByName(roots[0].name)
        self._factory = message_factory.MessageFactory(self.pool)
        self.services = {s.name: s for s in self.file.services_by_name.values()}

    @staticmethod
    def _embedded_files(binary: str):
        """Every gzip stream in the binary that decompresses to a FileDescriptorProto."""
        with open(binary, "rb") as f:
            data = f.read()
        files, pos = [], 0
        while (start := data.find(b"\x1f\x8b\x08", pos)) >= 0:
            pos = start + 1
            stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                raw = stream.decompress(data[start:start + (8 << 20)])
            except zlib.error:
                continue
            if not stream.eof:
                continue
            proto = descriptor_pb2.FileDescriptorProto()
            try:
                proto.ParseFromString(raw)
            except Exception:  # not a descriptor: protobuf raises DecodeError or others
                continue
            if proto.name and proto.package:
                files.append(proto)
        return files

    def _add(self, proto, files):
        """Adds proto after its imports. Go registers some files under short names
        (gogo's "gogo.proto", its "descriptor.proto") that importers spell in full: an
        import is matched by its full name, else by the file name at its end."""
        if proto.name in self._added:
            return
        for dep in proto.dependency:
            match = [f for f in files if f.name == dep] or \
                [f for f in files if dep.endswith("/" + f.name)]
            if not match:
                raise SystemExit(f"cri_client: {proto.name} imports {dep}, which is not embedded")
            dep_proto = descriptor_pb2.FileDescriptorProto()
            dep_proto.CopyFrom(match[0])
            dep_proto.name = dep
            self._add(dep_proto, files)
        self.pool.AddSerializedFile(proto.SerializeToString())
        self._added.add(proto.name)

    def message(self, name: str):
        return self._factory.GetPrototype(self.pool.FindMessageTypeByName(f"{CRI_PACKAGE}.{name}"))

    def call(self, channel, service: str, method: str, request, timeout: float):
        desc = self.services[service].methods_by_name[method]
        response_class = self._factory.GetPrototype(desc.output_type)
        rpc = channel.unary_unary(f"/{CRI_PACKAGE}.{service}/{method}",
                                  request_serializer=lambda m: m.SerializeToString(),
                                  response_deserializer=response_class.FromString)
        return rpc(request, timeout=timeout)


def endpoint_target(endpoint: str) -> str:
    if endpoint.startswith("unix://"):
        endpoint = endpoint[len("unix://"):]
    return "unix:" + os.path.abspath(endpoint)


def to_dict(message) -> dict:
    out = json_format.MessageToDict(message, preserving_proto_field_name=True)
    # Verbose statuses carry the runtime's own JSON in `info`: parse it for jq.
    info = out.get("info")
    if isinstance(info, dict):
        for key, value in info.items():
            try:
                info[key] = json.loads(value)
            except (TypeError, ValueError):
                pass
    return out


def print_json(message):
    print(json.dumps(to_dict(message), indent=2, sort_keys=True))


def load_config(api: CriApi, type_name: str, path: str):
    message = api.message(type_name)()
    with open(path) as f:
        json_format.Parse(f.read(), message)
    return message


def main(argv):
    parser = argparse.ArgumentParser(prog="cri_client.py", add_help=False)
    parser.add_argument("-h", "--help", action="store_true")
    parser.add_argument("--endpoint", default=os.environ.get(
        "CONTAINER_RUNTIME_ENDPOINT",
        os.environ.get("CONTAINERD_ADDRESS", "/run/containerd/containerd.sock")))
    parser.add_argument("--containerd", default=shutil.which("containerd") or "/usr/bin/containerd")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per RPC")
    parser.add_argument("command", nargs="?")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    opts = parser.parse_args(argv)
    if opts.help or not opts.command:
        print(__doc__, file=sys.stderr if not opts.help else sys.stdout)
        return 0 if opts.help else 2

    api = CriApi(opts.containerd)
    if opts.command == "describe":
        if len(opts.args) != 1:
            raise SystemExit("usage: describe TYPE")
        for field in api.message(opts.args[0]).DESCRIPTOR.fields:
            if field.message_type:
                kind = field.message_type.full_name
            elif field.enum_type:
                kind = field.enum_type.full_name + " {" + ", ".join(
                    v.name for v in field.enum_type.values) + "}"
            else:
                kind = descriptor_pb2.FieldDescriptorProto.Type.Name(field.type)[5:].lower()
            print(f"{field.name} ({field.number}): {kind}"
                  f"{' repeated' if field.label == field.LABEL_REPEATED else ''}")
        return 0

    channel = grpc.insecure_channel(endpoint_target(opts.endpoint))

    def rt(method, **fields):
        request = api.message(method + "Request")(**fields)
        return api.call(channel, "RuntimeService", method, request, opts.timeout)

    def img(method, **fields):
        request = api.message(method + "Request")(**fields)
        return api.call(channel, "ImageService", method, request, opts.timeout)

    cmd, args = opts.command, opts.args
    sub = argparse.ArgumentParser(prog=f"cri_client.py {cmd}")
    try:
        if cmd == "runp":
            sub.add_argument("pod_config")
            sub.add_argument("--runtime", default="")
            a = sub.parse_args(args)
            config = load_config(api, "PodSandboxConfig", a.pod_config)
            print(rt("RunPodSandbox", config=config, runtime_handler=a.runtime).pod_sandbox_id)
        elif cmd == "create":
            sub.add_argument("pod_id")
            sub.add_argument("container_config")
            sub.add_argument("pod_config")
            a = sub.parse_args(args)
            print(rt("CreateContainer", pod_sandbox_id=a.pod_id,
                     config=load_config(api, "ContainerConfig", a.container_config),
                     sandbox_config=load_config(api, "PodSandboxConfig", a.pod_config)
                     ).container_id)
        elif cmd in ("start", "rm", "logpath", "status"):
            sub.add_argument("id")
            a = sub.parse_args(args)
            if cmd == "start":
                rt("StartContainer", container_id=a.id)
            elif cmd == "rm":
                rt("RemoveContainer", container_id=a.id)
            elif cmd == "status":
                print_json(rt("ContainerStatus", container_id=a.id, verbose=True))
            else:
                print(rt("ContainerStatus", container_id=a.id).status.log_path)
        elif cmd == "stop":
            sub.add_argument("id")
            sub.add_argument("--timeout", type=int, default=0)
            a = sub.parse_args(args)
            rt("StopContainer", container_id=a.id, timeout=a.timeout)
        elif cmd in ("stopp", "rmp", "inspectp"):
            sub.add_argument("pod_id")
            a = sub.parse_args(args)
            if cmd == "stopp":
                rt("StopPodSandbox", pod_sandbox_id=a.pod_id)
            elif cmd == "rmp":
                rt("RemovePodSandbox", pod_sandbox_id=a.pod_id)
            else:
                print_json(rt("PodSandboxStatus", pod_sandbox_id=a.pod_id, verbose=True))
        elif cmd == "exec-sync":
            sub.add_argument("id")
            sub.add_argument("--timeout", type=int, default=0, help="seconds; 0: none")
            sub.add_argument("--json", action="store_true")
            sub.add_argument("cmd", nargs=argparse.REMAINDER)
            a = sub.parse_args(args)
            command = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
            if not command:
                raise SystemExit("usage: exec-sync ID [--timeout S] [--json] -- CMD [ARG]...")
            r = rt("ExecSync", container_id=a.id, cmd=command, timeout=a.timeout)
            if a.json:
                print(json.dumps({"stdout": r.stdout.decode(errors="replace"),
                                  "stderr": r.stderr.decode(errors="replace"),
                                  "exit_code": r.exit_code}))
                return 0
            sys.stdout.buffer.write(r.stdout)
            sys.stdout.flush()
            sys.stderr.buffer.write(r.stderr)
            sys.stderr.flush()
            return r.exit_code
        elif cmd == "pods":
            sub.parse_args(args)
            print_json(rt("ListPodSandbox"))
        elif cmd == "ps":
            sub.add_argument("--pod", default="")
            a = sub.parse_args(args)
            filt = api.message("ContainerFilter")(pod_sandbox_id=a.pod)
            print_json(rt("ListContainers", filter=filt))
        elif cmd == "img":
            sub.add_argument("image")
            a = sub.parse_args(args)
            spec = api.message("ImageSpec")(image=a.image)
            r = img("ImageStatus", image=spec, verbose=True)
            print_json(r)
            return 0 if r.HasField("image") else 1
        elif cmd == "rmi":
            sub.add_argument("image")
            a = sub.parse_args(args)
            img("RemoveImage", image=api.message("ImageSpec")(image=a.image))
        elif cmd == "version":
            sub.parse_args(args)
            print_json(rt("Version"))
        else:
            print(f"cri_client: unknown command {cmd}\n{__doc__}", file=sys.stderr)
            return 2
    except grpc.RpcError as e:
        print(f"rpc error: {e.code().name}: {e.details()}", file=sys.stderr)
        return RPC_ERROR_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
