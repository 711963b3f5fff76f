// SPDX-License-Identifier: Apache-2.0
// tests/corpus/programs_memory.hpp — loads and stores of every width on stack buffers and
// globals, global layout, printf, syscalls, embedded bytes, argv/envp, small algorithms.
#pragma once

#include <algorithm>
#include <cstring>

#include "support.hpp"

namespace crumble::corpus {

// ---- memory widths ------------------------------------------------------------------------

// The same sequence of stores and loads on any 64-byte area at `base`.
constexpr Block memory_ops(const Expr& base) {
  Var q{"q"}, i{"i"}, s{"s"};
  return {
      store(base, 0, 64, K(0x8877665544332211)),
      store(base, 8, 64, -1),
      Printf{"%x %d %x %d\n", {load(base, 0, 8), load(base, 0, 8, Extend::sign), load(base, 7, 8), load(base, 7, 8, Extend::sign)}},
      Printf{"%x %d %x %d\n", {load(base, 6, 16), load(base, 6, 16, Extend::sign), load(base, 4, 32), load(base, 4, 32, Extend::sign)}},
      Printf{"%x %x %x %x\n", {load(base, 0, 64), load(base, 1, 64), load(base, 0, 64, Extend::sign), load(base, 2, 32)}},
      store(base, 8, 8, 0x1234),
      store(base, 10, 16, 0xABCDEF),
      store(base, 12, 32, K(0x1122334455667788)),
      Printf{"%x\n", {load(base, 8, 64)}},
      Assign{q, base + 16},
      Printf{"%x %x\n", {load(q, -8, 64), load(q, -15, 16)}},
      store(q, 0, 8, 0x7f), store(q, 1, 8, 0x80), store(q, 2, 16, 0x7fff), store(q, 4, 16, 0x8000),
      store(q, 8, 32, 0x7fffffff), store(q, 12, 32, K(0x80000000)),
      Printf{"%d %d %d %d %d %d\n", {load(q, 0, 8, Extend::sign), load(q, 1, 8, Extend::sign), load(q, 2, 16, Extend::sign),
                                     load(q, 4, 16, Extend::sign), load(q, 8, 32, Extend::sign), load(q, 12, 32, Extend::sign)}},
      Printf{"%d %d %d %d %d %d\n", {load(q, 0, 8), load(q, 1, 8), load(q, 2, 16), load(q, 4, 16), load(q, 8, 32), load(q, 12, 32)}},
      Assign{i, 0},
      While{i < 32, {store(base + 32 + i, 0, 8, i * 37), Assign{i, i + 1}}},
      Assign{i, 0}, Assign{s, 0},
      While{i < 32, {Assign{s, s * 3 + load(base + 32 + i, 0, 16, Extend::sign) + load(q + i, 16, 8)}, Assign{i, i + 2}}},
      Printf{"%d %x\n", {s, load(base, 56, 64, Extend::sign) ^ load(base, 40, 32, Extend::sign)}},
      store(base + (s & 0) + 40, 4, 32, load(base, 0, 8, Extend::sign) * 2),
      Printf{"%x %x\n", {load(base, 40, 64), load(base + 1, 39, 64)}},
  };
}
struct HostMemory {
  std::uint8_t b[64] = {};
  void st(i64 off, int width, i64 v) { std::memcpy(b + off, &v, static_cast<std::size_t>(width / 8)); }
  i64 ld(i64 off, int width, bool sign = false) const {
    u64 v = 0;
    std::memcpy(&v, b + off, static_cast<std::size_t>(width / 8));
    if (width < 64) v &= (u64{1} << width) - 1;
    return sign ? host::sext(static_cast<i64>(v), width) : static_cast<i64>(v);
  }
};
inline std::string memory_ops_host() {
  using host::format;
  HostMemory m;
  std::string o;
  m.st(0, 64, static_cast<i64>(0x8877665544332211));
  m.st(8, 64, -1);
  o += format("%x %d %x %d\n", {m.ld(0, 8), m.ld(0, 8, true), m.ld(7, 8), m.ld(7, 8, true)});
  o += format("%x %d %x %d\n", {m.ld(6, 16), m.ld(6, 16, true), m.ld(4, 32), m.ld(4, 32, true)});
  o += format("%x %x %x %x\n", {m.ld(0, 64), m.ld(1, 64), m.ld(0, 64, true), m.ld(2, 32)});
  m.st(8, 8, 0x1234);
  m.st(10, 16, 0xABCDEF);
  m.st(12, 32, 0x1122334455667788);
  o += format("%x\n", {m.ld(8, 64)});
  const i64 q = 16;
  o += format("%x %x\n", {m.ld(q - 8, 64), m.ld(q - 15, 16)});
  m.st(q + 0, 8, 0x7f), m.st(q + 1, 8, 0x80), m.st(q + 2, 16, 0x7fff), m.st(q + 4, 16, 0x8000);
  m.st(q + 8, 32, 0x7fffffff), m.st(q + 12, 32, 0x80000000);
  o += format("%d %d %d %d %d %d\n", {m.ld(q, 8, true), m.ld(q + 1, 8, true), m.ld(q + 2, 16, true), m.ld(q + 4, 16, true),
                                      m.ld(q + 8, 32, true), m.ld(q + 12, 32, true)});
  o += format("%d %d %d %d %d %d\n", {m.ld(q, 8), m.ld(q + 1, 8), m.ld(q + 2, 16), m.ld(q + 4, 16), m.ld(q + 8, 32), m.ld(q + 12, 32)});
  for (i64 i = 0; i < 32; ++i) m.st(32 + i, 8, i * 37);
  i64 s = 0;
  for (i64 i = 0; i < 32; i += 2) s = host::add(host::add(host::mul(s, 3), m.ld(32 + i, 16, true)), m.ld(q + i + 16, 8));
  o += format("%d %x\n", {s, m.ld(56, 64, true) ^ m.ld(40, 32, true)});
  m.st(44, 32, m.ld(0, 8, true) * 2);
  o += format("%x %x\n", {m.ld(40, 64), m.ld(40, 64)});
  return o;
}

constexpr Program mem_stack_widths() {
  Block body = memory_ops(BufferAddr{"buf"});
  body.push_back(Return{load(BufferAddr{"buf"}, 7, 8)});
  return Program{{Function{"main", {}, std::move(body), {Buffer{"pad", 8}, Buffer{"buf", 64}, Buffer{"pad2", 24}}}}};
}
inline Expected mem_stack_widths_expected() { return {memory_ops_host(), 0x88}; }

// Displacements beyond 32 bits, positive and negative, on loads and stores.
constexpr Program mem_large_disp() {
  Var p{"p"};
  return Program{{Function{"main", {}, {
      Assign{p, BufferAddr{"b"}},
      store(p - K(0x100000000), 0x100000000, 64, K(0x1122334455667788)),
      Printf{"%x %x\n", {load(p + K(0x100000000), -0x100000000, 64), load(p, 0, 32)}},
      store(GlobalAddr{"g"} + K(0x7fffffff00000000), -0x7fffffff00000000 + 8, 16, 0xbeef),
      store(BufferAddr{"b"} + K(0x123456789abc), -0x123456789abc + 12, 32, load(p - K(0x80000000), 0x80000000LL + 4, 32, Extend::sign)),
      Printf{"%x %x %d\n", {load(GlobalAddr{"g"}, 8, 64), load(p, 8, 64), load(p, 12, 32, Extend::sign)}},
      Return{load(GlobalAddr{"g"} - K(0x8000000000000000), static_cast<i64>(0x8000000000000000) + 9, 8)},
  }, {Buffer{"b", 32}}}}, {Global{"g", 16, 8}}};
}
inline Expected mem_large_disp_expected() {
  HostMemory b, g;
  b.st(0, 64, 0x1122334455667788);
  std::string o = host::format("%x %x\n", {b.ld(0, 64), b.ld(0, 32)});
  g.st(8, 16, 0xbeef);
  b.st(12, 32, b.ld(4, 32, true));
  o += host::format("%x %x %d\n", {g.ld(8, 64), b.ld(8, 64), b.ld(12, 32, true)});
  return {o, static_cast<int>(g.ld(9, 8))};
}

constexpr Program mem_global_widths() {
  Block body = memory_ops(GlobalAddr{"g"});
  body.push_back(Assign{GlobalVar{"h"}, K(0xfedcba9876543210)});
  body.push_back(store(GlobalAddr{"h"}, 0, 8, 0x55));
  body.push_back(Printf{"%x %x %x\n", {GlobalVar{"h"}, load(GlobalAddr{"h"}, 4, 32, Extend::sign), GlobalVar{"g"}}});
  body.push_back(Assign{GlobalVar{"g"}, GlobalVar{"h"} + 1});
  body.push_back(Printf{"%x %x\n", {load(GlobalAddr{"g"}, 0, 16), load(GlobalAddr{"g"}, 8, 64)}});
  body.push_back(Return{load(GlobalAddr{"g"}, 7, 8)});
  return Program{{Function{"main", {}, std::move(body)}}, {Global{"pad", 1, 1}, Global{"g", 64, 16}, Global{"h", 8, 8}}};
}
inline Expected mem_global_widths_expected() {
  std::string o = memory_ops_host();
  HostMemory m;  // replays the global's final state: only bytes 0..15 matter below
  m.st(0, 64, static_cast<i64>(0x8877665544332211));
  m.st(8, 64, -1);
  m.st(8, 8, 0x1234), m.st(10, 16, 0xABCDEF), m.st(12, 32, 0x1122334455667788);
  i64 h = static_cast<i64>(0xfedcba9876543210);
  h = (h & ~i64{0xff}) | 0x55;
  o += host::format("%x %x %x\n", {h, host::sext(h >> 32, 32), m.ld(0, 64)});
  m.st(0, 64, h + 1);
  o += host::format("%x %x\n", {m.ld(0, 16), m.ld(8, 64)});
  return {o, static_cast<int>(m.ld(7, 8))};
}

// Globals of several sizes and alignments: aligned as asked, zeroed, not overlapping.
constexpr Program globals_layout() {
  Var i{"i"}, s{"s"};
  GlobalAddr a{"a"}, b{"b"}, c{"c"}, d{"d"}, e{"e"}, f{"f"}, h{"h"};
  return Program{{Function{"main", {}, {
      Printf{"aligned %d%d%d%d%d\n", {CondValue{IsZero{b & 1}}, CondValue{IsZero{c & 7}}, CondValue{IsZero{d & 15}},
                                       CondValue{IsZero{e & 4095}}, CondValue{IsZero{h & 7}}}},
      While{i < 512, {Assign{s, s | load(e + i * 8, 0, 64)}, Assign{i, i + 1}}},
      Printf{"zero %d %d %d %d\n", {s, load(a, 0, 8) + load(b, 0, 16) + load(c, 0, 64) + load(d, 8, 64),
                                    load(f, 0, 16) + load(f, 2, 8), GlobalVar{"h"}}},
      store(a, 0, 8, 0x11), store(b, 0, 16, 0x2222), store(c, 0, 64, K(0x3333333333333333)),
      store(d, 0, 64, K(0x4444444444444444)), store(d, 8, 64, K(0x4545454545454545)),
      store(f, 0, 16, 0x5555), store(f, 2, 8, 0x56), Assign{GlobalVar{"h"}, K(0x6666666666666666)},
      store(e, 0, 64, K(0x7777777777777777)), store(e, 4088, 64, K(0x7878787878787878)),
      Printf{"%x %x %x %x %x\n", {load(a, 0, 8), load(b, 0, 16), load(c, 0, 64), load(d, 0, 64), load(d, 8, 64)}},
      Printf{"%x %x %x %x %x\n", {load(f, 0, 16), load(f, 2, 8), GlobalVar{"h"}, load(e, 0, 64), load(e, 4088, 64)}},
      Return{load(a, 0, 8) + load(f, 2, 8)},
  }}}, {Global{"a", 1, 1}, Global{"b", 2, 2}, Global{"c", 8, 8}, Global{"f", 3, 1}, Global{"d", 16, 16},
        Global{"e", 4096, 4096}, Global{"h", 8, 8}}};
}
inline Expected globals_layout_expected() {
  std::string o = "aligned 11111\nzero 0 0 0 0\n";
  o += host::format("%x %x %x %x %x\n", {0x11, 0x2222, 0x3333333333333333, 0x4444444444444444, 0x4545454545454545});
  o += host::format("%x %x %x %x %x\n", {0x5555, 0x56, 0x6666666666666666, 0x7777777777777777, 0x7878787878787878});
  return {o, 0x11 + 0x56};
}

// ---- printf ---------------------------------------------------------------------------------

constexpr Program printf_formats() {
  return Program{{Function{"main", {}, {
      Printf{"%d|%d|%d|%d|%d\n", {0, 1, -1, K(I64_MIN), K(I64_MAX)}},
      Printf{"%u|%u|%u|%u\n", {0, 1, -1, K(I64_MIN)}},
      Printf{"%x|%x|%x|%x|%x|%x\n", {0, 255, -1, K(I64_MIN), K(0x0123456789abcdef), 16}},
      Printf{"%s|%s|%s|\n", {cstr(""), cstr("abc"), cstr("with space")}},
      Printf{"%c%c%c|%c|%c\n", {'a', 'B', 0x141, '0', Int64{-190}}},
      Printf{"100%% %%d %d%%\n", {50}},
      Printf{"no newline"}, Printf{""}, Printf{"\n"},
      Printf{"%d%u%x%s%c%%\n", {-12, 12, 0xabc, cstr("s"), 'c'}},
      Printf{"%s\n", {Embed{"abc\0def"sv, true}}},
      Printf{"[%d] [%d] [%d]\n", {1000000, -1000000, 9}},
      Printf{"%u %x %d\n", {K(UINT64_MAX), K(UINT64_MAX), K(UINT64_MAX)}},
      Printf{"%%%%%c%%\n", {'!'}},
      Printf{"[%c] caf\xc3\xa9 %s\n", {0, cstr("\xe2\x82\xac")}},
      Return{0},
  }}}};
}
inline Expected printf_formats_expected() {
  using host::format;
  std::string o = format("%d|%d|%d|%d|%d\n", {0, 1, -1, I64_MIN, I64_MAX});
  o += format("%u|%u|%u|%u\n", {0, 1, -1, I64_MIN});
  o += format("%x|%x|%x|%x|%x|%x\n", {0, 255, -1, I64_MIN, 0x0123456789abcdef, 16});
  o += format("%s|%s|%s|\n", {"", "abc", "with space"});
  o += format("%c%c%c|%c|%c\n", {'a', 'B', 0x141, '0', -190});
  o += format("100%% %%d %d%%\n", {50});
  o += "no newline\n";
  o += format("%d%u%x%s%c%%\n", {-12, 12, 0xabc, "s", 'c'});
  o += "abc\n";
  o += format("[%d] [%d] [%d]\n", {1000000, -1000000, 9});
  o += format("%u %x %d\n", {UINT64_MAX, UINT64_MAX, UINT64_MAX});
  o += format("%%%%%c%%\n", {'!'});
  o += format("[%c] caf\xc3\xa9 %s\n", {0, "\xe2\x82\xac"});
  return {o, 0};
}

// Output longer than the formatter's 256-byte buffer, and lengths at its boundary.
inline constexpr auto text255 = make_text<255>(1);
inline constexpr auto text256 = make_text<256>(2);
inline constexpr auto text257 = make_text<257>(3);
inline constexpr auto text300 = make_text<300>(4);
inline constexpr auto text1000 = make_text<1000>(5, false);
template <std::size_t N, std::size_t M>
constexpr std::array<char, N*(M - 1) + 2> repeat_format(const char (&piece)[M]) {
  std::array<char, N*(M - 1) + 2> a{};
  std::size_t k = 0;
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t i = 0; i + 1 < M; ++i) a[k++] = piece[i];
  a[k++] = '\n';
  a[k] = 0;
  return a;
}
inline constexpr auto fmt_40d = repeat_format<40>("%d,");
inline constexpr auto fmt_30x = repeat_format<30>("<%x>");

