// SPDX-License-Identifier: Apache-2.0
// tests/vm/snapshot_test.cpp — snapshots of bare microVMs (vm/snapshot/format.hpp and kvm_state.hpp, BareVm::save/restore).
//
// The oracle is the uninterrupted run: a program paused mid-computation, saved, and continued from
// the file — in a new VM, in a new process, or 100 times over — must end with exactly the output
// and status of the same program run straight through. Damaged files are refused with a message
// that names the damage. For the whole KVM state — in-kernel PICs, IOAPIC, PIT, clock, LAPIC,
// vCPU registers — the oracle is what the test set: distinctive values must read back the same in a
// new VM and in a new process.
#include <catch2/catch.hpp>
#include <crumble/crumble.hpp>
#include "kvm_skip.hpp"
#include <crumble/vm/engine/kvm/bare.hpp>
#include <crumble/vm/host/process.hpp>
#include <crumble/vm/snapshot/cache.hpp>
#include <crumble/vm/snapshot/restore_or_boot.hpp>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cpuid.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <set>

using namespace crumble::ir;

namespace {

using crumble::test::kvm_or_skip;

// xorshift over `rounds` rounds, a line of output every 10 rounds, a pause every `every` rounds,
// a buffer in the heap (mmap) updated as it goes, so registers, stack and memory all carry state
// across a pause. The pause is the syscall getppid (the IR names syscalls; BareOptions::pause_syscall
// takes its number, 110); its result is ignored, so the program runs the same without pauses.
Program with_pause(int rounds, int every) {
  Var x{"x"}, i{"i"}, heap{"heap"};
  return Program{{Function{"main", {}, {
      Assign{x, Int64{0x2545f4914f6cdd1d}},
      Assign{heap, Syscall{Sys::mmap, {Int64{0}, Int64{4096}, Int64{3}, Int64{0x22}, Int64{-1}, Int64{0}}}},
      Assign{i, 0},
      While{i < rounds, {
          Assign{x, x ^ (x << 13)}, Assign{x, x ^ shr(x, Int64{7})}, Assign{x, x ^ (x << 17)},
          store(heap, 0, 64, load(heap, 0, 64) + (x & 0xffff)),
          If{IsZero{urem(i, Int64{10})}, {Printf{"%d:%x ", {i, x}}}},
          If{IsZero{urem(i, Int64{every})}, {Syscall{Sys::getppid, {}}}},
          Assign{i, i + 1}}},
      Printf{"\nsum=%x\n", {load(heap, 0, 64)}},
      Return{x & 0x7f}}}}};
}

crumble::vm::BareOptions options(bool pausing) {
  crumble::vm::BareOptions o;
  if (pausing) o.pause_syscall = 110;
  return o;
}

crumble::vm::BareResult straight(const crumble::code::Image& img) { return crumble::vm::run_bare(img, options(false)); }

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void write_file(const std::filesystem::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }
// Rewrites the checksum after a deliberate change, so the check under test is the one that fires.
void rechecksum(std::string& s) {
  const std::uint64_t sum = crumble::vm::snapshot::fnv1a(reinterpret_cast<const std::uint8_t*>(s.data()), s.size() - 8);
  std::memcpy(s.data() + s.size() - 8, &sum, 8);
}

}  // namespace

TEST_CASE("snapshot: paused mid-computation, continued from the file in a new VM and a new process", "[vm][snapshot]") {
  kvm_or_skip();
  const auto img = crumble::assemble<crumble::arch::amd64>(with_pause(5000, 2500));
  const auto want = straight(img);
  REQUIRE(want.out.find("sum=") != std::string::npos);

  crumble::vm::TempDir dir("crumble-snap-");
  const auto file = dir.path() / "vm.snap";
  crumble::vm::BareVm vm(img, options(true));
  REQUIRE_FALSE(vm.run());  // paused at round 0
  REQUIRE_FALSE(vm.run());  // paused at round 2500: mid-computation
  const auto t0 = std::chrono::steady_clock::now();
  vm.save(file);
  const double save_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  // The memory file is sparse: most of the 64 MiB are holes.
  struct stat st {};
  REQUIRE(::stat(crumble::vm::snapshot::memory_path(file).c_str(), &st) == 0);
  CHECK(static_cast<std::uint64_t>(st.st_size) == (64u << 20) + crumble::vm::snapshot::memory_trailer);
  CHECK(static_cast<std::uint64_t>(st.st_blocks) * 512 < (4u << 20));

  // The original goes on to the end...
  REQUIRE(vm.run());
  CHECK(vm.result().out == want.out);
  CHECK(vm.result().status == want.status);

  // ...and so does a new VM made from the file.
  const auto t1 = std::chrono::steady_clock::now();
  auto restored = crumble::vm::BareVm::restore(file, options(true));
  const double restore_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
  while (!restored->run()) {
  }
  CHECK(restored->result().out == want.out);
  CHECK(restored->result().status == want.status);
  std::cout << "snapshot of a 64 MiB bare VM: save " << save_ms << " ms, restore " << restore_ms << " ms\n";

  // And in another process.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    int code = 100;
    try {
      auto child = crumble::vm::BareVm::restore(file, options(true));
      while (!child->run()) {
      }
      const std::string& out = child->result().out;
      if (::write(fds[1], out.data(), out.size()) == static_cast<ssize_t>(out.size())) code = child->result().status;
    } catch (...) {
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  std::string child_out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) child_out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == want.status);
  CHECK(child_out == want.out);
}

