// SPDX-License-Identifier: Apache-2.0
// crumble/code/buffer.hpp — the code buffer: bytes, labels, relaxable branches, relocations.
//
// Lowering appends encoded instructions to `bytes`. Anything whose encoding depends on where a
// label ends up — a branch, a call — is not encoded then: it is recorded as an Item (plain data:
// where it sits, which label it targets, which of the target's forms it currently uses).
// Absolute addresses (a function's, a global's, embedded bytes') are 64-bit fields inside
// `bytes`, recorded as Relocs.
//
// finish() then does what DynASM and asmjit call linking:
//   1. layout: every item starts in its shortest form; any item whose target is out of reach
//      grows to its next form; repeat until nothing grows (sizes only grow, so this ends);
//   2. encode: copy the bytes between items, encode each item for its final displacement;
//   3. append the read-only data, place bss after it, and resolve relocations.
// The result is a code::Image. The algorithm is the same in constant evaluation and at run time.
//
// A position before layout is a Mark: how many bytes had been emitted and how many items came
// before it. Its final address is mark.at + (total size of the first mark.items items).
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>
#include <vector>

#include "../bytes.hpp"
#include "../error.hpp"
#include "pod_vector.hpp"
#include "name_table.hpp"

namespace crumble::code {

struct Label {
  std::uint32_t id;
};

struct Mark {
  std::uint32_t at;     // bytes emitted before this point
  std::uint32_t items;  // items emitted before this point
};

struct Item {
  Mark pos;
  std::uint32_t label;
  std::uint32_t cond;  // meaning defined by the target: condition code, registers compared, ...
  std::uint8_t kind;   // meaning defined by the target (jump, conditional branch, call, ...)
  std::uint8_t form;  // index of the target's encoding for this kind; only grows during layout
};

enum class Section : std::uint8_t { code, rodata, bss };

// An entry add_rodata made: `size` bytes at `at` in the read-only section, and a NUL after them
// when `nul`.
struct RodataEntry {
  std::uint32_t at, size;
  bool nul;
};

// A 64-bit little-endian field in `bytes` that holds the absolute address of a target.
struct Reloc {
  Mark field;
  Section section;
  std::uint32_t target;  // code: label id; rodata: entry (add_rodata's result); bss: byte offset
};

// The linked result. Layout in memory: [code][rodata] ... [bss at bss_offset].
struct Image {
  std::vector<std::uint8_t> bytes;    // code followed by read-only data
  std::vector<std::uint32_t> relocs;  // offsets of 64-bit fields to which the load base must be added
  std::uint64_t bss_offset = 0;       // page-aligned offset of the zeroed area
  std::uint64_t bss_size = 0;
  std::uint64_t code_size = 0;        // executable part of bytes
  std::uint64_t entry = 0;            // offset of the entry point
  // The architecture it was built for, as its ELF e_machine (62 x86-64, 183 AArch64, 243 RISC-V),
  // so that a guest of another can refuse it; 0: not recorded (an image made by hand).
  std::uint16_t machine = 0;
};

// An Image as link() makes it: the bytes in the buffer's ByteVector (code/pod_vector.hpp).
struct Linked {
  ByteVector bytes;
  std::vector<std::uint32_t> relocs;
  std::uint64_t bss_offset = 0, bss_size = 0, code_size = 0, entry = 0;
  std::uint16_t machine = 0;

  constexpr Image image() const {
    return Image{bytes.to_vector(), relocs, bss_offset, bss_size, code_size, entry, machine};
  }
};

inline constexpr std::uint64_t page_size = 4096;
constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

template <class Target>
class Buffer {
 public:
  // Not std::vectors: see code/pod_vector.hpp.
  ByteVector bytes;
  PodVector<Item> items;
  PodVector<Mark> labels;
  PodVector<Reloc> relocs;
  ByteVector rodata;
  PodVector<RodataEntry> rodata_list;  // in the order added (assembly by function re-adds them)
  std::uint64_t bss_size = 0;

