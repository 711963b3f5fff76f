// SPDX-License-Identifier: Apache-2.0
// tests/vm/linux_loader_test.cpp — the x86-64 Linux loader (crumble/vm/engine/kvm/linux_x86.hpp) under KVM.
//
// The boot handoff is proven with a synthetic kernel: a file with a valid bzImage setup header
// whose 64-bit entry is our own code (an IR program). It reads boot_params as a kernel would —
// the command line, the initrd address and size, the e820 map — and reports each value with a
// store to an MMIO region; the test compares them with what the loader meant to pass. The code
// runs in kernel mode, which this host's KVM emulates (slowly, but it is a few thousand
// instructions). Malformed kernels are rejected with the reason before any VM exists.
#include <catch2/catch.hpp>
#include <crumble/crumble.hpp>
#include "kvm_skip.hpp"
#include "synthetic_kernel.hpp"
#include <crumble/vm/guest/kernel.hpp>
#include <crumble/vm/engine/kvm/linux_x86.hpp>
#include <crumble/vm/engine/kvm/i8042.hpp>
#include <crumble/vm/engine/kvm/uart.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>

using namespace crumble::ir;

namespace {

constexpr std::uint64_t report = 0xd0000000;  // the first MMIO region a Machine allocates

// The synthetic kernel's 64-bit entry: main(_, boot_params).
Program reporter() {
  Var bp{"bp"}, p{"p"}, i{"i"}, n{"n"}, e{"e"}, c{"c"};
  const Expr R = Int64{static_cast<std::int64_t>(report)};
  return Program{{Function{"main", {"unused", "bp"}, {
      Assign{p, load(bp, 0x228, 32)},
      Assign{i, 0},
      Assign{c, load(p, 0, 8)},
      While{c != 0, {store(R, 0, 8, c), Assign{i, i + 1}, Assign{c, load(p + i, 0, 8)}}},
      store(R, 8, 64, load(bp, 0x218, 32) | (load(bp, 0x0c0, 32) << 32)),
      store(R, 16, 64, load(bp, 0x21c, 32)),
      Assign{n, load(bp, 0x1e8, 8)},
      store(R, 24, 64, n),
      Assign{i, 0},
      While{i < n, {
          Assign{e, bp + 0x2d0 + i * 20},
          store(R, 32, 64, load(e, 0, 64)), store(R, 40, 64, load(e, 8, 64)), store(R, 48, 32, load(e, 16, 32)),
          Assign{i, i + 1}}},
      store(R, 56, 64, 1),
      While{IsZero{Int64{0}}, {}},
      Return{0}}}}};
}

// A bzImage whose entry is the reporter, relocated for the preferred load address.
std::vector<std::uint8_t> synthetic_bzimage(std::uint16_t protocol = 0x020f) {
  return crumble::test::synthetic_bzimage(crumble::assemble<crumble::arch::amd64>(reporter()), protocol);
}

using crumble::test::kvm_or_skip;

}  // namespace

