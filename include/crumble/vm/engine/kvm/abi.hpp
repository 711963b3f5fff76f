// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/kvm/abi.hpp — the kernel's layout of KVM's variable-length structures and the
// request numbers that carry their size, as a C++ program must spell them.
//
// <linux/kvm.h> from Linux 6.1's headers on (Debian 12's linux-libc-dev) declares kvm_cpuid2,
// kvm_msrs, kvm_msr_list and kvm_xsave with __DECLARE_FLEX_ARRAY: an empty struct, then the array.
// An empty struct has size 0 in C (a GNU extension) but 1 in C++, so in C++ sizeof(kvm_cpuid2) is
// 12, not the kernel's 8, its `entries` start at byte 12, not 8 (likewise kvm_msrs: 16 and 8,
// kvm_msr_list: 8 and 4, kvm_xsave: 4100 and 4096), and every request whose number encodes that
// size — KVM_GET_SUPPORTED_CPUID is _IOWR(KVMIO, 0x05, struct kvm_cpuid2) — is a number KVM does
// not know: it answers EINVAL. That is what made KVM look as if it refused CPUID, MSRs and XSAVE on
// this project's machines. The numbers and offsets here are the kernel's (C's); the engine uses
// them, never the header's, for these structures.
#pragma once

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace crumble::vm::kvm::abi {

// Where the entries start: the fixed header before the flexible array, in the kernel's layout.
inline constexpr std::size_t cpuid2_header = 8;    // kvm_cpuid2: nent, padding
inline constexpr std::size_t msrs_header = 8;      // kvm_msrs: nmsrs, pad
inline constexpr std::size_t msr_list_header = 4;  // kvm_msr_list: nmsrs
inline constexpr std::size_t xsave_size = 4096;    // kvm_xsave: region[1024], then KVM_CAP_XSAVE2's extra
static_assert(sizeof(kvm_cpuid_entry2) == 40 && sizeof(kvm_msr_entry) == 16, "the array elements are plain structs in C and C++ alike");

inline constexpr unsigned long rw = _IOC_READ | _IOC_WRITE;
inline constexpr unsigned long get_msr_index_list = _IOC(rw, KVMIO, 0x02, msr_list_header);
inline constexpr unsigned long get_supported_cpuid = _IOC(rw, KVMIO, 0x05, cpuid2_header);
inline constexpr unsigned long get_msrs = _IOC(rw, KVMIO, 0x88, msrs_header);
inline constexpr unsigned long set_msrs = _IOC(_IOC_WRITE, KVMIO, 0x89, msrs_header);
inline constexpr unsigned long set_cpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, cpuid2_header);
inline constexpr unsigned long get_cpuid2 = _IOC(rw, KVMIO, 0x91, cpuid2_header);
inline constexpr unsigned long get_xsave = _IOC(_IOC_READ, KVMIO, 0xa4, xsave_size);
inline constexpr unsigned long set_xsave = _IOC(_IOC_WRITE, KVMIO, 0xa5, xsave_size);
inline constexpr unsigned long get_xsave2 = _IOC(_IOC_READ, KVMIO, 0xcf, xsave_size);

// A kvm_msrs in the kernel's layout: its header and `n` entries, for KVM_GET_MSRS / KVM_SET_MSRS.
struct MsrBuffer {
  explicit MsrBuffer(std::size_t n) : bytes(msrs_header + n * sizeof(kvm_msr_entry)) { set_count(n); }
  void set_count(std::size_t n) {
    const auto c = static_cast<std::uint32_t>(n);
    __builtin_memcpy(bytes.data(), &c, 4);
  }
  kvm_msr_entry* entries() { return reinterpret_cast<kvm_msr_entry*>(bytes.data() + msrs_header); }
  void* data() { return bytes.data(); }
  std::vector<std::uint8_t> bytes;
};

}  // namespace crumble::vm::kvm::abi
