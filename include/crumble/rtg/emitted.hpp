// SPDX-License-Identifier: Apache-2.0
// crumble/rtg/emitted.hpp — the functions the C++ crumble-rtg writes (emit_cpp.hpp) builds its
// IR with: one per node kind that holds other nodes, where hand-written IR uses braces.
//
// Why not braces: GCC tries to fold every element of a braced aggregate initializer into a
// constant while it parses (the elements of `Assign{Var{"x"}, Int64{1}}` are Expr made by
// constexpr constructors with constant arguments), and each try builds the element's nodes on
// its constant-evaluation heap before giving up on the allocation; nested braces try again at
// every level. For the real init's 8,000 nodes that was 1.2 s and 130 MB of a compile that only
// parses the header. A function's arguments are not folded that way. Leaves (Var{"x"},
// Int64{1}, FuncAddr{"f"}, ...) stay braces: they hold no nodes.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "../ir/build.hpp"

namespace crumble::rtg::emitted {

using namespace crumble::ir;

// Arguments of a call, syscall or Printf: `args(a, b)` is std::vector<Expr>{a, b}.
template <class... A>
constexpr std::vector<Expr> args(A&&... a) {
  std::vector<Expr> v;
  v.reserve(sizeof...(A));
  (v.push_back(Expr(std::forward<A>(a))), ...);
  return v;
}

// ---- expressions (op, load, syscall and cstr are ir's: build.hpp) ----------------------------
constexpr Expr call(Expr target, std::vector<Expr> a) { return Call{std::move(target), std::move(a)}; }
constexpr Expr cond_value(Cond c) { return CondValue{std::move(c)}; }

// ---- conditions (cmp is ir's) ------------------------------------------------------------------
constexpr Cond is_zero(Expr e) { return IsZero{std::move(e)}; }
constexpr Cond is_negative(Expr e) { return IsNegative{std::move(e)}; }
constexpr Cond not_(Cond c) { return Not{std::move(c)}; }
constexpr Cond and_(Cond a, Cond b) { return And{std::move(a), std::move(b)}; }
constexpr Cond or_(Cond a, Cond b) { return Or{std::move(a), std::move(b)}; }

// ---- statements --------------------------------------------------------------------------------
constexpr Stmt assign(Expr target, Expr value) { return Assign{std::move(target), std::move(value)}; }
constexpr Stmt if_(Cond c, Block then_body, Block else_body) {
  return If{std::move(c), std::move(then_body), std::move(else_body)};
}
constexpr Stmt while_(Cond c, Block body) { return While{std::move(c), std::move(body)}; }
constexpr Stmt return_(Expr value) { return Return{std::move(value)}; }
constexpr Stmt call_stmt(Expr target, std::vector<Expr> a) { return Call{std::move(target), std::move(a)}; }
constexpr Stmt syscall_stmt(Sys nr, std::vector<Expr> a) { return Syscall{nr, std::move(a)}; }
constexpr Stmt printf_(std::string_view format, std::vector<Expr> a) { return Printf{format, std::move(a)}; }
constexpr Stmt cache_flush(Expr base, Expr size) { return CacheFlush{std::move(base), std::move(size)}; }

}  // namespace crumble::rtg::emitted