TEST_CASE("linux loader: a synthetic kernel reads the boot_params the loader meant to pass", "[vm][kvm][linux]") {
  auto& kvm = kvm_or_skip();
  crumble::vm::kvm::Machine vm(kvm, 128 << 20);
  auto mmio = vm.allocate_mmio("report", 0x1000);
  REQUIRE(mmio.base == report);
  const std::string cmdline = "console=ttyS0 crumble.test=\"a b\" root=/dev/ram0";
  std::vector<std::uint8_t> initrd(100000, 0x5a);
  auto image = crumble::vm::LinuxImage::parse(synthetic_bzimage(), "synthetic");
  crumble::vm::BootSetup b = crumble::vm::load_linux(vm, image, {cmdline, initrd});
  CHECK(b.entry == 0x1000200);
  CHECK(b.initrd % 4096 == 0);
  CHECK(b.initrd + b.initrd_size <= vm.memory_size());
  CHECK(std::equal(initrd.begin(), initrd.end(), vm.memory() + b.initrd));

  auto& cpu = vm.add_vcpu();
  crumble::vm::enter_linux(cpu, b);
  std::string seen_cmdline;
  std::uint64_t seen_initrd = 0, seen_size = 0, seen_count = 0;
  std::vector<crumble::vm::BootSetup::E820> seen;
  cpu.on_mmio = [&](crumble::vm::kvm::MmioExit& e) {
    REQUIRE(e.write);
    std::uint64_t v = 0;
    std::memcpy(&v, e.data, e.size);
    switch (e.address - report) {
      case 0: seen_cmdline += static_cast<char>(v); break;
      case 8: seen_initrd = v; break;
      case 16: seen_size = v; break;
      case 24: seen_count = v; break;
      case 32: seen.push_back({v, 0, 0}); break;
      case 40: seen.back().size = v; break;
      case 48: seen.back().type = static_cast<std::uint32_t>(v); break;
      case 56: cpu.stop(); break;
      default: FAIL("unexpected report at offset " << (e.address - report));
    }
  };
  auto start = std::chrono::steady_clock::now();
  CHECK(cpu.run(start + std::chrono::seconds(30)) == crumble::vm::kvm::Exit::stopped);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  INFO("the synthetic kernel ran " << ms << " ms");
  CHECK(seen_cmdline == cmdline);
  CHECK(seen_initrd == b.initrd);
  CHECK(seen_size == initrd.size());
  REQUIRE(seen_count == b.e820.size());
  for (std::size_t i = 0; i < seen.size(); ++i) {
    INFO("e820 entry " << i);
    CHECK(seen[i].addr == b.e820[i].addr);
    CHECK(seen[i].size == b.e820[i].size);
    CHECK(seen[i].type == b.e820[i].type);
  }
  // RAM, the legacy hole and the MMIO region are typed as they should be.
  CHECK(b.e820[0].type == 1);
  CHECK(b.e820[1].type == 2);
  CHECK(b.e820.back().addr == report);
  CHECK(b.e820.back().type == 2);
}

TEST_CASE("linux loader: malformed kernels are rejected with the reason", "[vm][linux]") {
  const auto good = synthetic_bzimage();
  struct Row {
    const char* name;
    std::vector<std::uint8_t> file;
    const char* reason;
  };
  auto with = [&](std::size_t at, std::uint8_t v) {
    auto f = good;
    f[at] = v;
    return f;
  };
  std::vector<std::uint8_t> truncated(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(good.size() - 100));
  std::vector<std::uint8_t> elf_arm64(64, 0);
  elf_arm64[0] = 0x7f, elf_arm64[1] = 'E', elf_arm64[2] = 'L', elf_arm64[3] = 'F', elf_arm64[4] = 2, elf_arm64[5] = 1, elf_arm64[18] = 183;
  const std::vector<Row> rows = {
      {"empty", {}, "file is empty"},
      {"truncated", truncated, "truncated bzImage"},
      {"bad magic", with(0x202, 'X'), "no HdrS signature"},
      {"no boot signature", with(0x1fe, 0), "no boot sector signature"},
      {"old protocol 2.11", synthetic_bzimage(0x020b), "older than 2.12"},
      {"no 64-bit entry", with(0x236, 0), "no 64-bit entry"},
      {"not relocatable", with(0x234, 0), "not relocatable"},
      {"ELF for another machine", elf_arm64, "not an x86-64"},
  };
  for (const Row& r : rows) {
    INFO(r.name);
    try {
      crumble::vm::LinuxImage::parse(r.file, "k");
      FAIL("accepted");
    } catch (const crumble::vm::ConfigError& e) {
      CHECK_THAT(e.what(), Catch::Contains(r.reason));
    }
  }
}

