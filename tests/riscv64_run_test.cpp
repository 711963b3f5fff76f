// SPDX-License-Identifier: Apache-2.0
// RISC-V executables run under qemu-riscv64: each test builds a static ELF with
// crumble::executable<crumble::arch::riscv64>, runs it with a fixed argv and environment and a
// time limit, and compares its stdout and exit status with the same computation done here in
// plain C++. Without qemu-riscv64 in PATH the test exits with 4 (ctest: SKIPPED), loudly.
#include <catch2/catch.hpp>

#include "runner.hpp"
#include <crumble/arch/riscv64/target.hpp>
#include <crumble/crumble.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace crumble::ir;
using i64 = std::int64_t;
using u64 = std::uint64_t;
using RV = crumble::arch::riscv64;

namespace {

// ---- running ------------------------------------------------------------------------------
struct Run {
  std::string out;
  int status = -1;  // exit status, or -signal
  bool timed_out = false;
};

// Runs the executable under qemu-riscv64 (tests/runner.hpp) with argv = {elf, "alpha",
// "beta gamma"} (argc is 3), envp = {"CRUMBLE_RV=1"} and a time limit.
Run run(const std::vector<std::uint8_t>& elf, unsigned timeout_s = 20) {
  static const crumble::test::RunOptions base = crumble::test::emulated("qemu-riscv64");
  crumble::test::RunOptions opt = base;
  opt.env = {"CRUMBLE_RV=1"};
  opt.timeout_ms = static_cast<int>(timeout_s * 1000);
  crumble::test::RunResult r = crumble::test::run_elf(elf, opt);
  INFO(r.describe());
  REQUIRE(r.error.empty());
  return Run{r.out, r.exited ? r.status : -r.signal, r.timed_out};
}

void check(const Program& p, const std::string& out, i64 status) {
  auto elf = crumble::executable<RV>(p);
  Run r = run(elf);
  INFO("ELF of " << elf.size() << " bytes; status " << r.status << (r.timed_out ? " (timed out)" : ""));
  CHECK(r.out == out);
  CHECK(r.status == static_cast<int>(static_cast<u64>(status) & 255));
}

std::string hex(u64 v) {
  char b[32];
  std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(v));
  return b;
}
std::string dec(i64 v) { return std::to_string(v); }
std::string udec(u64 v) { return std::to_string(v); }
constexpr Expr K(u64 v) { return Int64{static_cast<i64>(v)}; }

// ---- programs -----------------------------------------------------------------------------

constexpr std::array<i64, 13> operands = {1,          -1,         7,         63,     64,
                                          2047,       -2048,      2048,      -2049,  0x7ffff800,
                                          0x80000000, 0x123456789abcdefLL, INT64_MIN};
constexpr std::array<i64, 3> lhs_values = {-1234567, INT64_MAX, 5};
constexpr std::array<OpKind, 13> all_ops = {OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::Div, OpKind::UDiv,
                                            OpKind::Rem, OpKind::URem, OpKind::Shl, OpKind::Shr, OpKind::Sar,
                                            OpKind::And, OpKind::Or,   OpKind::Xor};

// Every operation with a register and with an immediate right operand (12-bit, wider, 64-bit).
Program arithmetic() {
  Var a{"a"}, b{"b"};
  Block body;
  for (i64 x : lhs_values)
    for (OpKind k : all_ops)
      for (i64 y : operands) {
        body.push_back(Assign{a, x});
        body.push_back(Assign{b, y});
        body.push_back(Printf{"%x %x\n", {op(k, a, b), op(k, a, Int64{y})}});
      }
  body.push_back(Return{(Var{"a"} % 1000) + 3});
  return Program{{Function{"main", {}, std::move(body)}}};
}
u64 host_op(OpKind k, i64 x, i64 y) {
  u64 ux = static_cast<u64>(x), uy = static_cast<u64>(y);
  switch (k) {
    case OpKind::Add: return ux + uy;
    case OpKind::Sub: return ux - uy;
    case OpKind::Mul: return ux * uy;
    case OpKind::Div: return static_cast<u64>(x / y);
    case OpKind::UDiv: return ux / uy;
    case OpKind::Rem: return static_cast<u64>(x % y);
    case OpKind::URem: return ux % uy;
    case OpKind::Shl: return ux << (uy & 63);
    case OpKind::Shr: return ux >> (uy & 63);
    case OpKind::Sar: return static_cast<u64>(x >> (uy & 63));
    case OpKind::And: return ux & uy;
    case OpKind::Or: return ux | uy;
    case OpKind::Xor: return ux ^ uy;
  }
  return 0;
}

