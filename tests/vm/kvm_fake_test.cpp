// SPDX-License-Identifier: Apache-2.0
// tests/vm/kvm_fake_test.cpp — what the KVM engine asks of KVM, recorded against a fake
// (kvm_fake.hpp) that plays hosts we do not have: the set-up of a Linux machine (TSS address,
// irqchip, PIT2, per-vCPU CPUID and boot MSRs, in that order), a snapshot saved and restored on an
// Intel host with nested virtualisation (KVM lists the VMX MSRs, then refuses six of them back),
// the restore order, a zero TSC_DEADLINE, an unclaimed port read, and the Linux machine's UART
// driving GSI 4 through KVM_IRQ_LINE. The oracles: the KVM API's
// documented rules and Firecracker's restore order, checked call by call; the MSR values are
// those the fake host held.
#include <catch2/catch.hpp>
#include <crumble/vm/engine/kvm/linux_machine.hpp>
#include <crumble/vm/snapshot/kvm_state.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <unistd.h>

#include "kvm_data.hpp"
#include "kvm_fake.hpp"
#include "synthetic_kernel.hpp"

using crumble::test::FakeKvm;
namespace kvm = crumble::vm::kvm;
namespace snapshot = crumble::vm::snapshot;

namespace {

// An Intel host with nested virtualisation: the recorded Intel CPUID and the Intel MSR index list
// with the VMX capabilities, KVM_SET_MSRS refusing what KVM refuses there. One per process: the
// engine probes a host once per Api (snapshot::kvm_host).
FakeKvm& intel_nested() {
  static FakeKvm& f = [] () -> FakeKvm& {
    auto* k = new FakeKvm;
    k->supported_cpuid = crumble::test::read_host_tables("intel-icelake-server-qemu.txt").cpuid;
    k->msr_index_list = crumble::test::read_host_tables("intel-nested-msrs.txt").msrs;
    k->refused_on_set = {0x481, 0x482, 0x483, 0x484, 0x487, 0x489};
    std::uint64_t v = 0x1000;
    for (std::uint32_t i : k->msr_index_list) k->msr_values[i] = v++;
    return *k;
  }();
  return f;
}

std::uint32_t apic_id_leaf1(const std::vector<kvm_cpuid_entry2>& t) { return kvm::cpuid::find(t, 1)->ebx >> 24; }

}  // namespace

TEST_CASE("kvm fake: a Linux machine is set up with the TSS address first, then irqchip, PIT2, and each vCPU's CPUID and boot MSRs",
          "[vm][kvm][fake]") {
  FakeKvm& f = intel_nested();
  kvm::System sys("/dev/kvm", f);
  kvm::Machine vm(sys, 256 << 20);
  f.forget();
  const auto cpus = crumble::vm::set_up_linux_machine(vm, 2, false);
  REQUIRE(cpus.size() == 2);
  const auto calls = f.calls();
  const long tss = f.find("KVM_SET_TSS_ADDR"), chip = f.find("KVM_CREATE_IRQCHIP"), pit = f.find("KVM_CREATE_PIT2"),
             vcpu0 = f.find("KVM_CREATE_VCPU");
  REQUIRE(tss >= 0);
  CHECK(tss < chip);
  CHECK(chip < pit);
  CHECK(pit < vcpu0);
  // The TSS's three pages lie outside every memory slot KVM was given.
  const std::uint64_t tss_at = calls[static_cast<std::size_t>(tss)].value;
  CHECK(tss_at == 0xfffbd000);
  for (const auto& c : calls) {
    if (c.request != "KVM_SET_USER_MEMORY_REGION" || c.slot.memory_size == 0) continue;
    INFO("memory slot " << c.slot.slot);
    CHECK((tss_at + 3 * 4096 <= c.slot.guest_phys_addr || tss_at >= c.slot.guest_phys_addr + c.slot.memory_size));
  }
  CHECK(calls[static_cast<std::size_t>(pit)].value == KVM_PIT_SPEAKER_DUMMY);
  // Each vCPU: created, its own CPUID, then the boot MSRs.
  for (int i = 0; i < 2; ++i) {
    const std::string me = "vcpu" + std::to_string(i);
    INFO(me);
    const long cpuid = f.find("KVM_SET_CPUID2", me), msrs = f.find("KVM_SET_MSRS", me);
    REQUIRE(cpuid >= 0);
    REQUIRE(msrs > cpuid);
    const auto& table = calls[static_cast<std::size_t>(cpuid)].cpuid;
    CHECK(apic_id_leaf1(table) == static_cast<std::uint32_t>(i));
    CHECK(kvm::cpuid::find(table, 0xb, 0)->edx == static_cast<std::uint32_t>(i));
    CHECK(kvm::cpuid::find(table, 0xb, 1)->ebx == 2u);  // two cores in the package
    const auto& sent = calls[static_cast<std::size_t>(msrs)].msrs;
    auto value = [&](std::uint32_t index) -> std::int64_t {
      for (auto [k, v] : sent)
        if (k == index) return static_cast<std::int64_t>(v);
      return -1;
    };
    CHECK(value(kvm::msr::misc_enable) == 1);        // fast strings
    CHECK(value(kvm::msr::mtrr_def_type) == 0x806);  // MTRRs on, write-back
    CHECK(value(kvm::msr::lstar) == 0);
    CHECK(value(kvm::msr::tsc) == 0);
  }
}

