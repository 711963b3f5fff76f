#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what is missing, then configures, builds and runs the whole test suite under ctest
# with GCC, then the code-generation tests with Clang (2 parallel jobs by default; JOBS=N to
# change).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh   # idempotent: a no-op when everything is installed
jobs="${JOBS:-2}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$jobs"
# The microVM tests boot Debian's cloud kernel under QEMU: fetch it into the cache (once; reused).
./build/tools/crumble/crumble kernel fetch
# and the ARM64 and RISC-V guests' kernels (an isolated apt; the foreign-guest tests skip without them)
./build/tools/crumble/crumble kernel fetch --arch arm64
./build/tools/crumble/crumble kernel fetch --arch riscv64
ctest --test-dir build --output-on-failure -j "$jobs"

# The code-generation tests again with Clang (the newest in Debian 12; CLANG_CXX=... to change):
# a second build directory with only those targets (label codegen), -Werror so a construct only
# GCC accepts, a warning only Clang gives, or a compile-time diagnostic only GCC names fails CI.
# No optimisation or debug information (build type None) and the constexpr corpus from a sample
# of its programs on each target: a few minutes at -j2 (bench/README.md §3).
clang_cxx="${CLANG_CXX:-clang++-19}"
cmake -S . -B build-clang -G Ninja -DCMAKE_CXX_COMPILER="$clang_cxx" -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_CXX_FLAGS=-Werror -DCRUMBLE_CORPUS_CONSTEXPR_SAMPLE=ON \
  -DCRUMBLE_BUILD_BENCH=OFF -DCRUMBLE_BUILD_EXAMPLES=OFF -DCRUMBLE_BUILD_TOOLS=OFF
cmake --build build-clang -j "$jobs" --target crumble_codegen_tests
ctest --test-dir build-clang --output-on-failure -j "$jobs" -L codegen
