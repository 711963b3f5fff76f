#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# scripts/fuzz-rtg.sh — builds the RTG libFuzzer target and runs it.
#
#   scripts/fuzz-rtg.sh [SECONDS] [libFuzzer flags...]   build, then fuzz SECONDS (default 300)
#   scripts/fuzz-rtg.sh --build-only                     build build-fuzz/fuzz_rtg only
#   scripts/fuzz-rtg.sh replay [DIR|FILE...]             build build-fuzz/fuzz_replay (GCC,
#                 ASan+UBSan) and replay DIRs (default: the regression corpus tests/rtg/fuzz/,
#                 the working corpus build-fuzz/corpus/, the seeds and tests/rtg/corpus/)
#
# The target, tests/rtg/fuzzer/fuzz_rtg.cpp, feeds each input as an RTG source file through
# translate, emit_cpp and amd64 assembly (tests/rtg/fuzzer/fuzz_one.hpp); a crumble::rtg::Error
# or crumble::compile_error is a rejection, anything else (another exception, a crash, a
# sanitizer report, a run over 5 s) is a finding. It runs single-process (the machine is
# shared: no -jobs/-workers), with the dictionary tests/rtg/fuzzer/rtg.dict, -max_len=4096 and
# -timeout=5. The working corpus grows in build-fuzz/corpus/, seeded from tests/rtg/fuzzer/seeds/ (snippets)
# and tests/rtg/corpus/ (the RTG program corpus)
# (and, with FUZZ_REGRESS=1, from tests/rtg/fuzz/ too — only once its findings are fixed: an
# input there that still crashes stops the run at once). Crash, timeout, leak and oom inputs
# are written to tests/rtg/fuzz/ as crash-<sha1>, timeout-<sha1>, ...; minimise each and name it
# for what it shows (deep-parens.go). tests/rtg/fuzz_replay.cpp replays them all.
#
# Keep fuzzing past a known crash:  FUZZ_FLAGS='-fork=1 -ignore_crashes=1 -ignore_timeouts=1'
# Minimise a crash or hang:
#   build-fuzz/fuzz_rtg -minimize_crash=1 -max_total_time=60 -timeout=5 \
#     -exact_artifact_path=tests/rtg/fuzz/NAME.go tests/rtg/fuzz/crash-<sha1>
# Reproduce one:  build-fuzz/fuzz_rtg tests/rtg/fuzz/NAME.go
#
# Environment: CXX (default clang++-14), GXX (default g++), FUZZ_FLAGS (more libFuzzer flags, e.g.
# -use_value_profile=1 -len_control=0), FUZZ_STACK_KB (run with a smaller stack, see below).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

CXX=${CXX:-clang++-14}
GXX=${GXX:-g++}
out=build-fuzz
bin=$out/fuzz_rtg
regress=tests/rtg/fuzz
seeds=tests/rtg/fuzzer/seeds
dict=tests/rtg/fuzzer/rtg.dict
frontend=(src/rtg/lexer.cpp src/rtg/parser.cpp src/rtg/translate.cpp src/rtg/emit_cpp.cpp)

mkdir -p "$out/obj" "$out/corpus" "$regress"

# Rebuild an object when its source, a header it could include or this script is newer.
newest_header=$(find include tools/rtg -name '*.hpp' -printf '%T@\n' | sort -n | tail -1)
stale() {  # stale SRC OBJ
  [ ! -f "$2" ] || [ "$1" -nt "$2" ] || [ "$0" -nt "$2" ] ||
    awk -v h="$newest_header" -v o="$(stat -c %Y "$2")" 'BEGIN { exit !(h > o) }'
}