TEST_CASE("snapshot: 100 cycles of save, restore, continue give the uninterrupted result", "[vm][snapshot]") {
  kvm_or_skip();
  const auto img = crumble::assemble<crumble::arch::amd64>(with_pause(3000, 30));  // 100 pauses
  const auto want = straight(img);
  crumble::vm::TempDir dir("crumble-snap-");
  const auto file = dir.path() / "vm.snap";
  auto vm = std::make_unique<crumble::vm::BareVm>(img, options(true));
  int cycles = 0;
  while (!vm->run()) {
    vm->save(file);
    vm = crumble::vm::BareVm::restore(file, options(true));
    ++cycles;
  }
  CHECK(cycles == 100);
  CHECK(vm->result().out == want.out);
  CHECK(vm->result().status == want.status);
}

TEST_CASE("snapshot: damaged files are refused, each with its reason", "[vm][snapshot]") {
  kvm_or_skip();
  const auto img = crumble::assemble<crumble::arch::amd64>(with_pause(100, 50));
  crumble::vm::TempDir dir("crumble-snap-");
  const auto good = dir.path() / "good.snap";
  {
    crumble::vm::BareVm vm(img, options(true));
    REQUIRE_FALSE(vm.run());
    vm.save(good);
  }
  const std::string state = read_file(good);
  const std::string memory = read_file(crumble::vm::snapshot::memory_path(good));
  {
    crumble::vm::BareVm vm(img, options(true));
    REQUIRE_FALSE(vm.run());
    vm.save(dir.path() / "other.snap");  // the same guest saved again: other memory token
  }
  const std::string other_memory = read_file(crumble::vm::snapshot::memory_path(dir.path() / "other.snap"));
  struct Row {
    const char* name;
    std::function<void(std::string& state, std::string& memory)> damage;
    const char* reason;
  };
  const std::vector<Row> rows = {
      {"a corrupt byte", [](std::string& s, std::string&) { s[s.size() / 2] ^= 0x40; }, "checksum mismatch"},
      {"a truncated state file", [](std::string& s, std::string&) { s.resize(s.size() - 100); }, "is truncated"},
      {"a truncated memory file", [](std::string&, std::string& m) { m.resize(m.size() / 2); }, "memory file"},
      {"another save's memory file", [&](std::string&, std::string& m) { m = other_memory; }, "does not belong to its state file"},
      {"a format version bump", [](std::string& s, std::string&) { s[16] = 2; rechecksum(s); }, "format version 2"},
      {"another architecture", [](std::string& s, std::string&) { std::memcpy(s.data() + 24, "arm64_", 6); rechecksum(s); }, "is for arm64_"},
      {"another host", [](std::string& s, std::string&) { s[34] ^= 0x20; rechecksum(s); }, "made on another host"},
      {"not a snapshot", [](std::string& s, std::string&) { s[0] = 'X'; }, "bad magic"},
  };
  for (const Row& row : rows) {
    INFO(row.name);
    std::string s = state, m = memory;
    row.damage(s, m);
    const auto file = dir.path() / "bad.snap";
    write_file(file, s);
    write_file(crumble::vm::snapshot::memory_path(file), m);
    try {
      crumble::vm::BareVm::restore(file, options(true));
      FAIL("accepted");
    } catch (const crumble::vm::SnapshotError& e) {
      CHECK_THAT(e.what(), Catch::Contains(row.reason));
    }
  }
}

TEST_CASE("snapshot cache: a miss boots cold and saves, a hit restores, a corrupt one is replaced", "[vm][snapshot][cache]") {
  kvm_or_skip();
  crumble::vm::TempDir dir("crumble-cache-");
  crumble::vm::SnapshotCache cache(dir.path() / "snapshots");
  const auto img = crumble::assemble<crumble::arch::amd64>(with_pause(400, 200));
  const auto want = straight(img);
  const std::string key = crumble::vm::SnapshotCache::key(
      {"bare", "amd64", std::string_view(reinterpret_cast<const char*>(img.bytes.data()), img.bytes.size())});
  CHECK(key.size() == 32);
  CHECK(key != crumble::vm::SnapshotCache::key({"bare", "arm64"}));
  CHECK(crumble::vm::SnapshotCache::key({"ab", "c"}) != crumble::vm::SnapshotCache::key({"a", "bc"}));

  auto finish = [&](std::unique_ptr<crumble::vm::BareVm> vm) {
    while (!vm->run()) {
    }
    CHECK(vm->result().out == want.out);
    CHECK(vm->result().status == want.status);
  };
  struct Step {
    const char* what;
    std::function<void()> before;
    bool expect_restored;
  };
  auto corrupt = [&] {
    std::string s = read_file(cache.path(key));
    s[s.size() / 2] ^= 1;
    write_file(cache.path(key), s);
  };
  const std::vector<Step> steps = {
      {"first use: a miss, cold boot, saved", [] {}, false},
      {"second use: a hit", [] {}, true},
      {"a corrupt snapshot: deleted, cold boot, saved again", corrupt, false},
      {"and then a hit again", [] {}, true},
  };
  for (const Step& step : steps) {
    INFO(step.what);
    step.before();
    bool restored = false;
    finish(crumble::vm::bare_from_cache(cache, key, img, options(true), false, &restored));
    CHECK(restored == step.expect_restored);
    CHECK(cache.is_valid(key, crumble::vm::snapshot::host_fingerprint()));
  }
  // Strict mode: a corrupt snapshot is an error, not a cold boot.
  corrupt();
  CHECK_THROWS_AS(crumble::vm::bare_from_cache(cache, key, img, options(true), true), crumble::vm::SnapshotError);
  // Older than its reference (the spec's rule: a kernel newer than the snapshot) is not valid.
  cache.remove(key);
  finish(crumble::vm::bare_from_cache(cache, key, img, options(true)));
  const auto t = std::filesystem::last_write_time(cache.path(key));
  CHECK(cache.is_valid(key, crumble::vm::snapshot::host_fingerprint(), t - std::chrono::seconds(1)));
  CHECK_FALSE(cache.is_valid(key, crumble::vm::snapshot::host_fingerprint(), t + std::chrono::seconds(1)));
  // list and clear
  REQUIRE(cache.list().size() == 1);
  CHECK(cache.list()[0].key == key);
  CHECK(cache.clear() == 1);
  CHECK(cache.list().empty());
  CHECK_FALSE(cache.is_valid(key, crumble::vm::snapshot::host_fingerprint()));
}