// Constants that take every li shape: 12-bit, lui alone, lui+addiw with the sign correction
// (0x7ffff800 rounds up to lui 0x80000), and 64-bit ones built by shifts.
constexpr std::array<u64, 18> constants = {
    0, 1, 0xfffffffffffff800, 0x7ff, 0x800, 0x7ffff7ff, 0x7ffff800, 0x7fffffff, 0x80000000, 0xffffffff,
    0xffffffff80000000, 0xffffffff7ffff800, 0x100000000, 0x123456789abcdef0, 0x8000000000000000,
    0x7fffffffffffffff, 0xdeadbeefcafebabe, 0x8000000080000800};
Program big_constants() {
  Var x{"x"}, sum{"sum"};
  Block body{Assign{sum, 0}};
  for (u64 c : constants) {
    body.push_back(Assign{x, K(c)});  // into a home register
    body.push_back(Printf{"%x %x\n", {x, K(c)}});
    body.push_back(If{x == K(c), {Assign{sum, sum + 1}}});  // the constant as a branch operand
  }
  body.push_back(Return{sum});
  return Program{{Function{"main", {}, std::move(body)}}};
}

// Nested loops with break and continue.
Program loops() {
  Var i{"i"}, j{"j"}, s{"s"}, n{"n"};
  return Program{{Function{"main", {}, {
      Assign{s, 0}, Assign{i, 0}, Assign{n, 0},
      While{i < 100, {
          Assign{i, i + 1},
          If{i % 3 == 0, {Continue{}}},
          If{s > 50000, {Break{}}},
          Assign{j, 0},
          While{j < i, {Assign{s, s + j * i}, Assign{j, j + 1}, Assign{n, n + 1}}},
      }},
      Printf{"%d %d %d\n", {i, s, n}},
      Return{s},
  }}}};
}
std::string loops_out(i64& status) {
  i64 s = 0, i = 0, n = 0;
  while (i < 100) {
    i = i + 1;
    if (i % 3 == 0) continue;
    if (s > 50000) break;
    for (i64 j = 0; j < i; ++j, ++n) s += j * i;
  }
  status = s;
  return dec(i) + " " + dec(s) + " " + dec(n) + "\n";
}

// Calls with 6 and 8 arguments, permuted, nested, with live temporaries around them.
Program calls() {
  Var a{"a"}, b{"b"}, c{"c"}, d{"d"}, e{"e"}, f{"f"}, g{"g"}, h{"h"};
  auto weighted = [](std::vector<Var> vs) {
    Expr sum = 0;
    i64 w = 1;
    for (Var v : vs) sum = sum + v * w, w *= 10;
    return sum;
  };
  return Program{{
      Function{"main", {}, {
          Assign{a, 1}, Assign{b, 2}, Assign{c, 3}, Assign{d, 4}, Assign{e, 5}, Assign{f, 6}, Assign{g, 7},
          Assign{h, 8},
          Printf{"%d\n", {call("six", {a, b, c, d, e, f})}},
          Printf{"%d\n", {call("six", {f, e, d, c, b, a})}},
          Printf{"%d\n", {call("six", {b, c, d, e, f, a})}},
          Printf{"%d\n", {call("eight", {h, g, f, e, d, c, b, a})}},
          Printf{"%d\n", {call("eight", {a, 2, c + 1, call("six", {1, 0, 0, 0, 0, 0}), e * 2, f - 1, g, -1})}},
          Printf{"%d\n", {a * 1000 + call("six", {call("six", {a, 0, 0, 0, 0, 0}), b, c, d, e, f}) + b * 3}},
          Return{call("six", {a, b, c, d, e, f}) % 256},
      }},
      Function{"six", {"a", "b", "c", "d", "e", "f"}, {Return{weighted({a, b, c, d, e, f})}}},
      Function{"eight", {"a", "b", "c", "d", "e", "f", "g", "h"}, {Return{weighted({a, b, c, d, e, f, g, h})}}},
  }};
}
i64 weighted(std::vector<i64> v) {
  i64 s = 0, w = 1;
  for (i64 x : v) s += x * w, w *= 10;
  return s;
}

