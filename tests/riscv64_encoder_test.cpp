// SPDX-License-Identifier: Apache-2.0
// RISC-V RV64IM encoder against LLVM's assembler: every row pairs one encoder call with the
// assembly text that must assemble to the same word. The expected bytes come from llvm-mc
// (tests/oracle.hpp), never from this file. Registers are swept over the field edges and the
// ABI roles (zero ra sp t0 a0 s11 t6 = x0 x1 x2 x5 x10 x27 x31), immediates over their edges.
// Plain RV64IM: no compressed instructions are ever produced, so none are enabled.
// At the end: operands that do not fit their field are refused, at run time and (built with
// -DMISTAKE=<name>) at compile time, naming crumble::diagnostic::<name>.
#include <crumble/arch/riscv64/encoder.hpp>
#include <crumble/arch/riscv64/target.hpp>

#include <array>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "oracle.hpp"
#include "refusals.hpp"

namespace {

namespace r = crumble::riscv64;
using r::Reg;
using crumble::test::Case;
using crumble::test::check_against_llvm_mc;

const std::string rv64im = "--triple=riscv64 -mattr=+m";

constexpr std::array<Reg, 7> edge_regs = {Reg::zero, Reg::ra, Reg::sp, Reg::t0, Reg::a0, Reg::s11, Reg::t6};

std::string reg(Reg x) {
  static constexpr const char* names[] = {"zero", "ra", "sp",  "gp",  "tp", "t0", "t1", "t2", "s0", "s1", "a0",
                                          "a1",   "a2", "a3",  "a4",  "a5", "a6", "a7", "s2", "s3", "s4", "s5",
                                          "s6",   "s7", "s8",  "s9",  "s10", "s11", "t3", "t4", "t5", "t6"};
  return names[static_cast<int>(x)];
}
std::string num(std::int64_t v) { return std::to_string(v); }
std::string mem(std::int64_t imm, Reg base) { return num(imm) + "(" + reg(base) + ")"; }

constexpr std::array<std::int64_t, 7> imm12 = {0, 1, -1, 2047, -2048, 0x555, -0x556};
constexpr std::array<std::int64_t, 6> shamts = {0, 1, 31, 32, 62, 63};
constexpr std::array<std::int64_t, 7> imm20 = {0, 1, 0x7ffff, 0x80000, 0xfffff, 0x12345, 0xabcde};
// B-type: ±4 KiB edges and each offset bit alone (bits 1..12 land in scattered fields).
constexpr std::array<std::int64_t, 16> b_offsets = {0,    2,    -2,    4094,  -4096, 2048, -2048, 2046,
                                                    4,    32,   64,    1024,  -4094, 8,    16,    0x556};
// J-type: ±1 MiB edges and bits 1..20 in their scattered fields.
constexpr std::array<std::int64_t, 14> j_offsets = {0,    2,     -2,     1048574, -1048576, 2048,   -2048,
                                                    4094, 4096,  0x7fe,  0x800,   0xff000,  0x55556, -0x55556};

struct Table {
  std::vector<Case> cases;
  void operator()(r::Inst i, std::string text) { cases.push_back({{i.begin(), i.end()}, std::move(text)}); }
};

using RR = r::Inst (*)(Reg, Reg, Reg);
using RI = r::Inst (*)(Reg, Reg, std::int64_t);
using Mem = r::Inst (*)(Reg, std::int64_t, Reg);
using Br = r::Inst (*)(Reg, Reg, std::int64_t);

}  // namespace

TEST_CASE("riscv64: R-type (RV64I and M)", "[riscv64][encoder][llvm-mc]") {
  const std::pair<RR, const char*> ops[] = {
      {r::add, "add"}, {r::sub, "sub"}, {r::sll, "sll"},   {r::slt, "slt"}, {r::sltu, "sltu"},
      {r::xor_, "xor"}, {r::srl, "srl"}, {r::sra, "sra"},  {r::or_, "or"},  {r::and_, "and"},
      {r::mul, "mul"}, {r::div, "div"}, {r::divu, "divu"}, {r::rem, "rem"}, {r::remu, "remu"},
  };
  Table t;
  for (auto [f, name] : ops)
    for (Reg d : edge_regs)
      for (Reg a : edge_regs)
        for (Reg b : edge_regs) t(f(d, a, b), std::string(name) + " " + reg(d) + ", " + reg(a) + ", " + reg(b));
  check_against_llvm_mc(rv64im, t.cases);
}

