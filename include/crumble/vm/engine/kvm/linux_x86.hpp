// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/kvm/linux_x86.hpp — loading an x86-64 Linux kernel into a KVM machine (the boot protocol,
// Documentation/arch/x86/boot.rst), to enter it at its 64-bit entry point.
//
//   kvm::Machine vm(kvm, 256 << 20);
//   LinuxImage k = LinuxImage::read("bzImage");          // validated before any VM is made
//   vm.create_irqchip();                                 // TSS address, irqchip, PIT
//   auto cpus = add_linux_vcpus(vm, 2, &kvm.supported_cpuid());  // CPUID and boot MSRs per vCPU
//   BootSetup b = load_linux(vm, k, {.cmdline = "...", .initrd = bytes});
//   enter_linux(*cpus[0], b);                            // long mode, rsi = boot_params
//
// Guest-physical layout the loader uses (all below 1 MiB but the kernel and the initrd):
//
//   0x1000 GDT   0x2000 PML4   0x3000 PDPT   0x4000-0x7fff PD (identity, 4 GiB, 2 MiB pages)
//   0x8ff0 stack top (the protocol gives none; a valid one costs nothing)   0x9000 boot_params
//   0xa000 command line (up to 4 KiB)   kernel at its preferred address   initrd at the top of RAM
//
// The e820 map says: RAM below 0x9fc00, reserved to 1 MiB (legacy BIOS area), RAM from 1 MiB to
// the end of RAM, and every MMIO region of the machine reserved, the holes punched into RAM
// (kvm::Machine::punch_mmio_hole) too. The initrd lies in RAM and is named by the boot_params
// ramdisk fields, as the protocol asks; nothing is loaded into a hole.
//
// An ELF vmlinux built with CONFIG_PVH also has a PVH entry (Xen's PHYS32_ENTRY note: 32-bit
// protected mode, paging off, an hvm_start_info in ebx). The loader records it
// (LinuxImage::pvh_entry) for hosts and loaders that want it, QEMU among them, which boots a
// vmlinux only that way, but enters at the 64-bit entry for both formats: one boot protocol, one
// zero page with the e820 map and command line, no start_info to build, and a kernel without PVH
// boots the same way.
#pragma once

#include <algorithm>
#include <filesystem>
#include <optional>
#include <span>

#include "../../../bytes.hpp"
#include "../../guest/kernel_image.hpp"
#include "cpuid.hpp"
#include "kvm.hpp"
#include "msr.hpp"

namespace crumble::vm {

struct LinuxImage {
  enum class Format { bzimage, elf } format;
  std::vector<std::uint8_t> file;
  // bzImage
  std::uint32_t setup_bytes = 0;     // (setup_sects + 1) * 512: where the 64-bit kernel starts in the file
  std::uint16_t protocol = 0;        // boot protocol version (0x020c = 2.12)
  std::uint64_t pref_address = 0;    // where it wants to be loaded
  std::uint32_t alignment = 0;       // kernel_alignment
  std::uint32_t init_size = 0;       // memory it needs from its load address while it boots
  std::uint32_t cmdline_max = 255;   // cmdline_size
  std::uint32_t initrd_max = 0x37ffffff;
  // ELF vmlinux
  std::uint64_t elf_entry_phys = 0;
  std::vector<ElfSegment> segments;        // the checked PT_LOAD segments: all place_elf copies
  std::optional<std::uint32_t> pvh_entry;  // recorded, not used: see the top of this file

  // Reads and validates a kernel (kernel_image.hpp: a bzImage with the 64-bit entry, or an ELF64
  // x86-64 vmlinux). Anything else, or a truncated file, throws ConfigError saying which check
  // failed.
  static LinuxImage read(const std::filesystem::path& p) {
    std::vector<std::uint8_t> bytes;
    try {
      bytes = read_kernel_file(p);  // a regular file, at most max_kernel_bytes (host/input_file.hpp)
    } catch (const std::invalid_argument& e) {
      throw ConfigError(e.what());
    }
    return parse(std::move(bytes), p.string());
  }

