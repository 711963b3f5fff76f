// SPDX-License-Identifier: Apache-2.0
// crumble/arch/arm64/target.hpp — the AArch64 target policy for the lowering (lower.hpp):
// a TargetPolicy (arch/target_policy.hpp).
//
// Registers (AAPCS64):
//   homes  x19..x28     callee-saved: variables live here
//   temps  x9..x15      caller-saved, not arguments: expression temporaries
//   x0..x7              call arguments (x0..x5 for syscalls), x0 the result
//   x16 (ip0)           T::scratch: immediates the instruction selection needs, swap
//   x17 (ip1)           the indirect-call target; address scratch for far loads/stores
//   x8                  the syscall number, and cache_flush's third register
//   x29, x30            frame record (fp, lr), saved by every prologue; x18 is left alone
// x8, x16 and x17 never hold a value between virtual instructions, and the far-branch forms
// below (which clobber x16/x17) are only emitted where nothing lives in them.
//
// Frame: stp x29, x30, [sp, #-16]!; mov x29, sp; the used homes pushed in pairs; then sub sp for
// the locals, which lower.hpp addresses as [sp + offset]. sp stays 16-byte aligned throughout.
//
// Branches are code::Buffer items whose form grows when the target is out of reach:
//   jump_item/call_item            form 0: b/bl (±128 MiB)   form 1: far (x17 = pc + disp; br/blr x17)
//   branch_item/cbz_item/cbnz_item form 0: b.cc/cbz (±1 MiB) form 1: inverted test over a b
//                                  form 2: inverted test over a far jump
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

struct arm64 {
  using Reg = crumble::arm64::Gp;
  using Gp = crumble::arm64::Gp;
  using Buf = code::Buffer<arm64>;

  static constexpr std::string_view name = "arm64";
  static constexpr std::uint16_t elf_machine = 183;  // EM_AARCH64
  static constexpr std::uint8_t code_padding = 0;

  static constexpr std::array homes{Gp::x19, Gp::x20, Gp::x21, Gp::x22, Gp::x23,
                                    Gp::x24, Gp::x25, Gp::x26, Gp::x27, Gp::x28};
  static constexpr std::array temps{Gp::x9, Gp::x10, Gp::x11, Gp::x12, Gp::x13, Gp::x14, Gp::x15};
  static constexpr std::array call_args{Gp::x0, Gp::x1, Gp::x2, Gp::x3, Gp::x4, Gp::x5, Gp::x6, Gp::x7};
  static constexpr std::array syscall_args{Gp::x0, Gp::x1, Gp::x2, Gp::x3, Gp::x4, Gp::x5};
  static constexpr Gp ret = Gp::x0, sp = Gp::sp, scratch = Gp::x16, call_target = Gp::x17;
  static constexpr Gp ip1 = Gp::x17;  // second scratch (see above)

  static constexpr int syscall_number(ir::Sys s) { return linux_generic_syscall_number(s); }