// The real Debian cloud kernel (its vmlinux, extracted from the bzImage) loads and prints its
// first console line through our 16550 UART. Kernel-mode code is emulated on this host, so that
// line takes seconds; a full boot to init needs VMX/SVM (the QEMU engine boots it here instead).
TEST_CASE("linux loader: the Debian kernel prints its first console line under KVM", "[vm][kvm][linux][slow]") {
  auto& kvm = kvm_or_skip();
  auto k = crumble::vm::cached_kernel();
  if (!k) {
    std::cout << "SKIPPED: no cached kernel (run `crumble kernel fetch`)\n";
    std::exit(4);
  }
  const auto vmlinux = crumble::vm::extract_vmlinux(k->image, k->image.parent_path() / "vmlinux");
  auto image = crumble::vm::LinuxImage::read(vmlinux);
  REQUIRE(image.format == crumble::vm::LinuxImage::Format::elf);
  crumble::vm::kvm::Machine vm(kvm, 256 << 20);
  crumble::vm::BootSetup b = crumble::vm::load_linux(
      vm, image, {"console=ttyS0 earlycon=uart8250,io,0x3f8 ignore_loglevel nokaslr panic=-1 tsc=reliable", {}});
  auto& cpu = vm.add_vcpu();
  try {
    cpu.set_cpuid(kvm.supported_cpuid());
  } catch (const crumble::vm::VmError& e) {
    // Without a CPUID that lists SYSCALL, KVM refuses the kernel's first EFER write and the
    // guest triple-faults in startup_64 (seen here: rip ffffffff81000136, wrmsr EFER).
    std::cout << "SKIPPED: this host's KVM refuses KVM_SET_CPUID2 (" << e.what()
              << "), and a Linux kernel cannot start without the guest CPUID it sets\n";
    std::exit(4);
  }
  crumble::vm::enter_linux(cpu, b);
  std::string console;
  crumble::vm::Uart16550 uart([&](std::string_view s) {
    console += s;
    if (console.find('\n') != std::string::npos) cpu.stop();
  });
  cpu.on_io = [&](crumble::vm::kvm::IoExit& io) { uart.handle(io); };
  const auto start = std::chrono::steady_clock::now();
  try {
    cpu.run(start + std::chrono::seconds(60));
  } catch (const crumble::vm::VmError& e) {
    FAIL(e.what() << "\nconsole so far: " << console);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "first console line after " << s << " s: " << console;
  CHECK_THAT(console, Catch::Contains("Linux version"));
}

// The console and reset devices, driven by a few bytes of kernel-mode code entered the way the
// loader enters a kernel: write "hi\n" to the UART (checking the line status first, as a driver
// does), then pulse the i8042 reset line.
TEST_CASE("devices: 16550 UART output and the i8042 reset line", "[vm][kvm][devices]") {
  auto& kvm = kvm_or_skip();
  crumble::vm::kvm::Machine vm(kvm, 64 << 20);
  const std::uint8_t code[] = {
      0x66, 0xba, 0xfd, 0x03,  // mov dx, 0x3fd (LSR)
      0xec,                    // in al, dx
      0xa8, 0x20,              // test al, 0x20 (THRE)
      0x74, 0xfb,              // jz back to the in
      0x66, 0xba, 0xf8, 0x03,  // mov dx, 0x3f8
      0xb0, 'h', 0xee,         // mov al, 'h'; out dx, al
      0xb0, 'i', 0xee,         // mov al, 'i'; out dx, al
      0xb0, '\n', 0xee,        // mov al, '\n'; out dx, al
      0xb0, 0xfe, 0xe6, 0x64,  // mov al, 0xfe; out 0x64, al
      0xf4,                    // hlt (not reached if the reset stops the vCPU)
  };
  crumble::vm::BootSetup b;
  b.entry = 0x100000;
  b.boot_params = crumble::vm::linux_x86::boot_params;
  std::memcpy(vm.memory() + b.entry, code, sizeof code);
  auto no_kernel = crumble::vm::LinuxImage::parse(synthetic_bzimage(), "synthetic");
  crumble::vm::load_linux(vm, no_kernel, {"", {}});  // page tables and GDT
  auto& cpu = vm.add_vcpu();
  crumble::vm::enter_linux(cpu, b);
  std::string console;
  bool reset = false;
  crumble::vm::Uart16550 uart([&](std::string_view s) { console += s; });
  crumble::vm::I8042 keyboard([&] {
    reset = true;
    cpu.stop();
  });
  cpu.on_io = [&](crumble::vm::kvm::IoExit& io) { REQUIRE((uart.handle(io) || keyboard.handle(io))); };
  CHECK(cpu.run(std::chrono::steady_clock::now() + std::chrono::seconds(10)) == crumble::vm::kvm::Exit::stopped);
  CHECK(console == "hi\n");
  CHECK(reset);
}

// ---- MMIO holes in RAM (kvm::Machine::punch_mmio_hole) ------------------------------------------

// A page taken out of RAM traps: the guest's store there reaches on_mmio and no host memory, its
// load gets what the handler answers, not what it stored; the RAM on either side of the hole is
// still RAM at the right host offsets (the slot was split, not moved). Kernel-mode code, entered
// as the loader enters a kernel.
TEST_CASE("kvm::Machine: an MMIO hole inside RAM traps, and the RAM around it stays RAM", "[vm][kvm]") {
  auto& kvm = kvm_or_skip();
  constexpr std::uint64_t hole = 0x2000000;
  crumble::vm::kvm::Machine vm(kvm, 64 << 20);
  const auto h = vm.punch_mmio_hole("regs", hole, 0x1000);
  CHECK(h.base == hole);
  CHECK(h.size == 0x1000);
  REQUIRE(vm.mmio_holes().size() == 1);
  CHECK(vm.mmio_holes()[0].name == "regs");
  CHECK(vm.mmio_regions().empty());  // holes are not regions above RAM
  // The host cannot reach the hole as RAM, by any range that touches it.
  CHECK(vm.guest(hole, 4) == nullptr);
  CHECK(vm.guest(hole + 0xffc, 4) == nullptr);
  CHECK(vm.guest(hole - 4, 8) == nullptr);
  CHECK(vm.guest(hole - 0x1000, 0x3000) == nullptr);
  CHECK(vm.guest(hole - 4, 4) == vm.memory() + hole - 4);
  CHECK(vm.guest(hole + 0x1000, 4) == vm.memory() + hole + 0x1000);

  const std::uint8_t code[] = {
      0xbb, 0x00, 0x00, 0x00, 0x02,                                // mov ebx, hole
      0xc7, 0x43, 0xfc, 0x11, 0x11, 0x11, 0x11,                    // mov dword [rbx-4], 0x11111111 (RAM below)
      0xc7, 0x83, 0x00, 0x10, 0x00, 0x00, 0x22, 0x22, 0x22, 0x22,  // mov dword [rbx+0x1000], 0x22222222 (RAM above)
      0xc7, 0x43, 0x08, 0x33, 0x33, 0x33, 0x33,                    // mov dword [rbx+8], 0x33333333 (the hole)
      0x8b, 0x43, 0x08,                                            // mov eax, [rbx+8]
      0x66, 0xba, 0x00, 0x05,                                      // mov dx, 0x500
      0xef,                                                        // out dx, eax: report what the load got
      0xf4,                                                        // hlt (not reached)
  };
  auto image = crumble::vm::LinuxImage::parse(synthetic_bzimage(), "synthetic");
  crumble::vm::BootSetup b = crumble::vm::load_linux(vm, image, {"", {}});  // page tables and GDT
  b.entry = 0x100000;
  std::memcpy(vm.guest(b.entry, sizeof code), code, sizeof code);
  auto& cpu = vm.add_vcpu();
  crumble::vm::enter_linux(cpu, b);
  struct Access {
    std::uint64_t address;
    bool write;
    unsigned size;
    std::uint32_t value;
  };
  std::vector<Access> seen;
  cpu.on_mmio = [&](crumble::vm::kvm::MmioExit& e) {
    std::uint32_t v = 0;
    if (e.write) std::memcpy(&v, e.data, std::min<unsigned>(e.size, 4));
    else std::memset(e.data, 0x5a, e.size);
    seen.push_back({e.address, e.write, e.size, v});
  };
  std::optional<std::uint32_t> loaded;
  cpu.on_io = [&](crumble::vm::kvm::IoExit& io) {
    REQUIRE(io.port == 0x500);
    loaded = io.value();
    cpu.stop();
  };
  CHECK(cpu.run(std::chrono::steady_clock::now() + std::chrono::seconds(10)) == crumble::vm::kvm::Exit::stopped);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].address == hole + 8);
  CHECK(seen[0].write);
  CHECK(seen[0].size == 4);
  CHECK(seen[0].value == 0x33333333);
  CHECK(seen[1].address == hole + 8);
  CHECK_FALSE(seen[1].write);
  REQUIRE(loaded);
  CHECK(*loaded == 0x5a5a5a5a);  // what the handler said, not the 0x33333333 RAM would have kept
  std::uint32_t below = 0, above = 0;
  std::memcpy(&below, vm.guest(hole - 4, 4), 4);
  std::memcpy(&above, vm.guest(hole + 0x1000, 4), 4);
  CHECK(below == 0x11111111);
  CHECK(above == 0x22222222);
}

