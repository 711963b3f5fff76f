// SPDX-License-Identifier: Apache-2.0
// ARM64 executables run under qemu-aarch64 (user mode): each test lowers an IR program with
// crumble::executable<arch::arm64>, runs it, and compares its stdout and exit status with the same
// computation done here in plain C++. Branch relaxation is checked at the code::Buffer level,
// where the distance to a target can be set to the byte (just inside and just outside b.cond's
// ±1 MiB), and through the lowering with a 1 MiB if-body. A few programs are also assembled in
// constant evaluation and must give the same bytes.
//
// qemu-aarch64 comes from PATH (tests/runner.hpp); without it the test exits with 4, which ctest
// reports as SKIPPED.
#include <crumble/arch/arm64/target.hpp>
#include <crumble/assemble.hpp>
#include <crumble/ir/build.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "runner.hpp"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>


namespace {

using namespace crumble::ir;
using A = crumble::arch::arm64;
using Gp = crumble::arm64::Gp;
using Bytes = std::vector<std::uint8_t>;
constexpr std::int64_t i64_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t i64_max = std::numeric_limits<std::int64_t>::max();

// ---- running ------------------------------------------------------------------------------
struct Run {
  std::string out;
  int status;  // exit status; -1: killed (by a signal or the time limit)
};

// Runs the executable under qemu-aarch64 (tests/runner.hpp) with argv = {path, "alpha",
// "beta gamma"}, the environment {CRUMBLE=1} and a 60 s limit.
Run run(const Bytes& elf) {
  static const crumble::test::RunOptions base = crumble::test::emulated("qemu-aarch64");
  crumble::test::RunOptions opt = base;
  opt.env = {"CRUMBLE=1"};
  opt.timeout_ms = 60000;
  crumble::test::RunResult r = crumble::test::run_elf(elf, opt);
  INFO(r.describe());
  REQUIRE(r.error.empty());
  return Run{r.out, r.exited ? r.status : -1};
}
Run run(const Program& p) { return run(crumble::executable<A>(p)); }

// The formatting ir/printf.hpp does, done in C++.
std::string d(std::int64_t v) { return std::to_string(v); }
std::string u(std::uint64_t v) { return std::to_string(v); }
std::string x(std::uint64_t v) {
  char s[24];
  std::snprintf(s, sizeof s, "%llx", static_cast<unsigned long long>(v));
  return s;
}
std::uint64_t w(std::int64_t v) { return static_cast<std::uint64_t>(v); }
std::int64_t s(std::uint64_t v) { return static_cast<std::int64_t>(v); }

// ---- programs -----------------------------------------------------------------------------

// Every operation with register operands, and with immediates of every encoding class (imm12,
// imm12 lsl 12, two add/subs, through x16, bitmask or not, powers of two, shifts mod 64).
const std::vector<std::pair<std::int64_t, std::int64_t>> op_pairs = {
    {17, 5}, {-17, 5}, {17, -5}, {-17, -5}, {i64_max, 2}, {i64_min, 3}, {0x123456789, 36}, {-1, 63}, {12345, 68}};
const std::vector<std::int64_t> imm_xs = {0, 1, -1, 123456789, -987654321, i64_max, i64_min};

Program arithmetic() {
  Var a{"a"}, b{"b"};
  Block main;
  for (auto [p, q] : op_pairs) main.push_back(Call{FuncAddr{"ops"}, {Int64{p}, Int64{q}}});
  for (auto v : imm_xs) main.push_back(Call{FuncAddr{"imms"}, {Int64{v}}});
  main.push_back(Return{Int64{3}});
  return Program{{
      Function{"main", {}, main},
      Function{"ops", {"a", "b"}, {
          Printf{"%d %d %d %d %u %d %u %d %u %d %d %d %d\n",
                 {a + b, a - b, a * b, a / b, udiv(a, b), a % b, urem(a, b), a << b, shr(a, b), sar(a, b), a & b, a | b, a ^ b}},
      }},
      Function{"imms", {"a"}, {
          Printf{"%d %d %d %d %d %d %d %d %d %d %d %d\n",
                 {a + 1, a + 4095, a + 4096, a + 0x123456, a + 0xffffff, a + 0x1000000, a - 1, a - 4096, a + (-5),
                  a - (-7), a + Int64{i64_min}, a - Int64{i64_min}}},
          Printf{"%d %d %d %d %d %d %d %u %d %d %u\n",
                 {a * 8, a * 1, a * 7, a * (-3), a * Int64{0x100000000}, a / 3, a / (-2), udiv(a, 10), a % 7,
                  a % (-7), urem(a, 10)}},
          Printf{"%d %d %u %d %d %x %x %x %x %x %x %x\n",
                 {a << 3, a << 67, shr(a, 60), sar(a, 63), sar(a, 0), a & 0xff, a & 0x12345, a & 0,
                  a | Int64{0x5555555555555555}, a | 0, a ^ (-1), a ^ 0xf0f0}},
      }},
  }};
}
std::string arithmetic_expected() {
  std::string o;
  for (auto [p, q] : op_pairs) {
    const std::uint64_t a = w(p), b = w(q);
    o += d(s(a + b)) + " " + d(s(a - b)) + " " + d(s(a * b)) + " " + d(p / q) + " " + u(a / b) + " " + d(p % q) + " " +
         u(a % b) + " " + d(s(a << (b & 63))) + " " + u(a >> (b & 63)) + " " + d(p >> (b & 63)) + " " + d(s(a & b)) +
         " " + d(s(a | b)) + " " + d(s(a ^ b)) + "\n";
  }
  for (std::int64_t v : imm_xs) {
    const std::uint64_t a = w(v);
    o += d(s(a + 1)) + " " + d(s(a + 4095)) + " " + d(s(a + 4096)) + " " + d(s(a + 0x123456)) + " " +
         d(s(a + 0xffffff)) + " " + d(s(a + 0x1000000)) + " " + d(s(a - 1)) + " " + d(s(a - 4096)) + " " +
         d(s(a - 5)) + " " + d(s(a + 7)) + " " + d(s(a + w(i64_min))) + " " + d(s(a - w(i64_min))) + "\n";
    o += d(s(a * 8)) + " " + d(v) + " " + d(s(a * 7)) + " " + d(s(a * w(-3))) + " " + d(s(a * 0x100000000)) + " " +
         d(v / 3) + " " + d(v / -2) + " " + u(a / 10) + " " + d(v % 7) + " " + d(v % -7) + " " + u(a % 10) + "\n";
    o += d(s(a << 3)) + " " + d(s(a << 3)) + " " + u(a >> 60) + " " + d(v >> 63) + " " + d(v) + " " + x(a & 0xff) +
         " " + x(a & 0x12345) + " " + x(0) + " " + x(a | 0x5555555555555555) + " " + x(a) + " " + x(~a) + " " +
         x(a ^ 0xf0f0) + "\n";
  }
  return o;
}

// Constants of every materialisation class, into temporaries (printf arguments) and into a home.
const std::vector<std::uint64_t> constants = {
    0, 1, 0xffff, 0x10000, 0xffff0000, 0xffffffff, 0x100000000, 0x123456789abcdef0, ~std::uint64_t{0},
    ~std::uint64_t{1}, ~std::uint64_t{0xffff}, 0x5555555555555555, 0xaaaaaaaaaaaaaaaa, 0x00ff00ff00ff00ff,
    0x5555123455555555, 0x0000123455555555, 0xffff1234, 0x8000000000000000, 0x7fffffffffffffff,
    0x8000000000000001, 0xfedcba9876543210, 0x0000ffff0000ffff, 0xdeadbeef, 0xffffffff80000000, 0x1234ffff5678ffff};
Program constants_program() {
  Block main;
  Var v{"v"};
  for (std::uint64_t c : constants) {
    main.push_back(Assign{v, Int64{s(c)}});
    main.push_back(Printf{"%x %x\n", {Int64{s(c)}, v}});
  }
  return Program{{Function{"main", {}, main}}};
}
std::string constants_expected() {
  std::string o;
  for (std::uint64_t c : constants) o += x(c) + " " + x(c) + "\n";
  return o;
}

// Loops with break/continue, nested loops, goto, and every comparison against registers and
// immediates (cbz/cbnz for == 0 and != 0, cmp, cmn, through x16).
const std::vector<std::int64_t> cmp_values = {0, 1, -1, 5, -5, 4095, -4095, 4096, -4096, i64_min, i64_max};
Program control() {
  Var i{"i"}, j{"j"}, sum{"sum"}, n{"n"}, k{"k"}, a{"a"}, b{"b"}, prime{"prime"};
  Block cmps;
  for (std::int64_t c : cmp_values) {  // a against each immediate, by every comparison
    std::vector<Expr> bits;
    for (int kind = 0; kind < 10; ++kind) bits.push_back(CondValue{Compare{Cmp(kind), a, Int64{c}}});
    cmps.push_back(Printf{"%d%d%d%d%d%d%d%d%d%d ", bits});
  }
  cmps.push_back(Printf{"\n"});
  std::vector<Expr> reg_bits;
  for (int kind = 0; kind < 10; ++kind) reg_bits.push_back(CondValue{Compare{Cmp(kind), a, b}});
  return Program{{
      Function{"main", {}, {
          Assign{sum, 0}, Assign{i, 0},
          While{i < 1000, {
              Assign{i, i + 1},
              If{i % 3 == 0, {Continue{}}},
              If{i > 900, {Break{}}},
              Assign{sum, sum + i * i},
          }},
          Assign{n, 0}, Assign{i, 2},
          While{i < 2000, {
              Assign{prime, 1}, Assign{j, 2},
              While{(j * j <= i) && (prime != 0), {
                  If{i % j == 0, {Assign{prime, 0}}},
                  Assign{j, j + 1},
              }},
              If{!(prime == 0), {Assign{n, n + 1}}},
              Assign{i, i + 1},
          }},
          Assign{k, 0},
          Label{"again"},
          Assign{k, k + 3},
          If{k < 100, {Goto{"again"}}},
          Printf{"%d %d %d\n", {sum, n, k}},
          Call{FuncAddr{"compare_all"}, {0}}, Call{FuncAddr{"compare_all"}, {5}}, Call{FuncAddr{"compare_all"}, {-5}},
          Call{FuncAddr{"compare_all"}, {Int64{i64_min}}}, Call{FuncAddr{"compare_all"}, {4096}},
          Call{FuncAddr{"compare_regs"}, {3, 7}}, Call{FuncAddr{"compare_regs"}, {-3, 7}},
          Call{FuncAddr{"compare_regs"}, {7, 7}}, Call{FuncAddr{"compare_regs"}, {Int64{i64_min}, Int64{i64_max}}},
          Printf{"%d %d %d\n", {CondValue{(Var{"n"} > 300) && !(Var{"k"} == 0)},
                                CondValue{(Var{"n"} < 0) || (Var{"k"} == 102)},
                                CondValue{IsNegative{Var{"n"} - 1000}}}},
          Return{n},
      }},
      Function{"compare_all", {"a"}, cmps},
      Function{"compare_regs", {"a", "b"}, {Printf{"%d%d%d%d%d%d%d%d%d%d\n", reg_bits}}},
  }};
}
std::string compare_bits(std::int64_t a, std::int64_t b) {
  const std::uint64_t ua = w(a), ub = w(b);
  const bool r[10] = {a == b, a != b, a < b, a <= b, a > b, a >= b, ua < ub, ua <= ub, ua > ub, ua >= ub};
  std::string o;
  for (bool v : r) o += v ? '1' : '0';
  return o;
}
std::string control_expected(int& primes) {
  std::int64_t sum = 0;
  for (std::int64_t i = 1; i <= 900; ++i)
    if (i % 3) sum += i * i;
  primes = 0;
  for (int i = 2; i < 2000; ++i) {
    bool p = true;
    for (int j = 2; j * j <= i && p; ++j) p = i % j != 0;
    primes += p;
  }
  std::string o = d(sum) + " " + d(primes) + " 102\n";
  for (std::int64_t a : {std::int64_t{0}, std::int64_t{5}, std::int64_t{-5}, i64_min, std::int64_t{4096}}) {
    for (std::int64_t c : cmp_values) o += compare_bits(a, c) + " ";
    o += "\n";
  }
  for (auto [a, b] : {std::pair<std::int64_t, std::int64_t>{3, 7}, {-3, 7}, {7, 7}, {i64_min, i64_max}})
    o += compare_bits(a, b) + "\n";
  o += "1 1 1\n";
  return o;
}

// Calls: all eight argument registers, permuted arguments, calls inside arguments (temporaries
// live across calls), more locals than callee-saved registers (stack homes).
Program calls() {
  Var a{"a"}, b{"b"}, c{"c"}, dd{"d"}, e{"e"}, f{"f"}, g{"g"}, h{"h"};
  Block many;
  Expr total = Int64{0};
  for (int i = 0; i < 14; ++i) {
    static constexpr std::string_view names[] = {"l0", "l1", "l2", "l3", "l4", "l5", "l6",
                                                 "l7", "l8", "l9", "l10", "l11", "l12", "l13"};
    many.push_back(Assign{Var{names[i]}, a * (i + 1) + i});
    total = total + Var{names[i]} * (i % 3 + 1);
  }
  many.push_back(Return{total});
  return Program{{
      Function{"main", {}, {
          Printf{"%d %d %d\n", {call("f8", {1, 2, 3, 4, 5, 6, 7, 8}), call("g6", {1, 2, 3, 4, 5, 6}),
                                call("g6", {-6, 5, -4, 3, -2, 1})}},
          Printf{"%d\n", {Int64{100} + call("f8", {call("f8", {1, 1, 1, 1, 1, 1, 1, 1}), 2, 3, 4, 5, 6, 7,
                                                    Int64{1000} * call("g6", {1, 1, 1, 1, 1, 1})})}},
          Printf{"%d %d\n", {call("many", {3}), call("many", {-100})}},
          Return{call("f8", {0, 0, 0, 0, 0, 0, 0, 9})},
      }},
      Function{"f8", {"a", "b", "c", "d", "e", "f", "g", "h"},
               {Return{a + b * 2 + c * 3 + dd * 4 + e * 5 + f * 6 + g * 7 + h * 8}}},
      // Arguments in reverse, then rotated: every argument register gets another's value.
      Function{"g6", {"a", "b", "c", "d", "e", "f"},
               {Return{call("f8", {f, e, dd, c, b, a, a * b, 1000}) - call("f8", {b, c, dd, e, f, a, 0, 0})}}},
      Function{"many", {"a"}, many},
  }};
}
std::string calls_expected() {
  auto f8 = [](std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d, std::int64_t e, std::int64_t f,
               std::int64_t g, std::int64_t h) { return a + b * 2 + c * 3 + d * 4 + e * 5 + f * 6 + g * 7 + h * 8; };
  auto g6 = [&](std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d, std::int64_t e, std::int64_t f) {
    return f8(f, e, d, c, b, a, a * b, 1000) - f8(b, c, d, e, f, a, 0, 0);
  };
  auto many = [](std::int64_t a) {
    std::int64_t t = 0;
    for (int i = 0; i < 14; ++i) t += (a * (i + 1) + i) * (i % 3 + 1);
    return t;
  };
  return d(f8(1, 2, 3, 4, 5, 6, 7, 8)) + " " + d(g6(1, 2, 3, 4, 5, 6)) + " " + d(g6(-6, 5, -4, 3, -2, 1)) + "\n" +
         d(100 + f8(f8(1, 1, 1, 1, 1, 1, 1, 1), 2, 3, 4, 5, 6, 7, 1000 * g6(1, 1, 1, 1, 1, 1))) + "\n" + d(many(3)) +
         " " + d(many(-100)) + "\n";
}

Program recursion() {
  Var n{"n"}, m{"m"};
  return Program{{
      Function{"main", {}, {
          Printf{"%d %d %d %d\n", {call("fib", {25}), call("fact", {20}), call("ack", {2, 3}), call("gcd", {1071, 462})}},
          Return{call("fib", {10})},
      }},
      Function{"fib", {"n"}, {If{n < 2, {Return{n}}}, Return{call("fib", {n - 1}) + call("fib", {n - 2})}}},
      Function{"fact", {"n"}, {If{n <= 1, {Return{1}}}, Return{n * call("fact", {n - 1})}}},
      Function{"ack", {"m", "n"}, {
          If{m == 0, {Return{n + 1}}},
          If{n == 0, {Return{call("ack", {m - 1, 1})}}},
          Return{call("ack", {m - 1, call("ack", {m, n - 1})})},
      }},
      Function{"gcd", {"m", "n"}, {If{n == 0, {Return{m}}}, Return{call("gcd", {n, m % n})}}},
  }};
}

// printf's conversions, argv/envp from the start stub, direct syscalls, output past the 256-byte
// buffer.
Program printing() {
  Var i{"i"}, argv{"argv"}, envp{"envp"};
  return Program{{Function{"main", {"argc", "argv", "envp"}, {
      Printf{"%d|%u|%x|%s|%c|%%|%d|%u\n", {-42, -1, Int64{0xdeadbeef}, cstr("str"), 'Z', Int64{i64_min}, Int64{i64_min}}},
      Printf{"argc=%d argv1=%s argv2=%s env=%s end=%d\n",
             {Var{"argc"}, load(argv, 8, 64), load(argv, 16, 64), load(envp, 0, 64), load(envp, 8, 64)}},
      Call{FuncAddr{"say"}, {cstr("direct write\n"), 13}},
      Assign{i, 0},
      While{i < 100, {Printf{"%d,", {i}}, Assign{i, i + 1}}},
      Printf{"\npid>0:%d\n", {CondValue{syscall(Sys::getpid) > 0}}},
      Return{Var{"argc"} + 40},
  }},
  Function{"say", {"p", "n"}, {Return{syscall(Sys::write, {1, Var{"p"}, Var{"n"}})}}}}};
}
std::string printing_expected() {
  std::string o = "-42|18446744073709551615|deadbeef|str|Z|%|-9223372036854775808|9223372036854775808\n";
  o += "argc=3 argv1=alpha argv2=beta gamma env=CRUMBLE=1 end=0\ndirect write\n";
  for (int i = 0; i < 100; ++i) o += d(i) + ",";
  return o + "\npid>0:1\n";
}

// Loads and stores of every width, zero- and sign-extended, at displacements that take each
// addressing mode (scaled, unscaled, register), on a stack buffer larger than 64 KiB.
Program memory() {
  Var p{"p"}, q{"q"};
  return Program{{Function{"main", {}, {
      Assign{p, BufferAddr{"buf"}},
      store(p, 0, 8, 0x80), store(p, 8, 16, 0x8001), store(p, 16, 32, Int64{0x80000001}),
      store(p, 24, 64, Int64{s(0x8000000000000001)}),
      Printf{"%d %d %d %d %d %d %d\n", {load(p, 0, 8), load(p, 0, 8, Extend::sign), load(p, 8, 16),
                                         load(p, 8, 16, Extend::sign), load(p, 16, 32), load(p, 16, 32, Extend::sign),
                                         load(p, 24, 64)}},
      store(p, 65536, 64, Int64{0x1122334455667788}),
      Printf{"%x %x %x %d\n", {load(p, 65536, 32), load(p, 65539, 8), load(p, 65537, 16, Extend::sign),
                               load(p, 65540, 32, Extend::sign)}},
      store(p, 32760, 64, 7), store(p, 32768, 64, 8), store(p, 3, 64, Int64{0x0102030405060708}),
      store(p, 1003, 16, 0xbeef), store(p, 8190, 16, 0x7fff), store(p, 16380, 32, -2),
      Printf{"%d %d %x %x %d %d %d\n", {load(p, 32760, 64), load(p, 32768, 64), load(p, 3, 64), load(p, 1003, 16),
                                         load(p, 8190, 16, Extend::sign), load(p, 16380, 32), load(p, 16380, 32, Extend::sign)}},
      Assign{q, p + 1000},
      store(q, -300, 32, Int64{0xcafebabe}), store(q, -256, 8, 0x7f), store(q, -1, 8, 0xff), store(q, -259, 16, 0x8000),
      Printf{"%x %d %d %d %d\n", {load(p, 700, 32), load(q, -256, 8, Extend::sign), load(p, 999, 8, Extend::sign),
                                  load(q, -259, 16, Extend::sign), load(q, -1, 8)}},
      store(BufferAddr{"small"}, 8, 64, 99),
      Return{load(BufferAddr{"small"}, 8, 64)},
  }, {Buffer{"buf", 70000}, Buffer{"small", 16}}}}};
}
std::string memory_expected() {
  return "128 -128 32769 -32767 2147483649 -2147483647 " + d(s(0x8000000000000001)) + "\n" +
         "55667788 55 6677 " + d(0x11223344) + "\n" +
         "7 8 102030405060708 beef 32767 4294967294 -2\n" +
         "cafebabe 127 -1 -32768 255\n";
}

// Globals, function addresses in globals and locals, indirect calls (blr x17).
Program globals_and_pointers() {
  Var i{"i"}, t{"t"}, f{"f"};
  return Program{{
      Function{"main", {}, {
          Assign{i, 0},
          While{i < 10, {store(GlobalAddr{"arr"} + i * 8, 0, 64, i * i), Call{FuncAddr{"bump"}, {}}, Assign{i, i + 1}}},
          Assign{t, 0}, Assign{i, 0},
          While{i < 10, {Assign{t, t + load(GlobalAddr{"arr"} + i * 8, 0, 64)}, Assign{i, i + 1}}},
          Assign{GlobalVar{"fp"}, FuncAddr{"sq"}},
          store(GlobalAddr{"table"}, 0, 64, FuncAddr{"sq"}), store(GlobalAddr{"table"}, 8, 64, FuncAddr{"add3"}),
          Assign{f, FuncAddr{"add3"}},
          Printf{"%d %d %d %d %d %d\n", {GlobalVar{"counter"}, t, Call{GlobalVar{"fp"}, {7}}, Call{f, {1, 2, 3}},
                                         Call{load(GlobalAddr{"table"}, 8, 64), {10, 20, 30}},
                                         call("apply", {FuncAddr{"sq"}, 12})}},
          Return{GlobalVar{"counter"}},
      }},
      Function{"bump", {}, {Assign{GlobalVar{"counter"}, GlobalVar{"counter"} + 1}}},
      Function{"sq", {"x"}, {Return{Var{"x"} * Var{"x"}}}},
      Function{"add3", {"x", "y", "z"}, {Return{Var{"x"} + Var{"y"} + Var{"z"}}}},
      Function{"apply", {"g", "x"}, {Return{Call{Var{"g"}, {Var{"x"}}} + 1}}},
  }, {Global{"counter"}, Global{"arr", 80}, Global{"fp"}, Global{"table", 16, 16}}};
}

// Code written at run time: mmap an RWX page, store instructions, flush, call; then patch it.
Program jit() {
  namespace a = crumble::arm64;
  Var p{"p"}, r1{"r1"}, r2{"r2"};
  auto word = [](a::Inst i) { return Int64{i.word}; };
  return Program{{Function{"main", {}, {
      Assign{p, syscall(Sys::mmap, {0, 4096, 7, 0x22, -1, 0})},  // PROT_RWX, MAP_PRIVATE|MAP_ANONYMOUS
      store(p, 0, 32, word(a::movz(Gp::x0, 42))), store(p, 4, 32, word(a::ret())),
      CacheFlush{p, 8}, InstructionBarrier{},
      Assign{r1, Call{p, {}}},
      store(p, 0, 32, word(a::movz(Gp::x0, 43))),
      CacheFlush{p + 1, 4095}, InstructionBarrier{},
      Assign{r2, Call{p, {}}},
      CacheFlush{p, 0},
      Printf{"%d %d\n", {r1, r2}},
      Return{r1 + r2},
  }}}};
}

}  // namespace