Program recursion() {
  Var n{"n"};
  return Program{{
      Function{"main", {}, {Printf{"%d %d\n", {call("fib", {20}), call("fact", {20})}}, Return{call("fib", {10})}}},
      Function{"fib", {"n"}, {If{n < 2, {Return{n}}}, Return{call("fib", {n - 1}) + call("fib", {n - 2})}}},
      Function{"fact", {"n"}, {If{n <= 1, {Return{1}}}, Return{n * call("fact", {n - 1})}}},
  }};
}

Program printing() {
  return Program{{Function{"main", {}, {
      Printf{"%d %u %x %s %c %%\n", {-42, -1, K(0xdeadbeef), cstr("str"), 'A'}},
      Printf{"%d %d %u %x [%s]\n", {K(INT64_MIN), K(INT64_MAX), 0, 0, cstr("")}},
      Printf{"no args\n"},
  }}}};
}

// Stores and loads of every width, sign- and zero-extended, on stack buffers; displacements
// beyond 12 bits (a 10000-byte buffer makes the frame and its offsets large too) and beyond 32.
Program memory() {
  Var p{"p"}, q{"q"};
  BufferAddr buf{"buf"}, big{"big"};
  return Program{{Function{"main", {}, {
      store(buf, 0, 64, K(0x8081828384858687)),
      store(buf, 8, 64, K(0x0102030405060708)),
      Printf{"%x %x %x %x\n", {load(buf, 0, 8), load(buf, 0, 16), load(buf, 0, 32), load(buf, 0, 64)}},
      Printf{"%x %x %x\n", {load(buf, 0, 8, Extend::sign), load(buf, 0, 16, Extend::sign), load(buf, 0, 32, Extend::sign)}},
      Printf{"%x %x %x\n", {load(buf, 8, 8, Extend::sign), load(buf, 8, 16, Extend::sign), load(buf, 8, 32, Extend::sign)}},
      store(buf, 16, 64, 0), store(buf, 16, 8, K(0x1ff)), store(buf, 17, 16, K(0x2fffe)), store(buf, 19, 32, K(0x3fffffffd)),
      Printf{"%x\n", {load(buf, 16, 64)}},
      Assign{p, big + 5000},
      store(p, 4000, 64, 11), store(p, -4000, 32, 22), store(p, 2047, 16, 33), store(p, -2048, 8, 44),
      Printf{"%d %d %d %d\n", {load(big, 9000, 64), load(big, 1000, 32), load(big, 7047, 16), load(big, 2952, 8)}},
      Assign{q, p - K(0x100000000)},
      store(q, 0x100000000 + 8, 64, 55),
      Printf{"%d %d\n", {load(q, 0x100000000 + 8, 64), load(p, 8, 64)}},
      Return{load(buf, 0, 8, Extend::sign)},  // 0x87 -> -121 -> status 135
  }, {Buffer{"buf", 32}, Buffer{"big", 10000}}}}};
}

Program globals() {
  Var i{"i"}, s{"s"};
  return Program{{
      Function{"main", {}, {
          Assign{i, 0},
          While{i < 8, {Assign{GlobalVar{"count"}, GlobalVar{"count"} + i}, store(GlobalAddr{"arr"} + i * 8, 0, 64, i * i),
                        Call{FuncAddr{"bump"}, {}}, Assign{i, i + 1}}},
          Assign{s, 0}, Assign{i, 0},
          While{i < 8, {Assign{s, s + load(GlobalAddr{"arr"}, 0, 64) * 0 + load(GlobalAddr{"arr"} + i * 8, 0, 64)}, Assign{i, i + 1}}},
          Printf{"%d %d %d\n", {GlobalVar{"count"}, s, GlobalVar{"calls"}}},
          Return{GlobalVar{"count"} + s},
      }},
      Function{"bump", {}, {Assign{GlobalVar{"calls"}, GlobalVar{"calls"} + 1}}},
  }, {Global{"count"}, Global{"arr", 64, 8}, Global{"calls"}}};
}

