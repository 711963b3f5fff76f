// SPDX-License-Identifier: Apache-2.0
// crumble/vm/guest/arch.hpp — the guest architectures crumble boots, and the few facts about each
// that the rest of the guest side needs: its names (ours, Debian's, uname -m's), the ELF machine
// number of its kernels, where the machine's RAM begins, and which QEMU runs it (with the Debian
// package that ships that QEMU, for the error when it is missing).
//
// One table, read by kernel fetching (kernel.hpp), the kernel check (kernel_image.hpp), the
// device-tree builder (device_tree.hpp) and the QEMU engine.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace crumble::vm {

enum class GuestArch { amd64, arm64, riscv64 };

struct GuestArchInfo {
  GuestArch arch;
  std::string_view name;          // ours and Debian's: "arm64" (also runtime.GOARCH in RTG)
  std::string_view uname;         // what `uname -m` says in the guest: "aarch64"
  std::string_view display;       // for messages: "ARM64"
  std::string_view a_display;     // with its article: "an ARM64", "a RISC-V 64"
  unsigned elf_machine;           // e_machine of its vmlinux and modules
  std::uint64_t ram_base;         // guest-physical address of the first byte of RAM on its QEMU machine
  std::string_view qemu_binary;   // qemu-system-*
  std::string_view qemu_package;  // the Debian package that ships qemu_binary
  std::string_view debian_suite;  // where its kernel and userland come from (foreign: an isolated apt); "" for the host's own
};

inline constexpr GuestArchInfo guest_archs[] = {
    // x86: RAM from 0 (QEMU microvm). ARM64: QEMU virt's RAM at 1 GiB. RISC-V: virt's at 2 GiB.
    // clang-format off
    {GuestArch::amd64, "amd64", "x86_64", "x86-64", "an x86-64", 62, 0, "qemu-system-x86_64", "qemu-system-x86", ""},
    {GuestArch::arm64, "arm64", "aarch64", "ARM64", "an ARM64", 183, 0x40000000, "qemu-system-aarch64", "qemu-system-arm", "bookworm"},
    {GuestArch::riscv64, "riscv64", "riscv64", "RISC-V 64", "a RISC-V 64", 243, 0x80000000, "qemu-system-riscv64", "qemu-system-misc", "trixie"},  // Debian has riscv64 from trixie on
    // clang-format on
};

constexpr const GuestArchInfo& arch_info(GuestArch a) {
  for (const GuestArchInfo& i : guest_archs)
    if (i.arch == a) return i;
  return guest_archs[0];  // unreachable: every enumerator has a row
}

// The architecture called `name` (ours/Debian's or uname's: "arm64" and "aarch64" alike).
inline std::optional<GuestArch> guest_arch_named(std::string_view name) {
  for (const GuestArchInfo& i : guest_archs)
    if (name == i.name || name == i.uname) return i.arch;
  return std::nullopt;
}

// The architecture whose ELF e_machine is `machine` (code::Image::machine, a kernel's header).
constexpr std::optional<GuestArch> guest_arch_of_elf_machine(unsigned machine) {
  for (const GuestArchInfo& i : guest_archs)
    if (machine == i.elf_machine) return i.arch;
  return std::nullopt;
}

// The same, for options: an unknown name throws std::invalid_argument listing the known ones.
inline GuestArch parse_guest_arch(std::string_view name) {
  if (auto a = guest_arch_named(name)) return *a;
  throw std::invalid_argument("unknown guest architecture \"" + std::string(name) + "\": expected amd64, arm64 or riscv64");
}

}  // namespace crumble::vm
