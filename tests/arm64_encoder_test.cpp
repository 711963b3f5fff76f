// SPDX-License-Identifier: Apache-2.0
// ARM64 encoder against LLVM's assembler: every row pairs one encoder call with the assembly text
// that must assemble to the same word. The expected bytes come from llvm-mc (tests/oracle.hpp),
// never from this file. Registers are swept over x0, x1, x15, x28, x30 and whichever of xzr/sp
// the operand allows; immediates over 0, 1, the field maxima and the edges where a form changes.
// Further down: the bitmask-immediate encoder against an exhaustive decoder, the target's
// constant sequences against a small interpreter, and the relaxable branch forms.
//
// Built with -DMISTAKE=<name>, this file must fail to compile with a message naming
// crumble::diagnostic::<name> (see the end of the file).
#include <crumble/arch/arm64/target.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "oracle.hpp"
#include "refusals.hpp"

namespace {

namespace a = crumble::arm64;
using crumble::test::Case;
using crumble::test::check_against_llvm_mc;
using a::Cond;
using a::Gp;
using a::Shift;
using T = crumble::arch::arm64;

const std::string aarch64 = "--triple=aarch64";

// Register sweeps: the edges of the 5-bit field, plus 31 as xzr or as sp.
constexpr std::array<Gp, 6> regs_zr = {Gp::x0, Gp::x1, Gp::x15, Gp::x28, Gp::x30, Gp::xzr};
constexpr std::array<Gp, 6> regs_sp = {Gp::x0, Gp::x1, Gp::x15, Gp::x28, Gp::x30, Gp::sp};

std::string x(Gp r) {
  if (r == Gp::xzr) return "xzr";
  if (r == Gp::sp) return "sp";
  return "x" + std::to_string(static_cast<int>(r));
}
std::string w(Gp r) {
  if (r == Gp::xzr) return "wzr";
  if (r == Gp::sp) return "wsp";
  return "w" + std::to_string(static_cast<int>(r));
}
std::string imm(std::int64_t v) { return "#" + std::to_string(v); }
std::string hex(std::uint64_t v) {
  char s[24];
  std::snprintf(s, sizeof s, "#0x%llx", static_cast<unsigned long long>(v));
  return s;
}
const char* const cond_names[] = {"eq", "ne", "hs", "lo", "mi", "pl", "vs", "vc",
                                  "hi", "ls", "ge", "lt", "gt", "le", "al", "nv"};
const char* const shift_names[] = {"lsl", "lsr", "asr", "ror"};

struct Table {
  std::vector<Case> cases;
  void operator()(const a::Inst& i, std::string text) { cases.push_back({{i.begin(), i.end()}, std::move(text)}); }
  // A sequence of words, one line of text per word.
  void seq(const std::vector<std::uint8_t>& bytes, const std::vector<std::string>& texts) {
    REQUIRE(bytes.size() == 4 * texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i)
      cases.push_back({{bytes.begin() + 4 * i, bytes.begin() + 4 * i + 4}, texts[i]});
  }
};

// DecodeBitMasks from the Arm ARM, for 64-bit operations; 0 for a reserved encoding.
std::uint64_t decode_bitmask(unsigned n, unsigned immr, unsigned imms) {
  unsigned combined = (n << 6) | (~imms & 0x3f);
  if (combined == 0) return 0;
  int len = 31 - __builtin_clz(combined);
  if (len < 1) return 0;
  unsigned e = 1u << len, levels = e - 1;
  unsigned s = imms & levels, r = immr & levels;
  if (s == levels) return 0;  // all ones is reserved
  std::uint64_t elem = (std::uint64_t{1} << (s + 1)) - 1;
  std::uint64_t emask = e == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << e) - 1;
  if (r) elem = ((elem >> r) | (elem << (e - r))) & emask;
  std::uint64_t v = 0;
  for (unsigned i = 0; i < 64; i += e) v |= elem << i;
  return v;
}

}  // namespace

TEST_CASE("arm64: moves and move-wide", "[arm64][encoder][llvm-mc]") {
  Table t;
  for (Gp d : regs_zr)
    for (Gp m : regs_zr) t(a::mov(d, m), "orr " + x(d) + ", xzr, " + x(m));
  for (Gp d : regs_sp)
    for (Gp n : regs_sp) t(a::mov_sp(d, n), "add " + x(d) + ", " + x(n) + ", #0");
  for (Gp d : regs_zr)
    for (std::uint32_t v : {0u, 1u, 0x7fffu, 0x8000u, 0xffffu}) {
      for (unsigned hw = 0; hw < 4; ++hw) {
        const std::string tail = ", " + imm(v) + ", lsl " + imm(16 * hw);
        t(a::movz(d, v, hw), "movz " + x(d) + tail);
        t(a::movn(d, v, hw), "movn " + x(d) + tail);
        t(a::movk(d, v, hw), "movk " + x(d) + tail);
      }
      for (unsigned hw = 0; hw < 2; ++hw) {
        const std::string tail = ", " + imm(v) + ", lsl " + imm(16 * hw);
        t(a::movz_w(d, v, hw), "movz " + w(d) + tail);
        t(a::movn_w(d, v, hw), "movn " + w(d) + tail);
      }
    }
  check_against_llvm_mc(aarch64, t.cases);
}

