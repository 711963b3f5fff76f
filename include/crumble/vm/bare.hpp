// crumble/vm/bare.hpp — bare microVMs: an IR program run in its own VM, with no kernel at all.
//
//   crumble::vm::BareResult r = crumble::vm::run_bare(program);     // r.status, r.out, r.err
//
// The program runs in long mode at CPL3 (user mode), so it runs at full speed even where the
// KVM host emulates kernel-mode code. A `syscall` instruction reaches the host through a stub:
//
//   hardware KVM: LSTAR points at a kernel-mode stub `out 0xe9, al; sysretq`; the port exit
//                 brings the syscall to the host, which puts the result in rax.
//   kvm_pvm (here): KVM refuses KVM_SET_MSRS (and KVM_SET_CPUID2, KVM_GET_SUPPORTED_CPUID) with
//                 EINVAL, so LSTAR stays 0, and syscall jumps to address 0 still in user mode.
//                 Page 0 is then a user page (read-only) holding `mov [doorbell], al; jmp rcx`:
//                 the store to an address with no memory behind it is an MMIO exit, and the jump
//                 returns (syscall left the return address in rcx, as on hardware).
//
// Either way the result is put in rax once KVM has completed the exit (Vcpu::after_exit). write(1|2) goes to the result's out/err (or a
// sink), exit/exit_group ends the run, mmap hands out zeroed memory above the program, getpid
// is 1, getrandom reads the host's random device; anything else is -ENOSYS unless the embedding
// program registers a handler. Every guest address is bounds-checked against guest RAM.
//
// Guest-physical memory (identity-mapped; the first 2 MiB kernel-only but page 0 on kvm_pvm; the
// rest 2 MiB user pages):
//
//   0x0 doorbell stub (kvm_pvm)   0x1000 GDT   0x2000 TSS   0x3000 PML4   0x4000 PDPT   0x5000 PD
//   0x6000 PT   0x7000 syscall stub (hardware)   0x200000 exit stub (user)   0x400000 the program (code, data, bss)   then the mmap heap
//   top of RAM: argv/envp strings and the stack
//
// There is no IDT: a fault in the program becomes a triple fault, reported as kvm::GuestCrash
// with the registers.
#pragma once

#include <array>
#include <map>
#include <random>

#include "../assemble.hpp"
#include "../arch/amd64/target.hpp"
#include "kvm.hpp"

