// tests/vm/linux_loader_test.cpp — the x86-64 Linux loader (crumble/vm/linux_x86.hpp) under KVM.
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
#include <crumble/vm/kernel.hpp>
#include <crumble/vm/linux_x86.hpp>
#include <crumble/vm/i8042.hpp>
#include <crumble/vm/uart.hpp>

#include <cstdlib>
#include <iostream>

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

void put(std::vector<std::uint8_t>& f, std::size_t at, std::uint64_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) f[at + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(v >> (8 * k));
}

// A bzImage: two sectors of setup with the header, then the "kernel": a jmp at 0x200 (the 64-bit
// entry) to the program placed at 0x400, relocated for the preferred load address.
std::vector<std::uint8_t> synthetic_bzimage(std::uint16_t protocol = 0x020f) {
  const std::uint64_t load_at = 0x1000000, code_at = 0x400;
  crumble::code::Image img = crumble::assemble<crumble::arch::amd64>(reporter());
  std::vector<std::uint8_t> kernel((code_at + img.bytes.size() + 15) & ~std::size_t{15}, 0);  // syssize counts 16-byte units
  std::copy(img.bytes.begin(), img.bytes.end(), kernel.begin() + code_at);
  for (std::uint32_t off : img.relocs) {
    std::uint64_t v = 0;
    std::memcpy(&v, &kernel[code_at + off], 8);
    v += load_at + code_at;
    std::memcpy(&kernel[code_at + off], &v, 8);
  }
  const std::int64_t rel = static_cast<std::int64_t>(code_at + img.entry) - (0x200 + 5);
  kernel[0x200] = 0xe9;
  put(kernel, 0x201, static_cast<std::uint64_t>(rel), 4);
  std::vector<std::uint8_t> f(1024, 0);
  put(f, 0x1f1, 1, 1);                           // setup_sects
  put(f, 0x1f4, (kernel.size() + 15) / 16, 4);   // syssize
  put(f, 0x1fe, 0xaa55, 2);
  put(f, 0x200, 0x66eb, 2);                      // jmp over the header; header ends at 0x268
  put(f, 0x202, 0x53726448, 4);                  // HdrS
  put(f, 0x206, protocol, 2);
  put(f, 0x211, 0x01, 1);                        // LOADED_HIGH
  put(f, 0x22c, 0x7fffffff, 4);                  // initrd_addr_max
  put(f, 0x230, 0x200000, 4);                    // kernel_alignment
  put(f, 0x234, 1, 1);                           // relocatable
  put(f, 0x236, 0x1, 2);                         // XLF_KERNEL_64
  put(f, 0x238, 2047, 4);                        // cmdline_size
  put(f, 0x258, load_at, 8);                     // pref_address
  put(f, 0x260, 0x100000, 4);                    // init_size
  f.insert(f.end(), kernel.begin(), kernel.end());
  return f;
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
