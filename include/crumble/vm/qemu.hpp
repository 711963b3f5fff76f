// crumble/vm/qemu.hpp — the QEMU engine: a microVM in a qemu-system-x86_64 process.
//
// Guest RAM is a file in a private temporary directory (memory-backend-file, share=on) that this
// process maps too, so the protocol's regions are plain shared memory: the kernel command line
// reserves them (memmap=) and init reaches them through /dev/mem. The kernel's serial console
// goes to a log file. No network, no disks, no display. The temporary directory (RAM file,
// initramfs, logs) goes away with the QemuMachine, and the QEMU process is killed if still alive.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>

#include "channel.hpp"
#include "guest.hpp"
#include "process.hpp"

namespace crumble::vm {

struct QemuOptions : GuestOptions {
  std::string binary = "qemu-system-x86_64";
  std::string accel = "tcg";              // "kvm" where the host has VMX/SVM
};

class QemuMachine {
 public:
  // The smallest guest RAM: the protocol window sits at 128 MiB and the initrd above it.
  static constexpr std::uint32_t min_memory_mib = 192;

  explicit QemuMachine(const QemuOptions& o) : opt_(o) {
    if (o.memory_mib < min_memory_mib) throw ConfigError("memory must be at least " + std::to_string(min_memory_mib) + " MiB");
    const std::uint64_t ram = std::uint64_t{o.memory_mib} << 20;
    const std::uint64_t initrd_room = ram - (protocol::window_base + protocol::window_size);
    if (o.initramfs.size() + (8 << 20) > initrd_room)
      throw ConfigError("the initramfs (" + std::to_string(o.initramfs.size() >> 20) + " MiB) does not fit above the protocol window in " +
                        std::to_string(o.memory_mib) + " MiB of RAM: give the VM more memory");
    ram_path_ = dir_.path() / "ram";
    initrd_path_ = dir_.path() / "initramfs.cpio";
    serial_path_ = dir_.path() / "serial.log";
    qemu_log_ = dir_.path() / "qemu.log";
    write_file(initrd_path_, o.initramfs);

    fd_ = ::open(ram_path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0 || ::ftruncate(fd_, static_cast<off_t>(ram)) != 0)
      throw VmError("cannot create guest RAM file " + ram_path_.string() + ": " + std::strerror(errno));
    void* w = ::mmap(nullptr, protocol::window_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, protocol::window_base);
    if (w == MAP_FAILED) throw VmError(std::string("cannot map guest RAM: ") + std::strerror(errno));
    window_ = static_cast<std::uint8_t*>(w);
    channel_.emplace(window_ + (protocol::mailbox_phys - protocol::window_base), window_ + (protocol::config_phys - protocol::window_base),
                     [this] { check_alive(); });
    channel_->write_clock();

    qemu_.emplace(command_line(ram), qemu_log_);
  }
  QemuMachine(const QemuMachine&) = delete;
  QemuMachine& operator=(const QemuMachine&) = delete;
  ~QemuMachine() {
    qemu_.reset();  // kills QEMU if it is still running
    if (window_) ::munmap(window_, protocol::window_size);
    if (fd_ >= 0) ::close(fd_);
  }

  Channel& channel() { return *channel_; }

  // Asks init to power off and waits for QEMU to end; kills it after `grace`.
  void shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds(5000)) {
    if (!qemu_ || !qemu_->running()) return;
    channel_->poweroff();
    if (!qemu_->wait_for(grace)) qemu_->kill();
  }
  void kill() {
    if (qemu_) qemu_->kill();
  }
  bool running() { return qemu_ && qemu_->running(); }

  // What the kernel printed on the serial console so far.
  std::string kernel_log() const { return read_file(serial_path_); }
  const std::vector<std::string>& argv() const { return argv_; }
  const std::filesystem::path& directory() const { return dir_.path(); }

  // The kernel command line crumble boots with (before the user's additions).
  static std::string base_cmdline() {
    char window[64];
    std::snprintf(window, sizeof window, "memmap=%lluM$0x%llx", static_cast<unsigned long long>(protocol::window_size >> 20),
                  static_cast<unsigned long long>(protocol::window_base));
    std::string line = std::string("console=ttyS0 reboot=k panic=-1 nokaslr quiet rdinit=/init ") + window;
    // microvm has no reference clock the kernel can calibrate the TSC against; under software
    // emulation the calibration then stalls the boot, often for good. The guest's TSC ticks at
    // the host's rate (TCG reads the host's, KVM passes it through), so say what it is.
    if (std::uint64_t khz = host_tsc_khz()) line += " tsc_early_khz=" + std::to_string(khz) + " tsc=reliable";
    return line;
  }

  // The host's TSC rate in kHz, from /proc/cpuinfo ("cpu MHz"); 0 if unknown.
  static std::uint64_t host_tsc_khz() {
    std::ifstream in("/proc/cpuinfo");
    std::string l;
    while (std::getline(in, l))
      if (l.rfind("cpu MHz", 0) == 0) {
        auto colon = l.find(':');
        if (colon == std::string::npos) return 0;
        try {
          return static_cast<std::uint64_t>(std::stod(l.substr(colon + 1)) * 1000);
        } catch (...) {
          return 0;
        }
      }
    return 0;
  }

 private:
  std::vector<std::string> command_line(std::uint64_t ram) {
    const std::string mib = std::to_string(opt_.memory_mib);
    std::string cmdline = base_cmdline();
    if (!opt_.append.empty()) cmdline += " " + opt_.append;
    argv_ = {opt_.binary,
             "-M", "microvm,memory-backend=mem",
             "-accel", opt_.accel,
             "-cpu", opt_.accel == "kvm" ? "host" : "max",
             "-smp", std::to_string(opt_.vcpus),
             "-m", mib + "M",
             "-object", "memory-backend-file,id=mem,size=" + std::to_string(ram >> 20) + "M,mem-path=" + ram_path_.string() + ",share=on",
             "-kernel", opt_.kernel.string(),
             "-initrd", initrd_path_.string(),
             "-append", cmdline,
             "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
             "-serial", "file:" + serial_path_.string()};
    return argv_;
  }

  // Throws when QEMU has ended (before the guest said why, or with init's own report).
  void check_alive() {
    if (qemu_ && qemu_->running()) return;
    InitFailed f(0, 0, "");
    if (channel_->failed(&f)) throw f;
    std::string log = kernel_log();
    std::string qemu_out = read_file(qemu_log_);
    throw BootError("the VM stopped (QEMU " + (qemu_ ? qemu_->exit_status() : std::string("not started")) + ")" +
                    (qemu_out.empty() ? "" : "\nQEMU said: " + tail(qemu_out, 2000)) +
                    (log.empty() ? "\nthe kernel printed nothing" : "\nlast kernel messages:\n" + tail(log, 3000)));
  }

  static std::string tail(const std::string& s, std::size_t n) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }
  static void write_file(const std::filesystem::path& p, const std::vector<std::uint8_t>& data) {
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    if (!out) throw VmError("cannot write " + p.string());
  }
  static std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  QemuOptions opt_;
  TempDir dir_;
  std::filesystem::path ram_path_, initrd_path_, serial_path_, qemu_log_;
  int fd_ = -1;
  std::uint8_t* window_ = nullptr;
  std::optional<Channel> channel_;
  std::optional<ChildProcess> qemu_;
  std::vector<std::string> argv_;
};

}  // namespace crumble::vm
