#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# scripts/rtg-difftest.sh — the long run of the differential test of crumble-rtg against Go.
#
#   scripts/rtg-difftest.sh [COUNT] [FIRST-SEED]      default: 1000 programs from seed 100000
#
# Builds build/tests/rtg/rtg_difftest_test (configuring build/ if needed) and runs its Go test
# case over COUNT random programs (tests/rtg/program_generator.hpp): each is built by Go 1.19
# with -gcflags='-N -l' and translated by crumble-rtg for AMD64, ARM64 and RISC-V, run (ARM64
# and RISC-V under qemu-user), and its stdout and exit status compared with Go's. The ctest
# run covers seeds 1..24; the default seeds here start far from them.
#
# Each disagreeing program is kept as build/rtg-difftest/seed-N.go with seed-N.txt (what
# differed); reproduce one with CRUMBLE_RTG_DIFFTEST_SEEDS=N:1. The last line printed is
#   difftest: N programs, S s, P programs/s, D disagreements
# and the exit status is 0 only when every program agreed. Needs golang-go and qemu-user
# (scripts/setup.sh installs both); the build uses -j2 (the machine is shared).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

count=${1:-1000}
first=${2:-100000}
keep=$root/build/rtg-difftest

if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
fi
ninja -C build -j2 rtg_difftest_test
rm -rf "$keep"

echo "== $count programs from seed $first; disagreements kept in $keep"
CRUMBLE_RTG_DIFFTEST_SEEDS="$first:$count" CRUMBLE_RTG_DIFFTEST_KEEP="$keep" \
  build/tests/rtg/rtg_difftest_test "[go]" > build/rtg-difftest.log 2>&1 && status=0 || status=$?
if [ -d "$keep" ]; then
  for report in "$keep"/*.txt; do
    echo "-- $(basename "$report" .txt):"
    head -n 4 "$report"
  done
fi
grep '^difftest:' build/rtg-difftest.log || { tail -n 20 build/rtg-difftest.log; exit 1; }
exit "$status"
