// SPDX-License-Identifier: Apache-2.0
// tests/vm/cpuid_test.cpp — CPUID normalization (engine/kvm/cpuid.hpp) and MSR selection
// (engine/kvm/msr.hpp) on recorded host tables (tests/vm/data/kvm/): this machine's
// KVM_GET_SUPPORTED_CPUID and MSR index list (AMD EPYC, kvm_pvm), an Intel Xeon's CPUID as QEMU
// models it, and an Intel host's MSR index list with nested virtualisation.
//
// The oracles: the SDM's and APM's field definitions, read back the way Linux reads them (the APIC
// id from leaf 1 and 0xB, the package from the 0xB core-level shift, the vendor's signature); the
// host's own CPUID instruction run on two different cores, whose raw tables differ and whose
// normalized ones must not; and Firecracker's serializable MSR ranges.
#include <catch2/catch.hpp>
#include <crumble/vm/engine/kvm/cpuid.hpp>
#include <crumble/vm/engine/kvm/kvm.hpp>
#include <crumble/vm/engine/kvm/msr.hpp>

#include <sched.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "kvm_data.hpp"

namespace kvm = crumble::vm::kvm;
namespace cpuid = crumble::vm::kvm::cpuid;

namespace {
const char* const tables[] = {"amd-epyc-kvm_pvm.txt", "intel-icelake-server-qemu.txt"};
bool bit(std::uint32_t r, unsigned b) { return (r >> b) & 1; }
}  // namespace

TEST_CASE("cpuid: each vCPU gets its own APIC id, the VM's topology and the hypervisor leaves", "[vm][kvm][cpuid]") {
  for (const char* name : tables) {
    const auto host = crumble::test::read_host_tables(name).cpuid;
    REQUIRE(host.size() > 10);
    for (std::uint32_t count : {1u, 2u, 3u, 4u, 8u}) {
      for (std::uint32_t index = 0; index < count; ++index) {
        INFO(name << ", vCPU " << index << " of " << count);
        const auto t = cpuid::normalize(host, index, count);
        const auto* l1 = cpuid::find(t, 1);
        REQUIRE(l1);
        CHECK((l1->ebx >> 24) == index);                        // initial APIC id
        CHECK(((l1->ebx >> 8) & 0xff) == 8);                    // CLFLUSH: 64 bytes
        CHECK(((l1->ebx >> 16) & 0xff) >= count);              // addressable ids
        CHECK(bit(l1->ecx, 31));                                // HYPERVISOR
        CHECK(bit(l1->ecx, 24));                                // TSC_DEADLINE
        CHECK_FALSE(bit(l1->ecx, 15));                          // PDCM: no PMU
        CHECK(bit(l1->edx, 28) == (count > 1));                 // HTT
        // Leaf 0xB as Linux's detect_extended_topology reads it: x2APIC id, one thread per core,
        // all cores in package 0 (id >> core-level shift).
        const auto* smt = cpuid::find(t, 0xb, 0);
        const auto* core = cpuid::find(t, 0xb, 1);
        const auto* end = cpuid::find(t, 0xb, 2);
        REQUIRE(smt);
        REQUIRE(core);
        REQUIRE(end);
        CHECK(smt->edx == index);
        CHECK(core->edx == index);
        CHECK(((smt->ecx >> 8) & 0xff) == 1);
        CHECK((smt->ebx & 0xffff) == 1);
        CHECK(((core->ecx >> 8) & 0xff) == 2);
        CHECK((core->ebx & 0xffff) == count);
        CHECK((index >> (core->eax & 0x1f)) == 0);
        CHECK((1u << (core->eax & 0x1f)) >= count);
        CHECK(((end->ecx >> 8) & 0xff) == 0);
        // KVM's leaf: "KVMKVMKVM\0\0\0", reaching 0x40000001.
        const auto* sig = cpuid::find(t, 0x40000000);
        REQUIRE(sig);
        char s[13] = {};
        std::memcpy(s, &sig->ebx, 4), std::memcpy(s + 4, &sig->ecx, 4), std::memcpy(s + 8, &sig->edx, 4);
        CHECK(std::string(s) == "KVMKVMKVM");
        CHECK(sig->eax >= 0x40000001);
        CHECK(cpuid::find(t, 0x40000001));
        if (const auto* pmu = cpuid::find(t, 0xa)) CHECK((pmu->eax | pmu->ebx | pmu->ecx | pmu->edx) == 0);
        if (cpuid::vendor(t) == cpuid::Vendor::amd) {
          if (const auto* e = cpuid::find(t, 0x8000001e)) CHECK(e->eax == index);
          if (const auto* s8 = cpuid::find(t, 0x80000008)) CHECK((s8->ecx & 0xff) == count - 1);
        }
        if (cpuid::vendor(t) == cpuid::Vendor::intel) {
          for (const auto& e : t)
            if (e.function == 4 && (e.eax & 0x1f)) CHECK(((e.eax >> 26) + 1) >= count);
        }
        // Idempotent, and the rest of the host's table is kept.
        CHECK(cpuid::canonical_bytes(cpuid::normalize(t, index, count)) == cpuid::canonical_bytes(t));
        CHECK(cpuid::find(t, 0)->ebx == cpuid::find(host, 0)->ebx);
        CHECK(cpuid::find(t, 7, 0)->ebx == cpuid::find(host, 7, 0)->ebx);
      }
    }
  }
}

