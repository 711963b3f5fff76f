// SPDX-License-Identifier: Apache-2.0
// tests/rtg/fuzzer/fuzz_one.hpp — one fuzz input through the whole RTG pipeline.
//
// Shared by the libFuzzer target (tests/rtg/fuzzer/fuzz_rtg.cpp) and the replay test
// (tests/rtg/fuzz_replay.cpp). The bytes are an RTG source file. A rejection is fine:
// crumble::rtg::Error from the translator, crumble::compile_error from the assembler.
// Anything else — another exception, a crash, a sanitizer report, a hang — is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#ifndef RTG_FUZZ_SEPARATE_ASSEMBLER
#include <crumble/crumble.hpp>
#else
#include <crumble/error.hpp>
#include <crumble/ir/nodes.hpp>
#endif

#include <crumble/rtg/emit_cpp.hpp>
#include <crumble/rtg/translate.hpp>

namespace crumble::rtg::fuzz {

#ifdef RTG_FUZZ_SEPARATE_ASSEMBLER
// In assemble_amd64.cpp, compiled by another compiler (see there).
std::size_t assemble_amd64(const ir::Program& p);
#else
inline std::size_t assemble_amd64(const ir::Program& p) { return assemble<arch::amd64>(p).bytes.size(); }
#endif

// Returns 0 (libFuzzer's convention). Lets every unexpected exception escape.
inline int run_one(const std::uint8_t* data, std::size_t size) {
  Source src{"fuzz.go", std::string(reinterpret_cast<const char*>(data), size)};
  // One flag and two config keys, so that Ifdef and Config have something to find.
  Options opt;
  opt.defines = {"GPU"};
  opt.config = {{"key", "4096"}, {"name", "text"}};
  Translation t;
  try {
    t = translate(src, opt);
  } catch (const Error&) {
    return 0;  // the source has a mistake: reported, not a finding
  }
  std::string header = emit_cpp(t.program, HeaderInfo{});
  (void)header;
  try {
    std::size_t bytes = assemble_amd64(t.program);
    (void)bytes;
  } catch (const compile_error&) {
    // The translator accepted something the assembler rejects. Not a crash, so not a finding
    // here; build with -DRTG_FUZZ_STRICT to treat it as one.
#ifdef RTG_FUZZ_STRICT
    throw;
#endif
  }
  return 0;
}

}  // namespace crumble::rtg::fuzz
