// SPDX-License-Identifier: Apache-2.0
// crumble/rtg/parser.hpp — RTG tokens to a syntax tree.
//
// A recursive-descent parser for the part of Go's grammar RTG keeps, with Go's precedence.
// Go constructs outside RTG (methods, generics, closures, switch, defer, slices, ...) are
// recognised by their first token and rejected with what to write instead, so a Go programmer
// learns the dialect from the errors. Depth is bounded, so no input can exhaust the stack.
#pragma once

#include "ast.hpp"

namespace crumble::rtg {

// Parses a whole file. Throws rtg::Error at the first mistake.
File parse(const Source& src, const std::vector<Token>& tokens);

// The import path RTG programs use for the runtime package.
inline constexpr std::string_view runtime_import = "crumble/rtg/runtime";

}  // namespace crumble::rtg
