#!/usr/bin/python3
"""What `ctr task update --memory-limit N ID` does in containerd 1.7 (Debian's ctr 1.6 has
no `task update`): Tasks.Update on containerd's gRPC socket with the runtime-spec
LinuxResources JSON in an Any, which containerd hands to the task's shim as Update.

usage: task_update.py SOCKET NAMESPACE ID --memory-limit BYTES | --resources JSON
On an RPC error it prints `rpc error: CODE: message` on stderr and exits 1.
Needs python3-grpcio (Debian's, for /usr/bin/python3); the two small messages are encoded
here by hand.
"""
import json
import sys

import grpc

LINUX_RESOURCES = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, data: bytes) -> bytes:  # a length-delimited field
    return varint(number << 3 | 2) + varint(len(data)) + data


def main() -> int:
    if len(sys.argv) != 6 or sys.argv[4] not in ("--memory-limit", "--resources"):
        sys.exit(__doc__)
    socket, namespace, container_id, flag, value = sys.argv[1:]
    if flag == "--memory-limit":
        resources = json.dumps({"memory": {"limit": int(value)}})
    else:
        resources = value
    # containerd.services.tasks.v1.UpdateTaskRequest{container_id = 1, resources = 2 (Any)}
    any_ = field(1, LINUX_RESOURCES.encode()) + field(2, resources.encode())
    request = field(1, container_id.encode()) + field(2, any_)
    with grpc.insecure_channel("unix://" + socket) as channel:
        update = channel.unary_unary("/containerd.services.tasks.v1.Tasks/Update",
                                     request_serializer=lambda b: b,
                                     response_deserializer=lambda b: b)
        try:
            update(request, metadata=[("containerd-namespace", namespace)], timeout=10)
        except grpc.RpcError as e:
            print(f"rpc error: {e.code().name}: {e.details()}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
