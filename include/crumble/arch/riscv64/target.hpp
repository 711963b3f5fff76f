// SPDX-License-Identifier: Apache-2.0
// crumble/arch/riscv64/target.hpp — the RISC-V RV64IM target policy for the lowering (lower.hpp):
// a TargetPolicy (arch/target_policy.hpp).
//
// Registers (LP64 calling convention):
//   homes  s1..s11        callee-saved: variables live here
//   temps  t0..t4         caller-saved, never arguments: expression temporaries
//   args   a0..a7         calls; a0..a5 syscalls, a7 the syscall number, a0 the result
//   t5                    scratch and indirect-call target: only holds a value between the
//                         lowering's moves and the call or store that consumes it
//   t6                    instruction selection's own: constants that do not fit an
//                         immediate, far addresses, swap, the relaxed far branch
// There is no frame pointer: the frame is addressed from sp, which stays 16-byte aligned.
//
// Branches and calls are relaxable items (code::Buffer), displacement measured from the item:
//   jump     jal zero, d                       -> auipc t6, hi; jalr zero, lo(t6)
//   call     jal ra, d                         -> auipc ra, hi; jalr ra, lo(ra)
//   branch   b<cc> rs1, rs2, d                 -> b<!cc> rs1, rs2, +8;  jal zero, d
//                                              -> b<!cc> rs1, rs2, +12; auipc t6, hi; jalr zero, lo(t6)
// A conditional branch item carries its funct3 and both registers in the item's operand
// (funct3 | rs1 << 3 | rs2 << 8), so it encodes itself whole in any of its three forms.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <string_view>
#include <vector>

#include "../../code/buffer.hpp"
#include "../../ir/nodes.hpp"
#include "../target_policy.hpp"
#include "../linux_generic.hpp"
#include "encoder.hpp"

namespace crumble::arch {

struct riscv64 {
  using Reg = crumble::riscv64::Reg;
  using Buf = code::Buffer<riscv64>;

  static constexpr std::string_view name = "riscv64";
  static constexpr std::uint16_t elf_machine = 243;  // EM_RISCV; e_flags 0: no RVC, soft-float ABI
  static constexpr std::uint8_t code_padding = 0;

  static constexpr std::array homes{Reg::s1, Reg::s2, Reg::s3, Reg::s4, Reg::s5, Reg::s6,
                                    Reg::s7, Reg::s8, Reg::s9, Reg::s10, Reg::s11};
  static constexpr std::array temps{Reg::t0, Reg::t1, Reg::t2, Reg::t3, Reg::t4};
  static constexpr std::array call_args{Reg::a0, Reg::a1, Reg::a2, Reg::a3, Reg::a4, Reg::a5, Reg::a6, Reg::a7};
  static constexpr std::array syscall_args{Reg::a0, Reg::a1, Reg::a2, Reg::a3, Reg::a4, Reg::a5};
  static constexpr Reg ret = Reg::a0, sp = Reg::sp, scratch = Reg::t5, call_target = Reg::t5;
  static constexpr Reg isel = Reg::t6;  // instruction selection's scratch (see above)

  static constexpr int syscall_number(ir::Sys s) { return linux_generic_syscall_number(s); }

  // ---- relaxable items: jump, call, conditional branch ----------------------------------------
  enum : std::uint8_t { jump_item, call_item, branch_item };

  static constexpr bool fits_jal(std::int64_t d) { return d >= -(1 << 20) && d <= (1 << 20) - 2; }
  static constexpr bool fits_b(std::int64_t d) { return d >= -(1 << 12) && d <= (1 << 12) - 2; }

