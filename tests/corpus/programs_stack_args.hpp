// SPDX-License-Identifier: Apache-2.0
// tests/corpus/programs_stack_args.hpp — calls with more arguments than the ABI's registers (7 to
// 16: the rest go on the stack, past 6 on AMD64 and past 8 on ARM64 and RISC-V), with values of
// every width, nested calls among the stack-passed arguments, indirect calls, parameters read
// and written where the caller left them, and recursion through such functions.
#pragma once

#include "support.hpp"

namespace crumble::corpus {

// ---- IR side ------------------------------------------------------------------------------

inline constexpr std::string_view stack_param[16] = {"p0", "p1", "p2",  "p3",  "p4",  "p5",  "p6",  "p7",
                                                     "p8", "p9", "p10", "p11", "p12", "p13", "p14", "p15"};
inline constexpr std::string_view wide_name[17] = {"", "", "", "", "", "", "", "w7", "w8",
                                                   "w9", "w10", "w11", "w12", "w13", "w14", "w15", "w16"};

// p0 * 31^(n-1) + p1 * 31^(n-2) + ... + p(n-1): every argument's value and place shows.
constexpr Expr mix_params(int n) {
  Expr e = Var{stack_param[0]};
  for (int i = 1; i < n; ++i) e = std::move(e) * 31 + Var{stack_param[i]};
  return e;
}
constexpr std::vector<std::string_view> params_of(int n) { return {stack_param, stack_param + n}; }
// w7 .. w16: mix_params of their 7 .. 16 parameters.
constexpr std::vector<Function> wide_functions() {
  std::vector<Function> fs;
  for (int n = 7; n <= 16; ++n) fs.push_back(Function{wide_name[n], params_of(n), {Return{mix_params(n)}}});
  return fs;
}
constexpr Expr wide(int n, std::vector<Expr> args) { return call(wide_name[n], std::move(args)); }

// ---- host side ----------------------------------------------------------------------------
namespace host {
inline i64 mix(std::initializer_list<i64> args) {
  i64 r = 0;
  bool first = true;
  for (i64 a : args) r = first ? a : add(mul(r, 31), a), first = false;
  return r;
}
}  // namespace host

// Constants of every width and sign in every position, variables, narrow loads (signed and not),
// computed values, nested calls among the stack-passed arguments (which reuse the area the outer
// call is filling), a call inside an expression whose temps must survive it, an indirect call.
constexpr Program stack_args_mixed() {
  Var a{"a"}, b{"b"}, x{"x"}, y{"y"}, fp{"fp"};
  BufferAddr m{"m"};
  Program p{{Function{"main", {}, {
      store(m, 0, 64, K(0x80f0e1d2c3b4a596)),
      Printf{"%d %d %d %d\n", {
          wide(7, {1, 2, 3, 4, 5, 6, 7}),
          wide(8, {Int8{-7}, Int16{-300}, Int32{-100000}, K(0x8000000000000001), Int32{0x7fffffff}, Int8{127}, Int16{0x7fff}, Int8{-128}}),
          wide(9, {0, 0, 0, 0, 0, 0, 0, 0, Int32{-1}}),
          wide(10, {10, 9, 8, 7, 6, 5, 4, 3, 2, K(0xffffffffffffffff)})}},
      Printf{"%d %d %d\n", {
          wide(11, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}),
          wide(12, {Int16{-2}, 0, 0, 0, 0, 0, 0, 0, 0, 0, Int8{-1}, Int32{-3}}),
          wide(13, {13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1})}},
      Printf{"%d %d %d\n", {
          wide(14, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}),
          wide(15, {K(0x0123456789abcdef), 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, K(0xfedcba9876543210)}),
          wide(16, {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1})}},
      Assign{a, 1000}, Assign{b, -3},
      // Narrow loads from m: 0x96 (signed -106), 0xa596, 0xc3b4a596 (signed), the whole word.
      Printf{"%d\n", {wide(16, {load(m, 0, 8, Extend::sign), load(m, 0, 8), load(m, 0, 16), load(m, 0, 16, Extend::sign),
                                load(m, 0, 32), load(m, 0, 32, Extend::sign), load(m, 0, 64), a, b, a + b, a * b,
                                load(m, 4, 32, Extend::sign), load(m, 6, 16, Extend::sign), load(m, 7, 8, Extend::sign), Int8{-1}, a - 1})}},
      Printf{"%d\n", {wide(16, {a + 1, a + 2, a + 3, a + 4, a + 5, a + 6, a + 7,
                                wide(7, {b, b, b, b, b, b, a}), a + 9, wide(9, {1, 2, 3, 4, 5, 6, 7, 8, a}),
                                a + 11, a + 12, wide(8, {a, 2, 3, 4, 5, 6, 7, b}), a + 14,
                                call("f2", {a, b}), a + 16})}},
      Printf{"%d\n", {wide(12, {wide(7, {1, 2, 3, 4, 5, 6, 7}), 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                wide(12, {12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, wide(8, {a, 1, 1, 1, 1, 1, 1, 1})})})}},
      Assign{x, 10}, Assign{y, 20},
      Printf{"%d\n", {(x + 0) * wide(9, {x + 1, y + 1, x + 2, y + 2, x + 3, y + 3, x + 4, y + 4, x + 5}) + (y + 0)}},
      Assign{fp, FuncAddr{"w13"}},
      Printf{"%d\n", {Call{fp, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, b}}}},
      Return{wide(10, {1, 2, 3, 4, 5, 6, 7, 8, 9, a}) & 0x7f},
  }, {Buffer{"m", 16}}}}};
  for (auto& fn : wide_functions()) p.functions.push_back(std::move(fn));
  p.functions.push_back(Function{"f2", {"a", "b"}, {Return{Var{"a"} * 10 + Var{"b"}}}});
  return p;
}
inline Expected stack_args_mixed_expected() {
  using namespace host;
  const i64 m = static_cast<i64>(0x80f0e1d2c3b4a596);
  const i64 a = 1000, b = -3, x = 10, y = 20;
  std::string o = format("%d %d %d %d\n", {
      mix({1, 2, 3, 4, 5, 6, 7}),
      mix({-7, -300, -100000, static_cast<i64>(0x8000000000000001), 0x7fffffff, 127, 0x7fff, -128}),
      mix({0, 0, 0, 0, 0, 0, 0, 0, -1}),
      mix({10, 9, 8, 7, 6, 5, 4, 3, 2, -1})});
  o += format("%d %d %d\n", {mix({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}), mix({-2, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, -3}),
                             mix({13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1})});
  o += format("%d %d %d\n", {mix({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}),
                             mix({0x0123456789abcdef, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, static_cast<i64>(0xfedcba9876543210)}),
                             mix({16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1})});
  o += format("%d\n", {mix({sext(m, 8), m & 0xff, m & 0xffff, sext(m, 16), m & 0xffffffff, sext(m, 32), m, a, b, a + b, a * b,
                            sext(sar(m, 32), 32), sext(sar(m, 48), 16), sext(sar(m, 56), 8), -1, a - 1})});
  o += format("%d\n", {mix({a + 1, a + 2, a + 3, a + 4, a + 5, a + 6, a + 7, mix({b, b, b, b, b, b, a}), a + 9,
                            mix({1, 2, 3, 4, 5, 6, 7, 8, a}), a + 11, a + 12, mix({a, 2, 3, 4, 5, 6, 7, b}), a + 14,
                            a * 10 + b, a + 16})});
  o += format("%d\n", {mix({mix({1, 2, 3, 4, 5, 6, 7}), 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                            mix({12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, mix({a, 1, 1, 1, 1, 1, 1, 1})})})});
  o += format("%d\n", {add(mul(x, mix({x + 1, y + 1, x + 2, y + 2, x + 3, y + 3, x + 4, y + 4, x + 5})), y)});
  o += format("%d\n", {mix({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, b})});
  return {o, status(mix({1, 2, 3, 4, 5, 6, 7, 8, 9, a}) & 0x7f)};
}

