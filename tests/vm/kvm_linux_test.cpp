// tests/vm/kvm_linux_test.cpp — the in-process KVM engine for Linux guests (kvm_linux.hpp).
//
// A full boot needs a host with VMX/SVM: there the real kernel boots to init ready and runs a
// command; elsewhere that test is skipped with the reason. Where /dev/kvm exists without VMX/SVM
// (this project's machines: kvm_pvm), forcing the KVM engine must fail at once with a message
// that says why and what to use instead.
#include <catch2/catch.hpp>
#include <crumble/crumble.hpp>
#include <crumble/vm/session.hpp>

#include <cstdlib>
#include <iostream>

#include "init_elf.hpp"

namespace {
bool kvm_opens() { return ::access("/dev/kvm", R_OK | W_OK) == 0; }
void skip(const std::string& why) {
  std::cout << "SKIPPED: " << why << "\n";
  std::exit(4);
}
void need_kernel() {
  if (!crumble::vm::cached_kernel()) skip("no cached kernel (run `crumble kernel fetch`)");
}
}  // namespace

TEST_CASE("kvm engine: boots the Debian kernel to init ready and runs a command", "[vm][kvm][linux]") {
  if (!crumble::vm::host_has_hardware_virtualisation() || !kvm_opens())
    skip("the KVM engine boots Linux only on a host with VMX/SVM and /dev/kvm; this host has " +
         std::string(kvm_opens() ? "/dev/kvm without VMX/SVM (kernel-mode code is emulated ~1700x slower)" : "no usable /dev/kvm"));
  need_kernel();
  crumble::vm::SessionConfig cfg;
  cfg.init = crumble::vm::init_elf();
  cfg.engine = crumble::vm::Engine::kvm;
  const auto t0 = crumble::vm::Clock::now();
  crumble::vm::Session vm(cfg);
  const double boot_ms = std::chrono::duration<double, std::milli>(crumble::vm::Clock::now() - t0).count();
  std::cout << "kvm engine: cold boot to ready in " << boot_ms << " ms\n";
  auto r = vm.run({"uname", "-a"});
  CHECK(r.status() == 0);
  CHECK_THAT(r.out, Catch::Contains("Linux"));
  CHECK(vm.call(crumble::assemble<crumble::arch::amd64>(crumble::ir::Program{{crumble::ir::Function{"f", {}, {crumble::ir::Return{crumble::ir::Int64{7}}}}}})) == 7);
}

TEST_CASE("kvm engine: where KVM cannot run Linux, forcing it fails at once and says why", "[vm][kvm][linux]") {
  if (!kvm_opens()) skip("no usable /dev/kvm on this host");
  if (crumble::vm::host_has_hardware_virtualisation()) skip("this host has VMX/SVM: the KVM engine can run Linux here");
  need_kernel();
  crumble::vm::SessionConfig cfg;
  cfg.init = crumble::vm::init_elf();
  cfg.engine = crumble::vm::Engine::kvm;
  const auto t0 = crumble::vm::Clock::now();
  try {
    crumble::vm::Session vm(cfg);
    // A KVM that accepts the CPUID but cannot run the kernel fast would still boot, slowly:
    // that is not this host.
    FAIL("the KVM engine started a Linux guest on a host without VMX/SVM");
  } catch (const crumble::vm::ConfigError& e) {
    CHECK_THAT(e.what(), Catch::Contains("KVM cannot run a Linux guest on this host"));
    CHECK_THAT(e.what(), Catch::Contains("use the QEMU engine"));
  }
  CHECK(crumble::vm::Clock::now() - t0 < std::chrono::seconds(5));
}

TEST_CASE("kvm engine: the kernel command line takes the TSC rate from KVM", "[vm][kvm][linux]") {
  if (!kvm_opens()) skip("no usable /dev/kvm on this host");
  crumble::vm::kvm::System kvm;
  crumble::vm::kvm::Machine m(kvm, 16 << 20);
  const std::uint64_t khz = m.add_vcpu().tsc_khz();
  REQUIRE(khz > 100000);  // a real TSC runs at 100 MHz or more
  const std::string line = crumble::vm::KvmLinuxMachine::default_cmdline(khz);
  CHECK_THAT(line, Catch::Contains("tsc_early_khz=" + std::to_string(khz)));
  CHECK_THAT(line, Catch::Contains("console=ttyS0,115200n8 earlycon=uart8250,io,0x3f8 tsc=reliable"));
  CHECK_THAT(line, Catch::Contains("memmap=8M$0x8000000"));
}