  // ---- relaxable items ----------------------------------------------------------------------
  // jump_item/call_item: cond unused. branch_item (b.cond): cond is the Cond. cbz_item/cbnz_item:
  // cond is the register number.
  enum : std::uint8_t { jump_item, call_item, branch_item, cbz_item, cbnz_item };
  static constexpr std::uint32_t far_size = 20;
  static constexpr std::uint32_t item_size(std::uint8_t kind, std::uint8_t form) {
    if (kind == jump_item || kind == call_item) return form == 0 ? 4 : far_size;
    return form == 0 ? 4 : form == 1 ? 8 : 4 + far_size;
  }
  static constexpr bool in_range(std::int64_t disp, int bits) {  // a signed word offset of `bits` bits
    return disp % 4 == 0 && disp >= -(std::int64_t{1} << (bits + 1)) && disp < (std::int64_t{1} << (bits + 1));
  }
  // disp is measured from the start of the item, as the CPU measures from the instruction.
  static constexpr bool item_fits(std::uint8_t kind, std::uint8_t form, std::int64_t disp) {
    // The far forms reach ±2 GiB, all the code code::Buffer accepts (it rejects more after layout).
    if (kind == jump_item || kind == call_item) return form == 0 ? in_range(disp, 26) : true;
    if (form == 0) return in_range(disp, 19);
    return form == 1 ? in_range(disp - 4, 26) : true;
  }
  template <class Out>
  static constexpr void put(Out& out, crumble::arm64::Inst i) {
    out.insert(out.end(), i.begin(), i.end());
  }
  // Far: x17 = pc + disp; the code is under 2 GiB (code::Buffer), so disp fits 32 bits signed:
  //   adr x17, #0; movz/movn x16, #lo; movk x16, #hi, lsl #16; add x17, x17, x16; br/blr x17
  template <class Out>
  static constexpr void far(Out& out, bool link, std::int64_t disp) {
    namespace a = crumble::arm64;
    const auto lo = static_cast<std::uint32_t>(disp & 0xffff);
    const auto hi = static_cast<std::uint32_t>((disp >> 16) & 0xffff);
    put(out, a::adr(Gp::x17, 0));
    put(out, disp < 0 ? a::movn(Gp::x16, ~lo & 0xffff) : a::movz(Gp::x16, lo));
    put(out, a::movk(Gp::x16, hi, 1));
    put(out, a::add(Gp::x17, Gp::x17, Gp::x16));
    put(out, link ? a::blr(Gp::x17) : a::br(Gp::x17));
  }
  template <class Out>  // std::vector<std::uint8_t> or code::ByteVector
  static constexpr void encode_item(Out& out, std::uint8_t kind, std::uint32_t cond,
                                    std::uint8_t form, std::int64_t disp) {
    namespace a = crumble::arm64;
    if (kind == jump_item || kind == call_item) {
      if (form == 0) put(out, kind == call_item ? a::bl(disp) : a::b(disp));
      else far(out, kind == call_item, disp);
      return;
    }
    const auto c = static_cast<a::Cond>(cond);
    const auto r = static_cast<Gp>(cond);
    if (form == 0) {
      put(out, kind == branch_item ? a::b(c, disp) : kind == cbz_item ? a::cbz(r, disp) : a::cbnz(r, disp));
      return;
    }
    // The inverted test skips the long branch that follows it.
    const std::int64_t skip = static_cast<std::int64_t>(item_size(kind, form));
    put(out, kind == branch_item ? a::b(a::invert(c), skip) : kind == cbz_item ? a::cbnz(r, skip) : a::cbz(r, skip));
    if (form == 1) put(out, a::b(disp - 4));
    else far(out, false, disp - 4);
  }

  // ---- frame --------------------------------------------------------------------------------
  static constexpr std::int32_t frame_size(std::int32_t locals, std::uint32_t) { return (locals + 15) / 16 * 16; }
  // The used homes in pairs; an odd one out is paired with xzr (stored, never reloaded).
  static constexpr std::array<Gp, homes.size() + 1> saved_list(std::uint32_t saved, std::size_t& n) {
    std::array<Gp, homes.size() + 1> list{};
    n = 0;
    for (std::size_t i = 0; i < homes.size(); ++i)
      if (saved & (1u << i)) list[n++] = homes[i];
    if (n % 2) list[n++] = Gp::xzr;
    return list;
  }
  // The ninth argument is at [sp] on entry: above it the prologue pushes the frame record and
  // the homes in pairs (16 bytes each), then takes the frame.
  static constexpr std::int32_t incoming_args(std::int32_t frame, std::uint32_t saved) {
    return frame + 16 * ((std::popcount(saved) + 1) / 2) + 16;
  }
  static constexpr void prologue(Buf& b, std::uint32_t saved, std::int32_t frame) {
    namespace a = crumble::arm64;
    b.put(a::stp_pre(Gp::x29, Gp::x30, Gp::sp, -16));
    b.put(a::mov_sp(Gp::x29, Gp::sp));
    std::size_t n = 0;
    auto list = saved_list(saved, n);
    for (std::size_t i = 0; i < n; i += 2) b.put(a::stp_pre(list[i], list[i + 1], Gp::sp, -16));
    add_imm(b, Gp::sp, Gp::sp, -std::int64_t{frame});
  }
  static constexpr void epilogue(Buf& b, std::uint32_t saved, std::int32_t frame) {
    namespace a = crumble::arm64;
    add_imm(b, Gp::sp, Gp::sp, frame);
    std::size_t n = 0;
    auto list = saved_list(saved, n);
    for (std::size_t i = n; i > 0; i -= 2) b.put(a::ldp_post(list[i - 2], list[i - 1], Gp::sp, 16));
    b.put(a::ldp_post(Gp::x29, Gp::x30, Gp::sp, 16));
    b.put(a::ret());
  }