TEST_CASE("arm64: add/sub immediate, shifted and extended register", "[arm64][encoder][llvm-mc]") {
  Table t;
  for (Gp d : regs_sp)
    for (Gp n : regs_sp)
      for (std::uint32_t v : {0u, 1u, 2048u, 4095u})
        for (unsigned sh : {0u, 1u}) {
          const std::string tail = ", " + imm(v) + ", lsl " + imm(12 * sh);
          t(a::add(d, n, v, sh), "add " + x(d) + ", " + x(n) + tail);
          t(a::sub(d, n, v, sh), "sub " + x(d) + ", " + x(n) + tail);
        }
  for (Gp d : regs_zr)  // adds/subs write xzr (cmn/cmp), read sp
    for (Gp n : regs_sp)
      for (std::uint32_t v : {0u, 1u, 4095u})
        for (unsigned sh : {0u, 1u}) {
          const std::string tail = ", " + imm(v) + ", lsl " + imm(12 * sh);
          t(a::adds(d, n, v, sh), "adds " + x(d) + ", " + x(n) + tail);
          t(a::subs(d, n, v, sh), "subs " + x(d) + ", " + x(n) + tail);
        }
  for (Gp d : regs_zr)
    for (Gp n : regs_zr)
      for (Gp m : regs_zr) {
        const std::string ops = " " + x(d) + ", " + x(n) + ", " + x(m);
        t(a::add(d, n, m), "add" + ops);
        t(a::sub(d, n, m), "sub" + ops);
        t(a::subs(d, n, m), "subs" + ops);
        t(a::and_(d, n, m), "and" + ops);
        t(a::orr(d, n, m), "orr" + ops);
        t(a::eor(d, n, m), "eor" + ops);
      }
  for (Shift s : {Shift::lsl, Shift::lsr, Shift::asr, Shift::ror})
    for (unsigned amount : {0u, 1u, 31u, 32u, 63u}) {
      const std::string ops = " x0, x1, x2, " + std::string(shift_names[static_cast<int>(s)]) + " " + imm(amount);
      if (s != Shift::ror) {
        t(a::add(Gp::x0, Gp::x1, Gp::x2, s, amount), "add" + ops);
        t(a::sub(Gp::x0, Gp::x1, Gp::x2, s, amount), "sub" + ops);
        t(a::subs(Gp::x0, Gp::x1, Gp::x2, s, amount), "subs" + ops);
      }
      t(a::and_(Gp::x0, Gp::x1, Gp::x2, s, amount), "and" + ops);
      t(a::orr(Gp::x0, Gp::x1, Gp::x2, s, amount), "orr" + ops);
      t(a::eor(Gp::x0, Gp::x1, Gp::x2, s, amount), "eor" + ops);
    }
  for (Gp d : regs_sp)
    for (Gp n : regs_sp)
      for (Gp m : regs_zr) {
        t(a::add_ext(d, n, m), "add " + x(d) + ", " + x(n) + ", " + x(m) + ", uxtx");
        t(a::sub_ext(d, n, m), "sub " + x(d) + ", " + x(n) + ", " + x(m) + ", uxtx");
      }
  check_against_llvm_mc(aarch64, t.cases);
}

// Every 64-bit bitmask immediate with and (5334 values), a sample with the other operations and
// registers, and every 32-bit one with orr w.
TEST_CASE("arm64: logical immediates", "[arm64][encoder][llvm-mc]") {
  std::set<std::uint64_t> all64;
  for (unsigned n = 0; n < 2; ++n)
    for (unsigned r = 0; r < 64; ++r)
      for (unsigned s = 0; s < 64; ++s)
        if (std::uint64_t v = decode_bitmask(n, r, s)) all64.insert(v);
  REQUIRE(all64.size() == 5334);
  std::set<std::uint32_t> all32;
  for (std::uint64_t v : all64)
    if (static_cast<std::uint32_t>(v) == static_cast<std::uint32_t>(v >> 32)) all32.insert(static_cast<std::uint32_t>(v));
  REQUIRE(all32.size() == 1302);

  Table t;
  for (std::uint64_t v : all64) t(a::and_(Gp::x0, Gp::x1, v), "and x0, x1, " + hex(v));
  for (std::uint32_t v : all32) t(a::orr_w(Gp::x0, Gp::xzr, v), "orr w0, wzr, " + hex(v));
  const std::uint64_t sample[] = {1, 0x8000000000000000, 0x7fffffffffffffff, 0xfffffffffffffffe,
                                  0x5555555555555555, 0xaaaaaaaaaaaaaaaa, 0x00ff00ff00ff00ff, 0x0000ffff0000ffff,
                                  0xffffffff00000000, 0xf00000000000000f, 0x0000000000000ff0, 0x6666666666666666};
  for (Gp d : regs_sp)
    for (Gp n : regs_zr)
      for (std::uint64_t v : sample) {
        const std::string ops = x(d) + ", " + x(n) + ", " + hex(v);
        t(a::and_(d, n, v), "and " + ops);
        t(a::orr(d, n, v), "orr " + ops);
        t(a::eor(d, n, v), "eor " + ops);
        if (d != Gp::sp) t(a::ands(d, n, v), "ands " + ops);
      }
  for (std::uint64_t v : sample) t(a::ands(Gp::xzr, Gp::x1, v), "ands xzr, x1, " + hex(v));
  check_against_llvm_mc(aarch64, t.cases);
}

