#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what is missing, then configures, builds and runs the whole test suite under ctest
# (2 parallel jobs by default; JOBS=N to change).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh   # idempotent: a no-op when everything is installed
jobs="${JOBS:-2}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$jobs"
# The microVM tests boot Debian's cloud kernel under QEMU: fetch it into the cache (once; reused).
./build/tools/crumble/crumble kernel fetch
ctest --test-dir build --output-on-failure -j "$jobs"
