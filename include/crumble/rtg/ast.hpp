// SPDX-License-Identifier: Apache-2.0
// crumble/rtg/ast.hpp — the syntax tree of an RTG file.
//
// One node type for everything: a kind, a position, the token text it came from and its
// children. RTG's grammar is small enough that named structs per construct would only add
// ceremony; the table below says what the children of each kind are.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "lexer.hpp"

namespace crumble::rtg {

enum class Kind : std::uint8_t {
  // expressions
  name,       // text = identifier
  integer,    // value
  character,  // value
  string,     // bytes
  unary,      // text = operator; kids = {operand}
  binary,     // text = operator; kids = {lhs, rhs}
  call,       // kids = {callee, args...}
  selector,   // text = field; kids = {operand}            runtime.X
  index,      // kids = {operand, index}                   buf[i]
  paren,      // kids = {inner}
  // types
  array_type,  // kids = {length, element}                 [N]byte
  // statements
  block,       // kids = statements
  expr_stmt,   // kids = {expr}
  assign,      // text = "=" or "op="; kids = {lhs..., rhs...}, value = number of lhs
  define,      // kids = {names..., values...}, value = number of names     a, b := x, y
  inc_dec,     // text = "++" or "--"; kids = {target}
  var_decl,    // one spec: kids = {names..., type or null, values...}; value = number of names
  const_decl,  // kids = {name, type or null, value}; value = iota (a local spec of several names is a
               // block "spec" of them: its values are evaluated before its names are declared)
  if_stmt,     // kids = {init or null, cond, then block, else (block or if) or null}
  for_stmt,    // kids = {cond or null, body}
  break_stmt,
  continue_stmt,
  goto_stmt,     // text = label
  labeled,       // text = label; kids = {statement}
  return_stmt,   // kids = {value} or {}
  empty,
  // top level
  func_decl,  // text = name; kids = {params..., result (a type, a param if named) or null, body}; value = number of params
  param,      // text = name; kids = {type}
};

struct Node {
  Kind kind;
  Pos pos;
  std::string_view text;
  u128 value = 0;
  std::string bytes;
  std::vector<Node*> kids;
  std::uint32_t height = 1;  // of an expression tree: bounded, so translating it cannot exhaust the stack
};

struct File {
  std::vector<Node*> consts;  // const_decl, in source order
  std::vector<Node*> funcs;   // func_decl
  std::deque<Node> arena;     // owns every node (a deque never moves its elements)
};

}  // namespace crumble::rtg
