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
// other labels are renumbered after those the receiving buffer has. Read-only data is re-added
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
                               max_rodata = 16384, max_entries = 1024;
  std::array<std::uint8_t, max_bytes> bytes{};
  std::array<Item, max_items> items{};
  std::array<Mark, max_labels> labels{};
  std::array<Reloc, max_relocs> relocs{};
  std::array<char, max_rodata> rodata{};  // chars: re-added as the string_views add_rodata takes
  std::array<RodataEntry, max_entries> entries{};
  std::uint32_t byte_count = 0, item_count = 0, label_count = 0, reloc_count = 0, rodata_size = 0, entry_count = 0;
  bool fits = false;         // false: the functions outgrew a capacity; nothing else is set
  bool uses_printf = false;  // they call printf's routines (lowered once, after all functions)
};

namespace piece_detail {
template <class E, class T, std::size_t N>
constexpr void copy_in(const PodVector<E>& from, std::array<T, N>& to) {
  pod_vector_detail::copy(from.data(), from.data() + from.size(), to.data());
}
}  // namespace piece_detail

// The contents of b as a Piece.
template <class Target>
constexpr Piece freeze(const Buffer<Target>& b, bool uses_printf) {
  Piece p;
  if (b.bytes.size() > Piece::max_bytes || b.items.size() > Piece::max_items || b.labels.size() > Piece::max_labels ||
      b.relocs.size() > Piece::max_relocs || b.rodata.size() > Piece::max_rodata ||
      b.rodata_list.size() > Piece::max_entries)
    return p;
  piece_detail::copy_in(b.bytes, p.bytes);
  piece_detail::copy_in(b.items, p.items);
  piece_detail::copy_in(b.labels, p.labels);
  piece_detail::copy_in(b.relocs, p.relocs);
  piece_detail::copy_in(b.rodata, p.rodata);
  piece_detail::copy_in(b.rodata_list, p.entries);
  p.byte_count = static_cast<std::uint32_t>(b.bytes.size());
  p.item_count = static_cast<std::uint32_t>(b.items.size());
  p.label_count = static_cast<std::uint32_t>(b.labels.size());
  p.reloc_count = static_cast<std::uint32_t>(b.relocs.size());
  p.rodata_size = static_cast<std::uint32_t>(b.rodata.size());
  p.entry_count = static_cast<std::uint32_t>(b.rodata_list.size());
  p.fits = true;
  p.uses_printf = uses_printf;
  return p;
}

// Appends p after what `to` holds. Labels below `shared` are the functions' (the same ids in
// p and in `to`); p's others get new ids.
template <class Target>
constexpr void append(Buffer<Target>& to, const Piece& p, std::uint32_t shared) {
  const Mark base = to.here();
  const auto first_own = static_cast<std::uint32_t>(to.labels.size());  // p's label `shared` lands here
  constexpr Mark unbound = Buffer<Target>::unbound;
  auto moved = [&](Mark m) { return m.at == unbound.at ? m : Mark{m.at + base.at, m.items + base.items}; };
  auto label = [&](std::uint32_t id) { return id < shared ? id : id - shared + first_own; };

  for (std::uint32_t i = 0; i < shared; ++i)
    if (p.labels[i].at != unbound.at) to.labels[i] = moved(p.labels[i]);
  for (std::uint32_t i = shared; i < p.label_count; ++i) to.labels.push_back(moved(p.labels[i]));
  const Item* item = p.items.data();  // pointers: std::array's [] is an evaluated call
  for (std::uint32_t i = 0; i < p.item_count; ++i)
    to.items.push_back(Item{moved(item[i].pos), label(item[i].label), item[i].cond, item[i].kind, item[i].form});
  to.bytes.append(p.bytes.data(), p.bytes.data() + p.byte_count);

  // Read-only entries in p's order; rodata_at[k] is where p's k-th entry is now.
  PodVector<std::uint32_t> rodata_at(p.entry_count, 0);
  const RodataEntry* entry = p.entries.data();
  for (std::uint32_t k = 0; k < p.entry_count; ++k)
    rodata_at[k] = to.add_rodata(std::string_view(p.rodata.data() + entry[k].at, entry[k].size), entry[k].nul);
  // A relocation into rodata names an entry's offset (lower.hpp takes them from add_rodata);
  // entries are in increasing offset.
  auto rodata_target = [&](std::uint32_t at) {
    std::uint32_t lo = 0, hi = p.entry_count;
    while (hi - lo > 1) {
      const std::uint32_t mid = (lo + hi) / 2;
      (entry[mid].at <= at ? lo : hi) = mid;
    }
    if (lo == hi || entry[lo].at != at) detail::fail(errc::program_too_large, "(internal) relocation inside a rodata entry");
    return rodata_at[lo];
  };
  const Reloc* reloc = p.relocs.data();
  for (std::uint32_t i = 0; i < p.reloc_count; ++i) {
    Reloc r = reloc[i];
    r.field = moved(r.field);
    if (r.section == Section::code) r.target = label(r.target);
    if (r.section == Section::rodata) r.target = rodata_target(r.target);
    to.relocs.push_back(r);
  }
}

}  // namespace crumble::code
