// SPDX-License-Identifier: Apache-2.0
// crumble/ir/build.hpp — shorthand for writing IR by hand: operators and small helpers.
//
//   Assign{Var{"x"}, Var{"x"} * 3 + 1}      If{Var{"x"} < 10, {...}, {...}}
//   load(Var{"p"}, 8, 32)  store(Var{"p"}, 0, 8, Var{"c"})  call("f", {1, 2})
//   host_arg(Var{"x"}, 32, Extend::zero)   (a uint32_t argument for a C function)
//
// Arithmetic operators build Op nodes; comparison operators build signed Compare conditions
// (ult/ule/ugt/uge for unsigned). There is no operator>> on purpose: say shr (logical) or sar
// (arithmetic).
#pragma once

#include "nodes.hpp"

namespace crumble::ir {

constexpr Expr op(OpKind k, Expr a, Expr b) { return Op{k, std::move(a), std::move(b)}; }
constexpr Expr operator+(Expr a, Expr b) { return op(OpKind::Add, std::move(a), std::move(b)); }
constexpr Expr operator-(Expr a, Expr b) { return op(OpKind::Sub, std::move(a), std::move(b)); }
constexpr Expr operator*(Expr a, Expr b) { return op(OpKind::Mul, std::move(a), std::move(b)); }
constexpr Expr operator/(Expr a, Expr b) { return op(OpKind::Div, std::move(a), std::move(b)); }
constexpr Expr operator%(Expr a, Expr b) { return op(OpKind::Rem, std::move(a), std::move(b)); }
constexpr Expr operator&(Expr a, Expr b) { return op(OpKind::And, std::move(a), std::move(b)); }
constexpr Expr operator|(Expr a, Expr b) { return op(OpKind::Or, std::move(a), std::move(b)); }
constexpr Expr operator^(Expr a, Expr b) { return op(OpKind::Xor, std::move(a), std::move(b)); }
constexpr Expr operator<<(Expr a, Expr b) { return op(OpKind::Shl, std::move(a), std::move(b)); }
constexpr Expr udiv(Expr a, Expr b) { return op(OpKind::UDiv, std::move(a), std::move(b)); }
constexpr Expr urem(Expr a, Expr b) { return op(OpKind::URem, std::move(a), std::move(b)); }
constexpr Expr shr(Expr a, Expr b) { return op(OpKind::Shr, std::move(a), std::move(b)); }
constexpr Expr sar(Expr a, Expr b) { return op(OpKind::Sar, std::move(a), std::move(b)); }

constexpr Cond cmp(Cmp k, Expr a, Expr b) { return Compare{k, std::move(a), std::move(b)}; }
constexpr Cond operator==(Expr a, Expr b) { return cmp(Cmp::Eq, std::move(a), std::move(b)); }
constexpr Cond operator!=(Expr a, Expr b) { return cmp(Cmp::Ne, std::move(a), std::move(b)); }
constexpr Cond operator<(Expr a, Expr b) { return cmp(Cmp::Lt, std::move(a), std::move(b)); }
constexpr Cond operator<=(Expr a, Expr b) { return cmp(Cmp::Le, std::move(a), std::move(b)); }
constexpr Cond operator>(Expr a, Expr b) { return cmp(Cmp::Gt, std::move(a), std::move(b)); }
constexpr Cond operator>=(Expr a, Expr b) { return cmp(Cmp::Ge, std::move(a), std::move(b)); }
constexpr Cond ult(Expr a, Expr b) { return cmp(Cmp::ULt, std::move(a), std::move(b)); }
constexpr Cond ule(Expr a, Expr b) { return cmp(Cmp::ULe, std::move(a), std::move(b)); }
constexpr Cond ugt(Expr a, Expr b) { return cmp(Cmp::UGt, std::move(a), std::move(b)); }
constexpr Cond uge(Expr a, Expr b) { return cmp(Cmp::UGe, std::move(a), std::move(b)); }
constexpr Cond operator!(Cond c) { return Not{std::move(c)}; }
constexpr Cond operator&&(Cond a, Cond b) { return And{std::move(a), std::move(b)}; }
constexpr Cond operator||(Cond a, Cond b) { return Or{std::move(a), std::move(b)}; }

constexpr Expr load(Expr base, std::int64_t disp, int width, Extend e = Extend::zero) {
  return MemVar{std::move(base), disp, width, e};
}
constexpr Stmt store(Expr base, std::int64_t disp, int width, Expr value) {
  return Assign{MemVar{std::move(base), disp, width}, std::move(value)};
}
constexpr Expr call(std::string_view f, std::vector<Expr> args = {}) { return Call{FuncAddr{f}, std::move(args)}; }
constexpr Expr syscall(Sys nr, std::vector<Expr> args = {}) { return Syscall{nr, std::move(args)}; }
constexpr Expr cstr(std::string_view s) { return Embed{s, true}; }

// Values are 64 bits; a C function's parameters may be narrower. These two say how a payload
// exchanges narrow integers with code built by a C compiler (width 8, 16 or 32; 64 is as is).
//
// narrow: the low `width` bits, zero- or sign-extended: what a parameter of a narrow C type
// holds. A function called from C reads its narrow parameters through it, since on AMD64 and
// ARM64 the bits above a narrow argument are unspecified, in registers and in stack slots alike.
constexpr Expr narrow(Expr v, int width, Extend e) {
  if (width >= 64) return v;
  if (e == Extend::zero) return std::move(v) & Int64{static_cast<std::int64_t>((std::uint64_t{1} << width) - 1)};
  return sar(std::move(v) << Int64{64 - width}, Int64{64 - width});
}
// host_arg: the value to pass for a parameter of a narrow C type, extended as every supported
// ABI accepts and as GCC and Clang callers pass it: 8- and 16-bit values by the type's
// signedness (Clang's AMD64 callees rely on it), 32-bit values sign-extended whatever their
// type's sign (the RISC-V LP64 ABI requires it, in registers and on the stack; AMD64 and ARM64
// ignore the upper half).
constexpr Expr host_arg(Expr v, int width, Extend e) {
  return narrow(std::move(v), width, width == 32 ? Extend::sign : e);
}

}  // namespace crumble::ir
