// SPDX-License-Identifier: Apache-2.0
// crumble/vm/guest/initramfs.hpp — the initramfs a guest kernel unpacks before it runs /init.
//
// `Cpio` writes the "newc" cpio format exactly as the kernel's unpacker reads it
// (Documentation/driver-api/early-userspace/buffer-format.rst, init/initramfs.c).
// `build_initramfs` lays out a guest: /init, then either a copied root directory or a busybox
// userland, then kernel modules in load order with a list init can read without readdir (those
// loaded at boot, and those loaded only for a container), then any extra host files.
//
// Output is reproducible: mtimes are 0, owners are root, inode numbers count up from 1 in the
// order entries were added, and directories are copied in sorted order. Everything that goes
// wrong throws std::runtime_error naming the path and what to do about it.
#pragma once

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../host/input_file.hpp"
#include "../host/process.hpp"

namespace crumble::vm {

namespace detail {

inline std::runtime_error errno_error(const std::string& what, const std::filesystem::path& p, int err) {
  return std::runtime_error(what + " " + p.string() + ": " + std::strerror(err));
}

// A file copied into the archive (a module, busybox, a rootfs file), through
// host/input_file.hpp: a FIFO or device is refused at once instead of blocking the host, and the
// size is checked before reading: a newc size field is 8 hex digits, and reading a huge file
// first would only fail later, after using the memory.
inline std::vector<std::uint8_t> read_file(const std::filesystem::path& p, std::uint64_t limit) {
  const InputFile f = open_input<std::runtime_error>(p, "file", {});
  if (f.size() > limit)
    throw std::runtime_error(p.string() + " is " + std::to_string(f.size()) + " bytes; a newc cpio entry holds at most " +
                             std::to_string(limit) + " (4 GiB - 1)");
  return f.read_all<std::runtime_error>();
}

}  // namespace detail

class Cpio {
 public:
  static constexpr std::size_t max_name = 4095;          // the kernel skips entries whose name+NUL exceeds PATH_MAX
  static constexpr std::uint64_t max_size = 0xFFFFFFFF;  // 8 hex digits

  void directory(std::string_view path, std::uint32_t mode = 0755) {
    std::string p = name(path);
    check_mode(p, mode);
    if (auto it = index_.find(p); it != index_.end()) {
      // Named again (it was a parent of something added earlier): keep its place, take the mode.
      Entry& e = entries_[it->second];
      if (!S_ISDIR(e.mode)) throw std::runtime_error("cpio: " + p + " is already in the archive and is not a directory");
      e.mode = S_IFDIR | mode;
      return;
    }
    add(std::move(p), S_IFDIR | mode, {});
  }

  void file(std::string_view path, std::span<const std::uint8_t> data, std::uint32_t mode = 0644) {
    std::string p = name(path);
    check_mode(p, mode);
    if (data.size() > max_size)
      throw std::runtime_error("cpio: " + p + " is " + std::to_string(data.size()) +
                               " bytes; a newc cpio entry holds at most 4 GiB - 1");
    add(std::move(p), S_IFREG | mode, {data.begin(), data.end()});
  }

  void file_from_disk(std::string_view path, const std::filesystem::path& source, std::uint32_t mode) {
    std::string p = name(path);
    check_mode(p, mode);
    add(std::move(p), S_IFREG | mode, detail::read_file(source, max_size));
  }

  // The target is stored as given: an absolute target resolves inside the guest's root.
  void symlink(std::string_view path, std::string_view target) {
    std::string p = name(path);
    if (target.empty() || target.size() > max_name || target.find('\0') != std::string_view::npos)
      throw std::runtime_error("cpio: symlink " + p + ": target must be 1 to 4095 bytes without NUL");
    add(std::move(p), S_IFLNK | 0777, {target.begin(), target.end()});
  }

