// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/kvm/linux_machine.hpp — the in-process KVM engine for Linux guests: the fast path on hosts
// with VMX/SVM.
//
// The same guest as the QEMU engine sees (init, initramfs, protocol window reserved with memmap=
// and reached through /dev/mem), built in this process: guest RAM is anonymous memory the host
// reads directly, the in-kernel irqchip and PIT, a 16550 UART at 0x3f8 for the console (its
// interrupt on GSI 4), the i8042
// reset line as reset, ACPI tables (acpi.hpp) describing the vCPUs and the UART, and the x86-64
// boot protocol (linux_x86.hpp). One thread per vCPU.
//
// The protocol window is not all RAM here: the config region is (the host shares it, bulk data
// goes through it at memory speed), but the mailbox page has no memory slot behind it and traps
// as MMIO. Each guest load or store there exits to the vCPU's thread, which serves it from a
// host-side page (MmioPage) that the Channel reads as its mailbox. A signal is a few stores, so
// a trap each costs little; and what the guest can do to the mailbox is only ever what the
// handler accepts, access by access. The init reaches it through /dev/mem as before.
//
// On a host without VMX/SVM (the paging-based kvm_pvm emulates kernel-mode code), or where KVM
// refuses the CPUID or boot MSRs a Linux guest needs, construction throws ConfigError saying so,
// before any thread starts.
#pragma once

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>

#include "acpi.hpp"
#include "../../protocol/channel.hpp"
#include "../console_log.hpp"
#include "../options.hpp"
#include "i8042.hpp"
#include "linux_x86.hpp"
#include "mmio_page.hpp"
#include "../../protocol/layout.hpp"
#include "../../snapshot/kvm_state.hpp"
#include "uart.hpp"

namespace crumble::vm {

struct KvmLinuxOptions : GuestOptions {
  // For synthetic kernels in tests only: skip KVM_SET_CPUID2 and the boot MSRs and run with KVM's
  // defaults, so that the engine can be tested where KVM refuses them (kvm_pvm). No real Linux
  // kernel starts that way: without SYSCALL in the CPUID, its first EFER write faults.
  bool default_cpuid = false;
  // For tests only: the KVM the machine talks to (a recording fake, tests/vm/kvm_fake.hpp); null:
  // /dev/kvm itself.
  kvm::Api* api = nullptr;
};

// The machine a Linux guest boots on, built in the order KVM wants (tests/vm/kvm_fake_test.cpp
// records it against a fake KVM): the mailbox hole in RAM; the TSS address, the in-kernel irqchip
// and PIT (kvm::Machine::create_irqchip), before any vCPU; then the vCPUs, each with its own
// normalized CPUID and the boot MSRs (add_linux_vcpus; skipped with `default_cpuid`). Throws
// ConfigError when KVM refuses what a Linux guest needs.
inline std::vector<kvm::Vcpu*> set_up_linux_machine(kvm::Machine& vm, int vcpus, bool default_cpuid) {
  vm.punch_mmio_hole("mailbox", protocol::mailbox_phys, protocol::mailbox_size);
  vm.create_irqchip();
  try {
    return add_linux_vcpus(vm, vcpus, default_cpuid ? nullptr : &vm.system().supported_cpuid());
  } catch (const ConfigError&) {
    throw;
  } catch (const VmError& e) {
    throw ConfigError(std::string("KVM cannot run a Linux guest on this host: ") + e.what() +
                      " (a kernel needs the guest CPUID KVM_SET_CPUID2 sets and its boot MSRs); use the QEMU engine");
  }
}

class KvmLinuxMachine {
 public:
  static constexpr std::uint64_t acpi_base = 0xe0000;

