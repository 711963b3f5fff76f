// SPDX-License-Identifier: Apache-2.0
// crumble/oci/bundle.hpp — an OCI runtime bundle (config.json + its root) as a crumble container.
//
// What a caller (podman, containerd, the runtime-tools suite) puts in config.json becomes a
// container::Spec and the process to run: process.args/env/cwd/user, root.path, hostname, mounts.
// Every problem names its JSON path ("process.args[0]: not a string"). What a VM cannot honour
// yet is listed in `ignored` (the runtime logs it), never silently dropped.
//
// mounts (docs/oci-runtime.md has what podman and containerd pass): a bind of a regular file
// (/etc/hosts, /etc/resolv.conf, /etc/hostname, /run/.containerenv, secrets) is copied in when
// the container is made, with the host file's mode and owner, so the VM still restores from its
// snapshot; a bind of a directory is a virtio-fs volume, shared live, and that container boots
// cold (`notes` says so); proc, sysfs, devpts, mqueue and tmpfs are mounted in the guest as given,
// in config.json's order (spec.mounts: none of the guest's defaults), a bind of a directory at
// /dev/shm (podman's) is a tmpfs of the VM's own; the rest is logged as not applied. /dev gets a
// tmpfs when none is given, runc's default devices and symlinks, then linux.devices; linux.sysctl,
// readonlyPaths, maskedPaths and root.readonly are applied in the guest, as runc does them.
#pragma once

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <nlohmann/json.hpp>

#include "../container/container.hpp"
#include "hooks.hpp"

namespace crumble::oci {

// A bundle that cannot be run: the message names the file and the JSON path.
struct BundleError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Bundle {
  std::filesystem::path dir;          // absolute
  std::filesystem::path rootfs;       // absolute
  std::vector<std::string> args;      // process.args
  bool terminal = false;              // process.terminal
  bool root_readonly = false;         // root.readonly: the root's writes are not copied back to rootfs
  container::Spec spec;               // rootfs, user, workdir, env, hostname, entrypoint = args
  nlohmann::json annotations = nlohmann::json::object();
  std::vector<std::string> ignored;   // what was accepted but is not applied, for the log
  std::vector<std::string> notes;     // how something is served, when it costs (a cold boot)
  Hooks hooks;                        // hooks.hpp; createContainer/startContainer are not run
  nlohmann::json hooks_json;          // config.json's hooks as given (null: none), for the state
};

// What a file bind may bring: each file is copied into the container request (1 MiB in all, with
// the rest of the request), so a file is at most file_bind_max and all of them file_binds_max.
inline constexpr std::uintmax_t file_bind_max = 256 << 10;
inline constexpr std::uintmax_t file_binds_max = 768 << 10;

// The least guest memory a container VM is given (MiB): a smaller linux.resources.memory.limit is
// raised to it (and logged). 256 MiB is what every container test boots with; the protocol window
// lies at 128-136 MiB of guest RAM and the initramfs above it. Memory and vCPUs are part of the
// snapshot's key: a container with other values boots cold once, then restores its own snapshot.
inline constexpr std::uint32_t memory_floor_mib = 256;
inline constexpr int vcpus_max = 16;

namespace bundle_detail {
[[noreturn]] inline void fail(const std::filesystem::path& file, const std::string& path, const std::string& what) {
  throw BundleError(file.string() + ": " + path + ": " + what);
}
inline const nlohmann::json& member(const nlohmann::json& j, const char* key, const std::filesystem::path& file, const std::string& at,
                                    nlohmann::json::value_t type) {
  static const nlohmann::json none;
  if (!j.contains(key)) return none;
  const nlohmann::json& v = j.at(key);
  if (v.type() != type) fail(file, at + key, std::string("expected ") + nlohmann::json(type).type_name() + ", got " + v.type_name());
  return v;
}
inline std::vector<std::string> strings(const nlohmann::json& j, const std::filesystem::path& file, const std::string& at) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string()) fail(file, at + "[" + std::to_string(i) + "]", std::string("expected a string, got ") + j[i].type_name());
    out.push_back(j[i].get<std::string>());
  }
  return out;
}
// The mount options the guest's mounts take, as flags; propagation (rprivate, shared, ...) and
// atime options mean nothing in a VM, whose mounts nobody else sees; the rest is tmpfs data
// (size=, mode=, uid=, gid=, nr_inodes=, nr_blocks=) or unknown (returned in `other`).
struct MountOptions {
  bool bind = false, read_only = false, nosuid = false, nodev = false, noexec = false;
  std::string data;                  // tmpfs's options, comma-separated
  std::vector<std::string> other;    // neither: not applied (tmpcopyup, ...)
};
inline MountOptions mount_options(const std::vector<std::string>& options) {
  MountOptions m;
  for (const std::string& o : options) {
    if (o == "bind" || o == "rbind") m.bind = true;
    else if (o == "ro") m.read_only = true;
    else if (o == "rw") m.read_only = false;
    else if (o == "nosuid") m.nosuid = true;
    else if (o == "suid") m.nosuid = false;
    else if (o == "nodev") m.nodev = true;
    else if (o == "dev") m.nodev = false;
    else if (o == "noexec") m.noexec = true;
    else if (o == "exec") m.noexec = false;
    else if (o == "private" || o == "rprivate" || o == "shared" || o == "rshared" || o == "slave" || o == "rslave" || o == "unbindable" ||
             o == "runbindable" || o == "relatime" || o == "norelatime" || o == "strictatime" || o == "nostrictatime" || o == "noatime" ||
             o == "atime" || o == "nodiratime" || o == "diratime" || o == "defaults")
      continue;
    else if (o.starts_with("size=") || o.starts_with("mode=") || o.starts_with("uid=") || o.starts_with("gid=") || o.starts_with("nr_inodes=") ||
             o.starts_with("nr_blocks="))
      m.data += (m.data.empty() ? "" : ",") + o;
    else m.other.push_back(o);
  }
  return m;
}