  // ---- moves --------------------------------------------------------------------------------
  static constexpr void mov(Buf& b, Gp d, Gp s) {
    if (d == s) return;
    b.put(d == Gp::sp || s == Gp::sp ? crumble::arm64::mov_sp(d, s) : crumble::arm64::mov(d, s));
  }

  // The shortest sequence that puts v in d (at most 4 instructions), as a small array.
  struct Seq {
    std::array<crumble::arm64::Inst, 4> inst{crumble::arm64::Inst{0}, crumble::arm64::Inst{0},
                                             crumble::arm64::Inst{0}, crumble::arm64::Inst{0}};
    int size = 0;
    constexpr void add(crumble::arm64::Inst i) { inst[size++] = i; }
  };
  static constexpr std::uint32_t half(std::uint64_t v, int i) { return static_cast<std::uint32_t>(v >> (16 * i)) & 0xffff; }
  static constexpr int differing_halves(std::uint64_t a, std::uint64_t b) {
    int n = 0;
    for (int i = 0; i < 4; ++i) n += half(a, i) != half(b, i);
    return n;
  }
  // Candidates for the first instruction: movz or movn of one halfword, movn of a w register,
  // orr of a bitmask immediate (64- or 32-bit); movk then patches each halfword that still
  // differs. The cheapest wins; ties keep the earlier candidate.
  static constexpr Seq mov_imm_sequence(Gp d, std::uint64_t v) {
    namespace a = crumble::arm64;
    enum Start { movz, movn, movn_w, orr, orr_w };
    const std::uint64_t low = v & 0xffffffff;
    auto lowest_not = [&](std::uint32_t skip) {  // first halfword of v that is not `skip` (0 if none)
      int i = 0;
      while (i < 4 && half(v, i) == skip) ++i;
      return i == 4 ? 0 : i;
    };
    Start best = movz;
    std::uint64_t base = std::uint64_t{half(v, lowest_not(0))} << (16 * lowest_not(0));
    int cost = 1 + differing_halves(v, base);
    auto consider = [&](Start s, std::uint64_t c, bool encodable) {
      if (encodable && 1 + differing_halves(v, c) < cost) best = s, base = c, cost = 1 + differing_halves(v, c);
    };
    const int m = lowest_not(0xffff);
    if (cost > 1) {  // one movz cannot be beaten (most constants): no search, which costs in constexpr
      consider(movn, ~(std::uint64_t{~half(v, m) & 0xffff} << (16 * m)), true);
      for (int i = 0; i < 2; ++i)  // 0x00000000_ffff_xxxx, 0x00000000_xxxx_ffff
        consider(movn_w, (0xffffffff & ~(std::uint64_t{0xffff} << (16 * i))) | std::uint64_t{half(v, i)} << (16 * i), true);
      auto bitmask_candidate = [&](std::uint64_t c) { consider(orr, c, cost > 1 && a::is_bitmask_immediate(c)); };
      bitmask_candidate(v);
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 6; ++j) {  // halfword i replaced by 0, 0xffff or another halfword
          const std::uint64_t fill = j == 4 ? 0 : j == 5 ? 0xffff : half(v, j);
          bitmask_candidate((v & ~(std::uint64_t{0xffff} << (16 * i))) | fill << (16 * i));
        }
      bitmask_candidate(low << 32 | low);
      bitmask_candidate((v >> 32) << 32 | v >> 32);
      consider(orr_w, low, cost > 1 && a::bitmask32(static_cast<std::uint32_t>(low)).has_value());
    }

