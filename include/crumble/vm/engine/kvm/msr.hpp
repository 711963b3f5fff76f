// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/kvm/msr.hpp — which model-specific registers a vCPU starts with and which a
// snapshot carries. Pure functions on MSR indices and values; no ioctls.
//
// KVM_GET_MSR_INDEX_LIST names every MSR KVM can emulate on this host, not every MSR it will take
// back: on Intel with nested virtualisation on (the default) it names the VMX capability MSRs
// 0x480-0x491, which KVM_GET_MSRS reads but KVM_SET_MSRS refuses for the non-"true" controls
// (0x481-0x484) and CR0/CR4_FIXED1 (0x487, 0x489). Saving the whole list made every restore on
// such a host fail on the first of them. A snapshot therefore carries only the MSRs of an
// allowlist: the architectural state a Linux guest sets up (SYSCALL/SYSENTER, PAT, MTRRs, EFER
// and the segment bases, TSC and its deadline and adjust, the x2APIC range, KVM's paravirtual
// MSRs) and the host-model MSRs Firecracker's msr.rs names as serializable
// (SERIALIZABLE_MSR_RANGES), which KVM takes back. Not on it: the VMX capabilities, the PMU
// counters (normalize() in cpuid.hpp offers no PMU), Hyper-V's, and IA32_MCG_CTL, which Linux does
// not export.
#pragma once

#include <linux/kvm.h>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace crumble::vm::kvm::msr {

// By the SDM's names.
inline constexpr std::uint32_t tsc = 0x10, apic_base = 0x1b, sysenter_cs = 0x174, sysenter_esp = 0x175, sysenter_eip = 0x176,
                               mcg_ctl = 0x17b, misc_enable = 0x1a0, mtrr_def_type = 0x2ff, tsc_deadline = 0x6e0, efer = 0xc0000080,
                               star = 0xc0000081, lstar = 0xc0000082, cstar = 0xc0000083, syscall_mask = 0xc0000084,
                               kernel_gs_base = 0xc0000102;
// IA32_MISC_ENABLE bit 0: fast-string operations (rep movs/stos by cache lines), on after reset on
// every CPU Linux runs on; KVM's reset value is 0.
inline constexpr std::uint64_t misc_enable_fast_string = 1;
// IA32_MTRR_DEF_TYPE: MTRRs enabled (bit 11), default memory type write-back (6). KVM's reset
// value, 0, makes all memory uncacheable until the guest programs the MTRRs.
inline constexpr std::uint64_t mtrr_def_type_enabled_write_back = (1u << 11) | 6;

// [first, first + count)
struct Range {
  std::uint32_t first, count;
  constexpr bool contains(std::uint32_t i) const { return i >= first && i - first < count; }
};

// The MSRs a snapshot may carry, in address order (see the top of this file).
inline constexpr Range serializable[] = {
    {0x0, 2},          // P5_MC_ADDR, P5_MC_TYPE
    {tsc, 1},          // TSC
    {0x17, 1},         // PLATFORM_ID
    {apic_base, 1},    // APIC_BASE
    {0x2a, 1},         // EBL_CR_POWERON
    {0x2c, 1},         // EBC_FREQUENCY_ID
    {0x34, 1},         // SMI_COUNT
    {0x3a, 2},         // FEATURE_CONTROL, TSC_ADJUST
    {0x48, 2},         // SPEC_CTRL, PRED_CMD
    {0x79, 1},         // BIOS_UPDT_TRIG
    {0x8b, 1},         // BIOS_SIGN_ID (microcode revision)
    {0x9e, 1},         // SMBASE
    {0xcd, 2},         // FSB_FREQ, PLATFORM_INFO
    {0xe2, 1},         // PKG_CST_CONFIG_CONTROL
    {0xe7, 2},         // MPERF, APERF
    {0xfe, 1},         // MTRRCAP
    {0x11e, 1},        // BBL_CR_CTL3
    {0x140, 1},        // MISC_FEATURES_ENABLES
    {sysenter_cs, 3},  // SYSENTER_CS, _ESP, _EIP
    {0x179, 2},        // MCG_CAP, MCG_STATUS (MCG_CTL, 0x17b, left out)
    {0x198, 1},        // PERF_STATUS
    {misc_enable, 1},  // MISC_ENABLE
    {0x1a4, 1},        // MISC_FEATURE_CONTROL
    {0x1aa, 1},        // MISC_PWR_MGMT
    {0x1ad, 2},        // TURBO_RATIO_LIMIT, _LIMIT1
    {0x1d9, 1},        // DEBUGCTL
    {0x1db, 4},        // LASTBRANCH_FROM_IP, _TO_IP, LASTINT_FROM_IP, _TO_IP
    {0x1fc, 1},        // POWER_CTL
    {0x200, 0x100},    // MTRR_PHYSBASE0 .. MTRR_DEF_TYPE, PAT (0x277)
    {0x3fc, 3},        // CORE_C3/C6/C7_RESIDENCY
    {0x400, 0x80},     // MC0_CTL .. (the machine-check banks)
    {0x606, 1},        // RAPL_POWER_UNIT
    {0x60a, 3},        // PKGC3/6/7_IRTL
    {0x610, 2},        // PKG_POWER_LIMIT, PKG_ENERGY_STATUS
    {0x613, 2},        // PKG_PERF_STATUS, PKG_POWER_INFO
    {0x618, 2},        // DRAM_POWER_LIMIT, DRAM_ENERGY_STATUS
    {0x61b, 2},        // DRAM_PERF_STATUS, DRAM_POWER_INFO
    {0x648, 5},        // CONFIG_TDP_NOMINAL, _LEVEL_1, _LEVEL_2, _CONTROL, TURBO_ACTIVATION_RATIO
    {tsc_deadline, 1}, // TSC_DEADLINE
    {0x800, 0x400},    // the x2APIC registers
    {0x4b564d00, 7},   // KVM_WALL_CLOCK_NEW .. KVM_ASYNC_PF_INT (kvmclock, async PF, steal time, PV EOI, poll control)
    {efer, 5},         // EFER, STAR, LSTAR, CSTAR, SYSCALL_MASK
    {0xc0000100, 4},   // FS_BASE, GS_BASE, KERNEL_GS_BASE, TSC_AUX
    {0xc0010015, 1},   // AMD HWCR
};