TEST_CASE("cpuid: two vCPUs' tables differ only in the per-vCPU fields", "[vm][kvm][cpuid]") {
  for (const char* name : tables) {
    INFO(name);
    const auto host = crumble::test::read_host_tables(name).cpuid;
    auto a = cpuid::normalize(host, 0, 2), b = cpuid::normalize(host, 1, 2);
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      INFO("leaf 0x" << std::hex << a[i].function << "." << a[i].index);
      const bool per_vcpu = a[i].function == 1 || a[i].function == 0xb || a[i].function == 0x1f || a[i].function == 0x8000001e;
      if (!per_vcpu) CHECK(std::memcmp(&a[i], &b[i], sizeof a[i]) == 0);
    }
  }
}

TEST_CASE("cpuid: bad vCPU numbers and damaged tables are refused", "[vm][kvm][cpuid]") {
  const auto host = crumble::test::read_host_tables(tables[0]).cpuid;
  CHECK_THROWS_AS(cpuid::normalize(host, 0, 0), crumble::vm::ConfigError);
  CHECK_THROWS_AS(cpuid::normalize(host, 2, 2), crumble::vm::ConfigError);
  CHECK_THROWS_AS(cpuid::normalize(host, 0, 256), crumble::vm::ConfigError);
  auto bytes = cpuid::table(host);
  CHECK(cpuid::entries(bytes).size() == host.size());
  bytes.pop_back();
  CHECK_THROWS_WITH(cpuid::entries(bytes), Catch::Contains("disagrees"));
}

TEST_CASE("cpuid: the host's CPUID read on two different cores normalizes to one table", "[vm][kvm][cpuid]") {
  // The raw tables differ in the APIC ids of the cores that ran CPUID; the guest's must not, or the
  // fingerprint would change with the core the process happened to run on.
  if (std::thread::hardware_concurrency() < 2) {
    std::printf("SKIPPED: one CPU\n");
    std::exit(4);
  }
  auto on_core = [](int core) {
    std::vector<std::uint8_t> t;
    std::thread([&] {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(core, &set);
      REQUIRE(::sched_setaffinity(0, sizeof set, &set) == 0);
      t = kvm::System::host_cpuid();
    }).join();
    return cpuid::entries(t);
  };
  const auto c0 = on_core(0), c1 = on_core(1);
  CHECK((cpuid::find(c0, 1)->ebx >> 24) != (cpuid::find(c1, 1)->ebx >> 24));  // the raw tables differ
  CHECK(cpuid::canonical_bytes(cpuid::normalize(c0, 0, 1)) == cpuid::canonical_bytes(cpuid::normalize(c1, 0, 1)));
}

