// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/kvm/bare.hpp — bare microVMs: an IR program run in its own VM, with no kernel at all.
//
//   crumble::vm::BareResult r = crumble::vm::run_bare(program);     // r.status, r.out, r.err
//
// The program runs in long mode at CPL3 (user mode), so it runs at full speed even where the
// KVM host emulates kernel-mode code. A `syscall` instruction reaches the host through a stub:
//
//   hardware KVM: LSTAR points at a kernel-mode stub `out 0xe9, al; sysretq`; the port exit
//                 brings the syscall to the host, which puts the result in rax.
//   no VMX/SVM (kvm_pvm, here): kernel-mode code is emulated, so LSTAR is left 0 and syscall
//                 jumps to address 0 still in user mode (so it did too when a C++ header bug,
//                 kvm/abi.hpp, made KVM_SET_MSRS look refused).
//                 Page 0 is then a user page (read-only) holding `mov rax, [doorbell]; jmp rcx`:
//                 the load from an address with no memory behind it is an MMIO exit whose answer
//                 is the syscall's result, so one exit does it all; the jump returns (syscall left
//                 the return address in rcx, as on hardware).
//
// On hardware the result is put in rax once KVM has completed the exit (Vcpu::after_exit).
//
// write(1|2) goes to the result's out/err (or a sink), exit/exit_group ends the run, mmap hands
// out zeroed memory above the program (munmap succeeds and frees nothing), getpid and gettid are
// 1, getppid 0, getrandom reads the host's random device (at most 32 MiB - 1 a call, as Linux); anything else is -ENOSYS unless the
// embedding program registers a handler. Every guest address is bounds-checked against guest
// RAM. On kvm_pvm the doorbell address is reserved: a program's own load from it is a syscall.
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

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <optional>
#include <random>

#include "../../../assemble.hpp"
#include "../../../arch/amd64/target.hpp"
#include "../../../bytes.hpp"
#include "cpuid.hpp"
#include "kvm.hpp"
#include "../../snapshot/cache.hpp"
#include "../../snapshot/kvm_state.hpp"
#include "../../snapshot/restore_or_boot.hpp"

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
  // A syscall number that pauses the VM (BareVm::run returns false; the syscall returns 0).
  std::optional<std::uint64_t> pause_syscall;
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

// The syscalls the host serves, by the numbers the AMD64 target compiles them to.
namespace nr {
constexpr std::uint64_t of(ir::Sys s) { return static_cast<std::uint64_t>(arch::amd64::syscall_number(s)); }
inline constexpr std::uint64_t write = of(ir::Sys::write), mmap = of(ir::Sys::mmap), munmap = of(ir::Sys::munmap),
                               getpid = of(ir::Sys::getpid), gettid = of(ir::Sys::gettid), getppid = of(ir::Sys::getppid),
                               exit = of(ir::Sys::exit), exit_group = of(ir::Sys::exit_group), getrandom = of(ir::Sys::getrandom);
}  // namespace nr
// The most getrandom gives in one call, as Linux documents for its urandom source (getrandom(2)):
// 32 MiB - 1. Larger requests get a short count.
inline constexpr std::uint64_t getrandom_max = (std::uint64_t{32} << 20) - 1;
}  // namespace bare

