// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/qemu/virt_boot.hpp — how ARM64 and RISC-V 64 guests boot on QEMU's `virt`
// machines: where everything lies in their RAM, the device tree they are given, and (ARM64) the few
// instructions that enter the kernel.
//
// QEMU's own Linux loaders put the initrd (-initrd) at 128 MiB into RAM, on both machines: where the
// protocol's shared window is (layout.hpp; the same offset in RAM on every architecture, so the host
// maps the same part of the RAM file). So crumble places the initramfs itself with QEMU's generic
// loader device (-device loader) and says where it is in the device tree's /chosen.
//
// ARM64: QEMU's loader would also put the device tree right after the initrd (so, without -initrd,
// on the window), so the kernel too is placed by a loader device, and entered as
// Documentation/arch/arm64/booting.rst asks (MMU off, x0 = the device tree, x1-x3 = 0):
//
//   RAM + 0          the device tree (QEMU copies -dtb to the start of RAM when there is no -kernel)
//   RAM + 1 MiB      the boot stub (arm64_boot_stub), where the CPU starts (loader cpu-num=0)
//   RAM + 2 MiB      the kernel Image (2 MiB aligned, text_offset 0), up to the window
//   RAM + 128 MiB    the shared window (8 MiB): reserved-memory, no-map, in the device tree
//   top of RAM       the initramfs (/chosen linux,initrd-start/end)
//
// The CPU starts at EL1 (virt without virtualization=on or secure=on), caches and MMU off; PSCI
// (power off) goes to QEMU through HVC, as the machine's tree says.
//
// RISC-V 64: OpenSBI (QEMU's -bios default) runs first and enters the kernel, which QEMU's -kernel
// puts at RAM + 2 MiB; QEMU puts the device tree in the last 2 MiB of RAM (below 3 GiB), so the
// initramfs goes just below that:
//
//   RAM + 0          OpenSBI (fw_dynamic)
//   RAM + 2 MiB      the kernel Image
//   RAM + 128 MiB    the shared window, as on ARM64
//   top - 2 MiB      the initramfs ends here; the device tree above it
//
// On a restore nothing is loaded again (it would overwrite the restored RAM: the kernel's, and
// OpenSBI's own data): only the device tree, whose bytes the kernel keeps reserved, is written
// again (QEMU always writes it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../../errors.hpp"
#include "../../guest/arch.hpp"
#include "../../guest/device_tree.hpp"
#include "../../protocol/layout.hpp"

