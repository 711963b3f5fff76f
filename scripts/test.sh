#!/usr/bin/env bash
# Installs what is missing, then configures, builds and runs the whole test suite under ctest
# (2 parallel jobs by default; JOBS=N to change).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh   # idempotent: a no-op when everything is installed
jobs="${JOBS:-2}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"