namespace bare_detail {

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
  for (std::size_t i = 0; i < std::size(entries); ++i) le::store<std::uint64_t>(mem + gdt + 8 * i, entries[i]);
  const std::uint64_t tss_limit = 0x67;
  std::uint64_t tss_low = (tss_limit & 0xffff) | ((tss & 0xffffff) << 16) | (std::uint64_t{0x89} << 40) | (((tss >> 24) & 0xff) << 56);
  le::store<std::uint64_t>(mem + gdt + 0x30, tss_low);
  le::store<std::uint64_t>(mem + gdt + 0x38, tss >> 32);
  mem[tss + 0x66] = 0x68;  // I/O map base past the limit: no bitmap
  // Page tables: PML4[0] -> PDPT, PDPT[0] -> PD (1 GiB), PD[0] -> PT (4 KiB pages, kernel only,
  // page 0 absent), PD[1..] 2 MiB user pages up to the end of RAM.
  le::store<std::uint64_t>(mem + pml4, pdpt | 0x7);
  le::store<std::uint64_t>(mem + pdpt, pd | 0x7);
  le::store<std::uint64_t>(mem + pd, pt | 0x7);  // user bit here; each 4 KiB page says whether user code may touch it
  for (std::uint64_t i = 0; i < 512; ++i) le::store<std::uint64_t>(mem + pt + 8 * i, (i << 12) | 0x3);
  for (std::uint64_t i = 1; i < 512 && (i << 21) < size; ++i) le::store<std::uint64_t>(mem + pd + 8 * i, (i << 21) | 0x87);
  // The kernel-mode stub: out 0xe9, al; sysretq.
  const std::uint8_t sys[] = {0xe6, static_cast<std::uint8_t>(syscall_port), 0x48, 0x0f, 0x07};
  std::memcpy(mem + syscall_stub, sys, sizeof sys);
  // The user-mode doorbell stub at 0: mov rax, [doorbell]; jmp rcx. Its 2 MiB page is mapped user
  // RW (nothing backs it).
  const std::uint8_t bell[] = {0x48, 0x8b, 0x04, 0x25, doorbell & 0xff, doorbell >> 8 & 0xff, doorbell >> 16 & 0xff,
                               doorbell >> 24 & 0xff, 0xff, 0xe1};
  std::memcpy(mem, bell, sizeof bell);
  le::store<std::uint64_t>(mem + pd + 8 * (doorbell >> 21), doorbell | 0x87);
  // The user-mode stub main() returns to: mov edi, eax; mov eax, exit_group; syscall.
  static_assert(nr::exit_group < 0x100);
  const std::uint8_t ex[] = {0x89, 0xc7, 0xb8, static_cast<std::uint8_t>(nr::exit_group), 0x00, 0x00, 0x00, 0x0f, 0x05};
  std::memcpy(mem + exit_stub, ex, sizeof ex);
}

// Points LSTAR at the kernel-mode stub; false where KVM refuses MSRs.
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
inline void user_page_zero(kvm::Machine& m) { le::store<std::uint64_t>(m.memory() + bare::pt, 0x5); }
}  // namespace bare_detail

// A VM with its vCPU made ahead of time: restoring a snapshot into one only maps the memory file
// and loads the vCPU state (BareVm::restore), instead of creating a VM and a memory slot.
struct BareShell {
  explicit BareShell(std::uint64_t memory) : m(system(), memory), cpu(&m.add_vcpu()) {
    try {
      static const std::vector<std::uint8_t> one_vcpu = kvm::cpuid::normalize(system().supported_cpuid(), 0, 1);
      cpu->set_cpuid(one_vcpu);
    } catch (const VmError&) {
      // Not needed for user-mode code; the paging-based KVM here refuses it (see above).
    }
  }
  static const kvm::System& system() {
    static const kvm::System& s = *new kvm::System();  // one /dev/kvm fd per process
    return s;
  }
  kvm::Machine m;
  kvm::Vcpu* cpu;
};