constexpr Program printf_long() {
  std::vector<Expr> args40, args30;
  for (int k = 0; k < 40; ++k) {
    if (k % 2) args40.push_back(K(I64_MIN));
    else args40.push_back(Int64{-1234567890123456789 + k});
  }
  for (int k = 0; k < 30; ++k) args30.push_back(K(0xfedcba9876543210 + static_cast<u64>(k)));
  return Program{{Function{"main", {}, {
      Printf{view(text255)}, Printf{view(text256)}, Printf{view(text257)}, Printf{view(text300)},
      Printf{"%s|%s\n", {Embed{view(text1000), true}, cstr("end")}},
      Printf{"%s%c\n", {Embed{view(text255), true}, 'X'}},
      Printf{view(fmt_40d), std::move(args40)},
      Printf{view(fmt_30x), std::move(args30)},
      Return{1},
  }}}};
}
inline Expected printf_long_expected() {
  std::string o;
  o += view(text255);
  o += view(text256);
  o += view(text257);
  o += view(text300);
  o += std::string(view(text1000)) + "|end\n";
  o += std::string(view(text255)) + "X\n";
  for (int k = 0; k < 40; ++k) o += host::format("%d,", {k % 2 ? I64_MIN : -1234567890123456789 + k});
  o += "\n";
  for (int k = 0; k < 30; ++k) o += host::format("<%x>", {0xfedcba9876543210 + static_cast<u64>(k)});
  o += "\n";
  return {o, 1};
}