TEST_CASE("arm64: bitmask immediates round-trip, and nothing else is encodable", "[arm64][encoder]") {
  std::set<std::uint64_t> all;
  for (unsigned n = 0; n < 2; ++n)
    for (unsigned r = 0; r < 64; ++r)
      for (unsigned s = 0; s < 64; ++s) {
        std::uint64_t v = decode_bitmask(n, r, s);
        if (!v) continue;
        all.insert(v);
        auto b = a::bitmask(v);
        REQUIRE(b);
        CHECK(decode_bitmask(b->n, b->immr, b->imms) == v);
      }
  CHECK_FALSE(a::is_bitmask_immediate(0));
  CHECK_FALSE(a::is_bitmask_immediate(~std::uint64_t{0}));
  std::mt19937_64 rng(12345);
  for (int i = 0; i < 200000; ++i) {
    std::uint64_t v = rng();
    if (i % 2) v &= rng() | rng();  // fewer ones, closer to runs
    CHECK(a::is_bitmask_immediate(v) == all.count(v));
  }
  for (std::uint64_t v : all) {  // neighbours of valid values are mostly invalid: both ways checked
    CHECK(a::is_bitmask_immediate(v + 1) == all.count(v + 1));
    CHECK(a::is_bitmask_immediate(v ^ 4) == all.count(v ^ 4));
  }
}

TEST_CASE("arm64: multiply, divide, shifts", "[arm64][encoder][llvm-mc]") {
  Table t;
  for (Gp d : regs_zr)
    for (Gp n : regs_zr)
      for (Gp m : regs_zr) {
        const std::string ops = " " + x(d) + ", " + x(n) + ", " + x(m);
        for (Gp ra : {Gp::x1, Gp::x30, Gp::xzr}) {
          t(a::madd(d, n, m, ra), "madd" + ops + ", " + x(ra));
          t(a::msub(d, n, m, ra), "msub" + ops + ", " + x(ra));
        }
        t(a::mul(d, n, m), "mul" + ops);
        t(a::udiv(d, n, m), "udiv" + ops);
        t(a::sdiv(d, n, m), "sdiv" + ops);
        t(a::lslv(d, n, m), "lslv" + ops);
        t(a::lsrv(d, n, m), "lsrv" + ops);
        t(a::asrv(d, n, m), "asrv" + ops);
      }
  for (Gp d : regs_zr)
    for (Gp n : regs_zr) {
      const std::string ops = " " + x(d) + ", " + x(n) + ", ";
      for (unsigned s : {0u, 1u, 31u, 32u, 63u}) {
        t(a::lsl(d, n, s), "lsl" + ops + imm(s));
        t(a::lsr(d, n, s), "lsr" + ops + imm(s));
        t(a::asr(d, n, s), "asr" + ops + imm(s));
      }
      for (unsigned r : {0u, 1u, 63u})
        for (unsigned s : {0u, 5u, 63u}) {
          t(a::ubfm(d, n, r, s), "ubfm" + ops + imm(r) + ", " + imm(s));
          t(a::sbfm(d, n, r, s), "sbfm" + ops + imm(r) + ", " + imm(s));
        }
      t(a::ubfx(d, n, 16, 4), "ubfx" + ops + "#16, #4");
      t(a::ubfx(d, n, 0, 4), "ubfx" + ops + "#0, #4");
    }
  check_against_llvm_mc(aarch64, t.cases);
}

