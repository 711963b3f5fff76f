#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Whole-process figures for containers (bench/README.md §12), side by side in one run:
#   start    `crumble run --image busybox -- true` from the container snapshot (its first, untimed
#            run saves it) and without it, `crumble run -- true`, and
#            `podman run --rm` of the same image with runc and crun (medians of N runs)
#   unpack   the first run of a new ~100 MB image (unpack + root image build + run)
#   io       file I/O in the container root, in a volume, and on the host: sequential read of
#            200 MiB, creating 10,000 small files, stat of 10,000 files
# Usage: bench/container.sh [build dir] (default build); RUNS=N (default 9); ONLY="start unpack io"
# (the default) picks sections. Needs root, podman,
# umoci, skopeo and the guest kernel (crumble kernel fetch).
set -euo pipefail
build="${1:-build}"
crumble="$(realpath "$build/tools/crumble/crumble")"
runs="${RUNS:-9}"
only=" ${ONLY:-start unpack io} "
work="$(mktemp -d)"
trap 'rm -rf "$work"; podman rmi -f crumble-bench-busybox >/dev/null 2>&1 || true' EXIT
export XDG_CACHE_HOME="$work/cache"   # a cache of our own: the first run below is a real first run
mkdir -p "$XDG_CACHE_HOME/crumble"
ln -s "$HOME/.cache/crumble/kernels" "$XDG_CACHE_HOME/crumble/kernels"

# The same busybox image for everyone: a rootfs tarball, imported by podman and turned into an
# OCI archive by skopeo (podman save's own formats are what users have).
mkdir -p "$work/root/bin"
cp /bin/busybox "$work/root/bin/"
for a in sh true ls cat echo id dd find stat touch mkdir; do ln -s busybox "$work/root/bin/$a"; done
tar -C "$work/root" -cf "$work/root.tar" .
podman import -q "$work/root.tar" crumble-bench-busybox >/dev/null
podman save -q --format oci-archive -o "$work/busybox.oci.tar" crumble-bench-busybox

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
show() { printf '%-44s %.3f s (median of %d)\n' "$1" "$2" "$runs"; }
median_of() {
  local name="$1"; shift
  if ! "$@" >/dev/null 2>"$work/err"; then
    printf '%-44s failed here: %s\n' "$name" "$(tail -1 "$work/err")"; return 0
  fi
  local m
  m=$(for _ in $(seq "$runs"); do
    t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000 ))
  done | median)
  show "$name" "$(echo "$m / 1000000" | bc -l)"
}

if [[ "$only" == *" start "* ]]; then
echo "== start: /bin/true ($(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
ulimits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
median_of "crumble run --image busybox -- true" "$crumble" run --image "$work/busybox.oci.tar" -- true
median_of "  the same, --no-container-snapshot" "$crumble" run --no-container-snapshot --image "$work/busybox.oci.tar" -- true
median_of "crumble run -- true (no container)" "$crumble" run -- true
median_of "podman run --rm (runc)" podman run --rm "${ulimits[@]}" --runtime runc crumble-bench-busybox /bin/true
median_of "podman run --rm (crun)" podman run --rm "${ulimits[@]}" --runtime crun crumble-bench-busybox /bin/true

fi
if [[ "$only" == *" unpack "* ]]; then
echo "== first run of a new ~100 MB image (unpack + root image build + run)"
mkdir -p "$work/big"
cp -a "$work/root/." "$work/big/"
mkdir -p "$work/big/usr/lib"
# real files of mixed sizes: Python's standard library
cp -a /usr/lib/python3* "$work/big/usr/lib/"   # ~96 MB, 4,800 files
du -sm "$work/big" | awk '{print "   root: " $1 " MiB"}'

umoci init --layout "$work/big-oci" && umoci new --image "$work/big-oci:t"
umoci unpack --image "$work/big-oci:t" "$work/big-bundle" >/dev/null
rm -rf "$work/big-bundle/rootfs" && mv "$work/big" "$work/big-bundle/rootfs"
umoci repack --image "$work/big-oci:t" "$work/big-bundle" >/dev/null
t0=$(date +%s%N)
"$crumble" run --image "$work/big-oci" -- true
t1=$(date +%s%N)
show "first run (unpack + build + run)" "$(echo "($t1 - $t0) / 1000000000" | bc -l)"
median_of "second run (cached root image)" "$crumble" run --image "$work/big-oci" -- true

fi
if [[ "$only" == *" io "* ]]; then
echo "== file I/O: in the container root (erofs + overlay), in a volume (virtio-fs), on the host"
dd if=/dev/urandom of="$work/root/data200" bs=1M count=200 status=none
mkdir -p "$work/vol"
cp "$work/root/data200" "$work/vol/data200"
io() {  # io NAME DIR RUNPREFIX...: three timings inside one run
  local name="$1" dir="$2"; shift 2
  "$@" sh -c "
    t() { s=\$(cat /proc/uptime | cut -d' ' -f1); \"\$@\" >/dev/null 2>&1; e=\$(cat /proc/uptime | cut -d' ' -f1); echo \"\$s \$e\"; }
    mkdir -p $dir/many
    echo read \$(t dd if=$dir/data200 of=/dev/null bs=1M)
    echo create \$(t sh -c 'i=0; while [ \$i -lt 10000 ]; do : > $dir/many/f\$i; i=\$((i+1)); done')
    echo stat \$(t find $dir/many -type f -exec stat -c %s {} +)
  " | awk -v n="$name" '{printf "   %-10s %-8s %.2f s\n", n, $1, $3 - $2}'
}
io "root" "" "$crumble" run --memory 512 --rootfs "$work/root" --
io "volume" "/vol" "$crumble" run -v "$work/vol:/vol" --rootfs "$work/root" --
io "host" "$work/vol" env
fi