constexpr Program printf_loop() {
  Var i{"i"};
  return Program{{Function{"main", {}, {
      While{i < 100, {Printf{"%d: %d %x %u\n", {i, i * i * i - 5000, i * 12345, 0 - i}}, Assign{i, i + 1}}},
      Return{i},
  }}}};
}
inline Expected printf_loop_expected() {
  std::string o;
  for (i64 i = 0; i < 100; ++i) o += host::format("%d: %d %x %u\n", {i, i * i * i - 5000, i * 12345, -i});
  return {o, 100};
}

constexpr Program printf_many_args() {
  Var x{"x"};
  return Program{{Function{"main", {}, {
      Assign{x, -77},
      Printf{"%d %u %x %s %c|%d %u %x %s %c|%d %u %x %s %c|%d %u %x %s %c|%d %d %d %d\n",
             {x, x, x, cstr("one"), 'A', x * 2, x * 3, x * 4, cstr("two"), x + 'Z' + 77, call("sq", {x}), 0, 0, cstr(""),
              '~', K(I64_MIN), K(I64_MAX), 1, cstr("four"), '#', x - x, x + x, x * x, call("sq", {call("sq", {x})})}},
      Return{call("sq", {3})},
  }},
  Function{"sq", {"v"}, {Printf{"[sq %d]", {Var{"v"}}}, Return{Var{"v"} * Var{"v"}}}}}};
}
inline Expected printf_many_args_expected() {
  i64 x = -77;
  // The arguments are evaluated (and sq prints) before the outer printf writes anything.
  std::string o = host::format("[sq %d]", {x}) + host::format("[sq %d]", {x}) + host::format("[sq %d]", {x * x});
  o += host::format("%d %u %x %s %c|%d %u %x %s %c|%d %u %x %s %c|%d %u %x %s %c|%d %d %d %d\n",
                    {x, x, x, "one", 'A', x * 2, x * 3, x * 4, "two", x + 'Z' + 77, x * x, 0, 0, "", '~', I64_MIN, I64_MAX, 1,
                     "four", '#', 0, x + x, x * x, x * x * x * x});
  o += host::format("[sq %d]", {3});
  return {o, 9};
}