TEST_CASE("arm64: loads and stores of every width", "[arm64][encoder][llvm-mc]") {
  using Scaled = a::Inst (*)(a::XReg, a::XRegSp, std::int64_t);
  using Indexed = a::Inst (*)(a::XReg, a::XRegSp, a::XReg);
  const struct {
    const char* name;  // scaled form; the unscaled one is "ldur..."/"stur..."
    const char* unscaled;
    bool wide;         // the register operand is x (else w)
    int size;
    Scaled s, u;
    Indexed r;
  } forms[] = {
      {"strb", "sturb", false, 1, a::strb, a::sturb, a::strb},
      {"ldrb", "ldurb", false, 1, a::ldrb, a::ldurb, a::ldrb},
      {"ldrsb", "ldursb", true, 1, a::ldrsb, a::ldursb, a::ldrsb},
      {"strh", "sturh", false, 2, a::strh, a::sturh, a::strh},
      {"ldrh", "ldurh", false, 2, a::ldrh, a::ldurh, a::ldrh},
      {"ldrsh", "ldursh", true, 2, a::ldrsh, a::ldursh, a::ldrsh},
      {"str", "stur", false, 4, a::str_w, a::stur_w, a::str_w},
      {"ldr", "ldur", false, 4, a::ldr_w, a::ldur_w, a::ldr_w},
      {"ldrsw", "ldursw", true, 4, a::ldrsw, a::ldursw, a::ldrsw},
      {"str", "stur", true, 8, a::str, a::stur, a::str},
      {"ldr", "ldur", true, 8, a::ldr, a::ldur, a::ldr},
  };
  Table t;
  for (const auto& f : forms)
    for (Gp rt : regs_zr)
      for (Gp n : regs_sp) {
        const std::string rts = f.wide ? x(rt) : w(rt);
        for (std::int64_t off : {std::int64_t{0}, std::int64_t{f.size}, std::int64_t{2048} * f.size, std::int64_t{4095} * f.size})
          t(f.s(rt, n, off), std::string(f.name) + " " + rts + ", [" + x(n) + ", " + imm(off) + "]");
        for (std::int64_t off : {-256, -255, -1, 0, 1, 3, 255})
          t(f.u(rt, n, off), std::string(f.unscaled) + " " + rts + ", [" + x(n) + ", " + imm(off) + "]");
        for (Gp m : regs_zr) t(f.r(rt, n, m), std::string(f.name) + " " + rts + ", [" + x(n) + ", " + x(m) + "]");
      }
  for (Gp rt : regs_zr)
    for (std::int64_t off : {-1048576, -4, 0, 4, 1048572}) t(a::ldr_literal(rt, off), "ldr " + x(rt) + ", " + imm(off));
  // Pairs. Writeback with the base among the loaded registers is unpredictable: bases differ.
  for (auto [r1, r2] : {std::pair{Gp::x0, Gp::x1}, std::pair{Gp::x29, Gp::x30}, std::pair{Gp::x21, Gp::xzr}})
    for (Gp n : {Gp::sp, Gp::x2, Gp::x28})
      for (std::int64_t off : {-512, -16, 0, 8, 504}) {
        const std::string regs = " " + x(r1) + ", " + x(r2) + ", [" + x(n);
        t(a::stp(r1, r2, n, off), "stp" + regs + ", " + imm(off) + "]");
        t(a::stp_pre(r1, r2, n, off), "stp" + regs + ", " + imm(off) + "]!");
        t(a::stp_post(r1, r2, n, off), "stp" + regs + "], " + imm(off));
        t(a::ldp(r1, r2, n, off), "ldp" + regs + ", " + imm(off) + "]");
        t(a::ldp_pre(r1, r2, n, off), "ldp" + regs + ", " + imm(off) + "]!");
        t(a::ldp_post(r1, r2, n, off), "ldp" + regs + "], " + imm(off));
      }
  check_against_llvm_mc(aarch64, t.cases);
}

TEST_CASE("arm64: branches at their range edges, system instructions", "[arm64][encoder][llvm-mc]") {
  Table t;
  for (std::int64_t off : {-134217728, -4, 0, 4, 134217724}) {
    t(a::b(off), "b " + imm(off));
    t(a::bl(off), "bl " + imm(off));
  }
  for (std::int64_t off : {-1048576, -4, 0, 4, 1048572}) {
    for (int c = 0; c < 16; ++c) t(a::b(Cond(c), off), std::string("b.") + cond_names[c] + " " + imm(off));
    for (Gp r : regs_zr) {
      t(a::cbz(r, off), "cbz " + x(r) + ", " + imm(off));
      t(a::cbnz(r, off), "cbnz " + x(r) + ", " + imm(off));
    }
  }
  for (std::int64_t off : {-1048576, -1, 0, 1, 2, 3, 1048575}) t(a::adr(Gp::x17, off), "adr x17, " + imm(off));
  for (Gp r : regs_zr) {
    t(a::adr(r, 0), "adr " + x(r) + ", #0");
    t(a::br(r), "br " + x(r));
    t(a::blr(r), "blr " + x(r));
    t(a::ret(r), "ret " + x(r));
    t(a::dc_cvau(r), "dc cvau, " + x(r));
    t(a::ic_ivau(r), "ic ivau, " + x(r));
    t(a::mrs_ctr_el0(r), "mrs " + x(r) + ", ctr_el0");
  }
  t(a::ret(), "ret");
  for (std::uint32_t v : {0u, 1u, 0xffffu}) {
    t(a::svc(v), "svc " + imm(v));
    t(a::brk(v), "brk " + imm(v));
  }
  t(a::nop(), "nop");
  t(a::dsb_ish(), "dsb ish");
  t(a::isb(), "isb");
  check_against_llvm_mc(aarch64, t.cases);
}

