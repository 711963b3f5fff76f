// SPDX-License-Identifier: Apache-2.0
// crumble/vm/protocol/channel.hpp — the host's side of the init protocol (layout.hpp), over the two
// shared regions as the host maps them. Engine-independent: an engine gives the two pointers and
// a way to tell whether the guest is still alive.
//
// Everything read from the guest is checked before use (signal values, lengths, stream numbers,
// exit kinds): a confused or hostile guest gets a GuestProtocolError, never an out-of-bounds read.
// Each guest field is read once, into a local, with an atomic load (guest_u32): the guest may
// change it at any time, and a second read could see a value other than the one checked.
// What the host writes for the guest (a request's header, the clock, entropy) goes through the
// little-endian helpers (crumble/bytes.hpp) while the guest does not look; the magic that hands
// it over is an atomic store with release ordering (host_u32), written last.
// Every wait has a deadline; on timeout the caller stops the VM.
//
// A command is a process in one of the guest's process slots (start(), ProcessSlot): its stdout
// and stderr stream to the host through rings as it runs, its stdin from the host, and the host
// sends it signals and terminal sizes; up to protocol::config::process_max run at once. Output
// is bounded per ring, not in total, so the host never has to hold it: run() with a sink hands
// it on as it comes (the CLI writes it out), and the one-shot run() built on it keeps at most a
// limit per stream, says that it truncated, and takes the rest unread, so the guest finishes.
//
// A command may run as another user (CommandOptions: uid, gid, groups, working directory,
// no_new_privs), and once per boot the guest can be asked to move into a container's root
// (setup_container, ContainerRequest): the requests are checked here, before anything is written.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <functional>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "../../bytes.hpp"
#include "../../code/buffer.hpp"
#include "../errors.hpp"
#include "../engine/options.hpp"
#include "layout.hpp"
#include "process_slot.hpp"

namespace crumble::vm {

using Clock = std::chrono::steady_clock;

// A process's capability sets (bit N: capability N, as in <linux/capability.h>).
struct Capabilities {
  std::uint64_t bounding = 0, effective = 0, permitted = 0, inheritable = 0, ambient = 0;
  bool operator==(const Capabilities&) const = default;
};

// A resource limit (prlimit64): RLIMIT_* number, soft and hard values (RLIM_INFINITY: ~0).
struct ResourceLimit {
  int resource = 0;
  std::uint64_t soft = 0, hard = 0;
  bool operator==(const ResourceLimit&) const = default;
};

// Who a command runs as, and where. Ids are set when any of uid, gid or groups is given (a
// missing uid or gid is 0, root; groups is the whole supplementary list, empty: none).
// Capabilities: exactly `capabilities` when given (an ambient one the kernel refuses, not
// permitted and inheritable, is left out, as runc does); otherwise root keeps all and another uid
// none. cwd (absolute; empty: the guest's current directory, /) is made, as root, when missing, as
// docker makes a missing WorkingDir. no_new_privs: PR_SET_NO_NEW_PRIVS. rlimits and
// oom_score_adj are applied first, as root.
// root_writes: argv runs init's own busybox (argv[0] names the applet: "tar"), as root, in the
// container root's writable layer (the overlay's upper directory, with its whiteouts), the
// other options ignored; a guest without one (no container, or a root without an overlay)
// does not start it (exec_stage_chdir, ENOENT). Container::copy_writes_to reads the layer so.
// A layer as the container's setup left it (init's fingerprint) does not run it either: it ends
// at once with status 0 and no output, whatever argv is (an archive of it is never empty).
struct CommandOptions {
  std::optional<std::uint32_t> uid, gid;
  std::vector<std::uint32_t> groups;
  std::string cwd;
  bool no_new_privs = false;
  // The "= {}"s let `{uid, gid, groups, cwd, no_new_privs}` leave the rest out: Clang's
  // -Wmissing-field-initializers (in -Wextra) asks for members without a default initializer.
  std::optional<Capabilities> capabilities = {};
  std::vector<ResourceLimit> rlimits = {};  // at most protocol::config::command_rlimits_max
  std::optional<int> oom_score_adj = {};    // -1000..1000
  bool root_writes = false;
};

// What the guest's init mounts as the container's root and around it (setup_container).
struct ContainerRequest {
  enum class RootKind {
    dir,       // root_source: a directory already in the guest (the initramfs), bind-mounted
    block,     // root_source: a block device (/dev/vda) of root_fstype (erofs, ext4), read-only,
               // under a tmpfs overlay: the container writes, the writes go with the VM
    virtiofs,  // root_source: a virtio-fs tag, mounted read-write as the root, no overlay
  };
  RootKind root_kind = RootKind::dir;
  std::string root_source, root_fstype, hostname;  // hostname empty: the guest's stays
  // A block root's files read whole into the guest's page cache during the setup, up to this
  // many MiB: for a guest saved right after (a container snapshot), whose first commands then
  // read no disk. Not part of what the container is (container_bytes leaves it out).
  std::uint32_t prefetch_mib = 0;
  struct Volume {
    std::string tag, guest_path;  // a virtio-fs tag, and where it appears (absolute, in the root)
    bool read_only = false;
    // Empty: the share's root is the volume. Else the share's root holds the host directory as
    // this one name (vm::Share::subdir), and init binds it alone: its root in the guest's
    // mountinfo is then /NAME, as for a bind mount of the host directory.
    std::string subdir{};
  };
  std::vector<Volume> volumes;
  // binfmt_misc registrations (":name:type:offset:magic:mask:interpreter:flags"), written as they
  // are before the root is switched: the interpreter is a path in the initramfs, which the 'F'
  // flag makes the kernel open at registration.
  std::vector<std::string> binfmt;
  // Placed last, inside the root and after the volumes, in this order: a file copied in (content,
  // mode, owner) and bind-mounted at its path, as a runtime binds /etc/hosts, so that nothing is
  // written into the root itself (a virtio-fs root is the host's directory: at most an empty
  // file is made there where the path is missing, as runc makes a mount point); a tmpfs
  // (content: its mount options, "size=10m,mode=1777") or another file system (mount: fstype,
  // source, content its options); a device node (mode with S_IFCHR, S_IFBLK or S_IFIFO; major,
  // minor, owner) or a symlink (content: its target); or a change to what is there, nothing when
  // the path is missing: masked (/dev/null over a file, a read-only tmpfs over a directory),
  // read_only (the path, or the root "/", made read-only), sysctl (content written to the path,
  // under /proc/sys/). The flags are mount flags (copy, tmpfs, mount): the copy cannot be written
  // through a read-only one.
  struct File {
    enum class Kind { copy, tmpfs, mount, device, symlink, masked, read_only, sysctl };
    Kind kind = Kind::copy;
    std::string guest_path;  // absolute, in the root
    std::string content;     // copy: the bytes; tmpfs, mount: the options; symlink: the target; sysctl: the value
    std::uint32_t mode = 0644, uid = 0, gid = 0;  // copy: at most 07777; device: and the node's type
    bool read_only = false, nosuid = false, nodev = false, noexec = false;
    std::string fstype = {}, source = {};  // mount (= {}: may be left out, as above)
    std::uint32_t major = 0, minor = 0;  // device: below 4096 and 2^20 (Linux's 32-bit dev_t)
  };
  std::vector<File> files;
  // The records mount the container's file systems (an OCI config's mounts), init none of its
  // own (proc, sysfs, devtmpfs at /dev, devpts, /dev/shm, /tmp, /run).
  bool own_mounts = false;
  // Not empty: the container's processes run in a user namespace of their own, whose ids map
  // onto the guest's by these ranges (both maps needed, as in an OCI config's
  // linux.uidMappings and gidMappings); the guest's files keep the guest's ids, so a root owned by
  // 0 shows as nobody inside unless it is mapped. The commands' uid and gid are the namespace's.
  struct IdRange {
    std::uint32_t inside = 0, outside = 0, count = 0;
  };
  std::vector<IdRange> uid_map{}, gid_map{};
};

// The guest's id for `id` of a user namespace with this map; none when no range maps it.
inline std::optional<std::uint32_t> outside_id(const std::vector<ContainerRequest::IdRange>& map, std::uint32_t id) {
  for (const auto& r : map)
    if (id >= r.inside && id - r.inside < r.count) return r.outside + (id - r.inside);
  return std::nullopt;
}

// The guest could not set up the container: which step (protocol::container_step_*), its errno,
// and the message naming both (and the volume's guest path for a volume, the file's for a file).
struct ContainerSetupError : VmError {
  ContainerSetupError(int step_, int errno_, const std::string& what) : VmError(what), step(step_), error(errno_) {}
  int step;
  int error;
};

// Receives a command's output as it comes, in the order the guest wrote each stream. The bytes
// are valid only during the call: they lie in the stream's ring in the shared region, which the
// guest refills once the call has returned.
using OutputSink = std::function<void(Stream, std::string_view)>;

// A process's stdio (Channel::start): stdin from the host (else /dev/null, as docker without
// -i); a terminal (a pty in the guest of this size; stdout and stderr both arrive as Stream::out).
struct Stdio {
  bool stdin_open = false;
  std::optional<TerminalSize> tty;
};

// How much of each stream the one-shot run() keeps by default (SessionConfig::output_limit).
inline constexpr std::size_t default_output_limit = std::size_t{64} << 20;

class Channel {
 public:
  // `alive` is called while waiting; it throws (BootError, ...) when the guest is gone.
  Channel(std::uint8_t* mailbox, std::uint8_t* config, std::function<void()> alive)
      : mb_(mailbox), cfg_(config), alive_(std::move(alive)) {}