Program indirect() {
  Var f{"f"}, i{"i"}, s{"s"};
  BufferAddr table{"table"};
  return Program{{
      Function{"main", {}, {
          Assign{f, FuncAddr{"twice"}},
          Printf{"%d\n", {Call{f, {21}}}},
          store(table, 0, 64, FuncAddr{"twice"}), store(table, 8, 64, FuncAddr{"thrice"}),
          store(table, 16, 64, FuncAddr{"negate"}),
          Assign{s, 0}, Assign{i, 0},
          While{i < 3, {Assign{s, s * 100 + Call{load(table + i * 8, 0, 64), {i + 5}}}, Assign{i, i + 1}}},
          Printf{"%d\n", {s}},
          Return{Call{load(table, 8, 64), {Call{f, {7}}}}},  // 42
      }, {Buffer{"table", 24}}},
      Function{"twice", {"x"}, {Return{Var{"x"} * 2}}},
      Function{"thrice", {"x"}, {Return{Var{"x"} * 3}}},
      Function{"negate", {"x"}, {Return{0 - Var{"x"}}}},
  }};
}

// Writes code into fresh memory, makes it visible to instruction fetch, calls it; then
// patches it and calls again.
constexpr i64 addi_a0(i64 v) { return crumble::riscv64::addi(crumble::riscv64::Reg::a0, crumble::riscv64::Reg::zero, v).word(); }
Program jit() {
  Var p{"p"}, r{"r"};
  const i64 ret = crumble::riscv64::ret().word();
  return Program{{Function{"main", {}, {
      Assign{p, syscall(Sys::mmap, {0, 4096, 7 /* rwx */, 0x22 /* private|anonymous */, -1, 0})},
      store(p, 0, 32, addi_a0(42)), store(p, 4, 32, ret),
      CacheFlush{p, 8}, InstructionBarrier{},
      Assign{r, Call{p, {}}},
      store(p, 0, 32, addi_a0(17)),
      CacheFlush{p, 4}, InstructionBarrier{},
      Printf{"%d %d\n", {r, Call{p, {}}}},
      Return{r + Call{p, {}}},
  }}}};
}

Program compares() {
  constexpr std::array<i64, 9> vals = {-1, 0, 1, INT64_MIN, INT64_MAX, 5, 2047, -2048, 4096};
  Var a{"a"}, b{"b"};
  Block body;
  for (i64 x : vals)
    for (i64 y : vals) {
      body.push_back(Assign{a, x});
      body.push_back(Assign{b, y});
      std::vector<Expr> args;
      for (int k = 0; k < 10; ++k) args.push_back(CondValue{cmp(Cmp(k), a, b)});
      for (int k = 0; k < 10; ++k) args.push_back(CondValue{cmp(Cmp(k), a, Int64{y})});
      body.push_back(Printf{"%d%d%d%d%d%d%d%d%d%d %d%d%d%d%d%d%d%d%d%d\n", std::move(args)});
    }
  Var n{"n"};
  body.push_back(Assign{n, 0});
  for (i64 x : vals) {
    body.push_back(Assign{a, x});
    body.push_back(If{IsZero{a}, {Assign{n, n + 1}}});
    body.push_back(If{IsNegative{a}, {Assign{n, n + 10}}});
    body.push_back(If{(a > 0 && a < 100) || !(a != 4096), {Assign{n, n + 100}}});
  }
  body.push_back(Return{n});
  return Program{{Function{"main", {}, std::move(body)}}};
}
bool host_cmp(int k, i64 x, i64 y) {
  u64 ux = static_cast<u64>(x), uy = static_cast<u64>(y);
  switch (Cmp(k)) {
    case Cmp::Eq: return x == y;
    case Cmp::Ne: return x != y;
    case Cmp::Lt: return x < y;
    case Cmp::Le: return x <= y;
    case Cmp::Gt: return x > y;
    case Cmp::Ge: return x >= y;
    case Cmp::ULt: return ux < uy;
    case Cmp::ULe: return ux <= uy;
    case Cmp::UGt: return ux > uy;
    case Cmp::UGe: return ux >= uy;
  }
  return false;
}

