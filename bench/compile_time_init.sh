#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# compile_time_init.sh — wall time and peak memory of compiling the guest init made into an
# executable in constant evaluation, for two inits:
#   - today's rtg/init/init.go, translated by crumble_make_init as tests/vm's build does;
#   - bench/compile_time/init_2026-12-04.go, the init as it was when issue 18 set the goal of
#     3 s and 300 MB with GCC for "the real init" (518 lines; frozen so the figure stays
#     comparable while the init grows).
# Each is compiled three ways: bench/compile_time/real_init.cpp without the evaluation (the
# baseline: headers and program text) and with it (one init, the chosen target's headers only),
# and tests/vm/init_elf.cpp as tests/vm builds it (the init and its FAIL_PHASE_6 variant in one
# file, -O0 -g0; amd64 only), the file whose cost issue 18 measured (then
# tools/crumble/init_elf.cpp).
#
#   bench/compile_time_init.sh              # needs crumble-rtg and crumble_make_init built in BUILD
#                                           # (relative to the repository root; default build)
#   REPEAT=3 bench/compile_time_init.sh     # best of 3 per row (the machine is shared)
#   BUILD=other-build CXX=clang++-19 ARCH=arm64 bench/compile_time_init.sh
#   INITS=dec04 bench/compile_time_init.sh  # only the frozen init (INITS=today: only today's)
#
# real_init.cpp gets compile_time.sh's flags (-O2 -c); every row the compiler's default constexpr
# limits first (rows.sh). The second column is the init's IR nodes (crumble::ir::program_size).
# The frozen init is translated with the protocol values of its day for every ARCH (their
# addresses are amd64's; the compile's cost does not depend on them).
set -euo pipefail
cd "$(dirname "$0")/.."
CXX="${CXX:-g++}"
REPEAT="${REPEAT:-1}"
ARCH="${ARCH:-amd64}"
BUILD="${BUILD:-build}"
INITS="${INITS:-dec04 today}"
for init in $INITS; do
  [[ "$init" == dec04 || "$init" == today ]] || { echo "compile_time_init.sh: INITS names dec04 or today, not $init" >&2; exit 2; }
done
rtg="$BUILD/tools/rtg/crumble-rtg"
make_init="$BUILD/src/init/crumble_make_init"
for tool in "$rtg" "$make_init"; do
  [[ -x "$tool" ]] || { echo "compile_time_init.sh: $tool is not built (cmake --build $BUILD first, or set BUILD)" >&2; exit 1; }
done
src=bench/compile_time/real_init.cpp
frozen=bench/compile_time/init_2026-12-04
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The two inits as C++, each with its FAIL_PHASE_6 variant, in the files and names tests/vm's
# build gives them (crumble_init.hpp, crumble_init_fail6.hpp; crumble::vm::generated).
mkdir -p "$tmp/today" "$tmp/dec04"
"$make_init" program rtg/init/init.go "$tmp/today/crumble_init.hpp" init_program --arch "$ARCH"
"$make_init" program rtg/init/init.go "$tmp/today/crumble_init_fail6.hpp" init_program_failing_phase_6 -D FAIL_PHASE_6 \
  --arch "$ARCH"
config=()
while read -r kv; do config+=(-c "$kv"); done < <(grep -v -e '^#' -e '^$' "$frozen.config")
rtg_args=("${config[@]}" -arch "$ARCH" -namespace crumble::vm::generated)
"$rtg" "${rtg_args[@]}" -name init_program -o "$tmp/dec04/crumble_init.hpp" "$frozen.go"
"$rtg" "${rtg_args[@]}" -D FAIL_PHASE_6 -name init_program_failing_phase_6 -o "$tmp/dec04/crumble_init_fail6.hpp" "$frozen.go"

# measure() and row(): bench/compile_time/rows.sh. The second column is the init's IR nodes,
# found by its check below.
source bench/compile_time/rows.sh
count() { echo "$nodes"; }

echo "# compile_time_init.sh, target $ARCH: $("$CXX" --version | head -1), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| configuration | IR nodes | wall s | user s | wall vs baseline | peak MB | note |"
echo "|---|---|---|---|---|---|---|"
checks=()
for init in $INITS; do
  case $init in
    dec04) what="the init of 2026-12-04" ;;
    today) what="today's init ($(wc -l <rtg/init/init.go) lines)" ;;
  esac
  # Its size, and the constexpr executable checked against the run-time one (main() of the same
  # file; with the limit raised, so a row over a default limit still gets its check).
  if "$CXX" -std=c++20 -O2 -I include -I "$tmp/$init" -DCRUMBLE_CT_ARCH="$ARCH" -DCRUMBLE_CT_MAIN -DCRUMBLE_CT_MODE=2 \
      "$limit_flag=$big_limit" "$src" -o "$tmp/check" 2>"$tmp/err"; then
    out=$("$tmp/check") || true  # it fails, saying so, when the two differ: the line is still shown
    checks+=("check, $what: $(tr '\n' ';' <<<"$out" | sed 's/;$//')")
    nodes=$(awk 'NR == 1 {print $1}' <<<"$out")
  else
    checks+=("check, $what: could not build the comparison program: $(grep -m1 error "$tmp/err" || head -n 1 "$tmp/err")")
    nodes="?"
  fi
  flags=(-std=c++20 -O2 -I include -I "$tmp/$init" -DCRUMBLE_CT_ARCH="$ARCH" -c "$src" -o "$tmp/init.o")
  base_s=""
  row "$what: baseline, headers + program text (MODE=0)" -DCRUMBLE_CT_MODE=0
  base_s=$row_best
  row "**$what: executable by function in constant evaluation (MODE=2)**" -DCRUMBLE_CT_MODE=2
  # The file issue 18 measured (then tools/crumble/init_elf.cpp): both variants in one translation
  # unit, with the flags tests/vm's build gives it (RelWithDebInfo's, then -O0 -g0).
  if [[ "$ARCH" == amd64 ]]; then
    flags=(-std=c++20 -O2 -g -DNDEBUG -O0 -g0 -I include -I tests/vm -I "$tmp/$init" -c tests/vm/init_elf.cpp
      -o "$tmp/init_elf.o")
    nodes="≈ 2 × $nodes"
    base_s=""  # another file and other flags than the baseline row's
    row "$what and its FAIL_PHASE_6 variant: tests/vm/init_elf.cpp (-O0 -g0)"
  fi
done

echo
printf '%s\n' "${checks[@]}"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