  // Before boot: the wall clock the guest sets in init phase 6.
  void write_clock() {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    std::uint8_t* c = cfg_ + protocol::config::clock;
    le::store<std::uint64_t>(c + protocol::config::clock_sec, static_cast<std::uint64_t>(now.tv_sec));
    le::store<std::uint64_t>(c + protocol::config::clock_nsec, static_cast<std::uint64_t>(now.tv_nsec));
    host_u32(c + protocol::config::clock_magic_at, protocol::clock_magic);
  }

  // Waits for init's ready signal; a failed phase becomes InitFailed.
  void wait_ready(Clock::time_point deadline) { expect(protocol::signal_ready, deadline, "boot (waiting for init to be ready)"); }

  // Early snapshots (protocol::config::hold): before boot, ask init to hold after phase 6; wait
  // until it does; let it go on.
  void request_hold() { host_u32(cfg_ + protocol::config::hold, protocol::hold_magic); }
  // True when init holds; false when it signalled ready instead (an init that does not know the
  // hold request: it is ready, and there is no early point to snapshot).
  bool wait_holding(Clock::time_point deadline) {
    const std::uint32_t s = next_signal(deadline, "boot (waiting for init to hold after phase 6)");
    if (s == protocol::signal_failed) throw init_failed();
    if (s == protocol::signal_ready) return false;
    if (s != protocol::signal_holding) throw GuestProtocolError("init sent signal " + hex(s) + " while the host waited for it to hold");
    return true;
  }
  void release_hold() { host_u32(cfg_ + protocol::config::hold, 0); }

  // If the guest reported a failed phase (read after it stopped), the error for it.
  bool failed(InitFailed* out) const {
    if (guest_u32(mb_ + protocol::mailbox::signal) != protocol::signal_failed) return false;
    if (out) *out = init_failed();
    return true;
  }

  // Runs argv (argv[0] is the program: a path, or a name looked up in /bin, /sbin, /usr/bin,
  // /usr/sbin) with exactly the environment `env` ("K=V" strings) and keeps at most `limit` bytes
  // of each stream; what is past the limit is drained and CommandResult::*_truncated says so.
  CommandResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env, Clock::time_point deadline,
                    std::size_t limit = default_output_limit, const CommandOptions& options = {}) {
    std::string out, err;
    bool out_cut = false, err_cut = false;
    const OutputSink keep = [&](Stream s, std::string_view bytes) {
      std::string& to = s == Stream::out ? out : err;
      const std::size_t room = limit - std::min(limit, to.size());
      if (bytes.size() > room) {
        (s == Stream::out ? out_cut : err_cut) = true;
        bytes = bytes.substr(0, room);
      }
      to.append(bytes);
    };
    CommandResult r = run(argv, env, deadline, keep, options);
    r.out = std::move(out);
    r.err = std::move(err);
    r.out_truncated = out_cut;
    r.err_truncated = err_cut;
    return r;
  }