TEST_CASE("arm64 run: arithmetic with register and immediate operands", "[arm64][run][qemu]") {
  auto r = run(arithmetic());
  CHECK(r.out == arithmetic_expected());
  CHECK(r.status == 3);
}

TEST_CASE("arm64 run: 64-bit constants", "[arm64][run][qemu]") {
  auto r = run(constants_program());
  CHECK(r.out == constants_expected());
  CHECK(r.status == 0);
}

TEST_CASE("arm64 run: loops, goto and every comparison", "[arm64][run][qemu]") {
  int primes = 0;
  auto expected = control_expected(primes);
  auto r = run(control());
  CHECK(r.out == expected);
  CHECK(r.status == (primes & 0xff));
}

TEST_CASE("arm64 run: calls with eight and permuted arguments, stack homes", "[arm64][run][qemu]") {
  auto r = run(calls());
  CHECK(r.out == calls_expected());
  CHECK(r.status == 72);
}

TEST_CASE("arm64 run: recursion", "[arm64][run][qemu]") {
  auto r = run(recursion());
  CHECK(r.out == "75025 2432902008176640000 9 21\n");
  CHECK(r.status == 55);
}

TEST_CASE("arm64 run: printf, argv, envp, syscalls", "[arm64][run][qemu]") {
  auto r = run(printing());
  CHECK(r.out == printing_expected());
  CHECK(r.status == 43);
}