// ---- the target's sequences -----------------------------------------------------------------

namespace {
// Runs a sequence of movz/movn/movk/orr-immediate words (64- and 32-bit) and returns x[d].
std::uint64_t interpret_mov(const T::Seq& s, int d) {
  std::uint64_t reg = 0xbad0bad0bad0bad0;
  for (int k = 0; k < s.size; ++k) {
    const std::uint32_t i = s.inst[k].word;
    REQUIRE(static_cast<int>(i & 31) == d);
    const bool sf = i >> 31;
    const unsigned opc = (i >> 29) & 3, hw = (i >> 21) & 3;
    const std::uint64_t imm16 = (i >> 5) & 0xffff;
    if (((i >> 23) & 0x3f) == 0x25) {  // move wide: sf opc 100101 hw imm16 Rd
      const std::uint64_t sh = imm16 << (16 * hw);
      if (opc == 2) reg = sh;                                          // movz
      else if (opc == 0) reg = ~sh;                                    // movn
      else if (opc == 3) reg = (reg & ~(std::uint64_t{0xffff} << (16 * hw))) | sh;  // movk
      else FAIL("bad move-wide opc");
    } else if (((i >> 23) & 0x3f) == 0x24 && opc == 1 && ((i >> 5) & 31) == 31) {  // orr d, zr, #bitmask
      reg = decode_bitmask((i >> 22) & 1, (i >> 16) & 63, (i >> 10) & 63);
    } else {
      FAIL("unexpected instruction in a constant sequence: " << std::hex << i);
    }
    if (!sf) reg &= 0xffffffff;
  }
  return reg;
}
int halves_not(std::uint64_t v, std::uint32_t h) {
  int n = 0;
  for (int i = 0; i < 4; ++i) n += ((v >> (16 * i)) & 0xffff) != h;
  return n;
}
}  // namespace

TEST_CASE("arm64: mov_imm materialises every constant in the fewest instructions found", "[arm64][target]") {
  // {value, instructions}: each single-instruction kind, and two-instruction orr + movk.
  const struct {
    std::uint64_t v;
    int n;
  } known[] = {
      {0, 1}, {1, 1}, {0xffff, 1}, {0x10000, 1}, {0xffff000000000000, 1}, {~std::uint64_t{0}, 1},
      {~std::uint64_t{0xffff}, 1}, {0xffffffff, 1}, {0xffff1234, 1}, {0x1234ffff, 1}, {0x5555555555555555, 1},
      {0x00ff00ff00ff00ff, 1}, {0x7fffffffffffffff, 1}, {0x8000000000000000, 1}, {0x55555555, 1},
      {0x12345678, 2}, {0x1234567800000000, 2}, {0xffffffff12345678, 2}, {0x5555123455555555, 2},
      {0x0000123455555555, 2}, {0x123456789abcdef0, 4}, {0x1234ffff5678ffff, 2},
  };
  for (auto [v, n] : known) {
    for (Gp d : {Gp::x0, Gp::x9, Gp::x16, Gp::x30}) {
      auto s = T::mov_imm_sequence(d, v);
      INFO(std::hex << v);
      CHECK(s.size == n);
      CHECK(interpret_mov(s, static_cast<int>(d)) == v);
    }
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    std::uint64_t v = rng();
    switch (i % 5) {  // bias towards halfwords of 0 and 0xffff, and small values
      case 1: v &= 0x0000ffff0000ffff * (rng() & 3); break;
      case 2: v |= 0xffff0000ffff0000; break;
      case 3: v >>= rng() % 64; break;
      case 4: v = ~(v >> (rng() % 64)); break;
    }
    auto s = T::mov_imm_sequence(Gp::x5, v);
    INFO(std::hex << v);
    REQUIRE(interpret_mov(s, 5) == v);
    CHECK(s.size >= 1);
    CHECK(s.size <= std::max(1, std::min(halves_not(v, 0), halves_not(v, 0xffff))));
    if (a::is_bitmask_immediate(v)) CHECK(s.size == 1);
  }
}

