#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Whole-process figures for crumble-runtime (bench/README.md §15), side by side in one run:
#   podman     `podman run --rm IMG true` with crumble-runtime, runc and crun, RUNS runs each,
#              interleaved by runtime, median in ms
#   containerd `ctr run --rm IMG true` (a private containerd, the runc shim v2 with --runc-binary)
#              with crumble-runtime and runc, the same way
#   concurrent N at once (default 20), with crumble-runtime and runc: `podman run --rm IMG true`
#              all started together, the wall time until the last exits; then `ctr run -d IMG
#              sleep 1000`, the wall time until all are RUNNING and host memory while they run: Pss
#              and Rss (/proc/PID/smaps_rollup) of each shim and every process under it (crumble-
#              runtime's monitor and its QEMU; runc's container process), summed by process name.
#              Pss shares the pages several processes map (QEMU's binary and libraries, the
#              snapshot's memory file in the page cache) among them; Rss counts them in each.
# Usage: bench/oci.sh [build dir] (default build); RUNS=N (default 7); N=containers (default 20);
#        PARTS="podman ctr concurrent" (the default: all three) picks parts.
# Needs root, podman, containerd and the guest kernel (crumble kernel fetch). Uses a private podman
# store and a private containerd; the crumble cache is the user's (its snapshot is reused).
set -euo pipefail
build="${1:-build}"
runtime="$(realpath "$build/tools/crumble-runtime/crumble-runtime")"
runs="${RUNS:-7}"
n="${N:-20}"
parts=" ${PARTS:-podman ctr concurrent} "
work="$(mktemp -d)"
podman=(podman --root "$work/storage" --runroot "$work/run")
ctr=(ctr --address "$work/containerd.sock" --connect-timeout 5s)
ulimits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
# Kills and removes every task and container of the private containerd.
remove_tasks() {
  local ids; ids=$("${ctr[@]}" task ls -q 2>/dev/null || true)
  for id in $ids; do "${ctr[@]}" task kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
  for id in $ids; do
    for _ in $(seq 100); do "${ctr[@]}" task delete "$id" >/dev/null 2>&1 && break; sleep 0.1; done
  done
  for id in $("${ctr[@]}" container ls -q 2>/dev/null || true); do "${ctr[@]}" container rm "$id" >/dev/null 2>&1 || true; done
}
cleanup() {
  if [[ -n "${containerd_pid:-}" ]]; then
    remove_tasks
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

if [[ "$parts" == *" podman "* ]]; then
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
fi

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

if [[ "$parts" == *" ctr "* ]]; then
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
fi

if [[ "$parts" == *" concurrent "* ]]; then
# Every process of the containers: each shim (the runc shim v2, one per container) and everything
# under it (crumble-runtime's monitor and its QEMU; runc's container process), as "pid ..." lines.
container_pids() {
  local shims; shims=$(pgrep -f "containerd-shim-runc-v2 .*-address $work/containerd.sock" || true)
  [[ -n "$shims" ]] || return 0
  ps -e -o pid=,ppid= | awk -v roots="$shims" '
    BEGIN { split(roots, r, /[ \n]+/); for (i in r) if (r[i] != "") keep[r[i]] = 1 }
    { parent[$1] = $2 }
    END { do { grew = 0; for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; grew = 1 } } while (grew);
          for (p in keep) print p }'
}
# kB of a field (Pss, Rss) of smaps_rollup summed over pids read from stdin, by process name.
memory_by_name() {
  local field=$1 p name v
  while read -r p; do
    name=$(cat "/proc/$p/comm" 2>/dev/null) || continue
    v=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null) || continue
    echo "$name ${v:-0}"
  done | awk '{s[$1] += $2; c[$1]++} END {for (k in s) printf "%s %d %d\n", k, c[k], s[k]}' | sort
}

echo "== $n at once: podman run --rm IMG true, all started together; wall time until the last exits, ms"
for r in "$runtime" runc; do
  pids=()
  t0=$(date +%s%N)
  for i in $(seq "$n"); do "${podman[@]}" run --rm "${ulimits[@]}" --runtime "$r" localhost/crumble-bench true >/dev/null 2>"$work/podman-$i.err" & pids+=($!); done
  failed=0
  for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done  # only these: containerd is a child too
  t1=$(date +%s%N)
  printf '%-16s %d ms for %d (%d failed)\n' "$(basename "$r")" $(((t1 - t0) / 1000000)) "$n" "$failed"
  ((failed == 0)) || { echo "  first error:"; cat "$work"/podman-*.err | grep . | head -3 | sed 's/^/  /'; }
done

echo "== $n at once: ctr run -d IMG sleep 1000 (private containerd), until all RUNNING; host memory while they run"
echo "   (smaps_rollup of every process under each container's shim, and the shims, summed by process name: count, MiB)"
for r in "$runtime" runc; do
  tag=$(basename "$r" | tr -dc a-z)
  pids=()
  t0=$(date +%s%N)
  for i in $(seq "$n"); do "${ctr[@]}" run -d --runc-binary "$r" "$image" "$tag$i" sleep 1000 >/dev/null 2>"$work/ctr-$i.err" & pids+=($!); done
  failed=0
  for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
  running=0
  until running=$("${ctr[@]}" task ls 2>/dev/null | grep -c RUNNING || true); ((running >= n - failed)); do
    kill -0 "$containerd_pid" 2>/dev/null || { echo "containerd exited (see $work/containerd.log)"; tail -5 "$work/containerd.log"; break; }
    (( ($(date +%s%N) - t0) / 1000000000 < 300 )) || { echo "not all running after 300 s"; break; }
    sleep 0.05
  done
  t1=$(date +%s%N)
  printf '%-16s %d of %d RUNNING after %d ms (%d ctr runs failed)\n' "$(basename "$r")" "$running" "$n" $(((t1 - t0) / 1000000)) "$failed"
  ((failed == 0)) || { echo "  first error:"; cat "$work"/ctr-*.err | grep . | head -3 | sed 's/^/  /'; }
  container_pids > "$work/pids"
  for field in Pss Rss; do
    memory_by_name "$field" < "$work/pids" | awk -v f="$field" -v n="$running" '
      {printf "   %s %-26s x%-3d %7.1f MiB\n", f, $1, $2, $3 / 1024; all += $3}
      END {printf "   %s all                        %7.1f MiB, %.1f MiB per running container\n", f, all / 1024, n ? all / 1024 / n : 0}'
  done
  free -m | sed -n 2p | awk '{printf "   host: %d MiB used, %d MiB available\n", $3, $7}'
  remove_tasks
done
fi