  explicit KvmLinuxMachine(const GuestOptions& o) : KvmLinuxMachine(options(o)) {}
  explicit KvmLinuxMachine(const KvmLinuxOptions& o)
      : kvm_("/dev/kvm", o.api ? *o.api : kvm::linux_api()), vm_(kvm_, std::uint64_t{o.memory_mib} << 20) {
    if (o.memory_mib < 192) throw ConfigError("memory must be at least 192 MiB");
    if (o.root_disk_slot || !o.root_disk.empty() || !o.shares.empty())
      throw ConfigError("containers need the QEMU engine for now: the in-process KVM engine has no virtio devices");
    if (o.network || !o.published.empty())
      throw ConfigError("the network (--net, -p) needs the QEMU engine for now: the in-process KVM engine has no virtio devices");
    if (!o.default_cpuid && !kvm::host_has_vmx_or_svm())
      throw ConfigError("KVM cannot run a Linux guest on this host: the CPU has no VMX/SVM, and this /dev/kvm emulates kernel-mode code "
                        "(about 1700x slower), so a kernel would not reach init; use the QEMU engine");
    LinuxImage image = LinuxImage::read(o.kernel);
    cpus_ = set_up_linux_machine(vm_, o.vcpus, o.default_cpuid);
    std::uint8_t* cfg = vm_.guest(protocol::config_phys, protocol::config_size);
    if (!cfg) throw ConfigError("the protocol window lies outside guest RAM");
    channel_.emplace(mailbox_->bytes(), cfg, [this] { check_alive(); });
    if (!o.restore_from.empty()) {
      SnapshotMode saved_at{};
      try {
        saved_at = restore(o.restore_from);
      } catch (const SnapshotError&) {
        throw;
      } catch (const VmError& e) {  // KVM refused part of the state: the snapshot is no good here
        throw SnapshotError("cannot restore the snapshot " + o.restore_from.string() + ": " + e.what());
      }
      start();
      try {
        channel_->go_on_after_restore(saved_at, Clock::now() + std::chrono::seconds(30));
      } catch (const VmError& e) {
        stop();  // the destructor does not run for a constructor that throws
        throw SnapshotError("the guest restored from " + o.restore_from.string() + " did not go on: " + e.what());
      } catch (...) {
        stop();
        throw;
      }
      return;
    }
    const std::uint64_t khz = cpus_[0]->tsc_khz();
    std::string cmdline = default_cmdline(khz);
    if (!o.append.empty()) cmdline += " " + o.append;
    BootSetup b = load_linux(vm_, image, {cmdline, o.initramfs});
    auto tables = acpi::build(acpi_base, o.vcpus, {{"COM1", "PNP0501", 0x3f8, 8, 4}});
    std::memcpy(vm_.memory() + acpi_base, tables.data(), tables.size());
    le::store<std::uint64_t>(vm_.memory() + b.boot_params + 0x070, acpi_base);  // acpi_rsdp_addr
    enter_linux(*cpus_[0], b);
    channel_->write_clock();
    if (o.hold_after_phase_6) channel_->request_hold();
    start();
  }

  // Saves the running guest (its vCPUs stop meanwhile, each after KVM has completed its last
  // exit, then go on) in the snapshot format (snapshot/format.hpp, state by snapshot/kvm_state.hpp): VM state (irqchip, PIT, clock), every vCPU, the
  // UART's registers, the mailbox page, `mode` (where init is), and RAM without the mailbox hole.
  void save(const std::filesystem::path& state, SnapshotMode mode) {
    pause();
    struct Resume {
      KvmLinuxMachine* m;
      ~Resume() {
        try {
          m->start();
        } catch (...) {  // no thread could be made: the VM cannot go on
          m->stop();
        }
      }
    } resume{this};
    snapshot::Sections s;
    snapshot::save_vm(vm_, s);
    for (std::size_t i = 0; i < cpus_.size(); ++i) snapshot::save_vcpu(*cpus_[i], s, "vcpu" + std::to_string(i) + ".", true);
    {
      std::lock_guard lock(mu_);
      snapshot::put(s, "kvm.uart", uart_.state());
    }
    s["kvm.mailbox"].assign(mailbox_->bytes(), mailbox_->bytes() + MmioPage::size);
    snapshot::put_mode(s, mode);
    snapshot::put(s, "kvm.vcpus", static_cast<std::uint32_t>(cpus_.size()));
    snapshot::write(state, s, vm_.memory(), vm_.memory_size(), snapshot::memory_holes(vm_));
  }
  KvmLinuxMachine(const KvmLinuxMachine&) = delete;
  KvmLinuxMachine& operator=(const KvmLinuxMachine&) = delete;
  ~KvmLinuxMachine() { stop(); }

  // The kernel command line for this engine (TSC rate from KVM_GET_TSC_KHZ, not a constant).
  static std::string default_cmdline(std::uint64_t tsc_khz) {
    std::string s = "console=ttyS0,115200n8 earlycon=uart8250,io,0x3f8 tsc=reliable reboot=k panic=-1 nokaslr pci=off quiet "
                    "rdinit=/init ";
    if (tsc_khz) s += "tsc_early_khz=" + std::to_string(tsc_khz) + " ";
    return s + protocol_window_memmap();
  }

  Channel& channel() { return *channel_; }
  // The VM as built, for its layout (the mailbox hole) in tests and diagnostics.
  const kvm::Machine& machine() const { return vm_; }
  // The console as kept: its head and tail (ConsoleLog), however much the guest wrote.
  std::string kernel_log() const {
    std::lock_guard lock(mu_);
    return console_.text();
  }

