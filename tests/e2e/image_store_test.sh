#!/usr/bin/env bash
# Issue 6: Wasm OCI images run from containerd's content store, and the precompile cache
# kept there. A private containerd with CRI; images built by oci-tar-builder in both Wasm
# formats (runwasi's, and the CNCF artifact) and imported `--all-platforms --no-unpack`
# into k8s.io; pods run by cri_client.py as kubelet would. Per shim (v8, wasm2c):
#   1. each format runs (a pod, its container's output in the CRI log, exit code 0): the
#      module comes from the image layer, as the snapshot is empty;
#   2. after the first run the layer carries runwasi.io/precompiled/<engine>/<key id> and
#      the gc.ref to the artifact blob, the manifest the gc.ref, and the blob is in
#      `ctr content ls`; the second run uses it (the shim's log says so);
#   3. removing the blob recompiles (and stores it again); a label naming wrong bytes (the
#      config blob) recompiles and corrects the label;
# then for v8, a changed cache key (RUNWASI_V8_EXTRA_FLAGS, after restarting containerd
# on the same root) recompiles under a new label and drops the old one; a manifest naming
# a missing layer fails StartContainer (the task's Create) naming the layer; removing the
# images (CRI RemoveImage) lets containerd's GC remove every artifact. Nothing is left
# behind (pods, containers, tasks, processes, shims, mounts, cgroups).
# Skips (77) only without root or containerd.
#
# usage: image_store_test.sh SHIM_DIR OCI_TAR_BUILDER MODULES_DIR SCRIPT PAUSE_IMAGE CRI_CLIENT
# Environment: RUNTIMES (a subset of "v8 wasm2c").
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=cri_lib.sh
source "$(dirname "$0")/cri_lib.sh"

