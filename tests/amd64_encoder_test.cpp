// SPDX-License-Identifier: Apache-2.0
// AMD64 encoder against LLVM's assembler: every row pairs one encoder call with the AT&T text
// that must assemble to the same bytes. The expected bytes come from llvm-mc (tests/oracle.hpp),
// never from this file. Register and memory operands are swept over all 16 registers, so the
// REX bits, the rsp/r12 SIB byte and the rbp/r13 explicit displacement are all exercised.
// At the end: operands that do not fit their field are refused, at run time and (built with
// -DMISTAKE=<name>) at compile time, naming crumble::diagnostic::<name>.
#include <crumble/arch/amd64/encoder.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "oracle.hpp"
#include "refusals.hpp"

namespace {

namespace a = crumble::amd64;
using a::Alu;
using a::Cc;
using a::Gp;
using a::Mem;
using a::Shift;
using crumble::test::Case;
using crumble::test::check_against_llvm_mc;
using crumble::test::Route;

const std::string x86_64 = "-triple=x86_64";

constexpr std::array<Gp, 16> all_gp = {Gp::rax, Gp::rcx, Gp::rdx, Gp::rbx, Gp::rsp, Gp::rbp, Gp::rsi, Gp::rdi,
                                       Gp::r8,  Gp::r9,  Gp::r10, Gp::r11, Gp::r12, Gp::r13, Gp::r14, Gp::r15};

// AT&T register name of `r` at `width` bits; with a REX prefix the low bytes of rsp/rbp/rsi/rdi
// are spl/bpl/sil/dil (never ah/ch/dh/bh).
std::string reg(Gp r, int width = 64) {
  static constexpr const char* q[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                      "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  static constexpr const char* l[] = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
                                      "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"};
  static constexpr const char* w[] = {"ax",  "cx",  "dx",   "bx",   "sp",   "bp",   "si",   "di",
                                      "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"};
  static constexpr const char* b[] = {"al",  "cl",  "dl",   "bl",   "spl",  "bpl",  "sil",  "dil",
                                      "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"};
  auto i = static_cast<int>(r);
  return std::string("%") + (width == 64 ? q : width == 32 ? l : width == 16 ? w : b)[i];
}
std::string mem(Mem m) { return std::to_string(m.disp) + "(" + reg(m.base) + ")"; }
std::string imm(std::int64_t v) { return "$" + std::to_string(v); }

// Displacements and immediates at every encoding boundary: zero (no displacement), the imm8 /
// disp8 range edges, and the 32-bit edges.
constexpr std::int32_t i32_min = std::numeric_limits<std::int32_t>::min();
constexpr std::int32_t i32_max = std::numeric_limits<std::int32_t>::max();
constexpr std::array<std::int32_t, 9> edges32 = {0, 1, -1, 127, 128, -128, -129, i32_max, i32_min};

// Collects rows; `t(inst, text)` reads like one line of the table.
struct Table {
  std::vector<Case> cases;
  void operator()(const a::Inst& i, std::string text) { cases.push_back({{i.begin(), i.end()}, std::move(text)}); }
};

}  // namespace

TEST_CASE("amd64: register moves and constants", "[amd64][encoder][llvm-mc]") {
  Table t;
  for (Gp d : all_gp) {
    for (Gp s : all_gp) t(a::mov(d, s), "movq " + reg(s) + ", " + reg(d));
    t(a::zero(d), "xorl " + reg(d, 32) + ", " + reg(d, 32));
    for (std::uint32_t v : {0u, 1u, 127u, 128u, 0x7fffffffu, 0x80000000u, 0xffffffffu})
      t(a::mov_u32(d, v), "movl " + imm(v) + ", " + reg(d, 32));
    for (std::int32_t v : edges32) t(a::mov_s32(d, v), "movq " + imm(v) + ", " + reg(d));
    for (std::int64_t v : {std::int64_t{0}, std::int64_t{1}, std::int64_t{-1}, std::int64_t{1} << 32,
                           std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()})
      t(a::movabs(d, static_cast<std::uint64_t>(v)), "movabsq " + imm(v) + ", " + reg(d));
    // xchg is symmetric; LLVM puts the first AT&T operand in ModRM.rm, as xchg(a, b) does with a.
    for (Gp s : all_gp) t(a::xchg(d, s), "xchgq " + reg(d) + ", " + reg(s));
  }
  check_against_llvm_mc(x86_64, t.cases);
}

