// SPDX-License-Identifier: Apache-2.0
// crumble/container/container.hpp — a container in a microVM: an OCI image or a host directory as
// the root, volumes, files copied in, tmpfs mounts, user, working directory, environment and
// hostname, as `docker run` (and an OCI runtime's config.json) takes them.
//
//   crumble::container::Spec spec;
//   spec.image = "busybox.oci.tar";                       // or spec.rootfs = "/srv/root"
//   spec.volumes = {{"/home/me/data", "/data"}};
//   crumble::container::Container box(spec);              // root image from the cache (unpacked
//                                                         // and built once), VM from its snapshot
//   auto r = box.run({"ls", "/data"});                    // r.out, r.status(); the image's
//                                                         // Entrypoint/Env/User/WorkingDir apply
//
// A Container (like a Session) belongs to the thread that made it as long as it runs: QEMU and
// virtiofsd are started with PR_SET_PDEATHSIG, which follows the *thread* that forked them, so a
// thread that ends takes its VMs with it (the next run() says the VM stopped). Make containers on a
// thread that outlives them.
//
// How the root gets into the guest (issue 14; ENVIRONMENT.md says why): an image's unpacked layers,
// or the user's directory, become an erofs image (root_cache.hpp: built once, cached by content)
// that the guest sees as a read-only virtio block device under a tmpfs overlay, so a run writes
// into its own VM's memory and the cached image never changes. That device is attached *after* a
// snapshot restore: one snapshot serves every image for the first run of each; that run saves a
// container snapshot (the guest with this root set up: vm::Session), which the next runs of the
// root with the same options restore, skipping the setup. copy_writes_to applies a run's writes (that
// overlay's upper layer) onto a host directory: crumble-runtime's root.path, as runc's container
// would have written there. Volumes and --rootfs-rw need live sharing,
// which is virtio-fs — and QEMU 7.2 cannot snapshot a VM with virtio-fs, so those runs boot cold
// (Container::snapshot_note says so).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "../vm/session.hpp"
#include "errors.hpp"
#include "image.hpp"
#include "layers.hpp"
#include "root_cache.hpp"
#include "users.hpp"