 private:
  // Offsets of the entries already in rodata, by contents: [0] as given, [1] NUL-terminated.
  NameTable rodata_entries[2];

 public:

  static constexpr Mark unbound{std::numeric_limits<std::uint32_t>::max(), 0};

  constexpr Label new_label() {
    labels.push_back(unbound);
    return Label{static_cast<std::uint32_t>(labels.size() - 1)};
  }
  constexpr void bind(Label l) { labels[l.id] = here(); }
  constexpr bool bound(Label l) const { return labels[l.id].at != unbound.at; }
  constexpr Mark here() const {
    return Mark{static_cast<std::uint32_t>(bytes.size()), static_cast<std::uint32_t>(items.size())};
  }

  template <class Encoded>
  constexpr void put(const Encoded& inst) {
    bytes.append(inst.begin(), inst.end());
  }
  constexpr void put_u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  constexpr void item(std::uint8_t kind, std::uint32_t cond, Label target) {
    items.push_back(Item{here(), target.id, cond, kind, 0});
  }
  // Records that the 8 bytes at offset `at_back` from the end of `bytes` hold target's address.
  constexpr void reloc(std::uint32_t at_back, Section s, std::uint32_t target) {
    relocs.push_back(Reloc{Mark{static_cast<std::uint32_t>(bytes.size() - at_back),
                                static_cast<std::uint32_t>(items.size())},
                           s, target});
  }

  // Appends data to the read-only section, reusing an identical earlier entry (the same string
  // embedded twice, a printf format used in a loop body and elsewhere); the entry's index in
  // rodata_list, which a Section::rodata relocation targets (not an offset: an empty entry shares
  // its offset with the next one).
  constexpr std::uint32_t add_rodata(std::string_view data, bool nul) {
    NameTable& entries = rodata_entries[nul ? 1 : 0];
    if (std::uint32_t e = entries.find(data); e != NameTable::none) return e;
    const auto e = static_cast<std::uint32_t>(rodata_list.size());
    entries.insert(data, e);
    rodata_list.push_back(RodataEntry{static_cast<std::uint32_t>(rodata.size()), static_cast<std::uint32_t>(data.size()), nul});
    rodata.append(data.begin(), data.end());
    if (nul) rodata.push_back(0);
    return e;
  }
  constexpr std::uint32_t add_bss(std::uint64_t size, std::uint64_t align) {
    bss_size = align_up(bss_size, align ? align : 1);
    auto at = static_cast<std::uint32_t>(bss_size);
    bss_size += size;
    return at;
  }

  // Links the buffer into an image. A payload (no load address) keeps its relocations in the
  // image's table, with fields holding image offsets for its loader to add the base to; an
  // executable at a fixed address has them applied and an empty table. bss starts on the first
  // page boundary (in memory) after the image.
  constexpr Image finish(Label entry) const { return link(entry, 0, false).image(); }
  constexpr Image finish(Label entry, std::uint64_t load_address) const { return link(entry, load_address, true).image(); }
  // The same image with its bytes still in a ByteVector: the constexpr assembly copies them
  // into its arrays from here, without making a std::vector first.
  constexpr Linked finish_linked(Label entry) const { return link(entry, 0, false); }
  constexpr Linked finish_linked(Label entry, std::uint64_t load_address) const { return link(entry, load_address, true); }

