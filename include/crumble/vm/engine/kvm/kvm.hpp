// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/kvm/kvm.hpp — a thin, header-only RAII wrapper over /dev/kvm (x86-64).
//
//   kvm::System kvm;                              // opens /dev/kvm, checks the API version
//   kvm::Machine vm(kvm, 64 << 20);               // a VM with 64 MiB of RAM at guest-physical 0
//   auto mmio = vm.allocate_mmio("device", 0x1000, 0x1000);
//   vm.punch_mmio_hole("mailbox", 0x08000000, 0x1000);  // a page inside RAM that traps as MMIO
//   kvm::Vcpu& cpu = vm.add_vcpu();
//   cpu.on_io = [](kvm::IoExit& io) { ... };      // port I/O exits
//   kvm::Exit why = cpu.run(deadline);            // runs until HLT, shutdown, a handler stops it, or the deadline
//
// Every call to KVM — opening /dev/kvm, each ioctl on it, a VM or a vCPU, mapping a vCPU's
// kvm_run — goes through the kvm::Api the System was opened with (linux_api(): the system calls
// themselves). A test opens a System on a recording fake instead (tests/vm/kvm_fake.hpp) and checks
// what a VM set-up or a restore asks of KVM, in which order, with which arguments.
//
// Errors are typed: KvmUnavailable (no /dev/kvm, no permission, missing capability) before a VM
// exists; GuestCrash (triple fault, emulation failure, failed entry) with a register dump;
// GuestTimeout when the deadline passes (the vCPU is kicked out of KVM_RUN by a watchdog thread).
// Every value the guest controls (I/O sizes and counts, MMIO addresses and lengths, addresses
// it passes in registers) is bounds-checked before use.
#pragma once

#include <cpuid.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../errors.hpp"
#include "abi.hpp"
#include "../../host/fd.hpp"

namespace crumble::vm::kvm {

struct KvmUnavailable : VmError {
  using VmError::VmError;
};
struct GuestCrash : VmError {
  GuestCrash(const std::string& what, std::string regs) : VmError(what + "\n" + regs), registers(std::move(regs)) {}
  std::string registers;
};

// An ioctl straight to the kernel, EINTR retried, throwing VmError on failure: for tests that ask
// KVM itself what the engine did. The engine goes through an Api (below).
template <class Arg>
int ioctl_or_throw(int fd, unsigned long req, Arg arg, const char* what) {
  int r;
  do r = ::ioctl(fd, req, arg);
  while (r < 0 && errno == EINTR);
  if (r < 0) throw VmError(std::string(what) + " failed: " + std::strerror(errno));
  return r;
}

// The kernel's side of KVM as the engine uses it. The descriptors open() and ioctl() hand out are
// closed with close(2) and a kvm_run mapping is unmapped with munmap(2), so a fake hands out real
// ones (a descriptor of /dev/null, anonymous memory): the owners stay the same whoever answers.
class Api {
 public:
  virtual int open(const char* path) = 0;                                    // a descriptor, or -1 and errno
  virtual int ioctl(int fd, unsigned long request, std::uintptr_t arg) = 0;  // as ioctl(2): -1 and errno
  virtual void* map_run(int vcpu_fd, std::size_t size) = 0;                 // MAP_FAILED and errno

 protected:
  ~Api() = default;
};

// The system calls themselves: what every System uses unless a test says otherwise.
class LinuxApi final : public Api {
 public:
  int open(const char* path) override { return ::open(path, O_RDWR | O_CLOEXEC); }
  int ioctl(int fd, unsigned long request, std::uintptr_t arg) override { return ::ioctl(fd, request, arg); }
  void* map_run(int vcpu_fd, std::size_t size) override { return ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0); }
};
inline Api& linux_api() {
  static LinuxApi api;
  return api;
}

// One ioctl through `api`, EINTR retried: the result, or -1 and errno. `arg` is a pointer to the
// argument structure or an integer, as the request wants.
template <class Arg>
int call(Api& api, int fd, unsigned long req, Arg arg) {
  std::uintptr_t raw;
  if constexpr (std::is_pointer_v<Arg>) raw = reinterpret_cast<std::uintptr_t>(arg);
  else raw = static_cast<std::uintptr_t>(arg);
  int r;
  do r = api.ioctl(fd, req, raw);
  while (r < 0 && errno == EINTR);
  return r;
}
// The same, throwing VmError naming `what` and the errno on failure.
template <class Arg>
int call_or_throw(Api& api, int fd, unsigned long req, Arg arg, const char* what) {
  const int r = call(api, fd, req, arg);
  if (r < 0) throw VmError(std::string(what) + " failed: " + std::strerror(errno));
  return r;
}