// Whether a snapshot carries MSR `index`.
constexpr bool serializable_msr(std::uint32_t index) {
  if (index == mcg_ctl) return false;
  for (const Range& r : serializable)
    if (r.contains(index)) return true;
  return false;
}

// The MSRs of KVM_GET_MSR_INDEX_LIST a snapshot carries, in KVM's order.
inline std::vector<std::uint32_t> msrs_to_save(const std::vector<std::uint32_t>& index_list) {
  std::vector<std::uint32_t> out;
  std::copy_if(index_list.begin(), index_list.end(), std::back_inserter(out), serializable_msr);
  return out;
}

// MSR_KVM_ASYNC_PF_INT: the vector of KVM's "page ready" interrupt. KVM reads it on every vCPU,
// but takes a value back — any value, even 0, its reset value — only on a vCPU with an in-kernel
// LAPIC (the kernel's kvm_pv_enable_async_pf_int), so on a vCPU of a VM without an irqchip (a bare
// VM) it is 0 for ever, and a snapshot that carried it could never be restored.
inline constexpr std::uint32_t kvm_async_pf_int = 0x4b564d06;

// The MSRs a snapshot of one vCPU carries: those of the host (msrs_to_save), less the ones KVM
// takes back only with an in-kernel LAPIC where the vCPU has none. Restore then takes every MSR
// the snapshot has or fails naming it: no refusal is skipped.
inline std::vector<std::uint32_t> msrs_of_vcpu(const std::vector<std::uint32_t>& host, bool in_kernel_lapic) {
  std::vector<std::uint32_t> out;
  std::copy_if(host.begin(), host.end(), std::back_inserter(out), [&](std::uint32_t i) { return in_kernel_lapic || i != kvm_async_pf_int; });
  return out;
}

// What a vCPU that boots Linux starts with, as Firecracker's create_boot_msr_entries sets it: the
// SYSENTER and SYSCALL MSRs and the TSC zeroed, fast strings on, MTRRs on with write-back as the
// default type (KVM's reset values turn both off).
inline std::vector<std::pair<std::uint32_t, std::uint64_t>> boot_msrs() {
  return {{sysenter_cs, 0}, {sysenter_esp, 0}, {sysenter_eip, 0},    {star, 0},
          {cstar, 0},       {kernel_gs_base, 0}, {syscall_mask, 0}, {lstar, 0},
          {tsc, 0},         {misc_enable, misc_enable_fast_string}, {mtrr_def_type, mtrr_def_type_enabled_write_back}};
}

// A snapshot's MSRs in the order KVM_SET_MSRS must take them: the TSC first (KVM_SET_MSRS takes the
// deadline relative to the guest's TSC, so a deadline written before it arms the timer wrongly or
// not at all), TSC_DEADLINE last, the rest as saved. A zero TSC_DEADLINE becomes the saved TSC, as
// Firecracker's fix_zero_tsc_deadline_msr does: a save can catch the deadline cleared with its
// interrupt not yet delivered, and a vCPU restored with 0 then never gets another timer interrupt
// until something rewrites the MSR; with the TSC it gets one at once and the guest rearms.
inline std::vector<kvm_msr_entry> restore_order(std::vector<kvm_msr_entry> e) {
  // three passes rather than std::stable_partition: libstdc++ 12's uses get_temporary_buffer,
  // whose deprecation Clang 19 reports
  auto rank = [](const kvm_msr_entry& x) { return x.index == tsc ? 0 : x.index == tsc_deadline ? 2 : 1; };
  std::vector<kvm_msr_entry> ordered;
  ordered.reserve(e.size());
  for (int r = 0; r < 3; ++r)
    for (const kvm_msr_entry& x : e)
      if (rank(x) == r) ordered.push_back(x);
  e = std::move(ordered);
  const auto t = std::find_if(e.begin(), e.end(), [](const kvm_msr_entry& x) { return x.index == tsc; });
  if (t != e.end())
    for (kvm_msr_entry& x : e)
      if (x.index == tsc_deadline && x.data == 0) x.data = t->data;
  return e;
}

}  // namespace crumble::vm::kvm::msr
