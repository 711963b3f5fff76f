#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Whole-process figures for interactive runs (bench/README.md §13), side by side in one run:
#   stdout  MiB/s of N MiB of a command's stdout through crumble into /dev/null (the time of
#           `crumble run -- true` taken off), against the same bytes through a pipe on the host,
#           through a pipe inside the guest (the emulated guest's own ceiling), and podman run (runc)
#   stdin   MiB/s of N MiB of crumble's stdin into `cat > /dev/null` in the guest (-i), against
#           the same on the host and podman run -i (runc) (busybox wc reads in small pieces: under
#           emulation it, not the stream, would be measured)
#   echo    keystroke echo latency under -t: a byte written to crumble's terminal until the
#           guest's pty echoes it back (cat on a pty), against cat on a local pty and podman run -it
# Usage: bench/interactive.sh [build dir] (default build); MIB=N (default 256); KEYS=N (default 200).
# Needs root, podman, python3 and the guest kernel (crumble kernel fetch).
set -euo pipefail
build="${1:-build}"
crumble="$(realpath "$build/tools/crumble/crumble")"
mib="${MIB:-256}"
keys="${KEYS:-200}"
work="$(mktemp -d)"
trap 'rm -rf "$work"; podman rmi -f crumble-bench-busybox >/dev/null 2>&1 || true' EXIT
ulimits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
mkdir -p "$work/root/bin"
cp /bin/busybox "$work/root/bin/"
for a in sh true cat dd wc; do ln -s busybox "$work/root/bin/$a"; done
tar -C "$work/root" -cf "$work/root.tar" .
podman import -q "$work/root.tar" crumble-bench-busybox >/dev/null

secs() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo "($t1 - $t0) / 1000000000" | bc -l; }
rate() { printf '%-52s %7.1f MiB/s  (%.2f s)\n' "$1" "$(echo "$mib / $2" | bc -l)" "$2"; }
dd_cmd=(dd if=/dev/zero bs=1048576 count="$mib")

echo "== stdout: $mib MiB ($(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
"$crumble" run -- true  # the snapshot exists before anything is timed
start=$(secs "$crumble" run -- true)
printf '%-52s %.3f s (taken off the crumble figures)\n' "crumble run -- true" "$start"
t=$(secs "$crumble" run -- "${dd_cmd[@]}"); rate "crumble run -- dd ... > /dev/null" "$(echo "$t - $start" | bc -l)"
inner=$("$crumble" run -- sh -c "s=\$(cut -d' ' -f1 /proc/uptime); ${dd_cmd[*]} 2>/dev/null | cat > /dev/null; e=\$(cut -d' ' -f1 /proc/uptime); awk \"BEGIN{print \$e - \$s}\"")
rate "inside the guest: dd | cat (the guest's pipe)" "$inner"
t=$(secs sh -c "${dd_cmd[*]} 2>/dev/null | cat > /dev/null"); rate "host: dd | cat" "$t"
if podman run --rm "${ulimits[@]}" --runtime runc crumble-bench-busybox true >/dev/null 2>&1; then
  p0=$(secs podman run --rm "${ulimits[@]}" --runtime runc crumble-bench-busybox true)
  t=$(secs podman run --rm "${ulimits[@]}" --runtime runc crumble-bench-busybox "${dd_cmd[@]}")
  rate "podman run (runc) -- dd ... > /dev/null" "$(echo "$t - $p0" | bc -l)"
else
  echo "podman run (runc): failed here"
fi

echo "== stdin: $mib MiB"
head -c "$((mib << 20))" /dev/zero > "$work/in"
t=$(secs sh -c "'$crumble' run -i -- sh -c 'cat > /dev/null' < '$work/in'"); rate "crumble run -i -- cat > /dev/null < file" "$(echo "$t - $start" | bc -l)"
t=$(secs sh -c "cat < '$work/in' | cat > /dev/null"); rate "host: cat < file | cat > /dev/null" "$t"
if [[ -n "${p0:-}" ]]; then
  t=$(secs sh -c "podman run --rm -i ${ulimits[*]} --runtime runc crumble-bench-busybox sh -c 'cat > /dev/null' < '$work/in'")
  rate "podman run -i (runc) -- cat > /dev/null < file" "$(echo "$t - $p0" | bc -l)"
fi

echo "== keystroke echo under a terminal: $keys keys, one at a time"
cat > "$work/echo.py" <<'EOF'
import os, pty, sys, time, select
def measure(argv, keys):
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    def read_until(token, limit):
        buf, end = b"", time.time() + limit
        while token not in buf:
            r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
            if not r:
                raise SystemExit("no %r from %s" % (token, argv))
            buf += os.read(fd, 65536)
        return buf
    os.write(fd, b"echo READY\r")
    read_until(b"READY\r\n", 60)
    os.write(fd, b"exec cat\r")
    time.sleep(1)
    try:
        while select.select([fd], [], [], 0.2)[0]:
            os.read(fd, 65536)
    except OSError:
        pass
    lat = []
    for _ in range(keys):
        t0 = time.perf_counter()
        os.write(fd, b"x")
        read_until(b"x", 10)
        lat.append((time.perf_counter() - t0) * 1000)
    os.write(fd, b"\x04")
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    lat.sort()
    return lat[len(lat) // 2], lat[int(len(lat) * 0.9)]
name, keys, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
med, p90 = measure(argv, keys)
print("%-52s median %.2f ms, p90 %.2f ms" % (name, med, p90))
EOF
python3 "$work/echo.py" "crumble run -it -- sh" "$keys" "$crumble" run -it -- sh
python3 "$work/echo.py" "local pty: sh" "$keys" sh
if [[ -n "${p0:-}" ]]; then
  python3 "$work/echo.py" "podman run -it (runc) -- sh" "$keys" podman run --rm -it "${ulimits[@]}" --runtime runc crumble-bench-busybox sh || true
fi
