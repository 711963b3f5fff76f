// SPDX-License-Identifier: Apache-2.0
// tests/corpus/programs_calls.hpp — recursion, calls of every arity, argument permutations,
// nested calls, deep expressions that spill, many live variables, indirect calls.
#pragma once

#include "support.hpp"

namespace crumble::corpus {

// ---- recursion ----------------------------------------------------------------------------

// fib, counting its calls in a global.
constexpr Program fib_recursive() {
  Var n{"n"}, i{"i"};
  GlobalVar calls{"calls"};
  return Program{{
      Function{"main", {}, {
          While{i < 25, {Printf{"%d,", {call("fib", {i})}}, Assign{i, i + 1}}},
          Assign{calls, 0},
          Printf{"\nfib(15)=%d calls=%d\n", {call("fib", {15}), calls}},
          Return{call("fib", {13})},
      }},
      Function{"fib", {"n"}, {
          Assign{calls, calls + 1},
          If{n < 2, {Return{n}}},
          Return{call("fib", {n - 1}) + call("fib", {n - 2})},
      }},
  }, {Global{"calls"}}};
}
inline Expected fib_recursive_expected() {
  i64 calls = 0;
  auto fib = [&](auto& self, i64 n) -> i64 {
    ++calls;
    return n < 2 ? n : self(self, n - 1) + self(self, n - 2);
  };
  std::string o;
  for (i64 i = 0; i < 25; ++i) o += host::format("%d,", {fib(fib, i)});
  calls = 0;
  i64 f15 = fib(fib, 15);
  o += host::format("\nfib(15)=%d calls=%d\n", {f15, calls});
  return {o, host::status(fib(fib, 13))};
}

constexpr Program factorial() {
  Var n{"n"};
  return Program{{
      Function{"main", {}, {
          Printf{"%d %d %d\n", {call("fact", {0}), call("fact", {5}), call("fact", {20})}},
          Printf{"%d %u %x\n", {call("fact", {21}), call("fact", {21}), call("fact", {25})}},
          Return{call("fact", {5})},
      }},
      Function{"fact", {"n"}, {If{n <= 1, {Return{1}}}, Return{n * call("fact", {n - 1})}}},
  }};
}
inline Expected factorial_expected() {
  auto fact = [](i64 n) {
    i64 r = 1;
    for (i64 k = 2; k <= n; ++k) r = host::mul(r, k);
    return r;
  };
  std::string o = host::format("%d %d %d\n", {fact(0), fact(5), fact(20)});
  o += host::format("%d %u %x\n", {fact(21), fact(21), fact(25)});
  return {o, host::status(fact(5))};
}

constexpr Program ackermann() {
  Var m{"m"}, n{"n"};
  return Program{{
      Function{"main", {}, {
          Printf{"%d %d %d %d %d\n", {call("ack", {0, 0}), call("ack", {1, 2}), call("ack", {2, 3}),
                                      call("ack", {3, 3}), call("ack", {3, 5})}},
          Return{call("ack", {2, 3})},
      }},
      Function{"ack", {"m", "n"}, {
          If{m == 0, {Return{n + 1}}},
          If{n == 0, {Return{call("ack", {m - 1, 1})}}},
          Return{call("ack", {m - 1, call("ack", {m, n - 1})})},
      }},
  }};
}
inline Expected ackermann_expected() {
  auto ack = [](auto& self, i64 m, i64 n) -> i64 {
    if (m == 0) return n + 1;
    if (n == 0) return self(self, m - 1, 1);
    return self(self, m - 1, self(self, m, n - 1));
  };
  return {host::format("%d %d %d %d %d\n", {ack(ack, 0, 0), ack(ack, 1, 2), ack(ack, 2, 3), ack(ack, 3, 3), ack(ack, 3, 5)}),
          host::status(ack(ack, 2, 3))};
}

constexpr Program mutual_recursion() {
  Var n{"n"};
  return Program{{
      Function{"main", {}, {
          Printf{"%d%d%d%d%d %d%d\n", {call("even", {0}), call("even", {1}), call("even", {10}), call("even", {77}),
                                        call("even", {1000}), call("odd", {77}), call("odd", {1000})}},
          Return{call("odd", {999}) * 10 + call("even", {999})},
      }},
      Function{"even", {"n"}, {If{n == 0, {Return{1}}}, Return{call("odd", {n - 1})}}},
      Function{"odd", {"n"}, {If{n == 0, {Return{0}}}, Return{call("even", {n - 1})}}},
  }};
}
inline Expected mutual_recursion_expected() {
  auto even = [](i64 n) -> i64 { return n % 2 == 0; };
  auto odd = [](i64 n) -> i64 { return n % 2 != 0; };
  return {host::format("%d%d%d%d%d %d%d\n", {even(0), even(1), even(10), even(77), even(1000), odd(77), odd(1000)}),
          host::status(odd(999) * 10 + even(999))};
}

// 10000 nested calls.
constexpr Program deep_recursion() {
  Var n{"n"};
  return Program{{
      Function{"main", {}, {Printf{"%d\n", {call("sum", {10000})}}, Return{call("sum", {100}) % 256}}},
      Function{"sum", {"n"}, {If{n == 0, {Return{0}}}, Return{n + call("sum", {n - 1})}}},
  }};
}
inline Expected deep_recursion_expected() {
  return {host::format("%d\n", {i64{10000} * 10001 / 2}), host::status(100 * 101 / 2 % 256)};
}

constexpr Program gcd_lcm() {
  Var a{"a"}, b{"b"};
  return Program{{
      Function{"main", {}, {
          Printf{"%d %d %d %d %d\n", {call("gcd", {1071, 462}), call("gcd", {0, 5}), call("gcd", {17, 5}),
                                      call("gcd", {-48, 18}), call("gcd", {K(u64{1} << 40), K(u64{3} << 20)})}},
          Printf{"%d %d\n", {call("lcm", {21, 6}), call("lcm", {K(1000000007), K(998244353)})}},
          Return{call("gcd", {1071, 462})},
      }},
      Function{"gcd", {"a", "b"}, {If{b == 0, {Return{a}}}, Return{call("gcd", {b, a % b})}}},
      Function{"lcm", {"a", "b"}, {Return{a / call("gcd", {a, b}) * b}}},
  }};
}
inline Expected gcd_lcm_expected() {
  auto gcd = [](auto& self, i64 a, i64 b) -> i64 { return b == 0 ? a : self(self, b, a % b); };
  auto lcm = [&](i64 a, i64 b) { return host::mul(a / gcd(gcd, a, b), b); };
  std::string o = host::format("%d %d %d %d %d\n", {gcd(gcd, 1071, 462), gcd(gcd, 0, 5), gcd(gcd, 17, 5), gcd(gcd, -48, 18),
                                                    gcd(gcd, i64{1} << 40, i64{3} << 20)});
  o += host::format("%d %d\n", {lcm(21, 6), lcm(1000000007, 998244353)});
  return {o, host::status(gcd(gcd, 1071, 462))};
}

constexpr Program collatz() {
  Var n{"n"}, x{"x"}, steps{"steps"}, best{"best"}, arg{"arg"}, total{"total"};
  return Program{{Function{"main", {}, {
      Assign{n, 1},
      While{n < 1000, {
          Assign{x, n}, Assign{steps, 0},
          While{x != 1, {
              If{IsZero{x & 1}, {Assign{x, shr(x, 1)}}, {Assign{x, x * 3 + 1}}},
              Assign{steps, steps + 1},
          }},
          If{steps > best, {Assign{best, steps}, Assign{arg, n}}},
          Assign{total, total + steps},
          Assign{n, n + 1},
      }},
      Printf{"%d %d %d\n", {arg, best, total}},
      Return{best},
  }}}};
}
inline Expected collatz_expected() {
  i64 best = 0, arg = 0, total = 0;
  for (i64 n = 1; n < 1000; ++n) {
    i64 x = n, steps = 0;
    while (x != 1) {
      x = (x & 1) == 0 ? x >> 1 : x * 3 + 1;
      ++steps;
    }
    if (steps > best) best = steps, arg = n;
    total += steps;
  }
  return {host::format("%d %d %d\n", {arg, best, total}), host::status(best)};
}

// ---- calls: arity, argument order, nesting --------------------------------------------------

// posN(a, b, ...) = the digits a b ... read as a decimal number: shows every argument's place.
constexpr Expr positional(std::initializer_list<std::string_view> names) {
  Expr e = Int64{0};
  bool first = true;
  for (auto n : names) {
    if (first) e = Var{n};  // (no ?: on IR values: GCC 12 double-frees their temporaries in constexpr)
    else e = std::move(e) * 10 + Var{n};
    first = false;
  }
  return e;
}
constexpr std::vector<Function> positional_functions() {
  return {
      Function{"f0", {}, {Return{7}}},
      Function{"f1", {"a"}, {Return{Var{"a"} * 3}}},
      Function{"f2", {"a", "b"}, {Return{positional({"a", "b"})}}},
      Function{"f3", {"a", "b", "c"}, {Return{positional({"a", "b", "c"})}}},
      Function{"f4", {"a", "b", "c", "d"}, {Return{positional({"a", "b", "c", "d"})}}},
      Function{"f5", {"a", "b", "c", "d", "e"}, {Return{positional({"a", "b", "c", "d", "e"})}}},
      Function{"f6", {"a", "b", "c", "d", "e", "f"}, {Return{positional({"a", "b", "c", "d", "e", "f"})}}},
  };
}
namespace host {
inline i64 positional(std::initializer_list<i64> args) {
  i64 r = 0;
  for (i64 a : args) r = add(mul(r, 10), a);
  return r;
}
}  // namespace host

constexpr Program call_arity() {
  Var a{"a"}, b{"b"}, c{"c"}, d{"d"}, e{"e"}, f{"f"};
  GlobalVar g{"g"};
  Program p{{Function{"main", {}, {
      Printf{"%d %d %d %d %d %d %d\n", {call("f0"), call("f1", {5}), call("f2", {1, 2}), call("f3", {1, 2, 3}),
                                        call("f4", {1, 2, 3, 4}), call("f5", {1, 2, 3, 4, 5}),
                                        call("f6", {1, 2, 3, 4, 5, 6})}},
      Assign{a, 9}, Assign{b, 8}, Assign{c, 7}, Assign{d, 6}, Assign{e, 5}, Assign{f, 4},
      Printf{"%d %d %d\n", {call("f6", {a, b, c, d, e, f}), call("f6", {f, e, d, c, b, a}), call("f2", {-1, -2})}},
      Call{FuncAddr{"setg"}, {77}},
      store(BufferAddr{"m"}, 8, 64, 3),
      Printf{"%d %d\n", {g, call("f6", {a + 1, b * 2, c - 3, g, load(BufferAddr{"m"}, 8, 64), CondValue{a > b}})}},
      Printf{"%d %d\n", {call("f3", {call("f0"), call("f1", {1}), call("f2", {a, b})}), call("f1", {call("f1", {call("f1", {1})})})}},
      Return{call("f2", {a, b})},
  }, {Buffer{"m", 16}}}}, {Global{"g"}}};
  for (auto& fn : positional_functions()) p.functions.push_back(std::move(fn));
  p.functions.push_back(Function{"setg", {"v"}, {Assign{g, Var{"v"}}}});
  return p;
}
inline Expected call_arity_expected() {
  using host::positional;
  i64 a = 9, b = 8, c = 7, d = 6, e = 5, f = 4, g = 77;
  std::string o = host::format("%d %d %d %d %d %d %d\n", {7, 15, positional({1, 2}), positional({1, 2, 3}),
                                                          positional({1, 2, 3, 4}), positional({1, 2, 3, 4, 5}),
                                                          positional({1, 2, 3, 4, 5, 6})});
  o += host::format("%d %d %d\n", {positional({a, b, c, d, e, f}), positional({f, e, d, c, b, a}), positional({-1, -2})});
  o += host::format("%d %d\n", {g, positional({a + 1, b * 2, c - 3, g, 3, a > b})});
  o += host::format("%d %d\n", {positional({7, 3, positional({a, b})}), 27});
  return {o, host::status(positional({a, b}))};
}

// Arguments that must be permuted into the argument registers: computed values land in
// temporaries that are themselves argument registers, so the moves form chains and cycles.
constexpr Program call_permute() {
  Var a{"a"}, b{"b"}, c{"c"}, d{"d"}, e{"e"}, f{"f"};
  auto p6 = [](std::vector<Expr> args) { return call("f6", std::move(args)); };
  Program p{{
      Function{"main", {}, {
          Assign{a, 1},
          Printf{"%d\n", {call("perm", {a + 0, a + 1, a + 2, a + 3, a + 4, a + 5})}},
          Return{call("perm", {6, 5, 4, 3, 2, 1}) & 0x7f},
      }},
      Function{"perm", {"a", "b", "c", "d", "e", "f"}, {
          Printf{"%d %d %d %d\n", {p6({f, e, d, c, b, a}), p6({b, a, d, c, f, e}), p6({b, c, d, e, f, a}),
                                   p6({a, a, b, b, c, c})}},
          Printf{"%d %d %d\n", {p6({a + 0, b + 0, c + 0, d + 0, e + 0, f + 0}), p6({f + 0, e + 0, d + 0, c + 0, b + 0, a + 0}),
                                p6({b + 0, c + 0, d + 0, e + 0, f + 0, a + 0})}},
          Printf{"%d %d %d\n", {p6({a + 0, a + 0, b + 0, b + 0, c + 0, c + 0}), p6({7, b + 0, 8, a + 0, f, e + 0}),
                                p6({(a + 0) * (b + 0), c + 0, (d + 0) - (e + 0), f, 0, a + 0})}},
          Printf{"%d %d\n", {(a + 0) + (b + 0) * call("f2", {d + 0, c + 0}), (f + 0) * 1000 + call("f3", {c + 0, b + 0, a + 0})}},
          Printf{"%d %d\n", {call("f2", {b, a}), call("f2", {b + 0, a + 0})}},
          Return{call("f2", {b, a})},
      }},
  }};
  for (auto& fn : positional_functions()) p.functions.push_back(std::move(fn));
  return p;
}
inline Expected call_permute_expected() {
  using host::positional;
  std::string o;
  auto perm = [&](i64 a, i64 b, i64 c, i64 d, i64 e, i64 f) {
    o += host::format("%d %d %d %d\n", {positional({f, e, d, c, b, a}), positional({b, a, d, c, f, e}),
                                        positional({b, c, d, e, f, a}), positional({a, a, b, b, c, c})});
    o += host::format("%d %d %d\n", {positional({a, b, c, d, e, f}), positional({f, e, d, c, b, a}),
                                     positional({b, c, d, e, f, a})});
    o += host::format("%d %d %d\n", {positional({a, a, b, b, c, c}), positional({7, b, 8, a, f, e}),
                                     positional({a * b, c, d - e, f, 0, a})});
    o += host::format("%d %d\n", {a + b * positional({d, c}), f * 1000 + positional({c, b, a})});
    o += host::format("%d %d\n", {positional({b, a}), positional({b, a})});
    return positional({b, a});
  };
  i64 r1 = perm(1, 2, 3, 4, 5, 6);
  o += host::format("%d\n", {r1});
  i64 r2 = perm(6, 5, 4, 3, 2, 1);
  return {o, host::status(r2 & 0x7f)};
}

// Calls as arguments of calls, several levels deep.
constexpr Program nested_call_args() {
  Var x{"x"};
  auto g = [](Expr e) { return call("g", {std::move(e)}); };
  auto h = [](Expr e) { return call("h", {std::move(e)}); };
  auto f = [](Expr a, Expr b) { return call("f", {std::move(a), std::move(b)}); };
  Program p{{
      Function{"main", {}, {
          Assign{x, 3},
          Printf{"%d %d %d\n", {f(g(x), h(x + 1)), f(g(h(2)), h(g(2))), f(f(g(1), h(2)), f(h(3), g(4)))}},
          Printf{"%d\n", {call("f6", {g(1), h(2), g(3) + h(4), f(g(5), 6), 7, h(h(2)) * g(0)})}},
          Printf{"%d\n", {g(g(g(g(g(g(g(g(x))))))))}},
          Printf{"%d\n", {f(f(f(f(1, 2), f(3, 4)), f(f(5, 6), f(7, 8))), f(f(f(9, 10), f(11, 12)), f(f(13, 14), f(15, 16))))}},
          Return{f(g(1), h(1))},
      }},
      Function{"g", {"x"}, {Return{Var{"x"} * 2 + 1}}},
      Function{"h", {"y"}, {Return{Var{"y"} * Var{"y"}}}},
      Function{"f", {"a", "b"}, {Return{Var{"a"} * 1000 + Var{"b"}}}},
  }};
  for (auto& fn : positional_functions()) p.functions.push_back(std::move(fn));
  return p;
}
inline Expected nested_call_args_expected() {
  using namespace host;
  auto g = [](i64 x) { return x * 2 + 1; };
  auto h = [](i64 y) { return y * y; };
  auto f = [](i64 a, i64 b) { return add(mul(a, 1000), b); };
  i64 x = 3;
  std::string o = format("%d %d %d\n", {f(g(x), h(x + 1)), f(g(h(2)), h(g(2))), f(f(g(1), h(2)), f(h(3), g(4)))});
  o += format("%d\n", {positional({g(1), h(2), g(3) + h(4), f(g(5), 6), 7, h(h(2)) * g(0)})});
  o += format("%d\n", {g(g(g(g(g(g(g(g(x))))))))});
  o += format("%d\n", {f(f(f(f(1, 2), f(3, 4)), f(f(5, 6), f(7, 8))), f(f(f(9, 10), f(11, 12)), f(f(13, 14), f(15, 16))))});
  return {o, status(f(g(1), h(1)))};
}

// ---- deep expressions ----------------------------------------------------------------------

// Leaves cycle through: a load from the global array (a fresh temporary), a variable (in a
// register), a constant and a global variable. Inner nodes cycle through seven operators.
inline constexpr std::array<std::string_view, 4> tree_vars{"v0", "v1", "v2", "v3"};
constexpr i64 tree_array(int k) { return static_cast<i64>(u64(k) * 0x9e3779b97f4a7c15ULL + 12345); }
constexpr i64 tree_var(int k) { return i64{k} * 1000003 - 77; }
constexpr i64 tree_const(int i) { return i64{i} * 7919 - 50000; }
inline constexpr i64 tree_global = 0x1234567;
constexpr Expr tree_leaf(int i) {
  switch (i % 4) {
    case 0: return load(GlobalAddr{"arr"}, 8 * (i % 16), 64);
    case 1: return Var{tree_vars[static_cast<std::size_t>((i / 4) % 4)]};
    case 2: return Int64{tree_const(i)};
    default: return GlobalVar{"g"};
  }
}
constexpr OpKind tree_op(int i) {
  constexpr std::array<OpKind, 7> ops{OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::Xor, OpKind::Or, OpKind::Add, OpKind::And};
  return ops[static_cast<std::size_t>(i % 7)];
}
template <class Leaf>
constexpr Expr left_deep(int n, Leaf leaf) {
  Expr e = leaf(0);
  for (int i = 1; i < n; ++i) e = op(tree_op(i), std::move(e), leaf(i));
  return e;
}
template <class Leaf>
constexpr Expr right_deep(int n, int start, Leaf leaf) {
  if (n == 1) return leaf(start);
  return op(tree_op(start), leaf(start), right_deep(n - 1, start + 1, leaf));
}
template <class Leaf>
constexpr Expr balanced(int depth, int start, Leaf leaf) {
  if (depth == 0) return leaf(start);
  return op(tree_op(start + depth * 3), balanced(depth - 1, start, leaf),
            balanced(depth - 1, start + (1 << (depth - 1)), leaf));
}
namespace host {
inline i64 apply(OpKind k, i64 a, i64 b) {
  switch (k) {
    case OpKind::Add: return add(a, b);
    case OpKind::Sub: return sub(a, b);
    case OpKind::Mul: return mul(a, b);
    case OpKind::Xor: return a ^ b;
    case OpKind::Or: return a | b;
    case OpKind::And: return a & b;
    default: throw std::logic_error("tree op");
  }
}
template <class Leaf>
i64 left_deep_v(int n, Leaf leaf) {
  i64 e = leaf(0);
  for (int i = 1; i < n; ++i) e = apply(tree_op(i), e, leaf(i));
  return e;
}
template <class Leaf>
i64 right_deep_v(int n, int start, Leaf leaf) {
  if (n == 1) return leaf(start);
  i64 l = leaf(start);
  return apply(tree_op(start), l, right_deep_v(n - 1, start + 1, leaf));
}
template <class Leaf>
i64 balanced_v(int depth, int start, Leaf leaf) {
  if (depth == 0) return leaf(start);
  i64 l = balanced_v(depth - 1, start, leaf);
  return apply(tree_op(start + depth * 3), l, balanced_v(depth - 1, start + (1 << (depth - 1)), leaf));
}
inline i64 tree_leaf_v(int i) {
  switch (i % 4) {
    case 0: return tree_array(i % 16);
    case 1: return tree_var((i / 4) % 4);
    case 2: return tree_const(i);
    default: return tree_global;
  }
}
}  // namespace host

constexpr Block tree_setup() {
  Block b;
  for (int k = 0; k < 16; ++k) b.push_back(store(GlobalAddr{"arr"}, 8 * k, 64, K(static_cast<u64>(tree_array(k)))));
  for (int k = 0; k < 4; ++k) b.push_back(Assign{Var{tree_vars[static_cast<std::size_t>(k)]}, K(static_cast<u64>(tree_var(k)))});
  b.push_back(Assign{GlobalVar{"g"}, tree_global});
  return b;
}

constexpr Program deep_expr_spill() {
  auto leaf = [](int i) { return tree_leaf(i); };
  Block body = tree_setup();
  Var r{"r"};
  body.push_back(Printf{"%x %x\n", {left_deep(40, leaf), right_deep(30, 0, leaf)}});
  body.push_back(Printf{"%x\n", {balanced(7, 0, leaf)}});
  body.push_back(Printf{"%x %x\n", {right_deep(10, 3, leaf) + balanced(4, 9, leaf), balanced(5, 2, leaf) * right_deep(9, 1, leaf)}});
  body.push_back(Printf{"%d %d\n", {CondValue{balanced(3, 5, leaf) < right_deep(12, 3, leaf)},
                                     CondValue{ugt(right_deep(12, 3, leaf), balanced(3, 5, leaf))}}});
  body.push_back(If{right_deep(14, 2, leaf) == right_deep(14, 2, leaf), {Printf{"eq ok\n"}}});
  body.push_back(store(load(GlobalAddr{"ptr"}, 0, 64) + (right_deep(8, 0, leaf) & 8), 0, 64, right_deep(25, 7, leaf)));
  body.push_back(Printf{"%x %x\n", {load(GlobalAddr{"out"}, 0, 64), load(GlobalAddr{"out"}, 8, 64)}});
  body.push_back(Assign{r, right_deep(20, 1, leaf)});
  body.push_back(Return{r});
  body.insert(body.begin(), Assign{GlobalVar{"ptr"}, GlobalAddr{"out"}});
  return Program{{Function{"main", {}, std::move(body)}},
                 {Global{"arr", 128, 8}, Global{"g"}, Global{"ptr"}, Global{"out", 16, 8}}};
}
inline Expected deep_expr_spill_expected() {
  auto leaf = [](int i) { return host::tree_leaf_v(i); };
  
  std::string o = host::format("%x %x\n", {host::left_deep_v(40, leaf), host::right_deep_v(30, 0, leaf)});
  o += host::format("%x\n", {host::balanced_v(7, 0, leaf)});
  o += host::format("%x %x\n", {host::add(host::right_deep_v(10, 3, leaf), host::balanced_v(4, 9, leaf)),
                                host::mul(host::balanced_v(5, 2, leaf), host::right_deep_v(9, 1, leaf))});
  o += host::format("%d %d\n", {host::balanced_v(3, 5, leaf) < host::right_deep_v(12, 3, leaf),
                                host::ugt(host::right_deep_v(12, 3, leaf), host::balanced_v(3, 5, leaf))});
  o += "eq ok\n";
  i64 out[2] = {0, 0};
  out[(host::right_deep_v(8, 0, leaf) & 8) / 8] = host::right_deep_v(25, 7, leaf);
  o += host::format("%x %x\n", {out[0], out[1]});
  return {o, host::status(host::right_deep_v(20, 1, leaf))};
}

// Calls at the leaves and inside deep expressions; call arguments that are deep expressions.
constexpr i64 call_leaf_value(i64 k) { return k * k * 31 + 7; }
constexpr Program calls_in_deep_expr() {
  auto cleaf = [](int i) { return call("lf", {Int64{i}}); };
  auto mixed = [](int i) {
    if (i % 3 == 0) return call("lf", {tree_leaf(i)});
    return tree_leaf(i);
  };
  auto tleaf = [](int i) { return tree_leaf(i); };
  Block body = tree_setup();
  body.push_back(Printf{"%x\n", {balanced(4, 0, cleaf)}});
  body.push_back(Printf{"%x %x\n", {right_deep(12, 0, cleaf), left_deep(12, cleaf)}});
  body.push_back(Printf{"%x %x\n", {balanced(5, 1, mixed), right_deep(16, 2, mixed)}});
  body.push_back(Printf{"%x\n", {call("f2", {balanced(3, 0, cleaf), right_deep(8, 0, tleaf)})}});
  body.push_back(Printf{"%x\n", {call("f6", {call("lf", {right_deep(6, 1, mixed)}), balanced(2, 3, cleaf), 1,
                                             call("f2", {balanced(3, 2, mixed), cleaf(5)}), right_deep(7, 0, cleaf),
                                             left_deep(7, mixed)})}});
  body.push_back(Return{balanced(3, 0, cleaf)});
  Program p{{Function{"main", {}, std::move(body)},
             Function{"lf", {"k"}, {Return{Var{"k"} * Var{"k"} * 31 + 7}}}},
            {Global{"arr", 128, 8}, Global{"g"}}};
  for (auto& fn : positional_functions()) p.functions.push_back(std::move(fn));
  return p;
}
inline Expected calls_in_deep_expr_expected() {
  using namespace host;
  auto lf = [](i64 k) { return add(mul(mul(k, k), 31), 7); };
  auto cleaf = [&](int i) { return lf(i); };
  auto mixed = [&](int i) { return i % 3 == 0 ? lf(host::tree_leaf_v(i)) : host::tree_leaf_v(i); };
  auto tleaf = [](int i) { return host::tree_leaf_v(i); };
  std::string o = format("%x\n", {host::balanced_v(4, 0, cleaf)});
  o += format("%x %x\n", {host::right_deep_v(12, 0, cleaf), host::left_deep_v(12, cleaf)});
  o += format("%x %x\n", {host::balanced_v(5, 1, mixed), host::right_deep_v(16, 2, mixed)});
  o += format("%x\n", {positional({host::balanced_v(3, 0, cleaf), host::right_deep_v(8, 0, tleaf)})});
  o += format("%x\n", {positional({lf(host::right_deep_v(6, 1, mixed)), host::balanced_v(2, 3, cleaf), 1,
                                   positional({host::balanced_v(3, 2, mixed), cleaf(5)}), host::right_deep_v(7, 0, cleaf),
                                   host::left_deep_v(7, mixed)})});
  return {o, status(host::balanced_v(3, 0, cleaf))};
}

// More live variables than callee-saved registers, kept across calls in a loop, while the
// callees use many variables of their own.
inline constexpr int many_count = 14;
inline constexpr std::array<std::string_view, many_count> many_names{"v0", "v1", "v2", "v3", "v4", "v5", "v6",
                                                                      "v7", "v8", "v9", "v10", "v11", "v12", "v13"};
constexpr Program many_locals() {
  auto v = [](int k) { return Var{many_names[static_cast<std::size_t>(k)]}; };
  Var i{"i"};
  Block body;
  for (int k = 0; k < many_count; ++k) body.push_back(Assign{v(k), k * 11 + 1});
  Block loop;
  for (int k = 0; k < many_count; ++k) {
    const Var prev = v((k + many_count - 1) % many_count);
    if (k % 3 == 0) loop.push_back(Assign{v(k), call("mix", {v(k), prev})});
    else if (k % 3 == 1) loop.push_back(Assign{v(k), v(k) ^ (prev * 3 + i)});
    else loop.push_back(Assign{v(k), call("mix", {prev + i, v(k)}) - call("clobber", {v(k)})});
  }
  loop.push_back(Call{FuncAddr{"clobber"}, {i}});
  loop.push_back(Assign{i, i + 1});
  body.push_back(While{i < 10, std::move(loop)});
  for (int k = 0; k < many_count; k += 7)
    body.push_back(Printf{"%x %x %x %x %x %x %x\n", {v(k), v(k + 1), v(k + 2), v(k + 3), v(k + 4), v(k + 5), v(k + 6)}});
  Expr sum = v(0);
  for (int k = 1; k < many_count; ++k) sum = std::move(sum) + v(k);
  body.push_back(Return{std::move(sum)});

  Block clob;
  for (int k = 0; k < many_count; ++k) clob.push_back(Assign{v(k), Var{"x"} * (k + 2) - 1});
  Expr csum = v(0);
  for (int k = 1; k < many_count; ++k) csum = std::move(csum) ^ v(k);
  clob.push_back(Return{std::move(csum) & 0xffff});
  return Program{{
      Function{"main", {}, std::move(body)},
      Function{"mix", {"a", "b"}, {Return{Var{"a"} * 31 + Var{"b"}}}},
      Function{"clobber", {"x"}, std::move(clob)},
  }};
}
inline Expected many_locals_expected() {
  using namespace host;
  auto mix = [](i64 a, i64 b) { return add(mul(a, 31), b); };
  auto clobber = [](i64 x) {
    i64 s = 0;
    for (int k = 0; k < many_count; ++k) s ^= sub(mul(x, k + 2), 1);
    return s & 0xffff;
  };
  std::array<i64, many_count> v{};
  for (int k = 0; k < many_count; ++k) v[k] = k * 11 + 1;
  for (i64 i = 0; i < 10; ++i) {
    for (int k = 0; k < many_count; ++k) {
      i64 prev = v[(k + many_count - 1) % many_count];
      if (k % 3 == 0) v[k] = mix(v[k], prev);
      else if (k % 3 == 1) v[k] = v[k] ^ add(mul(prev, 3), i);
      else v[k] = sub(mix(add(prev, i), v[k]), clobber(v[k]));
    }
  }
  std::string o;
  for (int k = 0; k < many_count; k += 7)
    o += format("%x %x %x %x %x %x %x\n", {v[k], v[k + 1], v[k + 2], v[k + 3], v[k + 4], v[k + 5], v[k + 6]});
  i64 sum = 0;
  for (i64 x : v) sum = add(sum, x);
  return {o, status(sum)};
}

// ---- nesting that holds temporaries: CondValue inside comparisons inside CondValue ----------

// cv(k) = CondValue{vals[k] == cv(k - 1)}, cv(0) = CondValue{vals[0] == 7}: every level holds
// its result register and its comparison's left operand while the next level is evaluated.
inline constexpr std::array<i64, 7> nest_vals{7, 1, 0, 0, 1, 5, 0};
constexpr Expr cv_nest(int k) {
  if (k == 0) return CondValue{load(GlobalAddr{"vals"}, 0, 64) == 7};
  return CondValue{load(GlobalAddr{"vals"}, 8 * k, 64) == cv_nest(k - 1)};
}
namespace host {
inline i64 cv_nest(int k) { return k == 0 ? nest_vals[0] == 7 : nest_vals[static_cast<std::size_t>(k)] == cv_nest(k - 1); }
}  // namespace host
constexpr Program condvalue_nested() {
  Var x{"x"};
  Block body;
  for (std::size_t k = 0; k < nest_vals.size(); ++k)
    body.push_back(store(GlobalAddr{"vals"}, static_cast<i64>(8 * k), 64, Int64{nest_vals[k]}));
  body.push_back(Printf{"%d %d %d\n", {cv_nest(1), cv_nest(2), cv_nest(3)}});
  body.push_back(Printf{"%d %d %d\n", {cv_nest(4), cv_nest(5), cv_nest(6)}});
  body.push_back(If{load(GlobalAddr{"vals"}, 8, 64) == cv_nest(5), {Printf{"if yes\n"}}, {Printf{"if no\n"}}});
  body.push_back(store(load(GlobalAddr{"ptr"}, 0, 64) + load(GlobalAddr{"vals"}, 16, 64), 0, 64, cv_nest(6) + 40));
  body.push_back(Assign{x, (load(GlobalAddr{"vals"}, 0, 64) + 0) * 100 + cv_nest(4) * 10 + cv_nest(3)});
  body.push_back(Printf{"%d %d\n", {load(GlobalAddr{"out"}, 0, 64), x}});
  body.push_back(Return{x});
  body.insert(body.begin(), Assign{GlobalVar{"ptr"}, GlobalAddr{"out"}});
  return Program{{Function{"main", {}, std::move(body)}}, {Global{"vals", 64, 8}, Global{"ptr"}, Global{"out"}}};
}
inline Expected condvalue_nested_expected() {
  using host::cv_nest;
  std::string o = host::format("%d %d %d\n", {cv_nest(1), cv_nest(2), cv_nest(3)});
  o += host::format("%d %d %d\n", {cv_nest(4), cv_nest(5), cv_nest(6)});
  o += nest_vals[1] == cv_nest(5) ? "if yes\n" : "if no\n";
  i64 x = nest_vals[0] * 100 + cv_nest(4) * 10 + cv_nest(3);
  o += host::format("%d %d\n", {cv_nest(6) + 40, x});
  return {o, host::status(x)};
}

// Parameters that live in stack slots: the hot loop gives the callee-saved registers to locals.
constexpr Program params_on_stack() {
  Var i{"i"}, j{"j"}, h0{"h0"}, h1{"h1"}, h2{"h2"}, h3{"h3"}, h4{"h4"}, a{"a"}, f{"f"};
  Program p{{
      Function{"main", {}, {
          Printf{"%d %d\n", {call("six", {1, 2, 3, 4, 5, 6}), call("six", {call("f1", {3}), 8, 7, 6, 5, 4})}},
          Return{call("six", {9, 8, 7, 6, 5, 4}) & 0x7f},
      }},
      Function{"six", {"a", "b", "c", "d", "e", "f"}, {
          While{i < 5, {
              Assign{j, 0},
              While{j < 3, {Assign{h0, h0 + i * j}, Assign{h1, h1 ^ h0}, Assign{h2, h2 + h1 + j}, Assign{h3, h3 * 3 + h2},
                            Assign{h4, h4 - h3 + i}, Assign{j, j + 1}}},
              Assign{i, i + 1},
          }},
          Assign{a, a + call("f1", {f})},
          Return{positional({"a", "b", "c", "d", "e", "f"}) * 1000 + (h4 & 511)},
      }},
  }};
  for (auto& fn : positional_functions()) p.functions.push_back(std::move(fn));
  return p;
}
inline Expected params_on_stack_expected() {
  using namespace host;
  auto six = [](i64 a, i64 b, i64 c, i64 d, i64 e, i64 f) {
    i64 h0 = 0, h1 = 0, h2 = 0, h3 = 0, h4 = 0;
    for (i64 i = 0; i < 5; ++i)
      for (i64 j = 0; j < 3; ++j) {
        h0 += i * j, h1 ^= h0, h2 += h1 + j, h3 = h3 * 3 + h2, h4 = h4 - h3 + i;
      }
    a += f * 3;
    return add(mul(positional({a, b, c, d, e, f}), 1000), h4 & 511);
  };
  return {format("%d %d\n", {six(1, 2, 3, 4, 5, 6), six(9, 8, 7, 6, 5, 4)}), status(six(9, 8, 7, 6, 5, 4) & 0x7f)};
}

// ---- indirect calls -------------------------------------------------------------------------

constexpr Program indirect_calls() {
  Var i{"i"}, fp{"fp"}, x{"x"}, y{"y"};
  GlobalAddr table{"table"};
  Program p{{
      Function{"main", {}, {
          store(table, 0, 64, FuncAddr{"add"}), store(table, 8, 64, FuncAddr{"sub"}),
          store(table, 16, 64, FuncAddr{"mul"}), store(table, 24, 64, FuncAddr{"pick"}),
          While{i < 4, {Printf{"%d ", {Call{load(table + i * 8, 0, 64), {7, 3}}}}, Assign{i, i + 1}}},
          Assign{fp, FuncAddr{"sq"}},
          Printf{"%d %d %d\n", {Call{fp, {9}}, call("apply", {FuncAddr{"sq"}, 5}), call("apply", {FuncAddr{"neg"}, 5})}},
          Printf{"%d %d\n", {Call{fp, {Call{fp, {3}}}}, call("compose", {FuncAddr{"neg"}, fp, 4})}},
          Assign{fp, FuncAddr{"f6"}},
          Printf{"%d\n", {Call{fp, {1, 2, 3, 4, 5, 6}}}},
          Assign{x, 10}, Assign{y, 20},
          Printf{"%d\n", {(x + 0) * Call{load(table, 16, 64), {x + 1, y + 0}} + (y + 0)}},
          Printf{"%d %d\n", {CondValue{FuncAddr{"sq"} == Var{"sq_addr"}}, CondValue{FuncAddr{"sq"} != FuncAddr{"neg"}}}},
          // the target is itself computed by a call; an argument calls through a pointer too
          Printf{"%d %d\n", {Call{call("getf", {2}), {Call{load(table, 0, 64), {x, 1}}, 3}},
                              Call{call("getf", {0}), {call("getf", {3}) - call("getf", {3}) + 5, y + 0}}}},
          Return{Call{load(table, 24, 64), {200, 100}}},
      }},
      Function{"add", {"a", "b"}, {Return{Var{"a"} + Var{"b"}}}},
      Function{"sub", {"a", "b"}, {Return{Var{"a"} - Var{"b"}}}},
      Function{"mul", {"a", "b"}, {Return{Var{"a"} * Var{"b"}}}},
      Function{"pick", {"a", "b"}, {Return{Var{"b"}}}},
      Function{"sq", {"a"}, {Return{Var{"a"} * Var{"a"}}}},
      Function{"neg", {"a"}, {Return{0 - Var{"a"}}}},
      Function{"apply", {"f", "x"}, {Return{Call{Var{"f"}, {Var{"x"}}}}}},
      Function{"compose", {"f", "g", "x"}, {Return{Call{Var{"f"}, {Call{Var{"g"}, {Var{"x"}}}}}}}},
      Function{"getf", {"k"}, {Return{load(table + Var{"k"} * 8, 0, 64)}}},
  }, {Global{"table", 32, 8}}};
  // sq_addr: a variable holding the same address, assigned before its use.
  auto& main_body = p.functions[0].body;
  main_body.insert(main_body.begin(), Assign{Var{"sq_addr"}, FuncAddr{"sq"}});
  for (auto& fn : positional_functions()) p.functions.push_back(std::move(fn));
  return p;
}
inline Expected indirect_calls_expected() {
  std::string o = host::format("%d %d %d %d ", {7 + 3, 7 - 3, 7 * 3, 3});
  o += host::format("%d %d %d\n", {81, 25, -5});
  o += host::format("%d %d\n", {81, -16});
  o += host::format("%d\n", {123456});
  o += host::format("%d\n", {10 * (11 * 20) + 20});
  o += host::format("%d %d\n", {1, 1});
  o += host::format("%d %d\n", {(10 + 1) * 3, 5 + 20});
  return {o, 100};
}

}  // namespace crumble::corpus