TEST_CASE("kvm::Machine: MMIO holes must be whole pages of RAM, apart from each other", "[vm][kvm]") {
  auto& kvm = kvm_or_skip();
  crumble::vm::kvm::Machine vm(kvm, 16 << 20);
  auto error = [&](std::uint64_t gpa, std::uint64_t size) -> std::string {
    try {
      vm.punch_mmio_hole("h", gpa, size);
      return "accepted";
    } catch (const crumble::vm::ConfigError& e) {
      return e.what();
    }
  };
  CHECK_THAT(error(0x1800, 0x1000), Catch::Contains("multiples of 4 KiB"));
  CHECK_THAT(error(0x2000, 0x800), Catch::Contains("multiples of 4 KiB"));
  CHECK_THAT(error(0x2000, 0), Catch::Contains("multiples of 4 KiB"));
  CHECK_THAT(error(16 << 20, 0x1000), Catch::Contains("inside RAM"));
  CHECK_THAT(error((16 << 20) - 0x1000, 0x2000), Catch::Contains("inside RAM"));
  CHECK_THAT(error(~std::uint64_t{0xfff}, 0x2000), Catch::Contains("inside RAM"));  // wraps around
  CHECK(error(0x400000, 0x2000) == "accepted");
  CHECK_THAT(error(0x401000, 0x1000), Catch::Contains("outside every other hole"));
  CHECK_THAT(error(0x3ff000, 0x2000), Catch::Contains("outside every other hole"));
  CHECK(error(0x402000, 0x1000) == "accepted");           // right after the first: its own slot
  CHECK(error((16 << 20) - 0x1000, 0x1000) == "accepted");  // the last page of RAM
  CHECK(error(0, 0x1000) == "accepted");                    // the first
  CHECK(vm.mmio_holes().size() == 4);
  CHECK(vm.guest(0x402000, 1) == nullptr);
  CHECK(vm.guest(0x403000, 1) != nullptr);
  CHECK(vm.guest(0, 1) == nullptr);
  CHECK(vm.guest(0x1000, 1) != nullptr);
  CHECK(vm.guest((16 << 20) - 1, 1) == nullptr);
}

