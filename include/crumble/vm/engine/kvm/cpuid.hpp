// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/kvm/cpuid.hpp — the CPUID a vCPU is given: the host's supported table
// (kvm::System::supported_cpuid) made into what one vCPU of an N-vCPU VM should see. Pure
// functions on the table; no ioctls.
//
// KVM_GET_SUPPORTED_CPUID is filled in on whichever host CPU ran the ioctl, and some of it is the
// host's, not a guest's: leaf 1 EBX[31:24] and leaves 0xB/0x1F EDX carry that host CPU's APIC id,
// leaf 1 EBX[23:16] and the topology leaves describe the host's packages, and whether HYPERVISOR
// and TSC_DEADLINE are set depends on the host kernel. Given unchanged to every vCPU, every vCPU
// claims the same APIC id (the MADT says 0, 1, ...; Linux trusts CPUID for its topology) and the
// guest changes with the host kernel while a snapshot's fingerprint does not notice. normalize()
// rewrites those parts as Firecracker's cpuid/normalize.rs and kvmtool's filter_cpuid do:
//
//   leaf 1          EBX[15:8] CLFLUSH size 8 (x8 = 64 bytes), EBX[23:16] addressable ids (count
//                   rounded up to a power of two), EBX[31:24] APIC id = vCPU index; ECX PDCM off
//                   (no PMU is offered), TSC_DEADLINE on (KVM's LAPIC emulates it), HYPERVISOR on;
//                   EDX HTT when there is more than one vCPU
//   leaf 4 (Intel)  EAX[31:26] cores per package - 1, EAX[25:14] sharing: the L3 is the package's,
//                   L1 and L2 a vCPU's own
//   leaf 0xA        zero: no performance counters (their MSRs are not in a snapshot either)
//   leaves 0xB, 0x1F  one package of `count` cores with one thread each: subleaf 0 the thread
//                   level (shift 0, 1 thread), subleaf 1 the core level (shift ceil(log2 count),
//                   count), subleaf 2 the end; EDX the x2APIC id = vCPU index in every subleaf
//   leaf 0x1A       zero: a vCPU is no particular hybrid core type
//   0x40000000      KVM's signature "KVMKVMKVM\0\0\0", at least up to 0x40000001
//   0x80000008 (AMD) ECX[7:0] cores - 1, ECX[15:12] APIC id bits
//   0x8000001D/1E (AMD) cache sharing as leaf 4; extended APIC id and core id = vCPU index,
//                   one thread per core, node 0
//
// The result depends only on the host's table, the index and the count, so the table of vCPU 0
// of a 1-vCPU VM names what the host offers guests (snapshot::host_fingerprint hashes it).
#pragma once

#include <linux/kvm.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../../errors.hpp"
#include "abi.hpp"