// ---- syscalls --------------------------------------------------------------------------------

constexpr Program syscall_write() {
  Var r{"r"}, r2{"r2"}, r3{"r3"}, r4{"r4"};
  return Program{{Function{"main", {}, {
      Assign{r, syscall(Sys::write, {1, Embed{"raw\0bytes\xff\n"sv}, 11})},
      Printf{"r=%d\n", {r}},
      Assign{r2, syscall(Sys::write, {1, cstr("abcdef"), 2})},
      Assign{r3, syscall(Sys::write, {1, cstr("x"), 0})},
      Assign{r4, syscall(Sys::write, {-1, cstr("x"), 1})},
      Printf{"\n%d %d %d\n", {r2, r3, r4}},
      Syscall{Sys::write, {1, cstr("stmt\n"), 5}},
      store(BufferAddr{"b"}, 0, 8, 'o'), store(BufferAddr{"b"}, 1, 8, 'k'), store(BufferAddr{"b"}, 2, 8, '\n'),
      Syscall{Sys::write, {1, BufferAddr{"b"}, 3}},
      Return{r + r2},
  }, {Buffer{"b", 16}}}}};
}
inline Expected syscall_write_expected() {
  std::string o("raw\0bytes\xff\n", 11);
  o += "r=11\nab\n2 0 -9\nstmt\nok\n";
  return {o, 13};
}

constexpr Program syscall_exit() {
  return Program{{Function{"main", {}, {
      Printf{"before\n"}, Syscall{Sys::exit, {17}}, Printf{"after %d\n", {1}}, Return{1},
  }}}};
}
inline Expected syscall_exit_expected() { return {"before\n", 17}; }