  void char_device(std::string_view path, std::uint32_t mode, std::uint32_t major, std::uint32_t minor) {
    device(path, S_IFCHR, mode, major, minor);
  }
  void block_device(std::string_view path, std::uint32_t mode, std::uint32_t major, std::uint32_t minor) {
    device(path, S_IFBLK, mode, major, minor);
  }

  std::vector<std::uint8_t> finish() {
    std::vector<std::uint8_t> out;
    std::uint32_t ino = 1;
    for (const Entry& e : entries_) write(out, e, ino++);
    write(out, Entry{"TRAILER!!!", 0, {}, 0, 0}, 0);
    entries_.clear();
    index_.clear();
    return out;
  }

 private:
  struct Entry {
    std::string path;
    std::uint32_t mode;  // type and permission bits
    std::vector<std::uint8_t> data;
    std::uint32_t rdev_major, rdev_minor;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::size_t, std::less<>> index_;  // path -> position in entries_

  // Archive names are relative to the guest's root: "/a//b/" and "a/b" are the same entry.
  static std::string name(std::string_view path) {
    if (path.find('\0') != std::string_view::npos) throw std::runtime_error("cpio: a path contains a NUL byte");
    std::string out;
    std::size_t at = 0;
    while (at < path.size()) {
      std::size_t end = std::min(path.find('/', at), path.size());
      std::string_view part = path.substr(at, end - at);
      if (part == "." || part == "..")
        throw std::runtime_error("cpio: path '" + std::string(path) + "' has a '.' or '..' component");
      if (!part.empty()) {
        if (!out.empty()) out += '/';
        out += part;
      }
      at = end + 1;
    }
    if (out.empty()) throw std::runtime_error("cpio: path '" + std::string(path) + "' names no file");
    if (out.size() > max_name)
      throw std::runtime_error("cpio: path '" + out.substr(0, 64) + "...' is " + std::to_string(out.size()) +
                               " bytes; at most 4095 fit (PATH_MAX with its NUL)");
    // The unpacker stops at this name, silently dropping everything after it.
    if (out == "TRAILER!!!") throw std::runtime_error("cpio: 'TRAILER!!!' is reserved for the end of the archive");
    return out;
  }

  static void check_mode(const std::string& p, std::uint32_t mode) {
    if (mode & ~07777u)
      throw std::runtime_error("cpio: " + p + ": mode " + std::to_string(mode) +
                               " has bits outside 07777 (the file type comes from the call)");
  }

  void device(std::string_view path, std::uint32_t type, std::uint32_t mode, std::uint32_t major,
              std::uint32_t minor) {
    std::string p = name(path);
    check_mode(p, mode);
    add(std::move(p), type | mode, {}, major, minor);
  }

  void add(std::string path, std::uint32_t mode, std::vector<std::uint8_t> data, std::uint32_t major = 0,
           std::uint32_t minor = 0) {
    if (index_.contains(path)) throw std::runtime_error("cpio: " + path + " is already in the archive");
    // The unpacker creates each entry with plain mkdir/open/symlink/mknod, so parents go first.
    for (std::size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
      std::string parent = path.substr(0, slash);
      auto it = index_.find(parent);
      if (it == index_.end()) {
        index_.emplace(parent, entries_.size());
        entries_.push_back(Entry{std::move(parent), S_IFDIR | 0755, {}, 0, 0});
      } else if (std::uint32_t m = entries_[it->second].mode; !S_ISDIR(m) && !S_ISLNK(m)) {
        // A symlinked parent is fine: the kernel follows it when creating the child.
        throw std::runtime_error("cpio: cannot add " + path + ": " + parent + " is not a directory");
      }
    }
    index_.emplace(path, entries_.size());
    entries_.push_back(Entry{std::move(path), mode, std::move(data), major, minor});
  }