// A bare microVM, step by step: run() until the program exits, or until it makes the syscall
// BareOptions::pause_syscall (it then returns false; the syscall returns 0 when the VM goes on).
// Between runs the VM can be saved (save) and started again from the file, in this process or
// another (restore): the program continues exactly where it paused.
class BareVm {
 public:
  BareVm(const code::Image& img, BareOptions opt)
      : opt_(std::move(opt)), shell_(std::make_unique<BareShell>(opt_.memory)), m_(shell_->m) {
    using namespace bare;
    const std::uint64_t image_end = image + img.bss_offset + img.bss_size;
    if (img.bss_size && img.bss_offset < img.bytes.size()) throw ConfigError("malformed image: bss overlaps the code");
    if (image_end + (1 << 20) > opt_.memory) throw ConfigError("the program does not fit the bare VM's memory");
    if (opt_.memory > doorbell) throw ConfigError("a bare VM has at most " + std::to_string(doorbell >> 20) + " MiB of memory");
    if (opt_.memory % (2 << 20)) throw ConfigError("a bare VM's memory must be a multiple of 2 MiB (it is mapped in 2 MiB pages)");
    // argv and envp go at the top of RAM; they, their pointers and a 1 MiB stack must fit above the program.
    std::uint64_t strings = 5 + 16 * (opt_.args.size() + opt_.env.size() + 4);
    for (const auto& a : opt_.args) strings += a.size() + 1;
    for (const auto& e : opt_.env) strings += e.size() + 1;
    if (strings > opt_.memory || opt_.memory - strings < image_end + (1 << 20))
      throw ConfigError("the program's arguments and environment (" + std::to_string(strings) + " bytes) do not fit the bare VM's memory");
    std::uint8_t* mem = m_.memory();
    bare_detail::build_system(m_);
    std::memcpy(mem + image, img.bytes.data(), img.bytes.size());
    for (std::uint32_t off : img.relocs) {
      if (std::uint64_t{off} + 8 > img.bytes.size()) throw ConfigError("relocation outside the program");
      le::store<std::uint64_t>(mem + image + off, le::load<std::uint64_t>(mem + image + off) + image);
    }
    // argv and envp at the top of RAM, then the stack below them.
    std::vector<std::string> argv{"bare"};
    argv.insert(argv.end(), opt_.args.begin(), opt_.args.end());
    std::uint64_t top = opt_.memory;
    auto push_string = [&](const std::string& str) {
      top -= str.size() + 1;
      std::memcpy(mem + top, str.c_str(), str.size() + 1);
      return top;
    };
    std::vector<std::uint64_t> ptrs;
    for (const auto& a : argv) ptrs.push_back(push_string(a));
    ptrs.push_back(0);
    for (const auto& e : opt_.env) ptrs.push_back(push_string(e));
    ptrs.push_back(0);
    top &= ~std::uint64_t{15};
    top -= 8 * ptrs.size();
    top &= ~std::uint64_t{15};
    const std::uint64_t argv_at = top, envp_at = top + 8 * (argv.size() + 1);
    for (std::size_t i = 0; i < ptrs.size(); ++i) le::store<std::uint64_t>(mem + top + 8 * i, ptrs[i]);
    const std::uint64_t stack_top = top - 8;  // a return address slot, as after a call
    le::store<std::uint64_t>(mem + stack_top, exit_stub);
    // The heap (mmap) ends 8 MiB below the stack top, or where the program ends if there is less room.
    stack_floor_ = stack_top > image_end + (8 << 20) ? stack_top - (8 << 20) : image_end;
    heap_ = (image_end + 0xfff) & ~std::uint64_t{0xfff};
    cpu_ = shell_->cpu;
    bare_detail::enter_user_mode(*cpu_, image + img.entry, stack_top, argv.size(), argv_at, envp_at);
    // Without VMX/SVM the kernel-mode stub would be emulated (kvm_pvm): the doorbell is one exit.
    hardware_path_ = kvm::host_has_vmx_or_svm() && bare_detail::set_syscall_msrs(*cpu_);
    if (!hardware_path_) bare_detail::user_page_zero(m_);
    connect();
  }
  BareVm(const BareVm&) = delete;
  BareVm& operator=(const BareVm&) = delete;

  // Runs until the program exits (true) or pauses (false). Throws GuestTimeout past the
  // options' timeout, kvm::GuestCrash when the program faults.
  bool run() {
    if (done_) return true;
    paused_ = false;
    kvm::Exit why = cpu_->run(std::chrono::steady_clock::now() + opt_.timeout);
    if (why == kvm::Exit::halted) throw kvm::GuestCrash("the program executed hlt", cpu_->dump());
    return done_;
  }
  bool finished() const { return done_; }
  const BareResult& result() const { return result_; }

  // Saves the paused VM: its vCPU, memory and the host side's state (heap, output so far).
  void save(const std::filesystem::path& file) const {
    if (done_) throw VmError("the program has finished; there is nothing to save");
    snapshot::Sections s;
    snapshot::save_vcpu(*cpu_, s);
    Host h{heap_, stack_floor_, result_.syscalls, hardware_path_ ? 1u : 0u};
    snapshot::put(s, "bare.host", h);
    s["bare.out"].assign(result_.out.begin(), result_.out.end());
    s["bare.err"].assign(result_.err.begin(), result_.err.end());
    snapshot::write(file, s, m_.memory(), m_.memory_size());
  }