namespace crumble::vm::kvm::cpuid {

using Entry = kvm_cpuid_entry2;

// The entries of a kvm_cpuid2 table as KVM_GET_SUPPORTED_CPUID / KVM_SET_CPUID2 have it (the
// kernel's layout, abi.hpp); a table
// whose size disagrees with its count is refused.
inline std::vector<Entry> entries(const std::vector<std::uint8_t>& table) {
  if (table.size() < abi::cpuid2_header) throw VmError("a CPUID table shorter than its header");
  std::uint32_t nent;
  std::memcpy(&nent, table.data(), 4);
  if (table.size() != abi::cpuid2_header + std::size_t{nent} * sizeof(Entry)) throw VmError("a CPUID table whose size disagrees with its entry count");
  std::vector<Entry> e(nent);
  if (nent) std::memcpy(e.data(), table.data() + abi::cpuid2_header, e.size() * sizeof(Entry));
  return e;
}

// The kvm_cpuid2 table of `e`, for KVM_SET_CPUID2.
inline std::vector<std::uint8_t> table(const std::vector<Entry>& e) {
  std::vector<std::uint8_t> t(abi::cpuid2_header + e.size() * sizeof(Entry));
  const auto nent = static_cast<std::uint32_t>(e.size());
  std::memcpy(t.data(), &nent, 4);
  if (!e.empty()) std::memcpy(t.data() + abi::cpuid2_header, e.data(), e.size() * sizeof(Entry));
  return t;
}

// The entry for (function, index): for a leaf without KVM_CPUID_FLAG_SIGNIFCANT_INDEX any index
// matches, as the CPU answers. Null when the table has none.
inline Entry* find(std::vector<Entry>& e, std::uint32_t function, std::uint32_t index = 0) {
  for (Entry& x : e)
    if (x.function == function && (!(x.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || x.index == index)) return &x;
  return nullptr;
}
inline const Entry* find(const std::vector<Entry>& e, std::uint32_t function, std::uint32_t index = 0) {
  return find(const_cast<std::vector<Entry>&>(e), function, index);
}

enum class Vendor { intel, amd, other };
inline Vendor vendor(const std::vector<Entry>& e) {
  const Entry* v = find(e, 0);
  if (!v) return Vendor::other;
  char s[12];
  std::memcpy(s, &v->ebx, 4), std::memcpy(s + 4, &v->edx, 4), std::memcpy(s + 8, &v->ecx, 4);
  if (std::memcmp(s, "GenuineIntel", 12) == 0) return Vendor::intel;
  if (std::memcmp(s, "AuthenticAMD", 12) == 0 || std::memcmp(s, "HygonGenuine", 12) == 0) return Vendor::amd;
  return Vendor::other;
}

namespace detail {
// Writes `value` into bits [lo, hi] of `reg`.
inline void put_bits(std::uint32_t& reg, unsigned lo, unsigned hi, std::uint32_t value) {
  const std::uint32_t mask = (hi - lo == 31 ? ~0u : ((1u << (hi - lo + 1)) - 1)) << lo;
  reg = (reg & ~mask) | ((value << lo) & mask);
}
inline void put_bit(std::uint32_t& reg, unsigned bit, bool on) { put_bits(reg, bit, bit, on ? 1 : 0); }
inline unsigned ceil_log2(std::uint32_t n) {
  unsigned b = 0;
  while ((std::uint32_t{1} << b) < n) ++b;
  return b;
}
inline Entry& subleaf(std::vector<Entry>& e, std::uint32_t function, std::uint32_t index) {
  for (Entry& x : e)
    if (x.function == function && x.index == index) return x;
  Entry x{};
  x.function = function;
  x.index = index;
  e.push_back(x);
  return e.back();
}
}  // namespace detail

// CPUID leaf 1 ECX and EDX bits normalize() sets or clears, by the names the SDM gives them.
inline constexpr unsigned leaf1_ecx_pdcm = 15, leaf1_ecx_tsc_deadline = 24, leaf1_ecx_hypervisor = 31, leaf1_edx_htt = 28;
// KVM's hypervisor leaf signature, "KVMKVMKVM\0\0\0" as EBX, ECX, EDX.
inline constexpr std::uint32_t kvm_signature[3] = {0x4b4d564b, 0x564b4d56, 0x0000004d};

// The table vCPU `index` of a VM with `count` vCPUs is given (see the top of this file). Throws
// ConfigError for an index the APIC id field cannot hold or outside the count.
inline std::vector<Entry> normalize(std::vector<Entry> e, std::uint32_t index, std::uint32_t count) {
  using detail::put_bit;
  using detail::put_bits;
  if (count == 0 || count > 255 || index >= count)
    throw ConfigError("vCPU " + std::to_string(index) + " of " + std::to_string(count) + ": a VM has 1 to 255 vCPUs, numbered from 0");
  const unsigned bits = detail::ceil_log2(count);  // APIC id bits for the cores of the one package
  const Vendor v = vendor(e);
  const std::uint32_t max_basic = find(e, 0) ? find(e, 0)->eax : 0;

  if (Entry* l1 = find(e, 1)) {
    put_bits(l1->ebx, 8, 15, 8);
    put_bits(l1->ebx, 16, 23, std::uint32_t{1} << bits);
    put_bits(l1->ebx, 24, 31, index);
    put_bit(l1->ecx, leaf1_ecx_pdcm, false);
    put_bit(l1->ecx, leaf1_ecx_tsc_deadline, true);
    put_bit(l1->ecx, leaf1_ecx_hypervisor, true);
    put_bit(l1->edx, leaf1_edx_htt, count > 1);
  }
  // Cache sharing: leaf 4 on Intel, 0x8000001D on AMD, the same layout in EAX.
  auto share_caches = [&](std::uint32_t function, bool cores_field) {
    for (Entry& x : e) {
      if (x.function != function || (x.eax & 0x1f) == 0) continue;  // cache type 0: no more caches
      const unsigned level = (x.eax >> 5) & 7;
      put_bits(x.eax, 14, 25, level >= 3 ? (std::uint32_t{1} << bits) - 1 : 0);
      if (cores_field) put_bits(x.eax, 26, 31, (std::uint32_t{1} << bits) - 1);
    }
  };
  if (v == Vendor::intel) share_caches(4, true);
  if (Entry* pmu = find(e, 0xa)) pmu->eax = pmu->ebx = pmu->ecx = pmu->edx = 0;
  for (std::uint32_t leaf : {0xbu, 0x1fu}) {
    const bool present = std::any_of(e.begin(), e.end(), [&](const Entry& x) { return x.function == leaf; });
    if (!present && !(leaf == 0xb && max_basic >= 0xb)) continue;
    // Only the three subleaves below: whatever levels (die, module) the host described go.
    e.erase(std::remove_if(e.begin(), e.end(), [&](const Entry& x) { return x.function == leaf && x.index > 2; }), e.end());
    for (std::uint32_t n = 0; n < 3; ++n) {
      Entry& x = detail::subleaf(e, leaf, n);
      x.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
      x.edx = index;
      if (n == 0) x.eax = 0, x.ebx = 1, x.ecx = (1u << 8) | 0;                // threads: 1 per core
      else if (n == 1) x.eax = bits, x.ebx = count, x.ecx = (2u << 8) | 1;  // cores: all in one package
      else x.eax = 0, x.ebx = 0, x.ecx = n;                                 // level type 0: the end
    }
  }
  if (Entry* hybrid = find(e, 0x1a)) hybrid->eax = hybrid->ebx = hybrid->ecx = hybrid->edx = 0;

  Entry& kvm = detail::subleaf(e, 0x40000000, 0);
  kvm.flags = 0;
  kvm.eax = std::max<std::uint32_t>(kvm.eax, 0x40000001);
  kvm.ebx = kvm_signature[0], kvm.ecx = kvm_signature[1], kvm.edx = kvm_signature[2];
  detail::subleaf(e, 0x40000001, 0);  // KVM's feature leaf: kept as KVM gave it, empty if it gave none

  if (v == Vendor::amd) {
    if (Entry* size = find(e, 0x80000008)) {
      put_bits(size->ecx, 0, 7, count - 1);
      put_bits(size->ecx, 12, 15, bits);
    }
    share_caches(0x8000001d, false);
    if (Entry* ext = find(e, 0x8000001e)) {
      ext->eax = index;             // extended APIC id
      ext->ebx = index & 0xff;      // core id; EBX[15:8] threads per core - 1 = 0
      ext->ecx = 0;                 // node 0 of 1
      ext->edx = 0;
    }
  }
  std::sort(e.begin(), e.end(), [](const Entry& a, const Entry& b) { return a.function != b.function ? a.function < b.function : a.index < b.index; });
  return e;
}

// The same on a kvm_cpuid2 table, for KVM_SET_CPUID2.
inline std::vector<std::uint8_t> normalize(const std::vector<std::uint8_t>& supported, std::uint32_t index, std::uint32_t count) {
  return table(normalize(entries(supported), index, count));
}

// The table as bytes that depend only on its contents: entries in (function, index) order, each
// as function, index, flags, eax, ebx, ecx, edx (little-endian u32), without the padding that
// kvm_cpuid_entry2 carries. For hashing into a snapshot fingerprint.
inline std::vector<std::uint8_t> canonical_bytes(std::vector<Entry> e) {
  std::sort(e.begin(), e.end(), [](const Entry& a, const Entry& b) { return a.function != b.function ? a.function < b.function : a.index < b.index; });
  std::vector<std::uint8_t> out;
  out.reserve(e.size() * 28);
  for (const Entry& x : e)
    for (std::uint32_t w : {x.function, x.index, x.flags, x.eax, x.ebx, x.ecx, x.edx})
      for (int b = 0; b < 4; ++b) out.push_back(static_cast<std::uint8_t>(w >> (8 * b)));
  return out;
}

}  // namespace crumble::vm::kvm::cpuid
