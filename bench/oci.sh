#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Whole-process figures for crumble-runtime (bench/README.md §15), side by side in one run:
#   podman     `podman run --rm IMG true` with crumble-runtime, runc and crun, RUNS runs each,
#              interleaved by runtime, median in ms
#   containerd `ctr run --rm IMG true` (a private containerd, the runc shim v2 with --runc-binary)
#              with crumble-runtime and runc, the same way
#   20 at once N containers (`ctr run -d ... sleep 1000`) started concurrently with crumble-runtime:
#              the wall time until all are RUNNING, and host memory per container while they run
#              (the sum of the Pss of every QEMU and crumble-runtime monitor, /proc/PID/smaps_rollup,
#              divided by N; Pss shares the kernel's and the snapshot's pages fairly)
# Usage: bench/oci.sh [build dir] (default build); RUNS=N (default 7); N=containers (default 20).
# Needs root, podman, containerd and the guest kernel (crumble kernel fetch). Uses a private podman
# store and a private containerd; the crumble cache is the user's (its snapshot is reused).
set -euo pipefail
build="${1:-build}"
runtime="$(realpath "$build/tools/crumble-runtime/crumble-runtime")"
runs="${RUNS:-7}"
n="${N:-20}"
work="$(mktemp -d)"
podman=(podman --root "$work/storage" --runroot "$work/run")
ctr=(ctr --address "$work/containerd.sock" --connect-timeout 5s)
ulimits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
cleanup() {
  if [[ -n "${containerd_pid:-}" ]]; then
    for i in $(seq "$n"); do "${ctr[@]}" task kill -s SIGKILL "c$i" >/dev/null 2>&1 || true; done
    sleep 1
    for i in $(seq "$n"); do "${ctr[@]}" task delete "c$i" >/dev/null 2>&1 || true; "${ctr[@]}" container rm "c$i" >/dev/null 2>&1 || true; done
    kill "$containerd_pid" 2>/dev/null || true
    wait "$containerd_pid" 2>/dev/null || true
  fi
  "${podman[@]}" rmi -f localhost/crumble-bench >/dev/null 2>&1 || true
  grep -o " $work[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/image/bin"
cp /bin/busybox "$work/image/bin/"
for a in sh true sleep; do ln -s busybox "$work/image/bin/$a"; done
tar -C "$work/image" -cf "$work/image.tar" .
"${podman[@]}" import -q "$work/image.tar" localhost/crumble-bench >/dev/null
"${podman[@]}" save -q --format oci-archive -o "$work/image.oci.tar" localhost/crumble-bench

ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1 || return 1; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR + 1) / 2)] : "-")}'; }

echo "== podman run --rm IMG true ($(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $runs runs, ms"
declare -A times
for r in "$runtime" runc crun; do "${podman[@]}" run --rm "${ulimits[@]}" --runtime "$r" localhost/crumble-bench true >/dev/null 2>&1 || times[$r]="failed"; done
for _ in $(seq "$runs"); do
  for r in "$runtime" runc crun; do
    [[ "${times[$r]:-}" == failed* ]] && continue
    times[$r]+=" $(ms "${podman[@]}" run --rm "${ulimits[@]}" --runtime "$r" localhost/crumble-bench true || echo failed)"
  done
done
for r in "$runtime" runc crun; do printf '%-16s %-48s median %s\n' "$(basename "$r")" "${times[$r]}" "$(echo "${times[$r]}" | median)"; done

cat > "$work/config.toml" <<EOF
version = 2
root = "$work/containerd-root"
state = "$work/containerd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$work/containerd.sock"
[ttrpc]
  address = "$work/containerd.sock.ttrpc"
EOF
containerd --config "$work/config.toml" >"$work/containerd.log" 2>&1 &
containerd_pid=$!
for _ in $(seq 100); do "${ctr[@]}" version >/dev/null 2>&1 && break; sleep 0.1; done
"${ctr[@]}" image import "$work/image.oci.tar" >/dev/null
image=localhost/crumble-bench:latest

echo "== ctr run --rm IMG true (private containerd 1.6, runc shim v2), $runs runs, ms"
declare -A ctimes
k=0
for _ in $(seq "$runs"); do
  for r in "$runtime" runc; do
    k=$((k + 1))
    ctimes[$r]+=" $(ms "${ctr[@]}" run --rm --runc-binary "$r" "$image" "t$k" true || echo failed)"
  done
done
for r in "$runtime" runc; do printf '%-16s %-48s median %s\n' "$(basename "$r")" "${ctimes[$r]}" "$(echo "${ctimes[$r]}" | median)"; done

echo "== $n containers started at once (ctr run -d ... sleep 1000, crumble-runtime)"
t0=$(date +%s%N)
for i in $(seq "$n"); do "${ctr[@]}" run -d --runc-binary "$runtime" "$image" "c$i" sleep 1000 >/dev/null 2>&1 & done
wait
until [[ "$("${ctr[@]}" task ls 2>/dev/null | grep -c RUNNING)" -ge "$n" ]]; do
  kill -0 "$containerd_pid" 2>/dev/null || { echo "containerd exited (see $work/containerd.log)"; tail -5 "$work/containerd.log"; break; }
  sleep 0.05
  (( ($(date +%s%N) - t0) / 1000000000 < 300 )) || { echo "not all running after 300 s"; break; }
done
t1=$(date +%s%N)
pss=0
for p in $(pgrep -f "qemu-system-x86_64 .*crumble" || true) $(pgrep -f "$runtime" || true); do
  v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
  pss=$((pss + ${v:-0}))
done
printf 'all %d RUNNING after %d ms; host memory: %d MiB in all, %d MiB per container (Pss)\n' \
  "$n" $(((t1 - t0) / 1000000)) $((pss / 1024)) $((pss / 1024 / n))
free -m | sed -n 1,2p