// A mount's destination as the container sees it: absolute (a relative one is taken from /, as
// runc does), without . or .., not the root.
inline std::string mount_destination(const std::string& d, const std::filesystem::path& file, const std::string& at) {
  const std::string dest = d.starts_with("/") ? d : "/" + d;
  for (const auto& part : std::filesystem::path(dest))
    if (part == "." || part == "..") fail(file, at, "\"" + d + "\" has a . or .. component");
  if (dest.find_first_not_of('/') == std::string::npos) fail(file, at, "a mount cannot replace the container's root");
  if (dest.find('\0') != std::string::npos) fail(file, at, "has a NUL byte");
  std::string clean;  // without a trailing or doubled slash
  for (char c : dest)
    if (c != '/' || clean.empty() || clean.back() != '/') clean += c;
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  return clean;
}

// Whether the root has anything at `dest` (an absolute path in the container) that a mount there
// would hide: nothing (no such path, or an empty directory), files, or unknown (a symlink on the
// way, which is not followed: it could lead out of the root on the host).
enum class Holds { nothing, files, unknown };
inline Holds root_directory_holds_files(const std::filesystem::path& rootfs, const std::string& dest) {
  std::filesystem::path at = rootfs;
  std::error_code ec;
  for (const auto& part : std::filesystem::path(dest).relative_path()) {
    at /= part;
    const auto st = std::filesystem::symlink_status(at, ec);
    if (ec || !std::filesystem::exists(st)) return Holds::nothing;
    if (std::filesystem::is_symlink(st)) return Holds::unknown;
  }
  if (!std::filesystem::is_directory(std::filesystem::symlink_status(at, ec))) return Holds::files;
  return std::filesystem::directory_iterator(at, ec) == std::filesystem::directory_iterator() && !ec ? Holds::nothing : Holds::files;
}

