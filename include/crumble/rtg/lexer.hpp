// SPDX-License-Identifier: Apache-2.0
// crumble/rtg/lexer.hpp — Go tokens, with Go's automatic semicolons.
//
// The lexer knows all of Go's lexical grammar that RTG can meet, so that a Go construct RTG
// leaves out (a float, `<-`, `...`) reaches the parser as a token and gets a message naming it,
// instead of a confusing "unexpected character". Integer and character literals carry their
// value; string literals carry their decoded bytes.
#pragma once

#include <string>
#include <vector>

#include "source.hpp"

namespace crumble::rtg {

using u128 = unsigned __int128;

enum class Tok : std::uint8_t { ident, keyword, integer, character, string, op, semicolon, eof };

struct Token {
  Tok kind;
  Pos pos;
  std::string_view text;  // the source text (the operator, the name, the literal as written)
  u128 value = 0;         // integer and character literals
  std::string bytes;      // string literals, decoded
  bool implicit = false;  // a semicolon the lexer inserted at a newline or end of file
};

// The whole file as tokens, ending with Tok::eof. Throws rtg::Error on malformed input.
std::vector<Token> lex(const Source& src);

}  // namespace crumble::rtg