TEST_CASE("kvm fake: where KVM refuses the guest CPUID or a boot MSR, the set-up says which and what to use", "[vm][kvm][fake]") {
  struct Row {
    const char* what;
    bool cpuid_refused;
    std::set<std::uint32_t> msrs_refused;
    const char* names;
  };
  for (const Row& r : {Row{"CPUID refused", true, {}, "KVM_SET_CPUID2"}, Row{"MTRRdefType refused", false, {0x2ff}, "MSR 0x2ff"}}) {
    INFO(r.what);
    FakeKvm f;
    f.supported_cpuid = crumble::test::read_host_tables("amd-epyc-kvm_pvm.txt").cpuid;
    f.cpuid_refused = r.cpuid_refused;
    f.refused_on_set = r.msrs_refused;
    kvm::System sys("/dev/kvm", f);
    kvm::Machine vm(sys, 256 << 20);
    try {
      crumble::vm::set_up_linux_machine(vm, 1, false);
      FAIL("accepted");
    } catch (const crumble::vm::ConfigError& e) {
      CHECK_THAT(e.what(), Catch::Contains("KVM cannot run a Linux guest on this host") && Catch::Contains(r.names) &&
                               Catch::Contains("use the QEMU engine"));
    }
  }
}

TEST_CASE("kvm fake: on an Intel host with nested virtualisation a snapshot leaves out the VMX MSRs and restores", "[vm][kvm][fake][snapshot]") {
  FakeKvm& f = intel_nested();
  const auto& host = snapshot::kvm_host(f);
  REQUIRE(host.unavailable.empty());
  // What is saved: the allowlisted MSRs, none of 0x480-0x491.
  CHECK_FALSE(host.msrs.empty());
  for (std::uint32_t i : host.msrs) {
    INFO("MSR 0x" << std::hex << i);
    CHECK((i < 0x480 || i > 0x491));
    CHECK(kvm::msr::serializable_msr(i));
  }
  for (std::uint32_t must : {kvm::msr::tsc, kvm::msr::tsc_deadline, kvm::msr::lstar, kvm::msr::misc_enable, 0x4b564d01u})
    CHECK(std::count(host.msrs.begin(), host.msrs.end(), must) == 1);

  kvm::System sys("/dev/kvm", f);
  kvm::Machine a(sys, 2 << 20);
  a.create_irqchip();
  kvm::Vcpu& ca = a.add_vcpu();
  snapshot::Sections s;
  snapshot::save_vm(a, s);
  snapshot::save_vcpu(ca, s, "vcpu0.", true);
  REQUIRE(s.count("vcpu0.msrs"));

  kvm::Machine b(sys, 2 << 20);
  b.create_irqchip();
  kvm::Vcpu& cb = b.add_vcpu();
  f.forget();
  snapshot::restore_machine(b, {&cb}, s);  // would throw SnapshotError on a refused MSR
  const long set = f.find("KVM_SET_MSRS", "vcpu0");
  REQUIRE(set >= 0);
  const auto restored = f.calls()[static_cast<std::size_t>(set)].msrs;
  CHECK(restored.size() == s.at("vcpu0.msrs").size() / sizeof(kvm_msr_entry));
  // The values are the ones the saving host held.
  for (auto [index, value] : restored) {
    INFO("MSR 0x" << std::hex << index);
    if (index != kvm::msr::tsc_deadline) CHECK(value == f.msr_values.at(index));
  }

  // The old way — every MSR the index list names — fails on this host, at 0x481: the fake plays
  // the refusal the allowlist avoids.
  std::vector<kvm_msr_entry> all;
  for (std::uint32_t i : f.msr_index_list) all.push_back(kvm_msr_entry{i, 0, f.msr_values[i]});
  snapshot::Sections everything = s;
  everything["vcpu0.msrs"].assign(reinterpret_cast<const std::uint8_t*>(all.data()),
                                  reinterpret_cast<const std::uint8_t*>(all.data() + all.size()));
  kvm::Machine c(sys, 2 << 20);
  c.create_irqchip();
  kvm::Vcpu& cc = c.add_vcpu();
  CHECK_THROWS_WITH(snapshot::restore_machine(c, {&cc}, everything), Catch::Contains("MSR 0x481"));
}