// A 16-parameter function whose stack-passed parameters are read, written (the callee owns the
// slots its caller filled) and passed on in another order, with enough locals busy in a loop
// that some parameters keep their stack slot and others move to callee-saved registers; it also
// prints and makes a syscall with them.
constexpr Program stack_params_forwarded() {
  Var i{"i"}, h0{"h0"}, h1{"h1"}, h2{"h2"};
  auto P = [](int k) { return Var{stack_param[k]}; };
  std::vector<Expr> reversed, rotated;
  for (int k = 15; k >= 0; --k) reversed.push_back(P(k) + 0);
  for (int k = 1; k <= 16; ++k) rotated.push_back(P(k % 16));
  Program p{{
      Function{"main", {}, {
          Printf{"%d\n", {call("fwd", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})}},
          Printf{"%d\n", {call("fwd", {-1, Int8{-2}, 3, K(0x8000000000000000), 5, 6, 7, 8, 9, Int16{-10}, 11, 12, 13, 14, Int32{-15}, 16})}},
          Return{call("fwd", {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}) & 0x7f},
      }},
      Function{"fwd", params_of(16), {
          While{i < 4, {Assign{h0, h0 + P(12) * i}, Assign{h1, h1 ^ (h0 + P(1))}, Assign{h2, h2 + h1 - P(15)}, Assign{i, i + 1}}},
          Assign{P(15), P(15) + P(0)},
          Assign{P(9), P(9) * 2},
          Printf{"%d %d %d|", {P(9), P(14), P(15)}},
          Syscall{Sys::write, {1, cstr("w|"), 2}},
          Return{call("w16", reversed) * 3 + call("w16", rotated) + h2 + (P(10) ^ P(13))},
      }},
  }};
  for (auto& fn : wide_functions()) p.functions.push_back(std::move(fn));
  return p;
}
inline Expected stack_params_forwarded_expected() {
  using namespace host;
  std::string o;
  auto fwd = [&](std::array<i64, 16> p) {
    i64 h0 = 0, h1 = 0, h2 = 0;
    for (i64 i = 0; i < 4; ++i) h0 = add(h0, mul(p[12], i)), h1 ^= add(h0, p[1]), h2 = sub(add(h2, h1), p[15]);
    p[15] = add(p[15], p[0]);
    p[9] = mul(p[9], 2);
    o += format("%d %d %d|", {p[9], p[14], p[15]}) + "w|";
    i64 rev = mix({p[15], p[14], p[13], p[12], p[11], p[10], p[9], p[8], p[7], p[6], p[5], p[4], p[3], p[2], p[1], p[0]});
    i64 rot = mix({p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[0]});
    return add(add(add(mul(rev, 3), rot), h2), p[10] ^ p[13]);
  };
  i64 r1 = fwd({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
  o += format("%d\n", {r1});
  i64 r2 = fwd({-1, -2, 3, I64_MIN, 5, 6, 7, 8, 9, -10, 11, 12, 13, 14, -15, 16});
  o += format("%d\n", {r2});
  i64 r3 = fwd({16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1});
  return {o, status(r3 & 0x7f)};
}

// Recursion through 10- and 16-parameter functions, 2000 deep: each level passes its parameters
// on rotated, so a stack-passed one reaches a register and back; sp must come back exactly.
constexpr Program stack_args_recursion() {
  Var n{"n"};
  auto P = [](int k) { return Var{stack_param[k]}; };
  std::vector<Expr> rot10{n - 1}, rot16{n - 1};
  for (int k = 2; k <= 9; ++k) rot10.push_back(P(k));
  rot10.push_back(P(1) + n);
  for (int k = 2; k <= 15; ++k) rot16.push_back(P(k) ^ n);
  rot16.push_back(P(1) * 3 + n);
  std::vector<std::string_view> ps10{"n"}, ps16{"n"};
  for (int k = 1; k <= 9; ++k) ps10.push_back(stack_param[k]);
  for (int k = 1; k <= 15; ++k) ps16.push_back(stack_param[k]);
  Expr m10 = P(1), m16 = P(1);
  for (int k = 2; k <= 9; ++k) m10 = std::move(m10) * 31 + P(k);
  for (int k = 2; k <= 15; ++k) m16 = std::move(m16) * 31 + P(k);
  return Program{{
      Function{"main", {}, {
          Printf{"%d %d\n", {call("r10", {2000, 1, 2, 3, 4, 5, 6, 7, 8, 9}), call("r10", {3, 9, 8, 7, 6, 5, 4, 3, 2, 1})}},
          Printf{"%d %d\n", {call("r16", {2000, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}),
                             call("r16", {7, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14, -15})}},
          Return{call("r10", {100, 1, 1, 1, 1, 1, 1, 1, 1, 1}) & 0x7f},
      }},
      Function{"r10", ps10, {If{n == 0, {Return{m10}}}, Return{call("r10", rot10) + (P(9) & 1)}}},
      Function{"r16", ps16, {If{n == 0, {Return{m16}}}, Return{call("r16", rot16) - P(15)}}},
  }};
}
inline Expected stack_args_recursion_expected() {
  using namespace host;
  auto r10 = [](auto& self, i64 n, std::array<i64, 9> p) -> i64 {
    if (n == 0) return mix({p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8]});
    std::array<i64, 9> q{};
    for (int k = 0; k < 8; ++k) q[k] = p[k + 1];
    q[8] = add(p[0], n);
    return add(self(self, n - 1, q), p[8] & 1);
  };
  auto r16 = [](auto& self, i64 n, std::array<i64, 15> p) -> i64 {
    if (n == 0) return mix({p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14]});
    std::array<i64, 15> q{};
    for (int k = 0; k < 14; ++k) q[k] = p[k + 1] ^ n;
    q[14] = add(mul(p[0], 3), n);
    return sub(self(self, n - 1, q), p[14]);
  };
  std::string o = format("%d %d\n", {r10(r10, 2000, {1, 2, 3, 4, 5, 6, 7, 8, 9}), r10(r10, 3, {9, 8, 7, 6, 5, 4, 3, 2, 1})});
  o += format("%d %d\n", {r16(r16, 2000, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}),
                          r16(r16, 7, {-1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14, -15})});
  return {o, status(r10(r10, 100, {1, 1, 1, 1, 1, 1, 1, 1, 1}) & 0x7f)};
}

}  // namespace crumble::corpus