TEST_CASE("arm64 run: memory widths and addressing modes", "[arm64][run][qemu]") {
  auto r = run(memory());
  CHECK(r.out == memory_expected());
  CHECK(r.status == 99);
}

TEST_CASE("arm64 run: globals and indirect calls", "[arm64][run][qemu]") {
  auto r = run(globals_and_pointers());
  CHECK(r.out == "10 285 49 6 60 145\n");
  CHECK(r.status == 10);
}

TEST_CASE("arm64 run: cache flush and instruction barrier around generated code", "[arm64][run][qemu]") {
  auto r = run(jit());
  CHECK(r.out == "42 43\n");
  CHECK(r.status == 85);
}

// An if whose body is 1 MiB of single-instruction statements: the conditional branch over it
// must be relaxed (b.cond and cbz each), or the program would jump into the middle of the body.
TEST_CASE("arm64 run: branches over a 1 MiB if-body are relaxed", "[arm64][run][qemu][relax]") {
  for (int variant = 0; variant < 4; ++variant) {
    Var n{"n"}, y{"y"};
    const int words = variant % 2 ? 262200 : 262000;  // just over / under 1 MiB
    Block body;
    body.reserve(words);
    for (int i = 0; i < words; ++i) body.push_back(Assign{y, y + 1});
    Cond c = variant < 2 ? Cond{n < 5} : Cond{n == 0};  // b.ge / cbnz over the body
    Program p{{Function{"main", {"argc"}, {
        Assign{n, Var{"argc"} - 3}, Assign{y, 0},
        If{c, body},  // n == 0: runs the body
        Printf{"%d\n", {y}},
        Assign{n, Var{"argc"} * 100},
        If{c, body},  // n == 300: branches over it
        Return{y - words + 5},
    }}}};
    auto r = run(p);
    INFO("variant " << variant);
    CHECK(r.out == d(words) + "\n");
    CHECK(r.status == 5);
  }
}