TEST_CASE("msr: a snapshot carries the allowlisted MSRs of the index list, never the VMX capabilities", "[vm][kvm][msr]") {
  struct Row {
    const char* file;
    std::vector<std::uint32_t> must, never;
  };
  const std::vector<Row> rows = {
      {"amd-epyc-kvm_pvm.txt", {0x10, 0x174, 0x277, 0x6e0, 0x1a0, 0xc0000082, 0x4b564d01, 0xc0010015}, {0x17b, 0x12, 0x11, 0x345, 0xc0010117}},
      {"intel-nested-msrs.txt", {0x10, 0x3a, 0x3b, 0x6e0, 0x4b564d00, 0xc0000103}, {0x480, 0x481, 0x484, 0x487, 0x489, 0x491, 0x309, 0x38f, 0xc1, 0x186, 0x4d0}},
  };
  for (const Row& r : rows) {
    INFO(r.file);
    const auto list = crumble::test::read_host_tables(r.file).msrs;
    REQUIRE_FALSE(list.empty());
    const auto saved = kvm::msr::msrs_to_save(list);
    for (std::uint32_t i : r.must) {
      INFO("must: 0x" << std::hex << i);
      CHECK(std::count(list.begin(), list.end(), i) == 1);
      CHECK(std::count(saved.begin(), saved.end(), i) == 1);
    }
    for (std::uint32_t i : r.never) {
      INFO("never: 0x" << std::hex << i);
      CHECK(std::count(saved.begin(), saved.end(), i) == 0);
    }
    // KVM's order is kept.
    std::vector<std::uint32_t> in_order;
    for (std::uint32_t i : list)
      if (kvm::msr::serializable_msr(i)) in_order.push_back(i);
    CHECK(saved == in_order);
  }
}

TEST_CASE("msr: the boot MSRs a Linux vCPU starts with", "[vm][kvm][msr]") {
  const auto boot = kvm::msr::boot_msrs();
  auto value = [&](std::uint32_t i) -> std::int64_t {
    for (auto [k, v] : boot)
      if (k == i) return static_cast<std::int64_t>(v);
    return -1;
  };
  struct Row {
    const char* name;
    std::uint32_t index;
    std::int64_t value;
  };
  for (const Row& r : {Row{"IA32_MISC_ENABLE: fast strings", 0x1a0, 1}, Row{"IA32_MTRR_DEF_TYPE: enabled, write-back", 0x2ff, 0x806},
                       Row{"IA32_SYSENTER_CS", 0x174, 0}, Row{"STAR", 0xc0000081, 0}, Row{"LSTAR", 0xc0000082, 0}, Row{"CSTAR", 0xc0000083, 0},
                       Row{"SFMASK", 0xc0000084, 0}, Row{"KERNEL_GS_BASE", 0xc0000102, 0}, Row{"TSC", 0x10, 0}}) {
    INFO(r.name);
    CHECK(value(r.index) == r.value);
    CHECK(kvm::msr::serializable_msr(r.index));  // what boot sets, a snapshot keeps
  }
}

TEST_CASE("cpuinfo: VMX or SVM is a whole word on a flags line, not a vmx flags line nor part of a longer flag", "[vm][kvm][cpuinfo]") {
  struct Row {
    const char* what;
    const char* text;
    bool has;
  };
  for (const Row& r : {
           Row{"Intel with VMX", "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae vmx smx est\nvmx flags\t: vnmi preemption_timer\n", true},
           Row{"AMD with SVM, last on the line", "processor\t: 0\nflags\t\t: fpu lm svm\n", true},
           Row{"AMD with SVM's features but no svm", "flags\t\t: fpu lm svm_lock nrip_save\n", false},
           Row{"a guest: no VMX, only a vmx flags line", "flags\t\t: fpu hypervisor\nvmx flags\t: vnmi\n", false},
           Row{"no flags line", "processor\t: 0\nvendor_id\t: GenuineIntel\n", false},
           Row{"vmx in another field", "model name\t: vmx svm\nflags\t\t: fpu\n", false},
       }) {
    INFO(r.what);
    CHECK(kvm::cpuinfo_has_vmx_or_svm(r.text) == r.has);
  }
  // This host, against grep's reading of the same file.
  const int grep = std::system("grep -qE '^flags[[:space:]]*:.*[[:space:]](vmx|svm)([[:space:]]|$)' /proc/cpuinfo");
  REQUIRE(grep != -1);
  CHECK(kvm::host_has_vmx_or_svm() == (WEXITSTATUS(grep) == 0));
}