  // A VM that continues from a snapshot (`opt` gives the sinks, handlers and timeout; its memory
  // size and arguments are the snapshot's). With a shell of the same memory size, the snapshot
  // goes into it; otherwise into a new VM.
  static std::unique_ptr<BareVm> restore(const std::filesystem::path& file, BareOptions opt, std::unique_ptr<BareShell> shell = {}) {
    snapshot::Loaded l = snapshot::read(file);
    // Closed on every way out: the memory file's descriptor is ours from here (remap keeps its
    // own reference through the mapping).
    const Fd memory{l.memory_fd};
    // Everything below comes from the file: a memory size this engine cannot make is the
    // snapshot's fault (SnapshotError, so the cache boots cold), not the caller's (ConfigError).
    if (l.memory_size % (2 << 20) || l.memory_size > bare::doorbell)
      throw SnapshotError("snapshot " + file.string() + " has " + std::to_string(l.memory_size) +
                          " bytes of guest memory, which no bare VM has (a multiple of 2 MiB, at most " + std::to_string(bare::doorbell >> 20) +
                          " MiB)");
    opt.memory = l.memory_size;
    if (!shell || shell->m.memory_size() != l.memory_size) {
      shell.reset();
      try {
        shell = std::make_unique<BareShell>(l.memory_size);
      } catch (const ConfigError& e) {
        throw SnapshotError("snapshot " + file.string() + ": " + e.what());
      }
    }
    shell->m.remap(l.memory_fd);
    return std::unique_ptr<BareVm>(new BareVm(std::move(opt), l, std::move(shell)));
  }

 private:
  struct Host {
    std::uint64_t heap, stack_floor, syscalls;
    std::uint32_t hardware_path;
  };

  BareVm(BareOptions opt, snapshot::Loaded& l, std::unique_ptr<BareShell> shell)
      : opt_(std::move(opt)), shell_(std::move(shell)), m_(shell_->m) {
    const Host h = snapshot::get<Host>(l.sections, "bare.host");
    heap_ = h.heap;
    stack_floor_ = h.stack_floor;
    hardware_path_ = h.hardware_path != 0;
    result_.syscalls = h.syscalls;
    const auto& out = l.sections["bare.out"];
    const auto& err = l.sections["bare.err"];
    result_.out.assign(out.begin(), out.end());
    result_.err.assign(err.begin(), err.end());
    if (heap_ > stack_floor_ || stack_floor_ > m_.memory_size()) throw SnapshotError("snapshot has an impossible heap");
    cpu_ = shell_->cpu;
    snapshot::restore_vcpu(*cpu_, l.sections);
    if (hardware_path_ && !bare_detail::set_syscall_msrs(*cpu_)) throw SnapshotError("snapshot needs MSRs this host's KVM refuses");
    connect();
  }

  void connect() {
    cpu_->on_io = [this](kvm::IoExit& io) {
      if (hardware_path_ && io.port == bare::syscall_port && io.out) syscall(nullptr);
    };
    cpu_->on_mmio = [this](kvm::MmioExit& e) {
      if (!hardware_path_ && e.address == bare::doorbell && !e.write && e.size == 8) syscall(e.data);
    };
  }

  // Handles the syscall in the registers; the result goes into `answer` (the doorbell load's
  // data) or, on the hardware path, into rax after the exit.
  void syscall(std::uint8_t* answer) {
    kvm::Vcpu& cpu = *cpu_;
    kvm::Machine& m = m_;
    kvm_regs r = cpu.regs();
    SyscallArgs a{r.rax, {r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9}};
    ++result_.syscalls;
    std::int64_t ret = -ENOSYS;
    if (opt_.pause_syscall && a.nr == *opt_.pause_syscall) {
      ret = 0;  // run() completes the exit before it returns, so a saved VM resumes after the syscall
      paused_ = true;
      cpu.stop();
    } else if (auto h = opt_.syscalls.find(a.nr); h != opt_.syscalls.end()) {
      ret = h->second(m, a);
    } else if (a.nr == bare::nr::write) {
      const std::uint8_t* p = m.guest(a.a[1], a.a[2]);
      if (a.a[0] != 1 && a.a[0] != 2) ret = -EBADF;
      else if (!p) ret = -EFAULT;
      else {
        std::string_view bytes(reinterpret_cast<const char*>(p), a.a[2]);
        if (opt_.write) opt_.write(static_cast<int>(a.a[0]), bytes);
        else (a.a[0] == 1 ? result_.out : result_.err).append(bytes);
        ret = static_cast<std::int64_t>(a.a[2]);
      }
    } else if (a.nr == bare::nr::exit || a.nr == bare::nr::exit_group) {
      result_.status = static_cast<int>(a.a[0] & 0xff);
      done_ = true;
      cpu.stop();
      return;
    } else if (a.nr == bare::nr::mmap) {  // anonymous memory from the heap, zeroed
      const std::uint64_t len = (a.a[1] + 0xfff) & ~std::uint64_t{0xfff};  // 0 when a.a[1] is near 2^64: checked first
      if (a.a[0] != 0 || a.a[1] == 0 || !(a.a[3] & 0x20)) ret = -EINVAL;
      else if (a.a[1] > stack_floor_ || len > stack_floor_ || heap_ > stack_floor_ - len) ret = -ENOMEM;
      else {
        std::memset(m.memory() + heap_, 0, len);
        ret = static_cast<std::int64_t>(heap_);
        heap_ += len;
      }
    } else if (a.nr == bare::nr::munmap) {  // the heap only grows
      ret = 0;
    } else if (a.nr == bare::nr::getpid || a.nr == bare::nr::gettid) {
      ret = 1;
    } else if (a.nr == bare::nr::getppid) {
      ret = 0;
    } else if (a.nr == bare::nr::getrandom) {
      // As Linux does for large requests, at most getrandom_max bytes per call (a short count; the
      // program asks again for the rest), so that one call's work is bounded whatever the length.
      const std::uint64_t n = std::min(a.a[1], bare::getrandom_max);
      std::uint8_t* p = m.guest(a.a[0], n);
      if (!p) ret = -EFAULT;
      else ret = host_random(p, n);
    }
    if (answer) {
      le::store<std::uint64_t>(answer, static_cast<std::uint64_t>(ret));
      return;
    }
    cpu.after_exit([&cpu, ret] {
      kvm_regs now = cpu.regs();
      now.rax = static_cast<std::uint64_t>(ret);
      cpu.set_regs(now);
    });
  }