// exit_group from a nested call, with live frames below it.
constexpr Program syscall_exit_nested() {
  Var n{"n"};
  return Program{{
      Function{"main", {}, {Printf{"result %d\n", {call("down", {1}) + 1}}, Return{2}}},
      Function{"down", {"n"}, {
          Printf{"depth %d\n", {n}},
          If{n == 5, {Syscall{Sys::exit_group, {99 + n * 0}}}},
          Return{call("down", {n + 1}) + 1},
      }},
  }};
}
inline Expected syscall_exit_nested_expected() { return {"depth 1\ndepth 2\ndepth 3\ndepth 4\ndepth 5\n", 99}; }

constexpr Program syscall_ids() {
  Var pid{"pid"}, ppid{"ppid"}, tid{"tid"}, r{"r"};
  return Program{{Function{"main", {}, {
      Assign{pid, syscall(Sys::getpid)}, Assign{ppid, syscall(Sys::getppid)}, Assign{tid, syscall(Sys::gettid)},
      Printf{"%d %d %d %d\n", {CondValue{pid > 0}, CondValue{ppid > 0}, CondValue{tid == pid}, CondValue{pid != ppid}}},
      Assign{r, syscall(Sys::clock_gettime, {0, BufferAddr{"ts"}})},
      Printf{"clock %d %d %d\n", {r, CondValue{load(BufferAddr{"ts"}, 0, 64) > 1000000000},
                                  CondValue{ult(load(BufferAddr{"ts"}, 8, 64), 1000000000)}}},
      Printf{"random %d\n", {syscall(Sys::getrandom, {BufferAddr{"rnd"}, 16, 0})}},
      Return{CondValue{syscall(Sys::getpid) == pid}},
  }, {Buffer{"ts", 16}, Buffer{"rnd", 16}}}}};
}
inline Expected syscall_ids_expected() { return {"1 1 1 1\nclock 0 1 1\nrandom 16\n", 1}; }

// An anonymous read-write mapping: PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS.
constexpr Program syscall_mmap() {
  Var p{"p"}, i{"i"}, s{"s"}, r{"r"};
  return Program{{Function{"main", {}, {
      Assign{p, syscall(Sys::mmap, {0, 8192, 3, 0x22, -1, 0})},
      If{uge(p, -4096), {Printf{"mmap failed %d\n", {p}}, Return{1}}},
      Printf{"aligned %d zero %d\n", {CondValue{IsZero{p & 4095}}, load(p, 8184, 64)}},
      While{i < 1024, {store(p + i * 8, 0, 64, i * i), Assign{i, i + 1}}},
      Assign{i, 0},
      While{i < 1024, {Assign{s, s + load(p, 0, 64)}, Assign{p, p + 8}, Assign{i, i + 1}}},
      Assign{r, syscall(Sys::munmap, {p - 8192, 8192})},
      Printf{"sum %d munmap %d\n", {s, r}},
      // every argument computed, so they sit in temporaries that overlap the syscall registers
      Assign{i, 3},
      Assign{p, syscall(Sys::mmap, {(i + 0) * 0, (i + 0) * 1365 + 1, i + 0, (i + 0) * 11 + 1, 0 - (i + 0) / 3, (i + 0) - 3})},
      If{uge(p, -4096), {Printf{"mmap 2 failed %d\n", {p}}, Return{2}}},
      store(p, 4088, 64, 77),
      Printf{"second %d %d\n", {load(p, 4088, 64), syscall(Sys::munmap, {p + 0, (i + 0) * 1365 + 1})}},
      Return{r},
  }}}};
}
inline Expected syscall_mmap_expected() {
  i64 s = 0;
  for (i64 i = 0; i < 1024; ++i) s += i * i;
  return {host::format("aligned 1 zero 0\nsum %d munmap 0\nsecond 77 0\n", {s}), 0};
}

// Syscalls as values inside expressions, with arguments that are calls.
constexpr Program syscall_in_expr() {
  Var x{"x"};
  return Program{{
      Function{"main", {}, {
          Assign{x, syscall(Sys::write, {1, cstr("xy"), 2}) * 10 + 1},
          Printf{" %d\n", {x}},
          Assign{x, syscall(Sys::write, {1, cstr("hello") + call("one"), call("two") + 1}) + 100},
          Printf{" %d\n", {x}},
          Printf{"%d\n", {(x + 0) + syscall(Sys::getpid) - syscall(Sys::getpid)}},
          If{syscall(Sys::getpid) > 0, {Printf{"pid ok\n"}}},
          Return{syscall(Sys::write, {1, cstr("!\n"), 2})},
      }},
      Function{"one", {}, {Return{1}}},
      Function{"two", {}, {Return{2}}},
  }};
}
inline Expected syscall_in_expr_expected() { return {"xy 21\nell 103\n103\npid ok\n!\n", 2}; }

// ---- embedded bytes, argv / envp --------------------------------------------------------------

