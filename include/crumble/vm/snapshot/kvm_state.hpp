// SPDX-License-Identifier: Apache-2.0
// crumble/vm/snapshot/kvm_state.hpp — a KVM guest's state as snapshot sections: what this host's
// KVM can save, and saving and loading the vCPUs and the VM in the order KVM needs.
//
// The file around these sections is format.hpp's; a KVM snapshot carries host_fingerprint(),
// and the write/read overloads here pass it (the QEMU engine uses its own and never includes this
// header, so it does not need <linux/kvm.h>).
//
// What is saved: per vCPU (save_vcpu, sections "vcpu0.*") CPUID, MP_STATE, REGS, SREGS, FPU,
// XSAVE (sized by KVM_CAP_XSAVE2), XCRS, DEBUGREGS, LAPIC (VMs with an in-kernel irqchip), the
// MSRs of KVM_GET_MSR_INDEX_LIST that are on engine/kvm/msr.hpp's allowlist (KVM names MSRs it
// will not take back, the VMX capabilities of a nested-capable Intel host among them; and a vCPU
// without an in-kernel LAPIC leaves out MSR_KVM_ASYNC_PF_INT, msr::msrs_of_vcpu), VCPU_EVENTS;
// per VM (save_vm, "vm.*") the in-kernel PIC master and slave and IOAPIC, PIT2, and the KVM clock.
// Some KVMs refuse part of this (older ones have no XSAVE2; what looked like the paging-based
// kvm_pvm on this project's machines refusing CPUID, MSRs and XSAVE was the C++ header bug
// engine/kvm/abi.hpp works around: it saves all three), so which of CPUID, XSAVE and
// MSRs a host can save and load is probed once per process (kvm_host()) and written into the
// fingerprint: a snapshot is only ever restored on a host that saves exactly the same parts, and a
// section that the fingerprint promises but the file lacks is an error, not a silent reset.
//
// Restore order (restore_machine: every vCPU with restore_vcpu, then the VM with restore_vm, as
// Firecracker restores):
//   vCPU: CPUID (first: KVM checks what the rest may hold against it; not set again on a vCPU
//         that holds the saved table already), MP_STATE, REGS, SREGS,
//         FPU, XSAVE, XCRS, DEBUGREGS, LAPIC (after SREGS, which carries the APIC base; before
//         the MSRs, since KVM takes TSC_DEADLINE only from a LAPIC timer in deadline mode),
//         MSRs (msr::restore_order: TSC first, TSC_DEADLINE last and never 0), VCPU_EVENTS
//         (after REGS, which clears pending exceptions), then KVMCLOCK_CTRL (tells a kvmclock
//         guest it was paused; EINVAL for a guest without kvmclock, ignored).
//   VM:   PIT2, CLOCK (flags cleared: the guest's clock continues from the saved value, as after a
//         pause), IRQCHIP (PIC master, PIC slave, IOAPIC) last, once every LAPIC it delivers to
//         is in place.
//
// Every ioctl goes through the vCPU's or VM's kvm::Api, so tests/vm/kvm_fake_test.cpp can record
// a save and a restore against a fake KVM (an Intel host with nested virtualisation, say).
// Save only after KVM has completed the last exit (Vcpu::run returns so).
#pragma once

#include <sys/ioctl.h>

#include <cpuid.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <mutex>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "../engine/kvm/cpuid.hpp"
#include "../engine/kvm/kvm.hpp"
#include "../engine/kvm/msr.hpp"
#include "format.hpp"

namespace crumble::vm::snapshot {

inline constexpr std::uint32_t msr_tsc = kvm::msr::tsc, msr_tsc_deadline = kvm::msr::tsc_deadline;

namespace detail {
inline std::string hex(std::uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(v));
  return b;
}
inline std::uint64_t fnv1a_bytes(const std::vector<std::uint8_t>& v) { return fnv1a(v.data(), v.size()); }
}  // namespace detail

