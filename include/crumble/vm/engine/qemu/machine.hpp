// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/qemu/machine.hpp — the QEMU engine: a microVM in a qemu-system-x86_64 process,
// or for an ARM64 or RISC-V 64 guest (QemuOptions::arch) a `virt` machine in qemu-system-aarch64 /
// -riscv64 under software emulation, booted with crumble's own device tree and layout (virt_boot.hpp).
//
// Guest RAM is a file in a private temporary directory (memory-backend-file, share=on) that this
// process maps too, so the protocol's regions are plain shared memory: the kernel command line
// reserves them (memmap=) and init reaches them through /dev/mem. The kernel's serial console
// goes to a log file. No display; for containers (GuestOptions::root_disk_slot, shares) a
// read-only virtio-blk disk and virtio-fs shares, each served by a virtiofsd (virtiofsd.hpp) that
// lives and dies with the machine; with GuestOptions::network a virtio-net device on QEMU's
// user-mode network (slirp: no privileges, no host interface), its published ports forwarded by
// slirp (hostfwd). The temporary directory (RAM file,
// initramfs, logs) goes away with the QemuMachine, and the QEMU process is killed if still alive.
//
// QEMU runs *in* that directory and is told only names relative to it ("ram", "qmp.sock"): the
// directory's path ($TMPDIR) never goes into QEMU's comma-separated options, a shell command or
// JSON, so no character in it can break them. Migration streams pass as file descriptors (QMP
// getfd), so QEMU itself reports a failed write (a full disk) instead of a shell's `cat`.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cpuid.h>

#include <fstream>
#include <memory>
#include <cstring>
#include <optional>
#include <random>
#include <sstream>

#include "../../protocol/channel.hpp"
#include "../console_log.hpp"
#include "../options.hpp"
#include "../../host/fd.hpp"
#include "../../host/input_file.hpp"
#include "../../host/process.hpp"
#include "../../guest/arch.hpp"
#include "../../guest/device_tree.hpp"
#include "machine_tree.hpp"
#include "qmp.hpp"
#include "virt_boot.hpp"
#include "virtiofsd.hpp"
#include "../../snapshot/format.hpp"

namespace crumble::vm {

// GuestOptions::restore_from: QEMU takes the device state by incoming migration; guest RAM is a
// copy of the snapshot's memory file.
struct QemuOptions : GuestOptions {
  std::string binary = "qemu-system-x86_64";  // for a foreign arch left at this: that arch's qemu-system-*
  std::string accel = "tcg";              // "kvm" where the host has VMX/SVM
  std::string virtiofsd = default_virtiofsd;  // the file server for GuestOptions::shares
  GuestArch arch = GuestArch::amd64;      // the guest's; arm64 and riscv64 run on QEMU's virt machines under TCG
  // The CPU QEMU models for an ARM64 guest: cortex-a72 boots Debian's kernel in 1.4 s here, `max`
  // in 8 s (it emulates pointer authentication with QARMA; `max,pauth-impdef=on`: 2 s).
  std::string arm64_cpu = "cortex-a72";
  std::string riscv64_cpu = "rv64";
};

class QemuMachine {
 public:
  // The smallest guest RAM: the protocol window sits at 128 MiB and the initrd above it.
  static constexpr std::uint32_t min_memory_mib = 192;
  // The disk in the root slot when GuestOptions::root_disk is empty: zeros, served by QEMU's
  // null-co block driver (no file: a sparse 1 TiB file would need a file system that allows one).
  // The root disk's capacity as the guest knows it: the placeholder a snapshot is saved with is
  // this large, and its driver is bound before the save, so a root disk restored in its place
  // must not be larger. Smaller is fine: erofs reads only its own blocks, and init drops the
  // placeholder's cached ones first.
  static constexpr off_t placeholder_disk_bytes = off_t{1} << 40;

  explicit QemuMachine(const QemuOptions& o) : opt_(o) {
    if (o.memory_mib < min_memory_mib) throw ConfigError("memory must be at least " + std::to_string(min_memory_mib) + " MiB");
    if (foreign()) check_foreign();
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
    if (!o.published.empty()) opt_.network = true;  // publishing a port needs the network
    check_published_ports(o.published);  // before QEMU: its own error would come only at start
    if (!o.shares.empty() && !o.restore_from.empty())
      throw ConfigError("a machine with virtio-fs shares cannot be restored from a snapshot: QEMU 7.2 cannot migrate vhost-user-fs devices");
    for (std::size_t i = 0; i < o.shares.size(); ++i) {
      check_share(o.shares[i], o.virtiofsd);
      for (std::size_t j = 0; j < i; ++j)
        if (o.shares[j].tag == o.shares[i].tag) throw ConfigError("two virtio-fs shares have the tag '" + o.shares[i].tag + "'");
    }
    try {
      attach_root_disk();
      start(ram);
    } catch (...) {
      release();  // the destructor does not run for a constructor that throws
      throw;
    }
  }

