#!/usr/bin/env python3
"""Writes a minimal OCI image layout tarball (index.json, one manifest, a config and one
uncompressed tar layer) that `ctr images import` accepts; stdlib only.

usage: make_oci_image.py [--entrypoint ARG]... [--cmd ARG]... OUT.tar IMAGE_NAME ARCH ENTRY...
  ENTRY is PATH_IN_IMAGE=HOST_FILE (a copy of the file, with its mode bits),
  PATH_IN_IMAGE->TARGET (a symbolic link) or PATH_IN_IMAGE/ (an empty directory, 0755).
  --entrypoint and --cmd (each repeatable, one argument each) set the config's Entrypoint
  and Cmd, which CRI runs when a container names no command (the pause image needs one).
"""
import hashlib
import io
import json
import os
import sys
import tarfile


def blob(data: bytes):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    return digest, data


def add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def add_entry(tar: tarfile.TarFile, spec: str):
    if "->" in spec:
        inside, target = spec.split("->", 1)
        info = tarfile.TarInfo(inside.lstrip("/"))
        info.type = tarfile.SYMTYPE
        info.linkname = target
        info.mode = 0o777
        tar.addfile(info)
    elif "=" in spec:
        inside, host = spec.split("=", 1)
        with open(host, "rb") as f:
            add(tar, inside.lstrip("/"), f.read(), os.stat(host).st_mode & 0o777)
    elif spec.endswith("/"):
        info = tarfile.TarInfo(spec.strip("/"))
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
    else:
        sys.exit(f"make_oci_image: {spec}: not PATH=HOST_FILE, PATH->TARGET or PATH/")


def main(argv):
    argv = list(argv)
    process = {}
    while len(argv) > 2 and argv[1] in ("--entrypoint", "--cmd"):
        key = "Entrypoint" if argv[1] == "--entrypoint" else "Cmd"
        process.setdefault(key, []).append(argv[2])
        del argv[1:3]
    if len(argv) < 5:
        sys.exit(__doc__)
    out, name, arch, files = argv[1], argv[2], argv[3], argv[4:]

    layer_buf = io.BytesIO()
    with tarfile.open(fileobj=layer_buf, mode="w", format=tarfile.PAX_FORMAT) as layer:
        for spec in files:
            add_entry(layer, spec)
    layer_digest, layer_data = blob(layer_buf.getvalue())

    config = {
        "architecture": arch,
        "os": "linux",
        "config": {"Env": ["PATH=/"], **process},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    }
    config_digest, config_data = blob(json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(config_data),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": layer_digest,
                "size": len(layer_data),
            }
        ],
    }
    manifest_digest, manifest_data = blob(json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": len(manifest_data),
                "platform": {"architecture": arch, "os": "linux"},
                "annotations": {"io.containerd.image.name": name},
            }
        ],
    }

    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        add(tar, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        add(tar, "index.json", json.dumps(index).encode())
        for digest, data in ((layer_digest, layer_data), (config_digest, config_data),
                             (manifest_digest, manifest_data)):
            add(tar, "blobs/sha256/" + digest.split(":", 1)[1], data)
    print(layer_digest)


if __name__ == "__main__":
    main(sys.argv)