// The hole is reserved in the e820 map between the two pieces of RAM around it, and the loader
// puts nothing into it.
TEST_CASE("linux loader: an MMIO hole is reserved in e820 and nothing is loaded into it", "[vm][kvm][linux]") {
  auto& kvm = kvm_or_skip();
  constexpr std::uint64_t hole = 60 << 20, ram = 64 << 20;
  crumble::vm::kvm::Machine vm(kvm, ram);
  vm.punch_mmio_hole("mailbox", hole, 0x1000);
  auto image = crumble::vm::LinuxImage::parse(synthetic_bzimage(), "synthetic");
  std::vector<std::uint8_t> small(4096, 1);
  crumble::vm::BootSetup b = crumble::vm::load_linux(vm, image, {"", small});
  const std::vector<crumble::vm::BootSetup::E820> want = {
      {0, 0x9fc00, 1}, {0x9fc00, 0x100000 - 0x9fc00, 2}, {0x100000, hole - 0x100000, 1}, {hole, 0x1000, 2}, {hole + 0x1000, ram - hole - 0x1000, 1}};
  REQUIRE(b.e820.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("e820 entry " << i);
    CHECK(b.e820[i].addr == want[i].addr);
    CHECK(b.e820[i].size == want[i].size);
    CHECK(b.e820[i].type == want[i].type);
  }
  CHECK(b.initrd >= hole + 0x1000);
  // An initrd as big as the RAM above the hole would have to cover it.
  std::vector<std::uint8_t> big(8 << 20, 1);
  try {
    crumble::vm::load_linux(vm, image, {"", big});
    FAIL("the initrd was loaded over the hole");
  } catch (const crumble::vm::ConfigError& e) {
    CHECK_THAT(e.what(), Catch::Contains("the initrd"));
    CHECK_THAT(e.what(), Catch::Contains("MMIO hole"));
  }
}