  ~QemuMachine() { release(); }
  QemuMachine(const QemuMachine&) = delete;
  QemuMachine& operator=(const QemuMachine&) = delete;

 private:
  void start(std::uint64_t ram) {
    const QemuOptions& o = opt_;
    // The RAM file is sparse: the guest fills it as it touches its memory. On a file system
    // without room for it QEMU dies of SIGBUS mid-run; say so before the boot instead.
    struct statvfs fs {};
    if (::statvfs(dir_.path().c_str(), &fs) == 0 && std::uint64_t{fs.f_bavail} * fs.f_frsize < ram)
      throw ConfigError("the guest's RAM file needs " + std::to_string(ram >> 20) + " MiB but " + temp_root().string() + " has " +
                        std::to_string((std::uint64_t{fs.f_bavail} * fs.f_frsize) >> 20) +
                        " MiB free: set TMPDIR to a directory with more room, or give the VM less memory");
    fd_ = ::open(ram_path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0 || ::ftruncate(fd_, static_cast<off_t>(ram)) != 0)
      throw VmError("cannot create guest RAM file " + ram_path_.string() + ": " + std::strerror(errno));
    // The pages this process writes (the protocol window) get their disk space now: a write to a
    // shared mapping of a hole the file system cannot fill is a SIGBUS in *this* process.
    if (int e = ::posix_fallocate(fd_, static_cast<off_t>(protocol::window_base), static_cast<off_t>(protocol::window_size)); e != 0)
      throw ConfigError("cannot reserve the protocol window in the guest's RAM file " + ram_path_.string() + ": " + std::strerror(e) +
                        " (set TMPDIR to a directory with more room)");
    void* w = ::mmap(nullptr, protocol::window_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, protocol::window_base);
    if (w == MAP_FAILED) throw VmError(std::string("cannot map guest RAM: ") + std::strerror(errno));
    window_ = static_cast<std::uint8_t*>(w);
    channel_.emplace(window_ + (protocol::mailbox_phys - protocol::window_base), window_ + (protocol::config_phys - protocol::window_base),
                     [this] { check_alive(); });
    if (foreign()) prepare_virt_boot();  // cold or restored: the device tree (and, cold, what the loaders place)
    if (o.restore_from.empty()) {
      channel_->write_clock();
      if (opt_.network) write_network();
      if (o.hold_after_phase_6) channel_->request_hold();
      for (std::size_t i = 0; i < o.shares.size(); ++i)
        virtiofsd_.push_back(std::make_unique<Virtiofsd>(o.shares[i], dir_.path(), "fs" + std::to_string(i), o.virtiofsd));
      qemu_.emplace(command_line(), qemu_log_, dir_.path());
      return;
    }
    try {
      restore(o.restore_from);
    } catch (const SnapshotError&) {
      throw;
    } catch (const ConfigError&) {
      throw;
    } catch (const VmError& e) {
      throw SnapshotError("cannot restore the snapshot " + o.restore_from.string() + ": " + e.what());
    }
  }

 public:
  // A root disk the slot can take (a readable regular file, not larger than the placeholder), as
  // its real path; a ConfigError naming the problem otherwise. (Session checks before a cold boot
  // that saves with the placeholder first.)
  static std::filesystem::path checked_root_disk(const std::filesystem::path& path) {
    std::error_code ec;
    const std::filesystem::path disk = std::filesystem::canonical(path, ec);
    if (ec || !std::filesystem::is_regular_file(disk, ec))
      throw ConfigError("the root disk " + path.string() + " does not exist or is not a regular file");
    if (::access(disk.c_str(), R_OK) != 0) throw ConfigError("the root disk " + path.string() + " cannot be read: " + std::strerror(errno));
    if (std::filesystem::file_size(disk, ec) > static_cast<std::uintmax_t>(placeholder_disk_bytes) && !ec)
      throw ConfigError("the root disk " + path.string() + " is larger than the 1 TiB a container's root may be");
    return disk;
  }

 private:
  // root.img in our directory (QEMU is told only that name): a link to the caller's disk. The
  // placeholder a snapshot is saved with needs no file (devices_command_line: null-co).
  void attach_root_disk() {
    if (!opt_.root_disk_slot) {
      if (!opt_.root_disk.empty()) throw ConfigError("a root disk was given without the root disk slot (GuestOptions::root_disk_slot)");
      return;
    }
    if (opt_.root_disk.empty()) return;
    const std::filesystem::path img = dir_.path() / "root.img";
    const std::filesystem::path disk = checked_root_disk(opt_.root_disk);
    std::error_code ec;
    std::filesystem::create_symlink(disk, img, ec);
    if (ec) throw VmError("cannot link the root disk " + disk.string() + " as " + img.string() + ": " + ec.message());
  }