constexpr Program embed_bytes() {
  Var e{"e"}, v{"v"}, i{"i"};
  return Program{{Function{"main", {}, {
      Assign{e, Embed{"\x01\x02\x03\x04\x05\x06\x07\x08\x80\x90\xa0\xb0"sv}},
      Printf{"%x %x %x %d %d\n", {load(e, 0, 64), load(e, 3, 16), load(e, 8, 32), load(e, 8, 32, Extend::sign),
                                  load(e, 9, 8, Extend::sign)}},
      Syscall{Sys::write, {1, Embed{"chunk one|"sv}, 10}},
      Syscall{Sys::write, {1, Embed{"chunk one|"sv}, 5}},
      Syscall{Sys::write, {1, Embed{"\nnul\0inside\n"sv}, 12}},
      Printf{"%d\n", {syscall(Sys::write, {1, Embed{""sv}, 0})}},
      Printf{"%s|%s|%s\n", {Embed{"abc\0def"sv, true}, cstr("hello"), Embed{"hello"sv, true}}},
      // prefixes and suffixes of each other, with and without terminating NUL
      Syscall{Sys::write, {1, Embed{"abcd"sv}, 4}},
      Printf{"|%s|%s|%s|%s|%s|%s|\n", {cstr("abc"), cstr("bc"), cstr("c"), cstr(""), cstr("abcd"), cstr("ab")}},
      // hex digits through a table of embedded bytes
      Assign{v, K(0xc0ffee123)}, Assign{i, 16},
      While{i > 0, {Assign{i, i - 1}, store(BufferAddr{"out"} + i, 0, 8, load(cstr("0123456789abcdef") + (v & 15), 0, 8)),
                    Assign{v, shr(v, 4)}}},
      store(BufferAddr{"out"}, 16, 8, '\n'),
      Syscall{Sys::write, {1, BufferAddr{"out"}, 17}},
      Return{load(e, 11, 8)},
  }, {Buffer{"out", 24}}}}};
}
inline Expected embed_bytes_expected() {
  const unsigned char e[] = {1, 2, 3, 4, 5, 6, 7, 8, 0x80, 0x90, 0xa0, 0xb0};
  auto le = [&](int off, int n) {
    u64 v = 0;
    for (int k = n - 1; k >= 0; --k) v = v << 8 | e[off + k];
    return static_cast<i64>(v);
  };
  std::string o = host::format("%x %x %x %d %d\n", {le(0, 8), le(3, 2), le(8, 4), host::sext(le(8, 4), 32), host::sext(le(9, 1), 8)});
  o += "chunk one|chunk";
  o += std::string("\nnul\0inside\n", 12);
  o += "0\nabc|hello|hello\n";
  o += "abcd|abc|bc|c||abcd|ab|\n";
  char hex[32];
  std::snprintf(hex, sizeof hex, "%016llx\n", 0xc0ffee123ULL);
  o += hex;
  return {o, 0xb0};
}

// main(argc, argv, envp), with the runner's fixed arguments and environment.
constexpr Program args_env() {
  Var argc{"argc"}, argv{"argv"}, envp{"envp"}, n{"n"}, p{"p"};
  return Program{{Function{"main", {"argc", "argv", "envp"}, {
      Printf{"argc=%d\n", {argc}},
      Printf{"argv1=%s argv2=%s end=%d\n", {load(argv, 8, 64), load(argv, 16, 64), CondValue{IsZero{load(argv, 24, 64)}}}},
      Assign{p, load(argv, 16, 64)},
      While{load(p, 0, 8) != 0, {Assign{n, n + 1}, Assign{p, p + 1}}},
      Printf{"len=%d env=%s end=%d\n", {n, load(envp, 0, 64), CondValue{IsZero{load(envp, 8, 64)}}}},
      Printf{"envp follows argv %d\n", {CondValue{envp == argv + (argc + 1) * 8}}},
      Return{argc},
  }}}};
}
inline Expected args_env_expected() {
  return {"argc=3\nargv1=alpha argv2=beta gamma end=1\nlen=10 env=CRUMBLE_CORPUS=1 end=1\nenvp follows argv 1\n", 3};
}

// ---- small algorithms -----------------------------------------------------------------------

constexpr Program sieve() {
  Var i{"i"}, j{"j"}, count{"count"}, sum{"sum"}, last{"last"};
  BufferAddr s{"s"};
  return Program{{Function{"main", {}, {
      While{i < 1000, {store(s + i, 0, 8, 0), Assign{i, i + 1}}},
      Assign{i, 2},
      While{i * i < 1000, {
          If{IsZero{load(s + i, 0, 8)}, {Assign{j, i * i}, While{j < 1000, {store(s + j, 0, 8, 1), Assign{j, j + i}}}}},
          Assign{i, i + 1},
      }},
      Assign{i, 2},
      While{i < 1000, {
          If{load(s + i, 0, 8) == 0, {
              Assign{count, count + 1}, Assign{sum, sum + i},
              If{i > 960, {Printf{"%d ", {i}}}},
              Assign{last, i},
          }},
          Assign{i, i + 1},
      }},
      Printf{"\n%d %d\n", {count, sum}},
      Return{count},
  }, {Buffer{"s", 1000}}}}};
}
inline Expected sieve_expected() {
  std::vector<bool> comp(1000);
  std::string o;
  i64 count = 0, sum = 0;
  for (i64 i = 2; i < 1000; ++i) {
    if (comp[static_cast<std::size_t>(i)]) continue;
    for (i64 j = i * i; j < 1000; j += i) comp[static_cast<std::size_t>(j)] = true;
    ++count, sum += i;
    if (i > 960) o += host::format("%d ", {i});
  }
  o += host::format("\n%d %d\n", {count, sum});
  return {o, host::status(count)};
}

