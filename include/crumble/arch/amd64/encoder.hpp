// SPDX-License-Identifier: Apache-2.0
// crumble/arch/amd64/encoder.hpp — AMD64 instruction encoder: one function per instruction form.
//
// Each function returns the encoded bytes of one instruction as an Inst (at most 15 bytes), so
// the encoder has no state and tests compare one call against one line of `llvm-mc`. Where the
// architecture offers several encodings of the same instruction, the encoder picks the shortest,
// the same one LLVM's assembler picks.
//
//   prefix  REX      opcode  ModRM            SIB              disp     imm
//           0100WRXB          mod|reg|rm       scale|index|base
//
// W selects 64-bit operand size; R, X, B extend ModRM.reg, SIB.index and ModRM.rm/SIB.base to
// reach r8-r15. Memory operands are [base + disp32]; rsp and r12 as base need a SIB byte, rbp
// and r13 as base need an explicit displacement (mod=00 with rm=101 means RIP-relative).
//
// Operands are taken as 64-bit values and checked against their field: a displacement or
// immediate that does not fit is never truncated. As on every architecture (crumble/error.hpp),
// in constant evaluation it is a compile error naming the mistake
// (crumble::diagnostic::value_does_not_fit_its_field), at run time it throws
// crumble::compile_error with that errc.
#pragma once

#include <array>
#include <cstdint>

#include "../../bytes.hpp"
#include "../../error.hpp"

namespace crumble::amd64 {

enum class Gp : std::uint8_t { rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15 };

// Condition codes, numbered as in the Jcc/SETcc opcodes (0x70 + cc, 0x0F 0x80 + cc).
enum class Cc : std::uint8_t { o, no, b, ae, e, ne, be, a, s, ns, p, np, l, ge, le, g };
constexpr Cc invert(Cc c) { return static_cast<Cc>(static_cast<std::uint8_t>(c) ^ 1); }

// The eight classic ALU operations, numbered as their /digit in opcodes 0x81/0x83.
enum class Alu : std::uint8_t { add = 0, or_ = 1, and_ = 4, sub = 5, xor_ = 6, cmp = 7 };
// Shifts, numbered as their /digit in opcodes 0xC1/0xD1/0xD3.
enum class Shift : std::uint8_t { shl = 4, shr = 5, sar = 7 };

struct Mem {
  Gp base;
  std::int64_t disp = 0;  // must fit 32 bits signed
};

struct Inst {
  // A plain array, not std::array: in constant evaluation each operator[] and data() would be
  // one more evaluated call per byte (Clang counts them as steps).
  std::uint8_t bytes[15]{};
  std::uint8_t size = 0;