namespace crumble::container {

struct Volume {
  std::filesystem::path host;  // a directory that exists
  std::string guest;           // an absolute path in the container
  bool read_only = false;
};

// A file copied into the container when it starts, as runtimes bind /etc/hosts, /etc/resolv.conf
// or a secret: no live sharing (virtio-fs: a cold boot), so the VM still restores from the
// snapshot. Its content is `content`, or the regular file `host` read when the Container is made.
// It is placed after the volumes, bind-mounted over its path, so the root itself is not written
// (only an empty mount point where the path is missing, as runc makes one); the container's
// writes to it stay in the VM. read_only (and the other mount flags): the container cannot change
// it. All of them share the container request's 1 MiB with the rest of it.
struct File {
  std::string guest;           // an absolute path in the container
  std::string content;         // the bytes, or:
  // "= {}": `{guest, content}` may leave it out (Clang's -Wmissing-field-initializers, in -Wextra)
  std::filesystem::path host = {};  // a regular file to read them from (then `content` stays empty)
  std::uint32_t mode = 0644, uid = 0, gid = 0;
  bool read_only = false, nosuid = false, nodev = false, noexec = false;
};

// A tmpfs of the container's own at `guest` (besides /dev/shm, /tmp and /run, which it always
// has), with tmpfs's mount options ("size=10m,mode=1777"). Mounted before the files.
struct Tmpfs {
  std::string guest;
  std::string options;
  bool read_only = false, nosuid = false, nodev = false, noexec = false;
};

// A file system of the container's own, as an OCI config's mounts give them (proc, sysfs, a tmpfs
// at /dev, devpts, mqueue, ...): `type` mounted from `source` at `guest` with its options.
struct Mount {
  std::string guest, type, source;
  std::string options;  // the file system's own ("mode=755,size=65536k", "newinstance,gid=5")
  bool read_only = false, nosuid = false, nodev = false, noexec = false;
  bool operator==(const Mount&) const = default;
};

// A device node made in the container (an OCI config's linux.devices and runc's default ones):
// type 'c' (character), 'b' (block) or 'p' (a fifo), its numbers, mode and owner.
struct Device {
  std::string guest;
  char type = 'c';
  std::uint32_t major = 0, minor = 0;  // below 4096 and 2^20
  std::uint32_t mode = 0666, uid = 0, gid = 0;
  bool operator==(const Device&) const = default;
};

// What a run asks for. Empty fields take the image's defaults (its config), then docker's.
struct Spec {
  std::filesystem::path image;   // an OCI layout, OCI archive or docker-archive (image.hpp)
  std::filesystem::path rootfs;  // or: a host directory as the root
  bool rootfs_rw = false;        // rootfs: write through to the directory (virtio-fs; cold boot)
  std::vector<Volume> volumes;
  std::vector<Tmpfs> tmpfs;      // after the volumes, in order
  std::vector<File> files;       // after the tmpfs mounts, in order
  std::string user;              // -u: name, uid, name:group, uid:gid (users.hpp)
  std::string workdir;           // -w: absolute
  std::vector<std::string> env;  // -e K=V, over the image's Env
  std::string hostname;          // empty: a random 12-hex name, as docker does
  std::optional<std::vector<std::string>> entrypoint;  // replaces the image's Entrypoint
  std::string platform_arch;     // GOARCH of the image to pick (empty: the guest's, amd64); another
                                 // architecture's binaries run under qemu-user (binfmt_misc)
  // The process's exact supplementary groups, capability sets, resource limits and oom_score_adj
  // (an OCI config's; empty: the user's groups from the root's /etc/group, root's capabilities for
  // root and none for another user, the guest's limits)
  std::optional<std::vector<std::uint32_t>> groups;
  std::optional<vm::Capabilities> capabilities;
  std::vector<vm::ResourceLimit> rlimits;
  std::optional<int> oom_score_adj;
  // The container's own file systems in place of the guest's (proc, sysfs, devtmpfs at /dev,
  // devpts, /dev/shm, /tmp, /run), mounted in this order after the volumes, before the tmpfs
  // mounts and the files; then, as runc orders them, the devices, the symlinks (/dev/fd ->
  // /proc/self/fd), the sysctls (written in the VM's kernel, the container's own), the
  // read-only paths, the masked paths, and the root made read-only. A path that is missing is
  // neither masked nor made read-only.
  std::optional<std::vector<Mount>> mounts;
  std::vector<Device> devices;
  std::vector<std::pair<std::string, std::string>> symlinks;  // where, its target
  std::vector<std::pair<std::string, std::string>> sysctl;    // a key (net.ipv4.ip_forward), its value
  std::vector<std::string> readonly_paths, masked_paths;
  bool root_readonly = false;
  // A user namespace of the container's own (an OCI config's linux.uidMappings and gidMappings):
  // these ranges of ids inside map onto the guest's, which are the root's and the volumes' ids as
  // on the host. Empty: none, the processes have the guest's ids. Both or neither.
  std::vector<vm::ContainerRequest::IdRange> uid_map, gid_map;
  bool no_new_privs = true;      // PR_SET_NO_NEW_PRIVS for every command (setuid binaries do not
                                 // raise privileges: the container init asks for it)
  std::filesystem::path root_cache_dir;  // empty: ~/.cache/crumble/roots
  vm::SessionConfig vm;          // memory, CPUs, engine, kernel, snapshots, timeouts
  // An image with no manifest for the default guest (vm.arch amd64, the package's init, the
  // cached kernel) and no platform_arch asked for picks the guest: the first of its platforms
  // that crumble boots (arm64, riscv64), as `crumble run --image` does without --arch. False:
  // such an image is refused, naming the platforms it has, as it is for any other guest.
  bool arch_from_image = true;
  // Told what the image unpack and the root image build are doing (only when they happen).
  std::function<void(std::string_view)> progress;
};

// The qemu-user interpreter and its binfmt_misc registration for running `arch` binaries in an
// amd64 guest: Debian's qemu-user-static and the magic/mask it registers (/usr/share/binfmts).
struct ForeignArch {
  std::string qemu_name;               // aarch64, riscv64, arm
  std::filesystem::path interpreter;   // on the host: /usr/bin/qemu-aarch64-static
  std::string guest_path;              // in the initramfs: /crumble/binfmt/qemu-aarch64-static
  std::string registration;            // :qemu-aarch64:M:0:magic:mask:/crumble/binfmt/...:F
};
inline ForeignArch foreign_arch(std::string_view goarch) {
  static const std::map<std::string, std::string, std::less<>> qemu{{"arm64", "aarch64"}, {"riscv64", "riscv64"}, {"arm", "arm"}};
  auto it = qemu.find(goarch);
  if (it == qemu.end()) throw ContainerError("no emulation for " + std::string(goarch) + " binaries (arm64, riscv64 and arm run under qemu-user)");
  ForeignArch f;
  f.qemu_name = it->second;
  f.interpreter = "/usr/bin/qemu-" + f.qemu_name + "-static";
  f.guest_path = "/crumble/binfmt/qemu-" + f.qemu_name + "-static";
  if (!std::filesystem::exists(f.interpreter))
    throw ContainerError(std::string(goarch) + " binaries need " + f.interpreter.string() + " (Debian's qemu-user-static)");
  const std::filesystem::path rules = "/usr/share/binfmts/qemu-" + f.qemu_name;
  std::ifstream in(rules);
  std::string line, magic, mask, offset = "0";
  while (std::getline(in, line)) {
    auto value = [&](std::string_view key) -> std::optional<std::string> {
      if (line.rfind(std::string(key) + " ", 0) != 0) return std::nullopt;
      return line.substr(key.size() + 1);
    };
    if (auto v = value("magic")) magic = *v;
    else if (auto v = value("mask")) mask = *v;
    else if (auto v = value("offset")) offset = *v;
  }
  if (magic.empty()) throw ContainerError("cannot read the binfmt_misc magic of " + f.qemu_name + " from " + rules.string());
  f.registration = ":qemu-" + f.qemu_name + ":M:" + offset + ":" + magic + ":" + mask + ":" + f.guest_path + ":F";
  return f;
}

namespace detail {

inline std::string random_hostname() {
  std::random_device rd;
  char buf[13];
  std::snprintf(buf, sizeof buf, "%06x%06x", rd() & 0xffffff, rd() & 0xffffff);
  return buf;
}

// docker's rule: -e K=V replaces the image's K; K alone is rejected here (no host leak by accident).
inline std::vector<std::string> merge_env(std::vector<std::string> base, const std::vector<std::string>& over) {
  for (const std::string& kv : over) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) throw ContainerError("an environment variable is KEY=VALUE, not \"" + kv + "\"");
    const std::string key = kv.substr(0, eq + 1);
    std::erase_if(base, [&](const std::string& b) { return b.rfind(key, 0) == 0; });
    base.push_back(kv);
  }
  return base;
}
inline bool has_env(const std::vector<std::string>& env, std::string_view key) {
  for (const std::string& kv : env)
    if (kv.size() > key.size() && kv.compare(0, key.size(), key) == 0 && kv[key.size()] == '=') return true;
  return false;
}

}  // namespace detail