namespace crumble::vm::virt {

inline constexpr std::uint64_t stub_offset = 0x100000, kernel_offset = 0x200000;
// RISC-V: QEMU puts the device tree 2 MiB-aligned below the end of RAM (riscv_load_fdt), in the
// last 2 MiB for a tree smaller than that.
inline constexpr std::uint64_t riscv_fdt_room = 0x200000;

// Where each piece goes, as guest-physical addresses.
struct Layout {
  std::uint64_t ram_base = 0, ram_size = 0;
  std::uint64_t dtb = 0, stub = 0, kernel = 0;
  std::uint64_t window = 0;  // the protocol window
  std::uint64_t initrd_start = 0, initrd_end = 0;
};

// The layout for `ram_size` bytes of RAM, a kernel Image of `kernel_bytes` in memory (its header's
// image_size: the file and its bss) and an initramfs of `initrd_bytes`; ConfigError when they do
// not fit around the window.
inline Layout layout(GuestArch arch, std::uint64_t ram_size, std::uint64_t kernel_bytes, std::uint64_t initrd_bytes) {
  Layout l;
  l.ram_base = arch_info(arch).ram_base;
  l.ram_size = ram_size;
  l.dtb = l.ram_base;  // ARM64's; on RISC-V QEMU chooses (the last 2 MiB)
  l.stub = l.ram_base + stub_offset;
  l.kernel = l.ram_base + kernel_offset;
  l.window = l.ram_base + protocol::window_base;
  const std::uint64_t top = l.ram_base + ram_size - (arch == GuestArch::riscv64 ? riscv_fdt_room : 0);
  if (kernel_offset + kernel_bytes > protocol::window_base)
    throw ConfigError("the kernel Image needs " + std::to_string(kernel_bytes >> 20) + " MiB, more than the " +
                      std::to_string((protocol::window_base - kernel_offset) >> 20) + " MiB below the protocol window");
  // Page-aligned, at the top of RAM (RISC-V: below the device tree), above the window.
  if (top < l.window + protocol::window_size || initrd_bytes > top - (l.window + protocol::window_size))
    throw ConfigError("the initramfs (" + std::to_string(initrd_bytes >> 20) + " MiB) does not fit above the protocol window in " +
                      std::to_string(ram_size >> 20) + " MiB of RAM: give the VM more memory");
  l.initrd_start = (top - initrd_bytes) & ~std::uint64_t{0xfff};
  l.initrd_end = l.initrd_start + initrd_bytes;
  return l;
}

// The kernel Image's size in memory (booting.rst: image_size, the 64-bit field at 16; 0 in kernels
// before 3.17, which are not booted here).
inline std::uint64_t image_size(const std::vector<std::uint8_t>& header) {
  if (header.size() < 24) return 0;
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | header[16 + static_cast<std::size_t>(i)];
  return v;
}

// The instructions that enter an ARM64 kernel: x0 = the device tree, x1 = x2 = x3 = 0, branch to
// the Image's first byte. Each address is built with MOVZ and two MOVKs (bits 0-47; virt's RAM lies
// below 256 TiB). Encodings (Arm ARM, C6.2): MOVZ Xd, #imm, LSL #(16*hw) = 0xd2800000 | hw << 21 |
// imm16 << 5 | d; MOVK the same with 0xf2800000; MOV Xd, XZR (ORR Xd, XZR, XZR) = 0xaa1f03e0 | d;
// BR Xn = 0xd61f0000 | n << 5.
inline std::vector<std::uint8_t> arm64_boot_stub(std::uint64_t dtb, std::uint64_t kernel) {
  std::vector<std::uint32_t> words;
  auto load = [&](unsigned reg, std::uint64_t v) {
    words.push_back(0xd2800000u | static_cast<std::uint32_t>((v & 0xffff) << 5) | reg);
    words.push_back(0xf2800000u | (1u << 21) | static_cast<std::uint32_t>(((v >> 16) & 0xffff) << 5) | reg);
    words.push_back(0xf2800000u | (2u << 21) | static_cast<std::uint32_t>(((v >> 32) & 0xffff) << 5) | reg);
  };
  load(0, dtb);
  for (unsigned reg = 1; reg <= 3; ++reg) words.push_back(0xaa1f03e0u | reg);
  load(4, kernel);
  words.push_back(0xd61f0000u | (4u << 5));
  std::vector<std::uint8_t> bytes;
  for (std::uint32_t w : words)
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<std::uint8_t>(w >> (8 * i)));
  return bytes;
}

// What the device tree gets for this layout and command line.
inline DeviceTreeAdditions additions(const Layout& l, const std::string& bootargs) {
  DeviceTreeAdditions a;
  a.window_address = l.window, a.window_size = protocol::window_size;
  a.mailbox_address = l.ram_base + protocol::mailbox_phys, a.mailbox_size = protocol::mailbox_size;
  a.config_address = l.ram_base + protocol::config_phys, a.config_size = protocol::config_size;
  a.bootargs = bootargs;
  a.initrd_start = l.initrd_start, a.initrd_end = l.initrd_end;
  return a;
}

// The kernel command line of an ARM64 guest before the user's additions: the pl011 console
// (built into Debian's arm64 kernel; hvc0 needs the virtio_console module), init from the
// initramfs, /dev/mem reaching the reserved window (iomem=relaxed), the kernel where it was put
// (nokaslr), power off on a panic.
inline std::string arm64_cmdline() { return "console=ttyAMA0 panic=-1 nokaslr quiet rdinit=/init iomem=relaxed"; }

// A RISC-V 64 guest's: the ns16550 console (ttyS0; SBI's early console before it), the rest as on
// ARM64.
inline std::string riscv64_cmdline() { return "console=ttyS0 earlycon=sbi panic=-1 nokaslr quiet rdinit=/init iomem=relaxed"; }

inline std::string cmdline(GuestArch arch) { return arch == GuestArch::riscv64 ? riscv64_cmdline() : arm64_cmdline(); }

}  // namespace crumble::vm::virt
