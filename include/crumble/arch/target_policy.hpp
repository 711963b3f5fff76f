// SPDX-License-Identifier: Apache-2.0
// crumble/arch/target_policy.hpp — what the lowering asks of a target: the TargetPolicy concept.
//
// lower.hpp is written once; everything it needs to know about an architecture comes from a
// policy struct, crumble::arch::<arch> in arch/<arch>/target.hpp, with static members only:
//
//   the ABI        name, elf_machine, code_padding; the register file as homes (callee-saved,
//                  variables live there), temps (caller-saved expression temporaries),
//                  call_args, syscall_args; the roles ret, sp, scratch, call_target;
//                  syscall_number (ir::absent_syscall where Linux lacks one)
//   the frame      frame_size, prologue, epilogue, incoming_args (where the stack-passed
//                  parameters are once the prologue has run)
//   instructions   mov, mov_imm, swap, load, store, stack_address, address_of, binop,
//                  branch, jump, call, call_indirect, syscall, cache_flush,
//                  instruction_barrier, start_stub (the ELF entry that calls main)
//   relaxable items  item_size, item_fits, encode_item: code::Buffer's link step asks these
//                  about each branch it laid out (code/buffer.hpp)
//
// Relaxable items (branches and calls whose encoding depends on where their label lands) are
// named the same on every target: jump_item, call_item and branch_item (a conditional branch);
// arm64 adds cbz_item and cbnz_item. Form 0 is the single short instruction; each next form
// reaches further, and the last reaches anything a code::Buffer holds (±2 GiB). Every member
// must be usable in constant evaluation: lowering runs at compile time too.
//
// Each target ends with static_assert(TargetPolicy<arch>): a missing or mistyped member is
// reported there, by name, not deep inside an instantiation of the lowering.
#pragma once

#include <concepts>
#include <cstdint>
#include <string_view>
#include <vector>

#include "../code/buffer.hpp"
#include "../ir/nodes.hpp"

namespace crumble::arch {

// The right-hand operand of a binop or a comparison: a register, or an immediate the target
// may encode directly (or first move into a register of its own).
template <class Reg>
struct Operand {
  bool is_imm;
  Reg reg;
  std::int64_t imm;
};

template <class T>
concept TargetPolicy =
    requires(code::Buffer<T>& b, std::vector<std::uint8_t>& out, code::ByteVector& bytes_out, typename T::Reg r, const Operand<typename T::Reg>& o,
             code::Label l, code::Section s, ir::Sys sys, ir::OpKind op, ir::Cmp cmp, std::uint8_t kind,
             std::uint8_t form, std::uint32_t u32, std::int32_t i32, std::int64_t i64, int width, bool sign) {
      // The ABI.
      { T::name } -> std::convertible_to<std::string_view>;
      { T::elf_machine } -> std::convertible_to<std::uint16_t>;
      { T::code_padding } -> std::convertible_to<std::uint8_t>;
      { T::homes[0] } -> std::convertible_to<typename T::Reg>;
      { T::temps[0] } -> std::convertible_to<typename T::Reg>;
      { T::call_args[0] } -> std::convertible_to<typename T::Reg>;
      { T::syscall_args[0] } -> std::convertible_to<typename T::Reg>;
      requires T::homes.size() <= 32 && T::temps.size() < 32;  // the lowering keeps them in bit sets
      requires T::syscall_args.size() >= 6;
      { T::ret } -> std::convertible_to<typename T::Reg>;
      { T::sp } -> std::convertible_to<typename T::Reg>;
      { T::scratch } -> std::convertible_to<typename T::Reg>;
      { T::call_target } -> std::convertible_to<typename T::Reg>;
      { T::syscall_number(sys) } -> std::same_as<int>;
      // Relaxable items.
      { T::jump_item } -> std::convertible_to<std::uint8_t>;
      { T::call_item } -> std::convertible_to<std::uint8_t>;
      { T::branch_item } -> std::convertible_to<std::uint8_t>;
      { T::item_size(kind, form) } -> std::same_as<std::uint32_t>;
      { T::item_fits(kind, form, i64) } -> std::same_as<bool>;
      T::encode_item(out, kind, u32, form, i64);
      T::encode_item(bytes_out, kind, u32, form, i64);
      // The frame.
      { T::frame_size(i32, u32) } -> std::same_as<std::int32_t>;
      { T::incoming_args(i32, u32) } -> std::same_as<std::int32_t>;
      T::prologue(b, u32, i32);
      T::epilogue(b, u32, i32);
      // Virtual instructions.
      T::mov(b, r, r);
      T::mov_imm(b, r, i64);
      T::swap(b, r, r);
      T::load(b, r, r, i64, width, sign);
      T::store(b, r, i64, r, width);
      T::stack_address(b, r, i32);
      T::address_of(b, r, s, u32);
      T::binop(b, op, r, r, o);
      T::branch(b, cmp, r, o, l);
      T::jump(b, l);
      T::call(b, l);
      T::call_indirect(b);
      T::syscall(b, width);
      T::cache_flush(b, r, r);
      T::instruction_barrier(b);
      T::start_stub(b, l);
    };

}  // namespace crumble::arch