  // Asks init to power off, waits up to `grace` for the kernel to say so, then stops the vCPUs.
  void shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds(5000)) {
    if (!done_) {
      channel_->poweroff();
      auto until = Clock::now() + grace;
      while (Clock::now() < until && !done_ && console_tail(4096).find("reboot: Power down") == std::string::npos)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    stop();
  }
  void kill() { stop(); }

 private:
  std::string console_tail(std::size_t n) const {
    std::lock_guard lock(mu_);
    return console_.tail(n);
  }

  static KvmLinuxOptions options(const GuestOptions& g) {
    KvmLinuxOptions o;
    static_cast<GuestOptions&>(o) = g;
    return o;
  }

  void vcpu_loop(kvm::Vcpu& cpu) {
    I8042 keyboard([&] {  // the reset line: the guest rebooted, which for a microVM means it is done
      done_ = true;
      cpu.stop();
    });
    cpu.on_io = [&](kvm::IoExit& io) {
      if (keyboard.handle(io)) return;
      std::lock_guard lock(mu_);  // one UART for all vCPUs
      uart_.handle(io);
    };
    cpu.on_mmio = [this](kvm::MmioExit& e) { mailbox_->handle(e); };
    try {
      cpu.run(Clock::time_point::max());
    } catch (const std::exception& e) {
      std::lock_guard lock(mu_);
      error_ = e.what();
      done_ = true;
    }
    if (!pausing_) done_ = true;
    --running_;
  }

  // Starts (or restarts, after pause) a thread per vCPU.
  void start() {
    if (done_) return;
    pausing_ = false;
    for (kvm::Vcpu* cpu : cpus_) {
      cpu->unkick();
      ++running_;  // before the thread can end and count itself out
      try {
        threads_.emplace_back([this, cpu] { vcpu_loop(*cpu); });
      } catch (...) {
        --running_;
        stop();
        throw;
      }
    }
  }
  // Stops every vCPU thread without ending the VM.
  void pause() {
    if (done_) throw VmError("the VM has stopped; there is nothing to save");
    pausing_ = true;
    join_vcpus();
    if (done_) throw VmError("the VM stopped while it was being paused");
  }

  // Loads a snapshot into this VM (made as for a cold boot, nothing loaded yet): RAM mapped from
  // the memory file (MAP_PRIVATE: pages load lazily, writes stay ours), then the VM's and each
  // vCPU's and the VM's state in snapshot/kvm_state.hpp's order (restore_machine). Whether init holds after phase 6 (an early snapshot).
  SnapshotMode restore(const std::filesystem::path& state) {
    snapshot::Loaded l = snapshot::read(state);
    const Fd memory{l.memory_fd};
    if (l.memory_size != vm_.memory_size())
      throw SnapshotError("snapshot " + state.string() + " has " + std::to_string(l.memory_size >> 20) + " MiB of guest RAM, this VM " +
                          std::to_string(vm_.memory_size() >> 20) + " MiB");
    if (snapshot::get<std::uint32_t>(l.sections, "kvm.vcpus") != cpus_.size())
      throw SnapshotError("snapshot " + state.string() + " has another number of vCPUs than this VM");
    const auto mailbox = l.sections.find("kvm.mailbox");
    const SnapshotMode saved_at = snapshot::get_mode(l.sections, state);
    if (mailbox == l.sections.end() || mailbox->second.size() != MmioPage::size)
      throw SnapshotError("snapshot " + state.string() + " is not a KVM engine snapshot of a Linux guest");
    vm_.remap(l.memory_fd);
    snapshot::restore_machine(vm_, cpus_, l.sections);
    uart_.set_state(snapshot::get<Uart16550::State>(l.sections, "kvm.uart"));
    std::memcpy(mailbox_->bytes(), mailbox->second.data(), MmioPage::size);
    return saved_at;
  }

  void check_alive() {
    if (!done_) return;
    InitFailed f(0, 0, "");
    if (channel_->failed(&f)) throw f;
    std::lock_guard lock(mu_);
    throw BootError("the VM stopped" + (error_.empty() ? std::string() : ": " + error_) + "\nlast kernel messages:\n" + console_.tail(3000));
  }

  // Kicks every vCPU out of KVM_RUN until all threads have left it (a kick can land just before
  // a thread enters KVM_RUN, so one is not enough), then joins them.
  void stop() {
    join_vcpus();
    done_ = true;
  }
  void join_vcpus() {
    while (running_ > 0) {
      for (kvm::Vcpu* c : cpus_) c->kick();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (std::thread& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }

  kvm::System kvm_;
  kvm::Machine vm_;
  std::unique_ptr<MmioPage> mailbox_ = std::make_unique<MmioPage>(protocol::mailbox_phys);
  // The console: a guest may write to it for as long as it runs, so only its head and tail are
  // kept (ConsoleLog), not all of it.
  // Its interrupt is GSI 4 of the in-kernel irqchip (the ACPI tables say so).
  Uart16550 uart_{[this](std::string_view s) { console_.append(s); }, 0x3f8,
                  [this](bool level) { vm_.set_irq_line(Uart16550::irq, level); }};  // both called under mu_
  std::vector<kvm::Vcpu*> cpus_;
  std::optional<Channel> channel_;
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  ConsoleLog console_;
  std::string error_;
  std::atomic<bool> done_{false}, pausing_{false};
  std::atomic<int> running_{0};
};

}  // namespace crumble::vm
