#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# scripts/fuzz-host.sh — builds the host-input libFuzzer targets and runs one.
#
#   scripts/fuzz-host.sh TARGET [SECONDS] [libFuzzer flags...]   build, then fuzz SECONDS (default 300)
#   scripts/fuzz-host.sh --build-only                            build build-fuzz-host/fuzz_TARGET for every target
#
# TARGET is one of the readers of untrusted host files (tests/vm/fuzzer/fuzz_one.hpp):
#   kernel    LinuxImage::parse: the kernel-image checker and the loader's parse
#   snapshot  snapshot::read on a state file (with a memory file beside it)
#   modinfo   read_modinfo on a .ko
#   cpio      the initramfs cpio writer's inputs (names, targets, modes, data)
#   channel   the host's side of the init protocol against a guest played by the input
# An exception of the reader's own error type is a rejection; anything else (another exception, a
# crash, a sanitizer report, a run over 5 s) is a finding. Single process (the machine is shared:
# no -jobs/-workers), -max_len=65536, -timeout=5. The working corpus grows in
# build-fuzz-host/corpus/TARGET/, seeded from tests/vm/fuzzer/seeds/TARGET/; crash, timeout, leak and
# oom inputs are written to tests/vm/fuzz/TARGET/ (crash-<sha1>, ...): minimise each, name it for
# what it shows, fix it. tests/vm/fuzz_replay.cpp (ctest vm.fuzz_replay, GCC with ASan+UBSan)
# replays the seeds and everything in tests/vm/fuzz/.
#
# Reproduce one:  build-fuzz-host/fuzz_kernel tests/vm/fuzz/kernel/NAME
# Environment: CXX (default clang++-14), FUZZ_FLAGS (more libFuzzer flags).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

CXX=${CXX:-clang++-14}
out=build-fuzz-host
targets=(kernel snapshot modinfo cpio channel)

if ! command -v "$CXX" >/dev/null; then
  echo "fuzz-host: $CXX not found (Debian: apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 2
fi

flags=(-std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -Iinclude)
newest=$(find include tests/vm/fuzzer -name '*.hpp' -o -name '*.cpp' | xargs stat -c %Y | sort -n | tail -1)

build() {  # build TARGET
  local bin=$out/fuzz_$1
  mkdir -p "$out"
  if [ ! -f "$bin" ] || [ "$(stat -c %Y "$bin")" -lt "$newest" ] || [ "$0" -nt "$bin" ]; then
    echo "fuzz-host: building $bin ($CXX, libFuzzer+ASan+UBSan)" >&2
    "$CXX" "${flags[@]}" -DCRUMBLE_FUZZ_TARGET="$1" tests/vm/fuzzer/fuzz_host.cpp -o "$bin"
  fi
}

if [ "${1:-}" = --build-only ]; then
  for t in "${targets[@]}"; do build "$t"; done
  exit 0
fi

target=${1:-}
case " ${targets[*]} " in
  *" $target "*) ;;
  *) echo "usage: scripts/fuzz-host.sh TARGET [SECONDS] [flags...]   TARGET: ${targets[*]}" >&2; exit 2 ;;
esac
shift
seconds=${1:-300}
shift || true
build "$target"
mkdir -p "$out/corpus/$target" "tests/vm/fuzz/$target"

# The snapshot and modinfo targets write each input to a file: in memory, not on disk (about 270
# runs/s on disk here).
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ]; then export TMPDIR=/dev/shm; fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
# shellcheck disable=SC2086
exec "$out/fuzz_$target" \
  -max_total_time="$seconds" \
  -max_len=65536 \
  -timeout=5 \
  -rss_limit_mb=2048 \
  -artifact_prefix="tests/vm/fuzz/$target/" \
  -print_final_stats=1 \
  ${FUZZ_FLAGS:-} "$@" \
  "$out/corpus/$target" "tests/vm/fuzzer/seeds/$target"