// The relaxable branch forms: encode_item's words against the assembly they stand for, and
// item_fits at the range edges (displacements count from the item's first word).
TEST_CASE("arm64: branch items in every form", "[arm64][target][llvm-mc]") {
  auto enc = [](std::uint8_t kind, std::uint8_t cond, std::uint8_t form, std::int64_t disp) {
    std::vector<std::uint8_t> out;
    REQUIRE(T::item_fits(kind, form, disp));
    T::encode_item(out, kind, cond, form, disp);
    REQUIRE(out.size() == T::item_size(kind, form));
    return out;
  };
  // The far sequence for a displacement from its adr.
  auto far = [](std::int64_t d, const char* br) -> std::vector<std::string> {
    const auto lo = static_cast<std::uint64_t>(d) & 0xffff, hi = (static_cast<std::uint64_t>(d) >> 16) & 0xffff;
    return {"adr x17, #0", d < 0 ? "movn x16, " + imm(~lo & 0xffff) : "movz x16, " + imm(lo),
            "movk x16, " + imm(hi) + ", lsl #16", "add x17, x17, x16", std::string(br) + " x17"};
  };
  auto join = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  const auto eq = static_cast<std::uint8_t>(Cond::eq), hs = static_cast<std::uint8_t>(Cond::hs);
  const auto x3 = static_cast<std::uint8_t>(Gp::x3);

  Table t;
  for (std::int64_t d : {-134217728, -4, 0, 4, 134217724}) {
    t.seq(enc(T::jump_item, 0, 0, d), {"b " + imm(d)});
    t.seq(enc(T::call_item, 0, 0, d), {"bl " + imm(d)});
  }
  for (std::int64_t d : {std::int64_t{-134217732}, std::int64_t{134217728}, std::int64_t{-2147483648},
                         std::int64_t{2147483644}, std::int64_t{0x12340}, std::int64_t{-0x12340}}) {
    t.seq(enc(T::jump_item, 0, 1, d), far(d, "br"));
    t.seq(enc(T::call_item, 0, 1, d), far(d, "blr"));
  }
  for (std::int64_t d : {-1048576, 0, 1048572}) {
    t.seq(enc(T::branch_item, eq, 0, d), {"b.eq " + imm(d)});
    t.seq(enc(T::branch_item, hs, 0, d), {"b.hs " + imm(d)});
    t.seq(enc(T::cbz_item, x3, 0, d), {"cbz x3, " + imm(d)});
    t.seq(enc(T::cbnz_item, x3, 0, d), {"cbnz x3, " + imm(d)});
  }
  for (std::int64_t d : {std::int64_t{-1048580}, std::int64_t{1048576}, std::int64_t{-134217724}, std::int64_t{134217728}}) {
    t.seq(enc(T::branch_item, eq, 1, d), {"b.ne #8", "b " + imm(d - 4)});
    t.seq(enc(T::branch_item, hs, 1, d), {"b.lo #8", "b " + imm(d - 4)});
    t.seq(enc(T::cbz_item, x3, 1, d), {"cbnz x3, #8", "b " + imm(d - 4)});
    t.seq(enc(T::cbnz_item, x3, 1, d), {"cbz x3, #8", "b " + imm(d - 4)});
  }
  for (std::int64_t d : {std::int64_t{-134217728}, std::int64_t{134217732}, std::int64_t{-2147483644}, std::int64_t{2147483644}}) {
    t.seq(enc(T::branch_item, eq, 2, d), join({"b.ne #24"}, far(d - 4, "br")));
    t.seq(enc(T::cbz_item, x3, 2, d), join({"cbnz x3, #24"}, far(d - 4, "br")));
  }
  check_against_llvm_mc(aarch64, t.cases);

  // Reach of each form, just inside and just outside.
  for (auto k : {T::jump_item, T::call_item}) {
    CHECK(T::item_fits(k, 0, 134217724));
    CHECK(T::item_fits(k, 0, -134217728));
    CHECK_FALSE(T::item_fits(k, 0, 134217728));
    CHECK_FALSE(T::item_fits(k, 0, -134217732));
  }
  for (auto k : {T::branch_item, T::cbz_item, T::cbnz_item}) {
    CHECK(T::item_fits(k, 0, 1048572));
    CHECK(T::item_fits(k, 0, -1048576));
    CHECK_FALSE(T::item_fits(k, 0, 1048576));
    CHECK_FALSE(T::item_fits(k, 0, -1048580));
    CHECK(T::item_fits(k, 1, 134217728));     // the b sits 4 bytes in
    CHECK(T::item_fits(k, 1, -134217724));
    CHECK_FALSE(T::item_fits(k, 1, 134217732));
    CHECK_FALSE(T::item_fits(k, 1, -134217728));
  }
}