// mounts[i] of config.json into the bundle's spec, `ignored` or `notes`; `copied`: the bytes of
// file binds so far.
inline void add_mount(Bundle& b, const nlohmann::json& m, std::size_t i, const std::filesystem::path& file, std::uintmax_t& copied) {
  using T = nlohmann::json::value_t;
  const std::string at = "mounts[" + std::to_string(i) + "]";
  if (!m.is_object()) fail(file, at, std::string("expected an object, got ") + m.type_name());
  const nlohmann::json& d = member(m, "destination", file, at + ".", T::string);
  if (d.is_null()) fail(file, at + ".destination", "missing");
  const std::string dest = mount_destination(d.get<std::string>(), file, at + ".destination");
  const nlohmann::json& t = member(m, "type", file, at + ".", T::string);
  const std::string type = t.is_null() ? "" : t.get<std::string>();
  const nlohmann::json& src = member(m, "source", file, at + ".", T::string);
  const std::string source = src.is_null() ? "" : src.get<std::string>();
  const std::vector<std::string> given = strings(member(m, "options", file, at + ".", T::array), file, at + ".options");
  const MountOptions o = mount_options(given);
  const std::string what = at + " (" + (type.empty() ? std::string("bind") : type) + (source.empty() ? "" : " " + source) + " on " + dest + ")";
  std::string unapplied;  // options the way it is served cannot take
  for (const std::string& x : o.other) unapplied += (unapplied.empty() ? "" : ",") + x;
  auto unapplied_note = [&](const std::string& also) {
    const std::string all = unapplied + (unapplied.empty() || also.empty() ? "" : ",") + also;
    if (!all.empty()) b.ignored.push_back(what + ": options " + all);
  };

  if (type == "bind" || o.bind) {
    if (source.empty()) fail(file, at + ".source", "missing: a bind mount needs one");
    std::filesystem::path host(source);
    if (host.is_relative()) host = b.dir / host;
    std::error_code ec;
    const auto st = std::filesystem::status(host, ec);
    if (ec || !std::filesystem::exists(st)) fail(file, at + ".source", host.string() + " does not exist");
    if (dest == "/dev/shm" && std::filesystem::is_directory(st)) {
      // podman's shm directory (a tmpfs on the host): memory cannot be shared with a VM. Its
      // size (podman --shm-size, 64m by default) becomes the guest's tmpfs's.
      std::string options = "mode=1777";
      struct ::statfs fs {};
      if (::statfs(host.c_str(), &fs) == 0 && fs.f_type == TMPFS_MAGIC && fs.f_blocks > 0)
        options += ",size=" + std::to_string(static_cast<std::uint64_t>(fs.f_blocks) * static_cast<std::uint64_t>(fs.f_bsize) / 1024) + "k";
      b.spec.mounts->push_back({"/dev/shm", "tmpfs", "shm", options, false, true, true, true});
      b.ignored.push_back(what + ": the container has a tmpfs of the VM's own at /dev/shm (" + options + ")");
      return;
    }
    if (std::filesystem::is_regular_file(st)) {
      struct ::stat info {};
      if (::stat(host.c_str(), &info) != 0) fail(file, at + ".source", "cannot read " + host.string() + ": " + std::strerror(errno));
      const auto size = static_cast<std::uintmax_t>(info.st_size);
      if (size > file_bind_max)
        fail(file, at, "the file " + host.string() + " is " + std::to_string(size) + " bytes: a file bind is copied into the VM, at most " +
                           std::to_string(file_bind_max) + " bytes (a directory bind is shared instead)");
      if (copied + size > file_binds_max)
        fail(file, at, "the file " + host.string() + " (" + std::to_string(size) + " bytes) passes the " + std::to_string(file_binds_max) +
                           " bytes all file binds may copy into the VM");
      copied += size;
      container::File f;
      f.guest = dest;
      f.host = host;
      f.mode = info.st_mode & 07777;
      f.uid = info.st_uid;
      f.gid = info.st_gid;
      f.read_only = o.read_only;
      f.nosuid = o.nosuid;
      f.nodev = o.nodev;
      f.noexec = o.noexec;
      b.spec.files.push_back(f);
      unapplied_note("");
      return;
    }
    if (std::filesystem::is_directory(st)) {
      b.spec.volumes.push_back({host, dest, o.read_only});
      b.notes.push_back(what + ": shared live through virtio-fs, so this container boots cold (QEMU 7.2 cannot snapshot virtio-fs)");
      // a volume is mounted read-only or not; its other flags are not carried yet
      std::string flags;
      for (const auto& [on, name] : {std::pair{o.nosuid, "nosuid"}, std::pair{o.nodev, "nodev"}, std::pair{o.noexec, "noexec"}})
        if (on) flags += (flags.empty() ? "" : ",") + std::string(name);
      unapplied_note(flags);
      return;
    }
    b.ignored.push_back(what + ": not a regular file or a directory (a socket, a device, a fifo): a VM cannot share it");
    return;
  }
  // A file system of the container's own, mounted by the guest's init in config.json's order
  // (init.go placeFile): the kernel takes the options a file system has (devpts's newinstance,
  // gid=5, ...); tmpcopyup is runc's own doing, not an option, and is not applied
  if (type == "proc" || type == "sysfs" || type == "devpts" || type == "mqueue" || type == "tmpfs") {
    container::Mount mnt;
    mnt.guest = dest;
    mnt.type = type;
    mnt.source = source.empty() ? type : source;
    std::string skipped;
    for (const std::string& x : given) {  // the file system's options, in config.json's order
      const bool data = std::find(o.other.begin(), o.other.end(), x) != o.other.end() || (o.data + ",").find(x + ",") != std::string::npos;
      if (x == "tmpcopyup") skipped = x;
      else if (data) mnt.options += (mnt.options.empty() ? "" : ",") + x;
    }
    mnt.read_only = o.read_only;
    mnt.nosuid = o.nosuid;
    mnt.nodev = o.nodev;
    mnt.noexec = o.noexec;
    if (!skipped.empty() && type == "tmpfs") {
      // tmpcopyup (crun's; podman adds it to every --tmpfs): the root's files at the
      // destination are copied into the new tmpfs. The guest cannot do that yet, so it is
      // honoured where there is nothing to copy and refused where there is.
      switch (root_directory_holds_files(b.rootfs, dest)) {
        case Holds::nothing: skipped.clear(); break;
        case Holds::files:
          fail(file, at + ".options",
               "tmpcopyup: the root has files under " + dest + " that the tmpfs would hide, and crumble-runtime cannot copy them into it "
               "(podman: --tmpfs " + dest + ":notmpcopyup mounts it empty)");
        case Holds::unknown: break;  // a symlink on the way: not followed outside the root; logged as not applied
      }
    }
    b.spec.mounts->push_back(mnt);
    if (!skipped.empty()) b.ignored.push_back(what + ": options " + skipped);
    return;
  }
  if (type == "cgroup" || type == "cgroup2") {
    b.ignored.push_back(what + ": not mounted (the VM's cgroups are its own)");
    return;
  }
  b.ignored.push_back(what + ": not mounted (" + (type.empty() ? std::string("no type") : "type " + type) + " is not served in the VM)");
}

