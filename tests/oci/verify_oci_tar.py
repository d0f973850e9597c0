#!/usr/bin/env python3
"""Checks an OCI image layout tarball independently of our C++ code, then prints its facts.

Every descriptor must name a blob under blobs/sha256/ whose sha256 and size match. An image
config's diff_ids must be the sha256 of each tar layer's uncompressed content, in order
(Wasm and other layers have none); a config's layerDigests, when present, must list every
layer's digest. Prints one fact per line (`key=value`, values as JSON) and one line per
file of a tar layer and per module layer, for the test to compare; exits 1 with the reason
otherwise.
"""
import gzip
import hashlib
import io
import json
import sys
import tarfile

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
ARTIFACT_CONFIG = "application/vnd.wasm.config.v0+json"  # the CNCF Wasm artifact
TAR_LAYERS = {
    "application/vnd.oci.image.layer.v1.tar": lambda blob: blob,
    "application/vnd.oci.image.layer.v1.tar+gzip": gzip.decompress,
}
WASM_LAYERS = {
    "application/vnd.bytecodealliance.wasm.component.layer.v0+wasm",
    "application/wasm",
}


def fail(message):
    print(f"verify_oci_tar: {message}", file=sys.stderr)
    sys.exit(1)


def members(data):
    """name -> (TarInfo, bytes); every header's checksum is checked by tarfile."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for info in tar.getmembers():
            if info.name in out:
                fail(f"duplicate entry {info.name}")
            body = tar.extractfile(info).read() if info.isfile() else b""
            out[info.name] = (info, body)
    return out


def blob(entries, desc, media_types):
    if desc.get("mediaType") not in media_types:
        fail(f"descriptor {desc} is not one of {sorted(media_types)}")
    algo, _, hexdigest = desc["digest"].partition(":")
    if algo != "sha256":
        fail(f"digest {desc['digest']} is not sha256")
    name = f"blobs/sha256/{hexdigest}"
    if name not in entries:
        fail(f"missing blob {name}")
    body = entries[name][1]
    if hashlib.sha256(body).hexdigest() != hexdigest:
        fail(f"{name}: content does not match its digest")
    if len(body) != desc["size"]:
        fail(f"{name}: size {len(body)}, descriptor says {desc['size']}")
    return body


def describe_tar(layer, files):
    for name, (info, body) in members(layer).items():
        kind = "dir" if info.isdir() else "file" if info.isfile() else "other"
        files.append(f"{kind} {name} mode={info.mode:04o} uid={info.uid} gid={info.gid} "
                     f"mtime={info.mtime} size={info.size} "
                     f"sha256={hashlib.sha256(body).hexdigest() if info.isfile() else '-'}")


def main(path):
    with open(path, "rb") as f:
        entries = members(f.read())
    for name, (info, _) in entries.items():
        if info.uid or info.gid or info.mtime:
            fail(f"{name}: uid/gid/mtime not 0")
    layout = json.loads(entries["oci-layout"][1])
    if layout != {"imageLayoutVersion": "1.0.0"}:
        fail(f"oci-layout is {layout}")
    index = json.loads(entries["index.json"][1])
    if index.get("schemaVersion") != 2 or len(index["manifests"]) != 1:
        fail(f"index.json: {index}")
    top = index["manifests"][0]
    manifest = json.loads(blob(entries, top, {MANIFEST}))
    if manifest.get("schemaVersion") != 2 or manifest.get("mediaType") != MANIFEST:
        fail(f"manifest: {manifest}")
    config = json.loads(blob(entries, manifest["config"], {IMAGE_CONFIG, ARTIFACT_CONFIG}))
    diff_ids, files = [], []
    for desc in manifest["layers"]:
        layer = blob(entries, desc, {desc.get("mediaType")})
        if desc["mediaType"] in TAR_LAYERS:
            tar = TAR_LAYERS[desc["mediaType"]](layer)
            diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
            describe_tar(tar, files)
        elif desc["mediaType"] in WASM_LAYERS:
            if layer[:4] != b"\0asm":
                fail(f"layer {desc['digest']} is not a WebAssembly module")
            title = desc.get("annotations", {}).get("org.opencontainers.image.title")
            files.append(f"wasm {title} size={len(layer)} "
                         f"sha256={hashlib.sha256(layer).hexdigest()}")
    if manifest["config"]["mediaType"] == IMAGE_CONFIG:
        if config.get("rootfs") != {"type": "layers", "diff_ids": diff_ids}:
            fail(f"config rootfs {config.get('rootfs')}, tar layers hash to {diff_ids}")
    layer_digests = [d["digest"] for d in manifest["layers"]]
    if "layerDigests" in config and config["layerDigests"] != layer_digests:
        fail(f"config layerDigests {config['layerDigests']}, layers are {layer_digests}")
    referenced = {"oci-layout", "index.json", "blobs", "blobs/sha256"}
    referenced |= {f"blobs/sha256/{d['digest'][7:]}"
                   for d in [top, manifest["config"], *manifest["layers"]]}
    if set(entries) != referenced:
        fail(f"unexpected entries {sorted(set(entries) - referenced)}")

    facts = {
        "entries": [name for name in entries],
        "name": top["annotations"]["io.containerd.image.name"],
        "ref": top["annotations"]["org.opencontainers.image.ref.name"],
        "platform": top.get("platform"),
        "manifest": top["digest"],
        "config": manifest["config"]["digest"],
        "config_media_type": manifest["config"]["mediaType"],
        "layers": layer_digests,
        "layer_media_types": [d["mediaType"] for d in manifest["layers"]],
        "diff_ids": config.get("rootfs", {}).get("diff_ids"),
        "layer_digests": config.get("layerDigests"),
        "architecture": config["architecture"],
        "os": config["os"],
        "created": config.get("created"),
        "entrypoint": config.get("config", {}).get("Entrypoint"),
        "cmd": config.get("config", {}).get("Cmd"),
    }
    for key, value in facts.items():
        print(f"{key}={json.dumps(value, sort_keys=True)}")
    for line in files:
        print(line)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        fail("usage: verify_oci_tar.py IMAGE.tar")
    main(sys.argv[1])