  constexpr Inst& u8(std::uint32_t v) {
    bytes[size++] = static_cast<std::uint8_t>(v);
    return *this;
  }
  constexpr Inst& u32(std::uint32_t v) {
    le::store(bytes + size, v);
    size += 4;
    return *this;
  }
  constexpr Inst& u64(std::uint64_t v) {
    le::store(bytes + size, v);
    size += 8;
    return *this;
  }
  constexpr const std::uint8_t* begin() const { return bytes; }
  constexpr const std::uint8_t* end() const { return bytes + size; }
};

namespace detail {
constexpr std::uint8_t lo(Gp r) { return static_cast<std::uint8_t>(r) & 7; }
constexpr std::uint8_t hi(Gp r) { return static_cast<std::uint8_t>(r) >> 3; }
constexpr bool fits8(std::int64_t v) { return v >= -128 && v <= 127; }
constexpr bool fits32(std::int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }
constexpr bool fits_u32(std::int64_t v) { return v >= 0 && v <= UINT32_MAX; }

// `what` names the operand in the run-time message: "amd64 rel8 displacement 128".
constexpr void fail(errc code, const char* what, std::int64_t v) { crumble::detail::fail_operand(code, "amd64", what, v); }
constexpr std::int64_t check8(std::int64_t v, const char* what) {
  if (!fits8(v)) fail(errc::value_does_not_fit_its_field, what, v);
  return v;
}
constexpr std::int64_t check32(std::int64_t v, const char* what) {
  if (!fits32(v)) fail(errc::value_does_not_fit_its_field, what, v);
  return v;
}

// REX with W, R (from reg), B (from rm); emitted only when some bit is set or `force`
// (byte registers spl/bpl/sil/dil exist only with a REX prefix).
constexpr void rex(Inst& i, bool w, std::uint8_t reg, Gp rm, bool force = false) {
  std::uint8_t r = 0x40 | (w << 3) | ((reg >> 3) << 2) | hi(rm);
  if (r != 0x40 || force) i.u8(r);
}
// ModRM for a register operand: mod=11.
constexpr void modrm_reg(Inst& i, std::uint8_t reg, Gp rm) { i.u8(0xC0 | ((reg & 7) << 3) | lo(rm)); }
// ModRM (+SIB, +disp) for [base + disp].
constexpr void modrm_mem(Inst& i, std::uint8_t reg, Mem m) {
  check32(m.disp, "memory displacement");
  std::uint8_t mod = (m.disp == 0 && lo(m.base) != 5) ? 0 : fits8(m.disp) ? 1 : 2;
  i.u8((mod << 6) | ((reg & 7) << 3) | lo(m.base));
  if (lo(m.base) == 4) i.u8(0x24);  // SIB: no index, base = rsp/r12
  if (mod == 1) i.u8(static_cast<std::uint8_t>(m.disp));
  if (mod == 2) i.u32(static_cast<std::uint32_t>(m.disp));
}
// <rex.W> opcode /r with a register destination in rm: op rm, reg.
constexpr Inst rr(std::uint8_t opcode, Gp rm, Gp reg, bool w = true) {
  Inst i;
  rex(i, w, static_cast<std::uint8_t>(reg), rm);
  i.u8(opcode);
  modrm_reg(i, static_cast<std::uint8_t>(reg), rm);
  return i;
}
}  // namespace detail

using detail::fits32;
using detail::fits8;

// ---- moves --------------------------------------------------------------------------------
constexpr Inst mov(Gp dst, Gp src) { return detail::rr(0x89, dst, src); }  // movq %src, %dst
// xorl %dst32, %dst32 (zeroes all 64 bits)
constexpr Inst zero(Gp dst) { return detail::rr(0x31, dst, dst, false); }
// movl $imm32, %dst32: 0 <= imm < 2^32, zero-extended.
constexpr Inst mov_u32(Gp dst, std::int64_t imm) {
  if (!detail::fits_u32(imm)) detail::fail(errc::value_does_not_fit_its_field, "unsigned imm32", imm);
  Inst i;
  detail::rex(i, false, 0, dst);
  return i.u8(0xB8 + detail::lo(dst)).u32(static_cast<std::uint32_t>(imm));
}
// movq $imm32, %dst: sign-extended.
constexpr Inst mov_s32(Gp dst, std::int64_t imm) {
  detail::check32(imm, "imm32");
  Inst i;
  detail::rex(i, true, 0, dst);
  i.u8(0xC7);
  detail::modrm_reg(i, 0, dst);
  return i.u32(static_cast<std::uint32_t>(imm));
}
// movabsq $imm64, %dst: always 10 bytes, so a relocation can patch the immediate.
constexpr Inst movabs(Gp dst, std::uint64_t imm) {
  Inst i;
  detail::rex(i, true, 0, dst);
  return i.u8(0xB8 + detail::lo(dst)).u64(imm);
}
constexpr std::uint8_t movabs_imm_offset = 2;  // where the imm64 of movabs starts
// The shortest way to put a constant in a register.
constexpr Inst mov(Gp dst, std::int64_t imm) {
  if (imm == 0) return zero(dst);
  if (imm > 0 && imm <= UINT32_MAX) return mov_u32(dst, imm);
  if (fits32(imm)) return mov_s32(dst, imm);
  return movabs(dst, static_cast<std::uint64_t>(imm));
}
constexpr Inst xchg(Gp a, Gp b) {
  if (a == Gp::rax || b == Gp::rax) {  // 90+r short form
    Gp r = a == Gp::rax ? b : a;
    if (r == Gp::rax) return Inst{}.u8(0x90);  // xchg rax, rax is nop
    Inst i;
    detail::rex(i, true, 0, r);
    return i.u8(0x90 + detail::lo(r));
  }
  return detail::rr(0x87, a, b);
}
constexpr Inst lea(Gp dst, Mem m) {
  Inst i;
  detail::rex(i, true, static_cast<std::uint8_t>(dst), m.base);
  i.u8(0x8D);
  detail::modrm_mem(i, static_cast<std::uint8_t>(dst), m);
  return i;
}

// ---- loads and stores ---------------------------------------------------------------------
// Loads of 8/16/32 bits zero-extend (movzbl, movzwl, movl) or sign-extend (movsbq, movswq,
// movslq) into the full 64-bit register; 64 bits is movq. Any other width is refused.
namespace detail {
constexpr void check_width(int width) {
  if (width != 8 && width != 16 && width != 32 && width != 64) fail(errc::invalid_operand, "memory width", width);
}
}  // namespace detail
constexpr Inst load(Gp dst, Mem m, int width, bool sign) {
  detail::check_width(width);
  Inst i;
  auto reg = static_cast<std::uint8_t>(dst);
  switch (width) {
    case 8:
    case 16:
      detail::rex(i, sign, reg, m.base);
      i.u8(0x0F).u8((sign ? 0xBE : 0xB6) + (width == 16));
      break;
    case 32:
      detail::rex(i, sign, reg, m.base);
      i.u8(sign ? 0x63 : 0x8B);
      break;
    default:
      detail::rex(i, true, reg, m.base);
      i.u8(0x8B);
  }
  detail::modrm_mem(i, reg, m);
  return i;
}
// movb/movw/movl/movq %src, m — stores the low `width` bits.
constexpr Inst store(Mem m, Gp src, int width) {
  detail::check_width(width);
  Inst i;
  auto reg = static_cast<std::uint8_t>(src);
  if (width == 16) i.u8(0x66);
  detail::rex(i, width == 64, reg, m.base, width == 8 && reg >= 4 && reg < 8);
  i.u8(width == 8 ? 0x88 : 0x89);
  detail::modrm_mem(i, reg, m);
  return i;
}

// ---- arithmetic ---------------------------------------------------------------------------
// addq/orq/andq/subq/xorq/cmpq %src, %dst
constexpr Inst alu(Alu op, Gp dst, Gp src) {
  return detail::rr(static_cast<std::uint8_t>(static_cast<std::uint8_t>(op) << 3 | 1), dst, src);
}
// op $imm, %dst: imm8 form (0x83) when it fits, the short rax form, else imm32 (0x81).
constexpr Inst alu(Alu op, Gp dst, std::int64_t imm) {
  detail::check32(imm, "imm32");
  Inst i;
  detail::rex(i, true, 0, dst);
  if (fits8(imm)) {
    i.u8(0x83);
    detail::modrm_reg(i, static_cast<std::uint8_t>(op), dst);
    return i.u8(static_cast<std::uint8_t>(imm));
  }
  if (dst == Gp::rax) return i.u8(static_cast<std::uint8_t>(op) << 3 | 5).u32(static_cast<std::uint32_t>(imm));
  i.u8(0x81);
  detail::modrm_reg(i, static_cast<std::uint8_t>(op), dst);
  return i.u32(static_cast<std::uint32_t>(imm));
}
constexpr Inst test(Gp a, Gp b) { return detail::rr(0x85, a, b); }  // testq %b, %a
// imulq %src, %dst
constexpr Inst imul(Gp dst, Gp src) {
  Inst i;
  detail::rex(i, true, static_cast<std::uint8_t>(dst), src);
  i.u8(0x0F).u8(0xAF);
  detail::modrm_reg(i, static_cast<std::uint8_t>(dst), src);
  return i;
}
// imulq $imm, %src, %dst
constexpr Inst imul(Gp dst, Gp src, std::int64_t imm) {
  detail::check32(imm, "imm32");
  Inst i;
  detail::rex(i, true, static_cast<std::uint8_t>(dst), src);
  i.u8(fits8(imm) ? 0x6B : 0x69);
  detail::modrm_reg(i, static_cast<std::uint8_t>(dst), src);
  return fits8(imm) ? i.u8(static_cast<std::uint8_t>(imm)) : i.u32(static_cast<std::uint32_t>(imm));
}
namespace detail {
constexpr Inst group3(std::uint8_t digit, Gp r) {  // REX.W F7 /digit
  Inst i;
  rex(i, true, 0, r);
  i.u8(0xF7);
  modrm_reg(i, digit, r);
  return i;
}
}  // namespace detail
constexpr Inst not_(Gp r) { return detail::group3(2, r); }
constexpr Inst neg(Gp r) { return detail::group3(3, r); }
constexpr Inst div(Gp r) { return detail::group3(6, r); }   // rdx:rax / r, unsigned
constexpr Inst idiv(Gp r) { return detail::group3(7, r); }  // rdx:rax / r, signed
constexpr Inst cqo() { return Inst{}.u8(0x48).u8(0x99); }   // sign-extend rax into rdx
// shl/shr/sar $count, %r: 0 <= count <= 63 (the hardware would mask it; the encoder refuses)
constexpr Inst shift(Shift op, Gp r, std::int64_t count) {
  if (count < 0 || count > 63) detail::fail(errc::value_does_not_fit_its_field, "shift count", count);
  Inst i;
  detail::rex(i, true, 0, r);
  i.u8(count == 1 ? 0xD1 : 0xC1);
  detail::modrm_reg(i, static_cast<std::uint8_t>(op), r);
  return count == 1 ? i : i.u8(count);
}
constexpr Inst shift_cl(Shift op, Gp r) {  // shl/shr/sar %cl, %r
  Inst i;
  detail::rex(i, true, 0, r);
  i.u8(0xD3);
  detail::modrm_reg(i, static_cast<std::uint8_t>(op), r);
  return i;
}

// ---- control flow -------------------------------------------------------------------------
// Displacements are relative to the end of the instruction: rel8 -128..127, rel32 ±2 GiB.
constexpr Inst jmp_rel8(std::int64_t d) {
  return Inst{}.u8(0xEB).u8(static_cast<std::uint8_t>(detail::check8(d, "rel8 displacement")));
}
constexpr Inst jmp_rel32(std::int64_t d) {
  return Inst{}.u8(0xE9).u32(static_cast<std::uint32_t>(detail::check32(d, "rel32 displacement")));
}
constexpr Inst jcc_rel8(Cc c, std::int64_t d) {
  return Inst{}.u8(0x70 + static_cast<std::uint8_t>(c)).u8(static_cast<std::uint8_t>(detail::check8(d, "rel8 displacement")));
}
constexpr Inst jcc_rel32(Cc c, std::int64_t d) {
  return Inst{}.u8(0x0F).u8(0x80 + static_cast<std::uint8_t>(c)).u32(static_cast<std::uint32_t>(detail::check32(d, "rel32 displacement")));
}
constexpr Inst call_rel32(std::int64_t d) {
  return Inst{}.u8(0xE8).u32(static_cast<std::uint32_t>(detail::check32(d, "rel32 displacement")));
}
constexpr Inst call(Gp r) {  // callq *%r
  Inst i;
  detail::rex(i, false, 0, r);
  i.u8(0xFF);
  detail::modrm_reg(i, 2, r);
  return i;
}
constexpr Inst ret() { return Inst{}.u8(0xC3); }
constexpr Inst syscall() { return Inst{}.u8(0x0F).u8(0x05); }
constexpr Inst ud2() { return Inst{}.u8(0x0F).u8(0x0B); }
constexpr Inst push(Gp r) {
  Inst i;
  detail::rex(i, false, 0, r);
  return i.u8(0x50 + detail::lo(r));
}
constexpr Inst pop(Gp r) {
  Inst i;
  detail::rex(i, false, 0, r);
  return i.u8(0x58 + detail::lo(r));
}

}  // namespace crumble::amd64
