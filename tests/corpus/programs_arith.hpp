// SPDX-License-Identifier: Apache-2.0
// tests/corpus/programs_arith.hpp — exit status, arithmetic, overflow, division, shifts, bits.
#pragma once

#include "support.hpp"

namespace crumble::corpus {

// ---- exit status --------------------------------------------------------------------------

constexpr Program exit_const() { return Program{{Function{"main", {}, {Return{42}}}}}; }
inline Expected exit_const_expected() { return {"", 42}; }

// Only the low 8 bits of main's result reach the parent.
constexpr Program exit_wrap() {
  Var x{"x"};
  return Program{{Function{"main", {}, {Assign{x, 1000}, Return{x + 0x12000}}}}};
}
inline Expected exit_wrap_expected() { return {"", host::status(1000 + 0x12000)}; }

constexpr Program exit_negative() {
  Var x{"x"};
  return Program{{Function{"main", {}, {Assign{x, 7}, Return{0 - x}}}}};
}
inline Expected exit_negative_expected() { return {"", host::status(-7)}; }

// Falling off the end of a function returns 0 (main and a callee).
constexpr Program fall_off_end() {
  return Program{{
      Function{"main", {}, {Printf{"no return\n"}, Printf{"f=%d\n", {call("f") + 5}}}},
      Function{"f", {}, {Printf{"in %s\n", {cstr("f")}}}},
  }};
}
inline Expected fall_off_end_expected() { return {"no return\nin f\nf=5\n", 0}; }

// Printf without arguments, in functions where no Printf has arguments.
constexpr Program printf_no_args() {
  return Program{{
      Function{"main", {}, {Printf{"hello\n"}, Call{FuncAddr{"f"}, {}}, Printf{"100%% done\n"}, Return{3}}},
      Function{"f", {}, {Printf{""}, Printf{"from f\n"}}},
  }};
}
inline Expected printf_no_args_expected() { return {"hello\nfrom f\n100% done\n", 3}; }

// The example from crumble's documentation.
constexpr Program hello_example() {
  Var x{"x"}, i{"i"};
  return Program{{
      Function{"main", {"argc"}, {
          Assign{x, 0}, Assign{i, 0},
          While{i < 10, {Assign{x, x + i * 3}, Assign{i, i + 1}}},
          Printf{"x=%d neg=%d hex=%x s=%s c=%c %%\n", {x, 0 - x, 255, cstr("hi"), 'Z'}},
          Return{call("f", {x, 2})},
      }},
      Function{"f", {"a", "b"}, {Return{Var{"a"} / Var{"b"} - 60}}},
  }};
}
inline Expected hello_example_expected() {
  i64 x = 0;
  for (i64 i = 0; i < 10; ++i) x += i * 3;
  return {host::format("x=%d neg=%d hex=%x s=%s c=%c %%\n", {x, -x, 255, "hi", 'Z'}), host::status(x / 2 - 60)};
}

// ---- add / sub / mul: wraparound, immediates of every size --------------------------------

constexpr Program arith_add_sub() {
  Var a{"a"}, b{"b"}, c{"c"};
  return Program{{Function{"main", {}, {
      Assign{a, K(I64_MAX)}, Assign{b, 1}, Assign{c, -1},
      Printf{"%d %d %d %d\n", {a + b, a + 1, a - c, a - (-1)}},
      Assign{a, K(I64_MIN)},
      Printf{"%d %d %d %d\n", {a - b, a - 1, a + c, 0 - a}},
      Printf{"%d %d %d %u\n", {a + a, b - a, a + K(I64_MAX), 0 - b}},
      Assign{a, 1000},
      Printf{"%d %d %d %d %d\n", {a + K(0x123456789), a - K(0x7fffffff00000000), a - Int64{INT32_MIN},
                                  a + Int64{INT32_MIN}, a - Int64{INT32_MAX}}},
      Printf{"%d %d %d %d\n", {a + Int64{INT32_MAX} + 1, (a + 0) - Int64{INT32_MIN}, (a + 0) + K(0x100000000),
                               (a + 0) - K(I64_MIN)}},
      Return{a + b + c},
  }}}};
}
inline Expected arith_add_sub_expected() {
  using namespace host;
  i64 a = I64_MAX, b = 1, c = -1;
  std::string o = format("%d %d %d %d\n", {add(a, b), add(a, 1), sub(a, c), sub(a, -1)});
  a = I64_MIN;
  o += format("%d %d %d %d\n", {sub(a, b), sub(a, 1), add(a, c), sub(0, a)});
  o += format("%d %d %d %u\n", {add(a, a), sub(b, a), add(a, I64_MAX), sub(0, b)});
  a = 1000;
  o += format("%d %d %d %d %d\n", {add(a, 0x123456789), sub(a, 0x7fffffff00000000), sub(a, INT32_MIN),
                                   add(a, INT32_MIN), sub(a, INT32_MAX)});
  o += format("%d %d %d %d\n", {add(add(a, INT32_MAX), 1), sub(a, INT32_MIN), add(a, 0x100000000), sub(a, I64_MIN)});
  return {o, status(a + b + c)};
}

constexpr Program arith_mul() {
  Var x{"x"}, y{"y"}, z{"z"}, w{"w"}, v{"v"}, m{"m"};
  return Program{{Function{"main", {}, {
      Assign{x, K(I64_MAX)}, Assign{y, 2}, Assign{z, -3}, Assign{w, K(0x100000001)}, Assign{v, K(0xffffffff)},
      Assign{m, K(I64_MIN)},
      Printf{"%d %d %d %d\n", {x * y, x * x, z * 7, w * v}},
      Printf{"%d %d %d %d %d\n", {m * -1, m * z, x * 3, x * (-1), x * K(0x100000000)}},
      Printf{"%x %x %d %d\n", {x * K(I64_MIN), w * w, (z * z) * (z * z) * z, (y + 0) * K(0x4000000000000000)}},
      Printf{"%d %d\n", {Int64{123456789} * 1000000007, (x + 0) * Int64{INT32_MIN}}},
      Return{z * z},
  }}}};
}
inline Expected arith_mul_expected() {
  using namespace host;
  i64 x = I64_MAX, y = 2, z = -3, w = 0x100000001, v = 0xffffffff, m = I64_MIN;
  std::string o = format("%d %d %d %d\n", {mul(x, y), mul(x, x), mul(z, 7), mul(w, v)});
  o += format("%d %d %d %d %d\n", {mul(m, -1), mul(m, z), mul(x, 3), mul(x, -1), mul(x, 0x100000000)});
  o += format("%x %x %d %d\n", {mul(x, I64_MIN), mul(w, w), mul(mul(mul(z, z), mul(z, z)), z), mul(y, 0x4000000000000000)});
  o += format("%d %d\n", {mul(123456789, 1000000007), mul(x, INT32_MIN)});
  return {o, status(z * z)};
}

// ---- division and remainder: signs, boundaries, register and immediate divisors -----------

inline constexpr std::array<std::array<i64, 2>, 13> sdiv_pairs{{
    {7, 2}, {-7, 2}, {7, -2}, {-7, -2}, {I64_MIN, 2}, {I64_MIN, I64_MAX}, {I64_MAX, -1}, {I64_MAX, I64_MIN},
    {0, -5}, {-1, I64_MIN}, {100, 7}, {I64_MIN, -2}, {-1000000007, 0x100000000},
}};

constexpr Program div_signed() {
  Var n{"n"}, d{"d"};
  Block body;
  for (const auto& p : sdiv_pairs) {
    body.push_back(Assign{n, K(static_cast<u64>(p[0]))});
    body.push_back(Assign{d, K(static_cast<u64>(p[1]))});
    body.push_back(Printf{"%d %d %d %d %d\n", {n / d, n % d, n / Int64{p[1]}, n % Int64{p[1]}, Int64{p[0]} / d}});
  }
  body.push_back(Assign{n, -7});
  body.push_back(Return{n % 3 + 100});
  return Program{{Function{"main", {}, std::move(body)}}};
}
inline Expected div_signed_expected() {
  using namespace host;
  std::string o;
  for (const auto& p : sdiv_pairs)
    o += format("%d %d %d %d %d\n", {sdiv(p[0], p[1]), srem(p[0], p[1]), sdiv(p[0], p[1]), srem(p[0], p[1]), sdiv(p[0], p[1])});
  return {o, status(-7 % 3 + 100)};
}

inline constexpr std::array<std::array<u64, 2>, 12> udiv_pairs{{
    {UINT64_MAX, 2}, {UINT64_MAX, UINT64_MAX}, {static_cast<u64>(-7), 3}, {u64{1} << 63, 3}, {5, UINT64_MAX},
    {123456789, 1000}, {u64{1} << 63, u64{1} << 62}, {UINT64_MAX, 0x100000000}, {0, 7},
    {(u64{1} << 63) + 5, u64{1} << 63}, {static_cast<u64>(-2), static_cast<u64>(-1)}, {1000, 0x80000000},
}};

constexpr Program div_unsigned() {
  Var n{"n"}, d{"d"};
  Block body;
  for (const auto& p : udiv_pairs) {
    body.push_back(Assign{n, K(p[0])});
    body.push_back(Assign{d, K(p[1])});
    body.push_back(Printf{"%u %u %u %u\n", {udiv(n, d), urem(n, d), udiv(n, K(p[1])), urem(n, K(p[1]))}});
  }
  body.push_back(Return{udiv(K(UINT64_MAX), Var{"d"})});  // d is 2^64-1 now: 1
  return Program{{Function{"main", {}, std::move(body)}}};
}
inline Expected div_unsigned_expected() {
  using namespace host;
  std::string o;
  for (const auto& p : udiv_pairs)
    o += format("%u %u %u %u\n", {p[0] / p[1], p[0] % p[1], p[0] / p[1], p[0] % p[1]});
  return {o, status(static_cast<i64>(UINT64_MAX / udiv_pairs.back()[1]))};
}

// ---- shifts: Shl, Shr (logical), Sar (arithmetic); counts taken modulo 64 -----------------

inline constexpr std::array<i64, 6> shift_values{1, -1, I64_MIN, static_cast<i64>(0x8000000000000001), 12345,
                                                 0x0123456789abcdef};
inline constexpr std::array<i64, 11> shift_imm_counts{0, 1, 31, 32, 63, 64, 65, 127, 200, -1, 0x100000001};
inline constexpr std::array<i64, 13> shift_var_counts{0, 1, 2, 31, 32, 63, 64, 65, 100, 127, 128, -1, -63};

// Immediate counts.
constexpr Program shifts_imm() {
  Var v{"v"};
  Block body;
  for (i64 x : shift_values) {
    body.push_back(Assign{v, K(static_cast<u64>(x))});
    for (i64 c : shift_imm_counts) body.push_back(Printf{"%x %x %x\n", {v << c, shr(v, c), sar(v, c)}});
  }
  body.push_back(Return{shr(v, 4) & 0xff});
  return Program{{Function{"main", {}, std::move(body)}}};
}
inline Expected shifts_imm_expected() {
  using namespace host;
  std::string o;
  for (i64 x : shift_values)
    for (i64 c : shift_imm_counts) o += format("%x %x %x\n", {shl(x, c), host::shr(x, c), host::sar(x, c)});
  return {o, status(host::shr(shift_values.back(), 4))};
}

// Counts in registers, read from a stack array; values and counts also as computed temps.
constexpr Program shifts_var() {
  Var v{"v"}, c{"c"}, i{"i"}, j{"j"};
  BufferAddr vals{"vals"}, cnts{"cnts"};
  Block body;
  for (std::size_t k = 0; k < shift_values.size(); ++k)
    body.push_back(store(vals, static_cast<i64>(8 * k), 64, K(static_cast<u64>(shift_values[k]))));
  for (std::size_t k = 0; k < shift_var_counts.size(); ++k)
    body.push_back(store(cnts, static_cast<i64>(8 * k), 64, K(static_cast<u64>(shift_var_counts[k]))));
  body.push_back(Assign{i, 0});
  body.push_back(While{i < static_cast<int>(shift_values.size()), {
      Assign{v, load(vals + i * 8, 0, 64)},
      Assign{j, 0},
      While{j < static_cast<int>(shift_var_counts.size()), {
          Assign{c, load(cnts + j * 8, 0, 64)},
          Printf{"%x %x %x %x\n", {v << c, shr(v, c), sar(v, c), sar(v + 0, c + 0) ^ ((v + 0) << (c + 1))}},
          Assign{j, j + 1},
      }},
      Assign{i, i + 1},
  }});
  body.push_back(Return{sar(K(I64_MIN), Var{"c"})});  // c = -63: shift by 1
  return Program{{Function{"main", {}, std::move(body), {Buffer{"vals", 64}, Buffer{"cnts", 128}}}}};
}
inline Expected shifts_var_expected() {
  using namespace host;
  std::string o;
  for (i64 v : shift_values)
    for (i64 c : shift_var_counts)
      o += format("%x %x %x %x\n", {shl(v, c), host::shr(v, c), host::sar(v, c), host::sar(v, c) ^ shl(v, c + 1)});
  return {o, status(host::sar(I64_MIN, -63))};
}

// ---- And / Or / Xor -----------------------------------------------------------------------

constexpr Program bitwise() {
  Var x{"x"}, y{"y"}, z{"z"};
  return Program{{Function{"main", {}, {
      Assign{x, K(0x0123456789abcdef)}, Assign{y, K(0xff00ff00ff00ff00)},
      Printf{"%x %x %x\n", {x & y, x | y, x ^ y}},
      Printf{"%x %x %x %x\n", {x & 0xff, x & -256, x | K(0x80000000), x ^ -1}},
      Printf{"%x %x %x %x\n", {x & K(0xffffffff00000000), x ^ x, (x | y) & (x ^ y), y ^ K(0xf0f0f0f0f0f0f0f0)}},
      Printf{"%x %x %x\n", {Int64{-1} & x, (x + 0) | Int32{0x7fffffff}, (x + 0) ^ Int64{INT32_MIN}}},
      Assign{z, x},
      Assign{z, z & y}, Assign{z, z | 0x0f}, Assign{z, z ^ K(0x8000000000000000)},
      Printf{"%x\n", {z}},
      Return{(x ^ y) & 0x7f},
  }}}};
}
inline Expected bitwise_expected() {
  using namespace host;
  i64 x = 0x0123456789abcdef, y = static_cast<i64>(0xff00ff00ff00ff00);
  std::string o = format("%x %x %x\n", {x & y, x | y, x ^ y});
  o += format("%x %x %x %x\n", {x & 0xff, x & -256, x | 0x80000000, x ^ -1});
  o += format("%x %x %x %x\n", {x & static_cast<i64>(0xffffffff00000000), x ^ x, (x | y) & (x ^ y),
                                y ^ static_cast<i64>(0xf0f0f0f0f0f0f0f0)});
  o += format("%x %x %x\n", {-1 & x, x | 0x7fffffff, x ^ i64{INT32_MIN}});
  i64 z = x;
  z &= y;
  z |= 0x0f;
  z ^= static_cast<i64>(0x8000000000000000);
  o += format("%x\n", {z});
  return {o, status((x ^ y) & 0x7f)};
}

// ---- constants of every width (sign-extended) ---------------------------------------------

constexpr Program int_widths() {
  Var x{"x"};
  return Program{{Function{"main", {}, {
      Printf{"%d %d %d %d\n", {Int8{200}, Int8{-1}, Int8{127}, Int8{0x180}}},
      Printf{"%d %d %d\n", {Int16{0x8000}, Int16{0x17fff}, Int16{-2}}},
      Printf{"%d %d %x\n", {Int32{0xffffffff}, Int32{0x80000000}, Int32{0x123456789}}},
      Assign{x, 1000},
      Printf{"%d %d %d %d\n", {x + Int8{200}, x * Int16{0x8000}, x - Int32{0x80000000}, shr(x, Int8{0x42})}},
      Assign{x, Int8{-100}},
      If{x == Int8{156}, {Printf{"int8 compare ok\n"}}, {Printf{"int8 compare wrong\n"}}},
      If{x < Int16{0}, {Printf{"negative ok\n"}}},
      Return{x},
  }}}};
}
inline Expected int_widths_expected() {
  using namespace host;
  std::string o = format("%d %d %d %d\n", {sext(200, 8), sext(-1, 8), sext(127, 8), sext(0x180, 8)});
  o += format("%d %d %d\n", {sext(0x8000, 16), sext(0x17fff, 16), sext(-2, 16)});
  o += format("%d %d %x\n", {sext(0xffffffff, 32), sext(0x80000000, 32), sext(0x123456789, 32)});
  i64 x = 1000;
  o += format("%d %d %d %d\n", {x + sext(200, 8), x * sext(0x8000, 16), x - sext(0x80000000, 32), host::shr(x, 0x42)});
  x = -100;
  o += "int8 compare ok\nnegative ok\n";
  return {o, status(x)};
}

// x = x op y computed in place, for every op, with x in a register and x in a stack slot.
// In "slots" the nested hot loop (uses weighted by loop depth) makes i, j and h0..h3 the most
// used variables, so they take the six callee-saved registers and x, y, r live in stack slots;
// "regs" has only x, y, r, all in registers.
constexpr Block inplace_body(Var x, Var y, Var r) {
  return {
      Assign{x, 1000}, Assign{y, 7}, Assign{r, 0},
      Assign{x, x + y}, Assign{r, r ^ x}, Assign{x, x - y}, Assign{r, r + x}, Assign{x, x * y}, Assign{r, r ^ x},
      Assign{x, x / y}, Assign{r, r + x}, Assign{x, x % y}, Assign{r, r * 3 + x},
      Assign{x, -1000}, Assign{x, udiv(x, y)}, Assign{r, r ^ x}, Assign{x, urem(x, y)}, Assign{r, r + x},
      Assign{x, -1000}, Assign{x, x << y}, Assign{r, r + x}, Assign{x, shr(x, y)}, Assign{r, r ^ x},
      Assign{x, sar(x, 60)}, Assign{r, r + x}, Assign{x, -5}, Assign{x, sar(x, y)}, Assign{r, r + x},
      Assign{x, x | K(0x7000000000000000)}, Assign{r, r ^ x}, Assign{x, x & y}, Assign{r, r + x},
      Assign{x, x ^ K(0x123456789)}, Assign{r, r + x},
      Assign{x, x - x}, Assign{r, r + x + 1}, Assign{x, 12}, Assign{x, x * x}, Assign{r, r + x},
      Assign{x, x << x}, Assign{r, r ^ x}, Assign{x, 5}, Assign{x, x / x}, Assign{r, r + x},
      Assign{x, 9}, Assign{y, y - x}, Assign{r, r + y}, Assign{y, x / y}, Assign{r, r + y},
      Assign{x, x + K(0x100000000)}, Assign{r, r ^ x}, Assign{x, x - Int64{INT32_MIN}}, Assign{r, r + x},
      Assign{x, x * K(0x100000001)}, Assign{r, r ^ x}, Assign{x, x % -10}, Assign{r, r + x},
  };
}
inline i64 inplace_host() {
  using namespace host;
  i64 x = 1000, y = 7, r = 0;
  x = add(x, y); r ^= x; x = sub(x, y); r = add(r, x); x = mul(x, y); r ^= x;
  x = sdiv(x, y); r = add(r, x); x = srem(x, y); r = add(mul(r, 3), x);
  x = -1000; x = udiv(x, y); r ^= x; x = urem(x, y); r = add(r, x);
  x = -1000; x = shl(x, y); r = add(r, x); x = host::shr(x, y); r ^= x;
  x = host::sar(x, 60); r = add(r, x); x = -5; x = host::sar(x, y); r = add(r, x);
  x |= 0x7000000000000000; r ^= x; x &= y; r = add(r, x);
  x ^= 0x123456789; r = add(r, x);
  x = sub(x, x); r = add(add(r, x), 1); x = 12; x = mul(x, x); r = add(r, x);
  x = shl(x, x); r ^= x; x = 5; x = sdiv(x, x); r = add(r, x);
  x = 9; y = sub(y, x); r = add(r, y); y = sdiv(x, y); r = add(r, y);
  x = add(x, 0x100000000); r ^= x; x = sub(x, INT32_MIN); r = add(r, x);
  x = mul(x, 0x100000001); r ^= x; x = srem(x, -10); r = add(r, x);
  return r;
}

constexpr Program inplace_ops() {
  Var x{"x"}, y{"y"}, r{"r"}, i{"i"};
  Var h0{"h0"}, h1{"h1"}, h2{"h2"}, h3{"h3"}, h4{"h4"}, h5{"h5"}, j{"j"};
  Block slots = inplace_body(x, y, r);
  slots.insert(slots.begin(), While{i < 10, {
      Assign{j, 0},
      While{j < 1, {Assign{h0, h0 + i}, Assign{h1, h1 + h0}, Assign{h2, h2 ^ h1}, Assign{h3, h3 + h2 + i},
                    Assign{h4, h4 - h3}, Assign{h5, h5 + h4 - i}, Assign{j, j + 1}}},
      Assign{i, i + 1},
  }});
  slots.push_back(Return{r + (h0 ^ h1 ^ h2 ^ h3 ^ h4 ^ h5)});
  Block regs = inplace_body(x, y, r);
  regs.push_back(Return{r});
  return Program{{
      Function{"main", {}, {Printf{"%x %x\n", {call("regs"), call("slots")}}, Return{call("regs")}}},
      Function{"regs", {}, std::move(regs)},
      Function{"slots", {}, std::move(slots)},
  }};
}
inline Expected inplace_ops_expected() {
  using namespace host;
  i64 h0 = 0, h1 = 0, h2 = 0, h3 = 0, h4 = 0, h5 = 0;
  for (i64 i = 0; i < 10; ++i) {
    h0 += i; h1 += h0; h2 ^= h1; h3 += h2 + i; h4 -= h3; h5 += h4 - i;
  }
  i64 r = inplace_host();
  return {format("%x %x\n", {r, add(r, h0 ^ h1 ^ h2 ^ h3 ^ h4 ^ h5)}), status(r)};
}

}  // namespace crumble::corpus