// ---- relaxation at the buffer level --------------------------------------------------------
namespace {
using Buf = crumble::code::Buffer<A>;
namespace a = crumble::arm64;

void exit_with(Buf& b, int code) {
  A::mov_imm(b, Gp::x0, code);
  A::syscall(b, 93);
}
void gap(Buf& b, int words) {
  for (int i = 0; i < words; ++i) b.put(a::brk(0xdead));
}
std::uint32_t word_at(const crumble::code::Image& img, std::size_t off) {
  return img.bytes[off] | img.bytes[off + 1] << 8 | img.bytes[off + 2] << 16 | std::uint32_t{img.bytes[off + 3]} << 24;
}
Bytes elf_of(const Buf& b, crumble::code::Label start, crumble::code::Image* img = nullptr) {
  auto i = b.finish(start, crumble::elf::image_address);
  if (img) *img = i;
  return crumble::elf::file(i, A::elf_machine);
}

// A conditional item (b.eq after cmp x0, #0, or cbz x0) forward to a target `disp` bytes away
// when the item is in its short form. Taken: exits 42; falls through: 1.
Bytes forward(bool cbz, std::int64_t disp, crumble::code::Image* img) {
  Buf b;
  auto start = b.new_label(), far = b.new_label();
  b.bind(start);
  b.put(a::movz(Gp::x0, 0));
  b.put(a::subs(Gp::xzr, Gp::x0, 0u));
  if (cbz) b.item(A::cbz_item, static_cast<std::uint8_t>(Gp::x0), far);
  else b.item(A::branch_item, static_cast<std::uint8_t>(a::Cond::eq), far);
  exit_with(b, 1);                              // 12 bytes: movz x0; movz x8; svc
  gap(b, static_cast<int>((disp - 16) / 4));    // the item (4) + exit (12) + gap = disp
  b.bind(far);
  exit_with(b, 42);
  return elf_of(b, start, img);
}
// Backward: the target sits `-disp` bytes before the item.
Bytes backward(bool cbz, std::int64_t disp, crumble::code::Image* img) {
  Buf b;
  auto start = b.new_label(), far = b.new_label(), go = b.new_label();
  b.bind(start);
  b.item(A::jump_item, 0, go);
  b.bind(far);
  exit_with(b, 42);                             // 12 bytes
  gap(b, static_cast<int>((-disp - 20) / 4));   // exit (12) + gap + movz, cmp (8) = -disp
  b.bind(go);
  b.put(a::movz(Gp::x0, 0));
  b.put(a::subs(Gp::xzr, Gp::x0, 0u));
  if (cbz) b.item(A::cbz_item, static_cast<std::uint8_t>(Gp::x0), far);
  else b.item(A::branch_item, static_cast<std::uint8_t>(a::Cond::eq), far);
  exit_with(b, 1);
  return elf_of(b, start, img);
}
}  // namespace

