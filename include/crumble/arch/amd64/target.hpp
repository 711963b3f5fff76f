// SPDX-License-Identifier: Apache-2.0
// crumble/arch/amd64/target.hpp — the AMD64 target policy for the lowering (lower.hpp):
// a TargetPolicy (arch/target_policy.hpp).
//
// Registers (System V):
//   homes  rbx rbp r12 r13 r14 r15   callee-saved: variables live here
//   temps  rsi rdi r8 r9 r10 r11     caller-saved: expression temporaries
//   rax rcx rdx                      never hold a value between virtual instructions, so the
//                                    instruction selection below uses them freely (div needs
//                                    rdx:rax, variable shifts need cl, rax is the result, the
//                                    syscall number and the indirect-call target)
// There is no frame pointer: the frame is addressed from rsp, whose alignment the prologue keeps
// at 16 bytes for calls.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <string_view>
#include <vector>

#include "../../code/buffer.hpp"
#include "../../ir/nodes.hpp"
#include "../target_policy.hpp"
#include "encoder.hpp"

namespace crumble::arch {

struct amd64 {
  using Reg = crumble::amd64::Gp;
  using Gp = crumble::amd64::Gp;
  using Buf = code::Buffer<amd64>;

  static constexpr std::string_view name = "amd64";
  static constexpr std::uint16_t elf_machine = 62;  // EM_X86_64
  static constexpr std::uint8_t code_padding = 0xCC;

  static constexpr std::array homes{Gp::rbx, Gp::rbp, Gp::r12, Gp::r13, Gp::r14, Gp::r15};
  static constexpr std::array temps{Gp::rsi, Gp::rdi, Gp::r8, Gp::r9, Gp::r10, Gp::r11};
  static constexpr std::array call_args{Gp::rdi, Gp::rsi, Gp::rdx, Gp::rcx, Gp::r8, Gp::r9};
  static constexpr std::array syscall_args{Gp::rdi, Gp::rsi, Gp::rdx, Gp::r10, Gp::r8, Gp::r9};
  static constexpr Gp ret = Gp::rax, sp = Gp::rsp, scratch = Gp::rax, call_target = Gp::rax;

  static constexpr int syscall_number(ir::Sys s) {
    using enum ir::Sys;
    switch (s) {
      case read: return 0;           case write: return 1;         case open: return 2;
      case close: return 3;          case fstat: return 5;         case lseek: return 8;
      case mmap: return 9;           case munmap: return 11;       case brk: return 12;
      case rt_sigaction: return 13;  case rt_sigprocmask: return 14; case ioctl: return 16;
      case dup2: return 33;          case nanosleep: return 35;    case getpid: return 39;
      case clone: return 56;         case fork: return 57;         case execve: return 59;
      case exit: return 60;          case wait4: return 61;        case kill: return 62;
      case uname: return 63;         case chdir: return 80;        case mkdir: return 83;
      case getppid: return 110;      case setsid: return 112;      case mknod: return 133;
      case pivot_root: return 155;   case chroot: return 161;      case sync: return 162;
      case mount: return 165;        case umount2: return 166;     case reboot: return 169;
      case sethostname: return 170;  case init_module: return 175; case gettid: return 186;
      case clock_settime: return 227; case clock_gettime: return 228; case exit_group: return 231;
      case openat: return 257;       case mkdirat: return 258;     case mknodat: return 259;
      case unlinkat: return 263;     case symlinkat: return 266;   case dup3: return 292;
      case pipe2: return 293;        case finit_module: return 313; case getrandom: return 318;
      case setuid: return 105;       case setgid: return 106;      case setgroups: return 116;
      case prctl: return 157;        case ppoll: return 271;       case fcntl: return 72;
      case setpgid: return 109;      case socket: return 41;       case fchmod: return 91;
      case fchown: return 93;        case prlimit64: return 302;   case capset: return 126;
      case fchownat: return 260;     case fchmodat: return 268;    case statfs: return 137;
      case getdents64: return 217;   case newfstatat: return 262;
      case open_tree: return 428;    case move_mount: return 429;   case setns: return 308;
    }
    return ir::absent_syscall;
  }