Program arguments() {
  Var argv{"argv"}, envp{"envp"};
  return Program{{Function{"main", {"argc", "argv", "envp"}, {
      Printf{"%d [%s] [%s] [%s] %d\n", {Var{"argc"}, load(argv, 8, 64), load(argv, 16, 64), load(envp, 0, 64),
                                        load(envp, 8, 64)}},
      Return{Var{"argc"}},
  }}}};
}

// `count` increments in an If taken when argc == `when`: the conditional branch skips 4*count
// bytes of body, so its B-type offset is 4*count + 4.
Program long_if(int count, i64 when) {
  Var x{"x"};
  Block then;
  for (int i = 0; i < count; ++i) then.push_back(Assign{x, x + 1});
  return Program{{Function{"main", {"argc"}, {
      Assign{x, 0},
      If{Var{"argc"} == when, std::move(then)},
      Printf{"%d\n", {x}},
      Return{x},
  }}}};
}

// Over 1 MiB of code between branches and their targets: every item takes its far form (the
// call of `tail` from the top of main, the branch over the If body, the jump to the loop test
// and the branch back, and the start stub's call of main from the end of the code).
Program far_program(int count) {
  Var x{"x"}, i{"i"};
  Block block;
  for (int k = 0; k < count; ++k) block.push_back(Assign{x, x + 1});
  Block loop = block;
  loop.push_back(Assign{i, i + 1});
  return Program{{
      Function{"main", {"argc"}, {
          Assign{x, call("tail", {-1})}, Assign{i, 0},
          If{Var{"argc"} == 3, std::move(block)},
          While{i < 2, std::move(loop)},
          Printf{"%d\n", {x}},
          Return{call("tail", {x})},
      }},
      Function{"tail", {"v"}, {Return{Var{"v"} + 1}}},
  }};
}

}  // namespace

// ---- tests --------------------------------------------------------------------------------

TEST_CASE("riscv64 run: arithmetic, every operation, register and immediate operands", "[riscv64][run]") {
  std::string out;
  for (i64 x : lhs_values)
    for (OpKind k : all_ops)
      for (i64 y : operands) out += hex(host_op(k, x, y)) + " " + hex(host_op(k, x, y)) + "\n";
  check(arithmetic(), out, (lhs_values.back() % 1000) + 3);
}

TEST_CASE("riscv64 run: 64-bit constants", "[riscv64][run]") {
  std::string out;
  for (u64 c : constants) out += hex(c) + " " + hex(c) + "\n";
  check(big_constants(), out, static_cast<i64>(constants.size()));
}

TEST_CASE("riscv64 run: loops with break and continue", "[riscv64][run]") {
  i64 status = 0;
  std::string out = loops_out(status);
  check(loops(), out, status);
}

TEST_CASE("riscv64 run: calls with 6 and 8 arguments", "[riscv64][run]") {
  std::string out;
  out += dec(weighted({1, 2, 3, 4, 5, 6})) + "\n";
  out += dec(weighted({6, 5, 4, 3, 2, 1})) + "\n";
  out += dec(weighted({2, 3, 4, 5, 6, 1})) + "\n";
  out += dec(weighted({8, 7, 6, 5, 4, 3, 2, 1})) + "\n";
  out += dec(weighted({1, 2, 4, weighted({1, 0, 0, 0, 0, 0}), 10, 5, 7, -1})) + "\n";
  out += dec(1000 + weighted({weighted({1, 0, 0, 0, 0, 0}), 2, 3, 4, 5, 6}) + 6) + "\n";
  check(calls(), out, weighted({1, 2, 3, 4, 5, 6}) % 256);
}

