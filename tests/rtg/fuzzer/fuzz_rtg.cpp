// SPDX-License-Identifier: Apache-2.0
// tests/rtg/fuzzer/fuzz_rtg.cpp — libFuzzer target for the RTG front end (lexer, parser,
// translator) and, when translation succeeds, emit_cpp and amd64 assembly.
//
// Build and run with scripts/fuzz-rtg.sh. Found inputs are kept in tests/rtg/fuzz/ and replayed
// by tests/rtg/fuzz_replay.cpp (which shares the body, fuzz_one.hpp).
#include <cstddef>
#include <cstdint>

#include "fuzz_one.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return crumble::rtg::fuzz::run_one(data, size);
}
