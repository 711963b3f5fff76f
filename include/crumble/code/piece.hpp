// SPDX-License-Identifier: Apache-2.0
// crumble/code/piece.hpp — Piece: what lowering some functions left in a code Buffer, held in
// fixed-size arrays; append() adds it to another Buffer.
//
// Compilers bound the work of each constant expression, not of a translation unit (Clang's
// -fconstexpr-steps, GCC's -fconstexpr-ops-limit). Assembly by function (assemble.hpp) lowers
// a program's functions, a few at a time, in constant expressions of their own and keeps each
// result as a Piece, plain arrays, so it can be the value of a constexpr variable; a last
// constant expression appends the pieces, in the program's order, to one Buffer and links it. That
// Buffer then holds the same bytes, items, labels, relocations and read-only data, at the same
// places, as lowering the whole program into it would: a function's lowering does not depend on
// where it starts.
//
// Labels: every Lowering first declares one label per function (lower.hpp), so ids below
// `shared` name the same function in every piece; a piece binds only its own functions'. Its
// other labels are renumbered after those the receiving buffer has. Relocations into the
// read-only data name an entry (Buffer::add_rodata), renumbered likewise. Read-only data is re-added
// entry by entry, so a string two functions embed is stored once, at the offset a whole-program
// lowering gives it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "../error.hpp"
#include "buffer.hpp"

namespace crumble::code {

// The capacities bound a few functions, not a program (assemble.hpp groups functions of about
// 2,000 IR nodes in all: ~25 KB of code at the most measured, 12 bytes a node): their machine
// code, branches, labels, absolute addresses and embedded bytes. A program with a piece over
// them is assembled whole instead, so they only cost memory, never correctness.
struct Piece {
  static constexpr std::size_t max_bytes = 32768, max_items = 4096, max_labels = 4096, max_relocs = 2048,
                               max_rodata = 16384, max_entries = 1024, max_functions = 512;
  // The labels are the piece's own (ids from `shared` on); of the functions' labels (ids below
  // `shared`) only those it bound, with their ids (a piece's size does not grow with the program's function count).
  struct BoundLabel {
    std::uint32_t id;
    Mark at;
  };
  std::array<std::uint8_t, max_bytes> bytes{};
  std::array<Item, max_items> items{};
  std::array<Mark, max_labels> labels{};
  std::array<BoundLabel, max_functions> functions{};
  std::array<Reloc, max_relocs> relocs{};
  std::array<char, max_rodata> rodata{};  // chars: re-added as the string_views add_rodata takes
  std::array<RodataEntry, max_entries> entries{};
  std::uint32_t shared = 0, byte_count = 0, item_count = 0, label_count = 0, function_count = 0, reloc_count = 0,
                rodata_size = 0, entry_count = 0;
  bool fits = false;         // false: the functions outgrew a capacity; nothing else is set
  bool uses_printf = false;  // they call printf's routines (lowered once, after all functions)
};

namespace piece_detail {
template <class E, class T, std::size_t N>
constexpr void copy_in(const E* from, std::size_t n, std::array<T, N>& to) {
  pod_vector_detail::copy(from, from + n, to.data());
}
}  // namespace piece_detail

// The contents of b as a Piece; labels below `shared` are the functions' (lower.hpp).
template <class Target>
constexpr Piece freeze(const Buffer<Target>& b, std::uint32_t shared, bool uses_printf) {
  Piece p;
  std::uint32_t bound = 0;
  for (std::uint32_t i = 0; i < shared; ++i) bound += b.labels[i].at != Buffer<Target>::unbound.at;
  if (b.bytes.size() > Piece::max_bytes || b.items.size() > Piece::max_items ||
      b.labels.size() - shared > Piece::max_labels || bound > Piece::max_functions ||
      b.relocs.size() > Piece::max_relocs || b.rodata.size() > Piece::max_rodata ||
      b.rodata_list.size() > Piece::max_entries)
    return p;
  for (std::uint32_t i = 0; i < shared; ++i)
    if (b.labels[i].at != Buffer<Target>::unbound.at) p.functions[p.function_count++] = Piece::BoundLabel{i, b.labels[i]};
  piece_detail::copy_in(b.bytes.data(), b.bytes.size(), p.bytes);
  piece_detail::copy_in(b.items.data(), b.items.size(), p.items);
  piece_detail::copy_in(b.labels.data() + shared, b.labels.size() - shared, p.labels);
  piece_detail::copy_in(b.relocs.data(), b.relocs.size(), p.relocs);
  piece_detail::copy_in(b.rodata.data(), b.rodata.size(), p.rodata);
  piece_detail::copy_in(b.rodata_list.data(), b.rodata_list.size(), p.entries);
  p.shared = shared;
  p.byte_count = static_cast<std::uint32_t>(b.bytes.size());
  p.item_count = static_cast<std::uint32_t>(b.items.size());
  p.label_count = static_cast<std::uint32_t>(b.labels.size() - shared);
  p.reloc_count = static_cast<std::uint32_t>(b.relocs.size());
  p.rodata_size = static_cast<std::uint32_t>(b.rodata.size());
  p.entry_count = static_cast<std::uint32_t>(b.rodata_list.size());
  p.fits = true;
  p.uses_printf = uses_printf;
  return p;
}

// Appends p after what `to` holds. Labels below p.shared are the functions' (the same ids in p
// and in `to`); p's others get new ids.
template <class Target>
constexpr void append(Buffer<Target>& to, const Piece& p) {
  const Mark base = to.here();
  const std::uint32_t shared = p.shared;
  const auto first_own = static_cast<std::uint32_t>(to.labels.size());  // p's label `shared` lands here
  constexpr Mark unbound = Buffer<Target>::unbound;
  auto moved = [&](Mark m) { return m.at == unbound.at ? m : Mark{m.at + base.at, m.items + base.items}; };
  auto label = [&](std::uint32_t id) { return id < shared ? id : id - shared + first_own; };

  // Pointers: std::array's [] is an evaluated call.
  const Piece::BoundLabel* fn = p.functions.data();
  for (std::uint32_t i = 0; i < p.function_count; ++i) to.labels[fn[i].id] = moved(fn[i].at);
  const Mark* own = p.labels.data();
  for (std::uint32_t i = 0; i < p.label_count; ++i) to.labels.push_back(moved(own[i]));
  const Item* item = p.items.data();
  for (std::uint32_t i = 0; i < p.item_count; ++i)
    to.items.push_back(Item{moved(item[i].pos), label(item[i].label), item[i].cond, item[i].kind, item[i].form});
  to.bytes.append(p.bytes.data(), p.bytes.data() + p.byte_count);

  // Read-only entries in p's order; entry_in_to[k] is p's k-th entry's index in `to`.
  PodVector<std::uint32_t> entry_in_to(p.entry_count, 0);
  const RodataEntry* entry = p.entries.data();
  for (std::uint32_t k = 0; k < p.entry_count; ++k)
    entry_in_to[k] = to.add_rodata(std::string_view(p.rodata.data() + entry[k].at, entry[k].size), entry[k].nul);
  const Reloc* reloc = p.relocs.data();
  for (std::uint32_t i = 0; i < p.reloc_count; ++i) {
    Reloc r = reloc[i];
    r.field = moved(r.field);
    if (r.section == Section::code) r.target = label(r.target);
    if (r.section == Section::rodata) r.target = entry_in_to[r.target];
    to.relocs.push_back(r);
  }
}

}  // namespace crumble::code