// mov(Gp, int64) must pick the shortest form; the table says which form that is for each value,
// and the second check confirms with LLVM that no other valid form is shorter.
TEST_CASE("amd64: mov of a 64-bit constant picks the shortest form", "[amd64][encoder][llvm-mc]") {
  enum Form { xorl, movl, movq, movabsq };
  constexpr auto i64_min = std::numeric_limits<std::int64_t>::min();
  constexpr auto i64_max = std::numeric_limits<std::int64_t>::max();
  const struct {
    std::int64_t value;
    Form form;
  } shortest[] = {
      {0, xorl},                     // 2-3 bytes, zero-extends to 64 bits
      {1, movl},                     // movl zero-extends: anything in [1, 2^32)
      {127, movl},
      {128, movl},
      {i32_max, movl},
      {std::int64_t{i32_max} + 1, movl},
      {0xffffffff, movl},
      {-1, movq},                    // movq $imm32 sign-extends: negatives down to INT32_MIN
      {-128, movq},
      {-129, movq},
      {i32_min, movq},
      {std::int64_t{i32_min} - 1, movabsq},  // beyond both: the 10-byte form
      {std::int64_t{1} << 32, movabsq},
      {i64_min, movabsq},
      {i64_max, movabsq},
  };
  auto text = [](Form f, std::int64_t v, Gp d) -> std::string {
    switch (f) {
      case xorl: return "xorl " + reg(d, 32) + ", " + reg(d, 32);
      case movl: return "movl " + imm(v) + ", " + reg(d, 32);
      case movq: return "movq " + imm(v) + ", " + reg(d);
      default: return "movabsq " + imm(v) + ", " + reg(d);
    }
  };
  auto valid = [](Form f, std::int64_t v) {
    switch (f) {
      case xorl: return v == 0;
      case movl: return v >= 0 && v <= 0xffffffff;
      case movq: return v >= i32_min && v <= i32_max;
      default: return true;
    }
  };

  Table t;
  for (Gp d : all_gp)
    for (auto [v, form] : shortest) t(a::mov(d, v), text(form, v, d));
  check_against_llvm_mc(x86_64, t.cases);

  // Every other form that loads the same value is at least as long (per LLVM).
  std::vector<std::string> alternatives;
  std::vector<std::size_t> chosen_size;
  for (Gp d : all_gp)
    for (auto [v, form] : shortest)
      for (Form f : {xorl, movl, movq, movabsq})
        if (f != form && valid(f, v)) {
          alternatives.push_back(text(f, v, d));
          chosen_size.push_back(a::mov(d, v).size);
        }
  auto sizes = crumble::test::llvm_mc_encodings(x86_64, alternatives);
  for (std::size_t i = 0; i < alternatives.size(); ++i) {
    INFO(alternatives[i] << " is " << sizes[i].size() << " bytes; mov() chose " << chosen_size[i]);
    CHECK(chosen_size[i] <= sizes[i].size());
  }
}

TEST_CASE("amd64: lea/load/store over all bases and displacements", "[amd64][encoder][llvm-mc]") {
  Table t;
  for (Gp r : all_gp)
    for (Gp base : all_gp)
      for (std::int32_t disp : edges32) {
        Mem m{base, disp};
        auto M = mem(m);
        t(a::lea(r, m), "leaq " + M + ", " + reg(r));
        // Loads widen into the whole 64-bit register: zero-extending forms write the 32-bit
        // register (which clears the top half), sign-extending ones write the 64-bit one.
        t(a::load(r, m, 8, false), "movzbl " + M + ", " + reg(r, 32));
        t(a::load(r, m, 8, true), "movsbq " + M + ", " + reg(r));
        t(a::load(r, m, 16, false), "movzwl " + M + ", " + reg(r, 32));
        t(a::load(r, m, 16, true), "movswq " + M + ", " + reg(r));
        t(a::load(r, m, 32, false), "movl " + M + ", " + reg(r, 32));
        t(a::load(r, m, 32, true), "movslq " + M + ", " + reg(r));
        t(a::load(r, m, 64, false), "movq " + M + ", " + reg(r));
        t(a::load(r, m, 64, true), "movq " + M + ", " + reg(r));  // sign is moot at full width
        // Byte stores from spl/bpl/sil/dil need a bare REX prefix; r8b-r15b get REX.R.
        t(a::store(m, r, 8), "movb " + reg(r, 8) + ", " + M);
        t(a::store(m, r, 16), "movw " + reg(r, 16) + ", " + M);
        t(a::store(m, r, 32), "movl " + reg(r, 32) + ", " + M);
        t(a::store(m, r, 64), "movq " + reg(r) + ", " + M);
      }
  check_against_llvm_mc(x86_64, t.cases);
}