 private:
  // Branch forms after relaxation, and start[i] = total size of the items before item i.
  struct Layout {
    PodVector<std::uint32_t> start;
    PodVector<std::uint8_t> form;
  };
  constexpr Layout layout() const {
    const std::size_t n = items.size();
    PodVector<std::uint32_t> start_v(n + 1, 0);
    PodVector<std::uint8_t> form_v(n, 0);
    // Through plain pointers: each PodVector operator[] is an evaluated call in constant
    // evaluation, and these loops run over every item once per relaxation round.
    std::uint32_t* start = start_v.data();
    std::uint8_t* form = form_v.data();
    const Item* it = items.data();
    const Mark* label = labels.data();
    for (std::size_t i = 0; i < n; ++i) form[i] = it[i].form;
    auto sum_sizes = [&] {
      for (std::size_t i = 0; i < n; ++i) start[i + 1] = start[i] + Target::item_size(it[i].kind, form[i]);
    };
    for (std::size_t i = 0; i < n; ++i)
      if (label[it[i].label].at == unbound.at) detail::fail(errc::undefined_label, "(internal)");
    sum_sizes();
    for (bool grew = true; grew;) {
      grew = false;
      for (std::size_t i = 0; i < n; ++i) {
        const Mark to = label[it[i].label];
        const std::int64_t disp = (std::int64_t{to.at} + start[to.items]) - (std::int64_t{it[i].pos.at} + start[i]);
        while (!Target::item_fits(it[i].kind, form[i], disp)) {
          ++form[i];
          grew = true;
        }
      }
      if (grew) sum_sizes();
    }
    return Layout{std::move(start_v), std::move(form_v)};
  }

 public:
  // The size of the image finish() would make, without encoding it: the counting pass of
  // constexpr assembly needs only this.
  constexpr std::size_t image_size() const {
    const std::uint64_t code_size = bytes.size() + layout().start.back();
    return align_up(code_size, 8) + rodata.size();
  }

 private:
  constexpr Linked link(Label entry, std::uint64_t base, bool apply) const {
    const std::size_t n = items.size();
    const Layout laid = layout();
    const std::uint32_t* start = laid.start.data();  // pointers, as in layout()
    const std::uint8_t* form = laid.form.data();
    const Item* it = items.data();
    const Mark* label = labels.data();
    auto address = [&](Mark m) { return std::int64_t{m.at} + start[m.items]; };

    Linked img;
    const std::uint64_t code_size = bytes.size() + start[n];
    if (code_size + rodata.size() > std::uint64_t{std::numeric_limits<std::int32_t>::max()})
      detail::fail(errc::program_too_large, "code and data over 2 GiB");
    img.bytes.reserve(code_size + rodata.size() + 8);
    std::uint32_t copied = 0;
    for (std::size_t i = 0; i < n; ++i) {
      img.bytes.append(bytes.begin() + copied, bytes.begin() + it[i].pos.at);
      copied = it[i].pos.at;
      std::int64_t from = std::int64_t{copied} + start[i];
      Target::encode_item(img.bytes, it[i].kind, it[i].cond, form[i], address(label[it[i].label]) - from);
    }
    img.bytes.append(bytes.begin() + copied, bytes.end());
    img.code_size = code_size;

    // Read-only data starts 8-byte aligned after the code; the pad is int3 (0xCC) on AMD64 and
    // zeros elsewhere: it is never executed.
    while (img.bytes.size() % 8) img.bytes.push_back(Target::code_padding);
    const std::uint64_t rodata_at = img.bytes.size();
    img.bytes.append(rodata.begin(), rodata.end());
    img.bss_offset = align_up(base + img.bytes.size(), page_size) - base;
    img.bss_size = bss_size;
    img.entry = static_cast<std::uint64_t>(address(labels[entry.id]));
    if constexpr (requires { Target::elf_machine; }) img.machine = Target::elf_machine;

    for (const Reloc& r : relocs) {
      if (r.section == Section::code && labels[r.target].at == unbound.at) detail::fail(errc::undefined_label, "(internal)");
      std::uint64_t field = static_cast<std::uint64_t>(address(r.field));
      std::uint64_t value = r.section == Section::code     ? static_cast<std::uint64_t>(address(labels[r.target]))
                            : r.section == Section::rodata ? rodata_at + rodata_list[r.target].at
                                                           : img.bss_offset + r.target;
      value += base;
      le::store(img.bytes.data() + field, value);
      if (!apply) img.relocs.push_back(static_cast<std::uint32_t>(field));
    }
    return img;
  }
};

}  // namespace crumble::code