// ---- the PVH entry note of an ELF vmlinux ----------------------------------------------------------

namespace {

std::vector<std::uint8_t> note(const char* name, std::uint32_t type, std::vector<std::uint8_t> desc, std::uint64_t align = 4) {
  const std::uint64_t namesz = std::strlen(name) + 1;
  auto pad = [&](std::uint64_t n) { return (n + align - 1) & ~(align - 1); };
  std::vector<std::uint8_t> n(pad(pad(12 + namesz) + desc.size()), 0);
  crumble::test::put_le(n, 0, namesz, 4);
  crumble::test::put_le(n, 4, desc.size(), 4);
  crumble::test::put_le(n, 8, type, 4);
  std::memcpy(n.data() + 12, name, namesz);
  std::copy(desc.begin(), desc.end(), n.begin() + static_cast<std::ptrdiff_t>(pad(12 + namesz)));
  return n;
}
std::vector<std::uint8_t> le_bytes(std::uint64_t v, int n) {
  std::vector<std::uint8_t> b(static_cast<std::size_t>(n));
  crumble::test::put_le(b, 0, v, n);
  return b;
}

// An x86-64 vmlinux as small as the checks allow: one loadable segment at 16 MiB physical (entry
// at its start) and, given notes, a PT_NOTE segment holding them. `note_filesz` overrides the note
// segment's size in its program header.
std::vector<std::uint8_t> elf_vmlinux(const std::vector<std::uint8_t>& notes, bool with_notes = true, std::uint64_t note_align = 4,
                                      std::optional<std::uint64_t> note_filesz = {}) {
  using crumble::test::put_le;
  const std::uint64_t phnum = with_notes ? 2 : 1, load_off = 0x200, load_size = 0x100, note_off = 0x300;
  std::vector<std::uint8_t> f(note_off + notes.size(), 0);
  f[0] = 0x7f, f[1] = 'E', f[2] = 'L', f[3] = 'F', f[4] = 2, f[5] = 1, f[6] = 1;
  put_le(f, 16, 2, 2);           // ET_EXEC
  put_le(f, 18, 62, 2);          // x86-64
  put_le(f, 20, 1, 4);
  put_le(f, 24, 0x1000000, 8);   // entry (physical, as x86 vmlinux gives it)
  put_le(f, 32, 64, 8);          // phoff
  put_le(f, 52, 64, 2);
  put_le(f, 54, 56, 2);
  put_le(f, 56, phnum, 2);
  put_le(f, 64, 1, 4);           // PT_LOAD
  put_le(f, 64 + 8, load_off, 8);
  put_le(f, 64 + 16, 0xffffffff81000000, 8);
  put_le(f, 64 + 24, 0x1000000, 8);
  put_le(f, 64 + 32, load_size, 8);
  put_le(f, 64 + 40, load_size, 8);
  put_le(f, 64 + 48, 0x200000, 8);
  if (with_notes) {
    put_le(f, 120, 4, 4);        // PT_NOTE
    put_le(f, 120 + 8, note_off, 8);
    put_le(f, 120 + 24, 0x1000000 + note_off, 8);
    put_le(f, 120 + 32, note_filesz.value_or(notes.size()), 8);
    put_le(f, 120 + 40, notes.size(), 8);
    put_le(f, 120 + 48, note_align, 8);
  }
  std::copy(notes.begin(), notes.end(), f.begin() + note_off);
  for (std::uint64_t i = 0; i < load_size; ++i) f[load_off + i] = 0x90;
  return f;
}

std::vector<std::uint8_t> cat(std::initializer_list<std::vector<std::uint8_t>> parts) {
  std::vector<std::uint8_t> v;
  for (const auto& p : parts) v.insert(v.end(), p.begin(), p.end());
  return v;
}

}  // namespace