TEST_CASE("arm64 run: b.cond and cbz just inside and just outside ±1 MiB", "[arm64][run][qemu][relax]") {
  for (bool cbz : {false, true}) {
    INFO((cbz ? "cbz" : "b.eq"));
    const a::Inst near_fwd = cbz ? a::cbz(Gp::x0, 1048572) : a::b(a::Cond::eq, 1048572);
    const a::Inst inverted = cbz ? a::cbnz(Gp::x0, 8) : a::b(a::Cond::ne, 8);
    crumble::code::Image img;

    auto elf = forward(cbz, 1048572, &img);  // the farthest forward target in reach
    CHECK(word_at(img, 8) == near_fwd.word);
    auto r = run(elf);
    CHECK(r.status == 42);

    elf = forward(cbz, 1048576, &img);  // one word further: inverted test over a b
    CHECK(word_at(img, 8) == inverted.word);
    CHECK(word_at(img, 12) == a::b(1048576).word);
    r = run(elf);
    CHECK(r.status == 42);

    elf = backward(cbz, -1048576, &img);  // the farthest backward target in reach
    CHECK(word_at(img, img.code_size - 16) == (cbz ? a::cbz(Gp::x0, -1048576) : a::b(a::Cond::eq, -1048576)).word);
    r = run(elf);
    CHECK(r.status == 42);

    elf = backward(cbz, -1048580, &img);
    CHECK(word_at(img, img.code_size - 20) == inverted.word);
    CHECK(word_at(img, img.code_size - 16) == a::b(-1048584).word);
    r = run(elf);
    CHECK(r.status == 42);
  }
}