TEST_CASE("kvm fake: a restore loads every vCPU, then PIT2, the clock and the irqchip", "[vm][kvm][fake][snapshot]") {
  FakeKvm& f = intel_nested();
  kvm::System sys("/dev/kvm", f);
  kvm::Machine a(sys, 2 << 20);
  a.create_irqchip();
  std::vector<kvm::Vcpu*> cpus{&a.add_vcpu(), &a.add_vcpu()};
  for (std::uint32_t i = 0; i < 2; ++i) cpus[i]->set_cpuid(kvm::cpuid::normalize(sys.supported_cpuid(), i, 2));
  snapshot::Sections s;
  snapshot::save_vm(a, s);
  for (int i = 0; i < 2; ++i) snapshot::save_vcpu(*cpus[static_cast<std::size_t>(i)], s, "vcpu" + std::to_string(i) + ".", true);
  // Into a new VM made as for a cold boot, whose vCPUs hold no CPUID yet.
  kvm::Machine b(sys, 2 << 20);
  b.create_irqchip();
  std::vector<kvm::Vcpu*> fresh{&b.add_vcpu(), &b.add_vcpu()};
  f.forget();
  snapshot::restore_machine(b, fresh, s);
  std::vector<std::string> sets;
  for (const auto& c : f.calls())
    if (c.request.rfind("KVM_SET_", 0) == 0 || c.request == "KVM_KVMCLOCK_CTRL") sets.push_back(c.object + " " + c.request);
  std::vector<std::string> want;
  for (std::string v : {"vcpu0", "vcpu1"})
    for (std::string r : {"KVM_SET_CPUID2", "KVM_SET_MP_STATE", "KVM_SET_REGS", "KVM_SET_SREGS", "KVM_SET_FPU", "KVM_SET_XCRS", "KVM_SET_DEBUGREGS",
                          "KVM_SET_LAPIC", "KVM_SET_MSRS", "KVM_SET_VCPU_EVENTS", "KVM_KVMCLOCK_CTRL"})
      want.push_back(v + " " + r);
  REQUIRE(snapshot::kvm_host(f).cpuid);
  for (std::string r : {"KVM_SET_PIT2", "KVM_SET_CLOCK", "KVM_SET_IRQCHIP", "KVM_SET_IRQCHIP", "KVM_SET_IRQCHIP"}) want.push_back("vm " + r);
  CHECK(sets == want);
}