# ---- replay: the regression test's binary, GCC with ASan and UBSan ------------------------
if [ "${1:-}" = replay ]; then
  shift
  gflags=(-std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined
          -fno-sanitize-recover=undefined -Iinclude -Itools)
  objs=()
  for src in "${frontend[@]}" tests/rtg/fuzz_replay.cpp; do
    obj=$out/obj/gcc-asan-$(basename "${src%.cpp}").o
    objs+=("$obj")
    if stale "$src" "$obj"; then
      echo "fuzz-rtg: compiling $src (g++, ASan+UBSan)" >&2
      "$GXX" "${gflags[@]}" -c "$src" -o "$obj"
    fi
  done
  "$GXX" "${gflags[@]}" "${objs[@]}" -o "$out/fuzz_replay"
  if [ $# -eq 0 ]; then set -- "$regress" "$out/corpus" "$seeds" tests/rtg/corpus; fi
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
  exec "$out/fuzz_replay" "$@"
fi

# ---- the fuzzer: clang with libFuzzer, ASan and UBSan -------------------------------------
if ! command -v "$CXX" >/dev/null; then
  echo "fuzz-rtg: $CXX not found (Debian: apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 2
fi

# Clang (14 and later, with libstdc++'s constexpr std::vector) rejects a default member
# initializer `= {}` for a std::vector of a type that is still incomplete there, which
# include/crumble/ir/nodes.hpp has in `struct If { ... Block else_body = {}; }` (GCC accepts it;
# llvm/llvm-project#157283). `Block else_body;` means the same (an omitted member is
# initialised from {} either way), so the front end is built against a copy of include/ with
# that one line changed. Once nodes.hpp itself drops the `= {}`, the copy is identical.
inc=$out/include
rm -rf "$inc"
cp -r include "$inc"
sed -i 's/^\(\s*Block else_body\) = {};/\1;/' "$inc/crumble/ir/nodes.hpp"
if grep -q 'Block else_body = {}' "$inc/crumble/ir/nodes.hpp"; then
  echo "fuzz-rtg: could not patch $inc/crumble/ir/nodes.hpp for clang" >&2
  exit 2
fi

# The assembly step is compiled by GCC, in its own object (tests/rtg/fuzzer/assemble_amd64.cpp:
# clang 14 cannot compile crumble/code/buffer.hpp, which captures a structured binding in a
# lambda), and without sanitizers, since GCC's and clang's runtimes do not mix. It is not
# coverage-guided either. `scripts/fuzz-rtg.sh replay` runs the corpus the fuzzer grew through
# a GCC ASan+UBSan build of the whole pipeline, assembler included.
flags=(-std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -DRTG_FUZZ_SEPARATE_ASSEMBLER -I"$inc" -Itools)
gcc_flags=(-std=c++20 -g -O1 -fno-omit-frame-pointer -Iinclude -Itools)

objs=()
for src in "${frontend[@]}" tests/rtg/fuzzer/fuzz_rtg.cpp tests/rtg/fuzzer/assemble_amd64.cpp; do
  obj=$out/obj/$(basename "${src%.cpp}").o
  objs+=("$obj")
  if stale "$src" "$obj"; then
    if [ "$src" = tests/rtg/fuzzer/assemble_amd64.cpp ]; then
      echo "fuzz-rtg: compiling $src (g++)" >&2
      "$GXX" "${gcc_flags[@]}" -c "$src" -o "$obj"
    else
      echo "fuzz-rtg: compiling $src (clang++, libFuzzer+ASan+UBSan)" >&2
      # -fsanitize=fuzzer at compile time only instruments; libFuzzer's main comes at the link.
      "$CXX" "${flags[@]}" -c "$src" -o "$obj"
    fi
  fi
done
"$CXX" "${flags[@]}" "${objs[@]}" -o "$bin"
echo "fuzz-rtg: built $bin" >&2

if [ "${1:-}" = --build-only ]; then exit 0; fi

seconds=${1:-300}
shift || true

# Stop at the first UBSan report, with a stack, so that libFuzzer saves the input.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

# A smaller stack (FUZZ_STACK_KB=2048) makes unbounded recursion overflow within -max_len:
# the deepest nesting the parser allows runs in about 1.5 MiB in this build. Check each
# stack-overflow found that way against crumble-rtg's 8 MiB with a longer input.
if [ -n "${FUZZ_STACK_KB:-}" ]; then ulimit -s "$FUZZ_STACK_KB"; fi

# shellcheck disable=SC2086
exec "$bin" \
  -max_total_time="$seconds" \
  -max_len=4096 \
  -timeout=5 \
  -rss_limit_mb=2048 \
  -dict="$dict" \
  -artifact_prefix="$regress/" \
  -print_final_stats=1 \
  ${FUZZ_FLAGS:-} "$@" \
  "$out/corpus" "$seeds" tests/rtg/corpus ${FUZZ_REGRESS:+"$regress"}
