// SPDX-License-Identifier: Apache-2.0
// crumble/ir/program_size.hpp — how big a program is, counted by one walk over its tree.
//
// Compile-time assembly must know the size of its result before it can make it (a std::array
// has a constant size). Lowering the whole program once just to learn that size doubled the
// cost of every constexpr build, so assemble.hpp first guesses a generous bound from these
// counts, lowers once into an array of that bound and keeps only the bytes it used; only a
// program that outgrows the guess is lowered a second time (assemble.hpp says how).
//
// Every Expr, Cond and Stmt is one node; a Printf's formatting call, its argument stores and
// the bytes of its format are counted too, since the lowering makes them.
#pragma once

#include <cstddef>
#include <type_traits>

#include "nodes.hpp"

namespace crumble::ir {

struct ProgramSize {
  std::size_t nodes = 0;           // Expr, Cond and Stmt nodes
  std::size_t functions = 0;
  std::size_t embedded_bytes = 0;  // Embed bytes, NUL terminators and printf formats included
  std::size_t addresses = 0;       // nodes that need an absolute address (a relocation)
  std::size_t printfs = 0;
};

namespace program_size_detail {
constexpr void walk(const Expr& e, ProgramSize& s);
constexpr void walk(const Cond& c, ProgramSize& s);
constexpr void walk(const Block& b, ProgramSize& s);

constexpr void walk_args(const std::vector<Expr>& args, ProgramSize& s) {
  for (const Expr& a : args) walk(a, s);
}
constexpr void walk(const Expr& e, ProgramSize& s) {
  ++s.nodes;
  visit(
      [&](const auto& n) {
        using N = std::remove_cvref_t<decltype(n)>;
        if constexpr (std::is_same_v<N, MemVar>) walk(n.base, s);
        else if constexpr (std::is_same_v<N, Op>) walk(n.lhs, s), walk(n.rhs, s);
        else if constexpr (std::is_same_v<N, Call>) walk(n.target, s), walk_args(n.args, s);
        else if constexpr (std::is_same_v<N, Syscall>) walk_args(n.args, s);
        else if constexpr (std::is_same_v<N, CondValue>) walk(n.cond, s);
        else if constexpr (std::is_same_v<N, Embed>) {
          ++s.addresses;
          s.embedded_bytes += n.bytes.size() + (n.nul ? 1 : 0);
        } else if constexpr (std::is_same_v<N, GlobalVar> || std::is_same_v<N, GlobalAddr> ||
                             std::is_same_v<N, FuncAddr>)
          ++s.addresses;
      },
      e);
}
constexpr void walk(const Cond& c, ProgramSize& s) {
  ++s.nodes;
  visit(
      [&](const auto& n) {
        using N = std::remove_cvref_t<decltype(n)>;
        if constexpr (std::is_same_v<N, Compare>) walk(n.lhs, s), walk(n.rhs, s);
        else if constexpr (std::is_same_v<N, IsZero> || std::is_same_v<N, IsNegative>) walk(n.value, s);
        else if constexpr (std::is_same_v<N, Not>) walk(n.cond, s);
        else walk(n.lhs, s), walk(n.rhs, s);
      },
      c);
}
constexpr void walk(const Block& b, ProgramSize& s) {
  for (const Stmt& st : b) {
    ++s.nodes;
    visit(
        [&](const auto& n) {
          using N = std::remove_cvref_t<decltype(n)>;
          if constexpr (std::is_same_v<N, Assign>) walk(n.target, s), walk(n.value, s);
          else if constexpr (std::is_same_v<N, If>) walk(n.cond, s), walk(n.then_body, s), walk(n.else_body, s);
          else if constexpr (std::is_same_v<N, While>) walk(n.cond, s), walk(n.body, s);
          else if constexpr (std::is_same_v<N, Return>) walk(n.value, s);
          else if constexpr (std::is_same_v<N, Call>) walk(n.target, s), walk_args(n.args, s);
          else if constexpr (std::is_same_v<N, Syscall>) walk_args(n.args, s);
          else if constexpr (std::is_same_v<N, CacheFlush>) walk(n.base, s), walk(n.size, s);
          else if constexpr (std::is_same_v<N, Printf>) {
            // Lowered as one store per argument (a MemVar of a BufferAddr) and a call with
            // the format's address and the argument array's: 4 nodes per argument, 5 more.
            ++s.printfs;
            ++s.addresses;
            s.embedded_bytes += n.format.size() + 1;
            s.nodes += 5 + 3 * n.args.size();
            walk_args(n.args, s);
          }
        },
        st);
  }
}
}  // namespace program_size_detail

constexpr ProgramSize function_size(const Function& f) {
  ProgramSize s;
  s.functions = 1;
  program_size_detail::walk(f.body, s);
  return s;
}

constexpr ProgramSize program_size(const Program& p) {
  ProgramSize s;
  for (const Function& f : p.functions) {
    ++s.functions;
    program_size_detail::walk(f.body, s);
  }
  return s;
}

}  // namespace crumble::ir