TEST_CASE("arm64: the target's frame, memory and call sequences assemble as intended", "[arm64][target][llvm-mc]") {
  using Buf = T::Buf;
  auto bytes = [](auto emit) {
    Buf b;
    emit(b);
    return b.bytes.to_vector();
  };
  Table t;
  // Prologue/epilogue with three homes (x19, x20, x22) and a frame that needs lsl #12 + imm12.
  const std::uint32_t saved = 0b1011;
  t.seq(bytes([&](Buf& b) { T::prologue(b, saved, 0x12340); }),
        {"stp x29, x30, [sp, #-16]!", "mov x29, sp", "stp x19, x20, [sp, #-16]!", "stp x22, xzr, [sp, #-16]!",
         "sub sp, sp, #0x12, lsl #12", "sub sp, sp, #0x340"});
  t.seq(bytes([&](Buf& b) { T::epilogue(b, saved, 0x12340); }),
        {"add sp, sp, #0x12, lsl #12", "add sp, sp, #0x340", "ldp x22, xzr, [sp], #16", "ldp x19, x20, [sp], #16",
         "ldp x29, x30, [sp], #16", "ret"});
  // A frame beyond 24 bits goes through x16.
  t.seq(bytes([&](Buf& b) { T::prologue(b, 0, 0x1000000); }),
        {"stp x29, x30, [sp, #-16]!", "mov x29, sp", "orr x16, xzr, #0xffffffffff000000", "add sp, sp, x16, uxtx"});
  // Loads and stores in each addressing mode.
  t.seq(bytes([](Buf& b) { T::load(b, Gp::x9, Gp::sp, 32760, 64, false); }), {"ldr x9, [sp, #32760]"});
  t.seq(bytes([](Buf& b) { T::load(b, Gp::x9, Gp::x10, -256, 16, true); }), {"ldursh x9, [x10, #-256]"});
  t.seq(bytes([](Buf& b) { T::load(b, Gp::x9, Gp::x10, 3, 32, false); }), {"ldur w9, [x10, #3]"});
  t.seq(bytes([](Buf& b) { T::load(b, Gp::x9, Gp::sp, 32768, 64, false); }), {"mov x9, #32768", "ldr x9, [sp, x9]"});
  t.seq(bytes([](Buf& b) { T::load(b, Gp::x9, Gp::x9, -257, 8, true); }), {"mov x17, #-257", "ldrsb x9, [x9, x17]"});
  t.seq(bytes([](Buf& b) { T::store(b, Gp::sp, 4096, Gp::x16, 8); }), {"mov x17, #4096", "strb w16, [sp, x17]"});
  t.seq(bytes([](Buf& b) { T::store(b, Gp::x19, 8190, Gp::x9, 16); }), {"strh w9, [x19, #8190]"});
  t.seq(bytes([](Buf& b) { T::stack_address(b, Gp::x9, 70000); }), {"add x9, sp, #17, lsl #12", "add x9, x9, #368"});
  t.seq(bytes([](Buf& b) { T::stack_address(b, Gp::x9, 0x1000000); }), {"mov x9, #0x1000000", "add x9, sp, x9, uxtx"});
  t.seq(bytes([](Buf& b) { T::swap(b, Gp::x9, Gp::x10); }), {"mov x16, x9", "mov x9, x10", "mov x10, x16"});
  t.seq(bytes([](Buf& b) { T::syscall(b, 94); }), {"mov x8, #94", "svc #0"});
  t.seq(bytes([](Buf& b) { T::call_indirect(b); }), {"blr x17"});
  {  // address_of: a literal jumped over, its 8 bytes a relocation
    Buf b;
    T::address_of(b, Gp::x9, crumble::code::Section::bss, 0);
    REQUIRE(b.bytes.size() == 16);
    REQUIRE(b.relocs.size() == 1);
    CHECK(b.relocs[0].field.at == 8);
    t.seq({b.bytes.begin(), b.bytes.begin() + 8}, {"ldr x9, #8", "b #12"});
  }
  // The cache maintenance loop, with base x9 and size x10.
  std::vector<std::string> flush = {"add x8, x9, x10"};
  for (const char* op : {"dc cvau", "ic ivau"}) {
    const bool d = op[0] == 'd';
    for (std::string s : std::vector<std::string>{"mrs x16, ctr_el0", d ? "ubfx x16, x16, #16, #4" : "ubfx x16, x16, #0, #4", "movz x17, #4",
                          "lsl x17, x17, x16", "neg x16, x17", "and x16, x9, x16", "b #12",
                          std::string(op) + ", x16", "add x16, x16, x17", "cmp x16, x8", "b.lo #-12", "dsb ish"})
      flush.push_back(s);
  }
  flush.push_back("isb");
  t.seq(bytes([](Buf& b) { T::cache_flush(b, Gp::x9, Gp::x10); }), flush);
  check_against_llvm_mc(aarch64, t.cases);
}