  static constexpr std::uint32_t item_size(std::uint8_t kind, std::uint8_t form) {
    if (kind == branch_item) return 4 * (form + 1);
    return form == 0 ? 4 : 8;
  }
  // disp is measured from the start of the item. The last form reaches ±2 GiB, all a buffer holds.
  static constexpr bool item_fits(std::uint8_t kind, std::uint8_t form, std::int64_t disp) {
    if (kind == branch_item) return form == 0 ? fits_b(disp) : form == 1 ? fits_jal(disp - 4) : true;
    return form == 0 ? fits_jal(disp) : true;
  }
  template <class Out>  // std::vector<std::uint8_t> or code::ByteVector
  static constexpr void encode_item(Out& out, std::uint8_t kind, std::uint32_t operand,
                                    std::uint8_t form, std::int64_t disp) {
    namespace r = crumble::riscv64;
    auto put = [&](r::Inst i) { out.insert(out.end(), i.begin(), i.end()); };
    auto far = [&](Reg link, Reg via) {  // auipc via, hi; jalr link, lo(via)
      std::int64_t hi = (disp + 0x800) >> 12;
      if (!r::detail::fits_signed(hi, 20)) r::detail::fail(errc::value_does_not_fit_its_field, "far jump displacement", disp);
      put(r::auipc(via, hi & 0xfffff));
      put(r::jalr(link, disp - hi * 4096, via));
    };
    if (kind == branch_item) {  // the branch, or its inverse skipping over a near or far jump
      std::uint32_t funct3 = operand & 7;
      auto rs1 = static_cast<Reg>((operand >> 3) & 31), rs2 = static_cast<Reg>((operand >> 8) & 31);
      if (form == 0) return put(r::b_type(disp, rs2, rs1, funct3, r::op::branch));
      put(r::b_type(4 + 4 * form, rs2, rs1, funct3 ^ 1, r::op::branch));
      disp -= 4;
      if (form == 1) put(r::jal(Reg::zero, disp));
      else far(Reg::zero, isel);
      return;
    }
    Reg link = kind == call_item ? Reg::ra : Reg::zero;
    if (form == 0) put(r::jal(link, disp));
    else far(link, kind == call_item ? Reg::ra : isel);
  }

  // ---- constants ----------------------------------------------------------------------------
  static constexpr std::int64_t sext(std::uint64_t v, int bits) {
    std::uint64_t m = std::uint64_t{1} << (bits - 1);
    v &= bits == 64 ? ~std::uint64_t{0} : (m << 1) - 1;
    return static_cast<std::int64_t>((v ^ m) - m);
  }
  // li rd, v. A 32-bit value is lui + addiw: the low 12 bits are added sign-extended, so the
  // upper part is rounded (v + 0x800) >> 12; addiw rather than addi because lui sign-extends
  // bit 31 (0x7ffff800 is lui 0x80000 = -2^31, then addiw -2048 wraps to +0x7ffff800). A wider
  // value is built from its upper bits (recursively), shifted left past its trailing zeros, plus
  // the sign-extended low 12 bits: at most 8 instructions, any 64-bit value exact.
  static constexpr void mov_imm(Buf& b, Reg d, std::int64_t v) {
    namespace r = crumble::riscv64;
    if (v >= INT32_MIN && v <= INT32_MAX) {
      std::int64_t hi = ((v + 0x800) >> 12) & 0xfffff, lo = sext(static_cast<std::uint64_t>(v), 12);
      if (hi) {
        b.put(r::lui(d, hi));
        if (lo) b.put(r::addiw(d, d, lo));
      } else {
        b.put(r::addi(d, Reg::zero, lo));
      }
      return;
    }
    std::int64_t lo = sext(static_cast<std::uint64_t>(v), 12);
    std::uint64_t hi52 = (static_cast<std::uint64_t>(v) + 0x800) >> 12;  // not zero: v is not 32-bit
    int shift = 12 + std::countr_zero(hi52);
    mov_imm(b, d, sext(hi52 >> (shift - 12), 64 - shift));
    b.put(r::slli(d, d, shift));
    if (lo) b.put(r::addi(d, d, lo));
  }

  // ---- frame --------------------------------------------------------------------------------
  // [sp, sp+locals) locals and slots, then the saved homes, ra at the top.
  static constexpr std::int32_t frame_size(std::int32_t locals, std::uint32_t saved) {
    return (locals + 8 * (1 + std::popcount(saved)) + 15) / 16 * 16;
  }
  // The ninth argument is at [sp] on entry; the frame (ra and the homes included) is one `addi sp`.
  static constexpr std::int32_t incoming_args(std::int32_t frame, std::uint32_t) { return frame; }
  static constexpr void add_sp(Buf& b, std::int64_t v) {
    namespace r = crumble::riscv64;
    if (r::detail::fits_signed(v, 12)) {
      b.put(r::addi(Reg::sp, Reg::sp, v));
    } else {
      mov_imm(b, isel, v);
      b.put(r::add(Reg::sp, Reg::sp, isel));
    }
  }
  static constexpr void prologue(Buf& b, std::uint32_t saved, std::int32_t frame) {
    add_sp(b, -frame);
    store(b, Reg::sp, frame - 8, Reg::ra, 64);
    std::int32_t at = frame - 16;
    for (std::size_t i = 0; i < homes.size(); ++i)
      if (saved & (1u << i)) store(b, Reg::sp, at, homes[i], 64), at -= 8;
  }
  static constexpr void epilogue(Buf& b, std::uint32_t saved, std::int32_t frame) {
    load(b, Reg::ra, Reg::sp, frame - 8, 64, false);
    std::int32_t at = frame - 16;
    for (std::size_t i = 0; i < homes.size(); ++i)
      if (saved & (1u << i)) load(b, homes[i], Reg::sp, at, 64, false), at -= 8;
    add_sp(b, frame);
    b.put(crumble::riscv64::ret());
  }