// What this host's KVM can save and load, probed once per process on a throwaway VM (the
// refusals show only on a real vCPU: kvm_pvm announces KVM_CAP_XSAVE2 and then refuses
// KVM_GET_XSAVE2). A part counts only when both its GET and its SET work.
struct KvmHost {
  std::string unavailable;          // why /dev/kvm could not be probed; empty when it could
  int api = 0;
  std::uint32_t xsave_size = 0;     // 0: no XSAVE state
  bool xsave2 = false;              // KVM_GET_XSAVE2 at xsave_size bytes; else KVM_GET_XSAVE, 4096
  std::vector<std::uint32_t> msrs;  // what a snapshot carries: KVM_GET_MSR_INDEX_LIST through
                                    // msr::msrs_to_save; empty when MSRs are refused
  bool cpuid = false;               // KVM_GET_CPUID2 / KVM_SET_CPUID2
  std::uint64_t tsc_khz = 0;        // KVM_GET_TSC_KHZ; 0 when refused
  // A hash of the CPUID a guest is given (cpuid::normalize of KVM_GET_SUPPORTED_CPUID for vCPU 0
  // of 1): it changes with the host kernel's KVM as much as with the CPU.
  std::uint32_t guest_cpuid = 0;
};

namespace detail {
inline KvmHost probe_kvm(kvm::Api& api, const char* path = "/dev/kvm") {
  KvmHost h;
  int raw = api.open(path);
  if (raw < 0) {
    h.unavailable = std::string(path) + ": " + std::strerror(errno);
    return h;
  }
  Fd sys(raw);
  h.api = kvm::call(api, sys.get(), KVM_GET_API_VERSION, 0);
  std::vector<std::uint32_t> list(1, 0);  // nmsrs = 0: KVM answers E2BIG with the count
  if (kvm::call(api, sys.get(), kvm::abi::get_msr_index_list, list.data()) < 0 && errno == E2BIG) {
    list.resize(1 + list[0]);
    if (kvm::call(api, sys.get(), kvm::abi::get_msr_index_list, list.data()) == 0)
      h.msrs = kvm::msr::msrs_to_save(std::vector<std::uint32_t>(list.begin() + 1, list.begin() + 1 + list[0]));
  }
  try {
    const kvm::System system(path, api);
    h.guest_cpuid = static_cast<std::uint32_t>(
        fnv1a_bytes(kvm::cpuid::canonical_bytes(kvm::cpuid::normalize(kvm::cpuid::entries(system.supported_cpuid()), 0, 1))));
  } catch (const VmError& e) {
    h.unavailable = e.what();
    return h;
  }
  int vm_fd = kvm::call(api, sys.get(), KVM_CREATE_VM, 0);
  if (vm_fd < 0) {
    h.unavailable = std::string("KVM_CREATE_VM: ") + std::strerror(errno);
    return h;
  }
  Fd vm(vm_fd);
  int cpu_fd = kvm::call(api, vm.get(), KVM_CREATE_VCPU, 0);
  if (cpu_fd < 0) {
    h.unavailable = std::string("KVM_CREATE_VCPU: ") + std::strerror(errno);
    return h;
  }
  Fd cpu(cpu_fd);
  auto vcpu = [&](unsigned long req, auto arg) { return kvm::call(api, cpu.get(), req, arg); };
  const int khz = vcpu(KVM_GET_TSC_KHZ, 0);
  h.tsc_khz = khz > 0 ? static_cast<std::uint64_t>(khz) : 0;

  const int xsave2 = kvm::call(api, vm.get(), KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
  if (xsave2 >= static_cast<int>(kvm::abi::xsave_size)) {
    std::vector<std::uint8_t> area(static_cast<std::size_t>(xsave2));
    if (vcpu(kvm::abi::get_xsave2, area.data()) == 0 && vcpu(kvm::abi::set_xsave, area.data()) == 0)
      h.xsave_size = static_cast<std::uint32_t>(xsave2), h.xsave2 = true;
  }
  if (!h.xsave_size && kvm::call(api, vm.get(), KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0) {
    std::vector<std::uint8_t> area(kvm::abi::xsave_size);
    if (vcpu(kvm::abi::get_xsave, area.data()) == 0 && vcpu(kvm::abi::set_xsave, area.data()) == 0) h.xsave_size = kvm::abi::xsave_size;
  }

  if (!h.msrs.empty()) {
    const bool has_tsc = std::find(h.msrs.begin(), h.msrs.end(), msr_tsc) != h.msrs.end();
    kvm::abi::MsrBuffer m(1);
    m.entries()[0].index = has_tsc ? msr_tsc : h.msrs[0];
    if (vcpu(kvm::abi::get_msrs, m.data()) != 1 || vcpu(kvm::abi::set_msrs, m.data()) != 1) h.msrs.clear();
  }

  // A fresh vCPU has no CPUID: GET answers with none, SET takes an empty table.
  std::vector<std::uint8_t> cpuid(kvm::abi::cpuid2_header + 4 * sizeof(kvm_cpuid_entry2));
  std::uint32_t nent = 4;
  std::memcpy(cpuid.data(), &nent, 4);
  if (vcpu(kvm::abi::get_cpuid2, cpuid.data()) == 0) {
    nent = 0;
    std::memcpy(cpuid.data(), &nent, 4);
    h.cpuid = vcpu(kvm::abi::set_cpuid2, cpuid.data()) == 0;
  }
  return h;
}
}  // namespace detail

// What the KVM behind `api` can save and load (the real one unless a test passes its fake),
// probed once per process and Api.
inline const KvmHost& kvm_host(kvm::Api& api = kvm::linux_api()) {
  static std::mutex mu;
  static std::map<kvm::Api*, KvmHost> probed;
  std::lock_guard lock(mu);
  auto it = probed.find(&api);
  if (it == probed.end()) it = probed.emplace(&api, detail::probe_kvm(api)).first;
  return it->second;
}

// The fingerprint of a KVM snapshot made on a host whose CPU says `cpu` (vendor, signature,
// features: host_fingerprint) and whose KVM is `h`. Pure: tests compare hosts that differ in one
// part.
inline std::string fingerprint(const std::string& cpu, const KvmHost& h) {
  if (!h.unavailable.empty()) return cpu + " kvm=unavailable (" + h.unavailable + ")";
  std::string s = cpu + " kvm-api=" + std::to_string(h.api) + " tsc-khz=" + (h.tsc_khz ? std::to_string(h.tsc_khz) : "unknown");
  s += " guest-cpuid=" + detail::hex(h.guest_cpuid);
  s += " xsave=" + (h.xsave_size ? std::string(h.xsave2 ? "xsave2/" : "xsave/") + std::to_string(h.xsave_size) : "none");
  s += " msrs=" + (h.msrs.empty() ? "none"
                                   : std::to_string(h.msrs.size()) + "/" +
                                         detail::hex(fnv1a(reinterpret_cast<const std::uint8_t*>(h.msrs.data()), h.msrs.size() * 4) & 0xffffffff));
  s += std::string(" cpuid=") + (h.cpuid ? "saved" : "none");
  return s + " state=mp+regs+sregs+fpu+xcrs+debugregs+lapic+events vm=irqchip+pit2+clock";
}

// What a KVM snapshot depends on in the host: the CPU (vendor, family/model/stepping, a hash of
// its feature leaves), the KVM API, the TSC frequency the guest's clocks were calibrated for, a
// hash of the CPUID a guest is given, and which optional state this host's KVM saves
// (kvm_host()), with the XSAVE area's size and a hash of the MSRs saved. Computed once per
// process; needs /dev/kvm (says so when there is none).
inline std::string host_fingerprint() {
  static const std::string fp = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    __cpuid(0, a, b, c, d);
    const unsigned max_basic = a;
    char vendor[13] = {};
    std::memcpy(vendor, &b, 4);
    std::memcpy(vendor + 4, &d, 4);
    std::memcpy(vendor + 8, &c, 4);
    __cpuid(1, a, b, c, d);
    const unsigned signature = a;
    // Leaf 1's ebx holds the APIC ID of whichever core runs this: left out.
    std::vector<unsigned> features{c, d};
    if (max_basic >= 7) {
      __cpuid_count(7, 0, a, b, c, d);
      features.insert(features.end(), {b, c, d});
    }
    if (max_basic >= 0xd) {
      __cpuid_count(0xd, 0, a, b, c, d);
      features.insert(features.end(), {a, c, d});
      __cpuid_count(0xd, 1, a, b, c, d);
      features.push_back(a);
    }
    __cpuid(0x80000000, a, b, c, d);
    if (a >= 0x80000001) {
      __cpuid(0x80000001, a, b, c, d);
      features.insert(features.end(), {c, d});
    }
    const std::string cpu = std::string(vendor) + " signature=" + std::to_string(signature) + " features=" +
                            detail::hex(fnv1a(reinterpret_cast<const std::uint8_t*>(features.data()), features.size() * sizeof(unsigned)) & 0xffffffff);
    return fingerprint(cpu, kvm_host());
  }();
  return fp;
}

namespace detail {
inline constexpr std::size_t msr_batch = 64;  // KVM takes fewer than 256 per call

inline std::vector<std::uint8_t> get_cpuid(const kvm::Vcpu& cpu) {
  for (std::uint32_t n = 64;; n *= 2) {
    std::vector<std::uint8_t> buf(kvm::abi::cpuid2_header + n * sizeof(kvm_cpuid_entry2));
    std::memcpy(buf.data(), &n, 4);
    if (cpu.call(kvm::abi::get_cpuid2, buf.data()) == 0) {
      std::uint32_t got;
      std::memcpy(&got, buf.data(), 4);
      buf.resize(kvm::abi::cpuid2_header + std::min(got, n) * sizeof(kvm_cpuid_entry2));
      return buf;
    }
    if (errno != E2BIG || n >= 4096) throw VmError(std::string("KVM_GET_CPUID2 failed: ") + std::strerror(errno));
  }
}

// Whether the vCPU's CPUID table is `table`, byte for byte (false where KVM does not say).
inline bool holds_cpuid(const kvm::Vcpu& cpu, const std::vector<std::uint8_t>& table) {
  try {
    return get_cpuid(cpu) == table;
  } catch (const VmError&) {
    return false;
  }
}

// KVM stops a batch at the first MSR it cannot read for this vCPU (one its CPUID lacks): that MSR
// is not part of the vCPU's state, so it is skipped and the batch goes on after it.
inline std::vector<std::uint8_t> get_msrs(const kvm::Vcpu& cpu, const std::vector<std::uint32_t>& indices) {
  std::vector<kvm_msr_entry> out;
  kvm::abi::MsrBuffer m(msr_batch);
  for (std::size_t at = 0; at < indices.size();) {
    const std::size_t n = std::min(msr_batch, indices.size() - at);
    m.set_count(n);
    for (std::size_t i = 0; i < n; ++i) m.entries()[i] = kvm_msr_entry{indices[at + i], 0, 0};
    const int got = cpu.call(kvm::abi::get_msrs, m.data());
    if (got < 0) throw VmError(std::string("KVM_GET_MSRS failed: ") + std::strerror(errno));
    out.insert(out.end(), m.entries(), m.entries() + std::min<std::size_t>(static_cast<std::size_t>(got), n));
    at += static_cast<std::size_t>(got) + (static_cast<std::size_t>(got) < n ? 1 : 0);
  }
  std::vector<std::uint8_t> bytes(out.size() * sizeof(kvm_msr_entry));
  if (!out.empty()) std::memcpy(bytes.data(), out.data(), bytes.size());
  return bytes;
}

inline void set_msrs(const kvm::Vcpu& cpu, const std::vector<std::uint8_t>& bytes) {
  if (bytes.size() % sizeof(kvm_msr_entry)) throw SnapshotError("snapshot section msrs has the wrong size");
  std::vector<kvm_msr_entry> e(bytes.size() / sizeof(kvm_msr_entry));
  if (!e.empty()) std::memcpy(e.data(), bytes.data(), bytes.size());
  e = kvm::msr::restore_order(std::move(e));
  // KVM stops at the first MSR it refuses; every refusal is the snapshot's: SnapshotError naming
  // it. (The one MSR KVM reads but never takes back on a vCPU without an in-kernel LAPIC is left
  // out when such a vCPU is saved: msr::msrs_of_vcpu.)
  kvm::abi::MsrBuffer m(msr_batch);
  for (std::size_t at = 0; at < e.size();) {
    const std::size_t n = std::min(msr_batch, e.size() - at);
    m.set_count(n);
    std::copy(e.begin() + static_cast<std::ptrdiff_t>(at), e.begin() + static_cast<std::ptrdiff_t>(at + n), m.entries());
    const int set = cpu.call(kvm::abi::set_msrs, m.data());
    if (set < 0) throw VmError(std::string("KVM_SET_MSRS failed: ") + std::strerror(errno));
    if (static_cast<std::size_t>(set) < n)
      throw SnapshotError("KVM refused the snapshot's MSR 0x" + hex(m.entries()[set].index) + " (value 0x" + hex(m.entries()[set].data) + ")");
    at += n;
  }
}
}  // namespace detail

// Saves a vCPU's state under `prefix`. `lapic`: the VM has an in-kernel irqchip
// (kvm::Machine::has_irqchip()); KVM has no LAPIC state to give otherwise, nor takes back
// MSR_KVM_ASYNC_PF_INT, which is then not saved.
inline void save_vcpu(kvm::Vcpu& cpu, Sections& s, const std::string& prefix = "vcpu0.", bool lapic = false) {
  const KvmHost& h = kvm_host(cpu.api());
  if (h.cpuid) s[prefix + "cpuid"] = detail::get_cpuid(cpu);
  put(s, prefix + "mp_state", cpu.get<kvm_mp_state>(KVM_GET_MP_STATE, "KVM_GET_MP_STATE"));
  put(s, prefix + "regs", cpu.regs());
  put(s, prefix + "sregs", cpu.sregs());
  put(s, prefix + "fpu", cpu.get<kvm_fpu>(KVM_GET_FPU, "KVM_GET_FPU"));
  if (h.xsave_size) {
    std::vector<std::uint8_t> area(h.xsave_size);
    if (cpu.call(h.xsave2 ? kvm::abi::get_xsave2 : kvm::abi::get_xsave, area.data()) < 0)
      throw VmError(std::string(h.xsave2 ? "KVM_GET_XSAVE2" : "KVM_GET_XSAVE") + " failed: " + std::strerror(errno));
    s[prefix + "xsave"] = std::move(area);
  }
  put(s, prefix + "xcrs", cpu.get<kvm_xcrs>(KVM_GET_XCRS, "KVM_GET_XCRS"));
  put(s, prefix + "debugregs", cpu.get<kvm_debugregs>(KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS"));
  if (lapic) put(s, prefix + "lapic", cpu.get<kvm_lapic_state>(KVM_GET_LAPIC, "KVM_GET_LAPIC"));
  if (!h.msrs.empty()) s[prefix + "msrs"] = detail::get_msrs(cpu, kvm::msr::msrs_of_vcpu(h.msrs, lapic));
  put(s, prefix + "events", cpu.get<kvm_vcpu_events>(KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS"));
}

// Loads a vCPU's state in the order at the top of this file. Each part is restored when its
// section is there; one this host saves (kvm_host()) but the snapshot lacks is an error, and so is
// one this host cannot load.
inline void restore_vcpu(kvm::Vcpu& cpu, const Sections& s, const std::string& prefix = "vcpu0.") {
  const KvmHost& h = kvm_host(cpu.api());
  auto optional = [&](const char* part, bool host_saves) -> const std::vector<std::uint8_t>* {
    auto it = s.find(prefix + part);
    if (it == s.end() && host_saves) throw SnapshotError("snapshot has no " + prefix + part + " section, which this host's KVM saves");
    if (it != s.end() && !host_saves) throw SnapshotError("snapshot has " + prefix + part + " state, which this host's KVM cannot load");
    return it == s.end() ? nullptr : &it->second;
  };
  if (const auto* c = optional("cpuid", h.cpuid)) {
    std::uint32_t nent = 0;
    if (c->size() >= kvm::abi::cpuid2_header) std::memcpy(&nent, c->data(), 4);
    if (c->size() < kvm::abi::cpuid2_header || c->size() != kvm::abi::cpuid2_header + std::size_t{nent} * sizeof(kvm_cpuid_entry2))
      throw SnapshotError("snapshot section " + prefix + "cpuid has the wrong size");
    // A vCPU that never had a CPUID table is saved with an empty one: it stays without. One that
    // holds the saved table already — a pre-made bare VM shell, given this host's normalized CPUID
    // as the snapshot's vCPU was (the fingerprint's guest-cpuid says so) — keeps it: the result is
    // the same, and here KVM_SET_CPUID2 costs ~19 us where KVM_GET_CPUID2 costs ~2.5 us.
    if (nent && !detail::holds_cpuid(cpu, *c)) {
      std::vector<std::uint8_t> copy(*c);
      if (cpu.call(kvm::abi::set_cpuid2, copy.data()) < 0)
        throw SnapshotError(std::string("KVM refused the snapshot's CPUID (KVM_SET_CPUID2: ") + std::strerror(errno) + ")");
    }
  }
  cpu.set(KVM_SET_MP_STATE, get<kvm_mp_state>(s, prefix + "mp_state"), "KVM_SET_MP_STATE");
  cpu.set_regs(get<kvm_regs>(s, prefix + "regs"));
  cpu.set_sregs(get<kvm_sregs>(s, prefix + "sregs"));
  cpu.set(KVM_SET_FPU, get<kvm_fpu>(s, prefix + "fpu"), "KVM_SET_FPU");
  if (const auto* x = optional("xsave", h.xsave_size != 0)) {
    if (x->size() != h.xsave_size) throw SnapshotError("snapshot section " + prefix + "xsave has the wrong size");
    std::vector<std::uint8_t> copy(*x);
    if (cpu.call(kvm::abi::set_xsave, copy.data()) < 0)
      throw SnapshotError(std::string("KVM refused the snapshot's XSAVE state (KVM_SET_XSAVE: ") + std::strerror(errno) + ")");
  }
  cpu.set(KVM_SET_XCRS, get<kvm_xcrs>(s, prefix + "xcrs"), "KVM_SET_XCRS");
  cpu.set(KVM_SET_DEBUGREGS, get<kvm_debugregs>(s, prefix + "debugregs"), "KVM_SET_DEBUGREGS");
  if (s.count(prefix + "lapic")) {
    const auto lapic = get<kvm_lapic_state>(s, prefix + "lapic");
    if (cpu.call(KVM_SET_LAPIC, &lapic) < 0)
      throw SnapshotError(std::string("KVM refused the snapshot's LAPIC state (KVM_SET_LAPIC: ") + std::strerror(errno) +
                          "); a vCPU with a LAPIC goes into a VM with an in-kernel irqchip");
  }
  if (const auto* m = optional("msrs", !h.msrs.empty())) detail::set_msrs(cpu, *m);
  cpu.set(KVM_SET_VCPU_EVENTS, get<kvm_vcpu_events>(s, prefix + "events"), "KVM_SET_VCPU_EVENTS");
  if (cpu.call(KVM_KVMCLOCK_CTRL, 0) < 0 && errno != EINVAL)
    throw VmError(std::string("KVM_KVMCLOCK_CTRL failed: ") + std::strerror(errno));
}

namespace detail {
inline constexpr std::pair<std::uint32_t, const char*> irqchips[] = {
    {KVM_IRQCHIP_PIC_MASTER, "pic_master"}, {KVM_IRQCHIP_PIC_SLAVE, "pic_slave"}, {KVM_IRQCHIP_IOAPIC, "ioapic"}};
}  // namespace detail

// Saves the VM's own state under `prefix`: the in-kernel PICs, IOAPIC and PIT when it has them,
// and the KVM clock. Call with the vCPUs stopped.
inline void save_vm(kvm::Machine& vm, Sections& s, const std::string& prefix = "vm.") {
  if (vm.has_irqchip()) {
    for (auto [id, tag] : detail::irqchips) {
      kvm_irqchip c{};
      c.chip_id = id;
      vm.call_or_throw(KVM_GET_IRQCHIP, &c, "KVM_GET_IRQCHIP");
      put(s, prefix + tag, c);
    }
    kvm_pit_state2 pit{};
    if (vm.call(KVM_GET_PIT2, &pit) == 0) put(s, prefix + "pit2", pit);
    else if (errno != ENXIO) throw VmError(std::string("KVM_GET_PIT2 failed: ") + std::strerror(errno));  // ENXIO: no PIT
  }
  kvm_clock_data clock{};
  vm.call_or_throw(KVM_GET_CLOCK, &clock, "KVM_GET_CLOCK");
  put(s, prefix + "clock", clock);
}

// Checks that `vm` is made like the saved one — with an in-kernel irqchip and PIT exactly when the
// snapshot has their state — before anything is loaded into it.
inline void check_vm_shape(const kvm::Machine& vm, const Sections& s, const std::string& prefix = "vm.") {
  const bool saved_chip = s.count(prefix + "pic_master") != 0, chip = vm.has_irqchip();
  if (saved_chip != chip)
    throw SnapshotError(saved_chip ? "snapshot is of a VM with an in-kernel irqchip; this VM has none (kvm::Machine::create_irqchip)"
                                   : "snapshot is of a VM without an in-kernel irqchip; this VM has one");
  if (!chip) return;
  kvm_pit_state2 now{};
  const bool pit = vm.call(KVM_GET_PIT2, &now) == 0;
  if (s.count(prefix + "pit2") != (pit ? 1u : 0u))
    throw SnapshotError(pit ? "snapshot is of a VM without a PIT; this VM has one" : "snapshot is of a VM with a PIT; this VM has none");
}

// Loads what save_vm saved: PIT2, the clock, then the irqchip. Call after the vCPUs
// (restore_machine does both, in that order).
inline void restore_vm(kvm::Machine& vm, const Sections& s, const std::string& prefix = "vm.") {
  check_vm_shape(vm, s, prefix);
  const bool chip = vm.has_irqchip();
  if (chip && s.count(prefix + "pit2")) {
    auto p = get<kvm_pit_state2>(s, prefix + "pit2");
    vm.call_or_throw(KVM_SET_PIT2, &p, "KVM_SET_PIT2");
  }
  // KVM_GET_CLOCK's flags describe the reading (TSC_STABLE, REALTIME, HOST_TSC); KVM_SET_CLOCK
  // before Linux 5.16 takes none, and REALTIME would advance the clock by the time the snapshot
  // spent on disk. Without flags the guest's clock goes on from where it was saved.
  auto clock = get<kvm_clock_data>(s, prefix + "clock");
  clock.flags = 0;
  clock.realtime = clock.host_tsc = 0;
  vm.call_or_throw(KVM_SET_CLOCK, &clock, "KVM_SET_CLOCK");
  if (chip) {
    for (auto [id, tag] : detail::irqchips) {
      auto c = get<kvm_irqchip>(s, prefix + tag);
      if (c.chip_id != id) throw SnapshotError("snapshot section " + prefix + tag + " holds another chip");
      vm.call_or_throw(KVM_SET_IRQCHIP, &c, "KVM_SET_IRQCHIP");
    }
  }
}

// Loads a whole machine in Firecracker's order: the VM's shape checked first, then every vCPU
// (sections "vcpu<i>."), then the VM's own state. `cpus` are the VM's vCPUs, in index order.
inline void restore_machine(kvm::Machine& vm, const std::vector<kvm::Vcpu*>& cpus, const Sections& s) {
  check_vm_shape(vm, s);
  for (std::size_t i = 0; i < cpus.size(); ++i) restore_vcpu(*cpus[i], s, "vcpu" + std::to_string(i) + ".");
  restore_vm(vm, s);
}

// The MMIO holes punched into a machine's RAM, which a save leaves out.
inline std::vector<MemoryHole> memory_holes(const kvm::Machine& vm) {
  std::vector<MemoryHole> out;
  for (const kvm::MmioRegion& h : vm.mmio_holes()) out.push_back({h.base, h.size});
  return out;
}

// A KVM snapshot: format.hpp's write and read with this host's fingerprint.
inline void write(const std::filesystem::path& state, const Sections& sections, const std::uint8_t* memory, std::uint64_t size,
                  std::span<const MemoryHole> holes = {}) {
  write(state, sections, memory, size, host_fingerprint(), holes);
}
inline Loaded read(const std::filesystem::path& state) { return read(state, host_fingerprint()); }

}  // namespace crumble::vm::snapshot