TEST_CASE("arm64: values that do not fit are rejected, never truncated", "[arm64][encoder]") {
  using crumble::errc;
  using crumble::test::fits;
  constexpr auto too_big = errc::value_does_not_fit_its_field;
  constexpr auto misaligned = errc::offset_is_not_a_multiple_of_its_scale;
  constexpr auto no_sp = errc::sp_is_not_valid_in_this_operand;
  constexpr auto no_xzr = errc::xzr_is_not_valid_in_this_operand;
  constexpr auto no_bitmask = errc::not_a_bitmask_immediate;
  // Field widths from the Arm ARM: imm16 and hw (2 bits; 1 bit in the 32-bit form), imm12,
  // imm6 shift amounts, imm12 scaled by the access size, imm9, imm7 scaled by 8, imm26 and
  // imm19 word offsets, adr's 21-bit byte offset.
  crumble::test::check_refusals({
      {"movz x0, #0xffff", [] { a::movz(Gp::x0, 0xffff); }, fits},
      {"movz x0, #0x10000", [] { a::movz(Gp::x0, 0x10000); }, too_big},
      {"movz x0, #1, lsl #64", [] { a::movz(Gp::x0, 1, 4); }, too_big},
      {"movz w0, #1, lsl #32", [] { a::movz_w(Gp::x0, 1, 2); }, too_big},
      {"add x0, x1, #4095", [] { a::add(Gp::x0, Gp::x1, 4095u); }, fits},
      {"add x0, x1, #4096", [] { a::add(Gp::x0, Gp::x1, 4096u); }, too_big},
      {"add x0, sp, x2 (shifted form: 31 is xzr)", [] { a::add(Gp::x0, Gp::sp, Gp::x2); }, no_sp},
      {"add xzr, x1, #1 (immediate form: 31 is sp)", [] { a::add(Gp::xzr, Gp::x1, 1u); }, no_xzr},
      {"add x0, x1, x2, ror #0", [] { a::add(Gp::x0, Gp::x1, Gp::x2, Shift::ror); }, errc::invalid_operand},
      {"lsl x0, x1, #63", [] { a::lsl(Gp::x0, Gp::x1, 63); }, fits},
      {"lsl x0, x1, #64", [] { a::lsl(Gp::x0, Gp::x1, 64); }, too_big},
      {"orr x0, x1, #0x12345", [] { a::orr(Gp::x0, Gp::x1, std::uint64_t{0x12345}); }, no_bitmask},
      {"orr x0, x1, #0", [] { a::orr(Gp::x0, Gp::x1, std::uint64_t{0}); }, no_bitmask},
      {"orr w0, wzr, #0xffffffff", [] { a::orr_w(Gp::x0, Gp::xzr, 0xffffffffu); }, no_bitmask},
      {"ldr x0, [x1, #32760]", [] { a::ldr(Gp::x0, Gp::x1, std::int64_t{32760}); }, fits},
      {"ldr x0, [x1, #32768]", [] { a::ldr(Gp::x0, Gp::x1, std::int64_t{32768}); }, too_big},
      {"ldr x0, [x1, #4]", [] { a::ldr(Gp::x0, Gp::x1, std::int64_t{4}); }, misaligned},
      {"ldr x0, [x1, #-8]", [] { a::ldr(Gp::x0, Gp::x1, std::int64_t{-8}); }, too_big},
      {"ldur x0, [x1, #-256]", [] { a::ldur(Gp::x0, Gp::x1, -256); }, fits},
      {"ldur x0, [x1, #-257]", [] { a::ldur(Gp::x0, Gp::x1, -257); }, too_big},
      {"ldur x0, [x1, #256]", [] { a::ldur(Gp::x0, Gp::x1, 256); }, too_big},
      {"stp x0, x1, [sp, #504]", [] { a::stp(Gp::x0, Gp::x1, Gp::sp, 504); }, fits},
      {"stp x0, x1, [sp, #512]", [] { a::stp(Gp::x0, Gp::x1, Gp::sp, 512); }, too_big},
      {"b #134217724", [] { a::b(134217724); }, fits},
      {"b #134217728", [] { a::b(134217728); }, too_big},
      {"b #-134217732", [] { a::b(-134217732); }, too_big},
      {"b #2", [] { a::b(2); }, misaligned},
      {"b.eq #-1048576", [] { a::b(Cond::eq, -1048576); }, fits},
      {"b.eq #1048576", [] { a::b(Cond::eq, 1048576); }, too_big},
      {"cbz x0, #-1048580", [] { a::cbz(Gp::x0, -1048580); }, too_big},
      {"adr x0, #1048575", [] { a::adr(Gp::x0, 1048575); }, fits},
      {"adr x0, #1048576", [] { a::adr(Gp::x0, 1048576); }, too_big},
      {"svc #0x10000", [] { a::svc(0x10000); }, too_big},
  });
}

// Compile-time rejection (g++ -fsyntax-only -DMISTAKE=<name>): each must stop the build with
// "call to non-'constexpr' function 'void crumble::diagnostic::<name>()'".
#ifdef MISTAKE
namespace arm64_mistakes {
using namespace crumble::arm64;
constexpr Inst value_does_not_fit_its_field() { return movz(Gp::x0, 0x10000); }
constexpr Inst sp_is_not_valid_in_this_operand() { return add(Gp::x0, Gp::sp, Gp::x2); }
constexpr Inst xzr_is_not_valid_in_this_operand() { return add(Gp::xzr, Gp::x1, 1u); }
constexpr Inst not_a_bitmask_immediate() { return orr(Gp::x0, Gp::x1, std::uint64_t{0x12345}); }
constexpr Inst offset_is_not_a_multiple_of_its_scale() { return ldr(Gp::x0, Gp::sp, std::int64_t{12}); }
}  // namespace arm64_mistakes
constexpr auto mistake = arm64_mistakes::MISTAKE();
#endif