// The far forms (past ±128 MiB) cannot be reached at their natural distance in a test, so their
// encodings are placed by hand at small distances and executed.
TEST_CASE("arm64 run: far jump, far call and far conditional branch execute", "[arm64][run][qemu][relax]") {
  auto raw = [](std::uint8_t kind, std::uint8_t cond, std::uint8_t form, std::int64_t disp) {
    Bytes v;
    A::encode_item(v, kind, cond, form, disp);
    return v;
  };
  {  // forward far jump over exit(1)
    Buf b;
    auto start = b.new_label();
    b.bind(start);
    b.put(raw(A::jump_item, 0, 1, A::far_size + 12));
    exit_with(b, 1);
    exit_with(b, 42);
    CHECK(run(elf_of(b, start)).status == 42);
  }
  {  // backward far jump (negative displacement: movn)
    Buf b;
    auto start = b.new_label(), go = b.new_label();
    b.bind(start);
    b.item(A::jump_item, 0, go);
    exit_with(b, 42);
    b.bind(go);
    b.put(raw(A::jump_item, 0, 1, -12));
    exit_with(b, 1);
    CHECK(run(elf_of(b, start)).status == 42);
  }
  {  // far call: returns to the word after it with x0 set
    Buf b;
    auto start = b.new_label();
    b.bind(start);
    b.put(raw(A::call_item, 0, 1, A::far_size + 12));
    b.put(a::add(Gp::x0, Gp::x0, 1u));
    A::syscall(b, 93);                             // 8 bytes
    b.put(a::movz(Gp::x0, 41));
    b.put(a::ret());
    CHECK(run(elf_of(b, start)).status == 42);
  }
  for (auto [c, expected] : {std::pair{a::Cond::eq, 42}, std::pair{a::Cond::ne, 7}}) {  // taken, not taken
    Buf b;
    auto start = b.new_label();
    b.bind(start);
    b.put(a::movz(Gp::x0, 0));
    b.put(a::subs(Gp::xzr, Gp::x0, 0u));
    b.put(raw(A::branch_item, static_cast<std::uint8_t>(c), 2, 4 + A::far_size + 12));
    exit_with(b, 7);
    exit_with(b, 42);
    CHECK(run(elf_of(b, start)).status == expected);
  }
}