  static void write(std::vector<std::uint8_t>& out, const Entry& e, std::uint32_t ino) {
    auto hex = [&](std::uint64_t v) {
      static constexpr char digits[] = "0123456789ABCDEF";
      for (int shift = 28; shift >= 0; shift -= 4) out.push_back(static_cast<std::uint8_t>(digits[(v >> shift) & 15]));
    };
    auto pad4 = [&] { out.resize((out.size() + 3) & ~std::size_t{3}, 0); };
    static constexpr std::string_view magic = "070701";
    out.insert(out.end(), magic.begin(), magic.end());
    hex(ino);
    hex(e.mode);
    hex(0);  // uid
    hex(0);  // gid
    hex(S_ISDIR(e.mode) ? 2 : 1);  // nlink: 1 keeps files out of the kernel's hard-link matching
    hex(0);  // mtime
    hex(e.data.size());
    hex(0);  // devmajor, devminor: of the file system the entry came from
    hex(0);
    hex(e.rdev_major);
    hex(e.rdev_minor);
    hex(e.path.size() + 1);  // namesize counts the NUL
    hex(0);                  // check: only for "070702"
    out.insert(out.end(), e.path.begin(), e.path.end());
    out.push_back(0);
    pad4();
    out.insert(out.end(), e.data.begin(), e.data.end());
    pad4();
  }
};

// What goes into a guest's initramfs.
struct InitramfsSpec {
  // /init (mode 0755). May be empty only when rootfs has its own init.
  std::span<const std::uint8_t> init;
  // Copied whole (files, directories, symlinks, device nodes; sockets and FIFOs skipped).
  // Empty: a busybox userland instead.
  std::filesystem::path rootfs;
  // Must be static (the guest has no libraries) and runnable here: `--list-full` names the applets.
  std::filesystem::path busybox = "/bin/busybox";
  // (name, .ko path) in load order, stored as /crumble/modules/NN-name.ko, and listed in
  // /crumble/modules.list (absolute paths, each NUL-terminated) so init needs no readdir.
  std::vector<std::pair<std::string, std::filesystem::path>> modules;
  // (name, .ko path) in load order, stored as /crumble/container-modules/NN-name.ko and listed in
  // /crumble/container-modules.list (same format): device drivers, which init loads at boot, so
  // they are in a snapshot bound to their devices (the root disk to a placeholder as large as any
  // root disk may be: QemuMachine::placeholder_disk_bytes).
  std::vector<std::pair<std::string, std::filesystem::path>> container_modules;
  // Host files copied in as they are (qemu-user interpreters for binfmt_misc, ...): the guest path
  // must be absolute, and may not name anything the layout above already holds.
  struct File {
    std::string guest_path;
    std::filesystem::path host_file;
    std::uint32_t mode = 0755;
  };
  std::vector<File> extra_files;
};

namespace detail {

// Copies dir's contents under prefix, children sorted by name so the bytes don't depend on
// the order the host's file system lists them in.
inline void copy_tree(Cpio& out, const std::filesystem::path& dir, const std::string& prefix) {
  std::vector<std::filesystem::path> children;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    children.push_back(it->path());
  if (ec) throw std::runtime_error("cannot list " + dir.string() + ": " + ec.message());
  std::sort(children.begin(), children.end());
  for (const auto& child : children) {
    std::string path = prefix + child.filename().string();
    struct stat st {};
    if (::lstat(child.c_str(), &st) != 0) throw errno_error("cannot stat", child, errno);
    std::uint32_t perm = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode)) {
      out.directory(path, perm);
      copy_tree(out, child, path + "/");
    } else if (S_ISREG(st.st_mode)) {
      out.file_from_disk(path, child, perm);
    } else if (S_ISLNK(st.st_mode)) {
      std::error_code lec;
      auto target = std::filesystem::read_symlink(child, lec);
      if (lec) throw std::runtime_error("cannot read symlink " + child.string() + ": " + lec.message());
      out.symlink(path, target.string());
    } else if (S_ISCHR(st.st_mode)) {
      out.char_device(path, perm, major(st.st_rdev), minor(st.st_rdev));
    } else if (S_ISBLK(st.st_mode)) {
      out.block_device(path, perm, major(st.st_rdev), minor(st.st_rdev));
    }
    // Sockets and FIFOs belong to a running system, not to an image: skipped.
  }
}

// A dynamically linked busybox would fail in the guest with "not found" (its loader is missing),
// long after this point; say so now.
inline void require_static(const std::vector<std::uint8_t>& elf, const std::filesystem::path& p) {
  if (elf.size() < sizeof(Elf64_Ehdr) || std::memcmp(elf.data(), ELFMAG, SELFMAG) != 0)
    throw std::runtime_error(p.string() + " is not an ELF executable: install busybox-static, or pass a rootfs directory");
  if (elf[EI_CLASS] != ELFCLASS64 || elf[EI_DATA] != ELFDATA2LSB) return;  // only 64-bit LE is inspected
  Elf64_Ehdr eh;
  std::memcpy(&eh, elf.data(), sizeof eh);
  for (std::size_t i = 0; i < eh.e_phnum; ++i) {
    std::uint64_t at = eh.e_phoff + i * std::uint64_t{eh.e_phentsize};
    if (eh.e_phentsize < sizeof(Elf64_Phdr) || at + sizeof(Elf64_Phdr) > elf.size()) break;
    Elf64_Phdr ph;
    std::memcpy(&ph, elf.data() + at, sizeof ph);
    if (ph.p_type == PT_INTERP)
      throw std::runtime_error(p.string() + " is dynamically linked and would not run in the guest: "
                               "apt-get install busybox-static (it provides /bin/busybox), or pass a rootfs directory");
  }
}

// The qemu-user emulator that runs this static ELF on this host ("" when the host
// runs it itself): a foreign guest's busybox is asked for its applets through it.
inline std::string user_emulator_for(const std::vector<std::uint8_t>& elf) {
  if (elf.size() < sizeof(Elf64_Ehdr)) return {};
  const unsigned machine = static_cast<unsigned>(elf[18] | (elf[19] << 8));
#if defined(__x86_64__)
  constexpr unsigned host = EM_X86_64;
#elif defined(__aarch64__)
  constexpr unsigned host = EM_AARCH64;
#else
  constexpr unsigned host = 0;
#endif
  if (machine == host) return {};
  if (machine == EM_AARCH64) return "qemu-aarch64";
  if (machine == EM_RISCV) return "qemu-riscv64";
  if (machine == EM_X86_64) return "qemu-x86_64";
  return {};
}

// `busybox --list-full`, run on the host (through qemu-user for a foreign guest's busybox): one
// applet path per line, relative to the root.
inline std::vector<std::string> busybox_applets(const std::filesystem::path& busybox, const std::string& emulator = {}) {
  // argv[0] picks the applet: "busybox" whatever the file is called.
  const std::string prog = busybox.string();
  std::optional<ProcessResult> r;
  std::string why;
  try {
    if (emulator.empty()) r = run_process({"busybox", "--list-full"}, std::chrono::seconds(60), {}, busybox);
    else r = run_process({emulator, "-0", "busybox", prog, "--list-full"}, std::chrono::seconds(60));
  } catch (const std::runtime_error& e) {  // it could not start at all
    why = std::string(": ") + e.what();
  }
  if (!r || r->status != 0)
    throw std::runtime_error("could not run '" + prog + " --list-full' on this host to list its applets" + why +
                             (emulator.empty() ? " (it must be a busybox for this host's architecture): apt-get install busybox-static, "
                                                 "or pass a rootfs directory"
                                               : " through " + emulator + " (apt-get install qemu-user)"));
  const std::string& text = r->out;
  std::vector<std::string> applets;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = std::min(text.find('\n', at), text.size());
    if (end > at) applets.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return applets;
}

inline void add_busybox(Cpio& out, const std::filesystem::path& busybox) {
  std::error_code ec;
  if (!std::filesystem::exists(busybox, ec))
    throw std::runtime_error("busybox not found at " + busybox.string() +
                             ": apt-get install busybox-static, or pass a rootfs directory");
  std::vector<std::uint8_t> bytes = read_file(busybox, Cpio::max_size);
  require_static(bytes, busybox);
  for (const char* dir : {"dev", "proc", "sys", "run", "etc"}) out.directory(dir, 0755);
  out.directory("tmp", 01777);
  out.file("bin/busybox", bytes, 0755);
  for (const std::string& applet : busybox_applets(busybox, user_emulator_for(bytes)))
    if (applet != "bin/busybox") out.symlink(applet, "/bin/busybox");  // the list names the binary itself
}

// Modules in load order under `dir` ("crumble/modules" -> crumble/modules/NN-name.ko) and the
// list `dir`.list naming them: absolute paths, each NUL-terminated, so init needs no readdir.
inline void add_modules(Cpio& out, const std::vector<std::pair<std::string, std::filesystem::path>>& modules, const std::string& dir) {
  std::error_code ec;
  std::string list;
  const std::size_t width = std::max<std::size_t>(2, std::to_string(modules.size()).size());
  for (std::size_t i = 0; i < modules.size(); ++i) {
    const auto& [name, ko] = modules[i];
    if (name.empty() || name.find_first_of(std::string_view("/\0", 2)) != std::string::npos)
      throw std::runtime_error("kernel module name '" + name + "' must be non-empty without '/' or NUL");
    if (!std::filesystem::exists(ko, ec))
      throw std::runtime_error("kernel module " + name + " not found at " + ko.string() +
                               ": extract the guest kernel's package (dpkg-deb -x) and pass the .ko path");
    std::string number = std::to_string(i);
    std::string stored = dir + "/" + std::string(width - number.size(), '0') + number + "-" + name + ".ko";
    out.file_from_disk(stored, ko, 0644);
    list += "/" + stored;  // absolute, so init can open it from any working directory
    list += '\0';
  }
  out.file(dir + ".list", std::span(reinterpret_cast<const std::uint8_t*>(list.data()), list.size()), 0644);
}

}  // namespace detail

