#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# compile_time.sh — wall time and peak memory of compiling a ~500-statement init-like program
# assembled in constexpr (bench/compile_time/init500.cpp), against the same file without the
# constexpr assembly (the baseline: the cost of the headers and the program text).
#
#   bench/compile_time.sh            # all configurations below, one compile each
#   REPEAT=3 bench/compile_time.sh   # best of 3 per configuration (the machine is shared)
#   CXX=g++-12 bench/compile_time.sh
#   CXX=clang++-19 bench/compile_time.sh   # Clang: its step limit instead of GCC's op limit
#   ARCH=riscv64 bench/compile_time.sh   # another target (a directory of include/crumble/arch)
#
# Each configuration is compiled with GCC's default constexpr limits first. If that fails
# (GCC's -fconstexpr-ops-limit, 2^25 operations per constant expression by default, is what
# init500 exceeds), the row says so and is timed again with -fconstexpr-ops-limit=2^31 so the
# cost is still known. The statement count is that of the program actually assembled. Clang
# bounds constant evaluation by -fconstexpr-steps (about a million by default) instead: a row
# over it is timed again with -fconstexpr-steps=2^31.
set -euo pipefail
cd "$(dirname "$0")/.."
CXX="${CXX:-g++}"
REPEAT="${REPEAT:-1}"
ARCH="${ARCH:-amd64}"
src=bench/compile_time/init500.cpp
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags=(-std=c++20 -O2 -I include -DCRUMBLE_CT_ARCH="$ARCH" -c "$src" -o "$tmp/init500.o")

# measure() and row(): bench/compile_time/rows.sh; row() asks count() for its second column.
source bench/compile_time/rows.sh

# Statement count of the program a configuration assembles (run-time build of the same file).
count() {
  local defs=()
  for a in "$@"; do [[ "$a" == -D* ]] && defs+=("$a"); done
  "$CXX" -std=c++20 -O2 -I include -DCRUMBLE_CT_ARCH="$ARCH" -DCRUMBLE_CT_MAIN "${defs[@]}" -DCRUMBLE_CT_MODE=0 "$src" \
    -o "$tmp/count" 2>/dev/null &&
    "$tmp/count" | awk '{print $1}'
}

echo "# compile_time.sh, target $ARCH: $("$CXX" --version | head -1), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| configuration | statements | wall s | user s | wall vs baseline | peak MB | note |"
echo "|---|---|---|---|---|---|---|"
base_s=""
row "baseline: headers + program text, no constant evaluation (MODE=0)" -DCRUMBLE_CT_MODE=0
base_s=$row_best
row "build the Program in constexpr only (MODE=1)" -DCRUMBLE_CT_MODE=1
row "**assemble, constexpr overload (MODE=2, the real use)**" -DCRUMBLE_CT_MODE=2
row "one run-time-form assemble() in a constant expression (MODE=3)" -DCRUMBLE_CT_MODE=3
row "assemble, no Printf (status lines as write of a constant) (PRINTF=0)" -DCRUMBLE_CT_MODE=2 -DCRUMBLE_CT_PRINTF=0
row "assemble, no embedded strings except printf formats (STRINGS=0)" -DCRUMBLE_CT_MODE=2 -DCRUMBLE_CT_STRINGS=0
row "assemble, neither (PRINTF=0 STRINGS=0)" -DCRUMBLE_CT_MODE=2 -DCRUMBLE_CT_PRINTF=0 -DCRUMBLE_CT_STRINGS=0
row "assemble, 10 of 20 services" -DCRUMBLE_CT_MODE=2 -DCRUMBLE_CT_SERVICES=10
row "assemble, main only (0 services)" -DCRUMBLE_CT_MODE=2 -DCRUMBLE_CT_SERVICES=0
row "assemble, main only, no Printf, no strings" -DCRUMBLE_CT_MODE=2 -DCRUMBLE_CT_SERVICES=0 -DCRUMBLE_CT_PRINTF=0 -DCRUMBLE_CT_STRINGS=0

# The constexpr image must equal the run-time one (same file, run-time assembly in main()).
if "$CXX" -std=c++20 -O2 -I include -DCRUMBLE_CT_ARCH="$ARCH" -DCRUMBLE_CT_MAIN -DCRUMBLE_CT_MODE=2 \
    $limit_flag=$big_limit "$src" \
    -o "$tmp/check" 2>"$tmp/err"; then
  echo
  echo "check: $("$tmp/check" | tr '\n' ';' | sed 's/;$//')"
else
  echo "check: could not build the comparison program: $(grep -m1 error "$tmp/err")"
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