TEST_CASE("riscv64: I-type arithmetic, shifts, U-type", "[riscv64][encoder][llvm-mc]") {
  const std::pair<RI, const char*> ops[] = {{r::addi, "addi"}, {r::slti, "slti"}, {r::sltiu, "sltiu"},
                                            {r::xori, "xori"}, {r::ori, "ori"},   {r::andi, "andi"},
                                            {r::addiw, "addiw"}};
  const std::pair<RI, const char*> shifts[] = {{r::slli, "slli"}, {r::srli, "srli"}, {r::srai, "srai"}};
  Table t;
  for (Reg d : edge_regs) {
    for (Reg a : edge_regs) {
      for (auto [f, name] : ops)
        for (std::int64_t v : imm12) t(f(d, a, v), std::string(name) + " " + reg(d) + ", " + reg(a) + ", " + num(v));
      for (auto [f, name] : shifts)
        for (std::int64_t v : shamts) t(f(d, a, v), std::string(name) + " " + reg(d) + ", " + reg(a) + ", " + num(v));
      t(r::mv(d, a), "mv " + reg(d) + ", " + reg(a));
    }
    for (std::int64_t v : imm20) {
      t(r::lui(d, v), "lui " + reg(d) + ", " + num(v));
      t(r::auipc(d, v), "auipc " + reg(d) + ", " + num(v));
    }
  }
  check_against_llvm_mc(rv64im, t.cases);
}

TEST_CASE("riscv64: loads and stores", "[riscv64][encoder][llvm-mc]") {
  const std::pair<Mem, const char*> loads[] = {{r::lb, "lb"},   {r::lh, "lh"},   {r::lw, "lw"},  {r::ld, "ld"},
                                               {r::lbu, "lbu"}, {r::lhu, "lhu"}, {r::lwu, "lwu"}};
  const std::pair<Mem, const char*> stores[] = {{r::sb, "sb"}, {r::sh, "sh"}, {r::sw, "sw"}, {r::sd, "sd"}};
  Table t;
  for (Reg x : edge_regs)
    for (Reg base : edge_regs)
      for (std::int64_t v : imm12) {
        for (auto [f, name] : loads) t(f(x, v, base), std::string(name) + " " + reg(x) + ", " + mem(v, base));
        for (auto [f, name] : stores) t(f(x, v, base), std::string(name) + " " + reg(x) + ", " + mem(v, base));
      }
  check_against_llvm_mc(rv64im, t.cases);
}

// llvm-mc takes a numeric branch target as the offset itself, so --show-encoding resolves it.
TEST_CASE("riscv64: branches and jumps at their range edges", "[riscv64][encoder][llvm-mc]") {
  const std::pair<Br, const char*> branches[] = {{r::beq, "beq"}, {r::bne, "bne"},   {r::blt, "blt"},
                                                 {r::bge, "bge"}, {r::bltu, "bltu"}, {r::bgeu, "bgeu"}};
  Table t;
  for (auto [f, name] : branches)
    for (Reg a : edge_regs)
      for (Reg b : edge_regs)
        for (std::int64_t d : b_offsets) t(f(a, b, d), std::string(name) + " " + reg(a) + ", " + reg(b) + ", " + num(d));
  for (Reg d : edge_regs) {
    for (std::int64_t off : j_offsets) t(r::jal(d, off), "jal " + reg(d) + ", " + num(off));
    for (Reg base : edge_regs)
      for (std::int64_t v : imm12) t(r::jalr(d, v, base), "jalr " + reg(d) + ", " + mem(v, base));
  }
  t(r::ret(), "ret");
  check_against_llvm_mc(rv64im, t.cases);
}

TEST_CASE("riscv64: system and fences", "[riscv64][encoder][llvm-mc]") {
  auto set = [](int s) {
    std::string x;
    for (auto [bit, c] : {std::pair{8, 'i'}, {4, 'o'}, {2, 'r'}, {1, 'w'}})
      if (s & bit) x += c;
    return x;
  };
  Table t;
  t(r::ecall(), "ecall");
  t(r::ebreak(), "ebreak");
  t(r::fence_i(), "fence.i");
  for (int p = 1; p < 16; ++p)  // llvm-mc 14 has no spelling for an empty set
    for (int s = 1; s < 16; ++s) t(r::fence(p, s), "fence " + set(p) + ", " + set(s));
  check_against_llvm_mc(rv64im, t.cases);
}

// ---- field checks -------------------------------------------------------------------------

namespace {
// True when the call is a constant expression: an out-of-range field is not (it reaches a
// non-constexpr diagnostic), so in constant evaluation it is a compile error.
template <std::int64_t V>
constexpr bool addi_constant = requires { typename std::integral_constant<std::uint32_t, r::addi(Reg::a0, Reg::a0, V).word()>; };
template <std::int64_t V>
constexpr bool beq_constant = requires { typename std::integral_constant<std::uint32_t, r::beq(Reg::a0, Reg::a0, V).word()>; };
template <std::int64_t V>
constexpr bool lui_constant = requires { typename std::integral_constant<std::uint32_t, r::lui(Reg::a0, V).word()>; };
}  // namespace

