// crumble/vm/kvm_linux.hpp — the in-process KVM engine for Linux guests: the fast path on hosts
// with VMX/SVM.
//
// The same guest as the QEMU engine sees (init, initramfs, protocol window reserved with memmap=
// and reached through /dev/mem), built in this process: guest RAM is anonymous memory the host
// reads directly, the in-kernel irqchip and PIT, a 16550 UART at 0x3f8 for the console, the i8042
// reset line as reset, ACPI tables (acpi.hpp) describing the vCPUs and the UART, and the x86-64
// boot protocol (linux_x86.hpp). One thread per vCPU.
//
// Where KVM cannot give a Linux guest the CPUID it needs (KVM_SET_CPUID2 refused, as by the
// paging-based kvm_pvm on hosts without VMX/SVM), construction throws ConfigError saying so,
// before any thread starts.
#pragma once

#include <thread>

#include "acpi.hpp"
#include "channel.hpp"
#include "guest.hpp"
#include "i8042.hpp"
#include "linux_x86.hpp"
#include "protocol.hpp"
#include "uart.hpp"

namespace crumble::vm {

using KvmLinuxOptions = GuestOptions;

class KvmLinuxMachine {
 public:
  static constexpr std::uint64_t acpi_base = 0xe0000;

  explicit KvmLinuxMachine(const KvmLinuxOptions& o) : kvm_(), vm_(kvm_, std::uint64_t{o.memory_mib} << 20) {
    if (o.memory_mib < 192) throw ConfigError("memory must be at least 192 MiB");
    LinuxImage image = LinuxImage::read(o.kernel);
    vm_.create_irqchip();
    std::vector<std::uint8_t> cpuid = kvm_.supported_cpuid();
    for (int i = 0; i < o.vcpus; ++i) {
      kvm::Vcpu& cpu = vm_.add_vcpu();
      try {
        cpu.set_cpuid(cpuid);
      } catch (const VmError& e) {
        throw ConfigError(std::string("KVM cannot run a Linux guest on this host: ") + e.what() +
                          " (a kernel needs the guest CPUID KVM_SET_CPUID2 sets); use the QEMU engine");
      }
      cpus_.push_back(&cpu);
    }
    const std::uint64_t khz = cpus_[0]->tsc_khz();
    std::string cmdline = default_cmdline(khz);
    if (!o.append.empty()) cmdline += " " + o.append;
    BootSetup b = load_linux(vm_, image, {cmdline, o.initramfs});
    auto tables = acpi::build(acpi_base, o.vcpus, {{"COM1", "PNP0501", 0x3f8, 8, 4}});
    std::memcpy(vm_.memory() + acpi_base, tables.data(), tables.size());
    linux_x86::put(vm_.memory() + b.boot_params + 0x070, acpi_base, 8);  // acpi_rsdp_addr
    enter_linux(*cpus_[0], b);

    std::uint8_t* mb = vm_.guest(protocol::mailbox_phys, protocol::mailbox_size);
    std::uint8_t* cfg = vm_.guest(protocol::config_phys, protocol::config_size);
    if (!mb || !cfg) throw ConfigError("the protocol window lies outside guest RAM");
    channel_.emplace(mb, cfg, [this] { check_alive(); });
    channel_->write_clock();
    running_ = static_cast<int>(cpus_.size());
    for (kvm::Vcpu* cpu : cpus_) threads_.emplace_back([this, cpu] { vcpu_loop(*cpu); });
  }
  KvmLinuxMachine(const KvmLinuxMachine&) = delete;
  KvmLinuxMachine& operator=(const KvmLinuxMachine&) = delete;
  ~KvmLinuxMachine() { stop(); }

  // The kernel command line for this engine (TSC rate from KVM_GET_TSC_KHZ, not a constant).
  static std::string default_cmdline(std::uint64_t tsc_khz) {
    char window[64];
    std::snprintf(window, sizeof window, "memmap=%lluM$0x%llx", static_cast<unsigned long long>(protocol::window_size >> 20),
                  static_cast<unsigned long long>(protocol::window_base));
    std::string s = "console=ttyS0,115200n8 earlycon=uart8250,io,0x3f8 tsc=reliable reboot=k panic=-1 nokaslr pci=off quiet "
                    "rdinit=/init ";
    if (tsc_khz) s += "tsc_early_khz=" + std::to_string(tsc_khz) + " ";
    return s + window;
  }

  Channel& channel() { return *channel_; }
  std::string kernel_log() const {
    std::lock_guard lock(mu_);
    return console_;
  }

  // Asks init to power off, waits up to `grace` for the kernel to say so, then stops the vCPUs.
  void shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds(5000)) {
    if (!done_) {
      channel_->poweroff();
      auto until = Clock::now() + grace;
      while (Clock::now() < until && !done_ && kernel_log().find("reboot: Power down") == std::string::npos)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    stop();
  }
  void kill() { stop(); }

 private:
  void vcpu_loop(kvm::Vcpu& cpu) {
    Uart16550 uart([this](std::string_view s) {
      std::lock_guard lock(mu_);
      console_.append(s);
    });
    I8042 keyboard([&] {  // the reset line: the guest rebooted, which for a microVM means it is done
      done_ = true;
      cpu.stop();
    });
    cpu.on_io = [&](kvm::IoExit& io) { uart.handle(io) || keyboard.handle(io); };
    try {
      cpu.run(Clock::time_point::max());
    } catch (const std::exception& e) {
      std::lock_guard lock(mu_);
      error_ = e.what();
    }
    done_ = true;
    --running_;
  }

  void check_alive() {
    if (!done_) return;
    InitFailed f(0, 0, "");
    if (channel_->failed(&f)) throw f;
    std::lock_guard lock(mu_);
    throw BootError("the VM stopped" + (error_.empty() ? std::string() : ": " + error_) + "\nlast kernel messages:\n" +
                    (console_.size() > 3000 ? console_.substr(console_.size() - 3000) : console_));
  }

  // Kicks every vCPU out of KVM_RUN until all threads have left it (a kick can land just before
  // a thread enters KVM_RUN, so one is not enough), then joins them.
  void stop() {
    while (running_ > 0) {
      for (kvm::Vcpu* c : cpus_) c->kick();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (std::thread& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
    done_ = true;
  }

  kvm::System kvm_;
  kvm::Machine vm_;
  std::vector<kvm::Vcpu*> cpus_;
  std::optional<Channel> channel_;
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::string console_, error_;
  std::atomic<bool> done_{false};
  std::atomic<int> running_{0};
};

}  // namespace crumble::vm
