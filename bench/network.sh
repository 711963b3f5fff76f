#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The guest's network (issue 15; bench/README.md "Network (issue 15)"), in one run:
#   start    `crumble run -- true` against `crumble run --net -- true` and `-p 127.0.0.1:P:80`,
#            each from its snapshot (medians of RUNS, the three interleaved so drift hits all
#            alike), and the cold boots (--no-snapshot, medians of COLD_RUNS): the cost of the
#            network on the start path
#   latency  REQUESTS sequential HTTP GETs of a small file, a new TCP connection each, from the
#            host to busybox httpd in the guest through -p 127.0.0.1:P:80, against the same
#            server (busybox httpd) run on the host as the peer: median and p90
#   bulk     one 64 MiB GET through the published port, and from the host's httpd (MiB/s)
# Usage: bench/network.sh [build dir] (default build); RUNS (default 9), COLD_RUNS (default 3),
# REQUESTS (default 200). Needs the guest kernel (crumble kernel fetch), python3, busybox, curl.
# Only 127.0.0.1 and the guest's user-mode network are used.
set -euo pipefail
build="${1:-build}"
crumble="$(realpath "$build/tools/crumble/crumble")"
runs="${RUNS:-9}"
cold_runs="${COLD_RUNS:-3}"
requests="${REQUESTS:-200}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
snapshots="$work/snapshots"   # snapshots of our own: the warm-up run below saves them

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
now_us() { echo $(( $(date +%s%N) / 1000 )); }

echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(qemu-system-x86_64 --version | head -1)"

# ---- start ---------------------------------------------------------------------------------
port=$(free_port)
plain=("$crumble" run --snapshot-dir "$snapshots" -- true)
net=("$crumble" run --snapshot-dir "$snapshots" --net -- true)
pub=("$crumble" run --snapshot-dir "$snapshots" -p "127.0.0.1:$port:80" -- true)
"${plain[@]}"; "${net[@]}"   # save the two snapshots
: >"$work/plain"; : >"$work/net"; : >"$work/pub"
for _ in $(seq "$runs"); do
  for k in plain net pub; do
    t0=$(now_us)
    case $k in plain) "${plain[@]}";; net) "${net[@]}";; pub) "${pub[@]}";; esac
    t1=$(now_us)
    echo $((t1 - t0)) >>"$work/$k"
  done
done
echo "== start from the snapshot (median of $runs, interleaved)"
for k in plain net pub; do
  case $k in plain) label="crumble run -- true";; net) label="crumble run --net -- true";; pub) label="crumble run -p 127.0.0.1:P:80 -- true";; esac
  printf '%-44s %.3f s\n' "$label" "$(median <"$work/$k" | awk '{print $1 / 1e6}')"
done
: >"$work/cplain"; : >"$work/cnet"
for _ in $(seq "$cold_runs"); do
  t0=$(now_us); "$crumble" run --no-snapshot -- true; t1=$(now_us); echo $((t1 - t0)) >>"$work/cplain"
  t0=$(now_us); "$crumble" run --no-snapshot --net -- true; t1=$(now_us); echo $((t1 - t0)) >>"$work/cnet"
done
echo "== cold boot, no snapshot (median of $cold_runs, interleaved)"
printf '%-44s %.3f s\n' "crumble run --no-snapshot -- true" "$(median <"$work/cplain" | awk '{print $1 / 1e6}')"
printf '%-44s %.3f s\n' "crumble run --no-snapshot --net -- true" "$(median <"$work/cnet" | awk '{print $1 / 1e6}')"

# ---- latency and bulk --------------------------------------------------------------------------
# The host's busybox httpd serves a small file and a 64 MiB one and is measured first, with no VM
# running (on 2 CPUs an idle TCG guest still takes some); then the guest serves the same two
# files with busybox httpd and stays up (sleep) while the host measures it.
mkdir -p "$work/www"
echo hello-from-the-host >"$work/www/small"
dd if=/dev/zero of="$work/www/big" bs=1M count=64 2>/dev/null
host_port=$(free_port)
busybox httpd -f -p "127.0.0.1:$host_port" -h "$work/www" &
host_httpd=$!
pids+=($host_httpd)

cat >"$work/client.py" <<'EOF'
# REQUESTS sequential GETs of /small, each on a new connection (HTTP/1.0): latency in ms.
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
def get():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /small HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
    data = b""
    while True:
        b = s.recv(65536)
        if not b: break
        data += b
    s.close()
    return data
deadline = time.time() + 60
while True:                       # wait for the server (the guest's boots first)
    try:
        if get().split(b"\r\n", 1)[0].split(b" ")[1:2] == [b"200"]: break
    except OSError:
        pass
    if time.time() > deadline: sys.exit("no answer on port %d" % port)
    time.sleep(0.1)
for _ in range(10): get()         # warm-up
t = []
for _ in range(n):
    t0 = time.perf_counter(); d = get(); t.append((time.perf_counter() - t0) * 1000)
    assert d.split(b"\r\n", 1)[0].split(b" ")[1:2] == [b"200"], d[:40]
t.sort()
print("median %.3f ms  p90 %.3f ms  min %.3f ms  max %.3f ms" % (t[len(t) // 2], t[int(len(t) * 0.9)], t[0], t[-1]))
EOF
echo "== $requests sequential HTTP GETs of a 21-byte file, a new connection each (python3 client)"
host_latency=$(python3 "$work/client.py" "$host_port" "$requests")
host_bulk=$(curl -s -o /dev/null -w "%{size_download} %{time_total}\n" "http://127.0.0.1:$host_port/big")
kill "$host_httpd"

guest_port=$(free_port)
"$crumble" run --snapshot-dir "$snapshots" -p "127.0.0.1:$guest_port:80" --timeout 900 -- sh -c \
  'mkdir -p /w && echo hello-from-the-guest > /w/small && dd if=/dev/zero of=/w/big bs=1M count=64 2>/dev/null &&
   httpd -p 80 -h /w && sleep 900' 2>"$work/guest.log" &
pids+=($!)
printf '%-44s %s\n' "guest httpd through -p 127.0.0.1:P:80" "$(python3 "$work/client.py" "$guest_port" "$requests")"
printf '%-44s %s\n' "host busybox httpd (the peer; no VM running)" "$host_latency"
echo "== one GET of 64 MiB (curl)"
curl -s -o /dev/null -w "%{size_download} %{time_total}\n" "http://127.0.0.1:$guest_port/big" |
  awk '{printf "%-44s %.1f MiB/s (%.2f s)\n", "guest httpd through -p", $1 / 1048576 / $2, $2}'
echo "$host_bulk" | awk '{printf "%-44s %.1f MiB/s (%.2f s)\n", "host httpd", $1 / 1048576 / $2, $2}'
