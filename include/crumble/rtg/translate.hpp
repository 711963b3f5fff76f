// SPDX-License-Identifier: Apache-2.0
// crumble/rtg/translate.hpp — the RTG front end: source text in, crumble IR out.
//
//   rtg::Options opt{.arch = "arm64", .defines = {"GPU"}, .config = {{"mailbox", "0x1000"}}};
//   rtg::Translation t = rtg::translate({"init.go", text}, opt);   // throws rtg::Error
//   auto elf = crumble::executable<crumble::arch::arm64>(t.program);
//
// The translation checks types as Go does (the same program compiles with the Go toolchain's
// parser and reads the same to a Go programmer), folds constants and compile-time conditions,
// and lowers Go's integer semantics onto the IR's 64-bit values: every value of a narrower type
// is kept sign- or zero-extended to 64 bits, and re-extended after an operation that can carry
// out of its width.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <crumble/ir/nodes.hpp>

#include "source.hpp"

namespace crumble::rtg {

struct Options {
  std::string arch = "amd64";                 // runtime.GOARCH: amd64, arm64 or riscv64
  std::set<std::string> defines = {};         // runtime.Ifdef("FLAG")
  std::map<std::string, std::string> config = {};  // runtime.Config("key"): integer when it parses as one
};

// The program and the strings it refers to (ir::Program holds string_views). Move it, do not
// copy it: the strings stay where they are.
struct Translation {
  ir::Program program;
  std::vector<std::unique_ptr<std::string>> strings;
};

// Throws rtg::Error for any mistake in the source, std::invalid_argument for bad options.
Translation translate(const Source& src, const Options& options = {});

// Reads `path` and translates it; a file that cannot be read is a std::runtime_error.
Translation translate_file(const std::string& path, const Options& options = {});

}  // namespace crumble::rtg