  // ---- moves, memory ------------------------------------------------------------------------
  static constexpr void mov(Buf& b, Reg d, Reg s) {
    if (d != s) b.put(crumble::riscv64::mv(d, s));
  }
  static constexpr void swap(Buf& b, Reg x, Reg y) {
    mov(b, isel, x);
    mov(b, x, y);
    mov(b, y, isel);
  }
  struct Mem {
    Reg base;
    std::int64_t disp;
  };
  // base + disp as a 12-bit offset from some register: base itself, or t6 = base + upper part.
  static constexpr Mem mem(Buf& b, Reg base, std::int64_t disp) {
    namespace r = crumble::riscv64;
    if (r::detail::fits_signed(disp, 12)) return {base, disp};
    std::int64_t lo = sext(static_cast<std::uint64_t>(disp), 12), hi = disp - lo;
    if (hi >= INT32_MIN && hi <= INT32_MAX) {
      b.put(r::lui(isel, (hi >> 12) & 0xfffff));
    } else {
      mov_imm(b, isel, hi);
    }
    b.put(r::add(isel, isel, base));
    return {isel, lo};
  }
  static constexpr void load(Buf& b, Reg d, Reg base, std::int64_t disp, int width, bool sign) {
    namespace r = crumble::riscv64;
    Mem m = mem(b, base, disp);
    switch (width) {
      case 8: b.put(sign ? r::lb(d, m.disp, m.base) : r::lbu(d, m.disp, m.base)); break;
      case 16: b.put(sign ? r::lh(d, m.disp, m.base) : r::lhu(d, m.disp, m.base)); break;
      case 32: b.put(sign ? r::lw(d, m.disp, m.base) : r::lwu(d, m.disp, m.base)); break;
      default: b.put(r::ld(d, m.disp, m.base));
    }
  }
  static constexpr void store(Buf& b, Reg base, std::int64_t disp, Reg v, int width) {
    namespace r = crumble::riscv64;
    Mem m = mem(b, base, disp);
    switch (width) {
      case 8: b.put(r::sb(v, m.disp, m.base)); break;
      case 16: b.put(r::sh(v, m.disp, m.base)); break;
      case 32: b.put(r::sw(v, m.disp, m.base)); break;
      default: b.put(r::sd(v, m.disp, m.base));
    }
  }
  static constexpr void stack_address(Buf& b, Reg d, std::int32_t off) {
    namespace r = crumble::riscv64;
    if (r::detail::fits_signed(off, 12)) {
      b.put(r::addi(d, Reg::sp, off));
    } else {
      mov_imm(b, d, off);
      b.put(r::add(d, d, Reg::sp));
    }
  }
  // The address is a 64-bit field in the code, jumped over by the instruction that finds it:
  //   jal t6, 12      t6 = address of the field (the "return address"), skip it
  //   .quad target    relocation
  //   ld d, 0(t6)
  // The field is 4-byte aligned only (its address mod 8 is known after layout); Linux promises
  // user space misaligned scalar loads work (Documentation/arch/riscv/uabi.rst), at worst slowly.
  static constexpr void address_of(Buf& b, Reg d, code::Section s, std::uint32_t target) {
    namespace r = crumble::riscv64;
    b.put(r::jal(isel, 12));
    b.put(std::array<std::uint8_t, 8>{});
    b.reloc(8, s, target);
    b.put(r::ld(d, 0, isel));
  }