// ---- constant evaluation --------------------------------------------------------------------
namespace {
constexpr Program small_control() {
  Var i{"i"}, s{"s"};
  return Program{{
      Function{"main", {}, {
          Assign{s, 0}, Assign{i, 0},
          While{i < 50, {Assign{s, s + i * i % 7 - sar(i, 1)}, Assign{i, i + 1}}},
          Assign{GlobalVar{"g"}, s},
          Return{Call{FuncAddr{"fib"}, {12}} + GlobalVar{"g"} + Int64{0x123456789abcdef}},
      }},
      Function{"fib", {"n"}, {If{Var{"n"} < 2, {Return{Var{"n"}}}},
                              Return{Call{FuncAddr{"fib"}, {Var{"n"} - 1}} + Call{FuncAddr{"fib"}, {Var{"n"} - 2}}}}},
  }, {Global{"g"}}};
}
constexpr Program small_memory() {
  Var p{"p"};
  return Program{{Function{"main", {}, {
      Assign{p, BufferAddr{"b"}},
      store(p, 40000, 16, -3),
      Syscall{Sys::write, {1, cstr("ok\n"), 3}},
      Return{load(p, 40000, 16, Extend::sign) + 10},
  }, {Buffer{"b", 40016}}}}};
}
constexpr Program small_printf() {
  return Program{{Function{"main", {"argc", "argv"}, {
      Printf{"%d %u %x %s %c\n", {Var{"argc"} * -7, -1, Int64{0x5555123455555555}, crumble::ir::load(Var{"argv"}, 8, 64), 'q'}},
      Return{Var{"argc"} % 2},
  }}}};
}
}  // namespace