namespace crumble::vm {

struct SyscallArgs {
  std::uint64_t nr;
  std::array<std::uint64_t, 6> a;
};

struct BareOptions {
  std::uint64_t memory = 64 << 20;
  std::chrono::milliseconds timeout{10000};
  std::vector<std::string> args;  // argv[1..]; argv[0] is "bare"
  std::vector<std::string> env;
  // Where write(1) and write(2) go; default: BareResult::out / err.
  std::function<void(int fd, std::string_view bytes)> write;
  // Extra syscalls, by the AMD64 number; return the result (negative errno for failure).
  std::map<std::uint64_t, std::function<std::int64_t(kvm::Machine&, const SyscallArgs&)>> syscalls;
};

struct BareResult {
  int status = 0;  // the exit status (exit/exit_group's argument, low 8 bits)
  std::string out, err;
  std::uint64_t syscalls = 0;  // how many syscalls the program made
};

namespace bare {
inline constexpr std::uint64_t gdt = 0x1000, tss = 0x2000, pml4 = 0x3000, pdpt = 0x4000, pd = 0x5000, pt = 0x6000,
                                syscall_stub = 0x7000, exit_stub = 0x200000, image = 0x400000,
                                doorbell = 0x3fe00000;  // no memory here: a store is an MMIO exit
inline constexpr std::uint16_t syscall_port = 0xe9;
// Selectors, laid out for syscall/sysret: STAR[47:32] = 0x08 (kernel CS, SS = +8), STAR[63:48] =
// 0x18 (sysret: user SS = 0x18+8 = 0x20, user CS = 0x18+16 = 0x28).
inline constexpr std::uint16_t kernel_cs = 0x08, kernel_ss = 0x10, user_ss = 0x20 | 3, user_cs = 0x28 | 3, tss_sel = 0x30;
inline constexpr std::uint32_t msr_star = 0xc0000081, msr_lstar = 0xc0000082, msr_fmask = 0xc0000084;
}  // namespace bare

namespace bare_detail {
inline void put64(std::uint8_t* p, std::uint64_t v) { std::memcpy(p, &v, 8); }

inline kvm_segment segment(std::uint16_t sel, std::uint8_t type, std::uint8_t dpl, bool code64) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = sel;
  s.type = type;
  s.present = 1;
  s.dpl = dpl;
  s.db = code64 ? 0 : 1;
  s.s = 1;
  s.l = code64 ? 1 : 0;
  s.g = 1;
  return s;
}

// Page tables, GDT, TSS and the two stubs.
inline void build_system(kvm::Machine& m) {
  using namespace bare;
  std::uint8_t* mem = m.memory();
  const std::uint64_t size = m.memory_size();
  // GDT: null, kernel code64, kernel data, user code32 (unused), user data, user code64, 64-bit
  // TSS (two slots).
  const std::uint64_t entries[] = {0, 0x00af9a000000ffff, 0x00cf92000000ffff, 0x00cffa000000ffff, 0x00cff2000000ffff, 0x00affa000000ffff};
  for (std::size_t i = 0; i < std::size(entries); ++i) put64(mem + gdt + 8 * i, entries[i]);
  const std::uint64_t tss_limit = 0x67;
  std::uint64_t tss_low = (tss_limit & 0xffff) | ((tss & 0xffffff) << 16) | (std::uint64_t{0x89} << 40) | (((tss >> 24) & 0xff) << 56);
  put64(mem + gdt + 0x30, tss_low);
  put64(mem + gdt + 0x38, tss >> 32);
  mem[tss + 0x66] = 0x68;  // I/O map base past the limit: no bitmap
  // Page tables: PML4[0] -> PDPT, PDPT[0] -> PD (1 GiB), PD[0] -> PT (4 KiB pages, kernel only,
  // page 0 absent), PD[1..] 2 MiB user pages up to the end of RAM.
  put64(mem + pml4, pdpt | 0x7);
  put64(mem + pdpt, pd | 0x7);
  put64(mem + pd, pt | 0x7);  // user bit here; each 4 KiB page says whether user code may touch it
  for (std::uint64_t i = 0; i < 512; ++i) put64(mem + pt + 8 * i, (i << 12) | 0x3);
  for (std::uint64_t i = 1; i < 512 && (i << 21) < size; ++i) put64(mem + pd + 8 * i, (i << 21) | 0x87);
  // The kernel-mode stub: out 0xe9, al; sysretq.
  const std::uint8_t sys[] = {0xe6, static_cast<std::uint8_t>(syscall_port), 0x48, 0x0f, 0x07};
  std::memcpy(mem + syscall_stub, sys, sizeof sys);
  // The user-mode doorbell stub at 0: mov byte [doorbell], al; jmp rcx. Its 2 MiB page is mapped
  // user RW (nothing backs it).
  const std::uint8_t bell[] = {0x88, 0x04, 0x25, doorbell & 0xff, doorbell >> 8 & 0xff, doorbell >> 16 & 0xff, doorbell >> 24 & 0xff, 0xff, 0xe1};
  std::memcpy(mem, bell, sizeof bell);
  put64(mem + pd + 8 * (doorbell >> 21), doorbell | 0x87);
  // The user-mode stub main() returns to: mov edi, eax; mov eax, 231 (exit_group); syscall.
  const std::uint8_t ex[] = {0x89, 0xc7, 0xb8, 0xe7, 0x00, 0x00, 0x00, 0x0f, 0x05};
  std::memcpy(mem + exit_stub, ex, sizeof ex);
}

// Points LSTAR at the kernel-mode stub; false where KVM refuses MSRs (kvm_pvm).
inline bool set_syscall_msrs(kvm::Vcpu& cpu) {
  using namespace bare;
  try {
    cpu.set_msrs({{msr_star, (std::uint64_t{0x18} << 48) | (std::uint64_t{kernel_cs} << 32)},
                  {msr_lstar, syscall_stub},
                  {msr_fmask, 0x47700}});  // TF DF IF NT AC cleared in the stub
    return true;
  } catch (const VmError&) {
    return false;
  }
}

inline void enter_user_mode(kvm::Vcpu& cpu, std::uint64_t rip, std::uint64_t rsp, std::uint64_t argc, std::uint64_t argv,
                            std::uint64_t envp) {
  using namespace bare;
  kvm_sregs s = cpu.sregs();
  s.cs = segment(user_cs, 11, 3, true);
  s.ss = s.ds = s.es = s.fs = s.gs = segment(user_ss, 3, 3, false);
  s.tr = kvm_segment{tss, 0x67, tss_sel, 11, 1, 0, 0, 0, 0, 0, 0, 0, 0};
  s.ldt = kvm_segment{0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0};
  s.gdt.base = gdt;
  s.gdt.limit = 0x3f;
  s.idt.base = 0;
  s.idt.limit = 0;
  s.cr0 = 0x80050033;  // PG WP NE ET MP PE
  s.cr3 = pml4;
  s.cr4 = 0x620;       // PAE OSFXSR OSXMMEXCPT
  s.efer = 0x501;      // LME LMA SCE
  cpu.set_sregs(s);
  kvm_regs r{};
  r.rip = rip;
  r.rsp = rsp;
  r.rdi = argc;
  r.rsi = argv;
  r.rdx = envp;
  r.rflags = 0x2;
  cpu.set_regs(r);
}
// Page 0 becomes a user page (read-only) for the doorbell stub (kvm_pvm).
inline void user_page_zero(kvm::Machine& m) { put64(m.memory() + bare::pt, 0x5); }
}  // namespace bare_detail