inline std::vector<std::uint8_t> build_initramfs(const InitramfsSpec& spec) {
  Cpio out;
  if (spec.rootfs.empty()) {
    detail::add_busybox(out, spec.busybox);
  } else {
    std::error_code ec;
    if (!std::filesystem::is_directory(spec.rootfs, ec))
      throw std::runtime_error("rootfs directory " + spec.rootfs.string() +
                               " not found (or not a directory): create it, or leave InitramfsSpec::rootfs empty "
                               "for a busybox userland");
    detail::copy_tree(out, spec.rootfs, "");
  }

  std::error_code ec;
  auto rootfs_has = [&](const char* p) {
    return !spec.rootfs.empty() && std::filesystem::exists(std::filesystem::symlink_status(spec.rootfs / p, ec));
  };
  if (!spec.init.empty()) out.file("init", spec.init, 0755);
  else if (!rootfs_has("init"))
    throw std::runtime_error("no /init: set InitramfsSpec::init, or put an executable 'init' in the rootfs directory");
  // The kernel opens /dev/console for init's stdin/stdout/stderr before devtmpfs is mounted; without
  // the node init starts with no standard streams.
  if (!rootfs_has("dev/console")) out.char_device("dev/console", 0600, 5, 1);

  // Both lists are always present, empty when there are no modules: init needs no special case.
  detail::add_modules(out, spec.modules, "crumble/modules");
  detail::add_modules(out, spec.container_modules, "crumble/container-modules");
  for (const InitramfsSpec::File& f : spec.extra_files) {
    if (f.guest_path.empty() || f.guest_path[0] != '/')
      throw std::runtime_error("initramfs file " + f.host_file.string() + ": its guest path '" + f.guest_path + "' must be absolute");
    if (!std::filesystem::exists(f.host_file, ec))
      throw std::runtime_error("initramfs file " + f.host_file.string() + " (for " + f.guest_path + ") not found");
    out.file_from_disk(f.guest_path, f.host_file, f.mode);
  }
  return out.finish();
}

}  // namespace crumble::vm