  // The fields the loader needs; the file is checked and, for an ELF, parsed once
  // (kernel_image.hpp), so these reads are in bounds and the segments are the checked ones.
  static LinuxImage parse(std::vector<std::uint8_t> f, const std::string& name = "kernel") {
    KernelFormat format;
    std::optional<ElfKernel> elf;
    try {
      const bool is_elf = f.size() >= 4 && f[0] == 0x7f && f[1] == 'E' && f[2] == 'L' && f[3] == 'F';
      if (is_elf) elf = parse_elf_kernel(f);
      format = is_elf ? KernelFormat::elf : check_kernel_bytes(f);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(name + ": " + e.what());
    }
    auto u8 = [&](std::size_t o) -> std::uint64_t { return f[o]; };
    auto u16 = [&](std::size_t o) -> std::uint64_t { return le::load<std::uint16_t>(f.data() + o); };
    auto u32 = [&](std::size_t o) -> std::uint64_t { return le::load<std::uint32_t>(f.data() + o); };
    auto u64 = [&](std::size_t o) -> std::uint64_t { return le::load<std::uint64_t>(f.data() + o); };
    LinuxImage k;
    if (format == KernelFormat::elf) {
      const std::uint64_t entry = elf->entry;
      bool found = false;
      for (const ElfSegment& s : elf->loads) {
        // x86 vmlinux gives its entry as a physical address; other ELF kernels as a virtual one
        if (entry >= s.paddr && entry - s.paddr < s.memsz) {
          k.elf_entry_phys = entry;
          found = true;
        } else if (!found && entry >= s.vaddr && entry - s.vaddr < s.memsz) {
          k.elf_entry_phys = entry - s.vaddr + s.paddr;
          found = true;
        }
      }
      if (!found) throw ConfigError(name + ": the ELF entry point is in no loadable segment");
      k.pvh_entry = elf->pvh_entry;
      if (k.pvh_entry) {
        const bool loaded = std::any_of(elf->loads.begin(), elf->loads.end(),
                                        [&](const ElfSegment& s) { return *k.pvh_entry >= s.paddr && *k.pvh_entry - s.paddr < s.memsz; });
        char h[16];
        std::snprintf(h, sizeof h, "0x%x", *k.pvh_entry);
        if (!loaded) throw ConfigError(name + ": the PVH entry note gives " + h + ", which is in no loadable segment");
      }
      k.segments = std::move(elf->loads);
      k.format = Format::elf;
      k.file = std::move(f);
      return k;
    }
    k.format = Format::bzimage;
    k.protocol = static_cast<std::uint16_t>(u16(0x206));
    k.setup_bytes = static_cast<std::uint32_t>(((u8(0x1f1) ? u8(0x1f1) : 4) + 1) * 512);
    k.alignment = static_cast<std::uint32_t>(u32(0x230));
    if (k.alignment == 0 || (k.alignment & (k.alignment - 1))) throw ConfigError(name + ": bad kernel_alignment");
    k.cmdline_max = static_cast<std::uint32_t>(u32(0x238));
    k.initrd_max = static_cast<std::uint32_t>(u32(0x22c));
    k.pref_address = u64(0x258);  // a valid bzImage holds at least two sectors of setup: 0x264 is in
    k.init_size = static_cast<std::uint32_t>(u32(0x260));
    k.file = std::move(f);
    return k;
  }
};

struct LinuxBootOptions {
  std::string cmdline;
  std::span<const std::uint8_t> initrd;
};

// Where things went, for the vCPU and for tests.
struct BootSetup {
  std::uint64_t entry = 0;        // 64-bit entry point
  std::uint64_t boot_params = 0;  // the zero page
  std::uint64_t kernel = 0, kernel_end = 0;
  std::uint64_t cmdline = 0;
  std::uint64_t initrd = 0, initrd_size = 0;
  struct E820 {
    std::uint64_t addr, size;
    std::uint32_t type;  // 1 RAM, 2 reserved
  };
  std::vector<E820> e820;
};

namespace linux_x86 {
inline constexpr std::uint64_t gdt = 0x1000, pml4 = 0x2000, pdpt = 0x3000, pd = 0x4000, stack_top = 0x8ff0, boot_params = 0x9000,
                                cmdline = 0xa000, cmdline_room = 0x1000;
inline constexpr std::uint16_t boot_cs = 0x10, boot_ds = 0x18;  // __BOOT_CS, __BOOT_DS

// A host pointer to guest RAM [gpa, gpa + len), only through kvm::Machine::guest(): it knows the
// holes. `what` names the range in the error.
inline std::uint8_t* guest_range(kvm::Machine& m, std::uint64_t gpa, std::uint64_t len, const char* what) {
  std::uint8_t* p = m.guest(gpa, len);
  if (!p) {
    char where[64];
    std::snprintf(where, sizeof where, " [0x%llx, 0x%llx)", static_cast<unsigned long long>(gpa), static_cast<unsigned long long>(gpa + len));
    throw ConfigError(std::string(what) + where + " is not in the guest's RAM, or overlaps an MMIO hole: give the VM more memory");
  }
  return p;
}

// A bzImage: its 64-bit kernel at the preferred (aligned) address, with room for init_size, and
// its setup header copied into the zero page `bp` as the file has it (0x1f1 to its end).
inline void place_bzimage(kvm::Machine& m, const LinuxImage& k, std::uint8_t* bp, BootSetup& b) {
  const std::uint64_t align = k.alignment;
  std::uint64_t base = k.pref_address ? k.pref_address : 0x1000000;
  base = (base + align - 1) & ~(align - 1);
  const std::uint64_t payload = k.file.size() - k.setup_bytes;
  const std::uint64_t need = std::max<std::uint64_t>(payload, k.init_size);
  if (base + need > m.memory_size()) throw ConfigError("the kernel needs " + std::to_string((base + need) >> 20) + " MiB of RAM at least");
  std::memcpy(guest_range(m, base, need, "the kernel"), k.file.data() + k.setup_bytes, payload);
  b.kernel = base;
  b.kernel_end = base + need;
  b.entry = base + 0x200;  // startup_64
  const std::size_t header_end = 0x202 + k.file[0x201];
  std::memcpy(bp + 0x1f1, k.file.data() + 0x1f1, std::min<std::size_t>(header_end, k.file.size()) - 0x1f1);
}

// An ELF vmlinux: each loadable segment at its physical address, and a minimal setup header in
// the zero page for a kernel that has none: boot flag, HdrS, protocol 2.15.
inline void place_elf(kvm::Machine& m, const LinuxImage& k, std::uint8_t* bp, BootSetup& b) {
  const std::uint64_t ram = m.memory_size();
  b.kernel = ~std::uint64_t{0};
  for (const ElfSegment& s : k.segments) {  // checked against the file by parse_elf_kernel
    if (s.paddr > ram || s.memsz > ram - s.paddr) throw ConfigError("a kernel segment lies outside the guest's RAM: give it more memory");
    std::uint8_t* p = guest_range(m, s.paddr, s.memsz, "a kernel segment");
    std::memcpy(p, k.file.data() + s.offset, s.filesz);
    std::memset(p + s.filesz, 0, s.memsz - s.filesz);
    b.kernel = std::min(b.kernel, s.paddr);
    b.kernel_end = std::max(b.kernel_end, s.paddr + s.memsz);
  }
  b.entry = k.elf_entry_phys;
  le::store<std::uint16_t>(bp + 0x1fe, 0xaa55);
  le::store<std::uint32_t>(bp + 0x202, 0x53726448);
  le::store<std::uint16_t>(bp + 0x206, 0x020f);
}

// The initrd at the top of RAM (below the kernel's limit), page-aligned.
inline void place_initrd(kvm::Machine& m, const LinuxImage& k, std::span<const std::uint8_t> initrd, BootSetup& b) {
  if (initrd.empty()) return;
  const std::uint64_t limit = std::min<std::uint64_t>(m.memory_size(), std::uint64_t{k.initrd_max} + 1);
  const std::uint64_t base = (limit - initrd.size()) & ~std::uint64_t{0xfff};
  if (initrd.size() > limit || base < b.kernel_end) throw ConfigError("the initrd does not fit in RAM above the kernel: give the VM more memory");
  std::memcpy(guest_range(m, base, initrd.size(), "the initrd"), initrd.data(), initrd.size());
  b.initrd = base;
  b.initrd_size = initrd.size();
}

// The e820 map: RAM around the holes, the legacy area and each hole reserved, in address order;
// then the MMIO regions above RAM.
inline std::vector<BootSetup::E820> e820_map(const kvm::Machine& m) {
  const std::uint64_t ram = m.memory_size();
  std::vector<BootSetup::E820> map, holes;
  for (const kvm::MmioRegion& h : m.mmio_holes()) holes.push_back({h.base, h.size, 2});
  std::sort(holes.begin(), holes.end(), [](const auto& x, const auto& y) { return x.addr < y.addr; });
  for (BootSetup::E820 r : {BootSetup::E820{0, 0x9fc00, 1}, BootSetup::E820{0x100000, ram - 0x100000, 1}}) {
    for (const BootSetup::E820& h : holes) {
      if (h.addr + h.size <= r.addr || h.addr >= r.addr + r.size) continue;
      if (h.addr > r.addr) map.push_back({r.addr, h.addr - r.addr, 1});
      const std::uint64_t end = r.addr + r.size;
      r.addr = std::min(end, h.addr + h.size);
      r.size = end - r.addr;
    }
    if (r.size) map.push_back(r);
  }
  map.push_back({0x9fc00, 0x100000 - 0x9fc00, 2});
  map.insert(map.end(), holes.begin(), holes.end());
  std::sort(map.begin(), map.end(), [](const auto& x, const auto& y) { return x.addr < y.addr; });
  for (const kvm::MmioRegion& r : m.mmio_regions()) map.push_back({r.base, r.size, 2});
  if (map.size() > 128) throw ConfigError("the e820 map has more than 128 entries: too many MMIO holes");
  return map;
}

// The boot_params fields the loader owns: loader type and flags, heap, command line, ramdisk,
// and the e820 table.
inline void fill_boot_params(std::uint8_t* bp, const BootSetup& b) {
  bp[0x210] = 0xff;                                           // type_of_loader: undefined
  bp[0x211] |= 0x80 | 0x01;                                   // loadflags: CAN_USE_HEAP, LOADED_HIGH
  le::store<std::uint16_t>(bp + 0x224, 0xfe00);               // heap_end_ptr
  le::store<std::uint32_t>(bp + 0x228, cmdline);              // cmd_line_ptr
  le::store_n(bp + 0x218, b.initrd & 0xffffffff, 4);          // ramdisk_image
  le::store_n(bp + 0x21c, b.initrd_size & 0xffffffff, 4);     // ramdisk_size
  le::store_n(bp + 0x0c0, b.initrd >> 32, 4);                 // ext_ramdisk_image
  le::store_n(bp + 0x0c4, b.initrd_size >> 32, 4);            // ext_ramdisk_size
  bp[0x1e8] = static_cast<std::uint8_t>(b.e820.size());       // e820_entries
  for (std::size_t i = 0; i < b.e820.size(); ++i) {
    std::uint8_t* e = bp + 0x2d0 + 20 * i;
    le::store<std::uint64_t>(e, b.e820[i].addr);
    le::store<std::uint64_t>(e + 8, b.e820[i].size);
    le::store<std::uint32_t>(e + 16, b.e820[i].type);
  }
}

// The GDT (null, null, __BOOT_CS 64-bit code, __BOOT_DS) and an identity map of the first 4 GiB
// with 2 MiB pages, for enter_linux.
inline void build_page_tables_and_gdt(kvm::Machine& m) {
  std::uint8_t* g = guest_range(m, gdt, 0x20, "the GDT");
  le::store<std::uint64_t>(g + 0x10, 0x00af9a000000ffff);
  le::store<std::uint64_t>(g + 0x18, 0x00cf92000000ffff);
  le::store<std::uint64_t>(guest_range(m, pml4, 8, "the page tables"), pdpt | 0x3);
  std::uint8_t* pdp = guest_range(m, pdpt, 32, "the page tables");
  std::uint8_t* pds = guest_range(m, pd, 4 * 0x1000, "the page tables");
  for (std::uint64_t i = 0; i < 4; ++i) le::store<std::uint64_t>(pdp + 8 * i, (pd + 0x1000 * i) | 0x3);
  for (std::uint64_t i = 0; i < 4 * 512; ++i) le::store<std::uint64_t>(pds + 8 * i, (i << 21) | 0x83);
}
}  // namespace linux_x86

// Loads the kernel, command line and initrd into guest RAM and builds the zero page, the e820 map,
// the GDT and page tables: everything enter_linux needs. Throws ConfigError when something does
// not fit.
inline BootSetup load_linux(kvm::Machine& m, const LinuxImage& k, const LinuxBootOptions& o) {
  using namespace linux_x86;
  BootSetup b;
  b.boot_params = boot_params;
  b.cmdline = cmdline;
  if (o.cmdline.size() + 1 > cmdline_room || (k.format == LinuxImage::Format::bzimage && o.cmdline.size() > k.cmdline_max))
    throw ConfigError("kernel command line of " + std::to_string(o.cmdline.size()) + " bytes is too long for this kernel");
  std::uint8_t* bp = guest_range(m, boot_params, 0x1000, "the zero page");
  std::memset(bp, 0, 0x1000);
  std::memcpy(guest_range(m, cmdline, o.cmdline.size() + 1, "the command line"), o.cmdline.c_str(), o.cmdline.size() + 1);
  if (k.format == LinuxImage::Format::bzimage) place_bzimage(m, k, bp, b);
  else place_elf(m, k, bp, b);
  place_initrd(m, k, o.initrd, b);
  b.e820 = e820_map(m);
  fill_boot_params(bp, b);
  build_page_tables_and_gdt(m);
  return b;
}

// Adds `count` vCPUs that Linux can boot on, each set up as Firecracker's configure_x86_64 does:
// its own CPUID, the host's `supported` table normalized for its index (cpuid.hpp: its APIC id,
// the VM's topology, the hypervisor and KVM leaves), then the boot MSRs (msr::boot_msrs: fast
// strings, MTRRs on and write-back). With no table (`supported` null) both are skipped and the
// vCPUs keep KVM's defaults: for synthetic kernels in tests where KVM refuses CPUID and MSRs; no
// real kernel boots that way. Throws VmError naming what KVM refused.
inline std::vector<kvm::Vcpu*> add_linux_vcpus(kvm::Machine& m, int count, const std::vector<std::uint8_t>* supported) {
  if (count < 1 || count > 255) throw ConfigError("a VM has 1 to 255 vCPUs");
  std::vector<kvm::Vcpu*> cpus;
  for (int i = 0; i < count; ++i) {
    kvm::Vcpu& cpu = m.add_vcpu();
    if (supported) {
      cpu.set_cpuid(kvm::cpuid::normalize(*supported, static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(count)));
      cpu.set_msrs(kvm::msr::boot_msrs());
    }
    cpus.push_back(&cpu);
  }
  return cpus;
}

// Puts a vCPU in long mode at the kernel's 64-bit entry, as the protocol says: paging with an
// identity map, __BOOT_CS/__BOOT_DS, interrupts off, rsi = boot_params.
inline void enter_linux(kvm::Vcpu& cpu, const BootSetup& b) {
  using namespace linux_x86;
  kvm_sregs s = cpu.sregs();
  auto seg = [](std::uint16_t sel, std::uint8_t type, bool code) {
    kvm_segment x{};
    x.limit = 0xffffffff;
    x.selector = sel;
    x.type = type;
    x.present = 1;
    x.s = 1;
    x.l = code ? 1 : 0;
    x.db = code ? 0 : 1;
    x.g = 1;
    return x;
  };
  s.cs = seg(boot_cs, 11, true);
  s.ds = s.es = s.fs = s.gs = s.ss = seg(boot_ds, 3, false);
  s.gdt.base = gdt;
  s.gdt.limit = 0x1f;
  s.cr0 = 0x80000033;  // PG NE ET MP PE
  s.cr3 = pml4;
  s.cr4 = 0x20;        // PAE
  s.efer = 0x500;      // LME LMA
  cpu.set_sregs(s);
  kvm_regs r{};
  r.rip = b.entry;
  r.rsi = b.boot_params;
  r.rsp = stack_top;
  r.rflags = 0x2;
  cpu.set_regs(r);
}

}  // namespace crumble::vm