// linux.resources: memory.limit (bytes; -1 or none: unlimited) becomes the guest's memory, in MiB
// rounded up, at least memory_floor_mib; cpu.quota/cpu.period (rounded up) or cpu.cpus (a
// cpuset list, "0-3,6") the vCPUs, at most vcpus_max.
inline void resources(Bundle& b, const nlohmann::json& r, const std::filesystem::path& file) {
  using T = nlohmann::json::value_t;
  if (const auto& m = member(r, "memory", file, "linux.resources.", T::object); !m.is_null() && m.contains("limit")) {
    const nlohmann::json& l = m.at("limit");
    if (!l.is_number_integer()) fail(file, "linux.resources.memory.limit", "expected a whole number of bytes, got " + l.dump());
    const std::int64_t bytes = l.get<std::int64_t>();
    if (bytes > 0) {
      const std::uint64_t mib = (static_cast<std::uint64_t>(bytes) + (1 << 20) - 1) >> 20;
      if (mib > (std::uint64_t{1} << 20)) fail(file, "linux.resources.memory.limit", std::to_string(bytes) + " bytes: more than a VM of ours is given (1 TiB)");
      b.spec.vm.memory_mib = static_cast<std::uint32_t>(std::max<std::uint64_t>(mib, memory_floor_mib));
      if (mib < memory_floor_mib)
        b.ignored.push_back("linux.resources.memory.limit " + std::to_string(bytes) + ": the VM gets " + std::to_string(memory_floor_mib) + " MiB, its least");
    }
  }
  if (const auto& c = member(r, "cpu", file, "linux.resources.", T::object); !c.is_null()) {
    int vcpus = 0;
    const nlohmann::json quota = c.value("quota", nlohmann::json()), period = c.value("period", nlohmann::json());
    if (!quota.is_null() && !quota.is_number_integer()) fail(file, "linux.resources.cpu.quota", "expected a whole number, got " + quota.dump());
    if (!period.is_null() && !period.is_number_unsigned()) fail(file, "linux.resources.cpu.period", "expected a whole number, got " + period.dump());
    if (quota.is_number_integer() && quota.get<std::int64_t>() > 0) {
      const std::uint64_t p = period.is_null() || period.get<std::uint64_t>() == 0 ? 100000 : period.get<std::uint64_t>();  // the kernel's default
      vcpus = static_cast<int>(std::min<std::uint64_t>((static_cast<std::uint64_t>(quota.get<std::int64_t>()) + p - 1) / p, vcpus_max + 1));
    } else if (const auto& cpus = member(c, "cpus", file, "linux.resources.cpu.", T::string); !cpus.is_null() && !cpus.get<std::string>().empty()) {
      // "0-3,6": count them
      std::stringstream list(cpus.get<std::string>());
      for (std::string part; std::getline(list, part, ',');) {
        unsigned lo = 0, hi = 0;
        char dash = 0, extra = 0;
        const int got = std::sscanf(part.c_str(), "%u%c%u%c", &lo, &dash, &hi, &extra);
        if (got == 1) hi = lo;
        else if (got != 3 || dash != '-' || hi < lo) fail(file, "linux.resources.cpu.cpus", "\"" + cpus.get<std::string>() + "\" is not a CPU list");
        vcpus += static_cast<int>(std::min<unsigned>(hi - lo + 1, vcpus_max + 1));
      }
    }
    if (vcpus > vcpus_max) {
      b.ignored.push_back("linux.resources.cpu: " + std::to_string(vcpus) + " CPUs or more: the VM gets " + std::to_string(vcpus_max));
      vcpus = vcpus_max;
    }
    if (vcpus > 0) b.spec.vm.vcpus = vcpus;
  }
}

