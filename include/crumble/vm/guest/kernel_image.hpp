// SPDX-License-Identifier: Apache-2.0
// crumble/vm/guest/kernel_image.hpp — is this file a Linux kernel we can boot, for this guest
// architecture? One set of checks, before any VM is made: the QEMU engine runs them on the file it
// is given, and the KVM engine's loader (linux_x86.hpp) on the bytes it loads. x86-64 kernels are
// bzImages or ELF vmlinux files; ARM64 and RISC-V kernels are the "Image" format their boot
// documents describe (Documentation/arch/arm64/booting.rst, riscv/boot-image-header.rst: a 64-byte
// header with a magic at 0x38, in Debian's packages also a PE/COFF file for the EFI stub) or ELF.
// A kernel of another architecture is refused naming what it is.
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
#include "arch.hpp"

namespace crumble::vm {
// image: the ARM64 / RISC-V Image format (booting.rst), which QEMU's -kernel loads as it is.
enum class KernelFormat { bzimage, elf, image };

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

inline KernelFormat check_elf_kernel(const std::vector<unsigned char>& h, std::uint64_t size, GuestArch arch = GuestArch::amd64) {
  constexpr std::uint64_t ehdr = 64;
  const GuestArchInfo& want = arch_info(arch);
  if (size < ehdr) {
    throw std::invalid_argument("truncated ELF: the ELF64 header needs 64 bytes, file has " + std::to_string(size));
  }
  if (h[4] != 2) throw std::invalid_argument("not a 64-bit kernel: ELF class " + std::to_string(h[4]) + ", expected ELFCLASS64 (2)");
  if (h[5] != 1) throw std::invalid_argument("not " + std::string(want.a_display) + " kernel: ELF data encoding is not little-endian");
  unsigned machine = static_cast<unsigned>(le::load_n(&h[18], 2));
  if (machine != want.elf_machine) {
    throw std::invalid_argument("not " + std::string(want.a_display) + " kernel: ELF machine " + std::to_string(machine) + " (" +
                                std::string(elf_machine_name(machine)) + "), expected " + std::to_string(want.elf_machine) + " (" +
                                std::string(elf_machine_name(want.elf_machine)) + ")");
  }
  unsigned type = static_cast<unsigned>(le::load_n(&h[16], 2));
  // An ARM64 or RISC-V vmlinux built relocatable is position-independent (ET_DYN).
  const bool dyn_ok = arch != GuestArch::amd64 && type == 3;
  if (type != 2 && !dyn_ok) throw std::invalid_argument("not a vmlinux: ELF type " + std::to_string(type) + ", expected ET_EXEC (2)");
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

namespace detail {
// The Image header's magic at 0x38: "ARM\x64" for ARM64, "RSC\x05" for RISC-V (whose older
// 8-byte magic "RISCV\0\0\0" at 0x30 is deprecated but still written).
inline constexpr std::uint32_t arm64_image_magic = 0x644d5241, riscv_image_magic = 0x05435352;

inline bool has_bzimage_header(std::span<const unsigned char> f) {
  return f.size() >= 0x206 && le::load_n(&f[0x1fe], 2) == 0xAA55 && std::memcmp(&f[0x202], "HdrS", 4) == 0;
}

// Checks an ARM64 or RISC-V Image: the 64-byte header with its magic, little-endian, and, where
// the Image is also a PE/COFF file (the EFI stub: "MZ" at 0, the PE header's offset at 0x3c), every
// section's raw data inside the file, so a truncated download is refused here, not by a guest that
// never prints.
inline KernelFormat check_image_kernel(std::span<const unsigned char> f, GuestArch arch) {
  const std::string name = std::string(arch_info(arch).display) + " kernel Image";
  if (f.size() < 64) throw std::invalid_argument("truncated " + name + ": the header needs 64 bytes, file has " + std::to_string(f.size()));
  if (arch == GuestArch::arm64 && (le::load_n(&f[0x18], 8) & 1))
    throw std::invalid_argument("not a little-endian " + name + ": header flags say big-endian");
  if (f[0] != 'M' || f[1] != 'Z') return KernelFormat::image;  // no EFI stub: nothing more to check
  const std::uint64_t pe = le::load_n(&f[0x3c], 4);
  if (pe > f.size() || f.size() - pe < 24 || std::memcmp(&f[pe], "PE\0\0", 4) != 0)
    throw std::invalid_argument("truncated or damaged " + name + ": no PE header at " + std::to_string(pe) + " (file has " +
                                std::to_string(f.size()) + " bytes)");
  const std::uint64_t sections = le::load_n(&f[pe + 6], 2), optional = le::load_n(&f[pe + 20], 2);
  const std::uint64_t table = pe + 24 + optional;
  if (table > f.size() || (f.size() - table) / 40 < sections)
    throw std::invalid_argument("truncated " + name + ": its PE section table runs past the end of the file (" + std::to_string(f.size()) +
                                " bytes)");
  for (std::uint64_t i = 0; i < sections; ++i) {
    const unsigned char* sh = &f[table + i * 40];
    const std::uint64_t raw_size = le::load_n(sh + 16, 4), raw_at = le::load_n(sh + 20, 4);
    if (raw_at + raw_size > f.size())
      throw std::invalid_argument("truncated " + name + ": section " + std::to_string(i) + " ends at " + std::to_string(raw_at + raw_size) +
                                  " bytes, file has " + std::to_string(f.size()));
  }
  return KernelFormat::image;
}
}  // namespace detail

// Which architecture a kernel file is for, by its header alone (no other check): an x86 bzImage,
// an ARM64 or RISC-V Image, or an ELF file's machine. Empty when it is none of these.
inline std::optional<GuestArch> kernel_arch(std::span<const unsigned char> f) {
  if (f.size() >= 20 && f[0] == 0x7f && f[1] == 'E' && f[2] == 'L' && f[3] == 'F') {
    return guest_arch_of_elf_machine(static_cast<unsigned>(le::load_n(&f[18], 2)));
  }
  if (f.size() >= 64) {
    const std::uint32_t magic = static_cast<std::uint32_t>(le::load_n(&f[0x38], 4));
    if (magic == detail::arm64_image_magic) return GuestArch::arm64;
    if (magic == detail::riscv_image_magic) return GuestArch::riscv64;
  }
  if (detail::has_bzimage_header(f)) return GuestArch::amd64;
  return std::nullopt;
}

// What a kernel file is, in words, for messages: "an ARM64 kernel Image", "an x86-64 bzImage",
// "an ELF kernel for machine 40 (ARM)", "not a Linux kernel this can tell".
inline std::string describe_kernel(std::span<const unsigned char> f) {
  if (f.size() >= 20 && f[0] == 0x7f && f[1] == 'E' && f[2] == 'L' && f[3] == 'F') {
    const unsigned machine = static_cast<unsigned>(le::load_n(&f[18], 2));
    return "an ELF kernel for machine " + std::to_string(machine) + " (" + std::string(detail::elf_machine_name(machine)) + ")";
  }
  const std::optional<GuestArch> a = kernel_arch(f);
  if (!a) return "not a Linux kernel this can tell (no bzImage, Image or ELF header)";
  if (*a == GuestArch::amd64) return "an x86-64 bzImage";
  return std::string(arch_info(*a).a_display) + " kernel Image";
}

// The checks for a kernel of `arch`: for x86-64, check_kernel_bytes(file) below; for ARM64 and
// RISC-V, an Image (detail::check_image_kernel) or an ELF64 little-endian file of that machine. A
// kernel recognisably for another architecture throws std::invalid_argument saying what it is.
inline KernelFormat check_kernel_bytes(std::span<const unsigned char> file, GuestArch arch);

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

inline KernelFormat check_kernel_bytes(std::span<const unsigned char> file, GuestArch arch) {
  if (file.empty()) throw std::invalid_argument("not a Linux kernel: file is empty");
  const std::optional<GuestArch> is = kernel_arch(file);
  if (is && *is != arch) {
    throw std::invalid_argument(describe_kernel(file) + ", not " + std::string(arch_info(arch).a_display) + " kernel (the guest is " +
                                std::string(arch_info(arch).name) + ")");
  }
  if (arch == GuestArch::amd64) return check_kernel_bytes(file);
  if (!is) throw std::invalid_argument("not " + std::string(arch_info(arch).a_display) + " kernel: " + describe_kernel(file));
  if (file[0] == 0x7f && file[1] == 'E') {
    std::vector<unsigned char> h(64, 0);
    std::copy_n(file.begin(), std::min<std::size_t>(file.size(), h.size()), h.begin());
    return detail::check_elf_kernel(h, file.size(), arch);
  }
  return detail::check_image_kernel(file, arch);
}

// The same for a file of `arch`.
inline KernelFormat check_kernel_image(const std::filesystem::path& path, GuestArch arch) {
  return check_kernel_bytes(read_kernel_file(path), arch);
}

}  // namespace crumble::vm