TEST_CASE("amd64: arithmetic", "[amd64][encoder][llvm-mc]") {
  const struct {
    Alu op;
    const char* name;
  } alus[] = {{Alu::add, "addq"}, {Alu::or_, "orq"},   {Alu::and_, "andq"},
              {Alu::sub, "subq"}, {Alu::xor_, "xorq"}, {Alu::cmp, "cmpq"}};
  const struct {
    Shift op;
    const char* name;
  } shifts[] = {{Shift::shl, "shlq"}, {Shift::shr, "shrq"}, {Shift::sar, "sarq"}};

  Table t;
  for (Gp d : all_gp) {
    for (Gp s : all_gp) {
      for (auto [op, name] : alus) t(a::alu(op, d, s), name + (" " + reg(s)) + ", " + reg(d));
      t(a::test(d, s), "testq " + reg(s) + ", " + reg(d));
      t(a::imul(d, s), "imulq " + reg(s) + ", " + reg(d));
      for (std::int32_t v : edges32) t(a::imul(d, s, v), "imulq " + imm(v) + ", " + reg(s) + ", " + reg(d));
    }
    // Includes rax, which has its own short imm32 form (opcode op*8+5, no ModRM).
    for (auto [op, name] : alus)
      for (std::int32_t v : edges32) t(a::alu(op, d, v), name + (" " + imm(v)) + ", " + reg(d));
    t(a::not_(d), "notq " + reg(d));
    t(a::neg(d), "negq " + reg(d));
    t(a::div(d), "divq " + reg(d));
    t(a::idiv(d), "idivq " + reg(d));
    for (auto [op, name] : shifts) {
      for (int count : {0, 1, 2, 63}) t(a::shift(op, d, count), name + (" " + imm(count)) + ", " + reg(d));
      t(a::shift_cl(op, d), name + (" %cl, " + reg(d)));
    }
  }
  t(a::cqo(), "cqto");
  check_against_llvm_mc(x86_64, t.cases);
}

TEST_CASE("amd64: call/ret/push/pop/syscall/ud2", "[amd64][encoder][llvm-mc]") {
  Table t;
  for (Gp r : all_gp) {
    t(a::call(r), "callq *" + reg(r));
    t(a::push(r), "pushq " + reg(r));
    t(a::pop(r), "popq " + reg(r));
  }
  t(a::ret(), "retq");
  t(a::syscall(), "syscall");
  t(a::ud2(), "ud2");
  check_against_llvm_mc(x86_64, t.cases);
}

// Branch displacements count from the end of the instruction, so the target is written as
// `1f+DISP` with the label `1:` right after the branch. --show-encoding cannot resolve that
// (it prints a fixup), so these go through an object file. LLVM picks rel8 whenever the
// displacement fits; `{disp32}` forces rel32 for small displacements.
TEST_CASE("amd64: branches at the rel8 and rel32 edges", "[amd64][encoder][llvm-mc]") {
  static constexpr const char* jcc[] = {"jo", "jno", "jb", "jae", "je", "jne", "jbe", "ja",
                                        "js", "jns", "jp", "jnp", "jl", "jge", "jle", "jg"};
  auto target = [](std::int64_t d) { return std::string(" 1f") + (d < 0 ? "" : "+") + std::to_string(d) + "; 1:"; };
  const std::int8_t rel8[] = {-128, -1, 0, 1, 127};
  const std::int32_t rel32[] = {i32_min, -129, -128, -1, 0, 1, 127, 128, i32_max};

  Table t;
  for (std::int8_t d : rel8) t(a::jmp_rel8(d), "jmp" + target(d));
  for (std::int32_t d : rel32) {
    t(a::jmp_rel32(d), "{disp32} jmp" + target(d));
    t(a::call_rel32(d), "call" + target(d));  // call has only the rel32 form
  }
  for (int c = 0; c < 16; ++c) {
    for (std::int8_t d : rel8) t(a::jcc_rel8(Cc(c), d), jcc[c] + target(d));
    for (std::int32_t d : rel32) t(a::jcc_rel32(Cc(c), d), std::string("{disp32} ") + jcc[c] + target(d));
  }
  check_against_llvm_mc(x86_64, t.cases, Route::object);
}