// annotations io.crumble.*, over what linux.resources gave: memory (MiB, at least
// memory_floor_mib), cpus (1 to vcpus_max), engine (automatic, qemu; kvm: containers need QEMU),
// snapshot (off, early, late).
inline void annotations(Bundle& b, const std::filesystem::path& file) {
  auto text = [&](const char* key) -> std::optional<std::string> {
    if (!b.annotations.contains(key)) return std::nullopt;
    const nlohmann::json& v = b.annotations.at(key);
    if (!v.is_string()) fail(file, std::string("annotations.") + key, std::string("expected a string, got ") + v.type_name());
    return v.get<std::string>();
  };
  auto number = [&](const char* key, unsigned long lo, unsigned long hi) -> std::optional<unsigned long> {
    const auto t = text(key);
    if (!t) return std::nullopt;
    char* end = nullptr;
    errno = 0;
    const unsigned long n = t->empty() || !std::isdigit(static_cast<unsigned char>((*t)[0])) ? 0 : std::strtoul(t->c_str(), &end, 10);
    if (!end || *end || errno || n < lo || n > hi)
      fail(file, std::string("annotations.") + key, "\"" + *t + "\": expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
    return n;
  };
  if (const auto m = number("io.crumble.memory", memory_floor_mib, 1ul << 20)) b.spec.vm.memory_mib = static_cast<std::uint32_t>(*m);
  if (const auto c = number("io.crumble.cpus", 1, vcpus_max)) b.spec.vm.vcpus = static_cast<int>(*c);
  if (const auto e = text("io.crumble.engine")) {
    if (*e == "automatic") b.spec.vm.engine = vm::Engine::automatic;
    else if (*e == "qemu") b.spec.vm.engine = vm::Engine::qemu;
    else fail(file, "annotations.io.crumble.engine", "\"" + *e + "\": expected automatic or qemu (containers need QEMU's virtio devices)");
  }
  if (const auto m = text("io.crumble.snapshot")) {
    if (*m == "off") b.spec.vm.snapshot = vm::SnapshotMode::off;
    else if (*m == "early") b.spec.vm.snapshot = vm::SnapshotMode::early;
    else if (*m == "late") b.spec.vm.snapshot = vm::SnapshotMode::late;
    else fail(file, "annotations.io.crumble.snapshot", "\"" + *m + "\": expected off, early or late");
  }
}

// Linux's capability numbers (<linux/capability.h>), by their OCI names.
inline constexpr const char* capability_names[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
    "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
    "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"};
// Linux's resource numbers (<sys/resource.h>), by their OCI names.
inline constexpr const char* rlimit_names[] = {"RLIMIT_CPU",     "RLIMIT_FSIZE",   "RLIMIT_DATA",  "RLIMIT_STACK",
                                               "RLIMIT_CORE",    "RLIMIT_RSS",     "RLIMIT_NPROC", "RLIMIT_NOFILE",
                                               "RLIMIT_MEMLOCK", "RLIMIT_AS",      "RLIMIT_LOCKS", "RLIMIT_SIGPENDING",
                                               "RLIMIT_MSGQUEUE", "RLIMIT_NICE",   "RLIMIT_RTPRIO", "RLIMIT_RTTIME"};

// process.capabilities: each set's names as bits. A name this table lacks is logged and left
// out, as runc does (a newer config on an older kernel).
inline vm::Capabilities capabilities(Bundle& b, const nlohmann::json& caps, const std::filesystem::path& file) {
  using T = nlohmann::json::value_t;
  vm::Capabilities c;
  const std::pair<const char*, std::uint64_t*> sets[] = {{"bounding", &c.bounding},   {"effective", &c.effective}, {"permitted", &c.permitted},
                                                         {"inheritable", &c.inheritable}, {"ambient", &c.ambient}};
  for (const auto& [set, bits] : sets) {
    const std::string at = std::string("process.capabilities.") + set;
    for (const std::string& name : strings(member(caps, set, file, "process.capabilities.", T::array), file, at)) {
      const auto* end = std::end(capability_names);
      const auto* it = std::find(std::begin(capability_names), end, name);
      if (it == end) b.ignored.push_back(at + ": unknown capability " + name);
      else *bits |= 1ull << (it - std::begin(capability_names));
    }
  }
  return c;
}

// process.rlimits: [{type, soft, hard}], each type at most once.
inline std::vector<vm::ResourceLimit> rlimits(const nlohmann::json& list, const std::filesystem::path& file) {
  std::vector<vm::ResourceLimit> out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string at = "process.rlimits[" + std::to_string(i) + "]";
    const nlohmann::json& r = list[i];
    if (!r.is_object()) fail(file, at, std::string("expected an object, got ") + r.type_name());
    if (!r.contains("type") || !r.at("type").is_string()) fail(file, at + ".type", "expected a string (RLIMIT_NOFILE, RLIMIT_NPROC, ...)");
    const std::string type = r.at("type").get<std::string>();
    const auto* end = std::end(rlimit_names);
    const auto* it = std::find(std::begin(rlimit_names), end, type);
    if (it == end) fail(file, at + ".type", "\"" + type + "\": not a resource limit Linux has (RLIMIT_NOFILE, RLIMIT_NPROC, ...)");
    vm::ResourceLimit l{static_cast<int>(it - std::begin(rlimit_names)), 0, 0};
    for (const auto& [key, value] : {std::pair{"soft", &l.soft}, std::pair{"hard", &l.hard}}) {
      if (!r.contains(key) || !r.at(key).is_number_unsigned()) fail(file, at + "." + key, "expected a whole number from 0 to 2^64-1");
      *value = r.at(key).get<std::uint64_t>();
    }
    if (l.soft > l.hard) fail(file, at, "soft " + std::to_string(l.soft) + " is above hard " + std::to_string(l.hard));
    for (const vm::ResourceLimit& seen : out)
      if (seen.resource == l.resource) fail(file, at + ".type", type + " is given twice");
    out.push_back(l);
  }
  return out;
}

// linux.uidMappings or gidMappings: [{containerID, hostID, size}], each a 32-bit number. Whether
// the ranges make a map Linux takes (overlaps, sizes) is the container request's check.
inline std::vector<vm::ContainerRequest::IdRange> id_mappings(const nlohmann::json& list, const std::filesystem::path& file, const std::string& at) {
  std::vector<vm::ContainerRequest::IdRange> map;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string here = at + "[" + std::to_string(i) + "]";
    if (!list[i].is_object()) fail(file, here, std::string("expected an object, got ") + list[i].type_name());
    auto number = [&](const char* key) -> std::uint32_t {
      if (!list[i].contains(key)) fail(file, here + "." + key, "missing");
      const nlohmann::json& v = list[i].at(key);
      if (!v.is_number_unsigned() || v.get<std::uint64_t>() > 0xffffffffu)
        fail(file, here + "." + key, "expected a whole number from 0 to 4294967295, got " + v.dump());
      return static_cast<std::uint32_t>(v.get<std::uint64_t>());
    };
    map.push_back({number("containerID"), number("hostID"), number("size")});
  }
  return map;
}