  // ---- relaxable items (arch/target_policy.hpp) ------------------------------------------------
  //   jump_item    form 0: jmp rel8    form 1: jmp rel32
  //   branch_item  form 0: jcc rel8    form 1: jcc rel32     (cond: the Cc)
  //   call_item    form 0: call rel32 (the only form)
  enum : std::uint8_t { jump_item, branch_item, call_item };
  static constexpr std::uint32_t item_size(std::uint8_t kind, std::uint8_t form) {
    if (kind == call_item) return 5;
    return form == 0 ? 2 : kind == jump_item ? 5 : 6;
  }
  // disp is measured from the start of the item; the CPU measures from its end.
  static constexpr bool item_fits(std::uint8_t kind, std::uint8_t form, std::int64_t disp) {
    std::int64_t rel = disp - item_size(kind, form);
    return form == 0 && kind != call_item ? crumble::amd64::fits8(rel) : crumble::amd64::fits32(rel);
  }
  template <class Out>  // std::vector<std::uint8_t> or code::ByteVector
  static constexpr void encode_item(Out& out, std::uint8_t kind, std::uint32_t cond,
                                    std::uint8_t form, std::int64_t disp) {
    namespace a = crumble::amd64;
    auto rel = disp - item_size(kind, form);
    auto cc = static_cast<a::Cc>(cond);
    a::Inst i = kind == call_item ? a::call_rel32(rel)
                : kind == jump_item ? (form == 0 ? a::jmp_rel8(rel) : a::jmp_rel32(rel))
                                    : (form == 0 ? a::jcc_rel8(cc, rel) : a::jcc_rel32(cc, rel));
    out.insert(out.end(), i.begin(), i.end());
  }

  // ---- frame --------------------------------------------------------------------------------
  // After the call (8 bytes) and the pushes, `sub rsp` must leave rsp 16-byte aligned.
  static constexpr std::int32_t frame_size(std::int32_t locals, std::uint32_t saved) {
    std::int32_t f = (locals + 15) / 16 * 16;
    return std::popcount(saved) % 2 == 0 ? f + 8 : f;
  }
  // The seventh argument is at [rsp + 8] on entry, above the return address; the prologue's
  // pushes and `sub rsp` put it further away.
  static constexpr std::int32_t incoming_args(std::int32_t frame, std::uint32_t saved) {
    return frame + 8 * std::popcount(saved) + 8;
  }
  static constexpr void prologue(Buf& b, std::uint32_t saved, std::int32_t frame) {
    for (std::size_t i = 0; i < homes.size(); ++i)
      if (saved & (1u << i)) b.put(crumble::amd64::push(homes[i]));
    if (frame) b.put(crumble::amd64::alu(crumble::amd64::Alu::sub, Gp::rsp, frame));
  }
  static constexpr void epilogue(Buf& b, std::uint32_t saved, std::int32_t frame) {
    if (frame) b.put(crumble::amd64::alu(crumble::amd64::Alu::add, Gp::rsp, frame));
    for (std::size_t i = homes.size(); i-- > 0;)
      if (saved & (1u << i)) b.put(crumble::amd64::pop(homes[i]));
    b.put(crumble::amd64::ret());
  }

  // ---- moves, memory ------------------------------------------------------------------------
  static constexpr void mov(Buf& b, Gp d, Gp s) {
    if (d != s) b.put(crumble::amd64::mov(d, s));
  }
  static constexpr void mov_imm(Buf& b, Gp d, std::int64_t v) { b.put(crumble::amd64::mov(d, v)); }
  static constexpr void swap(Buf& b, Gp x, Gp y) { b.put(crumble::amd64::xchg(x, y)); }
  // [base + disp] with any 64-bit disp: a disp beyond ±2 GiB is added in rax first.
  static constexpr crumble::amd64::Mem mem(Buf& b, Gp base, std::int64_t disp) {
    if (crumble::amd64::fits32(disp)) return {base, disp};
    b.put(crumble::amd64::mov(Gp::rax, disp));
    b.put(crumble::amd64::alu(crumble::amd64::Alu::add, Gp::rax, base));
    return {Gp::rax, 0};
  }
  static constexpr void load(Buf& b, Gp d, Gp base, std::int64_t disp, int width, bool sign) {
    b.put(crumble::amd64::load(d, mem(b, base, disp), width, sign));
  }
  static constexpr void store(Buf& b, Gp base, std::int64_t disp, Gp v, int width) {
    b.put(crumble::amd64::store(mem(b, base, disp), v, width));
  }
  static constexpr void stack_address(Buf& b, Gp d, std::int32_t off) {
    b.put(crumble::amd64::lea(d, {Gp::rsp, off}));
  }
  // movabs d, <address>: the immediate is a relocation.
  static constexpr void address_of(Buf& b, Gp d, code::Section s, std::uint32_t target) {
    b.put(crumble::amd64::movabs(d, 0));
    b.reloc(8, s, target);
  }