TEST_CASE("amd64: an operand that does not fit its field is refused, never truncated", "[amd64][encoder]") {
  using crumble::errc;
  using crumble::test::fits;
  constexpr auto too_big = errc::value_does_not_fit_its_field;
  constexpr std::int64_t i32_over = std::int64_t{i32_max} + 1, i32_under = std::int64_t{i32_min} - 1;
  // Field widths from the Intel SDM: rel8 and imm8 signed bytes, rel32/disp32/imm32 signed
  // dwords (movl's imm32 unsigned), the shift count 0..63 for 64-bit operands.
  crumble::test::check_refusals({
      {"jmp rel8 127", [] { a::jmp_rel8(127); }, fits},
      {"jmp rel8 128", [] { a::jmp_rel8(128); }, too_big},
      {"jmp rel8 -129", [] { a::jmp_rel8(-129); }, too_big},
      {"je rel8 -128", [] { a::jcc_rel8(Cc::e, -128); }, fits},
      {"je rel8 128", [] { a::jcc_rel8(Cc::e, 128); }, too_big},
      {"jmp rel32 2^31-1", [] { a::jmp_rel32(i32_max); }, fits},
      {"jmp rel32 2^31", [=] { a::jmp_rel32(i32_over); }, too_big},
      {"je rel32 -2^31-1", [=] { a::jcc_rel32(Cc::e, i32_under); }, too_big},
      {"call rel32 2^31", [=] { a::call_rel32(i32_over); }, too_big},
      {"movl $2^32-1", [] { a::mov_u32(Gp::rax, 0xffffffff); }, fits},
      {"movl $2^32", [] { a::mov_u32(Gp::rax, 0x100000000); }, too_big},
      {"movl $-1", [] { a::mov_u32(Gp::rax, -1); }, too_big},
      {"movq $2^31 (sign-extended imm32)", [=] { a::mov_s32(Gp::rax, i32_over); }, too_big},
      {"addq $2^31", [=] { a::alu(Alu::add, Gp::rcx, i32_over); }, too_big},
      {"cmpq $-2^31-1", [=] { a::alu(Alu::cmp, Gp::rcx, i32_under); }, too_big},
      {"imulq $2^31", [=] { a::imul(Gp::rcx, Gp::rdx, i32_over); }, too_big},
      {"shlq $63", [] { a::shift(Shift::shl, Gp::rcx, 63); }, fits},
      {"shlq $64", [] { a::shift(Shift::shl, Gp::rcx, 64); }, too_big},
      {"sarq $-1", [] { a::shift(Shift::sar, Gp::rcx, -1); }, too_big},
      {"lea 2^31-1(%rsp)", [] { a::lea(Gp::rax, {Gp::rsp, i32_max}); }, fits},
      {"lea 2^31(%rsp)", [=] { a::lea(Gp::rax, {Gp::rsp, i32_over}); }, too_big},
      {"movq -2^31-1(%rbp), %rax", [=] { a::load(Gp::rax, {Gp::rbp, i32_under}, 64, false); }, too_big},
      {"movq %rax, 2^31(%rbp)", [=] { a::store({Gp::rbp, i32_over}, Gp::rax, 64); }, too_big},
      {"load of 12 bits", [] { a::load(Gp::rax, {Gp::rbp, 0}, 12, false); }, errc::invalid_operand},
      {"store of 0 bits", [] { a::store({Gp::rbp, 0}, Gp::rax, 0); }, errc::invalid_operand},
  });
}

// Compile-time rejection (g++ -fsyntax-only -DMISTAKE=<name>): each must stop the build with
// "call to non-'constexpr' function 'void crumble::diagnostic::<name>()'".
#ifdef MISTAKE
namespace amd64_mistakes {
using namespace crumble::amd64;
constexpr Inst value_does_not_fit_its_field() { return jmp_rel8(128); }
constexpr Inst invalid_operand() { return load(Gp::rax, {Gp::rbp, 0}, 12, false); }
}  // namespace amd64_mistakes
constexpr auto mistake = amd64_mistakes::MISTAKE();
#endif