// linux.devices, after runc's default ones (null, zero, full, random, urandom, tty, 0666 and
// root's; one the config names again is the config's), and runc's symlinks: /dev/fd and
// /dev/std{in,out,err} into /proc/self/fd, /dev/ptmx to the devpts instance's pts/ptmx.
inline void devices(Bundle& b, const nlohmann::json& list, const std::filesystem::path& file) {
  using T = nlohmann::json::value_t;
  std::vector<container::Device> given;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string at = "linux.devices[" + std::to_string(i) + "]";
    const nlohmann::json& d = list[i];
    if (!d.is_object()) fail(file, at, std::string("expected an object, got ") + d.type_name());
    container::Device dev;
    const nlohmann::json& path = member(d, "path", file, at + ".", T::string);
    if (path.is_null() || path.get<std::string>().empty() || path.get<std::string>()[0] != '/') fail(file, at + ".path", "missing or not absolute");
    dev.guest = mount_destination(path.get<std::string>(), file, at + ".path");
    const nlohmann::json& type = member(d, "type", file, at + ".", T::string);
    const std::string t = type.is_null() ? "" : type.get<std::string>();
    if (t != "c" && t != "b" && t != "u" && t != "p") fail(file, at + ".type", "\"" + t + "\": expected c, b, u or p");
    dev.type = t == "u" ? 'c' : t[0];
    auto number = [&](const char* key, std::uint64_t max, bool required) -> std::uint32_t {
      if (!d.contains(key)) {
        if (required) fail(file, at + "." + key, "missing: a " + t + " device needs one");
        return 0;
      }
      const nlohmann::json& v = d.at(key);
      if (!v.is_number_unsigned() || v.get<std::uint64_t>() > max)
        fail(file, at + "." + key, "expected a whole number from 0 to " + std::to_string(max) + ", got " + v.dump());
      return static_cast<std::uint32_t>(v.get<std::uint64_t>());
    };
    dev.major = number("major", 0xfff, dev.type != 'p');
    dev.minor = number("minor", 0xfffff, dev.type != 'p');
    dev.mode = d.contains("fileMode") ? number("fileMode", 07777, false) : 0666;
    // the owner is the container's (its user namespace's), the node is made by the guest's root
    // (one the map leaves out stays as it is: it shows as the overflow id inside)
    const std::uint32_t uid = number("uid", 0xfffffffeu, false), gid = number("gid", 0xfffffffeu, false);
    dev.uid = vm::outside_id(b.spec.uid_map, uid).value_or(uid);
    dev.gid = vm::outside_id(b.spec.gid_map, gid).value_or(gid);
    given.push_back(dev);
  }
  const std::pair<const char*, std::uint32_t> defaults[] = {{"/dev/null", 0x103}, {"/dev/zero", 0x105}, {"/dev/full", 0x107},
                                                            {"/dev/random", 0x108}, {"/dev/urandom", 0x109}, {"/dev/tty", 0x500}};
  for (const auto& [path, numbers] : defaults)
    if (std::none_of(given.begin(), given.end(), [&](const container::Device& d) { return d.guest == path; }))
      b.spec.devices.push_back({path, 'c', numbers >> 8, numbers & 0xff, 0666, 0, 0});
  b.spec.devices.insert(b.spec.devices.end(), given.begin(), given.end());
  b.spec.symlinks = {{"/dev/fd", "/proc/self/fd"}, {"/dev/stdin", "/proc/self/fd/0"}, {"/dev/stdout", "/proc/self/fd/1"},
                     {"/dev/stderr", "/proc/self/fd/2"}, {"/dev/ptmx", "pts/ptmx"}};
}
}  // namespace bundle_detail

