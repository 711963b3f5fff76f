// SPDX-License-Identifier: Apache-2.0
// crumble/rtg/emit_cpp.hpp — an IR program as C++ source that rebuilds it.
//
// The header this writes defines `constexpr crumble::ir::Program NAME()`, one maker per function
// (namespace NAME_functions) and `struct NAME_by_function`, the same program function by
// function. Either assembles at compile time; by function, the functions are lowered a few at a
// time, each group in a constant expression of its own, so programs of many functions need no
// compiler limit raised:
//   crumble::executable<crumble::arch::amd64>(NAME_by_function{})
//   crumble::executable<crumble::arch::amd64>([] { return NAME(); })
// Nodes that hold nodes are made by the functions of rtg/emitted.hpp, not by braces.
// It is generic over the IR (any ir::Program prints), and tests check that the program it
// rebuilds assembles to the same bytes as the one it was printed from.
#pragma once

#include <string>

#include <crumble/ir/nodes.hpp>

namespace crumble::rtg {

struct HeaderInfo {
  std::string function = "program";  // the C++ function that returns the program
  std::string name_space = "crumble::rtg::programs";
  std::string comment;                // provenance, one line per line
};

std::string emit_cpp(const ir::Program& p, const HeaderInfo& info);

}  // namespace crumble::rtg