  void release() {
    qmp_.close();
    qemu_.reset();  // kills QEMU if it is still running
    virtiofsd_.clear();  // after QEMU: its file servers
    if (window_) ::munmap(window_, protocol::window_size);
    window_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 public:

  // Why RISC-V 64 guests are not saved: QEMU (7.2, and until patches posted in September 2025)
  // migrates neither the ACLINT timer's time_delta nor the CPU's Sstc timer, so a restored guest
  // idling in WFI may wait for a timer that never fires (here: one restore in three or four did
  // not answer within 30 s).
  static constexpr const char* riscv_not_saved =
      "QEMU does not migrate RISC-V timers (the ACLINT's time_delta, the Sstc timer): a restored guest may never wake";

  // QEMU does not migrate guest RAM: it is the shared file, which the snapshot keeps itself.
  static constexpr const char* ignore_shared_ram =
      "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":[{\"capability\":\"x-ignore-shared\",\"state\":true}]}}";

  // Saves the running guest (paused meanwhile, then it goes on) in the snapshot format of
  // snapshot/format.hpp: the state file holds QEMU's device state (migration with x-ignore-shared: QEMU
  // does not copy RAM, which is the shared file) and the mode; guest RAM goes to the sparse
  // memory file beside it. `mode` says where init is: holding after phase 6 (early) or waiting
  // in its command loop (late).
  void save(const std::filesystem::path& state, SnapshotMode mode) {
    if (opt_.arch == GuestArch::riscv64) throw ConfigError(std::string("a RISC-V 64 guest cannot be saved: ") + riscv_not_saved);
    if (!opt_.shares.empty())
      throw ConfigError("a machine with virtio-fs shares cannot be saved: QEMU 7.2 cannot migrate vhost-user-fs devices");
    qmp("{\"execute\":\"stop\"}");
    try {
      save_stopped(state, mode);
    } catch (...) {
      resume_or_kill();
      throw;
    }
    resume_or_kill();
  }

 private:
  // The guest runs again after a save, or is gone (BootError): a guest left stopped would make
  // the next command wait for its whole timeout.
  void resume_or_kill() {
    try {
      qmp("{\"execute\":\"cont\"}");
      if (qmp("{\"execute\":\"query-status\"}").find("\"status\": \"running\"") != std::string::npos) return;
    } catch (const VmError&) {
    }
    kill();
    throw BootError("the guest could not be resumed after a snapshot was saved; it has been stopped");
  }

  void save_stopped(const std::filesystem::path& state, SnapshotMode mode) {
    const std::filesystem::path stream = dir_.path() / "outgoing.migration";
    // QEMU writes the stream into a file we opened and hand over, so a failed write (ENOSPC) is
    // QEMU's own error and ends the migration as "failed"; a shell pipe would hide it.
    const Fd out{::open(stream.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
    if (out.get() < 0) throw VmError("cannot create " + stream.string() + ": " + std::strerror(errno));
    qmp(ignore_shared_ram);
    qmp_.execute_with_fd("{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"outgoing\"}}", out.get());
    qmp("{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"fd:outgoing\"}}");
    const auto until = Clock::now() + std::chrono::seconds(60);
    while (true) {
      const std::string st = qmp("{\"execute\":\"query-migrate\"}");
      if (st.find("\"completed\"") != std::string::npos) break;
      if (st.find("\"failed\"") != std::string::npos) {
        std::filesystem::remove(stream);
        throw VmError("QEMU could not save the guest: " + st);
      }
      if (Clock::now() > until) throw GuestTimeout("QEMU did not finish saving the guest within 60 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    snapshot::Sections sections;
    sections["qemu.migration"] = read_bytes(stream);
    std::filesystem::remove(stream);
    if (sections["qemu.migration"].empty()) throw VmError("QEMU reported the save complete but wrote no migration stream");
    snapshot::put_mode(sections, mode);
    const std::uint64_t ram = std::uint64_t{opt_.memory_mib} << 20;
    void* p = ::mmap(nullptr, ram, PROT_READ, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) throw VmError(std::string("cannot map guest RAM to save it: ") + std::strerror(errno));
    try {
      snapshot::write(state, sections, static_cast<const std::uint8_t*>(p), ram, fingerprint(opt_));
    } catch (...) {
      ::munmap(p, ram);
      throw;
    }
    ::munmap(p, ram);
  }

 public:
  // What a QEMU snapshot depends on besides the guest (which the cache key covers): the QEMU
  // binary (its path, size and time: an upgrade changes them), how it runs the guest, the CPU.
  static std::string fingerprint(const QemuOptions& o) {
    std::filesystem::path bin = binary_for(o);
    if (bin.string().find('/') == std::string::npos) {
      const char* path = std::getenv("PATH");
      std::string dirs = path ? path : "/usr/bin:/bin";
      for (std::size_t at = 0; at <= dirs.size();) {
        const std::size_t end = std::min(dirs.find(':', at), dirs.size());
        std::filesystem::path candidate = std::filesystem::path(dirs.substr(at, end - at)) / bin;
        if (::access(candidate.c_str(), X_OK) == 0) {
          bin = candidate;
          break;
        }
        at = end + 1;
      }
    }
    std::error_code ec;
    if (auto real = std::filesystem::canonical(bin, ec); !ec) bin = real;  // /bin and /usr/bin are one on merged-/usr hosts
    struct stat st {};
    ::stat(bin.c_str(), &st);
    unsigned a = 0, b = 0, c = 0, d = 0;
    __cpuid(1, a, b, c, d);
    const std::string machine = o.arch == GuestArch::amd64 ? "microvm" : "virt " + std::string(arch_info(o.arch).name) + " cpu " + cpu_for(o);
    return "qemu " + bin.string() + " size " + std::to_string(st.st_size) + " mtime " + std::to_string(st.st_mtim.tv_sec) +
           " machine " + machine + " accel " + o.accel + " cpu-signature " + std::to_string(a);
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
  // The file servers of GuestOptions::shares, in that order.
  const std::vector<std::unique_ptr<Virtiofsd>>& file_servers() const { return virtiofsd_; }

  // What the kernel printed on the serial console so far: the head and tail of serial.log
  // (ConsoleLog::read_file), never the whole file, which grows for as long as the guest writes.
  // (QEMU's file chardev has no size limit, so the file itself is bounded only by the guest's
  // lifetime: a guest that floods its console under TCG writes a few MB/s to the TMPDIR.)
  std::string kernel_log() const { return ConsoleLog::read_file(serial_path_).text(); }
  const std::vector<std::string>& argv() const { return argv_; }
  const std::filesystem::path& directory() const { return dir_.path(); }

  // The kernel command line crumble boots with (before the user's additions).
  static std::string base_cmdline() {
    std::string line = "console=ttyS0 reboot=k panic=-1 nokaslr quiet rdinit=/init " + protocol_window_memmap();
    // microvm has no reference clock the kernel can calibrate the TSC against; under software
    // emulation the calibration then stalls the boot, often for good. The guest's TSC ticks at
    // the host's rate (TCG reads the host's, KVM passes it through), so say what it is.
    if (std::uint64_t khz = host_tsc_khz()) line += " tsc_early_khz=" + std::to_string(khz) + " tsc=reliable";
    return line;
  }

  // The same for a guest of `arch`.
  static std::string base_cmdline(GuestArch arch) { return arch == GuestArch::amd64 ? base_cmdline() : virt::cmdline(arch); }

  // The CPU model of a foreign guest.
  static std::string cpu_for(const QemuOptions& o) { return o.arch == GuestArch::riscv64 ? o.riscv64_cpu : o.arm64_cpu; }

  // The QEMU binary for these options: QemuOptions::binary, or for a foreign guest whose binary was
  // left at the x86 default, its architecture's.
  static std::string binary_for(const QemuOptions& o) {
    if (o.arch != GuestArch::amd64 && o.binary == QemuOptions{}.binary) return std::string(arch_info(o.arch).qemu_binary);
    return o.binary;
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
  std::vector<std::string> command_line() {
    const std::string mib = std::to_string(opt_.memory_mib);
    const std::uint64_t ram = std::uint64_t{opt_.memory_mib} << 20;
    std::string cmdline = base_cmdline();
    if (!opt_.append.empty()) cmdline += " " + opt_.append;
    if (foreign()) {
      virt_command_line();
      return devices_command_line();
    }
    argv_ = {opt_.binary,
             "-M", "microvm,memory-backend=mem",
             "-accel", opt_.accel,
             "-cpu", opt_.accel == "kvm" ? "host" : "max",
             "-smp", std::to_string(opt_.vcpus),
             "-m", mib + "M",
             "-object", "memory-backend-file,id=mem,size=" + std::to_string(ram >> 20) + "M,mem-path=ram,share=on",
             "-kernel", kernel_arg(),
             "-initrd", "initramfs.cpio",
             "-append", cmdline,
             "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
             "-serial", "file:serial.log",
             "-qmp", "unix:qmp.sock,server=on,wait=off"};
    return devices_command_line();
  }

  // The machine part of an ARM64 guest's command line (virt_boot.hpp): virt with a GICv3, its RAM
  // the shared file, crumble's device tree, and on a cold boot the loaders that place the kernel,
  // the initramfs and the boot stub (where the CPU starts). A restore loads none of them: they
  // would overwrite the restored RAM.
  void virt_command_line() {
    const std::string mib = std::to_string(opt_.memory_mib);
    argv_ = {binary_for(opt_),
             "-M", virt_machine() + ",memory-backend=mem",
             "-accel", opt_.accel,
             "-cpu", cpu_for(opt_),
             "-smp", std::to_string(opt_.vcpus),
             "-m", mib + "M",
             "-object", "memory-backend-file,id=mem,size=" + mib + "M,mem-path=ram,share=on",
             "-dtb", "machine.dtb"};
    if (opt_.arch == GuestArch::riscv64) {
      // OpenSBI and the kernel by QEMU (cold); on a restore neither: both live in the restored RAM.
      if (opt_.restore_from.empty()) {
        for (const std::string& a : {std::string("-bios"), std::string("default"), std::string("-kernel"), kernel_arg(), std::string("-device"),
                                     "loader,file=initramfs.cpio,addr=" + hex(layout_.initrd_start) + ",force-raw=on"})
          argv_.push_back(a);
      } else {  // not reached while save() refuses RISC-V (riscv_not_saved); what a restore needs once QEMU migrates the timers
        argv_.push_back("-bios");
        argv_.push_back("none");
      }
    } else if (opt_.restore_from.empty()) {
      for (const std::string& a : {std::string("-device"), "loader,file=" + kernel_arg() + ",addr=" + hex(layout_.kernel) + ",force-raw=on",
                                   std::string("-device"), "loader,file=initramfs.cpio,addr=" + hex(layout_.initrd_start) + ",force-raw=on",
                                   std::string("-device"), "loader,file=boot.bin,addr=" + hex(layout_.stub) + ",cpu-num=0,force-raw=on"})
        argv_.push_back(a);
    }
    for (const char* a : {"-nodefaults", "-no-user-config", "-nographic", "-no-reboot", "-serial", "file:serial.log", "-qmp",
                          "unix:qmp.sock,server=on,wait=off"})
      argv_.push_back(a);
  }

  static std::string hex(std::uint64_t v) {
    char b[24];
    std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
    return b;
  }

  bool foreign() const { return opt_.arch != GuestArch::amd64; }

  // QEMU's machine for a foreign guest: virt (ARM64: with a GICv3, as `-cpu max` would want).
  static std::string virt_machine(GuestArch arch) { return arch == GuestArch::arm64 ? "virt,gic-version=3" : "virt"; }
  std::string virt_machine() const { return virt_machine(opt_.arch); }

  // Before anything is made: the foreign guest's QEMU installed.
  void check_foreign() const {
    const GuestArchInfo& a = arch_info(opt_.arch);
    const std::string bin = binary_for(opt_);
    const std::vector<std::string> probe = {"sh", "-c", "command -v \"$1\"", "sh", bin};
    if (run_process(probe, std::chrono::seconds(10)).status != 0)
      throw ConfigError(bin + " not found: " + std::string(a.display) + " guests need it (apt-get install " + std::string(a.qemu_package) + ")");
  }

  // A foreign guest's device tree (and ARM64's boot stub), in our directory: QEMU's own tree for this machine
  // (-machine dumpdtb, the same CPU, memory and vCPUs; kept between starts: machine_tree.hpp), with
  // crumble's nodes (device_tree.hpp) and fresh random bytes for the kernel (/chosen rng-seed).
  void prepare_virt_boot() {
    const std::string mib = std::to_string(opt_.memory_mib);
    const std::vector<std::string> dump = {binary_for(opt_), "-M", virt_machine() + ",dumpdtb=machine-qemu.dtb", "-accel", opt_.accel,
                                           "-cpu", cpu_for(opt_), "-smp", std::to_string(opt_.vcpus), "-m", mib + "M",
                                           "-nodefaults", "-no-user-config", "-nographic"};
    std::vector<std::uint8_t> machine;
    try {
      machine = qemu::machine_tree(machine_tree_key(opt_), [&] {
        const ProcessResult r = run_process(dump, std::chrono::seconds(30), dir_.path());
        const std::filesystem::path dumped = dir_.path() / "machine-qemu.dtb";
        std::error_code ec;
        if (!std::filesystem::is_regular_file(dumped, ec))
          throw VmError("QEMU wrote no device tree (`" + command_text(dump) + "` exit status " + std::to_string(r.status) + "): " +
                        tail_lines(r.err.empty() ? r.out : r.err));
        return read_bytes(dumped);
      }, &machine_tree_hit_);
    } catch (const DeviceTreeError& e) {
      throw VmError(std::string("cannot make the guest's device tree from QEMU's: ") + e.what());
    }
    // Only the Image header (its image_size); opened through input_file.hpp: a FIFO is refused, not waited on.
    std::vector<std::uint8_t> header(64);
    {
      const InputFile k = open_input<ConfigError>(opt_.kernel, "kernel image");
      if (k.size() < header.size()) throw ConfigError("the kernel " + opt_.kernel.string() + " is too short for an Image header");
      k.read_at<ConfigError>(0, header.data(), header.size());
    }
    layout_ = virt::layout(opt_.arch, std::uint64_t{opt_.memory_mib} << 20, virt::image_size(header), opt_.initramfs.size());
    std::string cmdline = base_cmdline(opt_.arch);
    if (!opt_.append.empty()) cmdline += " " + opt_.append;
    DeviceTreeAdditions add = virt::additions(layout_, cmdline);
    add.rng_seed.resize(rng_seed_bytes);
    std::random_device random;
    for (std::size_t i = 0; i < add.rng_seed.size(); i += 4) {
      const std::uint32_t v = random();
      std::memcpy(add.rng_seed.data() + i, &v, 4);
    }
    try {
      write_file(dir_.path() / "machine.dtb", build_device_tree(machine, add));
    } catch (const DeviceTreeError& e) {
      throw VmError(std::string("cannot make the guest's device tree from QEMU's: ") + e.what());
    }
    if (opt_.arch == GuestArch::arm64) write_file(dir_.path() / "boot.bin", virt::arm64_boot_stub(layout_.dtb, layout_.kernel));
  }

  // The random bytes each boot's /chosen rng-seed gets: as many as QEMU gives (32).
  static constexpr std::size_t rng_seed_bytes = 32;

 public:
  // Everything QEMU's tree for this guest's machine depends on (machine_tree.hpp's key): the QEMU
  // binary (fingerprint: its real path, size and mtime), the machine and CPU, the accelerator, and
  // the memory and vCPUs the tree describes.
  static std::string machine_tree_key(const QemuOptions& o) {
    return fingerprint(o) + " " + virt_machine(o.arch) + " memory " +
           std::to_string(o.memory_mib) + "M smp " + std::to_string(o.vcpus);
  }
  // Whether this start's machine tree came from the cache (a foreign guest's; false for amd64).
  bool machine_tree_hit() const { return machine_tree_hit_; }

 private:
  // The devices, after the machine's part of the command line (either machine's).
  std::vector<std::string> devices_command_line() {
    // Devices sit on microvm's virtio-mmio transports, which its ACPI tables describe (Debian's
    // kernel has no virtio_mmio.device= parsing). Their order is the migration stream's: the root
    // slot is always the first device, so a snapshot restores whichever disk fills it.
    // Modern (virtio 1.0) transports: microvm's are legacy by default, which virtiofsd's
    // libvhost-user refuses ("virtio legacy devices aren't supported"); the disk gets the same
    // transport, so a snapshot is the same machine with or without shares.
    if (opt_.root_disk_slot || !opt_.shares.empty() || opt_.network) {
      argv_.push_back("-global");
      argv_.push_back("virtio-mmio.force-legacy=false");
    }
    if (opt_.root_disk_slot) {
      // The drive's back end is not in the migration stream, only the device: a snapshot saved
      // with the placeholder's zeros restores with the caller's file in the same slot.
      argv_.push_back("-drive");
      argv_.push_back(opt_.root_disk.empty()
                          ? "if=none,id=root,driver=null-co,size=" + std::to_string(placeholder_disk_bytes) + ",read-zeroes=on,readonly=on"
                          : std::string("if=none,id=root,file=root.img,format=raw,readonly=on"));
      argv_.push_back("-device");
      argv_.push_back("virtio-blk-device,drive=root");
    }
    for (std::size_t i = 0; i < opt_.shares.size(); ++i) {
      const std::string id = "fs" + std::to_string(i);  // the tag is checked: no comma (check_share)
      for (const std::string& a : {std::string("-chardev"), "socket,id=" + id + ",path=" + id + ".sock", std::string("-device"),
                                   "vhost-user-fs-device,chardev=" + id + ",tag=" + opt_.shares[i].tag})
        argv_.push_back(a);
    }
    // The network last: the devices before it keep their places (and snapshots) with or without
    // it. The published ports are slirp's hostfwd rules, set when QEMU starts, also when it
    // restores a snapshot saved with other rules (they are not part of the migrated state).
    if (opt_.network) {
      std::string netdev = "user,id=net0,ipv6=off,net=" + dotted(protocol::config::slirp_network) + "/" +
                           std::to_string(protocol::config::slirp_prefix) + ",host=" + dotted(protocol::config::slirp_gateway) +
                           ",dns=" + dotted(protocol::config::slirp_dns) + ",dhcpstart=" + dotted(protocol::config::slirp_guest);
      for (const PublishedPort& p : opt_.published) netdev += ",hostfwd=" + p.hostfwd(dotted(protocol::config::slirp_guest));
      for (const std::string& a : {std::string("-netdev"), netdev, std::string("-device"), std::string("virtio-net-device,netdev=net0")})
        argv_.push_back(a);
    }
    if (!opt_.restore_from.empty()) {
      argv_.push_back("-incoming");
      argv_.push_back("defer");  // the capabilities must match the saving side's first
    }
    return argv_;
  }

  // An IPv4 address (a number, as the layout's rows) as QEMU takes it: "10.0.2.15".
  static std::string dotted(std::uint32_t a) {
    return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." + std::to_string((a >> 8) & 0xff) + "." +
           std::to_string(a & 0xff);
  }

  // Tells init the network is on and its addresses (protocol::config::network), before the boot:
  // each address in network byte order, the magic last.
  void write_network() {
    std::uint8_t* n = window_ + (protocol::config_phys - protocol::window_base) + protocol::config::network;
    auto put = [&](std::uint32_t at, std::uint32_t address) {
      for (int i = 0; i < 4; ++i) n[at + i] = static_cast<std::uint8_t>(address >> (24 - 8 * i));
    };
    const std::uint32_t mask = ~std::uint32_t{0} << (32 - protocol::config::slirp_prefix);
    put(protocol::config::network_address, protocol::config::slirp_guest);
    put(protocol::config::network_netmask, mask);
    put(protocol::config::network_gateway, protocol::config::slirp_gateway);
    put(protocol::config::network_dns, protocol::config::slirp_dns);
    for (int i = 0; i < 4; ++i) n[protocol::config::network_magic_at + i] = static_cast<std::uint8_t>(protocol::config::network_magic >> (8 * i));
  }

  // The kernel's path for QEMU, which runs in our directory: absolute. -kernel is a plain file
  // name, but QEMU would still read a comma as an option separator in it; refuse one.
  std::string kernel_arg() const {
    const std::string k = std::filesystem::absolute(opt_.kernel).string();
    if (k.find(',') != std::string::npos) throw ConfigError("the kernel's path has a comma, which QEMU cannot take: " + k);
    return k;
  }

  // Throws when QEMU has ended (before the guest said why, or with init's own report).
  void check_alive() {
    if (qemu_ && qemu_->running()) return;
    InitFailed f(0, 0, "");
    if (channel_->failed(&f)) throw f;
    std::string log = kernel_log();
    std::string qemu_out = read_file(qemu_log_);
    std::string servers;
    for (const auto& v : virtiofsd_)
      if (std::string said = v->log(); !said.empty()) servers += "\nvirtiofsd for share '" + v->share().tag + "' said: " + said;
    throw BootError("the VM stopped (QEMU " + (qemu_ ? qemu_->exit_status() : std::string("not started")) + ")" +
                    (qemu_out.empty() ? "" : "\nQEMU said: " + tail(qemu_out, 2000)) + servers +
                    (log.empty() ? "\nthe kernel printed nothing" : "\nlast kernel messages:\n" + tail(log, 3000)));
  }

 public:
  // One QMP command (a JSON line) and its answer (qmp.hpp).
  std::string qmp(const std::string& command) { return qmp_.execute(command); }
  std::filesystem::path qmp_path() const { return dir_.path() / "qmp.sock"; }

 private:

  // Starts QEMU from a snapshot: RAM from its memory file, device state by incoming migration;
  // then the guest goes on from where it was saved, with fresh entropy and the time.
  void restore(const std::filesystem::path& state) {
    snapshot::Loaded l = snapshot::read(state, fingerprint(opt_));
    const Fd memory{l.memory_fd};
    const std::uint64_t ram = std::uint64_t{opt_.memory_mib} << 20;
    if (l.memory_size != ram)
      throw SnapshotError("snapshot " + state.string() + " has " + std::to_string(l.memory_size >> 20) + " MiB of guest RAM, this VM " +
                          std::to_string(opt_.memory_mib) + " MiB");
    const auto stream = l.sections.find("qemu.migration");
    if (stream == l.sections.end())
      throw SnapshotError("snapshot " + state.string() + " is not a QEMU engine snapshot (no migration stream)");
    const SnapshotMode saved_at = snapshot::get_mode(l.sections, state);
    copy_data(l.memory_fd, fd_, ram);
    const std::filesystem::path incoming = dir_.path() / "incoming.migration";
    write_file(incoming, stream->second);
    qemu_.emplace(command_line(), qemu_log_, dir_.path());
    qmp(ignore_shared_ram);
    {
      const Fd in{::open(incoming.c_str(), O_RDONLY | O_CLOEXEC)};
      if (in.get() < 0) throw VmError("cannot open " + incoming.string() + ": " + std::strerror(errno));
      qmp_.execute_with_fd("{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"incoming\"}}", in.get());
    }
    qmp("{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"fd:incoming\"}}");
    // Once the incoming migration has loaded the device state the guest is paused, as it was
    // when saved: let it go on.
    const auto until = Clock::now() + std::chrono::seconds(60);
    while (true) {
      const std::string st = qmp("{\"execute\":\"query-status\"}");
      if (st.find("\"status\": \"running\"") != std::string::npos) break;
      check_alive();
      if (Clock::now() > until) throw GuestTimeout("QEMU did not resume from the snapshot within 60 s: " + st);
      if (st.find("\"status\": \"inmigrate\"") == std::string::npos) qmp("{\"execute\":\"cont\"}");  // loaded, paused
      else std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::filesystem::remove(incoming);
    channel_->go_on_after_restore(saved_at, Clock::now() + std::chrono::seconds(30));
  }

  // Copies the data extents of a sparse file (SEEK_DATA/SEEK_HOLE), in the kernel
  // (copy_file_range); holes stay holes, so only the pages the guest had written are copied.
  static void copy_data(int in, int out, std::uint64_t size) {
    off_t at = 0;
    while (static_cast<std::uint64_t>(at) < size) {
      off_t data = ::lseek(in, at, SEEK_DATA);
      if (data < 0) break;  // ENXIO: only a hole is left
      off_t hole = ::lseek(in, data, SEEK_HOLE);
      if (hole < 0) hole = static_cast<off_t>(size);
      hole = std::min<off_t>(hole, static_cast<off_t>(size));
      off_t from = data, to = data;
      while (from < hole) {
        ssize_t n = ::copy_file_range(in, &from, out, &to, static_cast<std::size_t>(hole - from), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EXDEV || errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS)) {
          copy_range(in, out, from, hole);  // across file systems (cache on disk, RAM file on tmpfs), or no support
          break;
        }
        if (n <= 0) throw VmError(std::string("cannot copy the snapshot's guest RAM: ") + (n < 0 ? std::strerror(errno) : "short file"));
      }
      at = hole;
    }
  }

  static void copy_range(int in, int out, off_t from, off_t to) {
    std::vector<char> buf(1 << 20);
    while (from < to) {
      const ssize_t n = ::pread(in, buf.data(), std::min<std::size_t>(buf.size(), static_cast<std::size_t>(to - from)), from);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw VmError(std::string("cannot read the snapshot's guest RAM: ") + (n < 0 ? std::strerror(errno) : "short file"));
      for (ssize_t done = 0; done < n;) {
        const ssize_t w = ::pwrite(out, buf.data() + done, static_cast<std::size_t>(n - done), from + done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) throw VmError(std::string("cannot write the guest's RAM file: ") + std::strerror(errno));
        done += w;
      }
      from += n;
    }
  }

  static std::string tail(const std::string& s, std::size_t n) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }
  static std::vector<std::uint8_t> read_bytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw VmError("cannot read " + p.string());
    return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  static void write_file(const std::filesystem::path& p, const std::vector<std::uint8_t>& data) {
    // Checked after the close: a full disk shows at the flush, not at write() into the buffer.
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw VmError("cannot create " + p.string() + ": " + std::strerror(errno));
    for (std::size_t done = 0; done < data.size();) {
      const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int e = n < 0 ? errno : ENOSPC;
        ::close(fd);
        std::filesystem::remove(p);
        throw VmError("cannot write " + p.string() + ": " + std::strerror(e));
      }
      done += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0) {
      const int e = errno;
      std::filesystem::remove(p);
      throw VmError("cannot write " + p.string() + ": " + std::strerror(e));
    }
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
  std::vector<std::unique_ptr<Virtiofsd>> virtiofsd_;  // before qemu_: destroyed after it
  std::optional<ChildProcess> qemu_;
  std::vector<std::string> argv_;
  virt::Layout layout_;  // an ARM64 guest's (prepare_virt_boot)
  bool machine_tree_hit_ = false;
  QmpClient qmp_{qmp_path(), [this] { check_alive(); }};
};

}  // namespace crumble::vm
