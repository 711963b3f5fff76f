// SPDX-License-Identifier: Apache-2.0
// crumble/elf.hpp — a minimal static ELF64 executable around a linked image.
//
// File layout: ELF header, program headers, then the image (code + read-only data), all in one
// read+execute PT_LOAD segment mapped from file offset 0 at `load_base`. The zeroed bss gets its
// own read+write PT_LOAD (no file bytes) on the next page, and PT_GNU_STACK asks for a
// non-executable stack. No sections, no dynamic linking: the kernel maps it and jumps to e_entry.
#pragma once

#include <cstdint>
#include <vector>

#include "bytes.hpp"
#include "code/buffer.hpp"

namespace crumble::elf {

inline constexpr std::uint64_t load_base = 0x400000;
inline constexpr std::uint64_t header_size = 64;
inline constexpr std::uint64_t phdr_size = 56;
inline constexpr std::uint64_t phdr_count = 3;
inline constexpr std::uint64_t image_offset = header_size + phdr_size * phdr_count;  // image starts here
inline constexpr std::uint64_t image_address = load_base + image_offset;

namespace detail {
constexpr void phdr(std::vector<std::uint8_t>& v, std::uint32_t type, std::uint32_t flags, std::uint64_t offset,
                    std::uint64_t vaddr, std::uint64_t filesz, std::uint64_t memsz, std::uint64_t align) {
  le::append(v, type, 4);
  le::append(v, flags, 4);
  le::append(v, offset, 8);
  le::append(v, vaddr, 8);
  le::append(v, vaddr, 8);  // p_paddr
  le::append(v, filesz, 8);
  le::append(v, memsz, 8);
  le::append(v, align, 8);
}
}  // namespace detail

// `img` must have been linked at image_address (Buffer::finish(entry, image_address)).
// The ELF header and program headers (image_offset bytes) of an image of `image_size` bytes
// linked at image_address; the vector has room reserved for the image after them.
constexpr std::vector<std::uint8_t> headers(std::uint64_t entry, std::uint64_t image_size, std::uint64_t bss_offset,
                                            std::uint64_t bss_size, std::uint16_t machine) {
  // Not the <elf.h> names: they are macros there, and a program may include both.
  enum : std::uint32_t { pt_load = 1, pt_gnu_stack = 0x6474e551, pf_x = 1, pf_w = 2, pf_r = 4 };
  std::vector<std::uint8_t> v;
  v.reserve(image_offset + image_size);
  // e_ident: magic ("\x7f" "ELF"), 64-bit, little-endian, version 1, System V ABI. Byte by byte:
  // GCC 12 at -O2 warns falsely (-Wstringop-overflow) about an insert after the reserve.
  for (int b : {0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0}) v.push_back(static_cast<std::uint8_t>(b));
  le::append(v, 0, 8);
  le::append(v, 2, 2);  // ET_EXEC
  le::append(v, machine, 2);
  le::append(v, 1, 4);  // EV_CURRENT
  le::append(v, image_address + entry, 8);
  le::append(v, header_size, 8);  // e_phoff
  le::append(v, 0, 8);            // e_shoff: no sections
  le::append(v, 0, 4);            // e_flags
  le::append(v, header_size, 2);
  le::append(v, phdr_size, 2);
  le::append(v, phdr_count, 2);
  le::append(v, 64, 2);  // e_shentsize
  le::append(v, 0, 2);   // e_shnum
  le::append(v, 0, 2);   // e_shstrndx
  const std::uint64_t file_size = image_offset + image_size;
  detail::phdr(v, pt_load, pf_r | pf_x, 0, load_base, file_size, file_size, code::page_size);
  // bss: a separate page so it can be writable while the code is not. With no bss this is an
  // empty segment, which loaders accept and skip.
  const std::uint64_t bss = image_address + bss_offset;
  detail::phdr(v, pt_load, pf_r | pf_w, bss - load_base, bss, 0, bss_size, code::page_size);
  detail::phdr(v, pt_gnu_stack, pf_r | pf_w, 0, 0, 0, 0, 16);
  return v;
}

constexpr std::vector<std::uint8_t> file(const code::Image& img, std::uint16_t machine) {
  std::vector<std::uint8_t> v = headers(img.entry, img.bytes.size(), img.bss_offset, img.bss_size, machine);
  v.insert(v.end(), img.bytes.begin(), img.bytes.end());
  return v;
}

}  // namespace crumble::elf