static_assert(addi_constant<2047> && addi_constant<-2048>);
static_assert(!addi_constant<2048> && !addi_constant<-2049>);
static_assert(beq_constant<4094> && beq_constant<-4096>);
static_assert(!beq_constant<4096> && !beq_constant<-4098> && !beq_constant<3>);
static_assert(lui_constant<0xfffff> && !lui_constant<0x100000> && !lui_constant<-1>);

TEST_CASE("riscv64: an operand that does not fit its field is refused, never truncated", "[riscv64][encoder]") {
  using crumble::errc;
  using crumble::test::fits;
  constexpr auto too_big = errc::value_does_not_fit_its_field;
  constexpr auto odd = errc::offset_is_not_a_multiple_of_its_scale;
  // Field widths from the ISA manual: I/S-type 12 bits signed, shamt 6 bits, U-type 20 bits,
  // B-type 13 bits signed and even, J-type 21 bits signed and even, fence sets 4 bits.
  crumble::test::check_refusals({
      {"addi a0, a0, 2047", [] { r::addi(Reg::a0, Reg::a0, 2047); }, fits},
      {"addi a0, a0, 2048", [] { r::addi(Reg::a0, Reg::a0, 2048); }, too_big},
      {"addi a0, a0, -2049", [] { r::addi(Reg::a0, Reg::a0, -2049); }, too_big},
      {"ld a0, -2048(sp)", [] { r::ld(Reg::a0, -2048, Reg::sp); }, fits},
      {"ld a0, -2049(sp)", [] { r::ld(Reg::a0, -2049, Reg::sp); }, too_big},
      {"sd a0, -2049(sp)", [] { r::sd(Reg::a0, -2049, Reg::sp); }, too_big},
      {"sd a0, 2048(sp)", [] { r::sd(Reg::a0, 2048, Reg::sp); }, too_big},
      {"slli a0, a0, 63", [] { r::slli(Reg::a0, Reg::a0, 63); }, fits},
      {"slli a0, a0, 64", [] { r::slli(Reg::a0, Reg::a0, 64); }, too_big},
      {"srai a0, a0, -1", [] { r::srai(Reg::a0, Reg::a0, -1); }, too_big},
      {"lui a0, 0xfffff", [] { r::lui(Reg::a0, 0xfffff); }, fits},
      {"lui a0, 0x100000", [] { r::lui(Reg::a0, 0x100000); }, too_big},
      {"auipc a0, -1", [] { r::auipc(Reg::a0, -1); }, too_big},
      {"beq a0, a1, 4094", [] { r::beq(Reg::a0, Reg::a1, 4094); }, fits},
      {"beq a0, a1, 4096", [] { r::beq(Reg::a0, Reg::a1, 4096); }, too_big},
      {"bne a0, a1, -4098", [] { r::bne(Reg::a0, Reg::a1, -4098); }, too_big},
      {"beq a0, a1, 3", [] { r::beq(Reg::a0, Reg::a1, 3); }, odd},
      {"jal ra, 1048574", [] { r::jal(Reg::ra, 1048574); }, fits},
      {"jal ra, 1048576", [] { r::jal(Reg::ra, 1048576); }, too_big},
      {"jal ra, -1048578", [] { r::jal(Reg::ra, -1048578); }, too_big},
      {"jal ra, 1", [] { r::jal(Reg::ra, 1); }, odd},
      {"fence 15, 15", [] { r::fence(15, 15); }, fits},
      {"fence 16, 1", [] { r::fence(16, 1); }, too_big},
      {"fence 1, 16", [] { r::fence(1, 16); }, too_big},
  });
}

// ---- li sequences -------------------------------------------------------------------------
// mov_imm's words run through a four-instruction interpreter (lui, addi, addiw, slli: all it
// emits) must leave exactly the constant; the run tests execute the same sequences in qemu.
namespace {
std::int64_t run_li(const std::vector<std::uint8_t>& code, std::size_t& count) {
  std::int64_t x = 0;
  count = code.size() / 4;
  for (std::size_t at = 0; at < code.size(); at += 4) {
    std::uint32_t w = code[at] | code[at + 1] << 8 | code[at + 2] << 16 | std::uint32_t{code[at + 3]} << 24;
    std::uint32_t opcode = w & 0x7f, funct3 = (w >> 12) & 7, rs1 = (w >> 15) & 31;
    std::int64_t imm = static_cast<std::int32_t>(w) >> 20;
    std::int64_t src = rs1 == 0 ? 0 : x;
    if ((w >> 7 & 31) != 10) FAIL("li wrote a register other than a0: " << std::hex << w);
    if (opcode == 0x37) x = static_cast<std::int32_t>(w & 0xfffff000);
    else if (opcode == 0x13 && funct3 == 0) x = static_cast<std::int64_t>(static_cast<std::uint64_t>(src) + imm);
    else if (opcode == 0x13 && funct3 == 1) x = static_cast<std::int64_t>(static_cast<std::uint64_t>(src) << (imm & 63));
    else if (opcode == 0x1b && funct3 == 0) x = static_cast<std::int32_t>(static_cast<std::uint32_t>(src + imm));
    else FAIL("unexpected instruction in li: " << std::hex << w);
  }
  return x;
}
}  // namespace