TEST_CASE("arm64: constexpr and run-time executables are identical", "[arm64][constexpr][qemu]") {
  constexpr auto c1 = crumble::executable<A>([] { return small_control(); });
  constexpr auto c2 = crumble::executable<A>([] { return small_memory(); });
  auto r1 = crumble::executable<A>(small_control());
  auto r2 = crumble::executable<A>(small_memory());
  CHECK(Bytes(c1.begin(), c1.end()) == r1);
  CHECK(Bytes(c2.begin(), c2.end()) == r2);
  std::int64_t s = 0;
  for (std::int64_t i = 0; i < 50; ++i) s += i * i % 7 - (i >> 1);
  CHECK(run(Bytes(c1.begin(), c1.end())).status == ((144 + s + 0x123456789abcdef) & 0xff));
  auto r = run(Bytes(c2.begin(), c2.end()));
  CHECK(r.out == "ok\n");
  CHECK(r.status == 7);

  constexpr auto c3 = crumble::executable<A>([] { return small_printf(); });
  CHECK(Bytes(c3.begin(), c3.end()) == crumble::executable<A>(small_printf()));
  r = run(Bytes(c3.begin(), c3.end()));
  CHECK(r.out == "-21 18446744073709551615 5555123455555555 alpha q\n");
  CHECK(r.status == 1);
}
