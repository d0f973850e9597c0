#!/usr/bin/env bash
# Installs every Debian package runwasi-cpp needs, idempotently (Debian 12, as root).
# V8 comes from Debian's libnode: `apt-get install libnode-dev` where it works; where a
# non-Debian nodejs is pinned (its node-acorn dependency then cannot be met), the .debs
# are downloaded and extracted into .deps/libnode, and binaries find it through an RPATH.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config git python3
  clang lld libclang-rt-14-dev-wasm32 wasi-libc wabt
  libexpected-dev libfmt-dev libssl-dev libgtest-dev googletest
  # libnode's runtime dependencies (needed by the extracted fallback as well)
  libuv1 libicu72 libc-ares2 libnghttp2-14 libbrotli1 zlib1g
  # containerd shim: protoc + libprotobuf; the .proto files of containerd, cgroups and
  # google.rpc as Debian ships them (src/proto strips their gogoproto options and generates
  # C++ at build time); libFuzzer for the ttrpc frame decoder fuzz test; containerd itself
  # for the end-to-end tests
  protobuf-compiler libprotobuf-dev libclang-rt-14-dev
  golang-github-containerd-containerd-dev golang-github-containerd-cgroups-dev
  golang-github-gogo-googleapis-dev
  # containerd's gRPC API for the containerd client (src/oci): libgrpc++ and the gRPC
  # stub generator for protoc
  libgrpc++-dev protobuf-compiler-grpc
  containerd
  # the e2e tests: ss (iproute2) names the owners of shim sockets
  iproute2
  # shim bootstrap: reads config.json annotations (header-only JSON parser)
  nlohmann-json3-dev
  # oci-tar-builder: the diff_id of a gzip-compressed tar layer
  zlib1g-dev
  # the container sandbox: seccomp profiles; the e2e tests: a busybox image, runc to compare
  libseccomp-dev busybox-static runc
  # Kubernetes (CRI) e2e test: CNI plugins (bridge, host-local, loopback in /usr/lib/cni),
  # the CRI test client's gRPC and protobuf for Debian's python3, jq for its JSON
  containernetworking-plugins python3-grpcio python3-protobuf jq
  gnuplot-nox # bench/report.sh: the SVG plots of docs/benchmarks.md
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_update_once() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
}

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  apt_update_once
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# V8 (libnode 18 / V8 10.2).
# (/usr/include/node alone proves nothing: nodesource's nodejs ships Node 20 headers there.)
if dpkg-query -W -f='${Status}' libnode-dev 2>/dev/null | grep -q 'install ok installed'; then
  :
elif [ -f .deps/libnode/usr/include/node/v8.h ] && [ -e .deps/libnode/usr/lib/x86_64-linux-gnu/libnode.so ]; then
  :
else
  apt_update_once
  if apt-get install -y -qq --no-install-recommends libnode-dev; then
    echo "install-deps: libnode-dev installed from apt"
  else
    echo "install-deps: apt cannot install libnode-dev here (a non-Debian nodejs is pinned?);"
    echo "install-deps: extracting libnode108 + libnode-dev into .deps/libnode"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && chmod 777 . && apt-get download libnode108 libnode-dev)
    rm -rf .deps/libnode
    mkdir -p .deps/libnode
    for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" .deps/libnode; done
  fi
fi
echo "install-deps: all dependencies present"
