// SPDX-License-Identifier: Apache-2.0
// crumble/arch/riscv64/encoder.hpp — RV64IM instruction encoder: one function per instruction.
//
// Every instruction is one 32-bit little-endian word built by one of the six base formats of
// the ISA manual (R, I, S, B, U, J); the functions below are named and ordered as in the manual
// and take operands in assembly order (`ld rd, imm(rs1)` is ld(rd, imm, rs1)). The encoder has
// no state, so a test compares one call with one line of `llvm-mc`.
//
// Immediates are checked against their field: a value that does not fit is never truncated. As on
// every architecture (crumble/error.hpp), in constant evaluation it is a compile error naming the
// mistake (crumble::diagnostic::value_does_not_fit_its_field, or
// offset_is_not_a_multiple_of_its_scale for an odd branch offset), and at run time it throws
// crumble::compile_error with that errc.
#pragma once

#include <array>
#include <cstdint>

#include "../../bytes.hpp"
#include "../../error.hpp"

namespace crumble::riscv64 {

// x0..x31 by their ABI names.
enum class Reg : std::uint8_t {
  zero, ra, sp, gp, tp, t0, t1, t2, s0, s1, a0, a1, a2, a3, a4, a5, a6, a7,
  s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, t3, t4, t5, t6
};

struct Inst {
  std::uint8_t bytes[4]{};  // not std::array: no evaluated call per access in constant evaluation