// Runs a payload image (crumble::assemble<crumble::arch::amd64>) as a program: main(argc, argv,
// envp) is its entry; its result, or exit/exit_group's argument, is the status.
inline BareResult run_bare(const code::Image& img, const BareOptions& opt = {}) {
  using namespace bare;
  static const kvm::System& kvm_system = *new kvm::System();  // one /dev/kvm fd per process
  kvm::Machine m(kvm_system, opt.memory);
  const std::uint64_t image_end = image + img.bss_offset + img.bss_size;
  if (img.bss_size && img.bss_offset < img.bytes.size()) throw ConfigError("malformed image: bss overlaps the code");
  if (image_end + (1 << 20) > opt.memory) throw ConfigError("the program does not fit the bare VM's memory");
  if (opt.memory > doorbell) throw ConfigError("a bare VM has at most " + std::to_string(doorbell >> 20) + " MiB of memory");
  if (opt.memory % (2 << 20)) throw ConfigError("a bare VM's memory must be a multiple of 2 MiB (it is mapped in 2 MiB pages)");
  // argv and envp go at the top of RAM; they, their pointers and a 1 MiB stack must fit above the program.
  std::uint64_t strings = 5 + 16 * (opt.args.size() + opt.env.size() + 4);
  for (const auto& a : opt.args) strings += a.size() + 1;
  for (const auto& e : opt.env) strings += e.size() + 1;
  if (strings > opt.memory || opt.memory - strings < image_end + (1 << 20))
    throw ConfigError("the program's arguments and environment (" + std::to_string(strings) + " bytes) do not fit the bare VM's memory");
  bare_detail::build_system(m);
  std::memcpy(m.memory() + image, img.bytes.data(), img.bytes.size());
  for (std::uint32_t off : img.relocs) {
    if (std::uint64_t{off} + 8 > img.bytes.size()) throw ConfigError("relocation outside the program");
    std::uint64_t v;
    std::memcpy(&v, m.memory() + image + off, 8);
    bare_detail::put64(m.memory() + image + off, v + image);
  }
  // argv and envp at the top of RAM, then the stack below them.
  std::vector<std::string> argv{"bare"};
  argv.insert(argv.end(), opt.args.begin(), opt.args.end());
  std::uint64_t top = opt.memory;
  auto push_string = [&](const std::string& s) {
    top -= s.size() + 1;
    std::memcpy(m.memory() + top, s.c_str(), s.size() + 1);
    return top;
  };
  std::vector<std::uint64_t> ptrs;
  for (const auto& a : argv) ptrs.push_back(push_string(a));
  ptrs.push_back(0);
  for (const auto& e : opt.env) ptrs.push_back(push_string(e));
  ptrs.push_back(0);
  top &= ~std::uint64_t{15};
  top -= 8 * ptrs.size();
  top &= ~std::uint64_t{15};
  const std::uint64_t argv_at = top, envp_at = top + 8 * (argv.size() + 1);
  for (std::size_t i = 0; i < ptrs.size(); ++i) bare_detail::put64(m.memory() + top + 8 * i, ptrs[i]);
  const std::uint64_t stack_top = top - 8;  // a return address slot, as after a call
  bare_detail::put64(m.memory() + stack_top, exit_stub);
  // The heap (mmap) ends 8 MiB below the stack top, or where the program ends if there is less room.
  const std::uint64_t stack_floor = stack_top > image_end + (8 << 20) ? stack_top - (8 << 20) : image_end;
  std::uint64_t heap = (image_end + 0xfff) & ~std::uint64_t{0xfff};

  kvm::Vcpu& cpu = m.add_vcpu();
  try {
    cpu.set_cpuid(kvm_system.supported_cpuid());
  } catch (const VmError&) {
    // Not needed for user-mode code; the paging-based KVM here refuses it (see above).
  }
  bare_detail::enter_user_mode(cpu, image + img.entry, stack_top, argv.size(), argv_at, envp_at);
  const bool hardware_path = bare_detail::set_syscall_msrs(cpu);
  if (!hardware_path) bare_detail::user_page_zero(m);

  BareResult result;
  std::random_device random;
  auto syscall = [&] {
    kvm_regs r = cpu.regs();
    SyscallArgs a{r.rax, {r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9}};
    ++result.syscalls;
    std::int64_t ret = -ENOSYS;
    if (auto h = opt.syscalls.find(a.nr); h != opt.syscalls.end()) {
      ret = h->second(m, a);
    } else if (a.nr == 1) {  // write
      const std::uint8_t* p = m.guest(a.a[1], a.a[2]);
      if (a.a[0] != 1 && a.a[0] != 2) ret = -EBADF;
      else if (!p) ret = -EFAULT;
      else {
        std::string_view bytes(reinterpret_cast<const char*>(p), a.a[2]);
        if (opt.write) opt.write(static_cast<int>(a.a[0]), bytes);
        else (a.a[0] == 1 ? result.out : result.err).append(bytes);
        ret = static_cast<std::int64_t>(a.a[2]);
      }
    } else if (a.nr == 60 || a.nr == 231) {  // exit, exit_group
      result.status = static_cast<int>(a.a[0] & 0xff);
      cpu.stop();
      return;
    } else if (a.nr == 9) {  // mmap: anonymous memory from the heap, zeroed
      const std::uint64_t len = (a.a[1] + 0xfff) & ~std::uint64_t{0xfff};  // 0 when a.a[1] is near 2^64: checked first
      if (a.a[0] != 0 || a.a[1] == 0 || !(a.a[3] & 0x20)) ret = -EINVAL;
      else if (a.a[1] > stack_floor || len > stack_floor || heap > stack_floor - len) ret = -ENOMEM;
      else {
        std::memset(m.memory() + heap, 0, len);
        ret = static_cast<std::int64_t>(heap);
        heap += len;
      }
    } else if (a.nr == 11) {  // munmap: the heap only grows
      ret = 0;
    } else if (a.nr == 39 || a.nr == 186) {  // getpid, gettid
      ret = 1;
    } else if (a.nr == 110) {  // getppid
      ret = 0;
    } else if (a.nr == 318) {  // getrandom
      std::uint8_t* p = m.guest(a.a[0], a.a[1]);
      if (!p) ret = -EFAULT;
      else {
        for (std::uint64_t i = 0; i < a.a[1]; ++i) p[i] = static_cast<std::uint8_t>(random());
        ret = static_cast<std::int64_t>(a.a[1]);
      }
    }
    cpu.after_exit([&cpu, ret] {
      kvm_regs now = cpu.regs();
      now.rax = static_cast<std::uint64_t>(ret);
      cpu.set_regs(now);
    });
  };
  cpu.on_io = [&](kvm::IoExit& io) {
    if (hardware_path && io.port == syscall_port && io.out) syscall();
  };
  cpu.on_mmio = [&](kvm::MmioExit& e) {
    if (!hardware_path && e.address == doorbell && e.write) syscall();
  };
  const auto deadline = std::chrono::steady_clock::now() + opt.timeout;
  kvm::Exit why = cpu.run(deadline);
  if (why == kvm::Exit::halted) throw kvm::GuestCrash("the program executed hlt", cpu.dump());
  return result;
}

// Assembles an IR program for AMD64 and runs it in a bare VM.
inline BareResult run_bare(const ir::Program& p, const BareOptions& opt = {}) {
  return run_bare(crumble::assemble<crumble::arch::amd64>(p), opt);
}

}  // namespace crumble::vm