class Container {
 public:
  explicit Container(Spec spec) : spec_(std::move(spec)) {
    if (spec_.image.empty() == spec_.rootfs.empty()) throw ContainerError("a container needs either an image or a root directory (not both)");
    if (spec_.rootfs_rw && spec_.rootfs.empty()) throw ContainerError("--rootfs-rw needs --rootfs DIR");
    if (!spec_.workdir.empty() && spec_.workdir[0] != '/') throw ContainerError("the working directory must be absolute, not \"" + spec_.workdir + "\"");
    for (const Volume& v : spec_.volumes) check_volume(v);
    for (const Tmpfs& t : spec_.tmpfs) check_guest_path(t.guest, "a tmpfs");
    if (spec_.mounts)
      for (const Mount& m : *spec_.mounts) check_guest_path(m.guest, "a " + m.type + " mount");
    for (const Device& d : spec_.devices) check_device(d);
    for (const auto& [path, target] : spec_.symlinks) check_guest_path(path, "the symlink " + path);
    for (const auto& [key, value] : spec_.sysctl) (void)sysctl_path(key);
    for (const std::string& p : spec_.readonly_paths) check_guest_path(p, "the read-only path " + p);
    for (const std::string& p : spec_.masked_paths) check_guest_path(p, "the masked path " + p);
    for (File& f : spec_.files) read_file(f);
    prepare_root();
    start_vm();
  }

  // Runs `command` (replacing the image's Cmd; empty: the image's Cmd) after the Entrypoint, as
  // docker does, with the image's and the spec's environment, user and working directory.
  vm::CommandResult run(const std::vector<std::string>& command = {}, std::optional<std::chrono::milliseconds> timeout = {}) {
    return vm_->run(argv(command), env_, timeout, options_);
  }
  template <class Sink>
    requires std::is_invocable_v<Sink&, vm::Stream, std::string_view>
  vm::CommandResult run(const std::vector<std::string>& command, Sink&& sink, std::optional<std::chrono::milliseconds> timeout = {}) {
    return vm_->run(argv(command), std::forward<Sink>(sink), env_, timeout, options_);
  }

  // The same as a process to talk to while it runs (stdin, a terminal, signals: Session::Process).
  // With a terminal and no TERM in the image or the spec, TERM=xterm, as docker sets it.
  vm::Session::Process start(const std::vector<std::string>& command, const vm::Stdio& stdio) {
    std::vector<std::string> env = env_;
    if (stdio.tty && std::none_of(env.begin(), env.end(), [](const std::string& e) { return e.starts_with("TERM="); }))
      env.push_back("TERM=xterm");
    return vm_->start(argv(command), stdio, env, options_);
  }

  // Starts `argv` as it is in the running container (an exec: no Entrypoint), with its own
  // environment and options (docker exec's -e, -w, -u); TERM=xterm added with a tty when missing.
  vm::Session::Process exec(const std::vector<std::string>& argv, const vm::Stdio& stdio, std::vector<std::string> env,
                            const vm::CommandOptions& options) {
    if (argv.empty()) throw ContainerError("exec: no command to run");
    if (stdio.tty && std::none_of(env.begin(), env.end(), [](const std::string& e) { return e.starts_with("TERM="); }))
      env.push_back("TERM=xterm");
    return vm_->start(argv, stdio, env, options);
  }

  // The argv a run of `command` executes (Entrypoint + command, or + the image's Cmd).
  std::vector<std::string> argv(const std::vector<std::string>& command) const {
    // docker: --entrypoint drops the image's Cmd too; the command after -- replaces Cmd
    std::vector<std::string> a = spec_.entrypoint ? *spec_.entrypoint : config_.entrypoint;
    const std::vector<std::string>& cmd = command.empty() && !spec_.entrypoint ? config_.cmd : command;
    a.insert(a.end(), cmd.begin(), cmd.end());
    if (a.empty()) throw ContainerError("no command to run: the image has no Entrypoint or Cmd; give one after --");
    return a;
  }

