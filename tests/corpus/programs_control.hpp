// SPDX-License-Identifier: Apache-2.0
// tests/corpus/programs_control.hpp — comparisons, conditions, short-circuit, CondValue, if/else,
// loops with break/continue, labels and goto, return paths.
#pragma once

#include "support.hpp"

namespace crumble::corpus {

// The ten comparisons, by number: Eq Ne Lt Le Gt Ge ULt ULe UGt UGe.
constexpr Cond compare_k(int k, Expr a, Expr b) {
  switch (k) {
    case 0: return std::move(a) == std::move(b);
    case 1: return std::move(a) != std::move(b);
    case 2: return std::move(a) < std::move(b);
    case 3: return std::move(a) <= std::move(b);
    case 4: return std::move(a) > std::move(b);
    case 5: return std::move(a) >= std::move(b);
    case 6: return ult(std::move(a), std::move(b));
    case 7: return ule(std::move(a), std::move(b));
    case 8: return ugt(std::move(a), std::move(b));
    default: return uge(std::move(a), std::move(b));
  }
}
namespace host {
inline bool compare_k(int k, i64 a, i64 b) {
  switch (k) {
    case 0: return a == b;
    case 1: return a != b;
    case 2: return a < b;
    case 3: return a <= b;
    case 4: return a > b;
    case 5: return a >= b;
    case 6: return ult(a, b);
    case 7: return ule(a, b);
    case 8: return ugt(a, b);
    default: return uge(a, b);
  }
}
inline i64 compare_mask(i64 a, i64 b) {
  i64 m = 0;
  for (int k = 0; k < 10; ++k) m |= i64{compare_k(k, a, b)} << k;
  return m;
}
}  // namespace host

// Bit k set when comparison k holds, as one expression of ten CondValues.
constexpr Expr compare_mask_expr(const Expr& a, const Expr& b) {
  Expr m = CondValue{compare_k(0, a, b)};
  for (int k = 1; k < 10; ++k) m = std::move(m) | (CondValue{compare_k(k, a, b)} << k);
  return m;
}
// The same mask built with If statements into `n`; `negated` tests !cond and sets the bit in the
// else branch.
constexpr Block compare_mask_ifs(Var n, const Expr& a, const Expr& b, bool negated) {
  Block out{Assign{n, 0}};
  for (int k = 0; k < 10; ++k) {
    if (negated) out.push_back(If{!compare_k(k, a, b), {}, {Assign{n, n | (1 << k)}}});
    else out.push_back(If{compare_k(k, a, b), {Assign{n, n | (1 << k)}}});
  }
  return out;
}

inline constexpr std::array<i64, 7> cmp_values{0, -1, 1, I64_MIN, I64_MAX, 2, 0x80000000};

// Every comparison on every pair of boundary values, both operands in registers.
constexpr Program compare_matrix() {
  Var i{"i"}, j{"j"}, a{"a"}, b{"b"}, m{"m"}, n{"n"};
  BufferAddr vals{"vals"};
  Block body;
  for (std::size_t k = 0; k < cmp_values.size(); ++k)
    body.push_back(store(vals, static_cast<i64>(8 * k), 64, K(static_cast<u64>(cmp_values[k]))));
  Block inner{Assign{b, load(vals + j * 8, 0, 64)}, Assign{m, compare_mask_expr(a, b)}};
  for (auto& s : compare_mask_ifs(n, a, b, false)) inner.push_back(std::move(s));
  inner.push_back(Printf{"%x:%x ", {m, n}});
  inner.push_back(Assign{j, j + 1});
  body.push_back(While{i < static_cast<int>(cmp_values.size()), {
      Assign{a, load(vals + i * 8, 0, 64)}, Assign{j, 0},
      While{j < static_cast<int>(cmp_values.size()), std::move(inner)},
      Printf{"\n"}, Assign{i, i + 1},
  }});
  body.push_back(Return{m});
  return Program{{Function{"main", {}, std::move(body), {Buffer{"vals", 8 * cmp_values.size()}}}}};
}
inline Expected compare_matrix_expected() {
  std::string o;
  i64 m = 0;
  for (i64 a : cmp_values) {
    for (i64 b : cmp_values) {
      m = host::compare_mask(a, b);
      o += host::format("%x:%x ", {m, m});
    }
    o += "\n";
  }
  return {o, host::status(m)};
}

inline constexpr std::array<i64, 10> cmp_imm_lhs{0, -1, 1, I64_MIN, I64_MAX, 0x80000000, -0x80000000LL, 0x7fffffff,
                                                 5, -0x80000001LL};
inline constexpr std::array<i64, 8> cmp_imm_rhs{0, -1, 1, I64_MIN, I64_MAX, 0x80000000, -0x80000000LL, 0x7fffffff};

// Comparisons against immediates of every size (zero, imm32, imm64), constant on either side.
constexpr Program compare_imm() {
  Var i{"i"}, x{"x"}, n{"n"};
  BufferAddr vals{"vals"};
  Block body;
  for (std::size_t k = 0; k < cmp_imm_lhs.size(); ++k)
    body.push_back(store(vals, static_cast<i64>(8 * k), 64, K(static_cast<u64>(cmp_imm_lhs[k]))));
  Block loop{Assign{x, load(vals + i * 8, 0, 64)}};
  for (i64 c : cmp_imm_rhs) {
    for (auto& s : compare_mask_ifs(n, x, Int64{c}, true)) loop.push_back(std::move(s));
    loop.push_back(Printf{"%x %x %x|", {compare_mask_expr(x, Int64{c}), n, compare_mask_expr(Int64{c}, x)}});
  }
  loop.push_back(Printf{"\n"});
  loop.push_back(Assign{i, i + 1});
  body.push_back(While{i < static_cast<int>(cmp_imm_lhs.size()), std::move(loop)});
  body.push_back(Return{n});
  return Program{{Function{"main", {}, std::move(body), {Buffer{"vals", 8 * cmp_imm_lhs.size()}}}}};
}
inline Expected compare_imm_expected() {
  std::string o;
  i64 n = 0;
  for (i64 x : cmp_imm_lhs) {
    for (i64 c : cmp_imm_rhs) {
      n = host::compare_mask(x, c);
      o += host::format("%x %x %x|", {n, n, host::compare_mask(c, x)});
    }
    o += "\n";
  }
  return {o, host::status(n)};
}

// IsZero, IsNegative, Not, And, Or and their combinations, as branches and as values.
constexpr Cond logic_k(int k, const Expr& x) {
  switch (k) {
    case 0: return IsZero{x};
    case 1: return IsNegative{x};
    case 2: return !Cond{IsZero{x}};
    case 3: return !Cond{IsNegative{x}};
    case 4: return Cond{IsNegative{x}} && !Cond{IsZero{x}};
    case 5: return Cond{IsZero{x}} || Cond{IsNegative{x}};
    case 6: return !(Cond{IsZero{x}} || Cond{IsNegative{x}});
    case 7: return !((x > 0) && (x < 100));
    case 8: return ((x == 0) || (x == 1)) && !(x == 1);
    case 9: return ((x < 0) || (x > 10)) && (((x & 1) == 0) || Cond{IsNegative{x + 0}});
    case 10: return !!Cond{IsZero{x}};
    case 11: return IsNegative{x - 1};
    case 12: return IsZero{x + 1};
    default:
      return (Cond{IsZero{x}} && Cond{IsZero{x}}) || (!Cond{IsNegative{x}} && ((x & 3) == 3)) ||
             ((x == 12) && !(x != 12));
  }
}
namespace host {
inline bool logic_k(int k, i64 x) {
  switch (k) {
    case 0: return x == 0;
    case 1: return x < 0;
    case 2: return !(x == 0);
    case 3: return !(x < 0);
    case 4: return x < 0 && !(x == 0);
    case 5: return x == 0 || x < 0;
    case 6: return !(x == 0 || x < 0);
    case 7: return !(x > 0 && x < 100);
    case 8: return (x == 0 || x == 1) && !(x == 1);
    case 9: return (x < 0 || x > 10) && ((x & 1) == 0 || x < 0);
    case 10: return !!(x == 0);
    case 11: return sub(x, 1) < 0;
    case 12: return add(x, 1) == 0;
    default: return (x == 0 && x == 0) || (!(x < 0) && (x & 3) == 3) || (x == 12 && !(x != 12));
  }
}
}  // namespace host
inline constexpr int logic_count = 14;
inline constexpr std::array<i64, 9> logic_values{0, 1, -1, I64_MIN, I64_MAX, 7, 12, -12, 100};

constexpr Program cond_logic() {
  Var i{"i"}, x{"x"}, m{"m"}, n{"n"};
  BufferAddr vals{"vals"};
  Block body;
  for (std::size_t k = 0; k < logic_values.size(); ++k)
    body.push_back(store(vals, static_cast<i64>(8 * k), 64, K(static_cast<u64>(logic_values[k]))));
  Block loop{Assign{x, load(vals + i * 8, 0, 64)}, Assign{m, 0}, Assign{n, 0}};
  for (int k = 0; k < logic_count; ++k) {
    loop.push_back(Assign{m, m | (CondValue{logic_k(k, x)} << k)});
    loop.push_back(If{logic_k(k, x), {Assign{n, n | (1 << k)}}, {Assign{n, n | (0x10000 << k)}}});
  }
  loop.push_back(Printf{"%x %x\n", {m, n}});
  loop.push_back(Assign{i, i + 1});
  body.push_back(While{i < static_cast<int>(logic_values.size()), std::move(loop)});
  body.push_back(Return{m});
  return Program{{Function{"main", {}, std::move(body), {Buffer{"vals", 8 * logic_values.size()}}}}};
}
inline Expected cond_logic_expected() {
  std::string o;
  i64 m = 0;
  for (i64 x : logic_values) {
    m = 0;
    i64 n = 0;
    for (int k = 0; k < logic_count; ++k) {
      bool b = host::logic_k(k, x);
      m |= i64{b} << k;
      n |= b ? i64{1} << k : i64{0x10000} << k;
    }
    o += host::format("%x %x\n", {m, n});
  }
  return {o, host::status(m)};
}

// And/Or evaluate their second operand only when needed: bump(v, tag) appends tag to the global
// `log` and returns v, so the log shows which calls ran, in order.
constexpr Cond short_case(int k) {
  auto B = [](int v, int tag) { return call("bump", {v, tag}) != 0; };
  switch (k) {
    case 0: return B(0, 1) && B(1, 2);
    case 1: return B(1, 1) && B(1, 2);
    case 2: return B(1, 1) || B(0, 2);
    case 3: return B(0, 1) || B(1, 2);
    case 4: return !(B(0, 1) && B(1, 2));
    case 5: return !(B(1, 1) || B(1, 2));
    case 6: return (B(1, 1) || B(1, 2)) && B(0, 3);
    case 7: return (B(0, 1) && B(1, 2)) || B(1, 3);
    case 8: return (B(0, 1) || B(0, 2)) || (B(1, 3) && B(0, 4));
    case 9: return B(1, 1) && (B(0, 2) || (B(1, 3) && B(1, 4)));
    default: return !(!B(0, 1) || B(1, 2)) && B(1, 3);
  }
}
inline constexpr int short_cases = 11;
constexpr Program short_circuit() {
  Var r{"r"}, i{"i"};
  GlobalVar log{"log"};
  Block body;
  for (int k = 0; k < short_cases; ++k) {
    body.push_back(Assign{log, 0});
    body.push_back(If{short_case(k), {Assign{r, 1}}, {Assign{r, 0}}});
    body.push_back(Printf{"%d:%d ", {r, log}});
    body.push_back(Assign{log, 0});
    body.push_back(Assign{r, CondValue{short_case(k)} + 10});
    body.push_back(Printf{"%d:%d\n", {r, log}});
  }
  body.push_back(Assign{log, 0});
  body.push_back(While{(i < 3) && (call("bump", {1, 5}) != 0), {Assign{i, i + 1}}});
  body.push_back(Printf{"while %d:%d\n", {i, log}});
  body.push_back(Assign{log, 0});
  body.push_back(Assign{r, 100 + CondValue{(call("bump", {1, 6}) != 0) || (call("bump", {1, 7}) != 0)} * 5});
  body.push_back(Printf{"expr %d:%d\n", {r, log}});
  body.push_back(Return{log});
  return Program{{
      Function{"main", {}, std::move(body)},
      Function{"bump", {"v", "tag"}, {Assign{log, log * 10 + Var{"tag"}}, Return{Var{"v"}}}},
  }, {Global{"log"}}};
}
inline bool short_host(int k, i64& log) {
  auto B = [&](int v, int tag) {
    log = log * 10 + tag;
    return v != 0;
  };
  switch (k) {
    case 0: return B(0, 1) && B(1, 2);
    case 1: return B(1, 1) && B(1, 2);
    case 2: return B(1, 1) || B(0, 2);
    case 3: return B(0, 1) || B(1, 2);
    case 4: return !(B(0, 1) && B(1, 2));
    case 5: return !(B(1, 1) || B(1, 2));
    case 6: return (B(1, 1) || B(1, 2)) && B(0, 3);
    case 7: return (B(0, 1) && B(1, 2)) || B(1, 3);
    case 8: return (B(0, 1) || B(0, 2)) || (B(1, 3) && B(0, 4));
    case 9: return B(1, 1) && (B(0, 2) || (B(1, 3) && B(1, 4)));
    default: return !(!B(0, 1) || B(1, 2)) && B(1, 3);
  }
}
inline Expected short_circuit_expected() {
  std::string o;
  i64 log = 0;
  for (int k = 0; k < short_cases; ++k) {
    log = 0;
    i64 r = short_host(k, log) ? 1 : 0;
    o += host::format("%d:%d ", {r, log});
    log = 0;
    r = (short_host(k, log) ? 1 : 0) + 10;
    o += host::format("%d:%d\n", {r, log});
  }
  log = 0;
  i64 i = 0;
  auto bump = [&](int v, int tag) {
    log = log * 10 + tag;
    return v;
  };
  while (i < 3 && bump(1, 5) != 0) ++i;
  o += host::format("while %d:%d\n", {i, log});
  log = 0;
  i64 r = 100 + ((bump(1, 6) != 0 || bump(1, 7) != 0) ? 1 : 0) * 5;
  o += host::format("expr %d:%d\n", {r, log});
  return {o, host::status(log)};
}

// CondValue as a value: in sums, stores, arguments, comparisons.
constexpr Program condvalue() {
  Var s{"s"}, t{"t"}, i{"i"};
  BufferAddr b{"b"};
  return Program{{
      Function{"main", {}, {
          While{i < 100, {
              Assign{s, s + CondValue{i % 3 == 0} + 2 * CondValue{(i % 5 == 0) && (i % 2 == 1)} +
                            4 * CondValue{!(i < 50) || (i == 7)}},
              store(b + i, 0, 8, CondValue{ugt(i, 90)}),
              Assign{i, i + 1},
          }},
          Assign{i, 0},
          While{i < 100, {Assign{t, t + load(b + i, 0, 8)}, Assign{i, i + 1}}},
          Printf{"%d %d %d %d\n", {s, t, CondValue{s > t} * 1000 + CondValue{s == t},
                                   call("id", {CondValue{IsZero{s - s}}})}},
          If{CondValue{s < t} == 0, {Printf{"not less\n"}}},
          Return{CondValue{CondValue{t == 9} == 1} + 40},
      }, {Buffer{"b", 112}}},
      Function{"id", {"v"}, {Return{Var{"v"}}}},
  }};
}
inline Expected condvalue_expected() {
  i64 s = 0, t = 0;
  for (i64 i = 0; i < 100; ++i) {
    s += (i % 3 == 0) + 2 * (i % 5 == 0 && i % 2 == 1) + 4 * (!(i < 50) || i == 7);
    t += static_cast<u64>(i) > 90;
  }
  std::string o = host::format("%d %d %d %d\n", {s, t, (s > t) * 1000 + (s == t), 1});
  if (!(s < t)) o += "not less\n";
  return {o, host::status((t == 9) + 40)};
}

// ---- if/else ------------------------------------------------------------------------------

// A full binary tree of nested if/else, 7 deep: each level tests one bit of n (MSB first) in a
// different way; the leaf reached assigns n * 7 + 3.
constexpr Block if_tree(const Var& n, const Var& r, int depth, i64 prefix) {
  if (depth == 7) return {Assign{r, Int64{prefix * 7 + 3}}};
  const i64 bit = i64{1} << (6 - depth);
  auto tree = [&](Cond c) {
    return Block{If{std::move(c), if_tree(n, r, depth + 1, prefix * 2 + 1), if_tree(n, r, depth + 1, prefix * 2)}};
  };
  if (depth % 3 == 0) return tree((n & bit) != 0);
  if (depth % 3 == 1) return tree(!Cond{IsZero{n & bit}});
  return tree(ugt(n & bit, 0));
}
// Nested ifs with empty else: how many of n > 0, n > 1, ... n > 7 hold, counted 8 deep; the
// else branches of some levels record where the descent stopped.
constexpr Block if_ladder(const Var& n, const Var& c, const Var& e, int k) {
  if (k == 8) return {};
  Block then{Assign{c, c + 1}};
  for (auto& s : if_ladder(n, c, e, k + 1)) then.push_back(std::move(s));
  Block otherwise;
  if (k % 2 == 0) otherwise.push_back(Assign{e, Int64{100 + k}});
  return {If{n > k, std::move(then), std::move(otherwise)}};
}
constexpr Program nested_if_deep() {
  Var n{"n"}, r{"r"}, c{"c"}, e{"e"}, s{"s"}, t{"t"}, u{"u"};
  Block classify = if_tree(n, r, 0, 0);
  classify.push_back(Return{r});
  Block ladder = if_ladder(n, c, e, 0);
  ladder.push_back(Return{c * 1000 + e});
  return Program{{
      Function{"main", {}, {
          Assign{n, -3},
          While{n < 131, {
              Assign{s, s + (call("classify", {n & 127}) ^ n)},
              Assign{t, t + call("ladder", {n})},
              Assign{u, u * 31 + call("ladder", {n})},
              Assign{n, n + 1},
          }},
          Printf{"%d %d %d %d %d\n", {s, t, u, call("classify", {77}), call("ladder", {5})}},
          Return{call("classify", {5})},
      }},
      Function{"classify", {"n"}, std::move(classify)},
      Function{"ladder", {"n"}, std::move(ladder)},
  }};
}
inline i64 ladder_host(i64 n) {
  i64 c = 0, e = 0;
  for (int k = 0; k < 8; ++k) {
    if (n > k) ++c;
    else {
      if (k % 2 == 0) e = 100 + k;
      break;
    }
  }
  return c * 1000 + e;
}
inline Expected nested_if_deep_expected() {
  using namespace host;
  auto classify = [](i64 n) { return n * 7 + 3; };
  i64 s = 0, t = 0, u = 0;
  for (i64 n = -3; n < 131; ++n) {
    s += classify(n & 127) ^ n;
    t += ladder_host(n);
    u = add(mul(u, 31), ladder_host(n));
  }
  return {format("%d %d %d %d %d\n", {s, t, u, classify(77), ladder_host(5)}), status(classify(5))};
}

// An else-if ladder of 20 cases (a switch), each returning a letter.
inline constexpr int switch_cases = 20;
constexpr i64 switch_value(int k) { return i64{k} * k - 10; }
constexpr Block switch_ladder(const Var& n, int k) {
  if (k == switch_cases) return {Return{'?'}};
  return {If{n == Int64{switch_value(k)}, {Return{Int64{'A' + k}}}, switch_ladder(n, k + 1)}};
}
constexpr Program else_if_chain() {
  Var n{"n"}, c{"c"}, q{"q"};
  return Program{{
      Function{"main", {}, {
          Assign{n, -12},
          While{n <= 400, {
              Assign{c, call("sw", {n})},
              If{c != '?', {Printf{"%d=%c ", {n, c}}}, {Assign{q, q + 1}}},
              Assign{n, n + 1},
          }},
          Printf{"\nmisses %d\n", {q}},
          Return{call("sw", {-1})},
      }},
      Function{"sw", {"n"}, switch_ladder(n, 0)},
  }};
}
inline Expected else_if_chain_expected() {
  auto sw = [](i64 n) -> i64 {
    for (int k = 0; k < switch_cases; ++k)
      if (n == switch_value(k)) return 'A' + k;
    return '?';
  };
  std::string o;
  i64 q = 0;
  for (i64 n = -12; n <= 400; ++n) {
    i64 c = sw(n);
    if (c != '?') o += host::format("%d=%c ", {n, c});
    else ++q;
  }
  o += host::format("\nmisses %d\n", {q});
  return {o, host::status(sw(-1))};
}

// ---- loops ----------------------------------------------------------------------------------

constexpr Program while_break_continue() {
  Var i{"i"}, j{"j"}, s{"s"}, t{"t"}, k{"k"};
  return Program{{Function{"main", {}, {
      While{i < 1000, {
          Assign{i, i + 1},
          If{i % 3 == 0, {Continue{}}},
          If{i > 200, {Break{}}},
          Assign{s, s + i},
          Assign{j, 0},
          While{j < 100, {
              Assign{j, j + 1},
              If{j == i % 7, {Break{}}},
              If{(j & 1) == 0, {Continue{}}},
              Assign{t, t + j},
          }},
      }},
      While{IsZero{Int64{0}}, {Assign{k, k + 3}, If{k > 50, {Break{}}}}},
      While{i > 1000, {Printf{"never\n"}}},
      Printf{"%d %d %d %d\n", {s, i, t, k}},
      Return{k},
  }}}};
}
inline Expected while_break_continue_expected() {
  i64 i = 0, s = 0, t = 0, k = 0;
  while (i < 1000) {
    ++i;
    if (i % 3 == 0) continue;
    if (i > 200) break;
    s += i;
    i64 j = 0;
    while (j < 100) {
      ++j;
      if (j == i % 7) break;
      if ((j & 1) == 0) continue;
      t += j;
    }
  }
  for (;;) {
    k += 3;
    if (k > 50) break;
  }
  return {host::format("%d %d %d %d\n", {s, i, t, k}), host::status(k)};
}

constexpr Program while_complex_cond() {
  Var i{"i"}, j{"j"}, n{"n"}, k{"k"};
  return Program{{Function{"main", {}, {
      Assign{j, 5},
      While{((i < 100) && (i * i < 2000)) || ((j > 0) && (i < 120)), {
          If{i * i >= 2000, {Assign{j, j - 1}}},
          Assign{i, i + 1},
          Assign{n, n + i},
      }},
      While{!(k >= 10), {Assign{k, k + 1}}},
      While{ult(k - 20, 5) || (k < 20), {Assign{k, k + 2}}},
      Printf{"%d %d %d %d\n", {i, j, n, k}},
      Return{i},
  }}}};
}
inline Expected while_complex_cond_expected() {
  i64 i = 0, j = 5, n = 0, k = 0;
  while ((i < 100 && i * i < 2000) || (j > 0 && i < 120)) {
    if (i * i >= 2000) --j;
    ++i;
    n += i;
  }
  while (!(k >= 10)) ++k;
  while (host::ult(k - 20, 5) || k < 20) k += 2;
  return {host::format("%d %d %d %d\n", {i, j, n, k}), host::status(i)};
}

// Loops made of labels and gotos, a goto out of two nested loops, a forward goto.
constexpr Program goto_loops() {
  Var i{"i"}, j{"j"}, s{"s"};
  return Program{{Function{"main", {}, {
      Label{"top"},
      If{i >= 100, {Goto{"done"}}},
      Assign{s, s + i}, Assign{i, i + 1},
      Goto{"top"},
      Label{"done"},
      Printf{"sum %d\n", {s}},
      Assign{i, 0},
      While{i < 10, {
          Assign{j, 0},
          While{j < 10, {If{i * j == 42, {Goto{"found"}}}, Assign{j, j + 1}}},
          Assign{i, i + 1},
      }},
      Printf{"not found\n"},
      Label{"found"},
      Printf{"found %d %d\n", {i, j}},
      Goto{"skip"},
      Printf{"skipped!\n"},
      Label{"skip"},
      Assign{s, 0},
      Label{"countdown"},
      Assign{s, s + 1},
      If{s < 7, {Goto{"countdown"}}, {Goto{"last"}}},
      Printf{"unreachable\n"},
      Label{"last"},
      Printf{"count %d %d\n", {s, call("count_to", {5})}},
  }},
  // the same label names in another function
  Function{"count_to", {"n"}, {
      Label{"top"}, Assign{i, i + 1}, If{i < Var{"n"}, {Goto{"top"}}}, Goto{"done"}, Label{"done"}, Return{i * 10},
  }}}};
}
inline Expected goto_loops_expected() {
  i64 s = 0;
  for (i64 i = 0; i < 100; ++i) s += i;
  std::string o = host::format("sum %d\n", {s});
  i64 fi = -1, fj = -1;
  for (i64 i = 0; i < 10 && fi < 0; ++i)
    for (i64 j = 0; j < 10; ++j)
      if (i * j == 42) {
        fi = i, fj = j;
        break;
      }
  o += host::format("found %d %d\n", {fi, fj});
  o += host::format("count %d %d\n", {7, 50});
  return {o, 0};
}

// Returns from inside nested loops and nested ifs; Return without a value.
constexpr Program return_paths() {
  Var i{"i"}, j{"j"}, x{"x"}, n{"n"};
  return Program{{
      Function{"main", {}, {
          Printf{"%d %d %d\n", {call("find", {42}), call("find", {9973}), call("find", {0})}},
          Printf{"%d %d %d\n", {call("sign", {-5}), call("sign", {0}), call("sign", {7})}},
          Printf{"%d %d %d %d\n", {call("deep", {-1}), call("deep", {5}), call("deep", {50}), call("deep", {500})}},
          Return{call("find", {99 * 98})},
      }},
      Function{"find", {"n"}, {
          While{i < 100, {
              Assign{j, 0},
              While{j < 100, {If{i * j == n, {Return{i * 1000 + j}}}, Assign{j, j + 1}}},
              Assign{i, i + 1},
          }},
          Return{-1},
      }},
      Function{"sign", {"x"}, {If{x < 0, {Return{-1}}}, If{x == 0, {Return{}}}, Return{1}}},
      Function{"deep", {"x"}, {
          If{x > 0, {If{x > 10, {If{x > 100, {Return{3}}}, Return{2}}}, Return{1}}},
          Return{0},
      }},
  }};
}
inline Expected return_paths_expected() {
  auto find = [](i64 n) -> i64 {
    for (i64 i = 0; i < 100; ++i)
      for (i64 j = 0; j < 100; ++j)
        if (i * j == n) return i * 1000 + j;
    return -1;
  };
  auto sign = [](i64 x) -> i64 { return x < 0 ? -1 : x == 0 ? 0 : 1; };
  auto deep = [](i64 x) -> i64 { return x > 0 ? (x > 10 ? (x > 100 ? 3 : 2) : 1) : 0; };
  std::string o = host::format("%d %d %d\n", {find(42), find(9973), find(0)});
  o += host::format("%d %d %d\n", {sign(-5), sign(0), sign(7)});
  o += host::format("%d %d %d %d\n", {deep(-1), deep(5), deep(50), deep(500)});
  return {o, host::status(find(99 * 98))};
}

// Locals start at zero on every call, even after another call left garbage in registers and
// on the stack.
constexpr Program locals_zero_init() {
  Var a{"a"}, b{"b"}, c{"c"}, d{"d"}, e{"e"}, f{"f"}, g{"g"}, h{"h"}, x{"x"}, y{"y"}, i{"i"}, s{"s"};
  return Program{{
      Function{"main", {}, {
          Printf{"%d %d %d %d\n", {call("dirty"), call("zero", {1}), call("acc", {10}), call("zero", {12345})}},
          Printf{"%d %d\n", {call("dirty") + call("zero", {2}), call("acc", {0})}},
          Return{call("zero", {3})},
      }},
      Function{"dirty", {}, {
          Assign{a, -1}, Assign{b, -2}, Assign{c, -3}, Assign{d, -4}, Assign{e, -5}, Assign{f, -6}, Assign{g, -7},
          Assign{h, -8}, Assign{x, -9}, Assign{y, -10}, Assign{i, -11}, Assign{s, -12},
          Return{a + b + c + d + e + f + g + h + x + y + i + s},
      }},
      Function{"zero", {"flag"}, {
          If{Var{"flag"} == 12345, {Assign{x, 5}, Assign{y, 6}}},
          Return{x * 100 + y},
      }},
      Function{"acc", {"n"}, {While{i < Var{"n"}, {Assign{s, s + i}, Assign{i, i + 1}}}, Return{s}}},
  }};
}
inline Expected locals_zero_init_expected() {
  i64 dirty = 0;
  for (int k = 1; k <= 12; ++k) dirty -= k;
  std::string o = host::format("%d %d %d %d\n", {dirty, 0, 45, 506});
  o += host::format("%d %d\n", {dirty, 0});
  return {o, 0};
}

// Bodies too long for short branches: the if, the loop and the backward goto need long forms.
constexpr Block long_block(const Var& x) {
  Block b;
  for (int k = 0; k < 60; ++k) b.push_back(Assign{x, x * 3 + k});
  return b;
}
constexpr Program branch_relaxation() {
  Var x{"x"}, i{"i"}, s{"s"};
  Block loop = long_block(x);
  loop.push_back(Assign{s, s ^ x});
  loop.push_back(Assign{i, i + 1});
  Block body{Assign{x, 1}, If{x == 1, long_block(x), {Assign{x, 0}}}, Printf{"%x\n", {x}},
             While{i < 5, std::move(loop)}, Printf{"%x %x\n", {x, s}}, Label{"top"}, Assign{i, i + 1}};
  for (auto& st : long_block(x)) body.push_back(std::move(st));
  body.push_back(If{i < 10, {Goto{"top"}}});
  body.push_back(If{x != 12345, {Goto{"out"}}});
  for (auto& st : long_block(x)) body.push_back(std::move(st));
  body.push_back(Label{"out"});
  body.push_back(Printf{"%x %d\n", {x, i}});
  body.push_back(Return{x});
  return Program{{Function{"main", {}, std::move(body)}}};
}
inline Expected branch_relaxation_expected() {
  using namespace host;
  auto longb = [](i64& x) {
    for (int k = 0; k < 60; ++k) x = add(mul(x, 3), k);
  };
  i64 x = 1, i = 0, s = 0;
  longb(x);
  std::string o = format("%x\n", {x});
  while (i < 5) {
    longb(x);
    s ^= x;
    ++i;
  }
  o += format("%x %x\n", {x, s});
  do {
    ++i;
    longb(x);
  } while (i < 10);
  o += format("%x %d\n", {x, i});
  return {o, status(x)};
}

}  // namespace crumble::corpus