TEST_CASE("riscv64 run: recursion", "[riscv64][run]") {
  auto fib = [](auto& self, i64 n) -> i64 { return n < 2 ? n : self(self, n - 1) + self(self, n - 2); };
  i64 fact = 1;
  for (i64 k = 2; k <= 20; ++k) fact *= k;
  check(recursion(), dec(fib(fib, 20)) + " " + dec(fact) + "\n", fib(fib, 10));
}

TEST_CASE("riscv64 run: printf conversions", "[riscv64][run]") {
  std::string out = "-42 " + udec(~u64{0}) + " deadbeef str A %\n";
  out += dec(INT64_MIN) + " " + dec(INT64_MAX) + " 0 0 []\n";
  out += "no args\n";
  check(printing(), out, 0);
}

TEST_CASE("riscv64 run: memory widths, sign extension, far displacements", "[riscv64][run]") {
  std::string out;
  out += "87 8687 84858687 8081828384858687\n";
  out += hex(static_cast<u64>(i64{-0x79})) + " " + hex(static_cast<u64>(i64{-0x7979})) + " " +
         hex(static_cast<u64>(i64{-0x7b7a7979})) + "\n";
  out += "8 708 5060708\n";
  // bytes 16..23: ff, then fe ff at 17, then fd ff ff ff at 19
  out += hex(0x00ffffff'fdfffeffULL) + "\n";
  out += "11 22 33 44\n";
  out += "55 55\n";
  check(memory(), out, -121);
}

TEST_CASE("riscv64 run: globals", "[riscv64][run]") {
  i64 count = 0, s = 0;
  for (i64 i = 0; i < 8; ++i) count += i, s += i * i;
  check(globals(), dec(count) + " " + dec(s) + " 8\n", count + s);
}

TEST_CASE("riscv64 run: indirect calls", "[riscv64][run]") {
  check(indirect(), "42\n" + dec((10 * 100 + 18) * 100 - 7) + "\n", 42);
}

TEST_CASE("riscv64 run: CacheFlush and InstructionBarrier before running written code", "[riscv64][run]") {
  check(jit(), "42 17\n", 42 + 17);
}

TEST_CASE("riscv64 run: all ten comparisons, register and immediate", "[riscv64][run]") {
  constexpr std::array<i64, 9> vals = {-1, 0, 1, INT64_MIN, INT64_MAX, 5, 2047, -2048, 4096};
  std::string out;
  for (i64 x : vals)
    for (i64 y : vals) {
      std::string bits;
      for (int k = 0; k < 10; ++k) bits += host_cmp(k, x, y) ? '1' : '0';
      out += bits + " " + bits + "\n";
    }
  i64 n = 0;
  for (i64 x : vals) {
    if (x == 0) n += 1;
    if (x < 0) n += 10;
    if ((x > 0 && x < 100) || x == 4096) n += 100;
  }
  check(compares(), out, n);
}

TEST_CASE("riscv64 run: argc, argv and envp from the start stub", "[riscv64][run]") {
  check(arguments(), "3 [alpha] [beta gamma] [CRUMBLE_RV=1] 0\n", 3);
}

TEST_CASE("riscv64 run: a conditional branch just inside and just outside the B-type range", "[riscv64][run]") {
  // 1022 increments: offset 4092, the last even offset B-type reaches (4094) rounded to words.
  // 1023: offset 4096, out of reach; the branch becomes `b<!cc> +8; jal`, 4 bytes more.
  auto size = [](int n) { return crumble::assemble<RV>(long_if(n, 3)).code_size; };
  CHECK(size(1022) - size(1021) == 4);
  CHECK(size(1023) - size(1022) == 8);
  CHECK(size(1024) - size(1023) == 4);
  for (int n : {1022, 1023}) {
    INFO("then-block of " << n << " increments");
    check(long_if(n, 3), dec(n) + "\n", n);  // taken: falls into the body
    check(long_if(n, 2), "0\n", 0);          // not taken: the branch must reach the end
  }
}

TEST_CASE("riscv64 run: branches, jumps and calls over more than 1 MiB", "[riscv64][run]") {
  const int n = (1 << 18) + 16;  // 4 bytes each: just over 1 MiB of body
  auto img = crumble::assemble<RV>(far_program(n));
  CHECK(img.code_size > 2u * (1u << 20));
  check(far_program(n), dec(3 * i64{n}) + "\n", 3 * i64{n} + 1);
}

TEST_CASE("riscv64: a syscall Linux lacks on RISC-V is rejected", "[riscv64]") {
  Program p{{Function{"main", {}, {Return{syscall(Sys::open, {cstr("/"), 0})}}}}};
  CHECK_THROWS_AS(crumble::executable<RV>(p), crumble::compile_error);
  for (Sys s : {Sys::open, Sys::dup2, Sys::fork, Sys::mkdir, Sys::mknod}) CHECK(RV::syscall_number(s) == absent_syscall);
  for (std::size_t s = 0; s < syscall_count; ++s) {
    Sys sys = static_cast<Sys>(s);
    if (sys != Sys::open && sys != Sys::dup2 && sys != Sys::fork && sys != Sys::mkdir && sys != Sys::mknod)
      CHECK(RV::syscall_number(sys) >= 0);
  }
}

// ---- constexpr and run time agree ---------------------------------------------------------

namespace {
constexpr Program small_recursion() {
  Var n{"n"};
  return Program{{
      Function{"main", {"argc"}, {Return{call("fib", {Var{"argc"} + 7})}}},
      Function{"fib", {"n"}, {If{n < 2, {Return{n}}}, Return{call("fib", {n - 1}) + call("fib", {n - 2})}}},
  }};
}
constexpr Program small_globals() {
  Var f{"f"};
  return Program{{
      Function{"main", {}, {
          Assign{GlobalVar{"g"}, K(0x7ffff800)}, Assign{f, FuncAddr{"get"}},
          Return{Call{f, {}} - K(0x7ffff800) + K(0x123456789abcdef0) - K(0x123456789abcdef0) + 5},
      }},
      Function{"get", {}, {Return{GlobalVar{"g"}}}},
  }, {Global{"g"}}};
}
constexpr Program small_jit() {
  Var p{"p"};
  return Program{{Function{"main", {}, {
      Assign{p, syscall(Sys::mmap, {0, 4096, 7, 0x22, -1, 0})},
      store(p, 0, 32, addi_a0(9)), store(p, 4, 32, i64{crumble::riscv64::ret().word()}),
      CacheFlush{p, 8}, InstructionBarrier{},
      Return{Call{p, {}}},
  }}}};
}
constexpr Program small_printf() {
  return Program{{Function{"main", {}, {Printf{"%s %d\n", {cstr("hi"), -7}}, Return{2}}}}};
}
template <class A>
std::vector<std::uint8_t> bytes(const A& a) {
  return {a.begin(), a.end()};
}
}  // namespace

TEST_CASE("riscv64: constexpr and run-time executables are identical", "[riscv64][run][constexpr]") {
  constexpr auto rec = crumble::executable<RV>([] { return small_recursion(); });
  constexpr auto glo = crumble::executable<RV>([] { return small_globals(); });
  constexpr auto jt = crumble::executable<RV>([] { return small_jit(); });
  constexpr auto pf = crumble::executable<RV>([] { return small_printf(); });
  CHECK(bytes(rec) == crumble::executable<RV>(small_recursion()));
  CHECK(bytes(glo) == crumble::executable<RV>(small_globals()));
  CHECK(bytes(jt) == crumble::executable<RV>(small_jit()));
  CHECK(bytes(pf) == crumble::executable<RV>(small_printf()));
  Run r = run(bytes(rec));
  CHECK(r.status == 55);  // fib(3 + 7)
  CHECK(run(bytes(glo)).status == 5);
  CHECK(run(bytes(jt)).status == 9);
  r = run(bytes(pf));
  CHECK(r.out == "hi -7\n");
  CHECK(r.status == 2);
}
