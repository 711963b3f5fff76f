#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ops_profile.sh — a sampling profiler for GCC's constant evaluator, made from its op limit.
#
# GCC stops a constant evaluation after -fconstexpr-ops-limit operations (every expression it
# evaluates counts) and prints the "in 'constexpr' expansion of ..." chain down to where it
# was. Compiling with limits L = step, 2*step, ... therefore samples where the evaluation is
# after L operations, at equal spacing in operation count. Operations are not time (an
# allocation or a large copy costs more than an addition) but show where the evaluator works.
# For each sample it prints the outer frames (which part of the program/lowering), the inner
# crumble frames and the innermost crumble source line.
#
#   bench/compile_time/ops_profile.sh [samples] [step] [extra g++ flags...]
#   default: 12 samples 8000000 apart, init500.cpp in mode 3 (one assemble pass)
#
# A failing evaluation is done twice by GCC (once more to print the error), so each sample
# costs up to ~2x the compile time to reach L: a few minutes in all on a busy 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
samples="${1:-12}"
step="${2:-8000000}"
if (($# >= 2)); then shift 2; else shift $#; fi
src=bench/compile_time/init500.cpp
CXX="${CXX:-g++}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

summarise() {  # $1 = limit, stdin = g++ stderr
  python3 -c '
import re, sys
limit = sys.argv[1]
chain = []
for line in sys.stdin:
    if "evaluation operation count exceeds" in line:
        break
    m = re.match(r"(\S+?):(\d+):\d+:\s+in .constexpr. expansion of .(.*)", line)
    if m:
        chain.append((m.group(1), int(m.group(2)), m.group(3)))
def name(callee):
    # the called function: drop the object expression, template arguments and parameters
    s = re.sub(r"<[^<>]*>", "", re.sub(r"<[^<>]*>", "", re.sub(r"<[^<>]*>", "", callee)))
    s = s.split("(")[0] if not s.startswith("((") else s
    m = re.findall(r"([A-Za-z_][A-Za-z_0-9]*(?:::[A-Za-z_~][A-Za-z_0-9]*)+)", s)
    return m[-1] if m else ""
names = []
for f, l, c in chain:
    n = name(c)
    n = re.sub(r"^(crumble::)?(lower::|code::|ir::|arch::|amd64::)*", "", n)
    if n and (not names or names[-1] != n) and not n.startswith(("std::", "__gnu_cxx")):
        names.append(n)
inner = [(f, l) for f, l, c in chain if "/include/crumble/" in "/" + f or f.startswith("include/crumble/") or "crumble/" in f]
loc = ""
text = ""
if inner:
    f, l = inner[-1]
    f = re.sub(r"^.*include/crumble/", "include/crumble/", f)
    f = re.sub(r"arch/amd64/\.\./\.\./", "", f)
    try:
        text = open(f).read().splitlines()[l - 1].strip()[:80]
    except OSError:
        pass
    loc = f.replace("include/crumble/", "") + ":" + str(l)
outer = " > ".join(names[:3])
innermost = " > ".join(names[-3:])
print(f"L={limit:>10}  {outer[:70]:<70} | {innermost[:70]:<70} | {loc:<18} {text}")
' "$1"
}

for ((k = 1; k <= samples; k++)); do
  limit=$((k * step))
  if "$CXX" -std=c++20 -O2 -I include -DCRUMBLE_CT_MODE=3 "$@" -fconstexpr-ops-limit="$limit" \
      -c "$src" -o "$tmp/o.o" 2>"$tmp/err"; then
    echo "L=$limit: evaluation finished (total operations < $limit)"
    break
  fi
  summarise "$limit" <"$tmp/err"
done