// Bubble sort (signed) of a global array, insertion sort (unsigned) of a stack copy.
constexpr u64 lcg_mul = 6364136223846793005ULL, lcg_add = 1442695040888963407ULL;
constexpr Program sorting() {
  Var x{"x"}, i{"i"}, j{"j"}, t{"t"}, swapped{"swapped"}, key{"key"};
  GlobalAddr a{"arr"};
  BufferAddr b{"copy"};
  auto A = [&](Expr idx) { return load(a + std::move(idx) * 8, 0, 64); };
  auto B = [&](Expr idx) { return load(b + std::move(idx) * 8, 0, 64); };
  return Program{{Function{"main", {}, {
      Assign{x, 42},
      While{i < 20, {
          Assign{x, x * K(lcg_mul) + K(lcg_add)},
          store(a + i * 8, 0, 64, sar(x, 40)),
          store(b + i * 8, 0, 64, sar(x, 40)),
          Assign{i, i + 1},
      }},
      Assign{swapped, 1},
      While{swapped != 0, {
          Assign{swapped, 0}, Assign{i, 1},
          While{i < 20, {
              If{A(i - 1) > A(i), {Assign{t, A(i)}, store(a + i * 8, 0, 64, A(i - 1)), store(a + i * 8, -8, 64, t),
                                   Assign{swapped, 1}}},
              Assign{i, i + 1},
          }},
      }},
      Assign{i, 1},
      While{i < 20, {
          Assign{key, B(i)}, Assign{j, i - 1},
          While{(j >= 0) && ugt(B(j), key), {store(b + j * 8, 8, 64, B(j)), Assign{j, j - 1}}},
          store(b + j * 8, 8, 64, key),
          Assign{i, i + 1},
      }},
      Assign{i, 0},
      While{i < 20, {Printf{"%d ", {A(i)}}, Assign{i, i + 1}}},
      Printf{"\n"},
      Assign{i, 0},
      While{i < 20, {Printf{"%x ", {B(i)}}, Assign{i, i + 1}}},
      Printf{"\n"},
      Return{A(0) & 0xff},
  }, {Buffer{"copy", 160}}}}, {Global{"arr", 160, 8}}};
}
inline Expected sorting_expected() {
  std::vector<i64> s, u;
  u64 x = 42;
  for (int i = 0; i < 20; ++i) {
    x = x * lcg_mul + lcg_add;
    s.push_back(static_cast<i64>(x) >> 40);
  }
  std::vector<u64> uu(s.begin(), s.end());
  std::sort(s.begin(), s.end());
  std::sort(uu.begin(), uu.end());
  std::string o;
  for (i64 v : s) o += host::format("%d ", {v});
  o += "\n";
  for (u64 v : uu) o += host::format("%x ", {v});
  o += "\n";
  return {o, host::status(s[0] & 0xff)};
}

constexpr Program string_ops() {
  Var s{"s"}, n{"n"}, i{"i"}, c{"c"};
  BufferAddr r{"rev"}, u{"up"};
  return Program{{
      Function{"main", {}, {
          Assign{s, cstr("Hello, World! 123")},
          Assign{n, call("strlen", {s})},
          While{i < n, {store(r + i, 0, 8, load(s + (n - 1 - i), 0, 8)), Assign{i, i + 1}}},
          store(r + n, 0, 8, 0),
          Assign{i, 0},
          While{i <= n, {
              Assign{c, load(s + i, 0, 8)},
              If{(c >= 'a') && (c <= 'z'), {Assign{c, c - 32}}},
              store(u + i, 0, 8, c),
              Assign{i, i + 1},
          }},
          Printf{"%d [%s] [%s]\n", {n, r, u}},
          Printf{"%d %d %d %d\n", {call("strcmp", {cstr("abc"), cstr("abd")}), call("strcmp", {cstr("abc"), cstr("abc")}),
                                   call("strcmp", {cstr("b"), cstr("abc")}), call("strcmp", {cstr("ab"), cstr("abc")})}},
          Return{n},
      }, {Buffer{"rev", 32}, Buffer{"up", 32}}},
      Function{"strlen", {"p"}, {Assign{n, 0}, While{load(Var{"p"} + n, 0, 8) != 0, {Assign{n, n + 1}}}, Return{n}}},
      Function{"strcmp", {"a", "b"}, {
          While{(load(Var{"a"}, 0, 8) != 0) && (load(Var{"a"}, 0, 8) == load(Var{"b"}, 0, 8)),
                {Assign{Var{"a"}, Var{"a"} + 1}, Assign{Var{"b"}, Var{"b"} + 1}}},
          Return{load(Var{"a"}, 0, 8) - load(Var{"b"}, 0, 8)},
      }},
  }};
}
inline Expected string_ops_expected() {
  std::string s = "Hello, World! 123";
  std::string r(s.rbegin(), s.rend()), u = s;
  for (char& ch : u)
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 32);
  auto cmp = [](const char* a, const char* b) -> i64 {
    while (*a && *a == *b) ++a, ++b;
    return static_cast<unsigned char>(*a) - static_cast<unsigned char>(*b);
  };
  std::string o = host::format("%d [%s] [%s]\n", {static_cast<i64>(s.size()), r, u});
  o += host::format("%d %d %d %d\n", {cmp("abc", "abd"), cmp("abc", "abc"), cmp("b", "abc"), cmp("ab", "abc")});
  return {o, static_cast<int>(s.size())};
}

