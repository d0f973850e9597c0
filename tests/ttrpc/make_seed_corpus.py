#!/usr/bin/env python3
"""Writes the fuzz target's seed corpus: a few frame streams, each prefixed by the byte
that picks the chunk sizes. Usage: make_seed_corpus.py OUTPUT_DIR"""

import os
import struct
import sys


def frame(stream_id, frame_type, body, flags=0):
    return struct.pack(">IIBB", len(body), stream_id, frame_type, flags) + body


def request_body(service, method, payload):
    def field(number, value):
        return bytes([number << 3 | 2, len(value)]) + value
    return field(1, service) + field(2, method) + field(3, payload)


SEEDS = {
    "request": b"\x00" + frame(1, 1, request_body(b"containerd.task.v2.Task", b"State", b"\x0a\x02c1")),
    "two-frames-chunked": b"\x03" + frame(1, 1, b"abc") + frame(3, 2, b"defgh", 1),
    "empty-body": b"\x01" + frame(5, 1, b""),
    "unknown-type": b"\x07" + frame(7, 9, b"stream data"),
    "oversized": b"\x02" + struct.pack(">IIBB", (4 << 20) + 1, 9, 1, 0) + b"x" * 64,
    "truncated": b"\x05" + frame(11, 1, b"0123456789")[:14],
    "half-header": b"\x01" + b"\x00\x00\x00",
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