// Reads DIR/config.json.
inline Bundle read_bundle(const std::filesystem::path& dir) {
  using namespace bundle_detail;
  using T = nlohmann::json::value_t;
  Bundle b;
  b.dir = std::filesystem::absolute(dir);
  const std::filesystem::path file = b.dir / "config.json";
  std::ifstream in(file);
  if (!in) throw BundleError(file.string() + ": cannot be read: " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw BundleError(file.string() + ": not JSON: " + e.what());
  }
  if (!j.is_object()) fail(file, "(top)", "expected an object");
  const nlohmann::json& root = member(j, "root", file, "", T::object);
  if (root.is_null()) fail(file, "root", "missing");
  const nlohmann::json& path = member(root, "path", file, "root.", T::string);
  if (path.is_null()) fail(file, "root.path", "missing");
  b.rootfs = std::filesystem::path(path.get<std::string>());
  if (b.rootfs.is_relative()) b.rootfs = b.dir / b.rootfs;
  if (!std::filesystem::is_directory(b.rootfs)) fail(file, "root.path", b.rootfs.string() + " is not a directory");
  b.root_readonly = member(root, "readonly", file, "root.", T::boolean) == true;
  b.spec.root_readonly = b.root_readonly;  // and its writes are not copied back
  b.spec.mounts.emplace();                 // config.json's mounts, none of the guest's own

  const nlohmann::json& process = member(j, "process", file, "", T::object);
  if (process.is_null()) fail(file, "process", "missing");
  const nlohmann::json& args = member(process, "args", file, "process.", T::array);
  b.args = strings(args, file, "process.args");
  if (b.args.empty()) fail(file, "process.args", "empty: nothing to run");
  b.terminal = member(process, "terminal", file, "process.", T::boolean) == true;
  b.spec.env = strings(member(process, "env", file, "process.", T::array), file, "process.env");
  if (const auto& cwd = member(process, "cwd", file, "process.", T::string); !cwd.is_null()) {
    b.spec.workdir = cwd.get<std::string>();
    if (b.spec.workdir.empty() || b.spec.workdir[0] != '/') fail(file, "process.cwd", "\"" + b.spec.workdir + "\" is not absolute");
  }
  if (const auto& user = member(process, "user", file, "process.", T::object); !user.is_null()) {
    // an id: a whole number 0 to 2^32-2 (-1 is no id); JSON's 1 is unsigned, 1.5 and -1 are not
    auto id = [&](const char* key) -> std::uint32_t {
      if (!user.contains(key)) return 0;
      const nlohmann::json& v = user.at(key);
      if (!v.is_number_unsigned() || v.get<std::uint64_t>() > 0xfffffffeu)
        fail(file, std::string("process.user.") + key, "expected an id from 0 to 4294967294, got " + v.dump());
      return static_cast<std::uint32_t>(v.get<std::uint64_t>());
    };
    b.spec.user = std::to_string(id("uid")) + ":" + std::to_string(id("gid"));
    // exactly these supplementary groups, as runc (none when the list is missing)
    std::vector<std::uint32_t> groups;
    const nlohmann::json& gids = member(user, "additionalGids", file, "process.user.", T::array);
    for (std::size_t i = 0; i < gids.size(); ++i) {
      if (!gids[i].is_number_unsigned() || gids[i].get<std::uint64_t>() > 0xfffffffeu)
        fail(file, "process.user.additionalGids[" + std::to_string(i) + "]", "expected an id from 0 to 4294967294, got " + gids[i].dump());
      groups.push_back(static_cast<std::uint32_t>(gids[i].get<std::uint64_t>()));
    }
    b.spec.groups = groups;
  }
  b.spec.no_new_privs = member(process, "noNewPrivileges", file, "process.", T::boolean) == true;
  // no capabilities section: none at all, as runc (an empty set), not root's every one
  const nlohmann::json& caps = member(process, "capabilities", file, "process.", T::object);
  b.spec.capabilities = caps.is_null() ? vm::Capabilities{} : capabilities(b, caps, file);
  b.spec.rlimits = rlimits(member(process, "rlimits", file, "process.", T::array), file);  // 16 types: what the guest takes
  if (process.contains("oomScoreAdj")) {
    const nlohmann::json& v = process.at("oomScoreAdj");
    if (!v.is_number_integer() || v.get<std::int64_t>() < -1000 || v.get<std::int64_t>() > 1000)
      fail(file, "process.oomScoreAdj", "expected a whole number from -1000 to 1000, got " + v.dump());
    b.spec.oom_score_adj = static_cast<int>(v.get<std::int64_t>());
  }
  for (const char* k : {"apparmorProfile", "selinuxLabel"})
    if (process.contains(k)) b.ignored.push_back(std::string("process.") + k);
  if (const auto& h = member(j, "hostname", file, "", T::string); !h.is_null()) b.spec.hostname = h.get<std::string>();
  if (const auto& a = member(j, "annotations", file, "", T::object); !a.is_null()) b.annotations = a;
  const nlohmann::json& mounts = member(j, "mounts", file, "", T::array);
  std::uintmax_t copied = 0;
  for (std::size_t i = 0; i < mounts.size(); ++i) add_mount(b, mounts[i], i, file, copied);
  // the devices are made in a /dev of the container's own, first when config.json has none (not
  // written into the root, whose writes are copied back to root.path: a device node is refused
  // there)
  if (std::none_of(b.spec.mounts->begin(), b.spec.mounts->end(), [](const container::Mount& m) { return m.guest == "/dev"; }))
    b.spec.mounts->insert(b.spec.mounts->begin(), {"/dev", "tmpfs", "tmpfs", "mode=755", false, true, false, false});
  if (j.contains("hooks")) {
    try {
      b.hooks = parse_hooks(j.at("hooks"));
    } catch (const HookError& e) {
      throw BundleError(file.string() + ": " + e.what());
    }
    b.hooks_json = j.at("hooks");
    // they run in the container's namespaces: inside the VM, where there is no hook to run
    if (!b.hooks.prestart.empty() || !b.hooks.create_runtime.empty() || !b.hooks.poststart.empty())
      b.notes.push_back("hooks: the state's pid is the container's monitor, a host process in the host's namespaces (the container "
                        "runs in a VM): a hook that enters /proc/PID/ns or /proc/PID/root acts on the host's");
    if (!b.hooks.create_container.empty()) b.ignored.push_back("hooks.createContainer (they would run inside the VM)");
    if (!b.hooks.start_container.empty()) b.ignored.push_back("hooks.startContainer (they would run inside the VM)");
  }
  if (const auto& linux_ = member(j, "linux", file, "", T::object); !linux_.is_null()) {
    // A VM has namespaces of its own: a host namespace to join (podman's and a pod's network
    // namespace) cannot be joined from inside it. Refusing would fail every podman run, whose
    // default network comes as one; so it is accepted, and logged: the container has the VM's
    // network (none yet), not that one.
    const nlohmann::json& ns = member(linux_, "namespaces", file, "linux.", T::array);
    bool user_namespace = false;  // a new one: the guest's init makes it (the VM's own is the others')
    for (std::size_t i = 0; i < ns.size(); ++i)
      if (ns[i].is_object() && ns[i].contains("path") && ns[i].value("type", nlohmann::json()) == "user")
        fail(file, "linux.namespaces[" + std::to_string(i) + "].path",
             "joining an existing user namespace is not supported (the container's would be a host namespace); give uidMappings and "
             "gidMappings for a new one");
      else if (ns[i].is_object() && ns[i].contains("path"))
        b.ignored.push_back("linux.namespaces[" + std::to_string(i) + "].path (" + ns[i].value("type", std::string("?")) + " " +
                            ns[i]["path"].dump() + "): the VM has namespaces of its own, and no network yet");
      else if (ns[i].is_object() && ns[i].value("type", nlohmann::json()) == "user")
        user_namespace = true;
    b.spec.uid_map = id_mappings(member(linux_, "uidMappings", file, "linux.", T::array), file, "linux.uidMappings");
    b.spec.gid_map = id_mappings(member(linux_, "gidMappings", file, "linux.", T::array), file, "linux.gidMappings");
    for (const auto& [key, map] : {std::pair{"linux.uidMappings", &b.spec.uid_map}, std::pair{"linux.gidMappings", &b.spec.gid_map}}) {
      if (user_namespace && map->empty()) fail(file, key, "missing or empty: the user namespace in linux.namespaces needs it");
      if (!user_namespace && !map->empty()) fail(file, key, "given without a user namespace in linux.namespaces");
    }
    if (const auto& r = member(linux_, "resources", file, "linux.", T::object); !r.is_null()) resources(b, r, file);
    devices(b, member(linux_, "devices", file, "linux.", T::array), file);
    if (const auto& sc = member(linux_, "sysctl", file, "linux.", T::object); !sc.is_null())
      for (const auto& [key, value] : sc.items()) {
        if (!value.is_string()) fail(file, "linux.sysctl." + key, std::string("expected a string, got ") + value.type_name());
        b.spec.sysctl.emplace_back(key, value.get<std::string>());
      }
    // a sysctl is written under /proc/sys: without a proc mount there it would land in the image's files
    const bool has_proc = b.spec.mounts && std::any_of(b.spec.mounts->begin(), b.spec.mounts->end(), [](const container::Mount& m) {
                            return m.type == "proc" && std::filesystem::path(m.guest).lexically_normal() == "/proc";
                          });
    if (!b.spec.sysctl.empty() && !has_proc) fail(file, "linux.sysctl", "needs a proc mount at /proc (mounts[]): none is given");
    for (const auto& [key, list] : {std::pair{"readonlyPaths", &b.spec.readonly_paths}, std::pair{"maskedPaths", &b.spec.masked_paths}}) {
      const std::string at = std::string("linux.") + key;
      const std::vector<std::string> paths = strings(member(linux_, key, file, "linux.", T::array), file, at);
      for (std::size_t i = 0; i < paths.size(); ++i) {
        if (paths[i].empty() || paths[i][0] != '/') fail(file, at + "[" + std::to_string(i) + "]", "\"" + paths[i] + "\" is not absolute");
        list->push_back(mount_destination(paths[i], file, at + "[" + std::to_string(i) + "]"));
      }
    }
    // the rest is the host's business (a VM has its own cgroups and namespaces) or not done yet
    for (const auto& [key, value] : linux_.items())
      if (key != "namespaces" && key != "resources" && key != "devices" && key != "sysctl" && key != "readonlyPaths" && key != "maskedPaths" &&
          key != "uidMappings" && key != "gidMappings")
        b.ignored.push_back("linux." + key);
    if (const auto& r = member(linux_, "resources", file, "linux.", T::object); !r.is_null())
      for (const auto& [key, value] : r.items())
        if (key != "memory" && key != "cpu") b.ignored.push_back("linux.resources." + key + " (the VM has its own)");
  } else {
    devices(b, nlohmann::json::array(), file);
  }
  annotations(b, file);
  b.spec.rootfs = b.rootfs;
  b.spec.entrypoint = b.args;
  return b;
}

}  // namespace crumble::oci
