// SPDX-License-Identifier: Apache-2.0
// tests/vm/kvm_linux_test.cpp — the in-process KVM engine for Linux guests (engine/kvm/linux_machine.hpp).
//
// A full boot needs a host with VMX/SVM: there the real kernel boots to init ready and runs a
// command; elsewhere that test is skipped with the reason. Where /dev/kvm exists without VMX/SVM
// (this project's machines: kvm_pvm), forcing the KVM engine must fail at once with a message
// that says why and what to use instead.
//
// The engine itself — loader, devices, the mailbox trapping as MMIO, the config region shared,
// the Channel over both — is tested everywhere /dev/kvm opens, with a synthetic kernel: a few
// kernel-mode instructions that do what init does at its two ends (signal ready; power off when
// the host asks), run with KVM's default CPUID (KvmLinuxOptions::default_cpuid).
#include <catch2/catch.hpp>
#include <crumble/crumble.hpp>
#include <crumble/vm/session.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sys/wait.h>
#include <unistd.h>

#include "init_elf.hpp"
#include "kvm_skip.hpp"
#include "synthetic_kernel.hpp"

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

// ---- the mailbox page as the guest's MMIO accesses see it ---------------------------------------

namespace {
crumble::vm::kvm::MmioExit access(std::uint64_t address, bool write, std::uint8_t size, std::uint8_t* data) {
  return crumble::vm::kvm::MmioExit{address, write, size, data};
}
}  // namespace

TEST_CASE("kvm engine: the mailbox page serves whole accesses inside it, and ignores the rest", "[vm][kvm]") {
  constexpr std::uint64_t base = crumble::vm::protocol::mailbox_phys;
  crumble::vm::MmioPage page(base);
  std::uint8_t* host = page.bytes();
  auto store = [&](std::uint64_t off, std::uint64_t v, std::uint8_t size) {
    std::uint8_t d[8] = {};
    std::memcpy(d, &v, size);
    auto e = access(base + off, true, size, d);
    return page.handle(e);
  };
  auto load = [&](std::uint64_t off, std::uint8_t size) {
    std::uint8_t d[8];
    std::memset(d, 0xcc, sizeof d);
    auto e = access(base + off, false, size, d);
    REQUIRE(page.handle(e));
    std::uint64_t v = 0;
    std::memcpy(&v, d, size);
    return v;
  };
  // init's signal: the signal word, then seq; the host reads them where the Channel does
  CHECK(store(crumble::vm::protocol::mailbox::signal, crumble::vm::protocol::signal_ready, 4));
  CHECK(store(crumble::vm::protocol::mailbox::seq, 1, 4));
  std::uint32_t w;
  std::memcpy(&w, host + crumble::vm::protocol::mailbox::signal, 4);
  CHECK(w == crumble::vm::protocol::signal_ready);
  std::memcpy(&w, host + crumble::vm::protocol::mailbox::seq, 4);
  CHECK(w == 1);
  // a word put in the page's memory from the host (at mailbox::index), as the guest loads it
  const std::uint32_t ack = 0x01020304;
  std::memcpy(host + crumble::vm::protocol::mailbox::index, &ack, 4);
  CHECK(load(crumble::vm::protocol::mailbox::index, 4) == ack);
  CHECK(load(crumble::vm::protocol::mailbox::index + 1, 2) == 0x0203);
  // 8 bytes across three words, unaligned: those bytes and no others change
  CHECK(store(0x102, 0x8877665544332211, 8));
  const std::uint8_t want[] = {0, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0, 0};
  CHECK(std::equal(std::begin(want), std::end(want), host + 0x100));
  CHECK(load(0x102, 8) == 0x8877665544332211);
  CHECK(load(0x101, 1) == 0);
  CHECK(load(0x105, 1) == 0x44);
  CHECK(store(0xff8, 0xffffffffffffffff, 8));  // the last 8 bytes: inside
  CHECK(load(0xff8, 8) == 0xffffffffffffffff);
  // past the end of the page, or an odd size: ignored, reads 0
  std::vector<std::uint8_t> before(host, host + crumble::vm::MmioPage::size);
  CHECK(store(0xfff, 0xabab, 2));
  CHECK(store(0xffc, 0xabababababababab, 8));
  CHECK(store(0x200, 0xababab, 3));
  CHECK(std::equal(before.begin(), before.end(), host));
  CHECK(load(0xfff, 2) == 0);
  CHECK(load(0xffc, 8) == 0);
  CHECK(load(0x102, 3) == 0);
  // not this page at all
  CHECK_FALSE(store(crumble::vm::MmioPage::size, 1, 1));
  std::uint8_t d[8] = {};
  auto below = access(base - 1, true, 1, d);
  CHECK_FALSE(page.handle(below));
}

// ---- the engine with a synthetic kernel -------------------------------------------------------------

