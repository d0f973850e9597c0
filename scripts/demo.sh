#!/usr/bin/env bash
# The main job: builds the shims and the demo image, starts a private containerd (under a
# temporary directory, with our shims on its PATH), imports the image, runs the demo
# workload with `ctr run` on each engine's shim, shows the output and exit statuses, and
# stops containerd again, leaving nothing behind.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)" \
  --target containerd-shim-v8-v1 containerd-shim-wasm2c-v1 oci-tar-builder wasi_demo_app

build=$PWD/build
image=docker.io/runwasi/wasi-demo-app:latest
work=$(mktemp -d /tmp/runwasi-demo.XXXXXX)
stop() { scripts/containerd-private.sh stop "$work" >/dev/null 2>&1 || true; }
trap stop EXIT

"$build/tools/containerd-shim-v8-v1" -v
eval "$(scripts/containerd-private.sh start "$work" --path-prepend "$build/tools")"
ctr() { command ctr --address "$CONTAINERD_ADDRESS" "$@"; }

"$build/tools/oci-tar-builder" --name "$image" --module "$build/demo/wasi-demo-app.wasm" \
  -o "$work/wasi-demo-app.tar"
ctr images import "$work/wasi-demo-app.tar"

run() {  # run ENGINE ID ARGS...: ctr run --rm, then the exit status
  local engine=$1 id=$2 status=0
  shift 2
  echo "\$ ctr run --rm --runtime io.containerd.$engine.v1 $image $id $*"
  ctr run --rm --fifo-dir "$work/fifo" --runtime "io.containerd.$engine.v1" "$image" "$id" "$@" ||
    status=$?
  echo "(exit status $status)"
}

for engine in v8 wasm2c; do
  echo
  echo "== io.containerd.$engine.v1"
  run "$engine" "demo-$engine-echo" /wasi-demo-app.wasm echo "hello from wasi-demo-app on $engine"
  run "$engine" "demo-$engine-exit" /wasi-demo-app.wasm exit 7
  # The default command, `daemon`, prints a verse every second until it is stopped; its
  # output goes to a log file (ctr run --log-uri file://...).
  id=demo-$engine-daemon
  echo "\$ ctr run -d --log-uri file://$work/$id.log ... $id; ctr task ls; ctr task kill $id"
  ctr run -d --log-uri "file://$work/$id.log" --runtime "io.containerd.$engine.v1" "$image" "$id"
  sleep 2.5
  ctr task ls
  ctr task kill "$id"
  sleep 0.5
  ctr task ls
  ctr task delete "$id" || true
  ctr containers rm "$id"
  echo "--- $id.log"
  cat "$work/$id.log"
done