TEST_CASE("kvm fake: MSRs are restored TSC first and TSC_DEADLINE last, a zero deadline as the saved TSC", "[vm][kvm][fake][snapshot]") {
  struct Row {
    const char* what;
    std::uint64_t deadline, want;
  };
  for (const Row& r : {Row{"a zero deadline", 0, 0x123456789}, Row{"an armed deadline", 0x200000000, 0x200000000}}) {
    INFO(r.what);
    const std::vector<kvm_msr_entry> saved{{kvm::msr::tsc_deadline, 0, r.deadline}, {kvm::msr::lstar, 0, 0xffffffff81000000}, {kvm::msr::tsc, 0, 0x123456789}};
    const auto order = kvm::msr::restore_order(saved);
    REQUIRE(order.size() == 3);
    CHECK(order[0].index == kvm::msr::tsc);
    CHECK(order[1].index == kvm::msr::lstar);
    CHECK(order[2].index == kvm::msr::tsc_deadline);
    CHECK(order[2].data == r.want);
  }
  // Through a restore on the fake: the KVM_SET_MSRS the engine sends.
  FakeKvm& f = intel_nested();
  kvm::System sys("/dev/kvm", f);
  kvm::Machine m(sys, 2 << 20);
  m.create_irqchip();
  kvm::Vcpu& cpu = m.add_vcpu();
  f.msr_values[kvm::msr::tsc] = 0xabcdef;
  f.msr_values[kvm::msr::tsc_deadline] = 0;
  snapshot::Sections s;
  snapshot::save_vm(m, s);
  snapshot::save_vcpu(cpu, s, "vcpu0.", true);
  f.forget();
  snapshot::restore_machine(m, {&cpu}, s);
  const auto sent = f.calls()[static_cast<std::size_t>(f.find("KVM_SET_MSRS", "vcpu0"))].msrs;
  REQUIRE(sent.size() >= 2);
  CHECK(sent.front() == std::pair<std::uint32_t, std::uint64_t>{kvm::msr::tsc, 0xabcdef});
  CHECK(sent.back() == std::pair<std::uint32_t, std::uint64_t>{kvm::msr::tsc_deadline, 0xabcdef});
}

TEST_CASE("kvm fake: a port read nothing claims answers 0, an MMIO read 0", "[vm][kvm][fake]") {
  FakeKvm f;
  kvm::System sys("/dev/kvm", f);
  kvm::Machine m(sys, 2 << 20);
  kvm::Vcpu& cpu = m.add_vcpu();
  kvm_run* run = f.run_of(0);
  const std::uint32_t io_at = 0x1000;  // where the data of a port exit lies in kvm_run
  std::vector<std::uint8_t> seen;
  // in al, 0x71 (the CMOS data port: "update in progress" when it read 0xff); in eax, 0x80; then a
  // 4-byte MMIO read; then HLT.
  f.exits[0].push_back([&](kvm_run& r) {
    r.exit_reason = KVM_EXIT_IO;
    r.io = {KVM_EXIT_IO_IN, 1, 0x71, 1, io_at};
    std::memset(reinterpret_cast<std::uint8_t*>(&r) + io_at, 0xcc, 4);
  });
  f.exits[0].push_back([&](kvm_run& r) {
    seen.push_back(reinterpret_cast<std::uint8_t*>(&r)[io_at]);  // what the engine answered the last exit
    r.exit_reason = KVM_EXIT_IO;
    r.io = {KVM_EXIT_IO_IN, 4, 0x80, 1, io_at};
    std::memset(reinterpret_cast<std::uint8_t*>(&r) + io_at, 0xcc, 4);
  });
  f.exits[0].push_back([&](kvm_run& r) {
    for (int i = 0; i < 4; ++i) seen.push_back(reinterpret_cast<std::uint8_t*>(&r)[io_at + i]);
    r.exit_reason = KVM_EXIT_MMIO;
    r.mmio.phys_addr = 0xd0000000;
    r.mmio.len = 4;
    r.mmio.is_write = 0;
    std::memset(r.mmio.data, 0xcc, 8);
  });
  f.exits[0].push_back([&](kvm_run& r) {
    for (int i = 0; i < 4; ++i) seen.push_back(r.mmio.data[i]);
    r.exit_reason = KVM_EXIT_HLT;
  });
  int unclaimed = 0;
  cpu.on_io = [&](kvm::IoExit& io) { unclaimed += !io.out; };  // claims nothing
  CHECK(cpu.run(std::chrono::steady_clock::now() + std::chrono::seconds(5)) == kvm::Exit::halted);
  CHECK(unclaimed == 2);
  CHECK(seen == std::vector<std::uint8_t>(9, 0));
  (void)run;
}

