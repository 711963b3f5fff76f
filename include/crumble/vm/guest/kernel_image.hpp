// SPDX-License-Identifier: Apache-2.0
// crumble/vm/guest/kernel_image.hpp — is this file an x86-64 Linux kernel we can boot? One set of
// checks, before any VM is made: the QEMU engine runs them on the file it is given, and the KVM
// engine's loader (linux_x86.hpp) on the bytes it loads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "../../bytes.hpp"
#include "../host/input_file.hpp"

namespace crumble::vm {
enum class KernelFormat { bzimage, elf };

namespace detail {

inline std::string_view elf_machine_name(unsigned m) {
  switch (m) {
    case 3: return "i386";
    case 40: return "ARM";
    case 62: return "x86-64";
    case 183: return "AArch64";
    case 243: return "RISC-V";
    default: return "unknown";
  }
}

inline KernelFormat check_elf_kernel(const std::vector<unsigned char>& h, std::uint64_t size) {
  constexpr std::uint64_t ehdr = 64;
  if (size < ehdr) {
    throw std::invalid_argument("truncated ELF: the ELF64 header needs 64 bytes, file has " + std::to_string(size));
  }
  if (h[4] != 2) throw std::invalid_argument("not a 64-bit kernel: ELF class " + std::to_string(h[4]) + ", expected ELFCLASS64 (2)");
  if (h[5] != 1) throw std::invalid_argument("not an x86-64 kernel: ELF data encoding is not little-endian");
  unsigned machine = static_cast<unsigned>(le::load_n(&h[18], 2));
  if (machine != 62) {
    throw std::invalid_argument("not an x86-64 kernel: ELF machine " + std::to_string(machine) + " (" +
                                std::string(elf_machine_name(machine)) + "), expected 62 (x86-64)");
  }
  unsigned type = static_cast<unsigned>(le::load_n(&h[16], 2));
  if (type != 2) throw std::invalid_argument("not a vmlinux: ELF type " + std::to_string(type) + ", expected ET_EXEC (2)");
  return KernelFormat::elf;
}
}  // namespace detail

// A loadable segment (PT_LOAD) of an ELF vmlinux, checked to lie inside the file: the loader
// (engine/kvm/linux_x86.hpp) copies these and nothing else, so the checker's notion of "loadable"
// is the loader's.
struct ElfSegment {
  std::uint64_t offset, filesz, vaddr, paddr, memsz;
};

// What the loader needs of an ELF64 x86-64 vmlinux, read once by parse_elf_kernel.
struct ElfKernel {
  std::uint64_t entry = 0;          // e_entry as the file gives it
  std::vector<ElfSegment> loads;    // every PT_LOAD, in header order, each inside the file
  // The PVH entry of a vmlinux built with CONFIG_PVH: Xen's XEN_ELFNOTE_PHYS32_ENTRY note (name
  // "Xen", type 18), a physical address to enter in 32-bit protected mode with paging off. Its
  // description is 4 bytes, or 8 where the kernel emits it as a pointer (x86-64 before 6.x).
  // Empty when there is no such note.
  std::optional<std::uint32_t> pvh_entry;
};

namespace detail {
inline constexpr std::uint32_t pt_load = 1, pt_note = 4;

// Reads the notes of one PT_NOTE segment [off, off + filesz) (inside the file) for the PVH entry;
// a note that runs past its segment, or a PVH note of another size or above 4 GiB, throws.
inline void scan_notes(std::span<const unsigned char> file, std::uint64_t i, std::uint64_t off, std::uint64_t filesz,
                       std::uint64_t align, std::optional<std::uint32_t>& entry) {
  // A note's description and the next note start at its alignment from the note's start: 4
  // bytes, or 8 in a segment aligned to 8 (as readelf reads them).
  const std::uint64_t a = align == 8 ? 8 : 4;
  auto pad = [a](std::uint64_t n) { return (n + a - 1) & ~(a - 1); };
  for (std::uint64_t at = 0; at + 12 <= filesz;) {
    const unsigned char* n = file.data() + off + at;
    const std::uint64_t namesz = le::load_n(n, 4), descsz = le::load_n(n + 4, 4), type = le::load_n(n + 8, 4);
    const std::uint64_t desc_at = pad(12 + namesz);
    if (desc_at > filesz - at || descsz > filesz - at - desc_at) {
      throw std::invalid_argument("bad ELF note at byte " + std::to_string(at) + " of note segment " + std::to_string(i) + ": its name (" +
                                  std::to_string(namesz) + " bytes) and description (" + std::to_string(descsz) +
                                  " bytes) run past the segment's " + std::to_string(filesz) + " bytes");
    }
    if (namesz == 4 && std::memcmp(n + 12, "Xen", 4) == 0 && type == 18) {
      if (descsz != 4 && descsz != 8) {
        throw std::invalid_argument("bad PVH entry note (Xen PHYS32_ENTRY): a " + std::to_string(descsz) +
                                    "-byte description, expected 4 or 8");
      }
      const std::uint64_t v = le::load_n(n + desc_at, static_cast<int>(descsz));
      if (v > 0xffffffff) {
        char h[24];
        std::snprintf(h, sizeof h, "0x%llx", static_cast<unsigned long long>(v));
        throw std::invalid_argument(std::string("bad PVH entry note (Xen PHYS32_ENTRY): entry ") + h + " is not a 32-bit address");
      }
      if (!entry) entry = static_cast<std::uint32_t>(v);
    }
    at += desc_at + pad(descsz);
  }
}
}  // namespace detail

// Parses and checks an ELF64 x86-64 vmlinux in one pass over its program headers: the ELF header,
// the program header table, every PT_LOAD and PT_NOTE segment inside the file (p_type compared
// whole: 0x00010001 is not PT_LOAD), and every note well-formed. Work is linear in the file: the
// note segments together may not hold more bytes than the file (a real vmlinux has one; many
// headers over one run of notes would otherwise be scanned once per header). Anything wrong
// throws std::invalid_argument saying which check failed.
inline ElfKernel parse_elf_kernel(std::span<const unsigned char> file) {
  const std::uint64_t size = file.size();
  std::vector<unsigned char> h(64, 0);
  std::copy_n(file.begin(), std::min<std::uint64_t>(size, h.size()), h.begin());
  detail::check_elf_kernel(h, size);
  ElfKernel k;
  k.entry = le::load_n(&h[24], 8);
  // Program headers and the segments they describe must lie inside the file.
  const std::uint64_t phoff = le::load_n(&h[32], 8), phentsize = le::load_n(&h[54], 2), phnum = le::load_n(&h[56], 2);
  if (phnum == 0) throw std::invalid_argument("not a vmlinux: ELF has no program headers");
  if (phentsize != 56) throw std::invalid_argument("not a vmlinux: ELF program header size " + std::to_string(phentsize) + ", expected 56");
  if (phoff > size || phnum * 56 > size - phoff) {
    throw std::invalid_argument("truncated ELF: program headers end at " + std::to_string(phoff + phnum * 56) + " bytes, file has " +
                                std::to_string(size));
  }
  std::uint64_t note_bytes = 0;
  for (std::uint64_t i = 0; i < phnum; ++i) {
    const unsigned char* p = file.data() + phoff + i * 56;
    const std::uint64_t type = le::load_n(p, 4);
    if (type != detail::pt_load && type != detail::pt_note) continue;
    const std::uint64_t off = le::load_n(p + 8, 8), filesz = le::load_n(p + 32, 8);
    if (type == detail::pt_load) {
      if (off > size || filesz > size - off) {
        throw std::invalid_argument("truncated ELF: segment " + std::to_string(i) + " ends at " + std::to_string(off + filesz) +
                                    " bytes, file has " + std::to_string(size));
      }
      const std::uint64_t memsz = le::load_n(p + 40, 8);
      if (filesz > memsz)
        throw std::invalid_argument("bad ELF: segment " + std::to_string(i) + " holds more bytes in the file (" + std::to_string(filesz) +
                                    ") than in memory (" + std::to_string(memsz) + ")");
      k.loads.push_back({off, filesz, le::load_n(p + 16, 8), le::load_n(p + 24, 8), memsz});
      continue;
    }
    if (off > size || filesz > size - off) {
      throw std::invalid_argument("truncated ELF: note segment " + std::to_string(i) + " (" + std::to_string(filesz) + " bytes at " +
                                  std::to_string(off) + ") runs past the end of the file, which has " + std::to_string(size) + " bytes");
    }
    note_bytes += filesz;  // each filesz <= size: no wrap before the check below trips
    if (note_bytes > size) {
      throw std::invalid_argument("bad ELF: the note segments (through segment " + std::to_string(i) + ") hold " + std::to_string(note_bytes) +
                                  " bytes, more than the file's " + std::to_string(size) + ": they overlap");
    }
    detail::scan_notes(file, i, off, filesz, le::load_n(p + 48, 8), k.pvh_entry);
  }
  return k;
}

// The PVH entry alone (parse_elf_kernel's), for callers that want only that.
inline std::optional<std::uint32_t> elf_pvh_entry(std::span<const unsigned char> file) { return parse_elf_kernel(file).pvh_entry; }

// Checks a kernel image before a VM is made. A bzImage must have the boot sector signature, the
// "HdrS" setup header with boot protocol >= 2.12 (64-bit entry: XLF_KERNEL_64), be loaded high,
// relocatable, and the file must hold the setup sectors plus the syssize the header declares. An
// ELF must be an ELF64 little-endian x86-64 executable whose loadable and note segments lie inside
// the file, with well-formed notes (elf_pvh_entry). Anything else throws std::invalid_argument
// saying which check failed.
inline KernelFormat check_kernel_bytes(std::span<const unsigned char> file) {
  const std::uint64_t size = file.size();
  std::vector<unsigned char> h(0x240, 0);
  const std::uint64_t got = std::min<std::uint64_t>(size, h.size());
  std::copy_n(file.begin(), got, h.begin());

  if (size == 0) throw std::invalid_argument("not a Linux kernel: file is empty");
  if (got >= 4 && h[0] == 0x7f && h[1] == 'E' && h[2] == 'L' && h[3] == 'F') {
    parse_elf_kernel(file);
    return KernelFormat::elf;
  }

  // x86 boot protocol: the setup header lives at 0x1f1..0x268 in the first sectors.
  constexpr std::uint64_t header_end = 0x238;  // through xloadflags (0x236, 2 bytes)
  if (size < header_end) {
    throw std::invalid_argument("not a Linux kernel: " + std::to_string(size) +
                                " bytes is too small for a boot sector and setup header (" +
                                std::to_string(header_end) + ")");
  }
  if (le::load_n(&h[0x1fe], 2) != 0xAA55) throw std::invalid_argument("not a Linux kernel: no boot sector signature 0xAA55 at 510");
  if (std::memcmp(&h[0x202], "HdrS", 4) != 0) throw std::invalid_argument("not a Linux kernel: no HdrS signature");
  unsigned protocol = static_cast<unsigned>(le::load_n(&h[0x206], 2));
  if (protocol < 0x020c) {
    char v[16];
    std::snprintf(v, sizeof v, "%u.%02u", protocol >> 8, protocol & 0xff);
    throw std::invalid_argument(std::string("bzImage boot protocol ") + v +
                                " is older than 2.12 (needed for the 64-bit entry point)");
  }
  if (!(h[0x211] & 0x01)) throw std::invalid_argument("not a bzImage: a zImage (not LOADED_HIGH) is not supported");
  if (!(le::load_n(&h[0x236], 2) & 0x01)) throw std::invalid_argument("bzImage has no 64-bit entry point (XLF_KERNEL_64 not set)");
  if (h[0x234] == 0) throw std::invalid_argument("bzImage is not relocatable (relocatable_kernel is 0)");
  std::uint64_t setup_sects = h[0x1f1] ? h[0x1f1] : 4;
  std::uint64_t syssize = le::load_n(&h[0x1f4], 4);  // in 16-byte paragraphs
  std::uint64_t declared = (setup_sects + 1) * 512 + syssize * 16;
  if (syssize == 0) throw std::invalid_argument("not a bzImage: syssize is 0");
  if (size < declared) {
    throw std::invalid_argument("truncated bzImage: header says " + std::to_string(declared) + " bytes, file has " +
                                std::to_string(size));
  }
  return KernelFormat::bzimage;
}

// The largest kernel file read: a vmlinux with debug info is a few hundred MiB; anything larger
// (a 16 GiB sparse file) is refused before a byte is read.
inline constexpr std::uint64_t max_kernel_bytes = std::uint64_t{1} << 30;

// A kernel file read whole, through host/input_file.hpp (a FIFO, a device or a file over
// max_kernel_bytes is refused at once); std::invalid_argument when it cannot be.
inline std::vector<unsigned char> read_kernel_file(const std::filesystem::path& path) {
  return open_input<std::invalid_argument>(path, "kernel image", {.max_size = max_kernel_bytes}).read_all<std::invalid_argument>();
}

// The same checks for a file, read whole (a kernel is a few MiB).
inline KernelFormat check_kernel_image(const std::filesystem::path& path) { return check_kernel_bytes(read_kernel_file(path)); }

}  // namespace crumble::vm
