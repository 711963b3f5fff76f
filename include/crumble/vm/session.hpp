// SPDX-License-Identifier: Apache-2.0
// crumble/vm/session.hpp — the front door: a Linux microVM that runs commands and payloads.
//
//   crumble::vm::Session vm({});               // finds the kernel, builds the initramfs, boots
//                                              // (or restores its snapshot) with the default init
//   auto r = vm.run({"uname", "-a"});          // r.out, r.err, r.status()
//   vm.run({"cat", "big"}, [](crumble::vm::Stream s, std::string_view bytes) { ... });
//                                              // output of any size, as it comes
//   auto p = vm.start({"sh"}, {.stdin_open = true, .tty = crumble::vm::TerminalSize{24, 80}});
//   p.write("ls\n"); p.output(Stream::out); p.consume(...); p.signal(SIGINT); p.resize(...);
//                                              // a process to talk to (Session::Process)
//   std::int64_t v = vm.call(crumble::assemble<crumble::arch::amd64>(program));
//   vm.shutdown();                             // or let it go out of scope
//
// A Session's engine processes die with the thread that started them (PR_SET_PDEATHSIG follows
// the forking thread): make a Session on a thread that outlives it.
//
// The engine is chosen when the session starts (choose_engine): QEMU, with KVM acceleration where
// the host has VMX/SVM and QEMU can use it, else software emulation; the in-process KVM engine when
// asked for (engine_reason() says which and why). Every wait on the
// guest has a deadline; a guest that hangs is stopped and reported as GuestTimeout.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <type_traits>
#include <utility>
#include <memory>
#include <optional>

#include <crumble/vm/guest/default_init.hpp>  // generated at build time (src/init)
#include <crumble/vm/guest/default_init_arm64.hpp>
#include <crumble/vm/guest/default_init_riscv64.hpp>

#include "engine/kvm/linux_machine.hpp"
#include "engine/qemu/kvm_probe.hpp"
#include "engine/qemu/machine.hpp"
#include "guest/arch.hpp"
#include "guest/debian_apt.hpp"
#include "guest/initramfs.hpp"
#include "guest/kernel.hpp"
#include "guest/modules.hpp"
#include "snapshot/cache.hpp"
#include "snapshot/content_hash.hpp"
#include "snapshot/restore_or_boot.hpp"

