// SPDX-License-Identifier: Apache-2.0
// tests/rtg/fuzzer/assemble_amd64.cpp — the assembly step of the fuzz body, as its own object.
//
// The crumble headers use C++20 that clang 14 does not compile (a lambda capturing a structured
// binding, in code/buffer.hpp), while libFuzzer comes with clang. So scripts/fuzz-rtg.sh builds
// this file with g++ (no sanitizers: GCC's and clang's runtimes do not mix) and the rest with
// clang++ -fsanitize=fuzzer,address,undefined; fuzz_one.hpp calls it when
// RTG_FUZZ_SEPARATE_ASSEMBLER is defined. The replay test, built entirely with GCC, assembles
// in line and so runs the assembler under ASan/UBSan as well.
#include <cstddef>

#include <crumble/crumble.hpp>

namespace crumble::rtg::fuzz {

// Throws crumble::compile_error when the assembler rejects the program.
std::size_t assemble_amd64(const ir::Program& p) {
  code::Image img = assemble<arch::amd64>(p);
  return img.bytes.size();
}

}  // namespace crumble::rtg::fuzz