// ---- The whole KVM state: in-kernel interrupt controllers, PIT, clock, LAPIC, vCPU ----

namespace {

namespace snapshot = crumble::vm::snapshot;
namespace kvm = crumble::vm::kvm;

// Values no reset state has, so that a part that is not restored shows as a difference.
constexpr std::uint64_t clock_ns = 0x123456789000;  // about 5.5 hours of guest uptime
constexpr std::pair<int, std::uint32_t> lapic_values[] = {
    {0x80, 0x30},        // TPR
    {0xd0, 0x03000000},  // LDR
    {0xf0, 0x1ff},       // SPIV: enabled, spurious vector 0xff
    {0x320, 0x10031},    // LVT timer: masked, one-shot, vector 0x31
    {0x350, 0x10700},    // LVT LINT0: ExtINT, masked (KVM resets it to ExtINT unmasked)
    {0x360, 0x400},      // LVT LINT1: NMI
    {0x370, 0x1003e},    // LVT error: masked, vector 0x3e
    {0x380, 0x12345678}, // timer initial count
    {0x3e0, 0xa},        // timer divide by 128
};
std::uint64_t redirection(int pin) {  // masked, a vector per pin, level for odd pins, a destination per pin
  return std::uint64_t(0x40 + pin) | (pin % 2 ? 1u << 15 : 0u) | 1u << 16 | std::uint64_t(pin) << 56;
}
constexpr std::uint32_t ioapic_id = 5;
constexpr std::uint8_t pic_imr[2] = {0xb8, 0x5a}, pic_base[2] = {0x20, 0x28}, pic_elcr[2] = {0x08, 0x0c};
constexpr std::uint32_t pit_count[3] = {0x2345, 18, 0x533};
constexpr std::uint8_t pit_mode[3] = {2, 2, 3};
constexpr std::uint64_t dr[4] = {0x401000, 0x402000, 0x403000, 0x404000}, dr7 = 0x455;

// A VM like the machines that boot Linux: 2 MiB, in-kernel PIC + IOAPIC + LAPIC and PIT, one vCPU.
// A VM made as the Linux engine makes one: irqchip and PIT, and, where KVM takes it
// (KVM_SET_CPUID2), the host's real CPUID normalized for the vCPU. With KVM's empty default CPUID
// a vCPU has none of the MSRs that depend on CPUID features, so a snapshot would carry fewer MSRs
// than a real guest's and pass where a real restore fails (issue 19: the VMX MSRs).
struct ChipVm {
  explicit ChipVm(const kvm::System& k, int memory_file = -1) : m(k, 2 << 20, memory_file) {
    m.create_irqchip();
    cpu = &m.add_vcpu();
    if (snapshot::kvm_host().cpuid) cpu->set_cpuid(kvm::cpuid::normalize(k.supported_cpuid(), 0, 1));
  }
  kvm::Machine m;
  kvm::Vcpu* cpu;
};

void set_distinctive_state(ChipVm& vm) {
  auto lapic = vm.cpu->get<kvm_lapic_state>(KVM_GET_LAPIC, "KVM_GET_LAPIC");
  for (auto [reg, v] : lapic_values) std::memcpy(lapic.regs + reg, &v, 4);
  vm.cpu->set(KVM_SET_LAPIC, lapic, "KVM_SET_LAPIC");
  kvm_irqchip io{};
  io.chip_id = KVM_IRQCHIP_IOAPIC;
  kvm::ioctl_or_throw(vm.m.fd(), KVM_GET_IRQCHIP, &io, "KVM_GET_IRQCHIP");
  io.chip.ioapic.id = ioapic_id;
  for (int pin = 0; pin < KVM_IOAPIC_NUM_PINS; ++pin) io.chip.ioapic.redirtbl[pin].bits = redirection(pin);
  kvm::ioctl_or_throw(vm.m.fd(), KVM_SET_IRQCHIP, &io, "KVM_SET_IRQCHIP");
  for (std::uint32_t chip : {KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE}) {
    kvm_irqchip pic{};
    pic.chip_id = chip;
    kvm::ioctl_or_throw(vm.m.fd(), KVM_GET_IRQCHIP, &pic, "KVM_GET_IRQCHIP");
    pic.chip.pic.imr = pic_imr[chip];
    pic.chip.pic.irq_base = pic_base[chip];
    pic.chip.pic.elcr = pic_elcr[chip];
    pic.chip.pic.init4 = 1;
    kvm::ioctl_or_throw(vm.m.fd(), KVM_SET_IRQCHIP, &pic, "KVM_SET_IRQCHIP");
  }
  kvm_pit_state2 pit{};
  kvm::ioctl_or_throw(vm.m.fd(), KVM_GET_PIT2, &pit, "KVM_GET_PIT2");
  pit.flags = KVM_PIT_FLAGS_HPET_LEGACY;  // channel 0 counts but raises no interrupt: IRQ0 stays quiet
  for (int c = 0; c < 3; ++c) {
    pit.channels[c].count = pit_count[c];
    pit.channels[c].mode = pit_mode[c];
    pit.channels[c].rw_mode = 3;
    pit.channels[c].gate = c != 1;  // reset: 1, 1, 0
  }
  kvm::ioctl_or_throw(vm.m.fd(), KVM_SET_PIT2, &pit, "KVM_SET_PIT2");
  kvm_clock_data clock{};
  clock.clock = clock_ns;
  kvm::ioctl_or_throw(vm.m.fd(), KVM_SET_CLOCK, &clock, "KVM_SET_CLOCK");
  kvm_regs r = vm.cpu->regs();
  r.rax = 0x1111111111111111, r.rbx = 0x2222222222222222, r.r15 = 0xf15f15f15, r.rip = 0x1234, r.rsp = 0x8000;
  vm.cpu->set_regs(r);
  auto d = vm.cpu->get<kvm_debugregs>(KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS");
  std::copy(std::begin(dr), std::end(dr), d.db);
  d.dr7 = dr7;
  vm.cpu->set(KVM_SET_DEBUGREGS, d, "KVM_SET_DEBUGREGS");
  vm.cpu->set(KVM_SET_MP_STATE, kvm_mp_state{KVM_MP_STATE_HALTED}, "KVM_SET_MP_STATE");
}

snapshot::Sections save_chip_vm(ChipVm& vm) {
  snapshot::Sections s;
  snapshot::save_vm(vm.m, s);
  snapshot::save_vcpu(*vm.cpu, s, "vcpu0.", vm.m.has_irqchip());
  return s;
}

// Restores `file` into a new VM made like the saved one, and returns that VM's state, saved again.
snapshot::Sections restore_and_save_again(const kvm::System& k, const std::filesystem::path& file) {
  snapshot::Loaded l = snapshot::read(file);
  ChipVm vm(k, l.memory_fd);
  ::close(l.memory_fd);
  snapshot::restore_machine(vm.m, {vm.cpu}, l.sections);
  return save_chip_vm(vm);
}

// The same in a child process (fork, as a `crumble restore` would be a new process): the child
// writes the state it restored into `out`, or its error to stderr.
snapshot::Sections restore_in_new_process(const kvm::System& k, const std::filesystem::path& file, const std::filesystem::path& out) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int code = 1;
    try {
      const snapshot::Sections s = restore_and_save_again(k, file);
      static const std::uint8_t page[4096] = {};
      snapshot::write(out, s, page, sizeof page);
      code = 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("the restoring process failed");
  snapshot::Loaded l = snapshot::read(out);
  ::close(l.memory_fd);
  return l.sections;
}

std::uint32_t lapic_reg(const snapshot::Sections& s, int reg) {
  const auto l = snapshot::get<kvm_lapic_state>(s, "vcpu0.lapic");
  std::uint32_t v;
  std::memcpy(&v, l.regs + reg, 4);
  return v;
}
kvm_pic_state pic(const snapshot::Sections& s, int chip) {
  return snapshot::get<kvm_irqchip>(s, chip == 0 ? "vm.pic_master" : "vm.pic_slave").chip.pic;
}
kvm_pit_channel_state pit(const snapshot::Sections& s, int c) { return snapshot::get<kvm_pit_state2>(s, "vm.pit2").channels[c]; }

struct Field {
  std::string name;
  std::function<std::uint64_t(const snapshot::Sections&)> read;
  std::uint64_t want;
};

std::vector<Field> distinctive_fields() {
  std::vector<Field> f;
  char name[64];
  for (auto [reg, v] : lapic_values) {
    std::snprintf(name, sizeof name, "LAPIC register 0x%03x", reg);
    f.push_back({name, [reg = reg](const snapshot::Sections& s) { return lapic_reg(s, reg); }, v});
  }
  f.push_back({"IOAPIC id", [](const snapshot::Sections& s) { return snapshot::get<kvm_irqchip>(s, "vm.ioapic").chip.ioapic.id; }, ioapic_id});
  for (int pin = 0; pin < KVM_IOAPIC_NUM_PINS; ++pin)
    f.push_back({"IOAPIC redirection entry " + std::to_string(pin),
                 [pin](const snapshot::Sections& s) { return snapshot::get<kvm_irqchip>(s, "vm.ioapic").chip.ioapic.redirtbl[pin].bits; },
                 redirection(pin)});
  for (int chip = 0; chip < 2; ++chip) {
    const std::string which = chip == 0 ? "PIC master " : "PIC slave ";
    f.push_back({which + "IMR", [chip](const snapshot::Sections& s) { return pic(s, chip).imr; }, pic_imr[chip]});
    f.push_back({which + "vector base", [chip](const snapshot::Sections& s) { return pic(s, chip).irq_base; }, pic_base[chip]});
    f.push_back({which + "ELCR", [chip](const snapshot::Sections& s) { return pic(s, chip).elcr; }, pic_elcr[chip]});
    f.push_back({which + "ICW4 expected", [chip](const snapshot::Sections& s) { return pic(s, chip).init4; }, 1});
  }
  f.push_back({"PIT flags", [](const snapshot::Sections& s) { return snapshot::get<kvm_pit_state2>(s, "vm.pit2").flags; }, KVM_PIT_FLAGS_HPET_LEGACY});
  for (int c = 0; c < 3; ++c) {
    const std::string which = "PIT channel " + std::to_string(c) + " ";
    f.push_back({which + "counter", [c](const snapshot::Sections& s) { return pit(s, c).count; }, pit_count[c]});
    f.push_back({which + "mode", [c](const snapshot::Sections& s) { return pit(s, c).mode; }, pit_mode[c]});
    f.push_back({which + "access", [c](const snapshot::Sections& s) { return pit(s, c).rw_mode; }, 3});
    f.push_back({which + "gate", [c](const snapshot::Sections& s) { return pit(s, c).gate; }, c != 1 ? 1u : 0u});
  }
  f.push_back({"rax", [](const snapshot::Sections& s) { return snapshot::get<kvm_regs>(s, "vcpu0.regs").rax; }, 0x1111111111111111});
  f.push_back({"rbx", [](const snapshot::Sections& s) { return snapshot::get<kvm_regs>(s, "vcpu0.regs").rbx; }, 0x2222222222222222});
  f.push_back({"r15", [](const snapshot::Sections& s) { return snapshot::get<kvm_regs>(s, "vcpu0.regs").r15; }, 0xf15f15f15});
  f.push_back({"rip", [](const snapshot::Sections& s) { return snapshot::get<kvm_regs>(s, "vcpu0.regs").rip; }, 0x1234});
  for (int i = 0; i < 4; ++i)
    f.push_back({"dr" + std::to_string(i), [i](const snapshot::Sections& s) { return snapshot::get<kvm_debugregs>(s, "vcpu0.debugregs").db[i]; }, dr[i]});
  f.push_back({"MP_STATE", [](const snapshot::Sections& s) { return snapshot::get<kvm_mp_state>(s, "vcpu0.mp_state").mp_state; },
               KVM_MP_STATE_HALTED});
  f.push_back({"dr7", [](const snapshot::Sections& s) { return snapshot::get<kvm_debugregs>(s, "vcpu0.debugregs").dr7; }, dr7});
  return f;
}

std::uint64_t clock_of(const snapshot::Sections& s) { return snapshot::get<kvm_clock_data>(s, "vm.clock").clock; }

}  // namespace

TEST_CASE("snapshot: a VM's PICs, IOAPIC, PIT, clock, LAPIC and vCPU come back field by field in a new VM and a new process",
          "[vm][snapshot][irqchip]") {
  const auto& k = kvm_or_skip();
  crumble::vm::TempDir dir("crumble-snap-");
  const auto file = dir.path() / "chip.snap";
  snapshot::Sections saved;
  {
    ChipVm vm(k);
    set_distinctive_state(vm);
    saved = save_chip_vm(vm);
    snapshot::write(file, saved, vm.m.memory(), vm.m.memory_size());
  }
  const snapshot::Sections same_process = restore_and_save_again(k, file);
  const snapshot::Sections new_process = restore_in_new_process(k, file, dir.path() / "child.snap");
  const std::pair<const char*, const snapshot::Sections*> places[] = {
      {"as saved", &saved}, {"restored into a new VM", &same_process}, {"restored in a new process", &new_process}};
  for (const Field& f : distinctive_fields()) {
    for (auto [where, s] : places) {
      INFO(f.name << ", " << where);
      CHECK(f.read(*s) == f.want);
    }
  }
  // The clock runs on from the saved value: never back, and only as far as the test took.
  const std::uint64_t at_save = clock_of(saved);
  CHECK(at_save >= clock_ns);
  CHECK(at_save < clock_ns + 10'000'000'000);
  for (auto [where, s] : places) {
    INFO("the KVM clock, " << where);
    CHECK(clock_of(*s) >= at_save);
    CHECK(clock_of(*s) < at_save + 10'000'000'000);
  }
  // The parts this host's KVM saves (the fingerprint says which) are there, and only those.
  const auto& h = snapshot::kvm_host();
  CHECK(saved.count("vcpu0.xsave") == (h.xsave_size ? 1u : 0u));
  CHECK(saved.count("vcpu0.msrs") == (h.msrs.empty() ? 0u : 1u));
  CHECK(saved.count("vcpu0.cpuid") == (h.cpuid ? 1u : 0u));
}

TEST_CASE("snapshot: the fingerprint names the TSC frequency and which of XSAVE and MSRs this KVM saves", "[vm][snapshot]") {
  const auto& k = kvm_or_skip();
  kvm::Machine m(k, 2 << 20);
  kvm::Vcpu& cpu = m.add_vcpu();
  // What the fingerprint should say, asked of KVM here directly.
  // (The request numbers are the kernel's, kvm/abi.hpp: <linux/kvm.h>'s are wrong in C++.)
  std::string xsave = "xsave=none";
  const int xsave2 = ::ioctl(m.fd(), KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
  std::vector<std::uint8_t> area(std::max(xsave2, 4096));
  if (xsave2 >= 4096 && ::ioctl(cpu.fd(), kvm::abi::get_xsave2, area.data()) == 0) xsave = "xsave=xsave2/" + std::to_string(xsave2);
  else if (::ioctl(cpu.fd(), kvm::abi::get_xsave, area.data()) == 0) xsave = "xsave=xsave/4096";
  std::string msrs = "msrs=none";
  std::vector<std::uint32_t> list(1, 0);
  if (::ioctl(k.fd(), kvm::abi::get_msr_index_list, list.data()) < 0 && errno == E2BIG) {
    list.resize(1 + list[0]);
    REQUIRE(::ioctl(k.fd(), kvm::abi::get_msr_index_list, list.data()) == 0);
    const auto saved = kvm::msr::msrs_to_save(std::vector<std::uint32_t>(list.begin() + 1, list.end()));
    kvm::abi::MsrBuffer one(1);
    one.entries()[0].index = 0x10;
    if (::ioctl(cpu.fd(), kvm::abi::get_msrs, one.data()) == 1 && ::ioctl(cpu.fd(), kvm::abi::set_msrs, one.data()) == 1)
      msrs = "msrs=" + std::to_string(saved.size()) + "/";
  }
  unsigned a, b, c, d;
  __cpuid(0, a, b, c, d);
  char vendor[13] = {};
  std::memcpy(vendor, &b, 4), std::memcpy(vendor + 4, &d, 4), std::memcpy(vendor + 8, &c, 4);

  const std::string fp = snapshot::host_fingerprint();
  std::cout << "host fingerprint: " << fp << "\n";
  struct Row {
    const char* what;
    std::string says;
  };
  const std::vector<Row> rows = {
      {"the CPU vendor", std::string(vendor) + " signature="},
      {"the KVM API", "kvm-api=" + std::to_string(KVM_API_VERSION)},
      {"the TSC frequency", "tsc-khz=" + std::to_string(cpu.tsc_khz())},
      {"XSAVE: how, and its size", xsave},
      {"the MSRs", msrs},
      {"the guest's CPUID", "guest-cpuid="},
      {"the VM state", "vm=irqchip+pit2+clock"},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    CHECK_THAT(fp, Catch::Contains(row.says));
  }
  CHECK(snapshot::host_fingerprint() == fp);  // probed once: the same answer every time

  // A snapshot with another fingerprint (the QEMU engine's) is refused naming both; with its own
  // fingerprint it reads.
  crumble::vm::TempDir dir("crumble-snap-");
  const auto file = dir.path() / "other.snap";
  const std::string qemu = "qemu-system-x86_64 8.2.2 machine=microvm";
  snapshot::Sections s;
  snapshot::save_vcpu(cpu, s);
  snapshot::write(file, s, m.memory(), m.memory_size(), qemu);
  try {
    (void)snapshot::read(file);
    FAIL("a snapshot with another fingerprint was accepted");
  } catch (const crumble::vm::SnapshotError& e) {
    CHECK_THAT(e.what(), Catch::Contains("made on another host") && Catch::Contains(qemu) && Catch::Contains(fp));
  }
  snapshot::Loaded l = snapshot::read(file, qemu);
  ::close(l.memory_fd);
  CHECK(l.sections == s);
  snapshot::write(file, s, m.memory(), m.memory_size());
  CHECK_THROWS_WITH(snapshot::read(file, qemu), Catch::Contains(qemu) && Catch::Contains(fp));
}

TEST_CASE("snapshot: state the host saves but the file lacks, state it cannot load, and another kind of VM are refused", "[vm][snapshot]") {
  const auto& k = kvm_or_skip();
  const auto& h = snapshot::kvm_host();
  snapshot::Sections good;
  {
    ChipVm vm(k);
    good = save_chip_vm(vm);
  }
  auto without = [&](const char* tag) {
    snapshot::Sections s = good;
    s.erase(tag);
    return s;
  };
  auto with_extra = [&](const char* tag) {
    snapshot::Sections s = good;
    s[tag].assign(64, 0);
    return s;
  };
  struct Row {
    std::string what;
    snapshot::Sections sections;
    bool irqchip;  // whether the VM restored into has one
    std::string reason;
  };
  std::vector<Row> rows = {
      {"no REGS", without("vcpu0.regs"), true, "no vcpu0.regs section"},
      {"no SREGS", without("vcpu0.sregs"), true, "no vcpu0.sregs section"},
      {"no VCPU_EVENTS", without("vcpu0.events"), true, "no vcpu0.events section"},
      {"no KVM clock", without("vm.clock"), true, "no vm.clock section"},
      {"no PIT", without("vm.pit2"), true, "without a PIT"},
      {"no irqchip, into a VM with one", without("vm.pic_master"), true, "without an in-kernel irqchip"},
      {"an irqchip, into a VM without", good, false, "this VM has none"},
  };
  // XSAVE and MSRs: missing where this host saves them, present where it cannot load them.
  if (h.xsave_size) rows.push_back({"no XSAVE", without("vcpu0.xsave"), true, "which this host's KVM saves"});
  else rows.push_back({"XSAVE, which this KVM refuses", with_extra("vcpu0.xsave"), true, "cannot load"});
  if (!h.msrs.empty()) rows.push_back({"no MSRs", without("vcpu0.msrs"), true, "which this host's KVM saves"});
  else rows.push_back({"MSRs, which this KVM refuses", with_extra("vcpu0.msrs"), true, "cannot load"});
  if (h.cpuid) rows.push_back({"no CPUID", without("vcpu0.cpuid"), true, "which this host's KVM saves"});
  for (const Row& row : rows) {
    INFO(row.what);
    kvm::Machine m(k, 2 << 20);
    if (row.irqchip) m.create_irqchip();
    kvm::Vcpu& cpu = m.add_vcpu();
    try {
      snapshot::restore_vm(m, row.sections);
      snapshot::restore_vcpu(cpu, row.sections);
      FAIL("accepted");
    } catch (const crumble::vm::SnapshotError& e) {
      CHECK_THAT(e.what(), Catch::Contains(row.reason));
    }
  }
  // The good one restores.
  ChipVm vm(k);
  snapshot::restore_vm(vm.m, good);
  snapshot::restore_vcpu(*vm.cpu, good);
}

TEST_CASE("snapshot: write_sparse leaves zero pages as holes", "[vm][snapshot]") {
  crumble::vm::TempDir dir("crumble-snap-");
  const auto file = dir.path() / "ram";
  std::vector<std::uint8_t> ram(64 << 20);
  for (std::size_t page : {std::size_t{0}, std::size_t{5000}, ram.size() / 4096 - 1}) ram[page * 4096 + 17] = 0x5a;
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  snapshot::write_sparse(fd, ram.data(), ram.size(), file);
  ::close(fd);
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK(static_cast<std::size_t>(st.st_size) == ram.size());
  CHECK(static_cast<std::uint64_t>(st.st_blocks) * 512 < (1u << 20));
  CHECK(read_file(file) == std::string(ram.begin(), ram.end()));
}

TEST_CASE("snapshot cache keys: a file hashes as its bytes, and every byte and the length count", "[snapshot][cache]") {
  crumble::vm::TempDir dir("crumble-hash-");
  std::mt19937_64 random(7);
  // sizes around the hash's 32-byte blocks and the file reader's 1 MiB chunks
  for (std::size_t size : {0ul, 1ul, 31ul, 32ul, 33ul, 4095ul, (1ul << 20) - 1, 1ul << 20, (1ul << 20) + 17, (3ul << 20) + 5}) {
    INFO("size " << size);
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    const auto file = dir.path() / "f";
    write_file(file, bytes);
    auto hash = [](const std::string& b) {
      crumble::vm::ContentHash h;
      h.add(b);
      return h.hex();
    };
    crumble::vm::ContentHash from_file;
    from_file.add_file(file);
    CHECK(from_file.hex() == hash(bytes));
    CHECK(hash(bytes + '\0') != hash(bytes));  // a trailing zero byte is not padding
    if (size) {
      std::string flipped = bytes;
      flipped[random() % size] ^= 1;
      CHECK(hash(flipped) != hash(bytes));
    }
  }
  crumble::vm::ContentHash missing;
  CHECK_THROWS_AS(missing.add_file(dir.path() / "no-such-file"), crumble::vm::ConfigError);
}

TEST_CASE("snapshot files: two processes saving one snapshot at once never leave a mixed one", "[snapshot]") {
  namespace snap = crumble::vm::snapshot;
  crumble::vm::TempDir dir("crumble-race-");
  const auto state = dir.path() / "shared";
  constexpr std::uint64_t size = 16 << 20;
  int accepted = 0, refused = 0;
  for (int trial = 0; trial < 12; ++trial) {
    pid_t writers[2];
    for (int w = 0; w < 2; ++w) {
      writers[w] = ::fork();
      REQUIRE(writers[w] >= 0);
      if (writers[w] == 0) {  // each writer: every page holds its number, and so does a section
        std::vector<std::uint8_t> memory(size, static_cast<std::uint8_t>(w + 1));
        snap::Sections s;
        snap::put(s, "writer", static_cast<std::uint32_t>(w + 1));
        try {
          snap::write(state, s, memory.data(), size, "test");
        } catch (...) {
          ::_exit(1);
        }
        ::_exit(0);
      }
    }
    for (pid_t p : writers) {
      int status = 0;
      REQUIRE(::waitpid(p, &status, 0) == p);
      CHECK(WIFEXITED(status));
      CHECK(WEXITSTATUS(status) == 0);  // each save succeeds on its own files
    }
    try {
      snap::Loaded l = snap::read(state, "test");
      const auto writer = snap::get<std::uint32_t>(l.sections, "writer");
      std::vector<std::uint8_t> memory(size);
      REQUIRE(::pread(l.memory_fd, memory.data(), size, 0) == static_cast<ssize_t>(size));
      ::close(l.memory_fd);
      CHECK(std::all_of(memory.begin(), memory.end(), [&](std::uint8_t b) { return b == writer; }));
      ++accepted;
    } catch (const crumble::vm::SnapshotError& e) {
      CHECK_THAT(e.what(), Catch::Contains("does not belong to its state file"));  // refused, never mixed
      ++refused;
    }
  }
  std::cout << "concurrent saves: " << accepted << " accepted whole, " << refused << " refused as mixed\n";
  // no temporary files are left behind: the state and memory files (and TempDir's owner mark)
  std::set<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files.insert(e.path().filename().string());
  CHECK(files == std::set<std::string>{"shared", "shared.mem", crumble::vm::owner_mark});
}

TEST_CASE("snapshot cache: a save killed midway leaves temporary files that the next save of the key removes", "[snapshot][cache]") {
  namespace snap = crumble::vm::snapshot;
  crumble::vm::TempDir dir("crumble-leftovers-");
  const crumble::vm::SnapshotCache cache(dir.path());
  const std::string key = crumble::vm::SnapshotCache::key({"leftovers"}), other = crumble::vm::SnapshotCache::key({"other"});
  struct File {
    std::string name;
    bool removed;  // by the next save of `key`
  } files[] = {
      {key + ".tmp.a1B2c3", true},  {key + ".mem.tmp.Zx9y8w", true}, {key + ".lock", false},
      {other + ".tmp.q1w2e3", false}, {other + ".mem.tmp.r4t5y6", false}, {other, false},
  };
  cache.prepare(key);
  for (const File& f : files) std::ofstream(dir.path() / f.name) << "left by a killed save";
  bool saved = false;
  const snap::StartOutcome out = snap::restore_or_boot(
      cache, key, snap::StartRules{}, [](const std::filesystem::path&) { FAIL("nothing to restore"); }, [] { return std::string(); },
      [&](const std::filesystem::path& file) {
        saved = true;
        std::ofstream(file) << "a snapshot";
      });
  CHECK(saved);
  CHECK_FALSE(out.restored);
  for (const File& f : files) {
    INFO(f.name);
    CHECK(std::filesystem::exists(dir.path() / f.name) == !f.removed);
  }
  CHECK(std::filesystem::exists(cache.path(key)));
}

TEST_CASE("snapshot cache: keep_recent keeps the most recently used of a kind, whatever their age otherwise, and nothing else is touched", "[snapshot][cache]") {
  crumble::vm::TempDir dir("crumble-recent-");
  const crumble::vm::SnapshotCache cache(dir.path());
  cache.prepare("x");
  auto key = [](int i) { return crumble::vm::SnapshotCache::key({"recent", std::to_string(i)}); };
  auto make = [&](int i, const char* kind, int minutes_ago) {
    std::ofstream(cache.path(key(i))) << "state";
    std::ofstream(cache.path(key(i)).string() + ".mem") << "memory";
    if (!kind) return;
    cache.label(key(i), kind, "/roots/" + std::to_string(i) + "\n");
    std::filesystem::last_write_time(cache.path(key(i)).string() + "." + kind,
                                     std::filesystem::file_time_type::clock::now() - std::chrono::minutes(minutes_ago));
  };
  struct Row {
    const char* kind;  // nullptr: a snapshot of no kind (a base snapshot)
    int minutes_ago;   // since its last use
    bool used_now;     // used() just before keep_recent
    bool kept;
  };
  const std::vector<Row> rows = {
      {"container", 50, false, false}, {"container", 10, false, true}, {"container", 99, true, true},
      {"container", 40, false, false}, {nullptr, 500, false, true},     {"other", 500, false, true},
  };
  for (std::size_t i = 0; i < rows.size(); ++i) make(static_cast<int>(i), rows[i].kind, rows[i].minutes_ago);
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (rows[i].used_now) cache.used(key(static_cast<int>(i)), rows[i].kind);
  CHECK(cache.keep_recent("container", 2) == 2);
  CHECK(cache.keep_recent("container", 2) == 0);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    INFO("row " << i);
    const std::string state = cache.path(key(static_cast<int>(i))).string();
    CHECK(std::filesystem::exists(state) == rows[i].kept);
    CHECK(std::filesystem::exists(state + ".mem") == rows[i].kept);
    if (rows[i].kind) CHECK(std::filesystem::exists(state + "." + rows[i].kind) == rows[i].kept);
  }
  CHECK(cache.list().size() == 4);
}

TEST_CASE("snapshot cache: remove takes a snapshot's state, memory and side files, and leaves its lock and other keys", "[snapshot][cache]") {
  crumble::vm::TempDir dir("crumble-remove-");
  const crumble::vm::SnapshotCache cache(dir.path());
  const std::string key = crumble::vm::SnapshotCache::key({"removed"}), other = crumble::vm::SnapshotCache::key({"kept"});
  { auto held = cache.lock(key); }  // KEY.lock, as a save leaves it
  for (const std::string& k : {key, other}) {
    std::ofstream(cache.path(k)) << "state";
    std::ofstream(cache.path(k).string() + ".mem") << "memory";
    cache.label(k, "container", "/roots/r\n");
  }
  cache.remove(key);
  struct Row {
    std::string file;
    bool exists;
  };
  const std::string removed = cache.path(key).string(), kept = cache.path(other).string();
  for (const Row& r : {Row{removed, false}, Row{removed + ".mem", false}, Row{removed + ".container", false}, Row{removed + ".lock", true},
                       Row{kept, true}, Row{kept + ".mem", true}, Row{kept + ".container", true}}) {
    INFO(r.file);
    CHECK(std::filesystem::exists(r.file) == r.exists);
  }
}

TEST_CASE("snapshot: MSR_KVM_ASYNC_PF_INT, which KVM takes back only with an in-kernel LAPIC, is saved only then", "[vm][snapshot]") {
  const auto& k = kvm_or_skip();
  const auto& host = snapshot::kvm_host();
  const bool listed = std::count(host.msrs.begin(), host.msrs.end(), kvm::msr::kvm_async_pf_int) == 1;
  if (!listed) {
    std::cout << "SKIPPED: this host's KVM saves no MSR_KVM_ASYNC_PF_INT (MSRs: " << host.msrs.size() << ")\n";
    std::exit(4);
  }
  struct Row {
    const char* what;
    bool irqchip;
  };
  for (const Row& r : {Row{"a bare VM (no irqchip)", false}, Row{"a VM with the in-kernel irqchip", true}}) {
    INFO(r.what);
    kvm::Machine m(k, 2 << 20);
    if (r.irqchip) m.create_irqchip();
    kvm::Vcpu& cpu = m.add_vcpu();
    // The oracle: KVM itself, asked to take back the value 0 this MSR holds after reset.
    kvm::abi::MsrBuffer one(1);
    one.entries()[0] = kvm_msr_entry{kvm::msr::kvm_async_pf_int, 0, 0};
    const bool takes = ::ioctl(cpu.fd(), kvm::abi::set_msrs, one.data()) == 1;
    CHECK(takes == r.irqchip);
    snapshot::Sections s;
    snapshot::save_vm(m, s);
    snapshot::save_vcpu(cpu, s, "vcpu0.", r.irqchip);
    const auto& bytes = s.at("vcpu0.msrs");
    bool saved = false;
    for (std::size_t at = 0; at + sizeof(kvm_msr_entry) <= bytes.size(); at += sizeof(kvm_msr_entry)) {
      kvm_msr_entry e;
      std::memcpy(&e, bytes.data() + at, sizeof e);
      saved = saved || e.index == kvm::msr::kvm_async_pf_int;
    }
    CHECK(saved == takes);
    // And the snapshot goes back into a VM made like it, every MSR taken.
    kvm::Machine again(k, 2 << 20);
    if (r.irqchip) again.create_irqchip();
    kvm::Vcpu& cpu2 = again.add_vcpu();
    CHECK_NOTHROW(snapshot::restore_machine(again, {&cpu2}, s));
  }
}