namespace crumble::vm {

enum class Engine { automatic, qemu, kvm };

struct SessionConfig {
  // The guest's architecture. A foreign one (arm64) boots Debian's kernel for it (crumble kernel
  // fetch --arch) with the init and busybox built for it, always under QEMU with software
  // emulation (TCG).
  GuestArch arch = GuestArch::amd64;
  // The init executable: the package's (rtg/init/init.go, made at build time; for a foreign arch
  // left at default_init(), that arch's build of it), or the caller's own build of an init that
  // speaks the protocol (docs/protocol.md).
  std::span<const std::uint8_t> init = default_init();
  std::filesystem::path kernel;             // empty: the cached Debian kernel (crumble kernel fetch)
  std::filesystem::path rootfs;             // empty: busybox
  std::vector<std::string> modules;         // kernel modules to load at boot, by name (dependencies follow)
  std::uint32_t memory_mib = 256;
  int vcpus = 1;
  Engine engine = Engine::automatic;
  std::string append;                       // kernel command line additions
  std::chrono::milliseconds boot_timeout{60000};
  std::chrono::milliseconds command_timeout{600000};
  // How much of each stream run() keeps (CommandResult::out_truncated says when it dropped the
  // rest). Output of any size: run() with a sink.
  std::size_t output_limit = default_output_limit;
  // Start from the snapshot cache: restore a snapshot of this exact guest, or boot cold and save
  // one (at the mode's point). A snapshot that is stale or cannot be used is removed and the
  // guest boots cold, unless snapshot_strict, which makes that an error (SnapshotError).
  SnapshotMode snapshot = SnapshotMode::late;
  std::filesystem::path snapshot_dir;       // empty: ~/.cache/crumble/snapshots
  bool snapshot_strict = false;
  // A session made with a ContainerRequest also snapshots the guest with that container set up
  // (keyed by the request, less the hostname, and the root disk file) and later restores it,
  // skipping the setup. Off for callers whose requests differ on every start (a runtime's
  // per-container /etc/hosts): each would save a snapshot never used again.
  bool container_snapshots = true;
  // Containers (the QEMU engine only). container_devices: a read-only virtio-blk root disk slot
  // and the modules a container root needs, all loaded at boot (container_boot_modules), the
  // device drivers (container_device_drivers) bound to their devices at boot too. The snapshot
  // does not depend on root_disk: it is saved with a placeholder as large as any root disk, and
  // one snapshot serves every image.
  bool container_devices = false;
  std::filesystem::path root_disk;          // an erofs image (at most 1 TiB); empty: the placeholder
  // virtio-fs volumes. A session with shares boots cold and saves nothing: QEMU 7.2 cannot
  // snapshot vhost-user-fs devices.
  std::vector<Share> shares;
  // (absolute guest path, host file): copied into the initramfs, executable (qemu-user
  // interpreters for binfmt_misc); part of the snapshot's key, by content.
  std::vector<std::pair<std::string, std::filesystem::path>> initramfs_files;
  // The network (the QEMU engine only; off by default: it costs the start a device and its
  // driver). A virtio-net device on QEMU's user-mode network (slirp); init brings eth0 up as
  // 10.0.2.15/24 with the default route via 10.0.2.2 and /etc/resolv.conf naming 10.0.2.3 (also
  // inside a container's root). The loopback is up with or without it. Part of the snapshot's key.
  bool network = false;
  // Host ports forwarded into the guest (parse_publish: docker's -p); any implies `network`.
  // Checked free before the boot (ConfigError). Not part of the snapshot's key: one snapshot
  // serves every set of ports.
  std::vector<PublishedPort> publish;
};

// The container modules loaded at boot, in the snapshot: file systems (overlay, erofs, fuse),
// binfmt_misc and the virtio-mmio transport (with virtio and virtio_ring). The device drivers
// (container_device_drivers: virtio_blk, virtiofs) load at boot too, listed in
// /crumble/container-modules.list, and bind to their devices then: the snapshot holds the disk
// bound to a placeholder as large as any root disk (QemuMachine::placeholder_disk_bytes), and the
// container request only drops its cached blocks. (Binding after a restore cost ~50 ms of every
// container start; an insmod of the transport or of virtio_blk, ~130-180 ms.)
inline const std::vector<std::string> container_boot_modules = {"overlay", "erofs", "fuse", "binfmt_misc", "virtio_mmio"};
inline const std::vector<std::string> container_device_drivers = {"virtio_blk", "virtiofs"};
// The network's modules (SessionConfig::network), loaded at boot, so the net device is bound and
// configured before any snapshot, container or not (it is the same device after every restore). AF_PACKET is built into Debian's
// kernel; a --kernel of the caller's own needs virtio_mmio and virtio_net built in.
inline const std::vector<std::string> network_boot_modules = {"virtio_mmio", "virtio_net"};

// The environment commands get unless the caller gives one.
inline std::vector<std::string> default_environment() {
  return {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/", "TERM=linux"};
}

// Whether this host can run hardware-accelerated guests: VMX or SVM in /proc/cpuinfo (the KVM
// engine's own test, so that the engine choice and the engine agree).
inline bool host_has_hardware_virtualisation() { return kvm::host_has_vmx_or_svm(); }

// Which engine a Session starts, and why (Session::engine_reason). Automatic selection runs QEMU:
// with KVM acceleration (-accel kvm -cpu host) where the host has VMX/SVM, /dev/kvm opens and QEMU
// says it can use KVM (`qemu_kvm_problem`, asked only then: nullopt for yes, else QEMU's reason),
// with software emulation (TCG) otherwise. The in-process KVM engine runs only when asked for
// (Engine::kvm): it has not yet booted a real kernel on hardware (no machine of ours has VMX/SVM),
// so it is not the default until its full-boot test has passed there. Forcing it without
// VMX/SVM is allowed (the engine then says it cannot run a Linux guest here); without /dev/kvm not.
struct EngineChoice {
  bool kvm = false;          // the in-process KVM engine; else QEMU
  std::string accel = "tcg"; // QEMU's accelerator: kvm or tcg
  std::string reason;
};
template <class Probe>
EngineChoice choose_engine(Engine requested, bool dev_kvm_opens, bool host_has_vmx_or_svm, Probe&& qemu_kvm_problem) {
  if (requested == Engine::kvm) {
    if (!dev_kvm_opens) throw ConfigError("--engine kvm: /dev/kvm cannot be opened (missing, or no permission: join the kvm group)");
    return {true, "", host_has_vmx_or_svm ? "kvm (forced; the host has VMX/SVM)" : "kvm (forced, although this host has no VMX/SVM)"};
  }
  const std::string who = requested == Engine::qemu ? "qemu (forced)" : "qemu";
  if (!host_has_vmx_or_svm) return {false, "tcg", who + " with software emulation (TCG): this host has no VMX/SVM"};
  if (!dev_kvm_opens) return {false, "tcg", who + " with software emulation (TCG): the host has VMX/SVM but /dev/kvm cannot be opened"};
  if (const std::optional<std::string> problem = qemu_kvm_problem())
    return {false, "tcg", who + " with software emulation (TCG): QEMU cannot use KVM here (" + *problem + ")"};
  return {false, "kvm", who + " with KVM acceleration: the host has VMX/SVM (the in-process KVM engine runs only with --engine kvm "
                              "until it has booted Linux on such a host)"};
}

// What Session needs of an engine's machine.
class GuestMachine {
 public:
  virtual ~GuestMachine() = default;
  virtual Channel& channel() = 0;
  virtual void shutdown() = 0;
  virtual void kill() = 0;
  virtual std::string kernel_log() const = 0;
};
template <class M>
class EngineMachine final : public GuestMachine {
 public:
  template <class Options>
  explicit EngineMachine(const Options& o) : m_(o) {}
  Channel& channel() override { return m_.channel(); }
  void shutdown() override { m_.shutdown(); }
  void kill() override { m_.kill(); }
  std::string kernel_log() const override { return m_.kernel_log(); }
  M& get() { return m_; }

 private:
  M m_;
};

class Session {
 public:
  explicit Session(const SessionConfig& c) : Session(c, nullptr) {}

  // A session whose guest is a container (ContainerRequest: its root, volumes, hostname, foreign
  // binaries) before the first command: as setup_container after the start, but with snapshots
  // on (SessionConfig::container_snapshots) the guest is restored with this container already set
  // up when an earlier session saved one, or set up and saved for the next. Not for sessions with
  // shares (volumes boot cold).
  Session(const SessionConfig& c, const ContainerRequest& container) : Session(c, &container) {}

 private:
  Session(const SessionConfig& c, const ContainerRequest* container) : cfg_(c) {
    if (c.init.empty()) throw ConfigError("no init program given (SessionConfig::init)");
    if (c.init.data() == default_init().data()) {
      if (c.arch == GuestArch::arm64) cfg_.init = default_init_arm64();
      if (c.arch == GuestArch::riscv64) cfg_.init = default_init_riscv64();
    }
    if (c.vcpus < 1 || c.vcpus > 64) throw ConfigError("vcpus must be 1 to 64");
    pick_engine();
    GuestKernel k = kernel();
    GuestOptions g;  // cold; start() decides on snapshots
    g.kernel = k.image;
    g.initramfs = initramfs(k);
    g.memory_mib = c.memory_mib;
    g.vcpus = c.vcpus;
    g.append = c.append;
    g.root_disk_slot = c.container_devices;
    g.root_disk = c.root_disk;
    g.shares = c.shares;
    g.network = c.network || !c.publish.empty();
    g.published = c.publish;
    if (use_kvm_) {
      KvmLinuxOptions o;
      static_cast<GuestOptions&>(o) = g;
      start<KvmLinuxMachine>(o, k, "kvm " + KvmLinuxMachine::default_cmdline(0));
    } else {
      QemuOptions o;
      static_cast<GuestOptions&>(o) = g;
      o.accel = accel_;
      o.arch = c.arch;
      const std::string engine =
          c.arch == GuestArch::amd64
              ? "qemu microvm serial qmp accel " + o.accel + " " + without_tsc_rate(QemuMachine::base_cmdline())
              : "qemu virt " + std::string(arch_info(c.arch).name) + " cpu " + QemuMachine::cpu_for(o) + " accel " + o.accel + " " +
                    QemuMachine::base_cmdline(c.arch);
      if (container) start_container<QemuMachine>(o, k, engine, *container);
      else start<QemuMachine>(o, k, engine);
      return;
    }
    if (container) setup_container(*container);
  }

 public:
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() {
    try {
      shutdown();
    } catch (...) {
    }
  }

  // Runs a command to its end; `timeout` defaults to the config's command_timeout. Keeps at most
  // the config's output_limit of each stream (CommandResult::out_truncated, err_truncated).
  // `options`: the user, groups, working directory and no_new_privs the command runs with
  // (CommandOptions; default: init's own, root in /).
  CommandResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env = default_environment(),
                    std::optional<std::chrono::milliseconds> timeout = {}, const CommandOptions& options = {}) {
    return guarded(
        [&] { return channel().run(argv, env, Clock::now() + timeout.value_or(cfg_.command_timeout), cfg_.output_limit, options); });
  }

  // The same, the output handed to `sink` chunk by chunk as it arrives (Channel's OutputSink:
  // sink(Stream, std::string_view)), in memory that does not grow with its size; the result's out
  // and err stay empty. A sink that throws stops the command and the VM (the guest waits for an
  // ack that will not come), and the exception goes on to the caller. (A template, so that
  // run(argv, {}) still means "no environment".)
  template <class Sink>
    requires std::is_invocable_v<Sink&, Stream, std::string_view>
  CommandResult run(const std::vector<std::string>& argv, Sink&& sink, const std::vector<std::string>& env = default_environment(),
                    std::optional<std::chrono::milliseconds> timeout = {}, const CommandOptions& options = {}) {
    const OutputSink to = std::ref(sink);
    return guarded([&] { return channel().run(argv, env, Clock::now() + timeout.value_or(cfg_.command_timeout), to, options); });
  }

  class Process;
  // Starts argv with `stdio` (stdin from the host, a terminal) and returns it to talk to while it
  // runs (Process). Up to protocol::config::process_max processes run at once. A process that
  // could not start has already ended (Process::ended() says why).
  Process start(const std::vector<std::string>& argv, const Stdio& stdio = {}, const std::vector<std::string>& env = default_environment(),
                const CommandOptions& options = {});

  // Turns the guest into a container (ContainerRequest: its root, volumes, hostname, foreign
  // binaries); later commands run inside it. Once per session; the deadline is the boot timeout.
  // A failed step is a ContainerSetupError naming it, and the session is stopped: the guest may
  // be left half set up.
  void setup_container(const ContainerRequest& request) {
    try {
      guarded([&] { channel().setup_container(request, Clock::now() + cfg_.boot_timeout); });
    } catch (const ContainerSetupError&) {
      if (machine_) {
        log_ = machine_->kernel_log();
        machine_.reset();
      }
      throw;
    }
  }

  // Calls a payload (code::Image from crumble::assemble) inside the guest; its return value. A
  // payload built for another architecture than the guest's is refused (ConfigError) before
  // anything is sent; the session goes on.
  std::int64_t call(const code::Image& payload, std::optional<std::chrono::milliseconds> timeout = {}) {
    check_payload_arch(payload.machine, cfg_.arch);
    return guarded([&] { return channel().call(payload, Clock::now() + timeout.value_or(cfg_.command_timeout)); });
  }

  // The refusal call() makes: `machine` is code::Image::machine (0, not recorded: any guest).
  static void check_payload_arch(std::uint16_t machine, GuestArch guest) {
    if (machine == 0 || machine == arch_info(guest).elf_machine) return;
    const std::optional<GuestArch> built = guest_arch_of_elf_machine(machine);
    throw ConfigError("payload built for " + (built ? std::string(arch_info(*built).display) : "ELF machine " + std::to_string(machine)) +
                      " cannot run in " + std::string(arch_info(guest).a_display) + " guest: assemble it with crumble::arch::" +
                      std::string(arch_info(guest).name));
  }

  // Powers the guest off (waits a few seconds, then kills it) and removes its files.
  void shutdown() {
    if (!machine_) return;
    machine_->shutdown();
    log_ = machine_->kernel_log();
    machine_.reset();
  }

  // Kills the VM at once and removes its files: for a VM whose work is done and whose guest
  // holds nothing the host still needs (a clean power-off costs tens of ms under emulation). A VM
  // with virtio-fs shares is powered off instead: written pages of a shared mapping may still be
  // in the guest's cache.
  void discard() {
    if (!machine_) return;
    if (!cfg_.shares.empty()) return shutdown();
    machine_->kill();
    log_ = machine_->kernel_log();
    machine_.reset();
  }

  std::string kernel_log() const { return machine_ ? machine_->kernel_log() : log_; }
  const std::string& engine_reason() const { return reason_; }
  // How the guest started: restored from a snapshot or booted cold, and what happened to the
  // cache ("restored from snapshot KEY", "cold boot; saved snapshot KEY", why one was dropped).
  const std::string& snapshot_note() const { return snapshot_note_; }
  bool restored() const { return restored_; }
  // Restored with its container already set up (Session(config, request)): no setup ran.
  bool container_restored() const { return container_restored_; }

 private:
  Channel& channel() {
    if (!machine_) throw VmError("the session has been shut down");
    return machine_->channel();
  }

  // A guest that does not answer is stopped; the session is then unusable. So is one left in the
  // middle of a command by anything else that is not the VM's own error (an output sink that
  // threw, no memory): its process would wait for a reader that will not come.
  template <class F>
  std::invoke_result_t<F> guarded(F&& f) {
    auto stop = [&] {
      if (!machine_) return;
      log_ = machine_->kernel_log();
      machine_.reset();
    };
    try {
      return f();
    } catch (const VmError& e) {
      if (dynamic_cast<const GuestTimeout*>(&e) || dynamic_cast<const GuestProtocolError*>(&e)) stop();
      throw;
    } catch (...) {
      stop();
      throw;
    }
  }

  void pick_engine() {
    if (cfg_.arch != GuestArch::amd64) {  // no accelerator runs a foreign guest here
      if (cfg_.engine == Engine::kvm)
        throw ConfigError("--engine kvm cannot run " + std::string(arch_info(cfg_.arch).a_display) + " guest: foreign guests run under QEMU");
      use_kvm_ = false;
      accel_ = "tcg";
      reason_ = "QEMU with software emulation (TCG): " + std::string(arch_info(cfg_.arch).a_display) +
                " guest always runs under TCG on this host";
      return;
    }
    const EngineChoice c = vm::choose_engine(cfg_.engine, ::access("/dev/kvm", R_OK | W_OK) == 0, host_has_hardware_virtualisation(),
                                             [] { return qemu::kvm_problem(); });
    use_kvm_ = c.kvm;
    accel_ = c.accel;
    reason_ = c.reason;
  }

  // Waits for the guest with `wait`; a guest that does not get there in time is stopped and the
  // error carries the kernel's last messages.
  template <class Wait>
  void boot(Wait&& wait) {
    try {
      wait();
    } catch (const GuestTimeout&) {
      std::string log = machine_->kernel_log();
      machine_->kill();
      throw GuestTimeout("the guest did not reach init's main loop within " + std::to_string(cfg_.boot_timeout.count() / 1000) +
                         " s; last kernel messages:\n" + (log.size() > 3000 ? log.substr(log.size() - 3000) : log));
    }
  }

  // Starts the engine's machine: cold when snapshots are off; otherwise through the snapshot
  // cache by snapshot::restore_or_boot's rule — restore when a fresh snapshot of this guest is
  // there, else boot cold and save one at the mode's point (early: init holds after phase 6;
  // late: init waits in its command loop). `engine` names the engine and its base command line,
  // for the key.
  template <class M, class Options>
  void start(Options o, const GuestKernel& k, const std::string& engine) {
    auto cold = [&](const std::string& note) {
      machine_ = std::make_unique<EngineMachine<M>>(o);
      const auto deadline = Clock::now() + cfg_.boot_timeout;
      boot([&] { machine_->channel().wait_ready(deadline); });
      snapshot_note_ += note;
    };
    if (cfg_.snapshot == SnapshotMode::off) return cold("cold boot (snapshots off)");
    if (!o.shares.empty()) return cold("cold boot: virtio-fs volumes cannot be snapshotted with QEMU 7.2");
    if constexpr (requires { o.arch; })
      if (o.arch == GuestArch::riscv64) return cold(std::string("cold boot: ") + QemuMachine::riscv_not_saved);
    std::optional<SnapshotCache> cache;
    try {
      cache.emplace(cfg_.snapshot_dir.empty() ? SnapshotCache() : SnapshotCache(cfg_.snapshot_dir));
    } catch (const std::exception& e) {  // no cache directory (neither HOME nor XDG_CACHE_HOME)
      if (cfg_.snapshot_strict) throw SnapshotError(std::string("no snapshot cache: ") + e.what());
      return cold(std::string("cold boot; no snapshot cache: ") + e.what());
    }
    const bool early = cfg_.snapshot == SnapshotMode::early;
    M* machine = nullptr;  // the cold-booted one, to save
    bool holding = false;
    Clock::time_point deadline{};
    // A container VM's snapshot must hold the placeholder disk: its driver is bound at boot and
    // keeps the capacity it read, which only the placeholder's is as large as any root disk. So
    // the cold boot that saves one boots with the placeholder, and the caller's disk comes after.
    const std::filesystem::path root_disk = o.root_disk;
    const bool placeholder_first = o.root_disk_slot && !root_disk.empty();
    if (placeholder_first) QemuMachine::checked_root_disk(root_disk);  // before a cold boot that would not look at it
    const std::string key = snapshot_key(engine, o);
    const snapshot::StartOutcome out = snapshot::restore_or_boot(
        *cache, key,
        snapshot::StartRules{.newer_than = k.image, .newer_than_name = "the kernel " + k.image.string(), .strict = cfg_.snapshot_strict},
        [&](const std::filesystem::path& file) {
          // o in place, not a copy: it holds the initramfs (megabytes with modules)
          struct Cold {
            Options& o;
            ~Cold() { o.restore_from.clear(); }  // a failed restore is followed by a cold boot
          } cold{o};
          o.restore_from = file;
          machine_ = std::make_unique<EngineMachine<M>>(o);
        },
        [&]() -> std::string {
          o.hold_after_phase_6 = early;
          if (placeholder_first) o.root_disk.clear();
          auto m = std::make_unique<EngineMachine<M>>(o);
          o.root_disk = root_disk;
          machine = &m->get();
          machine_ = std::move(m);
          deadline = Clock::now() + cfg_.boot_timeout;  // a failed restore does not eat into the cold boot's time
          boot([&] {
            if (early) holding = machine_->channel().wait_holding(deadline);
            else machine_->channel().wait_ready(deadline);
          });
          if (!early || holding) return "";
          // an init without early snapshots (SessionConfig::init is the caller's)
          if (cfg_.snapshot_strict) throw SnapshotError("init did not hold after phase 6: it cannot make early snapshots");
          return "init did not hold after phase 6 (an init without early snapshots)";
        },
        [&](const std::filesystem::path& file) { machine->save(file, cfg_.snapshot); });
    restored_ = out.restored;
    snapshot_note_ += out.note;
    if (!restored_ && placeholder_first) {
      // the cold-booted guest has the placeholder: restore what it saved, with the caller's disk
      // (or, with no snapshot to restore, boot again with it)
      machine_.reset();
      o.hold_after_phase_6 = false;
      std::error_code ec;
      if (std::filesystem::exists(cache->path(key), ec)) {
        try {
          o.restore_from = cache->path(key);
          machine_ = std::make_unique<EngineMachine<M>>(o);
          o.restore_from.clear();
          snapshot_note_ += "; restored it with the root disk";
          return;
        } catch (const SnapshotError& e) {
          o.restore_from.clear();
          if (cfg_.snapshot_strict) throw;
          snapshot_note_ += std::string("; cannot restore it (") + e.what() + ")";
        }
      }
      return cold("; cold boot again with the root disk");
    }
    if (!restored_ && holding) {  // saved or not, the early guest goes on to its command loop
      machine_->channel().release_hold();
      boot([&] { machine_->channel().wait_ready(deadline); });
    }
  }

  // start() for a container guest, through a snapshot of the guest with this container set up
  // (the cold-boot path and the base snapshot stay start()'s): restore it when there, newer than
  // the kernel and the root disk; else start, set up, save it under its own lock (a failed save
  // leaves a working container, as in restore_or_boot). Either way the container's own hostname
  // comes last, with a reseed: the saved setup had none, so one snapshot serves every name.
  template <class M, class Options>
  void start_container(Options o, const GuestKernel& k, const std::string& engine, const ContainerRequest& request) {
    namespace fs = std::filesystem;
    std::optional<SnapshotCache> cache;
    if (cfg_.container_snapshots && cfg_.snapshot != SnapshotMode::off && o.shares.empty() && !o.root_disk.empty() &&
        o.arch != GuestArch::riscv64 && snapshot_holds_no_secrets(request)) {
      try {
        cache.emplace(cfg_.snapshot_dir.empty() ? SnapshotCache() : SnapshotCache(cfg_.snapshot_dir));
      } catch (const std::exception&) {  // no cache directory: start() says so
      }
    }
    if (!cache) {
      start<M>(std::move(o), k, engine);
      setup_container(request);
      return;
    }
    Channel::check_container(request);  // before anything boots, as setup_container checks it
    const fs::path disk = o.root_disk;
    QemuMachine::checked_root_disk(disk);
    ContainerRequest unnamed = request;
    unnamed.hostname.clear();
    const std::string key = container_snapshot_key(snapshot_key(engine, o), unnamed, disk);
    const fs::path file = cache->path(key);
    std::error_code ec;
    if (fs::exists(file, ec)) {
      std::string problem;
      const auto kernel_time = fs::last_write_time(k.image, ec);  // the disk's identity is in the key
      if (ec) problem = "cannot read the kernel's time: " + ec.message();
      else if (!cache->fresh(key, kernel_time)) problem = "it is older than the kernel " + k.image.string();
      if (problem.empty()) {
        try {
          o.restore_from = file;
          machine_ = std::make_unique<EngineMachine<M>>(o);
          restored_ = container_restored_ = true;
          snapshot_note_ = "restored from container snapshot " + key;
          cache->used(key, container_snapshot_kind);
          name_container(request.hostname);
          return;
        } catch (const SnapshotError& e) {
          o.restore_from.clear();
          machine_.reset();
          problem = e.what();
        }
      }
      if (cfg_.snapshot_strict) throw SnapshotError("container snapshot " + file.string() + " cannot be used: " + problem);
      cache->remove(key);
      snapshot_note_ = "removed container snapshot " + key + " (" + problem + "); ";
    }
    start<M>(std::move(o), k, engine);
    // a root small enough is read into the page cache before the save: the restored guests'
    // first commands then read no disk (under emulation ~50 ms a megabyte)
    if (const auto bytes = fs::file_size(disk, ec); !ec && bytes <= std::uint64_t{container_prefetch_mib} << 20)
      unnamed.prefetch_mib = container_prefetch_mib;
    setup_container(unnamed);
    try {
      const auto held = cache->lock(key);  // of two processes that set up the same container, one saves
      cache->remove_interrupted_saves(key);
      if (cache->fresh(key)) {
        snapshot_note_ += "; container snapshot " + key + " was saved meanwhile by another process";
      } else {
        static_cast<EngineMachine<M>&>(*machine_).get().save(file, SnapshotMode::late);
        cache->label(key, container_snapshot_kind, fs::absolute(disk).string() + "\n");
        snapshot_note_ += "; container set up, saved container snapshot " + key;
        if (const std::size_t n = cache->keep_recent(container_snapshot_kind, container_snapshots_kept))
          snapshot_note_ += " (removed " + std::to_string(n) + " least recently used)";
      }
    } catch (const BootError&) {
      throw;  // the guest did not survive the save
    } catch (const VmError& e) {
      if (cfg_.snapshot_strict) throw SnapshotError(std::string("cannot save a container snapshot: ") + e.what());
      snapshot_note_ += std::string("; could not save a container snapshot: ") + e.what();
    }
    name_container(request.hostname);
  }

  // Whether a snapshot of a guest set up with this request holds nothing the caller may not want
  // written to the cache, and nothing a later name would undo: files copied in (secrets, keys)
  // live in the guest's memory, hence in the snapshot's memory file; a sysctl record writing the
  // hostname would be overridden by the name each restore gets.
  static bool snapshot_holds_no_secrets(const ContainerRequest& request) {
    using Kind = ContainerRequest::File::Kind;
    return std::none_of(request.files.begin(), request.files.end(), [](const ContainerRequest::File& f) {
      return f.kind == Kind::copy || (f.kind == Kind::sysctl && f.guest_path.ends_with("/kernel/hostname"));
    });
  }

  // Container snapshots are labelled so (SnapshotCache::label, a KEY.container side file naming
  // the root disk), and the cache keeps the most recently used few: each root and options has
  // one, and a changed root (a --rootfs edited between runs) is a new one.
  static constexpr const char* container_snapshot_kind = "container";
  static constexpr std::size_t container_snapshots_kept = 16;

  // A container snapshot holds its root's files in the page cache when the root disk is at most
  // this large (the snapshot's memory file, copied at every restore, grows by as much).
  static constexpr std::uint32_t container_prefetch_mib = 32;

  // The hostname of a container set up without one (start_container).
  void name_container(const std::string& hostname) {
    if (!hostname.empty()) guarded([&] { channel().reseed(Clock::now() + cfg_.boot_timeout, hostname); });
  }

  // A container snapshot's key: the guest's (snapshot_key), the request as init reads it, and the
  // root disk file by identity (path, inode, size, modification and change times; not the device
  // number, which some file systems renumber at mount): the guest's page cache holds blocks of
  // that file, so another file, even of the same name, or the same file rewritten, is another guest.
  static std::string container_snapshot_key(const std::string& guest_key, const ContainerRequest& request, const std::filesystem::path& disk) {
    struct stat st {};
    if (::stat(disk.c_str(), &st) != 0) throw ConfigError("root disk " + disk.string() + ": " + std::strerror(errno));
    ContentHash h;
    h.add(std::string_view("crumble container snapshot"));
    h.add(guest_key);
    h.add(Channel::container_bytes(request));
    h.add(std::filesystem::absolute(disk).string());
    h.add(std::to_string(st.st_ino) + " " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
          std::to_string(st.st_mtim.tv_nsec) + " " + std::to_string(st.st_ctim.tv_sec) + "." + std::to_string(st.st_ctim.tv_nsec));
    return h.hex();
  }

  // Everything that determines the guest a snapshot holds: the engine and its command line,
  // memory, vCPUs, kernel and initramfs contents (init and modules are in it), the user's command
  // line additions, the mode. (The host's part — CPU, QEMU binary, KVM — is the fingerprint's.)
  std::string snapshot_key(const std::string& engine, const GuestOptions& g) const {
    ContentHash h;
    h.add(std::string_view("crumble x86_64"));
    h.add(engine);
    h.add(std::to_string(g.memory_mib) + " MiB " + std::to_string(g.vcpus) + " vcpus");
    h.add_file(g.kernel);
    h.add(std::span<const std::uint8_t>(g.initramfs));
    h.add(g.append);
    h.add(std::string_view(cfg_.snapshot == SnapshotMode::early ? "early" : "late"));
    // The disk slot changes the machine (its device list, hence the migration stream); the disk in
    // it does not: any root_disk restores into a snapshot saved with the placeholder. The
    // container modules and extra files are in the initramfs, hashed above. (Added only when on,
    // so the keys of sessions without containers stay what they were.)
    if (g.root_disk_slot)  // its driver is bound at boot: the placeholder's capacity is in the snapshot
      h.add("container devices: root disk slot, placeholder " + std::to_string(QemuMachine::placeholder_disk_bytes) + " bytes");
    // The network device and its configuration are the guest's; the published ports are QEMU's
    // forwarding rules, set anew at every start (not hashed: any ports restore any snapshot).
    if (g.network) h.add(std::string_view("network: virtio-net on user-mode networking"));
    return h.hex();
  }

  // The command line without the host's TSC rate: /proc/cpuinfo's figure is the current clock on
  // hosts that scale it and would make every key new; the snapshot's host is the fingerprint's.
  static std::string without_tsc_rate(std::string line) {
    if (auto at = line.find(" tsc_early_khz="); at != std::string::npos) line.erase(at, line.find(' ', at + 1) - at);
    return line;
  }

  GuestKernel kernel() const {
    if (!cfg_.kernel.empty()) {
      if (!std::filesystem::exists(cfg_.kernel)) throw ConfigError("kernel " + cfg_.kernel.string() + " does not exist");
      try {
        check_kernel_image(cfg_.kernel, cfg_.arch);
      } catch (const std::exception& e) {
        throw ConfigError(cfg_.kernel.string() + ": " + e.what());
      }
      if (!cfg_.modules.empty())
        throw ConfigError("modules can be loaded only with the fetched Debian kernel (its lib/modules); drop --kernel or the modules");
      if (cfg_.container_devices)
        throw ConfigError("container devices need the fetched Debian kernel (their modules come from its lib/modules); drop --kernel");
      return GuestKernel{cfg_.kernel, {}, {}, cfg_.arch};
    }
    std::optional<GuestKernel> k = cached_kernel(cfg_.arch);
    const std::string flag = cfg_.arch == GuestArch::amd64 ? "" : " --arch " + std::string(arch_info(cfg_.arch).name);
    if (!k) throw ConfigError("no kernel found: run `crumble kernel fetch" + flag + "`, or pass --kernel PATH");
    return *k;
  }

  std::vector<std::uint8_t> initramfs(const GuestKernel& k) const {
    InitramfsSpec spec;
    spec.init = cfg_.init;
    spec.rootfs = cfg_.rootfs;
    if (cfg_.rootfs.empty() && cfg_.arch != GuestArch::amd64) {
      try {
        spec.busybox = foreign_busybox(cfg_.arch);
      } catch (const std::exception& e) {
        throw ConfigError(std::string("no busybox for ") + std::string(arch_info(cfg_.arch).a_display) + " guest: " + e.what());
      }
    }
    std::vector<std::string> boot = cfg_.modules;
    if (cfg_.container_devices) boot.insert(boot.end(), container_boot_modules.begin(), container_boot_modules.end());
    if ((cfg_.network || !cfg_.publish.empty()) && !k.modules_dir.empty())
      boot.insert(boot.end(), network_boot_modules.begin(), network_boot_modules.end());
    if (!boot.empty()) {
      try {
        ModuleIndex index(k.modules_dir);
        for (const KernelModule& m : resolve_modules(index, boot)) spec.modules.emplace_back(m.name, m.path);
        if (cfg_.container_devices)
          for (const KernelModule& m : resolve_modules(index, container_device_drivers))
            if (std::none_of(spec.modules.begin(), spec.modules.end(), [&](const auto& b) { return b.first == m.name; }))
              spec.container_modules.emplace_back(m.name, m.path);  // their dependencies (virtio, fuse) are boot modules
      } catch (const std::exception& e) {
        throw ConfigError(e.what());
      }
    }
    for (const auto& [guest, host] : cfg_.initramfs_files) spec.extra_files.push_back({guest, host, 0755});
    try {
      return build_initramfs(spec);
    } catch (const std::exception& e) {
      throw ConfigError(e.what());
    }
  }

  SessionConfig cfg_;
  std::string accel_ = "tcg", reason_, log_, snapshot_note_;
  bool use_kvm_ = false, restored_ = false, container_restored_ = false;
  std::unique_ptr<GuestMachine> machine_;
};

// A process started with Session::start, to talk to while it runs: take its output as it comes
// (output + consume: the bytes wait in the guest's ring until taken, and a process whose ring is
// full waits), write its stdin (as much as fits now), send it signals and terminal sizes, and
// learn how it ended. Nothing here blocks but wait(); each call that finds the guest misbehaving
// stops the VM (as Session::run). Belongs to its Session, which must outlive it.
class Session::Process {
 public:
  Process(Process&& o) noexcept : vm_(std::exchange(o.vm_, nullptr)), id_(o.id_), result_(std::move(o.result_)) {}
  Process& operator=(Process&& o) noexcept {
    if (this != &o) {
      abandon();
      vm_ = std::exchange(o.vm_, nullptr);
      id_ = o.id_;
      result_ = std::move(o.result_);
    }
    return *this;
  }
  Process(const Process&) = delete;  // one handle per process: a copy could act on the slot's next one
  Process& operator=(const Process&) = delete;
  // A process let go before it ended is killed (SIGKILL to its group); its slot is freed once the
  // guest says it ended, its output unread.
  ~Process() { abandon(); }

