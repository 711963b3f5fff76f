#!/usr/bin/env bash
# Configures, builds and runs the whole test suite under ctest (2 parallel jobs by default).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${JOBS:-2}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"
