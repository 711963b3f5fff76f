// SPDX-License-Identifier: Apache-2.0
// tests/corpus/support.hpp — what the corpus programs and their expectations share.
//
// A corpus program is a `constexpr ir::Program name()`; next to it, `Expected name_expected()`
// computes, in plain host C++, what the program must print on stdout and its exit status. The
// expectations never come from crumble: they redo the program's computation with ordinary
// (wrapping) 64-bit arithmetic and format it with the host's snprintf.
#pragma once

#include <crumble/ir/build.hpp>

#include <array>
#include <climits>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace crumble::corpus {

using namespace crumble::ir;
using namespace std::string_view_literals;
using i64 = std::int64_t;
using u64 = std::uint64_t;

inline constexpr i64 I64_MIN = INT64_MIN;
inline constexpr i64 I64_MAX = INT64_MAX;

// What a program must do: exactly these stdout bytes, then exit with this status (0..255).
struct Expected {
  std::string out;
  int status = 0;
};

// One row of the corpus table.
struct Row {
  std::string_view name;
  ir::Program (*make)();
  Expected (*expect)();
};

// ---- IR side ------------------------------------------------------------------------------
//
// Note for constexpr builders: never choose between IR values with `?:` (c ? Expr{..} : Expr{..}).
// GCC 12's constant evaluator destroys the operand temporaries of a class-typed conditional
// operator twice ("use of allocated storage after deallocation"); use if/else instead.

// A 64-bit constant from any 64-bit pattern (an unsigned literal would be ambiguous for Expr).
constexpr Expr K(u64 v) { return Int64{static_cast<i64>(v)}; }

// Text of n printable bytes (no '%'), deterministic in `seed`; a trailing '\n' when `newline`.
// The programs use it as a long printf format; the expectations compare against the same text.
template <std::size_t N>
constexpr std::array<char, N + 1> make_text(int seed, bool newline = true) {
  std::array<char, N + 1> a{};
  for (std::size_t i = 0; i < N; ++i) a[i] = static_cast<char>('a' + (i * 7 + static_cast<std::size_t>(seed)) % 26);
  if (newline && N > 0) a[N - 1] = '\n';
  a[N] = 0;
  return a;
}
template <std::size_t M>
constexpr std::string_view view(const std::array<char, M>& a) { return {a.data(), M - 1}; }

// ---- host side ----------------------------------------------------------------------------
namespace host {

// Wrapping 64-bit arithmetic (two's complement), as the machine does it.
inline i64 add(i64 a, i64 b) { return static_cast<i64>(static_cast<u64>(a) + static_cast<u64>(b)); }
inline i64 sub(i64 a, i64 b) { return static_cast<i64>(static_cast<u64>(a) - static_cast<u64>(b)); }
inline i64 mul(i64 a, i64 b) { return static_cast<i64>(static_cast<u64>(a) * static_cast<u64>(b)); }
inline i64 shl(i64 a, i64 n) { return static_cast<i64>(static_cast<u64>(a) << (n & 63)); }
inline i64 shr(i64 a, i64 n) { return static_cast<i64>(static_cast<u64>(a) >> (n & 63)); }
inline i64 sar(i64 a, i64 n) { return a >> (n & 63); }  // C++20: arithmetic
inline i64 udiv(i64 a, i64 b) { return static_cast<i64>(static_cast<u64>(a) / static_cast<u64>(b)); }
inline i64 urem(i64 a, i64 b) { return static_cast<i64>(static_cast<u64>(a) % static_cast<u64>(b)); }
inline i64 sdiv(i64 a, i64 b) {
  if (b == 0 || (a == I64_MIN && b == -1)) throw std::logic_error("corpus expectation divides by zero or overflows");
  return a / b;
}
inline i64 srem(i64 a, i64 b) {
  if (b == 0 || (a == I64_MIN && b == -1)) throw std::logic_error("corpus expectation divides by zero or overflows");
  return a % b;
}
inline bool ult(i64 a, i64 b) { return static_cast<u64>(a) < static_cast<u64>(b); }
inline bool ule(i64 a, i64 b) { return static_cast<u64>(a) <= static_cast<u64>(b); }
inline bool ugt(i64 a, i64 b) { return static_cast<u64>(a) > static_cast<u64>(b); }
inline bool uge(i64 a, i64 b) { return static_cast<u64>(a) >= static_cast<u64>(b); }

// Low 8 bits of main's result: the exit status the kernel reports.
inline int status(i64 v) { return static_cast<int>(static_cast<u64>(v) & 0xff); }

// Sign extension of the low `bits` bits, the host way.
inline i64 sext(i64 v, int bits) {
  switch (bits) {
    case 8: return static_cast<std::int8_t>(static_cast<std::uint8_t>(v));
    case 16: return static_cast<std::int16_t>(static_cast<std::uint16_t>(v));
    case 32: return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
    default: return v;
  }
}

// An argument for format(): an integer or a string.
struct Arg {
  bool is_str = false;
  i64 v = 0;
  std::string s;
  template <std::integral T>
  Arg(T x) : v(static_cast<i64>(x)) {}
  Arg(const char* p) : is_str(true), s(p) {}
  Arg(std::string p) : is_str(true), s(std::move(p)) {}
};

// Formats like crumble's Printf is specified to (%d %u %x on 64-bit values, %s, %c, %%), using
// the host's snprintf for every conversion.
inline std::string format(std::string_view f, const std::vector<Arg>& args = {}) {
  std::string out;
  std::size_t k = 0;
  char tmp[64];
  auto next = [&]() -> const Arg& {
    if (k >= args.size()) throw std::logic_error("corpus expectation: too few format arguments");
    return args[k++];
  };
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') {
      out += f[i];
      continue;
    }
    if (++i == f.size()) throw std::logic_error("corpus expectation: trailing %");
    switch (f[i]) {
      case 'd': std::snprintf(tmp, sizeof tmp, "%lld", static_cast<long long>(next().v)); out += tmp; break;
      case 'u': std::snprintf(tmp, sizeof tmp, "%llu", static_cast<unsigned long long>(next().v)); out += tmp; break;
      case 'x': std::snprintf(tmp, sizeof tmp, "%llx", static_cast<unsigned long long>(next().v)); out += tmp; break;
      case 's': out += next().s; break;
      case 'c': out += static_cast<char>(next().v & 0xff); break;
      case '%': out += '%'; break;
      default: throw std::logic_error("corpus expectation: bad conversion");
    }
  }
  if (k != args.size()) throw std::logic_error("corpus expectation: too many format arguments");
  return out;
}

}  // namespace host
}  // namespace crumble::corpus