  // Bytes of `s` waiting, contiguous (more may follow after consume). Valid until consume().
  std::string_view output(Stream s) {
    return call([&](ProcessSlot& p) { return p.pending(s); });
  }
  void consume(Stream s, std::size_t n) {
    call([&](ProcessSlot& p) { p.consume(s, n); });
  }
  // Copies as much of `bytes` as fits the stdin ring now (0 when full: try again later).
  std::size_t write(std::string_view bytes) {
    return call([&](ProcessSlot& p) { return p.write_stdin(bytes); });
  }
  // Room in the stdin ring now.
  std::size_t stdin_room() {
    return call([&](ProcessSlot& p) { return p.stdin_room(); });
  }
  // EOF for the process once it has read what was written (with a terminal: VEOF, ^D, once).
  void close_stdin() {
    call([&](ProcessSlot& p) { p.close_stdin(); });
  }
  // Sends signal `signo` to its process group, or to the process alone (queued while the guest
  // takes the last one).
  void signal(int signo, SignalTarget to = SignalTarget::group) {
    call([&](ProcessSlot& p) { p.signal(signo, to); });
  }
  void resize(TerminalSize size) {
    call([&](ProcessSlot& p) { p.resize(size); });
  }
  // True when every signal sent has reached the guest's process (or its group).
  bool signals_delivered() {
    return call([&](ProcessSlot& p) { return p.signals_delivered(); });
  }
  // How it ended, once it has and its output is all taken; the process is then gone (and every
  // call above refused).
  std::optional<CommandResult> ended() {
    if (result_) return result_;
    live();
    result_ = vm_->guarded([&] { return vm_->channel().finish(id_); });
    return result_;
  }
  // Hands its output to `sink` as it comes until it ends (or `timeout` passes: GuestTimeout, and
  // the VM is stopped); how it ended.
  template <class Sink>
    requires std::is_invocable_v<Sink&, Stream, std::string_view>
  CommandResult wait(Sink&& sink, std::optional<std::chrono::milliseconds> timeout = {}) {
    if (result_) return *result_;
    live();
    const auto deadline = Clock::now() + timeout.value_or(vm_->cfg_.command_timeout);
    const OutputSink to = std::ref(sink);
    result_ = vm_->guarded([&] { return vm_->channel().wait_end(id_, to, deadline, "process " + std::to_string(id_)); });
    return *result_;
  }
  // Throws when the guest is gone, or GuestTimeout once `deadline` has passed (the VM is then
  // stopped): for callers with a loop of their own, now and then.
  void check(Clock::time_point deadline) {
    live();
    vm_->guarded([&] { vm_->channel().check(deadline, "process " + std::to_string(id_)); });
  }
  // The guest's pid of it (informational).
  std::uint32_t guest_pid() {
    return call([&](ProcessSlot& p) { return p.guest_pid(); });
  }

 private:
  friend class Session;
  Process(Session* vm, int id) : vm_(vm), id_(id) {}
  void live() const {
    if (!vm_) throw ConfigError("this process handle was moved from");
    if (result_) throw ConfigError("the process has ended (" + result_->describe() + ")");
  }
  template <class F>
  std::invoke_result_t<F&, ProcessSlot&> call(F&& f) {
    live();
    return vm_->guarded([&] { return f(vm_->channel().slot(id_)); });
  }
  void abandon() noexcept {
    if (!vm_ || result_ || !vm_->machine_) return;
    try {
      vm_->channel().abandon(id_);
    } catch (...) {
    }
    vm_ = nullptr;
  }
  Session* vm_;
  int id_;
  std::optional<CommandResult> result_;
};

inline Session::Process Session::start(const std::vector<std::string>& argv, const Stdio& stdio, const std::vector<std::string>& env,
                                       const CommandOptions& options) {
  const int id = guarded([&] { return channel().start(argv, env, Clock::now() + cfg_.boot_timeout, options, stdio); });
  return Process(this, id);
}

}  // namespace crumble::vm