namespace {

// A port I/O exit as KVM would hand it over: `out` with `value`, or `in` (the engine answers in
// the same kvm_run, where the next exit reads it).
constexpr std::uint32_t io_data = 0x1000;  // where a port exit's data lies in kvm_run
void port_exit(kvm_run& r, bool out, std::uint16_t port, std::uint8_t value = 0) {
  r.exit_reason = KVM_EXIT_IO;
  r.io = {static_cast<std::uint8_t>(out ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN), 1, port, 1, io_data};
  reinterpret_cast<std::uint8_t*>(&r)[io_data] = out ? value : 0xcc;
}

}  // namespace

TEST_CASE("kvm fake: the Linux machine's UART raises and lowers GSI 4 through KVM_IRQ_LINE as the guest drives THRE", "[vm][kvm][fake][uart]") {
  // A kernel file the loader accepts; the fake runs none of it: its KVM_RUN plays the guest.
  const std::filesystem::path kernel = std::filesystem::temp_directory_path() / ("crumble-fake-kernel-" + std::to_string(::getpid()));
  {
    const auto bytes = crumble::test::synthetic_bzimage(std::vector<std::uint8_t>{0xf4});  // hlt
    std::ofstream(kernel, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  struct Row {
    const char* what;
    std::uint8_t mcr;                    // what the guest writes to MCR first
    std::vector<std::uint64_t> levels;   // the KVM_IRQ_LINE calls wanted: GSI << 32 | level
  };
  const std::uint64_t up = (std::uint64_t{4} << 32) | 1, down = std::uint64_t{4} << 32;
  for (const Row& r : {Row{"OUT2 set, as Linux's driver sets it", 0x08, {up, down, up}}, Row{"OUT2 clear: the line stays off the PIC", 0x00, {}}}) {
    INFO(r.what);
    FakeKvm f;
    std::uint8_t iir = 0;
    // The guest: MCR, then IER with THRI (the transmitter is empty: an interrupt is due), then
    // the handler's IIR read (which acknowledges it), then one byte (THR empty again: due again),
    // then HLT.
    f.exits[0].push_back([&](kvm_run& run) { port_exit(run, true, 0x3fc, r.mcr); });
    f.exits[0].push_back([&](kvm_run& run) { port_exit(run, true, 0x3f9, 0x02); });
    f.exits[0].push_back([&](kvm_run& run) { port_exit(run, false, 0x3fa); });
    f.exits[0].push_back([&](kvm_run& run) {
      iir = reinterpret_cast<std::uint8_t*>(&run)[io_data];
      port_exit(run, true, 0x3f8, 'x');
    });
    crumble::vm::KvmLinuxOptions o;
    o.kernel = kernel;
    o.memory_mib = 192;
    o.default_cpuid = true;
    o.api = &f;
    crumble::vm::KvmLinuxMachine vm(o);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (vm.kernel_log() != "x" && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    REQUIRE(vm.kernel_log() == "x");
    vm.kill();
    CHECK(iir == 0x02);  // IIR: THRE interrupt pending, whether or not OUT2 lets it out
    std::vector<std::uint64_t> levels;
    for (const auto& c : f.calls()) {
      if (c.request != "KVM_IRQ_LINE") continue;
      CHECK(c.object == "vm");
      levels.push_back(c.value);
    }
    CHECK(levels == r.levels);
  }
  std::filesystem::remove(kernel);
}

TEST_CASE("kvm fake: MSR_KVM_ASYNC_PF_INT is saved only with an in-kernel LAPIC, and every MSR KVM refuses on restore fails it by name",
          "[vm][kvm][fake][snapshot]") {
  // This machine's host (AMD EPYC, kvm_pvm): its MSR list names 0x4b564d06. KVM refuses to take
  // it back, even 0, on a vCPU without an in-kernel LAPIC (the kernel's kvm_pv_enable_async_pf_int),
  // as the fake does here for every vCPU.
  // Never destroyed: snapshot::kvm_host keeps its probe per Api address for the process.
  static FakeKvm& f = []() -> FakeKvm& {
    auto* k = new FakeKvm;
    k->supported_cpuid = crumble::test::read_host_tables("amd-epyc-kvm_pvm.txt").cpuid;
    k->msr_index_list = crumble::test::read_host_tables("amd-epyc-kvm_pvm.txt").msrs;
    k->refused_on_set = {kvm::msr::kvm_async_pf_int};
    return *k;
  }();
  REQUIRE(std::count(f.msr_index_list.begin(), f.msr_index_list.end(), kvm::msr::kvm_async_pf_int) == 1);
  kvm::System sys("/dev/kvm", f);
  auto saved_msrs = [](const snapshot::Sections& s) {
    std::vector<std::uint32_t> out;
    const auto& b = s.at("vcpu0.msrs");
    for (std::size_t at = 0; at + sizeof(kvm_msr_entry) <= b.size(); at += sizeof(kvm_msr_entry)) {
      kvm_msr_entry e;
      std::memcpy(&e, b.data() + at, sizeof e);
      out.push_back(e.index);
    }
    return out;
  };
  struct Row {
    const char* what;
    bool irqchip;
    bool carries_async_pf_int;
  };
  for (const Row& r : {Row{"a bare VM (no irqchip)", false, false}, Row{"a VM with the in-kernel irqchip", true, true}}) {
    INFO(r.what);
    kvm::Machine a(sys, 2 << 20);
    if (r.irqchip) a.create_irqchip();
    kvm::Vcpu& cpu = a.add_vcpu();
    snapshot::Sections s;
    snapshot::save_vm(a, s);
    snapshot::save_vcpu(cpu, s, "vcpu0.", r.irqchip);
    const auto msrs = saved_msrs(s);
    CHECK(std::count(msrs.begin(), msrs.end(), kvm::msr::kvm_async_pf_int) == (r.carries_async_pf_int ? 1 : 0));
    CHECK(msrs.size() == snapshot::kvm_host(f).msrs.size() - (r.carries_async_pf_int ? 0 : 1));
    kvm::Machine b(sys, 2 << 20);
    if (r.irqchip) b.create_irqchip();
    kvm::Vcpu& again = b.add_vcpu();
    if (r.carries_async_pf_int)  // the fake refuses it here though: a refusal of a 0 is not skipped
      CHECK_THROWS_WITH(snapshot::restore_machine(b, {&again}, s), Catch::Contains("KVM refused the snapshot's MSR 0x4b564d06 (value 0x0)"));
    else
      CHECK_NOTHROW(snapshot::restore_machine(b, {&again}, s));
  }
}

TEST_CASE("kvm fake: a restore sets the saved CPUID unless the vCPU holds that very table already", "[vm][kvm][fake][snapshot]") {
  FakeKvm& f = intel_nested();
  kvm::System sys("/dev/kvm", f);
  const auto mine = kvm::cpuid::normalize(sys.supported_cpuid(), 0, 2), other = kvm::cpuid::normalize(sys.supported_cpuid(), 1, 2);
  kvm::Machine a(sys, 2 << 20);
  a.create_irqchip();
  kvm::Vcpu& saved = a.add_vcpu();
  saved.set_cpuid(mine);
  snapshot::Sections s;
  snapshot::save_vm(a, s);
  snapshot::save_vcpu(saved, s, "vcpu0.", true);
  struct Row {
    const char* what;
    const std::vector<std::uint8_t>* holds;  // the vCPU's table before the restore; null: none
    bool set;
  };
  for (const Row& r : {Row{"a vCPU with no CPUID", nullptr, true}, Row{"a vCPU with another table", &other, true},
                       Row{"a shell's vCPU with the saved table", &mine, false}}) {
    INFO(r.what);
    kvm::Machine b(sys, 2 << 20);
    b.create_irqchip();
    kvm::Vcpu& cpu = b.add_vcpu();
    if (r.holds) cpu.set_cpuid(*r.holds);
    f.forget();
    snapshot::restore_machine(b, {&cpu}, s);
    const long set = f.find("KVM_SET_CPUID2", "vcpu0");
    CHECK((set >= 0) == r.set);
    if (set >= 0) CHECK(kvm::cpuid::table(f.calls()[static_cast<std::size_t>(set)].cpuid) == mine);
    // Whichever way, the vCPU ends with the saved table, before the rest of its state.
    CHECK(snapshot::detail::get_cpuid(cpu) == mine);
    CHECK(f.find("KVM_GET_CPUID2", "vcpu0") < f.find("KVM_SET_MP_STATE", "vcpu0"));
  }
}