TEST_CASE("linux loader: the PVH entry note of a vmlinux is read where present", "[vm][linux]") {
  const auto gnu = note("GNU", 3, std::vector<std::uint8_t>(20, 0xab));  // a build id to step over
  const auto linux_note = note("Linux", 6, le_bytes(0, 4));
  SECTION("a 4-byte note after others") {
    auto k = crumble::vm::LinuxImage::parse(elf_vmlinux(cat({gnu, linux_note, note("Xen", 18, le_bytes(0x1000040, 4))})));
    REQUIRE(k.pvh_entry);
    CHECK(*k.pvh_entry == 0x1000040);
    CHECK(k.elf_entry_phys == 0x1000000);  // the loader still enters here
  }
  SECTION("an 8-byte note, as x86-64 kernels emit it (a pointer)") {
    auto k = crumble::vm::LinuxImage::parse(elf_vmlinux(cat({note("Xen", 6, {'l', 'i', 'n', 'u', 'x', 0}), note("Xen", 18, le_bytes(0x1000080, 8))})));
    REQUIRE(k.pvh_entry);
    CHECK(*k.pvh_entry == 0x1000080);
  }
  SECTION("notes aligned to 8") {
    auto k = crumble::vm::LinuxImage::parse(
        elf_vmlinux(cat({note("GNU", 5, std::vector<std::uint8_t>(12, 1), 8), note("Xen", 18, le_bytes(0x10000c0, 4), 8)}), true, 8));
    REQUIRE(k.pvh_entry);
    CHECK(*k.pvh_entry == 0x10000c0);
  }
  SECTION("other Xen notes and other type-18 notes are not it") {
    auto k = crumble::vm::LinuxImage::parse(elf_vmlinux(cat({note("Xen", 17, le_bytes(0x1000040, 4)), note("Xenix", 18, le_bytes(0x1000040, 4))})));
    CHECK_FALSE(k.pvh_entry);
  }
  SECTION("no note segment") {
    auto k = crumble::vm::LinuxImage::parse(elf_vmlinux({}, false));
    CHECK_FALSE(k.pvh_entry);
  }
  SECTION("a note segment without it") {
    auto k = crumble::vm::LinuxImage::parse(elf_vmlinux(cat({gnu, linux_note})));
    CHECK_FALSE(k.pvh_entry);
  }
}

TEST_CASE("linux loader: a truncated or lying PVH note is rejected with the reason", "[vm][linux]") {
  const auto pvh = note("Xen", 18, le_bytes(0x1000040, 4));
  auto lying_namesz = pvh;
  crumble::test::put_le(lying_namesz, 0, 0xfffffff0, 4);
  auto lying_descsz = pvh;
  crumble::test::put_le(lying_descsz, 4, 0xffffffff, 4);
  auto desc_past_end = pvh;
  crumble::test::put_le(desc_past_end, 4, 8, 4);  // says 8 bytes: only 4 are left in the segment
  struct Row {
    const char* name;
    std::vector<std::uint8_t> file;
    const char* reason;
  };
  const std::vector<Row> rows = {
      {"name size past the segment", elf_vmlinux(lying_namesz), "run past the segment"},
      {"description size past the segment", elf_vmlinux(lying_descsz), "run past the segment"},
      {"description one word too long", elf_vmlinux(desc_past_end), "run past the segment"},
      {"note segment past the end of the file", elf_vmlinux(pvh, true, 4, pvh.size() + 1), "truncated ELF: note segment 1 ("},
      {"note segment size that wraps", elf_vmlinux(pvh, true, 4, ~std::uint64_t{0}), "truncated ELF: note segment 1 ("},
      {"2-byte entry", elf_vmlinux(note("Xen", 18, le_bytes(0x1040, 2))), "2-byte description, expected 4 or 8"},
      {"entry above 4 GiB", elf_vmlinux(note("Xen", 18, le_bytes(0x101000040, 8))), "is not a 32-bit address"},
      {"entry outside the kernel", elf_vmlinux(note("Xen", 18, le_bytes(0x2000000, 4))), "0x2000000, which is in no loadable segment"},
  };
  for (const Row& r : rows) {
    INFO(r.name);
    try {
      crumble::vm::LinuxImage::parse(r.file, "k");
      FAIL("accepted");
    } catch (const crumble::vm::ConfigError& e) {
      CHECK_THAT(e.what(), Catch::Contains(r.reason));
      CHECK_THAT(e.what(), Catch::StartsWith("k: "));
    }
  }
  // A note segment cut short inside a note's header ends the notes; no header is read past it.
  auto k = crumble::vm::LinuxImage::parse(elf_vmlinux(pvh, true, 4, 11));
  CHECK_FALSE(k.pvh_entry);
}