  // The same, the output handed to `sink` as it comes and taken from the ring after the sink
  // returns (so a slow sink slows the command, and the host holds nothing of its own); the
  // result's out and err stay empty. A sink that throws leaves the process running in its slot
  // (Session then stops the VM).
  CommandResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env, Clock::time_point deadline,
                    const OutputSink& sink, const CommandOptions& options = {}) {
    if (!sink) throw ConfigError("no output sink given for the command's output");
    const int id = start(argv, env, deadline, options);  // first: it refuses an empty argv
    return wait_end(id, sink, deadline, "command " + argv[0]);
  }

  // Hands process `id`'s output to `sink` as it comes (taken from the ring once the sink returns)
  // until it ends, and says how; GuestTimeout naming `what` at the deadline.
  CommandResult wait_end(int id, const OutputSink& sink, Clock::time_point deadline, const std::string& what) {
    Waiter idle;
    for (;;) {
      bool moved = false;
      for (Stream s : {Stream::out, Stream::err})  // one piece of each per look: wait() sees the clock
        if (std::string_view bytes = slot(id).pending(s); !bytes.empty()) {
          sink(s, bytes);
          slot(id).consume(s, bytes.size());
          moved = true;
        }
      if (std::optional<CommandResult> r = finish(id)) return *r;
      wait(idle, moved, deadline, what);
    }
  }

  // Starts argv in a free process slot with `stdio` and returns the slot's number, once the guest
  // has taken the request (a process that could not start has then already ended: finish() says
  // why). Its output waits in the slot's rings until taken (slot(id).pending/consume).
  int start(const std::vector<std::string>& argv, const std::vector<std::string>& env, Clock::time_point deadline,
            const CommandOptions& options = {}, const Stdio& stdio = {}) {
    if (argv.empty() || argv[0].empty()) throw ConfigError("no command to run");
    check_options(options);
    if (stdio.tty && (stdio.tty->rows == 0 || stdio.tty->cols == 0)) throw ConfigError("a terminal needs at least one row and column");
    reclaim();
    int id = 0;
    while (id < static_cast<int>(protocol::config::process_max) && busy_[id]) ++id;
    if (id == static_cast<int>(protocol::config::process_max))
      throw ConfigError("the guest runs at most " + std::to_string(protocol::config::process_max) + " processes at once");
    std::string strings = argv[0] + '\0';
    auto add = [&](const std::string& s, const char* what, std::size_t i) {
      if (s.find('\0') != std::string::npos)
        throw ConfigError(std::string(what) + " " + std::to_string(i) + " contains a NUL byte, which execve cannot pass");
      strings += s;
      strings += '\0';
    };
    for (std::size_t i = 0; i < argv.size(); ++i) add(argv[i], "argument", i);
    for (std::size_t i = 0; i < env.size(); ++i) add(env[i], "environment entry", i);
    strings += options.cwd;
    strings += '\0';
    namespace config = protocol::config;
    if (config::command_strings + strings.size() > config::command_max)
      throw ConfigError("command and environment take " + std::to_string(strings.size()) + " bytes; at most " +
                        std::to_string(config::command_max - config::command_strings) + " fit the config region");
    const TerminalSize size = stdio.tty.value_or(TerminalSize{});
    slots_[id].reset(size);
    std::uint8_t* c = cfg_ + config::command;
    std::memcpy(c + config::command_strings, strings.data(), strings.size());
    le::store<std::uint32_t>(c + config::command_path_len, static_cast<std::uint32_t>(argv[0].size()));
    le::store<std::uint32_t>(c + config::command_argc, static_cast<std::uint32_t>(argv.size()));
    le::store<std::uint32_t>(c + config::command_envc, static_cast<std::uint32_t>(env.size()));
    const bool set_ids = options.uid || options.gid || !options.groups.empty();
    le::store<std::uint32_t>(c + config::command_uid, options.uid.value_or(0));
    le::store<std::uint32_t>(c + config::command_gid, options.gid.value_or(0));
    le::store<std::uint32_t>(c + config::command_flags, (set_ids ? protocol::command_flag_set_ids : 0) |
                                                            (options.no_new_privs ? protocol::command_flag_no_new_privs : 0) |
                                                            (options.cwd.empty() ? 0 : protocol::command_flag_chdir) |
                                                            (stdio.stdin_open ? protocol::command_flag_stdin : 0) |
                                                            (stdio.tty ? protocol::command_flag_tty : 0) |
                                                            (options.capabilities ? protocol::command_flag_capabilities : 0) |
                                                            (options.oom_score_adj ? protocol::command_flag_oom_score_adj : 0) |
                                                            (options.root_writes ? protocol::command_flag_root_writes : 0));
    const Capabilities caps = options.capabilities.value_or(Capabilities{});
    le::store<std::uint64_t>(c + config::command_cap_bounding, caps.bounding);
    le::store<std::uint64_t>(c + config::command_cap_effective, caps.effective);
    le::store<std::uint64_t>(c + config::command_cap_permitted, caps.permitted);
    le::store<std::uint64_t>(c + config::command_cap_inheritable, caps.inheritable);
    le::store<std::uint64_t>(c + config::command_cap_ambient, caps.ambient);
    le::store<std::uint32_t>(c + config::command_oom_score_adj, static_cast<std::uint32_t>(options.oom_score_adj.value_or(0)));
    le::store<std::uint32_t>(c + config::command_nrlimits, static_cast<std::uint32_t>(options.rlimits.size()));
    for (std::size_t i = 0; i < options.rlimits.size(); ++i) {
      std::uint8_t* l = c + config::command_rlimits + 24 * i;
      le::store<std::uint32_t>(l, static_cast<std::uint32_t>(options.rlimits[i].resource));
      le::store<std::uint32_t>(l + 4, 0);
      le::store<std::uint64_t>(l + 8, options.rlimits[i].soft);
      le::store<std::uint64_t>(l + 16, options.rlimits[i].hard);
    }
    le::store<std::uint32_t>(c + config::command_ngroups, static_cast<std::uint32_t>(options.groups.size()));
    for (std::size_t i = 0; i < options.groups.size(); ++i) le::store<std::uint32_t>(c + config::command_groups + 4 * i, options.groups[i]);
    le::store<std::uint32_t>(c + config::command_process, static_cast<std::uint32_t>(id));
    le::store<std::uint32_t>(c + config::command_rows, size.rows);
    le::store<std::uint32_t>(c + config::command_cols, size.cols);
    host_u32(c + config::command_magic_at, protocol::command_magic);  // last: the guest may start now
    busy_[id] = true;
    abandoned_[id] = false;
    options_[id] = options;
    const std::uint32_t s = next_signal(deadline, "command " + argv[0]);
    if (s == protocol::signal_failed) throw init_failed();
    if (s != protocol::signal_started) throw GuestProtocolError("unexpected signal " + hex(s) + " after a command");
    return id;
  }

  // The slot of a started process (start()'s number).
  ProcessSlot& slot(int id) {
    if (id < 0 || id >= static_cast<int>(protocol::config::process_max) || !busy_[id]) throw ConfigError("no process " + std::to_string(id));
    return slots_[id];
  }

  // How the process ended, once it has and all its output is taken; the slot is then free. Until
  // then nothing (it runs, or output waits).
  std::optional<CommandResult> finish(int id) {
    ProcessSlot& p = slot(id);
    p.flush();
    if (!p.done()) return std::nullopt;
    CommandResult r = p.result();
    if (r.end == CommandResult::End::not_started) r.exec_target = stage_target(options_[id], r.exec_stage);
    p.reset({});  // free: state process_free
    busy_[id] = false;
    return r;
  }

  // A process nobody will wait for: killed (SIGKILL to its group), its output dropped as it comes,
  // its slot freed once it has ended (reclaim(), at the next start()).
  void abandon(int id) {
    slot(id).signal(SIGKILL);
    abandoned_[id] = true;
    reclaim();
  }

  // Between two looks at the guest: after one where nothing moved, spins briefly, then sleeps
  // 50 µs; every 64th call (bytes moving or not: a guest that never stops writing must not
  // outlive the deadline) checks that the guest lives and the deadline (GuestTimeout names `what`).
  struct Waiter {
    unsigned idle = 0, calls = 0;
  };
  void wait(Waiter& w, bool moved, Clock::time_point deadline, const std::string& what) {
    if ((++w.calls & 63) == 0) {
      alive_();
      if (Clock::now() >= deadline) throw GuestTimeout("guest did not answer in time: " + what);
    }
    if (moved) {
      w.idle = 0;
      return;
    }
    if (++w.idle > 200) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  // Throws when the guest is gone (the engine's check), or GuestTimeout naming `what` once the
  // deadline has passed.
  void check(Clock::time_point deadline, const std::string& what) {
    alive_();
    if (Clock::now() >= deadline) throw GuestTimeout(what + " did not end in time");
  }

  // Asks init, once per boot, to move into the container's root (ContainerRequest): checks the
  // request (ConfigError, before anything is written), writes it, waits. Init's failed step
  // becomes ContainerSetupError; init then still serves, where it was (the caller should stop the
  // VM: a step may have left mounts behind).
  void setup_container(const ContainerRequest& request, Clock::time_point deadline) {
    namespace config = protocol::config;
    const std::string strings = container_strings(request);
    if (config::container_strings + strings.size() > config::command_max)
      throw ConfigError("container request takes " + std::to_string(strings.size()) + " bytes; at most " +
                        std::to_string(config::command_max - config::container_strings) + " fit the config region");
    const std::size_t files_at = (config::container_strings + strings.size() + 7) & ~std::size_t{7};
    const std::string records = container_files(request, files_at);
    std::uint8_t* c = cfg_ + config::command;
    std::memcpy(c + config::container_strings, strings.data(), strings.size());
    std::memcpy(c + files_at, records.data(), records.size());
    using Kind = ContainerRequest::RootKind;
    le::store<std::uint32_t>(c + config::container_root_kind, request.root_kind == Kind::dir      ? protocol::container_root_dir
                                                              : request.root_kind == Kind::block ? protocol::container_root_block
                                                                                                 : protocol::container_root_virtiofs);
    le::store<std::uint32_t>(c + config::container_flags, (request.own_mounts ? protocol::container_flag_own_mounts : 0) |
                                                              (request.uid_map.empty() ? 0 : protocol::container_flag_user_namespace));
    le::store<std::uint32_t>(c + config::container_volumes, static_cast<std::uint32_t>(request.volumes.size()));
    le::store<std::uint32_t>(c + config::container_binfmts, static_cast<std::uint32_t>(request.binfmt.size()));
    le::store<std::uint32_t>(c + config::container_files, static_cast<std::uint32_t>(request.files.size()));
    le::store<std::uint32_t>(c + config::container_files_at, static_cast<std::uint32_t>(files_at));
    le::store<std::uint32_t>(c + config::container_prefetch_mib, request.root_kind == Kind::block ? request.prefetch_mib : 0);
    for (std::size_t i = 0; i < request.volumes.size(); ++i)
      le::store<std::uint32_t>(c + config::container_volume_flags + 4 * i, request.volumes[i].read_only ? protocol::volume_flag_read_only : 0);
    host_u32(c + config::container_magic_at, protocol::container_magic);  // last

    const std::uint32_t s = next_signal(deadline, "container setup");
    if (s == protocol::signal_container_ready) return;
    if (s == protocol::signal_failed) throw init_failed();
    if (s != protocol::signal_container_failed) throw GuestProtocolError("unexpected signal " + hex(s) + " after a container request");
    const std::uint32_t step = guest_u32(mb_ + protocol::mailbox::phase);
    const std::uint32_t err = guest_u32(mb_ + protocol::mailbox::error);
    const std::uint32_t index = guest_u32(mb_ + protocol::mailbox::index);
    const bool indexed = step == protocol::container_step_volume || step == protocol::container_step_binfmt || step == protocol::container_step_file ||
                         step == protocol::container_step_user_namespace;
    const std::size_t count = step == protocol::container_step_volume           ? request.volumes.size()
                              : step == protocol::container_step_file           ? request.files.size()
                              : step == protocol::container_step_user_namespace ? std::size(user_namespace_steps)
                                                                                : request.binfmt.size();
    if (step < 1 || step >= std::size(protocol::container_step_names) || err < 1 || err > 4095 || (indexed && index >= count))
      throw GuestProtocolError("guest reported an impossible container failure (step " + std::to_string(step) + ", errno " +
                               std::to_string(err) + ", index " + std::to_string(index) + ")");
    std::string what = protocol::container_step_names[step];
    if (step == protocol::container_step_root || step == protocol::container_step_overlay) what += " " + request.root_source;
    if (step == protocol::container_step_volume)
      what += " " + request.volumes[index].guest_path + " (virtio-fs tag " + request.volumes[index].tag + ")";
    if (step == protocol::container_step_binfmt) what += " (registration " + std::to_string(index) + ")";
    if (step == protocol::container_step_hostname) what += " " + request.hostname;
    if (step == protocol::container_step_user_namespace) what += std::string(" (") + user_namespace_steps[index] + ")";
    if (step == protocol::container_step_file) {
      using Kind = ContainerRequest::File::Kind;
      const ContainerRequest::File& f = request.files[index];
      switch (f.kind) {
        case Kind::copy: what += " " + f.guest_path; break;
        case Kind::tmpfs: what = "mount a tmpfs at " + f.guest_path; break;
        case Kind::mount: what = "mount " + f.fstype + " at " + f.guest_path; break;
        case Kind::device: what = "make the device node " + f.guest_path; break;
        case Kind::symlink: what = "make the symlink " + f.guest_path + " -> " + f.content; break;
        case Kind::masked: what = "mask " + f.guest_path; break;
        case Kind::read_only: what = "make " + f.guest_path + " read-only"; break;
        case Kind::sysctl: what = "write the sysctl " + f.guest_path; break;
      }
    }
    throw ContainerSetupError(static_cast<int>(step), static_cast<int>(err), "container setup failed: cannot " + what + ": " + errno_text(err));
  }

  // What init was doing when the user namespace's step failed (the mailbox's index).
  static constexpr const char* user_namespace_steps[] = {"clone it", "write its uid_map", "write its gid_map", "open it"};

  // The checks setup_container makes before it writes anything, without a guest: ConfigError
  // naming what init could not carry out, or the file that does not fit the area.
  static void check_container(const ContainerRequest& request) {
    namespace config = protocol::config;
    const std::string strings = container_strings(request);
    if (config::container_strings + strings.size() > config::command_max)
      throw ConfigError("container request takes " + std::to_string(strings.size()) + " bytes; at most " +
                        std::to_string(config::command_max - config::container_strings) + " fit the config region");
    (void)container_files(request, (config::container_strings + strings.size() + 7) & ~std::size_t{7});
  }

  // The request as init would read it (its strings, then its file records, contents included):
  // what a snapshot of a guest with this container set up is keyed by. Checked as
  // check_container does.
  static std::string container_bytes(const ContainerRequest& request) {
    const std::string strings = container_strings(request);
    std::string bytes = strings + container_files(request, (protocol::config::container_strings + strings.size() + 7) & ~std::size_t{7});
    bytes += request.root_kind == ContainerRequest::RootKind::block ? 'b' : request.root_kind == ContainerRequest::RootKind::dir ? 'd' : 'v';
    bytes += request.own_mounts ? 'o' : '-';
    bytes += request.uid_map.empty() ? '-' : 'u';
    for (const auto& v : request.volumes) bytes += v.read_only ? 'r' : 'w';
    return bytes;
  }

  // Copies a payload into the guest, which relocates and calls it; its return value.
  std::int64_t call(const code::Image& img, Clock::time_point deadline) {
    const std::size_t total = protocol::config::payload_code + img.bytes.size() + 4 * img.relocs.size();
    if (total > protocol::config::payload_max)
      throw ConfigError("payload of " + std::to_string(img.bytes.size()) + " bytes and " + std::to_string(img.relocs.size()) +
                        " relocations does not fit the config region's payload area (" +
                        std::to_string(protocol::config::payload_max) + " bytes)");
    if (img.bss_offset + img.bss_size > protocol::exec_size)
      throw ConfigError("payload code and bss exceed the guest's " + std::to_string(protocol::exec_size >> 20) + " MiB executable region");
    if (img.entry >= img.bytes.size()) throw ConfigError("payload entry point lies outside its code");
    std::uint8_t* c = cfg_ + protocol::config::payload;
    std::memcpy(c + protocol::config::payload_code, img.bytes.data(), img.bytes.size());
    std::uint8_t* relocs = c + protocol::config::payload_code + img.bytes.size();
    for (std::size_t i = 0; i < img.relocs.size(); ++i) le::store<std::uint32_t>(relocs + 4 * i, img.relocs[i]);
    // the guest zeroes bss after the code: cover the gap between code end and bss start too
    const std::uint64_t bss = img.bss_size ? img.bss_offset + img.bss_size - img.bytes.size() : 0;
    le::store<std::uint32_t>(c + protocol::config::payload_code_size, static_cast<std::uint32_t>(img.bytes.size()));
    le::store<std::uint32_t>(c + protocol::config::payload_relocs, static_cast<std::uint32_t>(img.relocs.size()));
    le::store<std::uint32_t>(c + protocol::config::payload_entry, static_cast<std::uint32_t>(img.entry));
    le::store<std::uint32_t>(c + protocol::config::payload_bss_size, static_cast<std::uint32_t>(bss));
    host_u32(c + protocol::config::payload_magic_at, protocol::payload_magic);
    const std::uint32_t s = next_signal(deadline, "payload");
    if (s == protocol::signal_failed) throw init_failed();
    if (s != protocol::signal_payload_done) throw GuestProtocolError("unexpected signal " + hex(s) + " after a payload");
    // read once and returned unchecked: any value is a possible result
    return static_cast<std::int64_t>(le::load<std::uint64_t>(mb_ + protocol::mailbox::result));
  }

  // After a restore, for every engine: the guest's signals so far are history (go on from its
  // count); an early snapshot's init still holds after phase 6 (release it, wait for ready);
  // then fresh entropy and the time.
  void go_on_after_restore(SnapshotMode saved_at, Clock::time_point deadline) {
    seq_ = guest_u32(mb_ + protocol::mailbox::seq);
    if (saved_at == SnapshotMode::early) {
      release_hold();
      wait_ready(deadline);
    }
    reseed(deadline);
  }

  // After a restore: fresh entropy and the wall clock for the guest, so clones of one snapshot
  // differ (their CRNG state was copied with the memory) and know the time; and, unless empty,
  // the hostname (a container restored already set up: its snapshot was set up without one).
  void reseed(Clock::time_point deadline, std::string_view hostname = {}) {
    check_string(std::string(hostname), "the hostname", hostname_max, false);
    std::uint8_t* r = cfg_ + protocol::config::reseed;
    static_assert(hostname_max <= protocol::config::reseed_hostname_max);
    std::memcpy(r + protocol::config::reseed_hostname, hostname.data(), hostname.size());
    le::store<std::uint32_t>(r + protocol::config::reseed_hostname_len, static_cast<std::uint32_t>(hostname.size()));
    std::random_device random;
    for (std::uint32_t i = 0; i < protocol::config::reseed_entropy_bytes; i += 4) le::store<std::uint32_t>(r + protocol::config::reseed_entropy + i, random());
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    le::store<std::uint64_t>(r + protocol::config::reseed_sec, static_cast<std::uint64_t>(now.tv_sec));
    le::store<std::uint64_t>(r + protocol::config::reseed_nsec, static_cast<std::uint64_t>(now.tv_nsec));
    host_u32(r + protocol::config::reseed_magic_at, protocol::reseed_magic);
    const std::uint32_t s = next_signal(deadline, "reseed after restore");
    if (s == protocol::signal_failed) throw init_failed();
    if (s != protocol::signal_reseeded) throw GuestProtocolError("unexpected signal " + hex(s) + " after a reseed");
  }

  // Asks init to sync and power off.
  void poweroff() { host_u32(cfg_ + protocol::config::command + protocol::config::command_magic_at, protocol::poweroff_magic); }

 private:
  // The protocol is little-endian; these two are native 32-bit atomics (the fields are aligned:
  // layout.hpp's laid_out), which equals little-endian on every host crumble runs on.
  static_assert(std::endian::native == std::endian::little, "the channel's atomic fields assume a little-endian host");
  // A field the guest writes: read once, with acquire ordering (after `seq`, it sees the fields
  // the guest wrote before it).
  static std::uint32_t guest_u32(const std::uint8_t* p) {
    return std::atomic_ref<const std::uint32_t>(*reinterpret_cast<const std::uint32_t*>(p)).load(std::memory_order_acquire);
  }
  // A word that hands something to the guest (a magic): with release ordering, so
  // the guest that sees it also sees what the host wrote before.
  static void host_u32(std::uint8_t* p, std::uint32_t v) {
    std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(p)).store(v, std::memory_order_release);
  }
  static std::string hex(std::uint32_t v) {
    char b[16];
    std::snprintf(b, sizeof b, "0x%08x", v);
    return b;
  }

  void expect(std::uint32_t wanted, Clock::time_point deadline, const char* what) {
    const std::uint32_t s = next_signal(deadline, what);
    if (s == protocol::signal_failed) throw init_failed();
    if (s != wanted) throw GuestProtocolError("init sent signal " + hex(s) + " while the host waited for " + hex(wanted) + ": " + what);
  }

  // "ENOENT (No such file or directory)"; the number for one out of range.
  static std::string errno_text(std::uint32_t err) {
    if (err == 0 || err >= 4096) return "errno " + std::to_string(err);
    const char* name = ::strerrorname_np(static_cast<int>(err));
    return std::string(name ? name : "?") + " (" + std::strerror(static_cast<int>(err)) + ")";
  }

  InitFailed init_failed() const {
    const std::uint32_t phase = guest_u32(mb_ + protocol::mailbox::phase);
    const std::uint32_t err = guest_u32(mb_ + protocol::mailbox::error);
    std::string name = phase >= 1 && phase < std::size(protocol::phase_names) ? protocol::phase_names[phase] : "unknown phase";
    return InitFailed(static_cast<int>(phase), static_cast<int>(err),
                      "init phase " + std::to_string(phase) + " (" + name + ") failed: " + errno_text(err));
  }

  // The longest path init takes (its buffers are 4096 bytes, "/mnt" included), and Linux's limits
  // for a hostname (HOST_NAME_MAX), a virtio-fs tag (the device's config field) and a binfmt_misc
  // registration (MAX_REGISTER_LENGTH).
  static constexpr std::size_t path_max = 4000, hostname_max = 64, tag_max = 36, register_max = 1920, name_max = 255;

  static void check_string(const std::string& s, const std::string& what, std::size_t max, bool required) {
    if (s.find('\0') != std::string::npos) throw ConfigError(what + " contains a NUL byte");
    if (required && s.empty()) throw ConfigError(what + " is empty");
    if (s.size() > max) throw ConfigError(what + " is " + std::to_string(s.size()) + " bytes long; at most " + std::to_string(max));
  }
  // A volume's source as init reads it, "TAG" or "TAG/NAME": a tag without '/', and NAME one
  // file name (init binds it from the share; ".." would climb out of it).
  static void check_share_source(const std::string& tag, const std::string& name, const std::string& which) {
    check_string(tag, which + "'s virtio-fs tag", tag_max, true);
    if (tag.find('/') != std::string::npos) throw ConfigError(which + "'s virtio-fs tag " + tag + " contains a '/'");
    check_string(name, which + "'s directory in its share", name_max, false);
    if (name.find('/') != std::string::npos || name == "." || name == "..")
      throw ConfigError(which + "'s directory in its share, \"" + name + "\", is not one name");
  }
  // An absolute path without "." or ".." components: a volume's guest path must stay in the root.
  static void check_path(const std::string& path, const std::string& what) {
    check_string(path, what, path_max, true);
    if (path[0] != '/') throw ConfigError(what + " " + path + " is not an absolute path");
    for (std::size_t at = 1; at <= path.size();) {
      std::size_t end = path.find('/', at);
      if (end == std::string::npos) end = path.size();
      const std::string_view part(path.data() + at, end - at);
      if (part == "." || part == "..") throw ConfigError(what + " " + path + " has a \"" + std::string(part) + "\" component");
      at = end + 1;
    }
  }

  static void check_options(const CommandOptions& o) {
    if (o.groups.size() > protocol::config::command_groups_max)
      throw ConfigError("a command can have at most " + std::to_string(protocol::config::command_groups_max) + " supplementary groups, not " +
                        std::to_string(o.groups.size()));
    if (!o.cwd.empty()) check_path(o.cwd, "working directory");
    if (o.rlimits.size() > protocol::config::command_rlimits_max)
      throw ConfigError("a command can have at most " + std::to_string(protocol::config::command_rlimits_max) + " resource limits, not " +
                        std::to_string(o.rlimits.size()));
    for (const ResourceLimit& l : o.rlimits) {
      if (l.resource < 0 || l.resource >= 16) throw ConfigError("no resource limit number " + std::to_string(l.resource) + " (0 to 15)");
      if (l.soft > l.hard)
        throw ConfigError("resource limit " + std::to_string(l.resource) + ": the soft value " + std::to_string(l.soft) +
                          " is above the hard value " + std::to_string(l.hard));
    }
    if (o.oom_score_adj && (*o.oom_score_adj < -1000 || *o.oom_score_adj > 1000))
      throw ConfigError("oom_score_adj " + std::to_string(*o.oom_score_adj) + " is outside -1000..1000");
  }

  // What a failed step before execve was about, for CommandResult::describe().
  static std::string stage_target(const CommandOptions& o, int stage) {
    switch (stage) {
      case protocol::exec_stage_chdir: return o.root_writes ? std::string("(the root's writable layer)") : o.cwd;
      case protocol::exec_stage_setgid: return std::to_string(o.gid.value_or(0));
      case protocol::exec_stage_setuid:
      case protocol::exec_stage_capabilities: return std::to_string(o.uid.value_or(0));
      case protocol::exec_stage_oom_score_adj: return std::to_string(o.oom_score_adj.value_or(0));
      case protocol::exec_stage_setgroups: {
        std::string list;
        for (std::uint32_t g : o.groups) list += (list.empty() ? "" : ",") + std::to_string(g);
        return "[" + list + "]";
      }
      default: return "";
    }
  }

  // The request's strings as init reads them (layout.hpp, CONTAINER_HEADER), once checked.
  static std::string container_strings(const ContainerRequest& r) {
    using Kind = ContainerRequest::RootKind;
    if (r.root_kind != Kind::dir && r.root_kind != Kind::block && r.root_kind != Kind::virtiofs) throw ConfigError("unknown container root kind");
    if (r.root_kind == Kind::virtiofs) check_string(r.root_source, "the root's virtio-fs tag", tag_max, true);
    else check_path(r.root_source, r.root_kind == Kind::dir ? "the root directory" : "the root's block device");
    if (r.root_kind == Kind::block) check_string(r.root_fstype, "the root's file system type", 64, true);
    else check_string(r.root_fstype, "the root's file system type", 64, false);
    check_string(r.hostname, "the hostname", hostname_max, false);
    if (r.volumes.size() > protocol::config::container_volumes_max)
      throw ConfigError(std::to_string(r.volumes.size()) + " volumes; at most " + std::to_string(protocol::config::container_volumes_max));
    if (r.binfmt.size() > protocol::config::container_binfmts_max)
      throw ConfigError(std::to_string(r.binfmt.size()) + " binfmt_misc registrations; at most " +
                        std::to_string(protocol::config::container_binfmts_max));
    std::string s = r.root_source + '\0' + r.root_fstype + '\0' + r.hostname + '\0';
    for (std::size_t i = 0; i < r.volumes.size(); ++i) {
      const std::string which = "volume " + std::to_string(i);
      const ContainerRequest::Volume& v = r.volumes[i];
      check_share_source(v.tag, v.subdir, which);
      check_path(v.guest_path, which + "'s guest path");
      if (v.guest_path.find_first_not_of('/') == std::string::npos) throw ConfigError(which + "'s guest path is the root itself");
      // init reads "TAG/NAME" (a tag has no '/')
      s += v.tag + (v.subdir.empty() ? "" : "/" + v.subdir) + '\0' + v.guest_path + '\0';
    }
    for (std::size_t i = 0; i < r.binfmt.size(); ++i) {
      check_string(r.binfmt[i], "binfmt_misc registration " + std::to_string(i), register_max, true);
      s += r.binfmt[i] + '\0';
    }
    if (r.uid_map.empty() != r.gid_map.empty())
      throw ConfigError(std::string("a user namespace needs both maps: the ") + (r.uid_map.empty() ? "uid" : "gid") + " map is empty");
    if (!r.uid_map.empty()) {
      s += id_map_text(r.uid_map, "uid") + '\0';  // checked first: its problem is named first
      s += id_map_text(r.gid_map, "gid") + '\0';
    }
    return s;
  }

  // A user namespace's map as /proc/PID/uid_map takes it ("INSIDE OUTSIDE COUNT" lines), once
  // checked as the kernel would (ranges not empty, within 32 bits, none overlapping another on
  // either side, one write below a page), so that a bad map is named before a guest says EINVAL.
  static std::string id_map_text(const std::vector<ContainerRequest::IdRange>& map, const std::string& which) {
    if (map.size() > 340) throw ConfigError("the " + which + " map has " + std::to_string(map.size()) + " ranges; Linux takes at most 340");
    std::string text;
    for (std::size_t i = 0; i < map.size(); ++i) {
      const ContainerRequest::IdRange& a = map[i];
      const std::string name = which + " map range " + std::to_string(i) + " (" + std::to_string(a.inside) + " " +
                               std::to_string(a.outside) + " " + std::to_string(a.count) + ")";
      if (a.count == 0) throw ConfigError(name + " maps no id");
      if (std::uint64_t{a.inside} + a.count > 0xffffffffu || std::uint64_t{a.outside} + a.count > 0xffffffffu)
        throw ConfigError(name + " reaches past id 4294967294");
      for (std::size_t j = 0; j < i; ++j) {
        const ContainerRequest::IdRange& b = map[j];
        auto overlap = [](std::uint64_t x, std::uint64_t y, std::uint64_t n, std::uint64_t m) { return x < y + m && y < x + n; };
        if (overlap(a.inside, b.inside, a.count, b.count) || overlap(a.outside, b.outside, a.count, b.count))
          throw ConfigError(name + " overlaps range " + std::to_string(j));
      }
      text += std::to_string(a.inside) + " " + std::to_string(a.outside) + " " + std::to_string(a.count) + "\n";
    }
    if (text.size() > protocol::config::container_user_map_max)
      throw ConfigError("the " + which + " map takes " + std::to_string(text.size()) + " bytes; Linux takes at most " +
                        std::to_string(protocol::config::container_user_map_max));
    return text;
  }

  static std::string file_kind_name(ContainerRequest::File::Kind k) {
    using Kind = ContainerRequest::File::Kind;
    switch (k) {
      case Kind::copy: return "file";
      case Kind::tmpfs: return "tmpfs";
      case Kind::mount: return "mount";
      case Kind::device: return "device";
      case Kind::symlink: return "symlink";
      case Kind::masked: return "masked path";
      case Kind::read_only: return "read-only path";
      case Kind::sysctl: return "sysctl";
    }
    return "record";
  }
  static std::uint32_t file_kind_value(ContainerRequest::File::Kind k) {
    using Kind = ContainerRequest::File::Kind;
    switch (k) {
      case Kind::copy: return protocol::container_file_copy;
      case Kind::tmpfs: return protocol::container_file_tmpfs;
      case Kind::mount: return protocol::container_file_mount;
      case Kind::device: return protocol::container_file_device;
      case Kind::symlink: return protocol::container_file_symlink;
      case Kind::masked: return protocol::container_file_masked;
      case Kind::read_only: return protocol::container_file_read_only;
      case Kind::sysctl: return protocol::container_file_sysctl;
    }
    return 0;
  }

  // The file records (layout.hpp, CONTAINER_FILE) as init reads them at `at` in the command
  // area, once checked; a file that does not fit the area is named.
  static std::string container_files(const ContainerRequest& r, std::size_t at) {
    namespace config = protocol::config;
    using Kind = ContainerRequest::File::Kind;
    if (r.files.size() > config::container_files_max)
      throw ConfigError(std::to_string(r.files.size()) + " files and tmpfs mounts in a container; at most " + std::to_string(config::container_files_max));
    std::string out;
    for (std::size_t i = 0; i < r.files.size(); ++i) {
      const ContainerRequest::File& f = r.files[i];
      const std::string which = file_kind_name(f.kind) + " " + f.guest_path;
      check_path(f.guest_path, which + ": the guest path");
      if (f.guest_path.find_first_not_of('/') == std::string::npos && f.kind != Kind::read_only)
        throw ConfigError(which + ": the guest path is the root itself");
      if (f.kind == Kind::read_only && f.guest_path.find_first_not_of('/') == std::string::npos && f.guest_path != "/")
        throw ConfigError(which + ": the root is \"/\"");
      const std::uint32_t type = f.mode & 0170000;
      if (f.kind == Kind::device) {
        if (type != 0020000 && type != 0060000 && type != 0010000)
          throw ConfigError(which + ": mode " + std::to_string(f.mode) + " is not a character or block device's or a fifo's");
        if (f.major > 0xfff || f.minor > 0xfffff)
          throw ConfigError(which + ": device " + std::to_string(f.major) + ":" + std::to_string(f.minor) + " is beyond major 4095, minor 1048575");
      }
      if ((f.mode & ~(f.kind == Kind::device ? 0170000u : 0u)) > 07777)
        throw ConfigError(which + ": mode " + std::to_string(f.mode) + " is more than permission bits (07777)");
      const bool mounts = f.kind == Kind::copy || f.kind == Kind::tmpfs || f.kind == Kind::mount;
      if (!mounts && (f.read_only || f.nosuid || f.nodev || f.noexec)) throw ConfigError(which + ": mount flags on what is not a mount");
      std::string content = f.content;
      switch (f.kind) {
        case Kind::copy: break;
        case Kind::tmpfs: check_string(f.content, which + ": the options", 4000, false); content += '\0'; break;
        case Kind::mount:
          check_string(f.fstype, which + ": the file system type", 64, true);
          check_string(f.source, which + ": the source", 4000, false);
          if (f.fstype == "virtiofs") {  // a volume among the container's own mounts: init splits "TAG/NAME"
            const std::size_t slash = f.source.find('/');
            check_share_source(f.source.substr(0, slash), slash == std::string::npos ? "" : f.source.substr(slash + 1), which);
          }
          check_string(f.content, which + ": the options", 4000, false);
          content = f.fstype + '\0' + f.source + '\0' + f.content + '\0';
          break;
        case Kind::device:
          content.assign(8, '\0');
          le::store<std::uint32_t>(reinterpret_cast<std::uint8_t*>(content.data()), f.major);
          le::store<std::uint32_t>(reinterpret_cast<std::uint8_t*>(content.data()) + 4, f.minor);
          break;
        case Kind::symlink: check_string(f.content, which + ": the target", 4000, true); content += '\0'; break;
        case Kind::masked:
        case Kind::read_only:
          if (!f.content.empty()) throw ConfigError(which + ": has content");
          break;
        case Kind::sysctl:
          if (!f.guest_path.starts_with("/proc/sys/") || f.guest_path.size() < 11) throw ConfigError(which + ": not a file under /proc/sys/");
          check_string(f.content, which + ": the value", 4000, false);
          break;
        default: throw ConfigError(which + ": unknown kind");
      }
      const std::size_t bytes = (config::container_file_header + f.guest_path.size() + 1 + content.size() + 7) & ~std::size_t{7};
      if (at + out.size() + bytes > config::command_max)
        throw ConfigError(which + " (" + std::to_string(content.size()) + " bytes) does not fit the container request: " +
                          std::to_string(at + out.size()) + " of its " + std::to_string(config::command_max) + " bytes are taken before it");
      std::string rec(bytes, '\0');
      auto* p = reinterpret_cast<std::uint8_t*>(rec.data());
      le::store<std::uint32_t>(p + config::container_file_kind, file_kind_value(f.kind));
      le::store<std::uint32_t>(p + config::container_file_mode, f.mode);
      le::store<std::uint32_t>(p + config::container_file_uid, f.uid);
      le::store<std::uint32_t>(p + config::container_file_gid, f.gid);
      // Linux's mount flags, the same on every architecture (layout.hpp)
      const std::uint32_t flags = (f.read_only ? 1u : 0u) | (f.nosuid ? 2u : 0u) | (f.nodev ? 4u : 0u) | (f.noexec ? 8u : 0u);
      le::store<std::uint32_t>(p + config::container_file_flags, flags);
      le::store<std::uint32_t>(p + config::container_file_path_len, static_cast<std::uint32_t>(f.guest_path.size()));
      le::store<std::uint32_t>(p + config::container_file_size, static_cast<std::uint32_t>(content.size()));
      std::memcpy(p + config::container_file_header, f.guest_path.data(), f.guest_path.size());
      std::memcpy(p + config::container_file_header + f.guest_path.size() + 1, content.data(), content.size());
      out += rec;
    }
    return out;
  }

  // Waits for the guest's next signal: polls `seq`, briefly spinning, then sleeping.
  std::uint32_t next_signal(Clock::time_point deadline, const std::string& what) {
    for (unsigned spins = 0;; ++spins) {
      const std::uint32_t seq = guest_u32(mb_ + protocol::mailbox::seq);
      if (seq != seq_) {
        if (seq != seq_ + 1) throw GuestProtocolError("guest signal sequence jumped from " + std::to_string(seq_) + " to " + std::to_string(seq));
        seq_ = seq;
        return guest_u32(mb_ + protocol::mailbox::signal);
      }
      if ((spins & 63) == 0) {
        alive_();
        if (Clock::now() >= deadline) throw GuestTimeout("guest did not answer in time: " + what);
      }
      if (spins > 200) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  std::uint8_t* mb_;
  std::uint8_t* cfg_;
  std::function<void()> alive_;
  std::uint32_t seq_ = 0;
  // The process slots: which hold a process the host has not finished, and its options (for the
  // message of a failed step).
  std::array<ProcessSlot, protocol::config::process_max> slots_ = make_slots(cfg_);
  std::array<bool, protocol::config::process_max> busy_{};
  std::array<CommandOptions, protocol::config::process_max> options_{};
  std::array<bool, protocol::config::process_max> abandoned_{};

  // Abandoned processes: their output taken unread, their slots freed once they have ended.
  void reclaim() {
    for (std::size_t k = 0; k < slots_.size(); ++k) {
      if (!abandoned_[k]) continue;
      ProcessSlot& p = slots_[k];
      p.flush();
      for (Stream s : {Stream::out, Stream::err})  // one piece each: a guest that writes on cannot hold us here
        if (std::string_view b = p.pending(s); !b.empty()) p.consume(s, b.size());
      if (p.done()) {
        p.reset({});
        busy_[k] = abandoned_[k] = false;
      }
    }
  }

  static std::array<ProcessSlot, protocol::config::process_max> make_slots(std::uint8_t* cfg) {
    std::array<ProcessSlot, protocol::config::process_max> a;
    for (std::size_t k = 0; k < a.size(); ++k) a[k] = ProcessSlot(cfg + protocol::config::io + k * protocol::config::process_stride);
    return a;
  }
};

}  // namespace crumble::vm