// Whether a /proc/cpuinfo text names VMX or SVM among a CPU's flags: the word "vmx" or "svm" on a
// line whose field is "flags" (not the "vmx flags" line Intel hosts add, which lists VMX's own
// features, nor a longer flag such as svm_lock).
inline bool cpuinfo_has_vmx_or_svm(std::string_view cpuinfo) {
  while (!cpuinfo.empty()) {
    const std::size_t end = std::min(cpuinfo.find('\n'), cpuinfo.size());
    std::string_view line = cpuinfo.substr(0, end);
    cpuinfo.remove_prefix(std::min(end + 1, cpuinfo.size()));
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view field = line.substr(0, colon);
    while (!field.empty() && (field.back() == ' ' || field.back() == '\t')) field.remove_suffix(1);
    if (field != "flags") continue;
    std::string_view words = line.substr(colon + 1);
    while (!words.empty()) {
      const std::size_t start = words.find_first_not_of(" \t");
      if (start == std::string_view::npos) break;
      words.remove_prefix(start);
      const std::size_t len = std::min(words.find_first_of(" \t"), words.size());
      if (words.substr(0, len) == "vmx" || words.substr(0, len) == "svm") return true;
      words.remove_prefix(len);
    }
  }
  return false;
}

// Whether the host CPU has VMX or SVM (/proc/cpuinfo's flags), asked once. Without them /dev/kvm
// may still work — the paging-based kvm_pvm on this project's machines runs user-mode guest code
// natively but emulates kernel-mode code about 1700x slower — so the engine asks this, not
// whether /dev/kvm opens, before it runs kernel-mode guest code. Session's
// host_has_hardware_virtualisation() is this.
inline bool host_has_vmx_or_svm() {
  static const bool has = [] {
    std::ifstream in("/proc/cpuinfo");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return cpuinfo_has_vmx_or_svm(text);
  }();
  return has;
}