    Seq s;
    switch (best) {
      case movz: s.add(a::movz(d, half(base, lowest_not(0)), lowest_not(0))); break;
      case movn: s.add(a::movn(d, ~half(base, m) & 0xffff, m)); break;
      case movn_w: {
        const int i = half(base, 0) == 0xffff ? 1 : 0;
        s.add(a::movn_w(d, ~half(base, i) & 0xffff, i));
        break;
      }
      case orr: s.add(a::orr(d, Gp::xzr, base)); break;
      case orr_w: s.add(a::orr_w(d, Gp::xzr, static_cast<std::uint32_t>(base))); break;
    }
    for (int i = 0; i < 4; ++i)
      if (half(base, i) != half(v, i)) s.add(a::movk(d, half(v, i), i));
    return s;
  }
  static constexpr void mov_imm(Buf& b, Gp d, std::int64_t v) {
    // What mov_imm_sequence picks for one halfword, without its search (in constant evaluation
    // the search is most of the cost of a small constant): movz for 0..0xffff, movn for
    // -0x10000..-1 (its movz candidate needs movks).
    if (v >= 0 && v <= 0xffff) return b.put(crumble::arm64::movz(d, static_cast<std::uint32_t>(v), 0));
    if (v < 0 && v >= -0x10000) return b.put(crumble::arm64::movn(d, static_cast<std::uint32_t>(~v) & 0xffff, 0));
    Seq s = mov_imm_sequence(d, static_cast<std::uint64_t>(v));
    for (int i = 0; i < s.size; ++i) b.put(s.inst[i]);
  }
  static constexpr void swap(Buf& b, Gp x, Gp y) {
    mov(b, scratch, x);
    mov(b, x, y);
    mov(b, y, scratch);
  }

  // d = n + v for any v. sp may be d or n. Up to 24 bits: add/sub #imm12 (lsl #12); beyond,
  // the constant goes to x16, which neither d nor n may be.
  static constexpr void add_reg(Buf& b, Gp d, Gp n, Gp m) {
    b.put(d == Gp::sp || n == Gp::sp ? crumble::arm64::add_ext(d, n, m) : crumble::arm64::add(d, n, m));
  }
  static constexpr void add_imm(Buf& b, Gp d, Gp n, std::int64_t v) {
    namespace a = crumble::arm64;
    const bool neg = v < 0;
    const std::uint64_t m = neg ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
    if (m >> 24) {
      mov_imm(b, scratch, v);
      add_reg(b, d, n, scratch);
      return;
    }
    const auto hi = static_cast<std::uint32_t>(m >> 12), lo = static_cast<std::uint32_t>(m & 0xfff);
    Gp from = n;
    if (hi) {
      b.put(neg ? a::sub(d, from, hi, 1) : a::add(d, from, hi, 1));
      from = d;
    }
    if (lo || from != d) b.put(neg ? a::sub(d, from, lo) : a::add(d, from, lo));
  }

  // ---- memory -------------------------------------------------------------------------------
  // [base + disp] for any disp: scaled unsigned offset, else unscaled (-256..255), else the
  // displacement in a register (`via`) and the register-offset form.
  enum class Mode { scaled, unscaled, reg };
  static constexpr Mode mode(std::int64_t disp, int size) {
    if (disp >= 0 && disp % size == 0 && disp / size < 4096) return Mode::scaled;
    if (disp >= -256 && disp < 256) return Mode::unscaled;
    return Mode::reg;
  }
  static constexpr void load(Buf& b, Gp d, Gp base, std::int64_t disp, int width, bool sign) {
    namespace a = crumble::arm64;
    const int size = width / 8;
    const Mode m = mode(disp, size);
    const Gp via = d != base ? d : ip1;  // a load may use its own destination
    if (m == Mode::reg) mov_imm(b, via, disp);
    switch (width) {
      case 8:
        b.put(m == Mode::scaled ? (sign ? a::ldrsb(d, base, disp) : a::ldrb(d, base, disp))
              : m == Mode::unscaled ? (sign ? a::ldursb(d, base, disp) : a::ldurb(d, base, disp))
                                    : (sign ? a::ldrsb(d, base, via) : a::ldrb(d, base, via)));
        return;
      case 16:
        b.put(m == Mode::scaled ? (sign ? a::ldrsh(d, base, disp) : a::ldrh(d, base, disp))
              : m == Mode::unscaled ? (sign ? a::ldursh(d, base, disp) : a::ldurh(d, base, disp))
                                    : (sign ? a::ldrsh(d, base, via) : a::ldrh(d, base, via)));
        return;
      case 32:
        b.put(m == Mode::scaled ? (sign ? a::ldrsw(d, base, disp) : a::ldr_w(d, base, disp))
              : m == Mode::unscaled ? (sign ? a::ldursw(d, base, disp) : a::ldur_w(d, base, disp))
                                    : (sign ? a::ldrsw(d, base, via) : a::ldr_w(d, base, via)));
        return;
      default:
        b.put(m == Mode::scaled ? a::ldr(d, base, disp) : m == Mode::unscaled ? a::ldur(d, base, disp)
                                                                              : a::ldr(d, base, via));
    }
  }
  static constexpr void store(Buf& b, Gp base, std::int64_t disp, Gp v, int width) {
    namespace a = crumble::arm64;
    const Mode m = mode(disp, width / 8);
    if (m == Mode::reg) mov_imm(b, ip1, disp);
    switch (width) {
      case 8:
        b.put(m == Mode::scaled ? a::strb(v, base, disp) : m == Mode::unscaled ? a::sturb(v, base, disp) : a::strb(v, base, ip1));
        return;
      case 16:
        b.put(m == Mode::scaled ? a::strh(v, base, disp) : m == Mode::unscaled ? a::sturh(v, base, disp) : a::strh(v, base, ip1));
        return;
      case 32:
        b.put(m == Mode::scaled ? a::str_w(v, base, disp) : m == Mode::unscaled ? a::stur_w(v, base, disp) : a::str_w(v, base, ip1));
        return;
      default:
        b.put(m == Mode::scaled ? a::str(v, base, disp) : m == Mode::unscaled ? a::stur(v, base, disp) : a::str(v, base, ip1));
    }
  }
  static constexpr void stack_address(Buf& b, Gp d, std::int32_t off) {
    if (off >> 24) {  // add_imm would need x16 and d is free to hold the offset
      mov_imm(b, d, off);
      add_reg(b, d, Gp::sp, d);
    } else {
      add_imm(b, d, Gp::sp, off);
    }
  }
  // The address is a 64-bit literal in the code, loaded pc-relative and jumped over:
  //   ldr d, #8; b #12; .quad <address>
  static constexpr void address_of(Buf& b, Gp d, code::Section s, std::uint32_t target) {
    b.put(crumble::arm64::ldr_literal(d, 8));
    b.put(crumble::arm64::b(12));
    b.put_u32(0);
    b.put_u32(0);
    b.reloc(8, s, target);
  }

  // ---- arithmetic ---------------------------------------------------------------------------
  template <class Operand>
  static constexpr Gp reg_of(Buf& b, const Operand& o, Gp spare) {
    if (!o.is_imm) return o.reg;
    mov_imm(b, spare, o.imm);
    return spare;
  }
  template <class Operand>
  static constexpr void binop(Buf& b, ir::OpKind k, Gp d, Gp x, const Operand& o) {
    namespace a = crumble::arm64;
    using ir::OpKind;
    const auto u = static_cast<std::uint64_t>(o.imm);
    switch (k) {
      case OpKind::Add:
      case OpKind::Sub:
        if (o.is_imm) {
          const std::uint64_t m = k == OpKind::Add ? u : 0 - u;  // d = x + m (mod 2^64)
          const std::uint64_t mag = static_cast<std::int64_t>(m) < 0 ? 0 - m : m;
          if (mag < (1u << 24)) return add_imm(b, d, x, static_cast<std::int64_t>(m));
        }
        return b.put(k == OpKind::Add ? a::add(d, x, reg_of(b, o, scratch)) : a::sub(d, x, reg_of(b, o, scratch)));
      case OpKind::And:
      case OpKind::Or:
      case OpKind::Xor:
        if (o.is_imm && a::is_bitmask_immediate(u)) {
          return b.put(k == OpKind::And ? a::and_(d, x, u) : k == OpKind::Or ? a::orr(d, x, u) : a::eor(d, x, u));
        } else {
          Gp r = o.is_imm && u == 0 ? Gp::xzr : reg_of(b, o, scratch);
          return b.put(k == OpKind::And ? a::and_(d, x, r) : k == OpKind::Or ? a::orr(d, x, r) : a::eor(d, x, r));
        }
      case OpKind::Mul:
        if (o.is_imm && o.imm > 0 && std::has_single_bit(u)) return binop_shift(b, OpKind::Shl, d, x, std::countr_zero(u));
        return b.put(a::mul(d, x, reg_of(b, o, scratch)));
      case OpKind::Div:
        return b.put(a::sdiv(d, x, reg_of(b, o, scratch)));
      case OpKind::UDiv:
        return b.put(a::udiv(d, x, reg_of(b, o, scratch)));
      case OpKind::Rem:
      case OpKind::URem: {  // x - (x / y) * y; the quotient in x16, an immediate y in x17
        Gp y = reg_of(b, o, ip1);
        b.put(k == OpKind::Rem ? a::sdiv(scratch, x, y) : a::udiv(scratch, x, y));
        return b.put(a::msub(d, scratch, y, x));
      }
      case OpKind::Shl:
      case OpKind::Shr:
      case OpKind::Sar:
        if (o.is_imm) return binop_shift(b, k, d, x, static_cast<unsigned>(u & 63));
        return b.put(k == OpKind::Shl ? a::lslv(d, x, o.reg) : k == OpKind::Shr ? a::lsrv(d, x, o.reg) : a::asrv(d, x, o.reg));
    }
  }
  static constexpr void binop_shift(Buf& b, ir::OpKind k, Gp d, Gp x, unsigned s) {
    namespace a = crumble::arm64;
    if (s == 0) return mov(b, d, x);
    b.put(k == ir::OpKind::Shl ? a::lsl(d, x, s) : k == ir::OpKind::Shr ? a::lsr(d, x, s) : a::asr(d, x, s));
  }

  // ---- control flow -------------------------------------------------------------------------
  static constexpr crumble::arm64::Cond cond(ir::Cmp c) {
    using crumble::arm64::Cond;
    // Eq Ne Lt Le Gt Ge (signed), ULt ULe UGt UGe (unsigned: lo ls hi hs)
    // A plain array: std::array's [] is an evaluated call in constant evaluation.
    constexpr Cond map[10]{Cond::eq, Cond::ne, Cond::lt, Cond::le, Cond::gt,
                           Cond::ge, Cond::lo, Cond::ls, Cond::hi, Cond::hs};
    return map[static_cast<std::size_t>(c)];
  }
  // Jump to l when x <c> o. Against 0, == and != test the register directly (cbz/cbnz).
  template <class Operand>
  static constexpr void branch(Buf& b, ir::Cmp c, Gp x, const Operand& o, code::Label l) {
    namespace a = crumble::arm64;
    if (o.is_imm && o.imm == 0 && (c == ir::Cmp::Eq || c == ir::Cmp::Ne)) {
      b.item(c == ir::Cmp::Eq ? cbz_item : cbnz_item, static_cast<std::uint8_t>(x), l);
      return;
    }
    const std::int64_t v = o.imm;
    if (o.is_imm && v >= 0 && v < 4096) b.put(a::subs(Gp::xzr, x, static_cast<std::uint32_t>(v)));      // cmp
    else if (o.is_imm && v < 0 && v > -4096) b.put(a::adds(Gp::xzr, x, static_cast<std::uint32_t>(-v)));  // cmn
    else b.put(a::subs(Gp::xzr, x, reg_of(b, o, scratch)));
    b.item(branch_item, static_cast<std::uint8_t>(cond(c)), l);
  }
  static constexpr void jump(Buf& b, code::Label l) { b.item(jump_item, 0, l); }
  static constexpr void call(Buf& b, code::Label l) { b.item(call_item, 0, l); }
  static constexpr void call_indirect(Buf& b) { b.put(crumble::arm64::blr(call_target)); }
  static constexpr void syscall(Buf& b, int nr) {
    mov_imm(b, Gp::x8, nr);
    b.put(crumble::arm64::svc(0));
  }

  // Makes stores to [base, base + size) visible to instruction fetch: clean each data-cache
  // line to the point of unification, then invalidate each instruction-cache line, with the
  // barriers the Arm ARM asks for. Line sizes come from CTR_EL0 (DminLine 19:16, IminLine 3:0,
  // log2 of words), since they differ between cores. base and size are only read.
  //   x16: line start, x17: line size, x8: end
  static constexpr void cache_flush(Buf& b, Gp base, Gp size) {
    namespace a = crumble::arm64;
    b.put(a::add(Gp::x8, base, size));
    for (int pass = 0; pass < 2; ++pass) {
      b.put(a::mrs_ctr_el0(Gp::x16));
      b.put(a::ubfx(Gp::x16, Gp::x16, pass == 0 ? 16 : 0, 4));
      b.put(a::movz(Gp::x17, 4));
      b.put(a::lslv(Gp::x17, Gp::x17, Gp::x16));        // bytes = 4 << log2(words)
      b.put(a::sub(Gp::x16, Gp::xzr, Gp::x17));         // -size = ~(size - 1)
      b.put(a::and_(Gp::x16, base, Gp::x16));           // base rounded down to a line
      b.put(a::b(12));                                  // to the test
      b.put(pass == 0 ? a::dc_cvau(Gp::x16) : a::ic_ivau(Gp::x16));
      b.put(a::add(Gp::x16, Gp::x16, Gp::x17));
      b.put(a::subs(Gp::xzr, Gp::x16, Gp::x8));
      b.put(a::b(a::Cond::lo, -12));                    // back to dc/ic while below the end
      b.put(a::dsb_ish());
    }
    b.put(a::isb());
  }
  static constexpr void instruction_barrier(Buf& b) { b.put(crumble::arm64::isb()); }

  // ELF entry: main(argc, argv, envp), then exit_group(result). At entry sp is 16-byte aligned
  // and points at argc, followed by argv[] and its NULL, then envp[].
  static constexpr void start_stub(Buf& b, code::Label main) {
    namespace a = crumble::arm64;
    b.put(a::ldr(Gp::x0, Gp::sp, 0));
    b.put(a::add(Gp::x1, Gp::sp, 8));
    b.put(a::add(Gp::x2, Gp::x1, Gp::x0, a::Shift::lsl, 3));
    b.put(a::add(Gp::x2, Gp::x2, 8));
    call(b, main);
    syscall(b, syscall_number(ir::Sys::exit_group));
    b.put(a::brk(0));
  }
};
static_assert(TargetPolicy<arm64>);

}  // namespace crumble::arch