TEST_CASE("riscv64: li materialises every 64-bit constant exactly", "[riscv64][encoder]") {
  std::vector<std::int64_t> values = {0, 1, -1, 2047, -2048, 2048, -2049, 0x7ff, 0x800, 0xfff, 0x1000,
                                      0x7ffff7ff, 0x7ffff800, 0x7fffffff, -0x80000000LL, -0x7ffff800LL,
                                      0x80000000LL, 0xffffffffLL, 0x100000000LL, 0x123456789abcdef0LL,
                                      INT64_MAX, INT64_MIN, INT64_MIN + 1, 0x7ffff80000000000LL,
                                      static_cast<std::int64_t>(0x8000000080000000ULL), 0x0000000100000001LL,
                                      static_cast<std::int64_t>(0xdeadbeefcafebabeULL), 0x7ffffffffffff800LL};
  for (int s = 0; s < 64; ++s) {
    values.push_back(std::int64_t{1} << s);
    values.push_back(-(std::int64_t{1} << s));
    values.push_back(static_cast<std::int64_t>((std::uint64_t{1} << s) - 1));
    values.push_back(static_cast<std::int64_t>(~std::uint64_t{0} << s) + 0x800);
  }
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::uint64_t v = rng();
    values.push_back(static_cast<std::int64_t>(v >> (rng() % 64)));  // all magnitudes
    values.push_back(static_cast<std::int64_t>(v));
  }
  std::size_t longest = 0;
  for (std::int64_t v : values) {
    crumble::code::Buffer<crumble::arch::riscv64> b;
    crumble::arch::riscv64::mov_imm(b, Reg::a0, v);
    std::size_t n = 0;
    std::int64_t got = run_li(b.bytes.to_vector(), n);
    if (got != v) FAIL_CHECK("li " << v << " (0x" << std::hex << v << ") computed 0x" << got);
    if (v >= INT32_MIN && v <= INT32_MAX) CHECK(n <= 2);
    longest = std::max(longest, n);
  }
  CHECK(longest <= 8);
}

// Item reach at the exact edges (disp counts from the start of the item, which for a branch is
// the branch itself; its relaxed forms jump from the word after it).
TEST_CASE("riscv64: relaxable items change form exactly at the range edges", "[riscv64][encoder]") {
  using T = crumble::arch::riscv64;
  CHECK(T::item_fits(T::branch_item, 0, 4094));
  CHECK_FALSE(T::item_fits(T::branch_item, 0, 4096));
  CHECK(T::item_fits(T::branch_item, 0, -4096));
  CHECK_FALSE(T::item_fits(T::branch_item, 0, -4098));
  CHECK(T::item_fits(T::branch_item, 1, 1048574 + 4));
  CHECK_FALSE(T::item_fits(T::branch_item, 1, 1048576 + 4));
  CHECK(T::item_fits(T::branch_item, 1, -1048576 + 4));
  CHECK_FALSE(T::item_fits(T::branch_item, 1, -1048578 + 4));
  CHECK(T::item_fits(T::branch_item, 2, std::int64_t{1} << 30));
  for (auto kind : {T::jump_item, T::call_item}) {
    CHECK(T::item_fits(kind, 0, 1048572));
    CHECK(T::item_fits(kind, 0, -1048576));
    CHECK_FALSE(T::item_fits(kind, 0, 1048576));
    CHECK_FALSE(T::item_fits(kind, 0, -1048580));
    CHECK(T::item_fits(kind, 1, -(std::int64_t{1} << 30)));
  }
  CHECK(T::item_size(T::branch_item, 0) == 4);
  CHECK(T::item_size(T::branch_item, 1) == 8);
  CHECK(T::item_size(T::branch_item, 2) == 12);
  CHECK(T::item_size(T::jump_item, 1) == 8);
}

// Compile-time rejection (g++ -fsyntax-only -DMISTAKE=<name>): each must stop the build with
// "call to non-'constexpr' function 'void crumble::diagnostic::<name>()'".
#ifdef MISTAKE
namespace riscv64_mistakes {
using namespace crumble::riscv64;
constexpr Inst value_does_not_fit_its_field() { return addi(Reg::a0, Reg::a0, 2048); }
constexpr Inst offset_is_not_a_multiple_of_its_scale() { return beq(Reg::a0, Reg::a1, 3); }
}  // namespace riscv64_mistakes
constexpr auto mistake = riscv64_mistakes::MISTAKE();
#endif