constexpr Program matrix_mul() {
  Var i{"i"}, j{"j"}, k{"k"}, acc{"acc"};
  BufferAddr A{"A"}, B{"B"}, C{"C"};
  auto at = [](const BufferAddr& m, Expr r, Expr c) { return m + (std::move(r) * 4 + std::move(c)) * 8; };
  return Program{{Function{"main", {}, {
      While{i < 4, {
          Assign{j, 0},
          While{j < 4, {
              store(at(A, i, j), 0, 64, i * 4 + j - 5),
              store(at(B, i, j), 0, 64, (i + 1) * (j + 2) % 7 - 3),
              Assign{j, j + 1},
          }},
          Assign{i, i + 1},
      }},
      Assign{i, 0},
      While{i < 4, {
          Assign{j, 0},
          While{j < 4, {
              Assign{acc, 0}, Assign{k, 0},
              While{k < 4, {Assign{acc, acc + load(at(A, i, k), 0, 64) * load(at(B, k, j), 0, 64)}, Assign{k, k + 1}}},
              store(at(C, i, j), 0, 64, acc),
              Assign{j, j + 1},
          }},
          Printf{"%d %d %d %d\n", {load(at(C, i, 0), 0, 64), load(at(C, i, 1), 0, 64), load(at(C, i, 2), 0, 64),
                                   load(at(C, i, 3), 0, 64)}},
          Assign{i, i + 1},
      }},
      Return{load(at(C, 3, 3), 0, 64)},
  }, {Buffer{"A", 128}, Buffer{"B", 128}, Buffer{"C", 128}}}}};
}
inline Expected matrix_mul_expected() {
  i64 A[4][4], B[4][4], C[4][4];
  for (i64 i = 0; i < 4; ++i)
    for (i64 j = 0; j < 4; ++j) A[i][j] = i * 4 + j - 5, B[i][j] = (i + 1) * (j + 2) % 7 - 3;
  std::string o;
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) {
      C[i][j] = 0;
      for (int k = 0; k < 4; ++k) C[i][j] += A[i][k] * B[k][j];
    }
    o += host::format("%d %d %d %d\n", {C[i][0], C[i][1], C[i][2], C[i][3]});
  }
  return {o, host::status(C[3][3])};
}

constexpr Program crc32() {
  Var p{"p"}, crc{"crc"}, k{"k"};
  return Program{{Function{"main", {}, {
      Assign{p, cstr("The quick brown fox jumps over the lazy dog")},
      Assign{crc, K(0xffffffff)},
      While{load(p, 0, 8) != 0, {
          Assign{crc, crc ^ load(p, 0, 8)},
          Assign{k, 0},
          While{k < 8, {
              If{(crc & 1) != 0, {Assign{crc, shr(crc, 1) ^ K(0xedb88320)}}, {Assign{crc, shr(crc, 1)}}},
              Assign{k, k + 1},
          }},
          Assign{p, p + 1},
      }},
      Assign{crc, crc ^ K(0xffffffff)},
      Printf{"%x\n", {crc}},
      Return{crc & 0xff},
  }}}};
}
inline Expected crc32_expected() {
  std::uint32_t crc = 0xffffffff;
  for (unsigned char ch : std::string_view("The quick brown fox jumps over the lazy dog")) {
    crc ^= ch;
    for (int k = 0; k < 8; ++k) crc = crc & 1 ? (crc >> 1) ^ 0xedb88320u : crc >> 1;
  }
  crc ^= 0xffffffffu;
  return {host::format("%x\n", {crc}), static_cast<int>(crc & 0xff)};
}

constexpr Program xorshift() {
  Var x{"x"}, i{"i"}, h{"h"};
  return Program{{Function{"main", {}, {
      Assign{x, K(88172645463325252ULL)},
      While{i < 8, {
          Assign{x, x ^ (x << 13)}, Assign{x, x ^ shr(x, 7)}, Assign{x, x ^ (x << 17)},
          Assign{h, (h ^ sar(x, 29)) * K(0x9e3779b97f4a7c15ULL)},
          Printf{"%x %x\n", {x, h}},
          Assign{i, i + 1},
      }},
      Return{shr(x, 56)},
  }}}};
}
inline Expected xorshift_expected() {
  u64 x = 88172645463325252ULL, h = 0;
  std::string o;
  for (int i = 0; i < 8; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    h = (h ^ static_cast<u64>(static_cast<i64>(x) >> 29)) * 0x9e3779b97f4a7c15ULL;
    o += host::format("%x %x\n", {x, h});
  }
  return {o, static_cast<int>(x >> 56)};
}

// A 64 KiB stack buffer, and recursion with 16 KiB buffers in every frame.
constexpr Program large_stack_buffer() {
  Var i{"i"}, s{"s"}, n{"n"}, seed{"seed"};
  return Program{{
      Function{"main", {}, {
          Printf{"%d %d\n", {call("big", {3}), call("nest", {8})}},
          Return{call("nest", {2}) & 0xff},
      }},
      Function{"big", {"seed"}, {
          While{i < 8192, {store(BufferAddr{"b"} + i * 8, 0, 64, seed * i), Assign{i, i + 1}}},
          Assign{i, 0},
          While{i < 8192, {Assign{s, s + load(BufferAddr{"b"} + i * 8, 0, 64)}, Assign{i, i + 1}}},
          Return{s},
      }, {Buffer{"b", 65536}}},
      Function{"nest", {"n"}, {
          store(BufferAddr{"b"}, 0, 64, n), store(BufferAddr{"b"}, 16376, 64, n * 2),
          If{n == 0, {Return{0}}},
          Assign{s, call("nest", {n - 1})},
          Return{s + load(BufferAddr{"b"}, 0, 64) + load(BufferAddr{"b"}, 16376, 64)},
      }, {Buffer{"b", 16384}}},
  }};
}
inline Expected large_stack_buffer_expected() {
  auto nest = [](i64 n) { return 3 * n * (n + 1) / 2; };
  return {host::format("%d %d\n", {i64{3} * 8191 * 8192 / 2, nest(8)}), host::status(nest(2))};
}

}  // namespace crumble::corpus