  // The container's writes to its root, applied onto `dir` (the directory the root came from:
  // what runc's container would have left there; podman reads them from there as the container's
  // diff). They are the overlay's upper layer in the VM, whiteouts included, archived by init's own
  // busybox tar (CommandOptions::root_writes, so the container's root need not have a tar), streamed
  // into a temporary file of at most the guest's memory (the layer is a tmpfs in it; past that the
  // VM is stopped), then applied by apply_overlay_diff: a whiteout removes its path, and a hostile
  // archive is refused as a hostile image layer is, before anything is written, nothing written
  // outside `dir`. Directories that the container removed and made again (overlayfs marks them
  // opaque, which tar does not carry) are asked of the guest: each is emptied of what `dir` held
  // there before. Only for a root copied into the VM (an image, or --rootfs without --rootfs-rw).
  // Processes the container left running go on writing: call it once the container's command has
  // ended. A ContainerError says what failed (a VmError: the VM is gone). Returns the archive's size
  // in bytes.
  std::uint64_t copy_writes_to(const std::filesystem::path& dir, std::optional<std::chrono::milliseconds> timeout = {}) {
    if (!lease_) throw ContainerError("the root " + spec_.rootfs.string() + " is shared read-write (--rootfs-rw): the container's writes are there already");
    const std::uint64_t limit = std::uint64_t{spec_.vm.memory_mib} << 20;
    vm::TempDir tmp("crumble-writes-");
    const std::filesystem::path tar = tmp.path() / "writes.tar";
    std::uint64_t bytes = 0;
    {
      vm::Fd out(::open(tar.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
      if (out.get() < 0) throw ContainerError("cannot create " + tar.string() + ": " + std::strerror(errno));
      std::string err;
      const vm::CommandResult r = guest_tool({"tar", "-cf", "-", "."}, timeout, [&](vm::Stream s, std::string_view b) {
        if (s == vm::Stream::err) {
          err.append(b.substr(0, std::min(b.size(), 4096 - std::min<std::size_t>(err.size(), 4096))));
          return;
        }
        bytes += b.size();
        if (bytes > limit)
          throw ContainerError("the container's writes take more than " + std::to_string(limit >> 20) +
                               " MiB (the guest's memory) as an archive: not copied (the VM was stopped)");
        for (std::size_t at = 0; at < b.size();) {
          const ssize_t n = ::write(out.get(), b.data() + at, b.size() - at);
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) throw ContainerError("cannot write " + tar.string() + ": " + std::strerror(errno));
          at += static_cast<std::size_t>(n);
        }
      });
      if (r.end == vm::CommandResult::End::not_started) throw ContainerError("cannot archive the container's writes in the guest: " + r.describe());
      if (r.status() != 0)
        throw ContainerError("archiving the container's writes in the guest (busybox tar) " + r.describe() + (err.empty() ? "" : ": " + err));
    }
    // no archive at all (a tar is never empty): init found the layer as the container's setup
    // left it, and did not run tar (docs/protocol.md, command_flag_root_writes)
    if (bytes == 0) return 0;
    try {
      // the files bound into the container are not its writes: their mount points (an empty file,
      // or one in place of an image's symlink such as /etc/resolv.conf) stay out of `dir`
      std::vector<std::string> mount_points;
      for (const File& f : spec_.files) mount_points.push_back(f.guest.substr(f.guest.find_first_not_of('/')));
      apply_overlay_diff(tar, dir, "the container's writes", opaque_directories(tar, dir, timeout), mount_points);
    } catch (const ImageError& e) {
      throw ContainerError("cannot copy the container's writes to " + dir.string() + ": " + e.what());
    }
    return bytes;
  }

  const std::vector<std::string>& environment() const { return env_; }
  const vm::CommandOptions& command_options() const { return options_; }
  const std::string& hostname() const { return hostname_; }
  // "root image: reused KEY" / "root image: built KEY in 1.2 s", and the VM's snapshot note.
  const std::string& root_note() const { return root_note_; }
  // The root image's cache key (root_cache.hpp); empty when the root is shared live (virtio-fs).
  std::string root_key() const { return lease_ ? lease_->key() : std::string(); }
  std::string snapshot_note() const { return vm_->snapshot_note(); }
  bool restored() const { return vm_->restored(); }
  // Restored with the container already set up (a container snapshot: vm::Session).
  bool container_restored() const { return vm_->container_restored(); }
  // The guest's architecture: Spec::vm's, or the image's (Spec::arch_from_image), said by
  // arch_note() ("guest arm64: the image is for linux/arm64"; empty when not switched).
  vm::GuestArch guest_arch() const { return spec_.vm.arch; }
  const std::string& arch_note() const { return arch_note_; }
  // How long the VM took to start and the container to be set up in it.
  const std::string& start_note() const { return start_note_; }
  const std::string& engine_reason() const { return vm_->engine_reason(); }
  std::string kernel_log() const { return vm_ ? vm_->kernel_log() : std::string(); }
  void shutdown() {
    if (vm_) vm_->shutdown();
  }
  // Ends the VM once the container's work is done and its writes copied: killed at once where
  // the guest holds nothing the host still needs (a root image and tmpfs only), powered off
  // (init syncs first) where it shares host directories (virtio-fs: written pages of a shared
  // mapping may still be in the guest's cache).
  void stop() {
    if (!vm_) return;
    if (spec_.volumes.empty() && lease_) vm_->discard();
    else vm_->shutdown();
  }

 private:
  static void check_volume(const Volume& v) {
    if (v.guest.empty() || v.guest[0] != '/') throw ContainerError("a volume's container path must be absolute, not \"" + v.guest + "\"");
    if (v.guest == "/") throw ContainerError("a volume cannot replace the container's root (use --rootfs DIR)");
    for (const auto& part : std::filesystem::path(v.guest))
      if (part == "." || part == "..") throw ContainerError("a volume's container path may not have . or .. in it: \"" + v.guest + "\"");
    std::error_code ec;
    if (!std::filesystem::is_directory(v.host, ec))
      throw ContainerError("volume source " + v.host.string() + (std::filesystem::exists(v.host, ec) ? " is not a directory" : " does not exist"));
  }

  // Runs init's own busybox applet argv[0] as root in the root's writable layer (root_writes).
  template <class Sink>
  vm::CommandResult guest_tool(const std::vector<std::string>& argv, std::optional<std::chrono::milliseconds> timeout, Sink&& sink) {
    vm::CommandOptions o;
    o.root_writes = true;
    vm::Session::Process p = vm_->start(argv, {}, {}, o);
    return p.wait(std::forward<Sink>(sink), timeout);
  }

  // The directories of the writes archive `tar` that overlayfs marked opaque (removed and made
  // again: the lower entries are hidden without whiteouts). tar does not carry the mark, so: a
  // directory of the archive that `dir` holds too, with entries that the archive neither has nor
  // whites out, is opaque when those entries (up to 16 asked) are all gone from the container's
  // root (without the mark they would show through). One guest command asks (in batches); none
  // when there is nothing to ask.
  std::vector<std::string> opaque_directories(const std::filesystem::path& tar, const std::filesystem::path& dir,
                                              std::optional<std::chrono::milliseconds> timeout) {
    const std::vector<std::string> probes = layers_detail::overlay_diff_probes(tar, dir, "the container's writes");
    std::map<std::string, std::size_t> asked, gone;  // by directory
    for (const auto& p : probes) ++asked[layers_detail::parent_of(p)];
    // in batches that fit a command (init takes at most 8190 strings, the command area 1 MiB)
    for (std::size_t first = 0; first < probes.size();) {
      std::size_t last = first, size = 0;
      while (last < probes.size() && last - first < 2000 && size < (256u << 10)) size += probes[last++].size() + 1;
      // prints the 1-based index of each probe that is not there (-e follows a symlink: -L too)
      std::vector<std::string> argv = {"sh", "-c", "i=0; for p; do i=$((i+1)); [ -e \"/$p\" ] || [ -L \"/$p\" ] || echo $i; done", "sh"};
      argv.insert(argv.end(), probes.begin() + static_cast<std::ptrdiff_t>(first), probes.begin() + static_cast<std::ptrdiff_t>(last));
      std::string out, err;
      const vm::CommandResult r = guest_tool(argv, timeout, [&](vm::Stream s, std::string_view b) {
        std::string& to = s == vm::Stream::out ? out : err;
        if (to.size() < (1u << 20)) to.append(b);
      });
      if (r.end != vm::CommandResult::End::exited || r.code != 0)
        throw ContainerError("cannot ask the guest which directories the container made anew: " + r.describe() + (err.empty() ? "" : ": " + err));
      std::istringstream lines(out);
      for (std::string line; std::getline(lines, line);) {
        const std::size_t i = std::strtoul(line.c_str(), nullptr, 10);
        if (i < 1 || i > last - first)
          throw ContainerError("the guest's answer about directories made anew is not an index asked about: " + line.substr(0, 40));
        ++gone[layers_detail::parent_of(probes[first + i - 1])];
      }
      first = last;
    }
    std::vector<std::string> opaques;
    for (const auto& [d, n] : gone)
      if (n == asked[d]) opaques.push_back(d);
    return opaques;
  }

  // A path a file or tmpfs is placed at: absolute, not the root, without . or .. (it stays in the
  // root), named in the error.
  static void check_guest_path(const std::string& guest, const std::string& what) {
    if (guest.empty() || guest[0] != '/') throw ContainerError(what + "'s container path must be absolute, not \"" + guest + "\"");
    if (guest.find_first_not_of('/') == std::string::npos) throw ContainerError(what + " cannot replace the container's root: \"" + guest + "\"");
    if (guest.find('\0') != std::string::npos) throw ContainerError(what + "'s container path has a NUL byte in it");
    for (const auto& part : std::filesystem::path(guest))
      if (part == "." || part == "..") throw ContainerError(what + "'s container path may not have . or .. in it: \"" + guest + "\"");
  }

  // A device's checks: its path, type and numbers (Linux's 32-bit dev_t), and mode.
  static void check_device(const Device& d) {
    check_guest_path(d.guest, "the device " + d.guest);
    if (d.type != 'c' && d.type != 'b' && d.type != 'p')
      throw ContainerError("the device " + d.guest + ": type '" + std::string(1, d.type) + "' is not c, b or p");
    if (d.major > 0xfff || d.minor > 0xfffff)
      throw ContainerError("the device " + d.guest + ": " + std::to_string(d.major) + ":" + std::to_string(d.minor) +
                           " is beyond major 4095, minor 1048575");
    if (d.mode > 07777) throw ContainerError("the device " + d.guest + ": mode " + std::to_string(d.mode) + " is more than permission bits (07777)");
  }

  // A sysctl's file: /proc/sys/ and the key with its dots as slashes (net.ipv4.ip_forward), as
  // runc writes it; a key that would leave /proc/sys is refused.
  static std::string sysctl_path(const std::string& key) {
    std::string path = "/proc/sys/";
    for (char c : key) path += c == '.' ? '/' : c;
    bool ok = !key.empty() && key.find('\0') == std::string::npos && key.front() != '.' && key.back() != '.' && key.front() != '/';
    for (const auto& part : std::filesystem::path(path.substr(10))) ok = ok && !part.empty() && part != "." && part != "..";
    if (!ok || path.find("//") != std::string::npos) throw ContainerError("the sysctl \"" + key + "\" is not a key under /proc/sys");
    return path;
  }

  // A file's checks, and its content read from `host` (a regular file: not a directory, a fifo
  // or a device, whose reading would never end or mean something else).
  static void read_file(File& f) {
    check_guest_path(f.guest, "the file " + f.guest);
    if (f.mode > 07777) {
      char mode[16];
      std::snprintf(mode, sizeof mode, "0%o", f.mode);
      throw ContainerError("the file " + f.guest + ": mode " + mode + " is more than permission bits (07777)");
    }
    if (f.host.empty()) return;
    if (!f.content.empty()) throw ContainerError("the file " + f.guest + " has both content and a host file (" + f.host.string() + ")");
    const vm::Fd fd(::open(f.host.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    struct stat st {};
    if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0)
      throw ContainerError("the file " + f.guest + ": cannot read " + f.host.string() + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw ContainerError("the file " + f.guest + ": " + f.host.string() + " is not a regular file");
    // never more than the request can hold (a huge file is refused before it is read)
    if (static_cast<std::uint64_t>(st.st_size) > vm::protocol::config::command_max)
      throw ContainerError("the file " + f.guest + ": " + f.host.string() + " is " + std::to_string(st.st_size) + " bytes; the container request holds " +
                           std::to_string(vm::protocol::config::command_max) + " bytes in all");
    f.content.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < f.content.size()) {
      const ssize_t n = ::read(fd.get(), f.content.data() + got, f.content.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw ContainerError("the file " + f.guest + ": cannot read " + f.host.string() + ": " + std::strerror(errno));
      if (n == 0) break;  // it shrank while read: what was there
      got += static_cast<std::size_t>(n);
    }
    f.content.resize(got);
  }

  // The image's manifest for the guest's architecture (or for --platform's). Without either, an
  // image for another architecture that crumble boots switches the guest to it.
  Image read_image_for_guest() {
    if (!spec_.platform_arch.empty()) return read_image(spec_.image, image_detail::normalize_arch(spec_.platform_arch));
    try {
      return read_image(spec_.image, vm::arch_info(spec_.vm.arch).name);
    } catch (const PlatformError& e) {
      // a kernel or init of the caller's is for the guest asked for
      const bool default_guest = spec_.vm.arch == vm::GuestArch::amd64 && spec_.vm.kernel.empty() && spec_.vm.rootfs.empty() &&
                                 spec_.vm.init.data() == vm::default_init().data();
      if (!spec_.arch_from_image || !default_guest) throw;
      for (const std::string& p : e.platforms)
        for (vm::GuestArch a : {vm::GuestArch::arm64, vm::GuestArch::riscv64})
          if (p == "linux/" + std::string(vm::arch_info(a).name)) {
            arch_note_ = "guest " + std::string(vm::arch_info(a).name) + ": the image is for " + p;
            spec_.vm.arch = a;
            return read_image(spec_.image, vm::arch_info(a).name);
          }
      throw;
    }
  }

  // The root image (from the cache, built when missing), the image's config, the user.
  void prepare_root() {
    RootCache cache = spec_.root_cache_dir.empty() ? RootCache() : RootCache(spec_.root_cache_dir);
    const auto t0 = vm::Clock::now();
    std::filesystem::path passwd, group;
    std::optional<Image> image;
    if (!spec_.image.empty()) {
      image = read_image_for_guest();
      config_ = image->config;
    }
    const std::string guest(vm::arch_info(spec_.vm.arch).name);
    // another architecture's binaries (the image's, or --platform's) run under qemu-user
    const std::string arch = image_detail::normalize_arch(spec_.platform_arch.empty() ? config_.architecture : spec_.platform_arch);
    if (!arch.empty() && arch != guest) {
      if (spec_.vm.arch != vm::GuestArch::amd64)  // Debian's qemu-user-static binaries are x86-64 programs
        throw ContainerError(arch + " binaries cannot run in " + std::string(vm::arch_info(spec_.vm.arch).a_display) +
                             " guest: qemu-user emulation is for the amd64 guest only");
      foreign_ = foreign_arch(arch);
    }
    if (image) {
      lease_.emplace(cache.acquire(image->root_key(), spec_.image.string(), [&](const std::filesystem::path& rootfs) {
        if (spec_.progress) spec_.progress("unpacking " + spec_.image.string() + " (" + std::to_string(image->layers.size()) + " layers)");
        const std::filesystem::path work = rootfs.parent_path() / "work";
        std::filesystem::create_directories(work);
        unpack_image(*image, work, rootfs, [&](const UnpackProgress& p) {
          if (spec_.progress)
            spec_.progress("layer " + std::to_string(p.layer) + "/" + std::to_string(p.layers) + ": " + std::string(p.what) + " " +
                           std::to_string(p.bytes >> 20) + "/" + std::to_string(p.total_bytes >> 20) + " MiB");
        });
        std::filesystem::remove_all(work);
        if (spec_.progress) spec_.progress("building the root image");
      }));
    } else if (!spec_.rootfs_rw) {
      if (!std::filesystem::is_directory(spec_.rootfs)) throw ContainerError("root directory " + spec_.rootfs.string() + " does not exist");
      if (spec_.progress) spec_.progress("checking " + spec_.rootfs.string());
      lease_.emplace(cache.acquire_directory(spec_.rootfs));
    }
    if (lease_) {  // kept beside the root image when it was built (root_cache.hpp)
      passwd = lease_->kept("etc/passwd");
      group = lease_->kept("etc/group");
    }
    // --rootfs-rw: the live directory's own files, opened as the cache keeps them (inside the
    // tree, never through a symlink out of it), read through /proc/self/fd
    vm::Fd passwd_fd, group_fd;
    if (!lease_) {
      passwd_fd = root_cache_detail::open_in_tree(spec_.rootfs, "etc/passwd");
      group_fd = root_cache_detail::open_in_tree(spec_.rootfs, "etc/group");
      if (passwd_fd.get() >= 0) passwd = "/proc/self/fd/" + std::to_string(passwd_fd.get());
      if (group_fd.get() >= 0) group = "/proc/self/fd/" + std::to_string(group_fd.get());
    }
    if (lease_) {
      const double s = std::chrono::duration<double>(vm::Clock::now() - t0).count();
      std::error_code ec;
      const auto bytes = std::filesystem::file_size(lease_->image(), ec);
      char buf[64];
      std::snprintf(buf, sizeof buf, " (%.1f MiB) in %.2f s", ec ? 0.0 : static_cast<double>(bytes) / (1 << 20), s);
      root_note_ = std::string("root image ") + (lease_->built() ? "built" : "reused") + " " + lease_->key().substr(0, 12) + (lease_->built() ? buf : "");
    } else {
      root_note_ = "root: " + spec_.rootfs.string() + " shared read-write (virtio-fs)";
    }

    const User u = resolve_user(spec_.user.empty() ? config_.user : spec_.user, passwd, group);
    options_.uid = u.uid;
    options_.gid = u.gid;
    options_.groups = spec_.groups.value_or(u.groups);
    options_.capabilities = spec_.capabilities;
    options_.rlimits = spec_.rlimits;
    options_.oom_score_adj = spec_.oom_score_adj;
    options_.no_new_privs = spec_.no_new_privs;
    options_.cwd = !spec_.workdir.empty() ? spec_.workdir : !config_.working_dir.empty() ? config_.working_dir : "/";
    if (options_.cwd[0] != '/') throw ContainerError("the image's working directory is not absolute: \"" + options_.cwd + "\"");
    hostname_ = spec_.hostname.empty() ? detail::random_hostname() : spec_.hostname;
    env_ = detail::merge_env(config_.env, spec_.env);
    if (!detail::has_env(env_, "PATH")) env_.insert(env_.begin(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    if (!detail::has_env(env_, "HOSTNAME")) env_.push_back("HOSTNAME=" + hostname_);
    if (!detail::has_env(env_, "HOME")) env_.push_back("HOME=" + (u.home.empty() ? std::string("/") : u.home));
  }

  void start_vm() {
    vm::SessionConfig c = spec_.vm;
    if (c.engine == vm::Engine::kvm)
      throw ContainerError("containers need the QEMU engine for now: the in-process KVM engine has no virtio devices");
    c.container_devices = true;
    vm::ContainerRequest req;
    req.hostname = hostname_;
    if (lease_) {
      c.root_disk = lease_->image();
      req.root_kind = vm::ContainerRequest::RootKind::block;
      req.root_source = "/dev/vda";
      req.root_fstype = "erofs";
    } else {
      c.shares.push_back({"root", spec_.rootfs, false, ""});
      req.root_kind = vm::ContainerRequest::RootKind::virtiofs;
      req.root_source = "root";
      req.root_fstype = "virtiofs";
    }
    using Placed = vm::ContainerRequest::File;
    auto record = [](Placed::Kind kind, const std::string& path, const std::string& content) {
      Placed p;
      p.kind = kind;
      p.guest_path = path;
      p.content = content;
      return p;
    };
    // What is mounted at a path (file systems, volumes, tmpfs, copies): in the given order (an OCI
    // config's: runc mounts in it, and runtime-tools checks it), but a parent always before what
    // lies under it whatever kind each is (a volume under containerd's /run tmpfs, or a copy in a
    // volume, would be hidden by a parent mounted after it).
    std::vector<Placed> mounted;
    for (std::size_t i = 0; i < spec_.volumes.size(); ++i) {
      const std::string tag = "vol" + std::to_string(i);
      // the host directory under its own name in the share, bound alone in the guest: the mount's
      // root in the guest's mountinfo is /NAME, as for runc's bind mount (none for the host's /)
      std::error_code ec;
      const std::filesystem::path real = std::filesystem::canonical(spec_.volumes[i].host, ec);
      const std::string name = ec ? std::string() : real.filename().string();
      c.shares.push_back({tag, spec_.volumes[i].host, spec_.volumes[i].read_only, name});
      if (!spec_.mounts) {
        req.volumes.push_back({tag, spec_.volumes[i].guest, spec_.volumes[i].read_only, name});
        continue;
      }
      Placed p = record(Placed::Kind::mount, spec_.volumes[i].guest, "");  // the container's own mounts: a volume among them
      p.fstype = "virtiofs";
      p.source = name.empty() ? tag : tag + "/" + name;
      p.read_only = spec_.volumes[i].read_only;
      mounted.push_back(p);
    }
    if (foreign_) {
      c.initramfs_files.emplace_back(foreign_->guest_path, foreign_->interpreter);
      req.binfmt.push_back(foreign_->registration);
    }
    if (spec_.mounts) {
      req.own_mounts = true;
      std::vector<Placed> own;
      for (const Mount& m : *spec_.mounts) {
        Placed p = record(Placed::Kind::mount, m.guest, m.options);
        p.fstype = m.type;
        p.source = m.source;
        std::tie(p.read_only, p.nosuid, p.nodev, p.noexec) = std::tuple(m.read_only, m.nosuid, m.nodev, m.noexec);
        own.push_back(p);
      }
      mounted.insert(mounted.begin(), own.begin(), own.end());
    }
    // init's own /run belongs to the guest's root; a container root of a user namespace gets one
    // of its own, as podman gives it (mounted first: the given mounts may lie under it)
    const auto root_uid = vm::outside_id(spec_.uid_map, 0), root_gid = vm::outside_id(spec_.gid_map, 0);
    if (!spec_.mounts && root_uid && root_gid)
      mounted.insert(mounted.begin(),
                     record(Placed::Kind::tmpfs, "/run", "mode=755,uid=" + std::to_string(*root_uid) + ",gid=" + std::to_string(*root_gid)));
    for (const Tmpfs& t : spec_.tmpfs) {
      Placed p = record(Placed::Kind::tmpfs, t.guest, t.options);
      std::tie(p.read_only, p.nosuid, p.nodev, p.noexec) = std::tuple(t.read_only, t.nosuid, t.nodev, t.noexec);
      mounted.push_back(p);
    }
    for (const File& f : spec_.files) {
      Placed p = record(Placed::Kind::copy, f.guest, f.content);
      std::tie(p.mode, p.uid, p.gid) = std::tuple(f.mode, f.uid, f.gid);
      std::tie(p.read_only, p.nosuid, p.nodev, p.noexec) = std::tuple(f.read_only, f.nosuid, f.nodev, f.noexec);
      mounted.push_back(p);
    }
    auto under = [](const std::string& path, const std::string& dir) {
      const std::string d = dir.ends_with('/') ? dir : dir + "/";
      return path.starts_with(d) && path.size() > d.size();
    };
    std::vector<Placed> ordered;
    for (const Placed& p : mounted) {  // each before the first one placed so far that lies under it
      auto at = std::find_if(ordered.begin(), ordered.end(), [&](const Placed& q) { return under(q.guest_path, p.guest_path); });
      ordered.insert(at, p);
    }
    req.files.insert(req.files.end(), ordered.begin(), ordered.end());
    for (const Device& d : spec_.devices) {
      Placed p = record(Placed::Kind::device, d.guest, "");
      const std::uint32_t type = d.type == 'b' ? S_IFBLK : d.type == 'p' ? S_IFIFO : S_IFCHR;
      std::tie(p.mode, p.uid, p.gid, p.major, p.minor) = std::tuple(type | d.mode, d.uid, d.gid, d.major, d.minor);
      req.files.push_back(p);
    }
    for (const auto& [path, target] : spec_.symlinks) req.files.push_back(record(Placed::Kind::symlink, path, target));
    for (const auto& [key, value] : spec_.sysctl) req.files.push_back(record(Placed::Kind::sysctl, sysctl_path(key), value));
    for (const std::string& path : spec_.readonly_paths) req.files.push_back(record(Placed::Kind::read_only, path, ""));
    for (const std::string& path : spec_.masked_paths) req.files.push_back(record(Placed::Kind::masked, path, ""));
    if (spec_.root_readonly) req.files.push_back(record(Placed::Kind::read_only, "/", ""));
    req.uid_map = spec_.uid_map;
    req.gid_map = spec_.gid_map;
    vm::Channel::check_container(req);  // what does not fit is named before a VM is started
    const auto t0 = vm::Clock::now();
    try {
      vm_.emplace(c, req);
    } catch (const vm::ConfigError& e) {  // no kernel for the guest the image picked: say why that guest
      if (arch_note_.empty()) throw;
      throw vm::ConfigError(arch_note_ + ": " + e.what());
    }
    const double ms = std::chrono::duration<double, std::milli>(vm::Clock::now() - t0).count();
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s in %.0f ms",
                  vm_->container_restored() ? "VM restored with the container set up"
                  : vm_->restored()         ? "VM restored and container set up"
                                            : "VM booted and container set up",
                  ms);
    start_note_ = buf;
  }

  Spec spec_;
  ImageConfig config_;
  std::optional<RootLease> lease_;
  std::optional<ForeignArch> foreign_;
  std::vector<std::string> env_;
  vm::CommandOptions options_;
  std::string hostname_, root_note_, start_note_, arch_note_;
  std::optional<vm::Session> vm_;
};

}  // namespace crumble::container
