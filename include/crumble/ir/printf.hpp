// SPDX-License-Identifier: Apache-2.0
// crumble/ir/printf.hpp — Printf's run-time half, written in IR.
//
// The lowering turns `Printf{fmt, args}` into stores of the arguments into a stack array and a
// call __crumble_printf(fmt, argv). The formatter below is ordinary IR, so every architecture
// gets the same behaviour without target code. It formats into a 256-byte stack buffer and
// writes it to fd 1 when full and at the end (one write for short output), retrying short
// writes. The format was checked when the program was lowered (printf_arguments).
#pragma once

#include <string_view>
#include <vector>

#include "build.hpp"

namespace crumble::ir {

inline constexpr std::string_view printf_function = "__crumble_printf";
inline constexpr std::string_view printf_write_all = "__crumble_write_all";
// The functions printf_runtime() returns, by name and in its order: the lowering declares them
// without building them (assembly by function lowers them apart, assemble.hpp).
inline constexpr std::string_view printf_runtime_names[] = {printf_function, printf_write_all};

// Number of arguments the format consumes, or -1 if it uses an unsupported conversion.
constexpr int printf_arguments(std::string_view fmt) {
  // Over pointers, not fmt[i]: in constant evaluation each operator[] and size() is a call
  // (checked by libstdc++'s assertions), and this runs over every format of the program.
  int n = 0;
  for (const char *p = fmt.data(), *end = p + fmt.size(); p != end; ++p) {
    if (*p != '%') continue;
    if (++p == end) return -1;
    switch (*p) {
      case 'd': case 'u': case 'x': case 's': case 'c': ++n; break;
      case '%': break;
      default: return -1;
    }
  }
  return n;
}

constexpr std::vector<Function> printf_runtime() {
  const int out_size = 256;
  Var fmt{"fmt"}, argv{"argv"}, n{"n"}, c{"c"}, v{"v"}, base{"base"}, i{"i"}, d{"d"}, p{"p"}, neg{"neg"};
  Var buf{"buf"}, len{"len"}, off{"off"}, r{"r"};
  BufferAddr out{"out"}, digits{"digits"};

  // Appends byte `e` to the output buffer, flushing it when full.
  auto put = [&](Expr e) {
    return Block{store(out + n, 0, 8, std::move(e)), Assign{n, n + 1},
                 If{n == out_size, {Call{FuncAddr{printf_write_all}, {out, n}}, Assign{n, 0}}}};
  };
  auto next_arg = [&](Var into) {
    return Block{Assign{into, load(argv, 0, 64)}, Assign{argv, argv + 8}};
  };
  auto then = [](Block a, Block b) {
    for (auto& s : b) a.push_back(std::move(s));
    return a;
  };

  // %d %u %x: digits are produced backwards into `digits`, then copied out.
  Block number = then(next_arg(v), {
      Assign{base, 10}, Assign{neg, 0},
      If{c == 'x', {Assign{base, 16}}},
      If{(c == 'd') && (v < 0), {Assign{neg, 1}, Assign{v, 0 - v}}},  // 0 - INT64_MIN stays 2^63 unsigned
      Assign{i, 24},
      Label{"digit"},
      Assign{i, i - 1},
      Assign{d, urem(v, base)},
      If{ult(d, 10), {store(digits + i, 0, 8, d + '0')}, {store(digits + i, 0, 8, d + ('a' - 10))}},
      Assign{v, udiv(v, base)},
      If{v != 0, {Goto{"digit"}}},
      If{neg != 0, {Assign{i, i - 1}, store(digits + i, 0, 8, '-')}},
      While{i < 24, then(put(load(digits + i, 0, 8)), {Assign{i, i + 1}})},
  });
  Block string = then(next_arg(p), {
      Assign{c, load(p, 0, 8)},
      While{c != 0, then(put(c), {Assign{p, p + 1}, Assign{c, load(p, 0, 8)}})},
  });
  Block character = then(next_arg(v), put(v & 0xff));

  Function format{printf_function, {"fmt", "argv"}, {
      Assign{n, 0},
      Assign{c, load(fmt, 0, 8)},
      While{c != 0, {
          If{c == '%', {
              Assign{fmt, fmt + 1},
              Assign{c, load(fmt, 0, 8)},
              If{(c == 'd') || (c == 'u') || (c == 'x'), number,
                 {If{c == 's', string, {If{c == 'c', character, put(c)}}}}},
          }, put(c)},
          Assign{fmt, fmt + 1},
          Assign{c, load(fmt, 0, 8)},
      }},
      If{n != 0, {Call{FuncAddr{printf_write_all}, {out, n}}}},
  }, {Buffer{"out", out_size}, Buffer{"digits", 24}}};

  // write(1, buf, len) until all is written or the write fails.
  Function write_all{printf_write_all, {"buf", "len"}, {
      Assign{off, 0},
      While{off < len, {
          Assign{r, syscall(Sys::write, {1, buf + off, len - off})},
          If{r <= 0, {Return{}}},
          Assign{off, off + r},
      }},
  }};
  return {format, write_all};
}

}  // namespace crumble::ir