  // ---- arithmetic ---------------------------------------------------------------------------
  template <class Operand>
  static constexpr Gp reg_of(Buf& b, const Operand& o, Gp spare) {
    if (!o.is_imm) return o.reg;
    b.put(crumble::amd64::mov(spare, o.imm));
    return spare;
  }
  template <class Operand>
  static constexpr void binop(Buf& b, ir::OpKind k, Gp d, Gp a, const Operand& o) {
    namespace x = crumble::amd64;
    using ir::OpKind;
    const bool imm32 = o.is_imm && x::fits32(o.imm);
    switch (k) {
      case OpKind::Add:
      case OpKind::Sub:
        if (imm32 && d != a) {  // lea d, [a ± imm]: one instruction, no copy
          if (k == OpKind::Add || o.imm != INT32_MIN) {
            b.put(x::lea(d, {a, k == OpKind::Add ? o.imm : -o.imm}));
            return;
          }
        }
        [[fallthrough]];
      case OpKind::And:
      case OpKind::Or:
      case OpKind::Xor: {
        x::Alu op = k == OpKind::Add ? x::Alu::add : k == OpKind::Sub ? x::Alu::sub
                    : k == OpKind::And ? x::Alu::and_ : k == OpKind::Or ? x::Alu::or_ : x::Alu::xor_;
        if (imm32) {
          mov(b, d, a);
          b.put(x::alu(op, d, o.imm));
        } else {
          Gp r = reg_of(b, o, Gp::rax);
          mov(b, d, a);
          b.put(x::alu(op, d, r));
        }
        return;
      }
      case OpKind::Mul:
        if (imm32) {
          b.put(x::imul(d, a, o.imm));
        } else {
          Gp r = reg_of(b, o, Gp::rax);
          mov(b, d, a);
          b.put(x::imul(d, r));
        }
        return;
      case OpKind::Div:
      case OpKind::UDiv:
      case OpKind::Rem:
      case OpKind::URem: {
        const bool sign = k == OpKind::Div || k == OpKind::Rem;
        Gp r = reg_of(b, o, Gp::rcx);
        b.put(x::mov(Gp::rax, a));
        b.put(sign ? x::cqo() : x::zero(Gp::rdx));
        b.put(sign ? x::idiv(r) : x::div(r));
        b.put(x::mov(d, k == OpKind::Div || k == OpKind::UDiv ? Gp::rax : Gp::rdx));
        return;
      }
      case OpKind::Shl:
      case OpKind::Shr:
      case OpKind::Sar: {
        x::Shift s = k == OpKind::Shl ? x::Shift::shl : k == OpKind::Shr ? x::Shift::shr : x::Shift::sar;
        if (o.is_imm) {
          mov(b, d, a);
          if (o.imm & 63) b.put(x::shift(s, d, o.imm & 63));
        } else {
          b.put(x::mov(Gp::rcx, o.reg));
          mov(b, d, a);
          b.put(x::shift_cl(s, d));
        }
        return;
      }
    }
  }

  // ---- control flow -------------------------------------------------------------------------
  static constexpr crumble::amd64::Cc cc(ir::Cmp c) {
    using crumble::amd64::Cc;
    constexpr std::array<Cc, 10> map{Cc::e, Cc::ne, Cc::l, Cc::le, Cc::g, Cc::ge, Cc::b, Cc::be, Cc::a, Cc::ae};
    return map[static_cast<std::size_t>(c)];
  }
  // Jump to l when a <c> o.
  template <class Operand>
  static constexpr void branch(Buf& b, ir::Cmp c, Gp a, const Operand& o, code::Label l) {
    namespace x = crumble::amd64;
    if (o.is_imm && o.imm == 0) b.put(x::test(a, a));  // same flags as cmp $0 for every condition
    else if (o.is_imm && x::fits32(o.imm)) b.put(x::alu(x::Alu::cmp, a, o.imm));
    else b.put(x::alu(x::Alu::cmp, a, reg_of(b, o, Gp::rax)));
    b.item(branch_item, static_cast<std::uint8_t>(cc(c)), l);
  }
  static constexpr void jump(Buf& b, code::Label l) { b.item(jump_item, 0, l); }
  static constexpr void call(Buf& b, code::Label l) { b.item(call_item, 0, l); }
  static constexpr void call_indirect(Buf& b) { b.put(crumble::amd64::call(call_target)); }
  static constexpr void syscall(Buf& b, int nr) {
    b.put(crumble::amd64::mov(Gp::rax, std::int64_t{nr}));
    b.put(crumble::amd64::syscall());
  }
  // x86 keeps instruction fetch coherent with stores; the call into new code serialises.
  static constexpr void cache_flush(Buf&, Gp, Gp) {}
  static constexpr void instruction_barrier(Buf&) {}

  // ELF entry: main(argc, argv, envp), then exit_group(result). At entry rsp is 16-byte aligned
  // and points at argc; the call leaves main with the alignment the ABI promises.
  static constexpr void start_stub(Buf& b, code::Label main) {
    namespace x = crumble::amd64;
    b.put(x::load(Gp::rdi, {Gp::rsp, 0}, 64, false));
    b.put(x::lea(Gp::rsi, {Gp::rsp, 8}));
    b.put(x::mov(Gp::rdx, Gp::rdi));
    b.put(x::shift(x::Shift::shl, Gp::rdx, 3));
    b.put(x::alu(x::Alu::add, Gp::rdx, Gp::rsi));
    b.put(x::alu(x::Alu::add, Gp::rdx, 8));
    call(b, main);
    b.put(x::mov(Gp::rdi, Gp::rax));
    syscall(b, syscall_number(ir::Sys::exit_group));
    b.put(x::ud2());
  }
};
static_assert(TargetPolicy<amd64>);

}  // namespace crumble::arch