  // ---- arithmetic ---------------------------------------------------------------------------
  template <class Operand>
  static constexpr Reg reg_of(Buf& b, const Operand& o) {
    if (!o.is_imm) return o.reg;
    if (o.imm == 0) return Reg::zero;
    mov_imm(b, isel, o.imm);
    return isel;
  }
  template <class Operand>
  static constexpr void binop(Buf& b, ir::OpKind k, Reg d, Reg a, const Operand& o) {
    namespace r = crumble::riscv64;
    using ir::OpKind;
    const bool imm12 = o.is_imm && r::detail::fits_signed(o.imm, 12);
    switch (k) {
      case OpKind::Add:
        if (imm12) return b.put(r::addi(d, a, o.imm));
        return b.put(r::add(d, a, reg_of(b, o)));
      case OpKind::Sub:
        if (o.is_imm && o.imm > -2048 && o.imm <= 2048) return b.put(r::addi(d, a, -o.imm));
        return b.put(r::sub(d, a, reg_of(b, o)));
      case OpKind::And:
        if (imm12) return b.put(r::andi(d, a, o.imm));
        return b.put(r::and_(d, a, reg_of(b, o)));
      case OpKind::Or:
        if (imm12) return b.put(r::ori(d, a, o.imm));
        return b.put(r::or_(d, a, reg_of(b, o)));
      case OpKind::Xor:
        if (imm12) return b.put(r::xori(d, a, o.imm));
        return b.put(r::xor_(d, a, reg_of(b, o)));
      case OpKind::Mul: return b.put(r::mul(d, a, reg_of(b, o)));
      case OpKind::Div: return b.put(r::div(d, a, reg_of(b, o)));
      case OpKind::UDiv: return b.put(r::divu(d, a, reg_of(b, o)));
      case OpKind::Rem: return b.put(r::rem(d, a, reg_of(b, o)));
      case OpKind::URem: return b.put(r::remu(d, a, reg_of(b, o)));
      // The hardware takes register shift counts modulo 64, as the IR defines them.
      case OpKind::Shl:
        if (o.is_imm) return b.put(r::slli(d, a, o.imm & 63));
        return b.put(r::sll(d, a, o.reg));
      case OpKind::Shr:
        if (o.is_imm) return b.put(r::srli(d, a, o.imm & 63));
        return b.put(r::srl(d, a, o.reg));
      case OpKind::Sar:
        if (o.is_imm) return b.put(r::srai(d, a, o.imm & 63));
        return b.put(r::sra(d, a, o.reg));
    }
  }

  // ---- control flow -------------------------------------------------------------------------
  // Jump to l when a <c> o. B-type has eq ne lt ge ltu geu; gt and le swap the operands.
  template <class Operand>
  static constexpr void branch(Buf& b, ir::Cmp c, Reg a, const Operand& o, code::Label l) {
    namespace r = crumble::riscv64;
    using ir::Cmp;
    Reg x = a, y = reg_of(b, o);
    if (c == Cmp::Gt || c == Cmp::Le || c == Cmp::UGt || c == Cmp::ULe) std::swap(x, y);
    std::uint32_t funct3 = 0;  // beq bne - - blt bge bltu bgeu
    switch (c) {
      case Cmp::Eq: funct3 = 0; break;
      case Cmp::Ne: funct3 = 1; break;
      case Cmp::Lt: case Cmp::Gt: funct3 = 4; break;
      case Cmp::Ge: case Cmp::Le: funct3 = 5; break;
      case Cmp::ULt: case Cmp::UGt: funct3 = 6; break;
      case Cmp::UGe: case Cmp::ULe: funct3 = 7; break;
    }
    b.item(branch_item, funct3 | static_cast<std::uint32_t>(x) << 3 | static_cast<std::uint32_t>(y) << 8, l);
  }
  static constexpr void jump(Buf& b, code::Label l) { b.item(jump_item, 0, l); }
  static constexpr void call(Buf& b, code::Label l) { b.item(call_item, 0, l); }
  static constexpr void call_indirect(Buf& b) { b.put(crumble::riscv64::jalr(Reg::ra, 0, call_target)); }
  static constexpr void syscall(Buf& b, int nr) {
    mov_imm(b, Reg::a7, nr);
    b.put(crumble::riscv64::ecall());
  }
  // fence.i orders this hart's instruction fetch after its earlier stores. That is all a
  // single-threaded program needs (and all qemu-user needs). Code run by other harts, or by
  // this thread after the kernel migrates it, needs riscv_flush_icache (syscall 259) instead,
  // which clobbers a0-a2 and a7 and costs a kernel entry per flush: not done here.
  static constexpr void cache_flush(Buf& b, Reg, Reg) { b.put(crumble::riscv64::fence_i()); }
  static constexpr void instruction_barrier(Buf& b) { b.put(crumble::riscv64::fence_i()); }

  // ELF entry: main(argc, argv, envp), then exit_group(result). At entry sp is 16-byte aligned
  // and points at argc, followed by argv[0..argc], NULL, envp.
  static constexpr void start_stub(Buf& b, code::Label main) {
    namespace r = crumble::riscv64;
    b.put(r::ld(Reg::a0, 0, Reg::sp));
    b.put(r::addi(Reg::a1, Reg::sp, 8));
    b.put(r::slli(Reg::a2, Reg::a0, 3));
    b.put(r::add(Reg::a2, Reg::a2, Reg::a1));
    b.put(r::addi(Reg::a2, Reg::a2, 8));
    call(b, main);
    syscall(b, syscall_number(ir::Sys::exit_group));
    b.put(r::ebreak());
  }
};
static_assert(TargetPolicy<riscv64>);

}  // namespace crumble::arch