[[ $# -eq 6 ]] || fail "usage: $0 SHIM_DIR OCI_TAR_BUILDER MODULES_DIR SCRIPT PAUSE_IMAGE CRI_CLIENT"
shim_dir=$1 tar_builder=$2 modules=$3 script=$4 pause_image=$5 cri_client=$6

require_root_and_containerd
read -r -a runtimes <<<"${RUNTIMES:-v8 wasm2c}"
for rt in "${runtimes[@]}"; do
  [[ -x $shim_dir/containerd-shim-$rt-v1 ]] || fail "$shim_dir/containerd-shim-$rt-v1 is not built"
done
for f in "$tar_builder" "$script" "$cri_client"; do [[ -x $f ]] || fail "$f is missing"; done
for f in "$modules/hello.wasm" "$pause_image"; do [[ -r $f ]] || fail "$f is missing"; done
cri_require_python
# On failure: the shims' log lines and the content store, then containerd stops.
store_diagnose() {
  echo "--- the shims' lines in containerd.log (last 30)"
  grep -a "^runwasi " "$dir/containerd.log" | tail -n 30 || true
  echo "--- ctr content ls"
  c content ls 2>&1 | tail -n 20 || true
}
cri_workspace store store_diagnose

declare -A image=(
  [runwasi]=docker.io/runwasi-e2e/store-runwasi:latest
  [artifact]=docker.io/runwasi-e2e/store-artifact:latest
)
missing_image=docker.io/runwasi-e2e/store-missing-layer:latest
cp "$modules/hello.wasm" "$work/hello.wasm"
# Another module for the missing-layer image, so its layer is not the others' blob.
cp "$modules/exit42.wasm" "$work/exit42.wasm"

step "images: runwasi format and CNCF artifact (hello.wasm), one naming a missing layer"
"$tar_builder" --format runwasi --name "${image[runwasi]}" --module "$work/hello.wasm" \
  -o "$work/runwasi.tar" >/dev/null
"$tar_builder" --as-artifact --name "${image[artifact]}" --module "$work/hello.wasm" \
  -o "$work/artifact.tar" >/dev/null
"$tar_builder" --format runwasi --name "$missing_image" --module "$work/exit42.wasm" \
  -o "$work/missing.tar" >/dev/null

start_store() { start_containerd --path-prepend "$shim_dir" --pause-image "$pause_image"; }
step "start the private containerd (CRI)"
start_store
for f in runwasi artifact missing; do
  c images import --all-platforms --no-unpack "$work/$f.tar" >/dev/null
done

# The digest of IMAGE's manifest and of its first layer (the module).
manifest_of() { c images ls | awk -v n="$1" '$1 == n {print $3}'; }
layer_of() { c content get "$(manifest_of "$1")" | jq -r '.layers[0].digest'; }
config_of() { c content get "$(manifest_of "$1")" | jq -r '.config.digest'; }
# The labels of a blob, as `ctr content ls` prints them (key=value,key=value).
labels_of() { c content ls | awk -v d="$1" '$1 == d {print $NF}'; }
# label_value BLOB KEY_PREFIX: the value of the blob's first label whose key starts so.
label_value() { labels_of "$1" | tr ',' '\n' | awk -F= -v p="$2" '!found && index($1, p) == 1 {print $2; found = 1}'; }
label_key() { labels_of "$1" | tr ',' '\n' | awk -F= -v p="$2" '!found && index($1, p) == 1 {print $1; found = 1}'; }
# (grep without -q: stopping early would SIGPIPE the writer, and pipefail fail the test.)
has_blob() { c content ls -q | grep -x -- "$1" >/dev/null; }

# run_pod NAME IMAGE RT [COMMAND]: a pod of one container from IMAGE under handler RT;
# waits for the container to exit 0 with hello.wasm's line in its CRI log; removes the pod.
# Prints the container id.
run_pod() {
  local name=$1 img=$2 rt=$3 pod_id id log code
  shift 3
  pod_id=$(cri runp "$(pod_config "$name")" --runtime "$rt") || fail "$name: RunPodSandbox failed"
  # No COMMAND: the image's entrypoint applies (an empty command, as kubelet sends it).
  id=$(cri create "$pod_id" "$(container_config "$name" app "$img" 0 "$@")" \
    "$work/$name.pod.json") || fail "$name: CreateContainer failed"
  cri start "$id" >/dev/null || fail "$name: StartContainer failed"
  wait_for 30 is_exited "$id" || fail "$name: the container did not exit: $(status_of "$id")"
  code=$(status_of "$id" | jq -r '.status.exitCode // 0')
  log=$(cat "$work/logs/$name/app.log" 2>/dev/null || true)
  [[ $code == 0 ]] || fail "$name: exit code $code; log: $log"
  [[ $log == *"hello from wasm"* ]] || fail "$name: no output in the CRI log: $log"
  cri stopp "$pod_id" >/dev/null || fail "$name: StopPodSandbox failed"
  cri rmp "$pod_id" >/dev/null || fail "$name: RemovePodSandbox failed"
  echo "$id"
}

# shim_said ID TEXT: the shim's log (copied into containerd's) has TEXT for container ID.
shim_said() { grep -aF -- "$1: " "$dir/containerd.log" | grep -F -- "$2" >/dev/null; }

# What lib.sh's assert_clean checks: the CRI tests' common leftovers.
leftovers() { cri_leftovers; }


n=0
next() { n=$((n + 1)); echo "$1-$n"; }

for rt in "${runtimes[@]}"; do
  for fmt in runwasi artifact; do
    img=${image[$fmt]}
    layer=$(layer_of "$img")
    manifest=$(manifest_of "$img")
    cmd=()
    [[ $fmt == artifact ]] && cmd=(/hello.wasm)  # the artifact's config has no entrypoint

    # Both images hold hello.wasm: one layer blob in the store, so the artifact the first
    # image's run stored serves the second image at once.
    shared=$(label_value "$layer" "runwasi.io/precompiled/$rt/")
    step "$rt/$fmt 1: the first run ${shared:+(a second image of the same layer) }compiles and stores the artifact"
    id=$(run_pod "$(next "$rt-$fmt")" "$img" "$rt" "${cmd[@]}")
    if [[ -n $shared ]]; then
      shim_said "$id" "using the precompiled artifact $shared from the content store" ||
        fail "$rt/$fmt: the artifact $shared stored for the same layer was not used"
    else
      shim_said "$id" "stored as sha256:" || fail "$rt/$fmt: the first run stored no artifact"
    fi
    artifact=$(label_value "$layer" "runwasi.io/precompiled/$rt/")
    [[ $artifact == sha256:* ]] || fail "$rt/$fmt: layer $layer has no precompiled label: $(labels_of "$layer")"
    [[ $(label_value "$layer" "containerd.io/gc.ref.content.runwasi.$rt.") == "$artifact" ]] ||
      fail "$rt/$fmt: layer $layer has no gc.ref to $artifact: $(labels_of "$layer")"
    # The manifest that stored it references it too (the layer's reference alone keeps it
    # for every image of the layer).
    [[ -n $shared || $(label_value "$manifest" "containerd.io/gc.ref.content.runwasi.$rt.") == "$artifact" ]] ||
      fail "$rt/$fmt: manifest $manifest has no gc.ref to $artifact: $(labels_of "$manifest")"
    has_blob "$artifact" || fail "$rt/$fmt: the artifact $artifact is not in ctr content ls"
    echo "$rt/$fmt: layer $layer -> artifact $artifact"

    step "$rt/$fmt 2: the second run uses the stored artifact"
    id=$(run_pod "$(next "$rt-$fmt")" "$img" "$rt" "${cmd[@]}")
    shim_said "$id" "using the precompiled artifact $artifact from the content store" ||
      fail "$rt/$fmt: the second run did not use $artifact"

    step "$rt/$fmt 3: a removed artifact is compiled again"
    c content rm "$artifact" >/dev/null
    ! has_blob "$artifact" || fail "$rt/$fmt: ctr content rm left $artifact"
    id=$(run_pod "$(next "$rt-$fmt")" "$img" "$rt" "${cmd[@]}")
    shim_said "$id" "stored as sha256:" || fail "$rt/$fmt: no recompile after the blob was removed"
    artifact=$(label_value "$layer" "runwasi.io/precompiled/$rt/")
    has_blob "$artifact" || fail "$rt/$fmt: the new artifact $artifact is not stored"

    step "$rt/$fmt 4: a label naming the wrong bytes is compiled again and corrected"
    key=$(label_key "$layer" "runwasi.io/precompiled/$rt/")
    c content label "$layer" "$key=$(config_of "$img")" >/dev/null
    id=$(run_pod "$(next "$rt-$fmt")" "$img" "$rt" "${cmd[@]}")
    shim_said "$id" "stored as sha256:" || fail "$rt/$fmt: no recompile for a label naming wrong bytes"
    grep -qF "not using the stored artifact $(config_of "$img")" "$dir/containerd.log" ||
      fail "$rt/$fmt: the shim did not say why it ignored the labelled blob"
    [[ $(label_value "$layer" "runwasi.io/precompiled/$rt/") == sha256:* &&
      $(label_value "$layer" "runwasi.io/precompiled/$rt/") != "$(config_of "$img")" ]] ||
      fail "$rt/$fmt: the label was not corrected: $(labels_of "$layer")"
    assert_clean "$rt/$fmt"
  done
done

if [[ " ${runtimes[*]} " == *" v8 "* ]]; then
  step "v8: a new cache key (other V8 flags) compiles again under a new label"
  layer=$(layer_of "${image[runwasi]}")
  old_key=$(label_key "$layer" "runwasi.io/precompiled/v8/")
  "$script" stop "$dir" --keep >/dev/null
  # The default stack size: a flag that changes the cache key, not what runs.
  RUNWASI_V8_EXTRA_FLAGS=--stack-size=984 start_store
  id=$(run_pod "$(next v8-key)" "${image[runwasi]}" v8)
  shim_said "$id" "stored as sha256:" || fail "v8: no recompile under the new cache key"
  new_key=$(label_key "$layer" "runwasi.io/precompiled/v8/")
  [[ -n $new_key && $new_key != "$old_key" ]] || fail "v8: the label key did not change ($old_key)"
  ! labels_of "$layer" | tr ',' '\n' | grep "^$old_key=" >/dev/null ||
    fail "v8: the old key's label stayed: $(labels_of "$layer")"
  echo "v8: $old_key -> $new_key"
  "$script" stop "$dir" --keep >/dev/null
  start_store
fi

step "a manifest naming a missing layer: StartContainer (the task's Create) fails naming it"
missing_layer=$(layer_of "$missing_image")
c content rm "$missing_layer" >/dev/null
pod_id=$(cri runp "$(pod_config missing)" --runtime "${runtimes[0]}") || fail "RunPodSandbox failed"
id=$(cri create "$pod_id" "$(container_config missing app "$missing_image" 0)" \
  "$work/missing.pod.json") || fail "CreateContainer failed"
if out=$(cri start "$id" 2>&1); then
  fail "StartContainer of an image without its layer succeeded: $out"
fi
[[ $out == *"$missing_layer"*"not found"* ]] ||
  fail "the error does not say the layer $missing_layer is missing: $out"
echo "error: $out"
cri stopp "$pod_id" >/dev/null
cri rmp "$pod_id" >/dev/null
assert_clean "missing layer"

step "removing the images (CRI RemoveImage) lets containerd's GC remove the artifacts"
mapfile -t artifacts < <(c content ls | awk '$NF ~ /runwasi.io\/precompiled\/engine=/ {print $1}')
((${#artifacts[@]} >= ${#runtimes[@]})) || fail "expected stored artifacts, found: ${artifacts[*]}"
# As kubelet's image GC does: CRI's RemoveImage drops every name (CRI also names each
# image by its config digest), and containerd's GC then runs.
for img in "${image[@]}" "$missing_image"; do cri rmi "$img" || fail "RemoveImage $img failed"; done
# CRI deletes the last name synchronously (the GC has run); allow it a moment all the same.
artifacts_gone() {
  local a
  for a in "${artifacts[@]}"; do ! has_blob "$a" || return 1; done
}
wait_for 10 artifacts_gone || true
for a in "${artifacts[@]}"; do
  ! has_blob "$a" || fail "the artifact $a outlived its image: $(labels_of "$a"); images: $(c images ls -q)"
done
echo "GC removed ${#artifacts[@]} artifact(s)"
assert_clean "end"
echo "PASS"
