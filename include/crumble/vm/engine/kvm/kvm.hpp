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
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../../errors.hpp"
#include "../../host/fd.hpp"

namespace crumble::vm::kvm {

struct KvmUnavailable : VmError {
  using VmError::VmError;
};
struct GuestCrash : VmError {
  GuestCrash(const std::string& what, std::string regs) : VmError(what + "\n" + regs), registers(std::move(regs)) {}
  std::string registers;
};

template <class Arg>
int ioctl_or_throw(int fd, unsigned long req, Arg arg, const char* what) {
  int r;
  do r = ::ioctl(fd, req, arg);
  while (r < 0 && errno == EINTR);
  if (r < 0) throw VmError(std::string(what) + " failed: " + std::strerror(errno));
  return r;
}

// /dev/kvm itself.
class System {
 public:
  explicit System(const char* path = "/dev/kvm") {
    int fd = ::open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) throw KvmUnavailable(std::string(path) + " does not exist: this host has no KVM (load kvm_intel/kvm_amd, or use the QEMU engine)");
      if (errno == EACCES || errno == EPERM)
        throw KvmUnavailable(std::string("no permission to open ") + path + ": add the user to the kvm group, or run as root");
      throw KvmUnavailable(std::string("cannot open ") + path + ": " + std::strerror(errno));
    }
    fd_ = Fd(fd);
    if (::ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) throw KvmUnavailable("unexpected KVM API version");
    for (auto [cap, name] : {std::pair{KVM_CAP_USER_MEMORY, "USER_MEMORY"}, {KVM_CAP_EXT_CPUID, "EXT_CPUID"}})
      if (::ioctl(fd, KVM_CHECK_EXTENSION, cap) <= 0) throw KvmUnavailable(std::string("KVM lacks the capability ") + name);
    run_size_ = ioctl_or_throw(fd, KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
  }
  int fd() const { return fd_.get(); }
  int run_size() const { return run_size_; }
  int check(long cap) const { return ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, cap); }

  // The CPUID the host supports for guests, as KVM_SET_CPUID2 wants it. Where KVM does not
  // answer KVM_GET_SUPPORTED_CPUID (the paging-based kvm_pvm returns EINVAL), the host's own
  // CPUID, which such a hypervisor runs guests on unchanged.
  std::vector<std::uint8_t> supported_cpuid() const {
    std::vector<std::uint8_t> probe(sizeof(kvm_cpuid2) + sizeof(kvm_cpuid_entry2));
    reinterpret_cast<kvm_cpuid2*>(probe.data())->nent = 1;
    if (::ioctl(fd_.get(), KVM_GET_SUPPORTED_CPUID, probe.data()) < 0 && errno == EINVAL) return host_cpuid();
    for (int n = 64; n <= 4096; n *= 2) {
      std::vector<std::uint8_t> buf(sizeof(kvm_cpuid2) + n * sizeof(kvm_cpuid_entry2));
      auto* c = reinterpret_cast<kvm_cpuid2*>(buf.data());
      c->nent = static_cast<std::uint32_t>(n);
      if (::ioctl(fd_.get(), KVM_GET_SUPPORTED_CPUID, c) == 0) {
        buf.resize(sizeof(kvm_cpuid2) + c->nent * sizeof(kvm_cpuid_entry2));
        return buf;
      }
      if (errno != E2BIG) throw VmError(std::string("KVM_GET_SUPPORTED_CPUID failed: ") + std::strerror(errno));
    }
    throw VmError("KVM_GET_SUPPORTED_CPUID: too many entries");
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
      if (fn == 4 || fn == 7 || fn == 0xb || fn == 0xd || fn == 0xf || fn == 0x10 || fn == 0x12 || fn == 0x14 || fn == 0x17 || fn == 0x18) {
        for (std::uint32_t i = 0; i < 4; ++i) leaf(fn, i, true);
      } else {
        leaf(fn, 0, false);
      }
    }
    const std::uint32_t max_ext = leaf(0x80000000, 0, false).eax;
    for (std::uint32_t fn = 0x80000001; fn <= max_ext && fn < 0x80000030; ++fn) leaf(fn, 0, false);
    std::vector<std::uint8_t> buf(sizeof(kvm_cpuid2) + e.size() * sizeof(kvm_cpuid_entry2));
    auto* c = reinterpret_cast<kvm_cpuid2*>(buf.data());
    c->nent = static_cast<std::uint32_t>(e.size());
    std::memcpy(c->entries, e.data(), e.size() * sizeof(kvm_cpuid_entry2));
    return buf;
  }

 private:
  Fd fd_;
  int run_size_ = 0;
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

  std::function<void(IoExit&)> on_io;      // unhandled I/O: ignored (reads give 0xff..)
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

  // For the ioctls whose argument has no fixed size (XSAVE, MSRs, CPUID: snapshot/kvm_state.hpp).
  int fd() const { return fd_.get(); }

  std::uint64_t tsc_khz() const {
    int r = ::ioctl(fd_.get(), KVM_GET_TSC_KHZ, 0);
    return r > 0 ? static_cast<std::uint64_t>(r) : 0;
  }

  kvm_regs regs() const {
    kvm_regs r{};
    ioctl_or_throw(fd_.get(), KVM_GET_REGS, &r, "KVM_GET_REGS");
    return r;
  }
  void set_regs(const kvm_regs& r) { ioctl_or_throw(fd_.get(), KVM_SET_REGS, &r, "KVM_SET_REGS"); }
  kvm_sregs sregs() const {
    kvm_sregs s{};
    ioctl_or_throw(fd_.get(), KVM_GET_SREGS, &s, "KVM_GET_SREGS");
    return s;
  }
  void set_sregs(const kvm_sregs& s) { ioctl_or_throw(fd_.get(), KVM_SET_SREGS, &s, "KVM_SET_SREGS"); }
  void set_cpuid(const std::vector<std::uint8_t>& cpuid) {
    ioctl_or_throw(fd_.get(), KVM_SET_CPUID2, cpuid.data(), "KVM_SET_CPUID2");
  }
  // The rest of a vCPU's architectural state, for snapshots (snapshot/kvm_state.hpp).
  template <class T>
  T get(unsigned long req, const char* what) const {
    T v{};
    ioctl_or_throw(fd_.get(), req, &v, what);
    return v;
  }
  template <class T>
  void set(unsigned long req, const T& v, const char* what) {
    ioctl_or_throw(fd_.get(), req, &v, what);
  }

  void set_msrs(const std::vector<std::pair<std::uint32_t, std::uint64_t>>& msrs) {
    std::vector<std::uint8_t> buf(sizeof(kvm_msrs) + msrs.size() * sizeof(kvm_msr_entry));
    auto* m = reinterpret_cast<kvm_msrs*>(buf.data());
    m->nmsrs = static_cast<std::uint32_t>(msrs.size());
    for (std::size_t i = 0; i < msrs.size(); ++i) m->entries[i] = kvm_msr_entry{msrs[i].first, 0, msrs[i].second};
    int n = ioctl_or_throw(fd_.get(), KVM_SET_MSRS, m, "KVM_SET_MSRS");
    if (n != static_cast<int>(msrs.size())) throw VmError("KVM_SET_MSRS set " + std::to_string(n) + " of " + std::to_string(msrs.size()) + " MSRs");
  }

  // Runs until the guest halts or shuts down, a handler calls stop(), or `deadline` passes
  // (GuestTimeout). Crashes throw GuestCrash with the registers.
  Exit run(std::chrono::steady_clock::time_point deadline);

  // The registers, formatted for an error message.
  std::string dump() const {
    char b[1024];
    kvm_regs r{};
    kvm_sregs s{};
    if (::ioctl(fd_.get(), KVM_GET_REGS, &r) < 0 || ::ioctl(fd_.get(), KVM_GET_SREGS, &s) < 0) return "(registers unavailable)";
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
    int fd;
    do fd = ::ioctl(kvm.fd(), KVM_CREATE_VM, 0);
    while (fd < 0 && errno == EINTR);
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
  int fd() const { return fd_.get(); }
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

  // The in-kernel interrupt controllers (PIC, IOAPIC, local APICs) and PIT a Linux guest expects.
  // Call before adding vCPUs.
  void create_irqchip() {
    ioctl_or_throw(fd_.get(), KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
    kvm_pit_config pit{};
    ioctl_or_throw(fd_.get(), KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2");
  }

  // Whether create_irqchip has run: KVM answers KVM_GET_IRQCHIP only then (ENXIO otherwise).
  bool has_irqchip() const {
    kvm_irqchip c{};
    c.chip_id = KVM_IRQCHIP_PIC_MASTER;
    return ::ioctl(fd_.get(), KVM_GET_IRQCHIP, &c) == 0;
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
    ioctl_or_throw(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");
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
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
};

inline Vcpu::Vcpu(Machine& m, int id) {
  int fd;
  do fd = ::ioctl(m.fd(), KVM_CREATE_VCPU, id);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) throw VmError(std::string("KVM_CREATE_VCPU failed: ") + std::strerror(errno));
  fd_ = Fd(fd);
  run_size_ = m.system().run_size();
  void* p = ::mmap(nullptr, static_cast<std::size_t>(run_size_), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
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
    int r = ::ioctl(fd_.get(), KVM_RUN, 0);
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
          if (!e.out) std::memset(e.data, 0xff, e.size);
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
      do c = ::ioctl(fd_.get(), KVM_RUN, 0);
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