  // Fills p with n bytes from the host's getrandom (in bulk: each host call gives up to 32 MiB);
  // n, or -errno if the host has no random bytes to give.
  static std::int64_t host_random(std::uint8_t* p, std::uint64_t n) {
    for (std::uint64_t done = 0; done < n;) {
      const ssize_t got = ::getrandom(p + done, n - done, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return got < 0 ? -errno : -EIO;
      done += static_cast<std::uint64_t>(got);
    }
    return static_cast<std::int64_t>(n);
  }

  BareOptions opt_;
  std::unique_ptr<BareShell> shell_;
  kvm::Machine& m_;
  kvm::Vcpu* cpu_ = nullptr;
  bool hardware_path_ = false, done_ = false, paused_ = false;
  std::uint64_t heap_ = 0, stack_floor_ = 0;
  BareResult result_;
};

// A bare VM through the snapshot cache (snapshot/restore_or_boot.hpp's rule): the program runs
// cold until its first pause (its "boot": setup done, e.g. an init after phase 6) and is saved
// there; later calls restore from that point. A snapshot that fails to restore is deleted and the
// VM boots cold again, unless `strict`. `restored` says which happened.
inline std::unique_ptr<BareVm> bare_from_cache(const SnapshotCache& cache, const std::string& key, const code::Image& img,
                                               const BareOptions& opt, bool strict = false, bool* restored = nullptr) {
  if (!opt.pause_syscall) throw ConfigError("a cached bare VM needs BareOptions::pause_syscall: the point to snapshot at");
  if (restored) *restored = false;
  snapshot::StartRules rules;
  rules.strict = strict;
  std::unique_ptr<BareVm> vm;
  const snapshot::StartOutcome out = snapshot::restore_or_boot(
      cache, key, rules,
      [&](const std::filesystem::path& file) { vm = BareVm::restore(file, opt); },
      [&]() -> std::string {
        vm = std::make_unique<BareVm>(img, opt);
        return vm->run() ? "the program finished before it paused" : "";
      },
      [&](const std::filesystem::path& file) { vm->save(file); });
  if (restored) *restored = out.restored;
  return vm;
}

// Runs a payload image (crumble::assemble<crumble::arch::amd64>) as a program: main(argc, argv,
// envp) is its entry; its result, or exit/exit_group's argument, is the status.
inline BareResult run_bare(const code::Image& img, const BareOptions& opt = {}) {
  BareVm vm(img, opt);
  while (!vm.run()) {
  }
  return vm.result();
}

// Assembles an IR program for AMD64 and runs it in a bare VM.
inline BareResult run_bare(const ir::Program& p, const BareOptions& opt = {}) {
  return run_bare(crumble::assemble<crumble::arch::amd64>(p), opt);
}

}  // namespace crumble::vm