// /dev/kvm itself.
class System {
 public:
  explicit System(const char* path = "/dev/kvm", Api& api = linux_api()) : api_(&api) {
    int fd = api.open(path);
    if (fd < 0) {
      if (errno == ENOENT) throw KvmUnavailable(std::string(path) + " does not exist: this host has no KVM (load kvm_intel/kvm_amd, or use the QEMU engine)");
      if (errno == EACCES || errno == EPERM)
        throw KvmUnavailable(std::string("no permission to open ") + path + ": add the user to the kvm group, or run as root");
      throw KvmUnavailable(std::string("cannot open ") + path + ": " + std::strerror(errno));
    }
    fd_ = Fd(fd);
    if (call(api, fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) throw KvmUnavailable("unexpected KVM API version");
    for (auto [cap, name] : {std::pair{KVM_CAP_USER_MEMORY, "USER_MEMORY"}, {KVM_CAP_EXT_CPUID, "EXT_CPUID"}})
      if (call(api, fd, KVM_CHECK_EXTENSION, cap) <= 0) throw KvmUnavailable(std::string("KVM lacks the capability ") + name);
    run_size_ = call_or_throw(api, fd, KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
  }
  int fd() const { return fd_.get(); }
  Api& api() const { return *api_; }
  int run_size() const { return run_size_; }
  int check(long cap) const { return call(*api_, fd_.get(), KVM_CHECK_EXTENSION, cap); }

  // The CPUID the host supports for guests, as KVM_SET_CPUID2 wants it (kvm_cpuid2 and its
  // entries, in the kernel's layout: abi.hpp). Where KVM does not answer KVM_GET_SUPPORTED_CPUID
  // (EINVAL), the host's own CPUID, which such a hypervisor runs guests on unchanged. Asked once
  // per System: the answer does not change while the host runs, and a VM made from a pooled System
  // should not pay for it again (host_cpuid executes a hundred CPUID instructions, each an exit
  // where this process itself runs in a VM).
  const std::vector<std::uint8_t>& supported_cpuid() const {
    std::call_once(cpuid_once_, [this] { cpuid_ = ask_supported_cpuid(); });
    return cpuid_;
  }

  static std::vector<std::uint8_t> host_cpuid() {
    std::vector<kvm_cpuid_entry2> e;
    auto leaf = [&](std::uint32_t fn, std::uint32_t index, bool indexed) {
      kvm_cpuid_entry2 x{};
      x.function = fn;
      x.index = index;
      x.flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
      __cpuid_count(fn, index, x.eax, x.ebx, x.ecx, x.edx);
      e.push_back(x);
      return x;
    };
    const std::uint32_t max_basic = leaf(0, 0, false).eax;
    for (std::uint32_t fn = 1; fn <= max_basic && fn < 0x20; ++fn) {
      if (fn == 4 || fn == 7 || fn == 0xb || fn == 0xd || fn == 0xf || fn == 0x10 || fn == 0x12 || fn == 0x14 || fn == 0x17 || fn == 0x18 || fn == 0x1f) {
        for (std::uint32_t i = 0; i < 4; ++i) leaf(fn, i, true);
      } else {
        leaf(fn, 0, false);
      }
    }
    const std::uint32_t max_ext = leaf(0x80000000, 0, false).eax;
    for (std::uint32_t fn = 0x80000001; fn <= max_ext && fn < 0x80000030; ++fn) {
      if (fn == 0x8000001d) {
        for (std::uint32_t i = 0; i < 4; ++i) leaf(fn, i, true);
      } else {
        leaf(fn, 0, false);
      }
    }
    std::vector<std::uint8_t> buf(abi::cpuid2_header + e.size() * sizeof(kvm_cpuid_entry2));
    const auto n = static_cast<std::uint32_t>(e.size());
    std::memcpy(buf.data(), &n, 4);
    std::memcpy(buf.data() + abi::cpuid2_header, e.data(), e.size() * sizeof(kvm_cpuid_entry2));
    return buf;
  }

 private:
  // KVM answers E2BIG while the table does not fit (it holds at most 256 entries today).
  std::vector<std::uint8_t> ask_supported_cpuid() const {
    for (std::uint32_t n = 256; n <= 4096; n *= 2) {
      std::vector<std::uint8_t> buf(abi::cpuid2_header + n * sizeof(kvm_cpuid_entry2));
      std::memcpy(buf.data(), &n, 4);
      if (call(*api_, fd_.get(), abi::get_supported_cpuid, buf.data()) == 0) {
        std::uint32_t got;
        std::memcpy(&got, buf.data(), 4);
        buf.resize(abi::cpuid2_header + std::min(got, n) * sizeof(kvm_cpuid_entry2));
        return buf;
      }
      if (errno == EINVAL) return host_cpuid();
      if (errno != E2BIG) throw VmError(std::string("KVM_GET_SUPPORTED_CPUID failed: ") + std::strerror(errno));
    }
    throw VmError("KVM_GET_SUPPORTED_CPUID: too many entries");
  }

  Api* api_;
  Fd fd_;
  int run_size_ = 0;
  mutable std::once_flag cpuid_once_;
  mutable std::vector<std::uint8_t> cpuid_;
};

// A port I/O exit: `data` is what the guest wrote (out), or where to put what it reads (in).
struct IoExit {
  std::uint16_t port;
  bool out;
  std::uint8_t size;  // 1, 2 or 4
  std::uint8_t* data;
  std::uint32_t value() const {
    std::uint32_t v = 0;
    std::memcpy(&v, data, size);
    return v;
  }
};
struct MmioExit {
  std::uint64_t address;
  bool write;
  std::uint8_t size;  // 1..8
  std::uint8_t* data;
};

enum class Exit { halted, shutdown_requested, stopped };

struct MmioRegion {
  std::string name;
  std::uint64_t base, size;
};

class Machine;

// One virtual CPU. Not thread-safe: run it from one thread.
class Vcpu {
 public:
  Vcpu(Machine& m, int id);
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;
  ~Vcpu() {
    if (run_) ::munmap(run_, static_cast<std::size_t>(run_size_));
  }

  // Unhandled I/O is ignored and a read gives 0, not the 0xff of an empty ISA bus: a guest that
  // polls a port nothing serves (the CMOS clock's "update in progress" bit at 0x71) must not wait
  // on it for ever.
  std::function<void(IoExit&)> on_io;
  std::function<void(MmioExit&)> on_mmio;  // unhandled MMIO: reads give 0

  // Handlers call this to end run() with Exit::stopped once the current exit is handled.
  void stop() { stop_ = true; }

  // Handlers call this to change registers after an exit: `f` runs once KVM has completed the
  // exit's instruction (KVM documents guest state as consistent only then), before the guest
  // runs again.
  void after_exit(std::function<void()> f) { after_ = std::move(f); }

  // After a kick, before run() is called again: the vCPU may run once more.
  void unkick() {
    kicked_ = false;
    run_->immediate_exit = 0;
  }

  // From another thread: makes run() return Exit::stopped as soon as it can.
  void kick() {
    kicked_ = true;
    run_->immediate_exit = 1;
    std::lock_guard lock(thread_mu_);  // the thread is inside run() while it is named here
    if (running_thread_) ::pthread_kill(*running_thread_, SIGUSR1);
  }

  int fd() const { return fd_.get(); }
  Api& api() const { return *api_; }
  // An ioctl on this vCPU through its Api, for the requests whose argument has no fixed size
  // (XSAVE, MSRs, CPUID: snapshot/kvm_state.hpp): the result, or -1 and errno.
  template <class Arg>
  int call(unsigned long req, Arg arg) const {
    return kvm::call(*api_, fd_.get(), req, arg);
  }

  std::uint64_t tsc_khz() const {
    int r = call(KVM_GET_TSC_KHZ, 0);
    return r > 0 ? static_cast<std::uint64_t>(r) : 0;
  }

  kvm_regs regs() const { return get<kvm_regs>(KVM_GET_REGS, "KVM_GET_REGS"); }
  void set_regs(const kvm_regs& r) { set(KVM_SET_REGS, r, "KVM_SET_REGS"); }
  kvm_sregs sregs() const { return get<kvm_sregs>(KVM_GET_SREGS, "KVM_GET_SREGS"); }
  void set_sregs(const kvm_sregs& s) { set(KVM_SET_SREGS, s, "KVM_SET_SREGS"); }
  void set_cpuid(const std::vector<std::uint8_t>& cpuid) {
    call_or_throw(*api_, fd_.get(), abi::set_cpuid2, cpuid.data(), "KVM_SET_CPUID2");
  }
  // The rest of a vCPU's architectural state, for snapshots (snapshot/kvm_state.hpp).
  template <class T>
  T get(unsigned long req, const char* what) const {
    T v{};
    call_or_throw(*api_, fd_.get(), req, &v, what);
    return v;
  }
  template <class T>
  void set(unsigned long req, const T& v, const char* what) {
    call_or_throw(*api_, fd_.get(), req, &v, what);
  }

  // Sets MSRs in one KVM_SET_MSRS; throws VmError naming the first one KVM refused.
  void set_msrs(const std::vector<std::pair<std::uint32_t, std::uint64_t>>& msrs) {
    abi::MsrBuffer m(msrs.size());
    for (std::size_t i = 0; i < msrs.size(); ++i) m.entries()[i] = kvm_msr_entry{msrs[i].first, 0, msrs[i].second};
    int n = call_or_throw(*api_, fd_.get(), abi::set_msrs, m.data(), "KVM_SET_MSRS");
    if (n != static_cast<int>(msrs.size())) {
      char b[96];
      std::snprintf(b, sizeof b, "KVM_SET_MSRS set %d of %zu MSRs: KVM refused MSR 0x%x", n, msrs.size(), msrs[static_cast<std::size_t>(n)].first);
      throw VmError(b);
    }
  }

  // Runs until the guest halts or shuts down, a handler calls stop(), or `deadline` passes
  // (GuestTimeout). Crashes throw GuestCrash with the registers.
  Exit run(std::chrono::steady_clock::time_point deadline);

  // The registers, formatted for an error message.
  std::string dump() const {
    char b[1024];
    kvm_regs r{};
    kvm_sregs s{};
    if (call(KVM_GET_REGS, &r) < 0 || call(KVM_GET_SREGS, &s) < 0) return "(registers unavailable)";
    std::snprintf(b, sizeof b,
                  "rip=%016llx rsp=%016llx rflags=%08llx\nrax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n"
                  "rsi=%016llx rdi=%016llx rbp=%016llx r8=%016llx\ncs=%04x(dpl %u) ss=%04x cr0=%llx cr2=%llx cr3=%llx cr4=%llx efer=%llx",
                  (unsigned long long)r.rip, (unsigned long long)r.rsp, (unsigned long long)r.rflags, (unsigned long long)r.rax,
                  (unsigned long long)r.rbx, (unsigned long long)r.rcx, (unsigned long long)r.rdx, (unsigned long long)r.rsi,
                  (unsigned long long)r.rdi, (unsigned long long)r.rbp, (unsigned long long)r.r8, s.cs.selector, s.cs.dpl,
                  s.ss.selector, (unsigned long long)s.cr0, (unsigned long long)s.cr2, (unsigned long long)s.cr3,
                  (unsigned long long)s.cr4, (unsigned long long)s.efer);
    return b;
  }

 private:
  Api* api_;
  Fd fd_;
  kvm_run* run_ = nullptr;
  int run_size_ = 0;
  bool stop_ = false;
  std::function<void()> after_;
  std::atomic<bool> kicked_{false};
  std::mutex thread_mu_;
  std::optional<pthread_t> running_thread_;  // the thread in run(), under thread_mu_
};

// A VM: guest RAM at guest-physical 0 (one memory slot, split around any MMIO holes), MMIO
// regions above it, vCPUs.
class Machine {
 public:
  // Guest RAM is fresh anonymous memory, or with `memory_file` (a snapshot's memory) that file
  // mapped MAP_PRIVATE: pages load when first touched and writes stay private to this VM, so
  // many VMs can start from one file and share its clean pages.
  Machine(const System& kvm, std::uint64_t memory_bytes, int memory_file = -1) : kvm_(kvm), size_(memory_bytes) {
    if (memory_bytes == 0 || memory_bytes % 4096 || memory_bytes > (std::uint64_t{3} << 30))
      throw ConfigError("guest memory must be a multiple of 4 KiB, at most 3 GiB (below the 32-bit MMIO hole)");
    int fd = kvm::call(kvm.api(), kvm.fd(), KVM_CREATE_VM, 0);
    if (fd < 0) throw KvmUnavailable(std::string("KVM_CREATE_VM failed: ") + std::strerror(errno));
    fd_ = Fd(fd);
    void* p = memory_file >= 0 ? ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, memory_file, 0)
                               : ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw VmError(std::string("cannot allocate guest memory: ") + std::strerror(errno));
    mem_ = static_cast<std::uint8_t*>(p);
    slots_.push_back(Slot{0, 0, size_});
    set_slot(slots_.back());
    next_mmio_ = mmio_start;
  }
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;
  ~Machine() {
    vcpus_.clear();  // vCPU fds before the VM fd
    if (mem_) ::munmap(mem_, size_);
  }

  // Replaces guest RAM with `memory_file` mapped MAP_PRIVATE over the same host range: the memory
  // slot stays, KVM drops its stale mappings, the guest sees the file. A restore into a VM made
  // ahead of time costs this mmap instead of a new VM and memory slot.
  void remap(int memory_file) {
    void* p = ::mmap(mem_, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, memory_file, 0);
    if (p == MAP_FAILED) throw VmError(std::string("cannot map the memory file: ") + std::strerror(errno));
    for (const MmioRegion& h : holes_) protect_hole(h);  // the new mapping came without the guard pages
  }

  const System& system() const { return kvm_; }
  Api& api() const { return kvm_.api(); }
  int fd() const { return fd_.get(); }
  // An ioctl on this VM through its Api: the result, or -1 and errno.
  template <class Arg>
  int call(unsigned long req, Arg arg) const {
    return kvm::call(kvm_.api(), fd_.get(), req, arg);
  }
  template <class Arg>
  int call_or_throw(unsigned long req, Arg arg, const char* what) const {
    return kvm::call_or_throw(kvm_.api(), fd_.get(), req, arg, what);
  }
  std::uint64_t memory_size() const { return size_; }
  // All of RAM, holes included: their pages fault (punch_mmio_hole); guest() checks for them.
  std::uint8_t* memory() { return mem_; }
  const std::uint8_t* memory() const { return mem_; }

  // Host pointer to guest-physical [gpa, gpa+len) inside RAM, or null when any of it is outside
  // or in an MMIO hole: the one way guest addresses become host pointers.
  std::uint8_t* guest(std::uint64_t gpa, std::uint64_t len) {
    if (gpa > size_ || len > size_ - gpa) return nullptr;
    for (const MmioRegion& h : holes_)
      if (gpa < h.base + h.size && h.base < gpa + len) return nullptr;
    return mem_ + gpa;
  }

  // Takes the pages [gpa, gpa+size) of RAM out of the guest's memory slots, so that the guest's
  // loads and stores there exit to on_mmio like any MMIO: a device register file the guest finds
  // at a fixed address inside its RAM (the init protocol's mailbox). The slot around it is split
  // in two; the host's pages behind the hole are made inaccessible, so that a stray host access
  // through memory() faults instead of reading what the guest can never see. Call before the
  // vCPUs run: for a moment the slot is gone.
  MmioRegion punch_mmio_hole(std::string name, std::uint64_t gpa, std::uint64_t size) {
    if (size == 0 || gpa % 4096 || size % 4096) throw ConfigError("MMIO hole " + name + ": address and size must be multiples of 4 KiB");
    auto in = std::find_if(slots_.begin(), slots_.end(), [&](const Slot& s) { return gpa >= s.gpa && gpa - s.gpa < s.size && size <= s.size - (gpa - s.gpa); });
    if (in == slots_.end()) throw ConfigError("MMIO hole " + name + " must lie inside RAM and outside every other hole");
    const Slot old = *in;
    slots_.erase(in);
    set_slot(Slot{old.id, old.gpa, 0});  // deleted: KVM cannot shrink a slot in place
    if (gpa > old.gpa) {
      slots_.push_back(Slot{old.id, old.gpa, gpa - old.gpa});
      set_slot(slots_.back());
    }
    if (gpa + size < old.gpa + old.size) {
      slots_.push_back(Slot{next_slot_++, gpa + size, old.gpa + old.size - gpa - size});
      set_slot(slots_.back());
    }
    holes_.push_back(MmioRegion{std::move(name), gpa, size});
    protect_hole(holes_.back());
    return holes_.back();
  }
  const std::vector<MmioRegion>& mmio_holes() const { return holes_; }

  // Places an MMIO region of `size` bytes, aligned, above RAM and every earlier region (never
  // overlapping either), and remembers it by name.
  MmioRegion allocate_mmio(std::string name, std::uint64_t size, std::uint64_t alignment = 0x1000) {
    if (size == 0 || alignment == 0 || (alignment & (alignment - 1))) throw ConfigError("MMIO region " + name + ": size must be > 0, alignment a power of two");
    std::uint64_t base = (std::max(next_mmio_, (size_ + 0xfff) & ~std::uint64_t{0xfff}) + alignment - 1) & ~(alignment - 1);
    if (base + size > mmio_end || base + size < base) throw ConfigError("no room for MMIO region " + name);
    mmio_.push_back(MmioRegion{std::move(name), base, size});
    next_mmio_ = base + size;
    return mmio_.back();
  }
  const std::vector<MmioRegion>& mmio_regions() const { return mmio_; }

  // Where KVM puts the three pages of the task state segment it needs on Intel to emulate real
  // mode without unrestricted guest (KVM_SET_TSS_ADDR): below the 4 GiB boundary, above the local
  // APIC and IOAPIC, outside guest RAM and every MMIO region, as Firecracker places it. KVM's
  // identity-map page goes in the page below by default.
  static constexpr std::uint64_t tss_address = 0xfffbd000, tss_size = 3 * 4096;

  // Tells KVM where that TSS goes. The KVM API documents it as required on Intel and to be set
  // before any vCPU exists; without it, an AP that starts in real mode can fail to enter. The
  // range must lie outside RAM and every MMIO region; create_irqchip calls this first.
  void set_tss_address(std::uint64_t gpa = tss_address) {
    if (!vcpus_.empty()) throw ConfigError("the TSS address must be set before any vCPU is added");
    if (gpa % 4096 || gpa < size_ || gpa + tss_size > (std::uint64_t{1} << 32))
      throw ConfigError("the TSS address must be page-aligned, above guest RAM and below 4 GiB");
    for (const MmioRegion& r : mmio_)
      if (gpa < r.base + r.size && r.base < gpa + tss_size) throw ConfigError("the TSS address overlaps the MMIO region " + r.name);
    call_or_throw(KVM_SET_TSS_ADDR, gpa, "KVM_SET_TSS_ADDR");
    tss_set_ = true;
  }

  // The PC platform's in-kernel devices a Linux guest expects, in the order KVM wants them: the
  // TSS address (unless set already), the interrupt controllers (PIC, IOAPIC, local APICs), and
  // the PIT with a dummy speaker port (KVM_PIT_SPEAKER_DUMMY: KVM answers port 0x61 itself, so a
  // kernel calibrating against PIT channel 2 does not exit to us for each read). Call before
  // adding vCPUs.
  void create_irqchip() {
    if (!vcpus_.empty()) throw ConfigError("the irqchip must be created before any vCPU is added");
    if (!tss_set_) set_tss_address();
    call_or_throw(KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
    kvm_pit_config pit{};
    pit.flags = KVM_PIT_SPEAKER_DUMMY;
    call_or_throw(KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2");
  }

  // Whether create_irqchip has run: KVM answers KVM_GET_IRQCHIP only then (ENXIO otherwise).
  bool has_irqchip() const {
    kvm_irqchip c{};
    c.chip_id = KVM_IRQCHIP_PIC_MASTER;
    return call(KVM_GET_IRQCHIP, &c) == 0;
  }

  // Drives an interrupt line of the in-kernel irqchip (KVM_IRQ_LINE): GSI `gsi` reaches PIC input
  // and IOAPIC pin `gsi` alike. ISA devices are edge-triggered: a device raises its line when it
  // wants attention and lowers it when the guest acknowledges, and only a rising edge interrupts.
  void set_irq_line(std::uint32_t gsi, bool level) {
    kvm_irq_level l{};
    l.irq = gsi;
    l.level = level ? 1 : 0;
    call_or_throw(KVM_IRQ_LINE, &l, "KVM_IRQ_LINE");
  }

  Vcpu& add_vcpu() {
    vcpus_.push_back(std::make_unique<Vcpu>(*this, static_cast<int>(vcpus_.size())));
    return *vcpus_.back();
  }

  // MMIO regions are placed from here (below the local APIC / IOAPIC at 0xfec00000).
  static constexpr std::uint64_t mmio_start = 0xd0000000, mmio_end = 0xfec00000;

 private:
  struct Slot {
    std::uint32_t id;
    std::uint64_t gpa, size;  // size 0 deletes the slot
  };
  void set_slot(const Slot& s) {
    kvm_userspace_memory_region region{s.id, 0, s.gpa, s.size, reinterpret_cast<std::uint64_t>(mem_ + s.gpa)};
    call_or_throw(KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");
  }
  void protect_hole(const MmioRegion& h) {
    if (::mprotect(mem_ + h.base, h.size, PROT_NONE) != 0) throw VmError(std::string("cannot protect MMIO hole ") + h.name + ": " + std::strerror(errno));
  }

  const System& kvm_;
  Fd fd_;
  std::uint64_t size_;
  std::uint8_t* mem_ = nullptr;
  std::vector<Slot> slots_;
  std::uint32_t next_slot_ = 1;
  std::vector<MmioRegion> holes_;
  std::vector<MmioRegion> mmio_;
  std::uint64_t next_mmio_;
  bool tss_set_ = false;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
};

inline Vcpu::Vcpu(Machine& m, int id) : api_(&m.api()) {
  int fd = m.call(KVM_CREATE_VCPU, id);
  if (fd < 0) throw VmError(std::string("KVM_CREATE_VCPU failed: ") + std::strerror(errno));
  fd_ = Fd(fd);
  run_size_ = m.system().run_size();
  void* p = api_->map_run(fd, static_cast<std::size_t>(run_size_));
  if (p == MAP_FAILED) throw VmError(std::string("cannot map kvm_run: ") + std::strerror(errno));
  run_ = static_cast<kvm_run*>(p);
}

namespace detail {
// SIGUSR1 with a handler that does nothing and without SA_RESTART: it makes KVM_RUN return EINTR.
inline void install_kick_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGUSR1, &sa, nullptr);
  });
}

// Kicks the calling thread out of KVM_RUN when the deadline passes (immediate_exit, then
// SIGUSR1 every 10 ms until the vCPU loop notices), unless destroyed first.
class Watchdog {
 public:
  Watchdog(std::chrono::steady_clock::time_point deadline, kvm_run* run) : thread_(::pthread_self()) {
    install_kick_handler();
    t_ = std::thread([this, deadline, run] {
      std::unique_lock lock(mu_);
      if (cv_.wait_until(lock, deadline, [this] { return done_; })) return;
      fired_ = true;
      while (!done_) {
        run->immediate_exit = 1;
        ::pthread_kill(thread_, SIGUSR1);
        cv_.wait_for(lock, std::chrono::milliseconds(10), [this] { return done_; });
      }
    });
  }
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    t_.join();
  }
  bool fired() const { return fired_; }