namespace {

// The kernel: its console line on the UART, init's ready signal into the mailbox (fields, then
// `signal`, then `seq` last, as rtg/init/init.go does), then a spin on the config region until
// the host's poweroff command is there, then the i8042 reset, as `reboot=k` makes a kernel do.
// Kernel-mode code, emulated on kvm_pvm hosts: kept to a few dozen instructions.
std::vector<std::uint8_t> synthetic_init_kernel(const std::string& line) {
  namespace p = crumble::vm::protocol;
  std::vector<std::uint8_t> c;
  auto emit = [&](std::initializer_list<std::uint8_t> b) { c.insert(c.end(), b); };
  auto imm32 = [&](std::uint64_t v) {
    for (int i = 0; i < 4; ++i) c.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  emit({0x66, 0xba, 0xf8, 0x03});                         // mov dx, 0x3f8
  for (char ch : line) emit({0xb0, static_cast<std::uint8_t>(ch), 0xee});  // mov al, ch; out dx, al
  emit({0xbb}), imm32(p::mailbox_phys);                   // mov ebx, mailbox
  emit({0x8b, 0x43, static_cast<std::uint8_t>(p::mailbox::seq)});    // mov eax, [rbx+seq]
  emit({0xff, 0xc0});                                     // inc eax
  emit({0xc7, 0x43, static_cast<std::uint8_t>(p::mailbox::phase)}), imm32(7);  // a field: phase 7 (main loop)
  emit({0xc7, 0x03}), imm32(p::signal_ready);             // mov dword [rbx+signal], signal_ready
  emit({0x89, 0x43, static_cast<std::uint8_t>(p::mailbox::seq)});    // mov [rbx+seq], eax: last
  emit({0xb9}), imm32(p::config_phys + p::config::command);  // mov ecx, the command slot
  emit({0x81, 0x39}), imm32(p::poweroff_magic);           // 1: cmp dword [rcx], poweroff_magic
  emit({0x75, 0xf8});                                     // jne 1b
  emit({0xb0, 0xfe, 0xe6, 0x64});                         // mov al, 0xfe; out 0x64, al: reset
  emit({0xf4});                                           // hlt (not reached)
  static_assert(p::mailbox::signal == 0 && p::mailbox::seq < 0x80 && p::mailbox::phase < 0x80);
  return c;
}

struct TempFile {
  std::filesystem::path path;
  explicit TempFile(const std::vector<std::uint8_t>& bytes) {
    path = std::filesystem::temp_directory_path() / ("crumble-synthetic-" + std::to_string(::getpid()) + ".bzImage");
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

}  // namespace

TEST_CASE("kvm engine: a synthetic kernel signals ready through the MMIO mailbox and powers off when asked", "[vm][kvm][linux]") {
  crumble::test::kvm_or_skip();
  const std::string line = "crumble synthetic kernel: up\n";
  TempFile kernel(crumble::test::synthetic_bzimage(synthetic_init_kernel(line)));
  crumble::vm::KvmLinuxOptions o;
  o.kernel = kernel.path;
  o.memory_mib = 192;
  o.default_cpuid = true;
  const auto t0 = crumble::vm::Clock::now();
  crumble::vm::KvmLinuxMachine vm(o);
  REQUIRE(vm.machine().mmio_holes().size() == 1);
  CHECK(vm.machine().mmio_holes()[0].base == crumble::vm::protocol::mailbox_phys);
  CHECK(vm.machine().mmio_holes()[0].size == crumble::vm::protocol::mailbox_size);
  // The only way the Channel can see this: the guest's stores reached the MMIO handler, which
  // alone writes the host's mailbox page (the guest's RAM has no page there).
  vm.channel().wait_ready(t0 + std::chrono::seconds(20));
  const double ready_ms = std::chrono::duration<double, std::milli>(crumble::vm::Clock::now() - t0).count();
  std::cout << "synthetic kernel: ready after " << ready_ms << " ms\n";
  CHECK(vm.kernel_log() == line);
  const auto t1 = crumble::vm::Clock::now();
  vm.shutdown(std::chrono::milliseconds(10000));
  // it ended by the reset the poweroff command led to, not by the grace period running out
  CHECK(crumble::vm::Clock::now() - t1 < std::chrono::seconds(5));
  CHECK(vm.kernel_log() == line);
  // and a stopped VM says so to a waiter, with its console
  try {
    vm.channel().wait_ready(crumble::vm::Clock::now() + std::chrono::seconds(5));
    FAIL("a second ready signal from a stopped VM");
  } catch (const crumble::vm::BootError& e) {
    CHECK_THAT(e.what(), Catch::Contains("the VM stopped"));
    CHECK_THAT(e.what(), Catch::Contains("crumble synthetic kernel: up"));
  }
}

TEST_CASE("kvm engine: the mailbox is an MMIO hole, reserved in the e820 map, and the config region is RAM", "[vm][kvm][linux]") {
  auto& kvm = crumble::test::kvm_or_skip();
  namespace p = crumble::vm::protocol;
  // What the engine does to its machine, on a machine of its own, whose guest() the test may call.
  crumble::vm::kvm::Machine vm(kvm, 192 << 20);
  vm.punch_mmio_hole("mailbox", p::mailbox_phys, p::mailbox_size);
  CHECK(vm.guest(p::mailbox_phys, 4) == nullptr);
  CHECK(vm.guest(p::mailbox_phys + p::mailbox::seq, 4) == nullptr);
  CHECK(vm.guest(p::config_phys, p::config_size) != nullptr);
  TempFile kernel(crumble::test::synthetic_bzimage(synthetic_init_kernel("")));
  auto image = crumble::vm::LinuxImage::read(kernel.path);
  auto b = crumble::vm::load_linux(vm, image, {crumble::vm::KvmLinuxMachine::default_cmdline(0), {}});
  bool reserved = false;
  for (const auto& e : b.e820) {
    if (e.type == 1) CHECK_FALSE((e.addr < p::mailbox_phys + p::mailbox_size && p::mailbox_phys < e.addr + e.size));
    if (e.addr == p::mailbox_phys && e.size == p::mailbox_size && e.type == 2) reserved = true;
  }
  CHECK(reserved);
}

// ---- snapshots of the engine, with a synthetic kernel ------------------------------------------

namespace {

// A kernel that does what init does around snapshots: if the host asked it to hold (config
// `hold`), it signals holding and waits until released; then it signals ready and serves two
// requests — reseed (clear the magic, print "reseeded" on the UART, signal reseeded) and poweroff
// (the i8042 reset). Its registers carry the addresses it uses, so a restored vCPU whose
// registers were not restored would fault or wander off.
std::vector<std::uint8_t> snapshot_kernel() {
  namespace p = crumble::vm::protocol;
  std::vector<std::uint8_t> c;
  auto emit = [&](std::initializer_list<std::uint8_t> b) { c.insert(c.end(), b); };
  auto imm32 = [&](std::uint64_t v) {
    for (int i = 0; i < 4; ++i) c.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  auto print = [&](const std::string& s) {
    for (char ch : s) emit({0xb0, static_cast<std::uint8_t>(ch), 0xee});  // mov al, ch; out dx, al
  };
  auto signal = [&](std::uint32_t value) {
    emit({0x8b, 0x43, static_cast<std::uint8_t>(p::mailbox::seq)});  // mov eax, [rbx+seq]
    emit({0xff, 0xc0});                                               // inc eax
    emit({0xc7, 0x03}), imm32(value);                                 // mov dword [rbx], value
    emit({0x89, 0x43, static_cast<std::uint8_t>(p::mailbox::seq)});  // mov [rbx+seq], eax: last
  };
  auto jcc8 = [&](std::uint8_t op, std::size_t target) {  // a short jump back to target
    const auto rel = static_cast<std::int64_t>(target) - static_cast<std::int64_t>(c.size() + 2);
    REQUIRE(rel >= -128);
    emit({op, static_cast<std::uint8_t>(rel)});
  };
  emit({0x66, 0xba, 0xf8, 0x03});                               // mov dx, 0x3f8
  print("snapshot kernel: up\n");
  emit({0xbb}), imm32(p::mailbox_phys);                         // mov ebx, mailbox
  emit({0xbf}), imm32(p::config_phys + p::config::hold);        // mov edi, hold
  emit({0x81, 0x3f}), imm32(p::hold_magic);                     // cmp dword [rdi], hold_magic
  const std::size_t skip_hold = c.size();
  emit({0x75, 0x00});                                           // jne after the hold (patched)
  signal(p::signal_holding);
  const std::size_t hold = c.size();
  emit({0x81, 0x3f}), imm32(p::hold_magic);                     // 1: cmp dword [rdi], hold_magic
  jcc8(0x74, hold);                                             // je 1b
  c[skip_hold + 1] = static_cast<std::uint8_t>(c.size() - (skip_hold + 2));
  signal(p::signal_ready);
  emit({0xb9}), imm32(p::config_phys + p::config::command);     // mov ecx, command
  emit({0xbe}), imm32(p::config_phys + p::config::reseed);      // mov esi, reseed
  const std::size_t loop = c.size();
  emit({0x81, 0x39}), imm32(p::poweroff_magic);                 // 2: cmp dword [rcx], poweroff_magic
  const std::size_t to_reset = c.size();
  emit({0x74, 0x00});                                           // je reset (patched)
  emit({0x81, 0x3e}), imm32(p::reseed_magic);                   // cmp dword [rsi], reseed_magic
  jcc8(0x75, loop);                                             // jne 2b
  emit({0xc7, 0x06}), imm32(0);                                 // mov dword [rsi], 0
  print("reseeded\n");                                          // before the signal: the host reads the log then
  signal(p::signal_reseeded);
  emit({0xe9}), imm32(static_cast<std::uint32_t>(static_cast<std::int64_t>(loop) - static_cast<std::int64_t>(c.size() + 4)));  // jmp 2b
  c[to_reset + 1] = static_cast<std::uint8_t>(c.size() - (to_reset + 2));
  emit({0xb0, 0xfe, 0xe6, 0x64, 0xf4});                         // reset: mov al, 0xfe; out 0x64, al; hlt
  REQUIRE(c.size() - to_reset < 128);
  return c;
}

std::size_t count(const std::string& s, const std::string& piece) {
  std::size_t n = 0;
  for (auto at = s.find(piece); at != std::string::npos; at = s.find(piece, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("kvm engine snapshots: saved and restored in new VMs and a new process, late and early", "[vm][kvm][linux][snapshot]") {
  crumble::test::kvm_or_skip();
  using namespace crumble::vm;
  TempFile kernel(crumble::test::synthetic_bzimage(snapshot_kernel()));
  TempDir dir("crumble-kvmsnap-");
  KvmLinuxOptions o;
  o.kernel = kernel.path;
  o.memory_mib = 192;
  o.default_cpuid = true;
  const auto deadline = [] { return Clock::now() + std::chrono::seconds(20); };

  struct Mode {
    SnapshotMode mode;
    const char* name;
  };
  for (const Mode m : {Mode{SnapshotMode::late, "late"}, Mode{SnapshotMode::early, "early"}}) {
    INFO(m.name);
    const auto state = dir.path() / m.name;
    {
      KvmLinuxOptions cold = o;
      cold.hold_after_phase_6 = m.mode == SnapshotMode::early;
      KvmLinuxMachine vm(cold);
      if (m.mode == SnapshotMode::early) REQUIRE(vm.channel().wait_holding(deadline()));
      else vm.channel().wait_ready(deadline());
      const auto t0 = Clock::now();
      vm.save(state, m.mode);
      std::cout << "kvm engine snapshot (" << m.name << ", 192 MiB): save "
                << std::chrono::duration<double, std::milli>(Clock::now() - t0).count() << " ms\n";
      if (m.mode == SnapshotMode::early) {
        vm.channel().release_hold();
        vm.channel().wait_ready(deadline());
      }
      vm.channel().reseed(deadline());  // the original goes on after the save
      CHECK(count(vm.kernel_log(), "reseeded") == 1);
      vm.shutdown(std::chrono::milliseconds(10000));
    }
    // Two VMs from one snapshot at once: each goes on (its reseed was answered), each has only
    // its own console, and each powers off when asked.
    KvmLinuxOptions r = o;
    r.restore_from = state;
    const auto t1 = Clock::now();
    KvmLinuxMachine a(r);
    std::cout << "kvm engine snapshot (" << m.name << "): restore to reseeded "
              << std::chrono::duration<double, std::milli>(Clock::now() - t1).count() << " ms\n";
    KvmLinuxMachine b(r);
    CHECK(a.kernel_log() == "reseeded\n");
    CHECK(b.kernel_log() == "reseeded\n");
    a.channel().reseed(deadline());
    CHECK(a.kernel_log() == "reseeded\nreseeded\n");
    CHECK(b.kernel_log() == "reseeded\n");
    const auto t2 = Clock::now();
    a.shutdown(std::chrono::milliseconds(10000));
    b.shutdown(std::chrono::milliseconds(10000));
    CHECK(Clock::now() - t2 < std::chrono::seconds(8));  // ended by their resets, not the grace time
  }

  // In a new process.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    int status = 1;
    try {
      KvmLinuxOptions r = o;
      r.restore_from = dir.path() / "late";
      KvmLinuxMachine vm(r);
      status = vm.kernel_log() == "reseeded\n" ? 0 : 2;
      vm.shutdown(std::chrono::milliseconds(10000));
    } catch (const std::exception& e) {
      std::cerr << "child: " << e.what() << "\n";
      status = 3;
    }
    ::_exit(status);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);

  // A snapshot for another VM is refused before the guest runs.
  KvmLinuxOptions bigger = o;
  bigger.memory_mib = 256;
  bigger.restore_from = dir.path() / "late";
  CHECK_THROWS_MATCHES(KvmLinuxMachine(bigger), SnapshotError,
                       Catch::Matchers::Predicate<SnapshotError>(
                           [](const SnapshotError& e) { return std::string(e.what()).find("192 MiB of guest RAM") != std::string::npos; },
                           "names the snapshot's RAM size"));
}