  constexpr explicit Inst(std::uint32_t w) {
    bytes[0] = static_cast<std::uint8_t>(w);
    bytes[1] = static_cast<std::uint8_t>(w >> 8);
    bytes[2] = static_cast<std::uint8_t>(w >> 16);
    bytes[3] = static_cast<std::uint8_t>(w >> 24);
  }
  constexpr std::uint32_t word() const { return le::load<std::uint32_t>(bytes); }
  constexpr const std::uint8_t* begin() const { return bytes; }
  constexpr const std::uint8_t* end() const { return bytes + 4; }
};

namespace detail {
// `what` names the operand in the run-time message: "riscv64 I-type immediate 4096".
constexpr void fail(errc code, const char* what, std::int64_t v) { crumble::detail::fail_operand(code, "riscv64", what, v); }
constexpr bool fits_signed(std::int64_t v, int bits) {
  return v >= -(std::int64_t{1} << (bits - 1)) && v < (std::int64_t{1} << (bits - 1));
}
constexpr bool fits_unsigned(std::int64_t v, int bits) { return v >= 0 && v < (std::int64_t{1} << bits); }

// The low `bits` bits of v after checking that v fits them as a signed / unsigned number.
constexpr std::uint32_t simm(std::int64_t v, int bits, const char* what) {
  if (!fits_signed(v, bits)) fail(errc::value_does_not_fit_its_field, what, v);
  return static_cast<std::uint32_t>(v) & ((std::uint32_t{1} << bits) - 1);
}
constexpr std::uint32_t uimm(std::int64_t v, int bits, const char* what) {
  if (!fits_unsigned(v, bits)) fail(errc::value_does_not_fit_its_field, what, v);
  return static_cast<std::uint32_t>(v);
}
// Branch and jump offsets count halfwords: bit 0 is implicit and must be 0.
constexpr std::uint32_t offset(std::int64_t v, int bits, const char* what) {
  if (v & 1) fail(errc::offset_is_not_a_multiple_of_its_scale, what, v);
  return simm(v, bits, what);
}
constexpr std::uint32_t r(Reg x) { return static_cast<std::uint32_t>(x); }
constexpr std::uint32_t bit(std::uint32_t v, int hi, int lo) { return (v >> lo) & ((1u << (hi - lo + 1)) - 1); }
}  // namespace detail

// ---- formats --------------------------------------------------------------------------------
//          31       25 24   20 19  15 14  12 11        7 6      0
// R-type  | funct7    | rs2   | rs1  |funct3| rd         | opcode |
constexpr Inst r_type(std::uint32_t funct7, Reg rs2, Reg rs1, std::uint32_t funct3, Reg rd, std::uint32_t opcode) {
  using detail::r;
  return Inst{funct7 << 25 | r(rs2) << 20 | r(rs1) << 15 | funct3 << 12 | r(rd) << 7 | opcode};
}
// I-type  | imm[11:0]         | rs1  |funct3| rd         | opcode |
constexpr Inst i_type(std::int64_t imm, Reg rs1, std::uint32_t funct3, Reg rd, std::uint32_t opcode) {
  using detail::r;
  return Inst{detail::simm(imm, 12, "I-type immediate") << 20 | r(rs1) << 15 | funct3 << 12 | r(rd) << 7 | opcode};
}
// I-type shift (RV64): | funct6 | shamt[5:0] | rs1 | funct3 | rd | opcode |, funct6 in imm[11:6]
constexpr Inst shift_type(std::uint32_t funct6, std::int64_t shamt, Reg rs1, std::uint32_t funct3, Reg rd,
                          std::uint32_t opcode) {
  using detail::r;
  return Inst{funct6 << 26 | detail::uimm(shamt, 6, "shift amount") << 20 | r(rs1) << 15 | funct3 << 12 |
              r(rd) << 7 | opcode};
}
// S-type  | imm[11:5] | rs2   | rs1  |funct3| imm[4:0]   | opcode |
constexpr Inst s_type(std::int64_t imm, Reg rs2, Reg rs1, std::uint32_t funct3, std::uint32_t opcode) {
  using detail::bit, detail::r;
  std::uint32_t i = detail::simm(imm, 12, "S-type offset");
  return Inst{bit(i, 11, 5) << 25 | r(rs2) << 20 | r(rs1) << 15 | funct3 << 12 | bit(i, 4, 0) << 7 | opcode};
}
// B-type  |12|imm[10:5]| rs2   | rs1  |funct3|imm[4:1]|11| opcode |   offset ±4 KiB, even
constexpr Inst b_type(std::int64_t offset, Reg rs2, Reg rs1, std::uint32_t funct3, std::uint32_t opcode) {
  using detail::bit, detail::r;
  std::uint32_t i = detail::offset(offset, 13, "B-type offset");
  return Inst{bit(i, 12, 12) << 31 | bit(i, 10, 5) << 25 | r(rs2) << 20 | r(rs1) << 15 | funct3 << 12 |
              bit(i, 4, 1) << 8 | bit(i, 11, 11) << 7 | opcode};
}
// U-type  | imm[31:12]                         | rd         | opcode |   imm given as 20 bits
constexpr Inst u_type(std::int64_t imm20, Reg rd, std::uint32_t opcode) {
  return Inst{detail::uimm(imm20, 20, "U-type immediate") << 12 | detail::r(rd) << 7 | opcode};
}
// J-type  |20| imm[10:1]  |11| imm[19:12]      | rd         | opcode |   offset ±1 MiB, even
constexpr Inst j_type(std::int64_t offset, Reg rd, std::uint32_t opcode) {
  using detail::bit;
  std::uint32_t i = detail::offset(offset, 21, "J-type offset");
  return Inst{bit(i, 20, 20) << 31 | bit(i, 10, 1) << 21 | bit(i, 11, 11) << 20 | bit(i, 19, 12) << 12 |
              detail::r(rd) << 7 | opcode};
}

// Major opcodes (inst[6:0]).
namespace op {
inline constexpr std::uint32_t load = 0x03, misc_mem = 0x0F, op_imm = 0x13, auipc = 0x17, op_imm_32 = 0x1B,
                               store = 0x23, op = 0x33, lui = 0x37, branch = 0x63, jalr = 0x67, jal = 0x6F,
                               system = 0x73;
}

// ---- RV64I --------------------------------------------------------------------------------
constexpr Inst lui(Reg rd, std::int64_t imm20) { return u_type(imm20, rd, op::lui); }
constexpr Inst auipc(Reg rd, std::int64_t imm20) { return u_type(imm20, rd, op::auipc); }
constexpr Inst jal(Reg rd, std::int64_t offset) { return j_type(offset, rd, op::jal); }
constexpr Inst jalr(Reg rd, std::int64_t imm, Reg rs1) { return i_type(imm, rs1, 0, rd, op::jalr); }

constexpr Inst beq(Reg rs1, Reg rs2, std::int64_t offset) { return b_type(offset, rs2, rs1, 0, op::branch); }
constexpr Inst bne(Reg rs1, Reg rs2, std::int64_t offset) { return b_type(offset, rs2, rs1, 1, op::branch); }
constexpr Inst blt(Reg rs1, Reg rs2, std::int64_t offset) { return b_type(offset, rs2, rs1, 4, op::branch); }
constexpr Inst bge(Reg rs1, Reg rs2, std::int64_t offset) { return b_type(offset, rs2, rs1, 5, op::branch); }
constexpr Inst bltu(Reg rs1, Reg rs2, std::int64_t offset) { return b_type(offset, rs2, rs1, 6, op::branch); }
constexpr Inst bgeu(Reg rs1, Reg rs2, std::int64_t offset) { return b_type(offset, rs2, rs1, 7, op::branch); }

constexpr Inst lb(Reg rd, std::int64_t imm, Reg rs1) { return i_type(imm, rs1, 0, rd, op::load); }
constexpr Inst lh(Reg rd, std::int64_t imm, Reg rs1) { return i_type(imm, rs1, 1, rd, op::load); }
constexpr Inst lw(Reg rd, std::int64_t imm, Reg rs1) { return i_type(imm, rs1, 2, rd, op::load); }
constexpr Inst ld(Reg rd, std::int64_t imm, Reg rs1) { return i_type(imm, rs1, 3, rd, op::load); }
constexpr Inst lbu(Reg rd, std::int64_t imm, Reg rs1) { return i_type(imm, rs1, 4, rd, op::load); }
constexpr Inst lhu(Reg rd, std::int64_t imm, Reg rs1) { return i_type(imm, rs1, 5, rd, op::load); }
constexpr Inst lwu(Reg rd, std::int64_t imm, Reg rs1) { return i_type(imm, rs1, 6, rd, op::load); }

constexpr Inst sb(Reg rs2, std::int64_t imm, Reg rs1) { return s_type(imm, rs2, rs1, 0, op::store); }
constexpr Inst sh(Reg rs2, std::int64_t imm, Reg rs1) { return s_type(imm, rs2, rs1, 1, op::store); }
constexpr Inst sw(Reg rs2, std::int64_t imm, Reg rs1) { return s_type(imm, rs2, rs1, 2, op::store); }
constexpr Inst sd(Reg rs2, std::int64_t imm, Reg rs1) { return s_type(imm, rs2, rs1, 3, op::store); }

constexpr Inst addi(Reg rd, Reg rs1, std::int64_t imm) { return i_type(imm, rs1, 0, rd, op::op_imm); }
constexpr Inst slti(Reg rd, Reg rs1, std::int64_t imm) { return i_type(imm, rs1, 2, rd, op::op_imm); }
constexpr Inst sltiu(Reg rd, Reg rs1, std::int64_t imm) { return i_type(imm, rs1, 3, rd, op::op_imm); }
constexpr Inst xori(Reg rd, Reg rs1, std::int64_t imm) { return i_type(imm, rs1, 4, rd, op::op_imm); }
constexpr Inst ori(Reg rd, Reg rs1, std::int64_t imm) { return i_type(imm, rs1, 6, rd, op::op_imm); }
constexpr Inst andi(Reg rd, Reg rs1, std::int64_t imm) { return i_type(imm, rs1, 7, rd, op::op_imm); }
constexpr Inst slli(Reg rd, Reg rs1, std::int64_t shamt) { return shift_type(0x00, shamt, rs1, 1, rd, op::op_imm); }
constexpr Inst srli(Reg rd, Reg rs1, std::int64_t shamt) { return shift_type(0x00, shamt, rs1, 5, rd, op::op_imm); }
constexpr Inst srai(Reg rd, Reg rs1, std::int64_t shamt) { return shift_type(0x10, shamt, rs1, 5, rd, op::op_imm); }
// 32-bit add, result sign-extended: ends `li` of a 32-bit constant (see target.hpp).
constexpr Inst addiw(Reg rd, Reg rs1, std::int64_t imm) { return i_type(imm, rs1, 0, rd, op::op_imm_32); }

constexpr Inst add(Reg rd, Reg rs1, Reg rs2) { return r_type(0x00, rs2, rs1, 0, rd, op::op); }
constexpr Inst sub(Reg rd, Reg rs1, Reg rs2) { return r_type(0x20, rs2, rs1, 0, rd, op::op); }
constexpr Inst sll(Reg rd, Reg rs1, Reg rs2) { return r_type(0x00, rs2, rs1, 1, rd, op::op); }
constexpr Inst slt(Reg rd, Reg rs1, Reg rs2) { return r_type(0x00, rs2, rs1, 2, rd, op::op); }
constexpr Inst sltu(Reg rd, Reg rs1, Reg rs2) { return r_type(0x00, rs2, rs1, 3, rd, op::op); }
constexpr Inst xor_(Reg rd, Reg rs1, Reg rs2) { return r_type(0x00, rs2, rs1, 4, rd, op::op); }
constexpr Inst srl(Reg rd, Reg rs1, Reg rs2) { return r_type(0x00, rs2, rs1, 5, rd, op::op); }
constexpr Inst sra(Reg rd, Reg rs1, Reg rs2) { return r_type(0x20, rs2, rs1, 5, rd, op::op); }
constexpr Inst or_(Reg rd, Reg rs1, Reg rs2) { return r_type(0x00, rs2, rs1, 6, rd, op::op); }
constexpr Inst and_(Reg rd, Reg rs1, Reg rs2) { return r_type(0x00, rs2, rs1, 7, rd, op::op); }

// fence pred, succ: each a 4-bit set of i(8) o(4) r(2) w(1).
constexpr Inst fence(std::int64_t pred, std::int64_t succ) {
  std::int64_t imm = detail::uimm(pred, 4, "fence predecessor set") << 4 | detail::uimm(succ, 4, "fence successor set");
  return i_type(imm, Reg::zero, 0, Reg::zero, op::misc_mem);
}
constexpr Inst fence_i() { return i_type(0, Reg::zero, 1, Reg::zero, op::misc_mem); }  // Zifencei
constexpr Inst ecall() { return i_type(0, Reg::zero, 0, Reg::zero, op::system); }
constexpr Inst ebreak() { return i_type(1, Reg::zero, 0, Reg::zero, op::system); }

// ---- RV64M --------------------------------------------------------------------------------
constexpr Inst mul(Reg rd, Reg rs1, Reg rs2) { return r_type(0x01, rs2, rs1, 0, rd, op::op); }
constexpr Inst div(Reg rd, Reg rs1, Reg rs2) { return r_type(0x01, rs2, rs1, 4, rd, op::op); }
constexpr Inst divu(Reg rd, Reg rs1, Reg rs2) { return r_type(0x01, rs2, rs1, 5, rd, op::op); }
constexpr Inst rem(Reg rd, Reg rs1, Reg rs2) { return r_type(0x01, rs2, rs1, 6, rd, op::op); }
constexpr Inst remu(Reg rd, Reg rs1, Reg rs2) { return r_type(0x01, rs2, rs1, 7, rd, op::op); }

// ---- pseudo-instructions ------------------------------------------------------------------
constexpr Inst mv(Reg rd, Reg rs) { return addi(rd, rs, 0); }
constexpr Inst ret() { return jalr(Reg::zero, 0, Reg::ra); }

}  // namespace crumble::riscv64
