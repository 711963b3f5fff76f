// SPDX-License-Identifier: Apache-2.0
// tests/vm/fuzzer/fuzz_host.cpp — a libFuzzer target for one reader of untrusted host files,
// chosen at compile time: -DCRUMBLE_FUZZ_TARGET=kernel|snapshot|modinfo|cpio|channel (fuzz_one.hpp).
//
// Build and run with scripts/fuzz-host.sh. Found inputs are kept in tests/vm/fuzz/TARGET/ and
// replayed by tests/vm/fuzz_replay.cpp (which shares the bodies).
#include <cstddef>
#include <cstdint>

#include "fuzz_one.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return crumble::vm::fuzz::CRUMBLE_FUZZ_TARGET(data, size);
}