 private:
  pthread_t thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::atomic<bool> fired_{false};
  std::thread t_;  // last: starts after the members it uses exist
};
}  // namespace detail

inline Exit Vcpu::run(std::chrono::steady_clock::time_point deadline) {
  stop_ = false;
  detail::install_kick_handler();
  struct InRun {  // names this thread for kick() while run() lasts, and only then
    Vcpu* v;
    explicit InRun(Vcpu* c) : v(c) {
      std::lock_guard lock(v->thread_mu_);
      v->running_thread_ = ::pthread_self();
    }
    ~InRun() {
      std::lock_guard lock(v->thread_mu_);
      v->running_thread_.reset();
    }
  } in_run(this);
  run_->immediate_exit = kicked_ ? 1 : 0;
  detail::Watchdog dog(deadline, run_);
  while (true) {
    int r = api_->ioctl(fd_.get(), KVM_RUN, 0);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        if (kicked_) return Exit::stopped;
        if (dog.fired() || std::chrono::steady_clock::now() >= deadline) {
          run_->immediate_exit = 0;
          throw GuestTimeout("the guest ran past its time limit\n" + dump());
        }
        continue;
      }
      throw VmError(std::string("KVM_RUN failed: ") + std::strerror(errno));
    }
    auto* base = reinterpret_cast<std::uint8_t*>(run_);
    switch (run_->exit_reason) {
      case KVM_EXIT_IO: {
        const auto& io = run_->io;
        // bounds: the data lies inside the kvm_run page(s)
        if ((io.size != 1 && io.size != 2 && io.size != 4) || io.count == 0 ||
            io.data_offset + std::uint64_t{io.size} * io.count > static_cast<std::uint64_t>(run_size_))
          throw GuestCrash("malformed port I/O exit", dump());
        for (std::uint32_t i = 0; i < io.count; ++i) {
          IoExit e{io.port, io.direction == KVM_EXIT_IO_OUT, io.size, base + io.data_offset + i * io.size};
          if (!e.out) std::memset(e.data, 0, e.size);  // unclaimed: 0 (see on_io)
          if (on_io) on_io(e);
        }
        break;
      }
      case KVM_EXIT_MMIO: {
        auto& mm = run_->mmio;
        if (mm.len == 0 || mm.len > 8) throw GuestCrash("malformed MMIO exit", dump());
        MmioExit e{mm.phys_addr, mm.is_write != 0, static_cast<std::uint8_t>(mm.len), mm.data};
        if (!e.write) std::memset(e.data, 0, 8);
        if (on_mmio) on_mmio(e);
        break;
      }
      case KVM_EXIT_HLT: return Exit::halted;
      case KVM_EXIT_SHUTDOWN: throw GuestCrash("the guest shut down unexpectedly (triple fault)", dump());
      case KVM_EXIT_SYSTEM_EVENT: return Exit::shutdown_requested;
      case KVM_EXIT_FAIL_ENTRY:
        throw GuestCrash("KVM could not enter the guest (hardware entry failure reason " +
                             std::to_string(run_->fail_entry.hardware_entry_failure_reason) + ")", dump());
      case KVM_EXIT_INTERNAL_ERROR:
        throw GuestCrash("KVM internal error " + std::to_string(run_->internal.suberror) +
                             (run_->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (instruction emulation failed)" : ""),
                         dump());
      default: throw GuestCrash("unexpected KVM exit reason " + std::to_string(run_->exit_reason), dump());
    }
    if (after_ || stop_) {
      // Complete the exit without running the guest (immediate_exit): registers are consistent
      // only then, for a handler that changes them and for a caller that saves the vCPU.
      run_->immediate_exit = 1;
      int c;
      do c = api_->ioctl(fd_.get(), KVM_RUN, 0);
      while (c == 0);
      run_->immediate_exit = 0;
      if (after_) {
        auto f = std::move(after_);
        after_ = {};
        f();
      }
    }
    if (stop_) return Exit::stopped;
    if (std::chrono::steady_clock::now() >= deadline) throw GuestTimeout("the guest ran past its time limit\n" + dump());
  }
}

}  // namespace crumble::vm::kvm