// Debian's cloud kernel is built with CONFIG_PVH, so its vmlinux has the note; readelf, where
// installed, says which address it holds.
TEST_CASE("linux loader: the Debian vmlinux has a PVH entry, the one readelf reads", "[vm][linux]") {
  auto k = crumble::vm::cached_kernel();
  if (!k) {
    std::cout << "SKIPPED (PVH note of the Debian vmlinux): no cached kernel (run `crumble kernel fetch`)\n";
    WARN("SKIPPED: no cached kernel (run `crumble kernel fetch`)");
    return;
  }
  const auto vmlinux = crumble::vm::extract_vmlinux(k->image, k->image.parent_path() / "vmlinux");
  auto image = crumble::vm::LinuxImage::read(vmlinux);
  REQUIRE(image.format == crumble::vm::LinuxImage::Format::elf);
  REQUIRE(image.pvh_entry);
  INFO("PVH entry " << std::hex << *image.pvh_entry << ", 64-bit entry " << image.elf_entry_phys);
  CHECK(*image.pvh_entry >= 0x1000000);  // in the kernel's image, at its physical address
  CHECK(*image.pvh_entry != image.elf_entry_phys);

  FILE* p = ::popen(("readelf -nW '" + vmlinux.string() + "' 2>/dev/null").c_str(), "r");
  std::string out;
  char buf[4096];
  for (std::size_t n; p && (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  if (!p || ::pclose(p) != 0 || out.empty()) {
    std::cout << "readelf not available: the Debian PVH entry is not compared with it\n";
    WARN("readelf not available: not compared");
    return;
  }
  // binutils names the note "Unknown note type: (0x00000012)" or, if it knows Xen's, PHYS32_ENTRY.
  std::size_t at = std::string::npos;
  for (std::size_t line = 0; line < out.size();) {
    const std::size_t end = std::min(out.find('\n', line), out.size());
    const std::string l = out.substr(line, end - line);
    if (l.find("Xen") != std::string::npos && (l.find("(0x00000012)") != std::string::npos || l.find("PHYS32_ENTRY") != std::string::npos)) {
      at = line;
      break;
    }
    line = end + 1;
  }
  REQUIRE(at != std::string::npos);
  const std::size_t data = out.find("description data:", at);
  REQUIRE(data != std::string::npos);
  std::istringstream bytes(out.substr(data + 17, out.find('\n', data) - data - 17));
  std::uint64_t want = 0;
  unsigned b = 0;
  for (int i = 0; i < 8 && bytes >> std::hex >> b; ++i) want |= std::uint64_t{b} << (8 * i);
  CHECK(*image.pvh_entry == want);
  std::cout << "Debian vmlinux: PVH entry 0x" << std::hex << *image.pvh_entry << " (readelf: 0x" << want << "), 64-bit entry 0x"
            << image.elf_entry_phys << std::dec << "\n";
}
