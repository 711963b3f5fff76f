// SPDX-License-Identifier: Apache-2.0
// crumble/container/root_image.hpp — a container's root as the guest gets it: a read-only erofs
// image on a virtio-blk drive, with a tmpfs overlay on top in the guest.
//
//   build_erofs(dir, out)   the image of a directory tree, made by mkfs.erofs (erofs-utils)
//   directory_key(dir)      a key for a host directory's content, cheap enough for every run, so
//                           `--rootfs DIR` rebuilds its image only when DIR has changed
//
// Why erofs: the guest kernel has it (a module of Debian's cloud kernel), it is made for read-only
// roots (no journal, small metadata, files' data read straight from the block device), and
// mkfs.erofs builds one from a directory in one pass without mounting anything — no loop device,
// no root on the host. root_cache.hpp keeps the images by content.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../vm/host/process.hpp"
#include "errors.hpp"
#include "sha256.hpp"

namespace crumble::container {

namespace root_image_detail {

// Whether this mkfs.erofs has `--mkfs-time` (erofs-utils 1.8+), asked once per process.
inline bool mkfs_has_mkfs_time() {
  static const bool has = [] {
    try {
      const vm::ProcessResult r = vm::run_process({"mkfs.erofs", "--help"}, std::chrono::seconds(30));
      return (r.out + r.err).find("--mkfs-time") != std::string::npos;
    } catch (const std::exception&) {
      return false;  // no mkfs.erofs at all: build_erofs says so when it runs it
    }
  }();
  return has;
}

}  // namespace root_image_detail

// How long one mkfs.erofs may run: far beyond a real root (about 0.4 s for 100 MB here), so only a
// hung tool reaches it.
inline constexpr std::chrono::seconds erofs_build_limit{1800};

// Builds an erofs image of `dir` at `out` with mkfs.erofs and returns its size in bytes. Owners,
// modes (setuid included), symbolic links, hard links, device nodes, fifos and extended attributes
// (security.capability) are kept as they are on disk; mkfs.erofs reads the tree itself, without
// following symbolic links. Throws ImageError with mkfs.erofs's own message when it fails (a full
// disk, an unreadable file), leaving no `out` behind.
//
// The choices, measured on a 101 MB tree of 4,817 files (a copy of /usr/lib/python3*, AMD EPYC,
// 2 cores, page cache warm):
//   uncompressed  0.40–0.51 s   95 MB
//   -zlz4         0.42–0.48 s   54 MB
//   -zlz4hc       2.0–2.2 s     49 MB
// Uncompressed is the default: lz4 builds no faster, and every read the container makes would then
// decompress in the guest, whose CPU QEMU emulates here (TCG), on the run's critical path; the
// uncompressed image is read straight into the guest's page cache. The cost is disk space in the
// cache, which `crumble image prune` gives back.
//
// Per-file modification times are kept (--preserve-mtime), not replaced by a fixed timestamp: a
// root whose files all claim 1970 breaks what compares them — Python rewrites every .pyc whose
// recorded source time no longer matches, make rebuilds everything — and docker keeps them too.
// So the image is reproducible (same tree, same bytes) where mkfs.erofs can fix only the build time
// (`-T0 --mkfs-time`, erofs-utils 1.8+); with Debian 12's 1.5, -T would also overwrite every file's
// time, so only the superblock's build time varies there. Nothing relies on identical bytes: the
// cache key is the content's (layer digests, directory_key), computed before any build. The UUID
// is fixed for the same reason. Directory entries are sorted by name by mkfs.erofs itself (erofs
// looks names up by binary search).
inline std::uint64_t build_erofs(const std::filesystem::path& dir, const std::filesystem::path& out) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    throw ImageError("cannot build a root image of " + dir.string() + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) throw ImageError("cannot build a root image of " + dir.string() + ": not a directory");
  std::error_code ec;
  std::filesystem::remove(out, ec);
  std::vector<std::string> argv = {"mkfs.erofs", "--quiet", "--preserve-mtime", "-U", "00000000-0000-0000-0000-000000000000"};
  if (root_image_detail::mkfs_has_mkfs_time()) argv.insert(argv.end(), {"-T0", "--mkfs-time"});
  argv.insert(argv.end(), {std::filesystem::absolute(out).string(), std::filesystem::absolute(dir).string()});  // never read as options
  vm::ProcessResult r;
  try {
    r = vm::run_process(argv, erofs_build_limit);
  } catch (const std::exception& e) {
    std::filesystem::remove(out, ec);
    const std::string why = e.what();
    throw ImageError("cannot build the root image " + out.string() + " of " + dir.string() + ": " + why +
                     (why.find("No such file or directory") != std::string::npos && why.find("cannot run") != std::string::npos
                          ? " (mkfs.erofs not found: install erofs-utils)"
                          : ""));
  }
  if (r.status != 0) {
    std::filesystem::remove(out, ec);
    // Its errors are "<E> erofs...: message" lines; the usage text it adds to some is noise.
    std::string msg;
    for (std::string_view rest = r.err; !rest.empty();) {
      const auto nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
      if (line.find("<E>") == std::string_view::npos) continue;
      if (!msg.empty()) msg += '\n';
      msg += line;
    }
    if (msg.empty()) msg = vm::tail_lines(r.err.empty() ? r.out : r.err);
    throw ImageError("mkfs.erofs could not build the root image " + out.string() + " of " + dir.string() + " (" +
                     (r.status < 0 ? "killed by signal " + std::to_string(r.signal) : "exit status " + std::to_string(r.status)) +
                     "):\n" + msg);
  }
  const auto size = std::filesystem::file_size(out, ec);
  if (ec) throw ImageError("mkfs.erofs left no root image at " + out.string() + ": " + ec.message());
  return size;
}

// A key for the content of the host directory `dir` (lowercase hex SHA-256), from one stat walk:
// no file's data is read, so it is cheap enough to compute on every `--rootfs DIR` run. Over every
// entry, the root included, sorted by relative path: its path, type, mode, uid, gid, size, mtime
// and ctime (ns), link count, device number (device nodes) and symlink target. Anything that
// changes what build_erofs would produce changes the key: a file written, touched, added, removed,
// renamed, chmod'ed or chown'ed, an xattr set, a hard link made (ctime and the link count catch what
// mtime alone misses, such as a write followed by `touch -r` restoring the old time).
//
// Symbolic links are not followed (their target text counts), so the walk never leaves `dir`
// through one. It does descend into file systems mounted below `dir`, as mkfs.erofs does (it has no
// -xdev): the key covers exactly what the image would hold; nothing else is needed, since a
// container's root has no mounts of its own on the host. ImageError names the entry it cannot read.
inline std::string directory_key(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  struct stat root_st {};  // `dir` itself may be a symlink to the root (`--rootfs ./current`): followed
  if (::stat(dir.c_str(), &root_st) != 0) throw ImageError("cannot read the root directory " + dir.string() + ": " + std::strerror(errno));
  if (!S_ISDIR(root_st.st_mode)) throw ImageError("the root " + dir.string() + " is not a directory");

  auto record = [&](const std::string& rel, const fs::path& p, const struct stat& s) {
    std::string r = rel;
    r += '\0';
    for (long long v : {static_cast<long long>(s.st_mode), static_cast<long long>(s.st_uid), static_cast<long long>(s.st_gid),
                        static_cast<long long>(s.st_size), static_cast<long long>(s.st_mtim.tv_sec), static_cast<long long>(s.st_mtim.tv_nsec),
                        static_cast<long long>(s.st_ctim.tv_sec), static_cast<long long>(s.st_ctim.tv_nsec),
                        static_cast<long long>(s.st_nlink), static_cast<long long>(S_ISCHR(s.st_mode) || S_ISBLK(s.st_mode) ? s.st_rdev : 0)}) {
      r += std::to_string(v);
      r += ' ';
    }
    if (S_ISLNK(s.st_mode)) {
      std::error_code ec;
      const fs::path target = fs::read_symlink(p, ec);
      if (ec) throw ImageError("cannot read the symbolic link " + p.string() + ": " + ec.message());
      r += target.string();
    }
    return r;
  };

  std::vector<std::string> records;
  records.push_back(record("", dir, root_st));
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    struct stat s {};
    if (::lstat(p.c_str(), &s) != 0) throw ImageError("cannot read " + p.string() + " in the root " + dir.string() + ": " + std::strerror(errno));
    records.push_back(record(p.lexically_relative(dir).string(), p, s));
  }
  if (ec) throw ImageError("cannot walk the root directory " + dir.string() + ": " + ec.message());
  std::sort(records.begin(), records.end());
  Sha256 h;
  h.update("crumble directory_key 1\n");  // a version: a change to what is hashed changes every key
  for (const std::string& r : records) {
    h.update(std::to_string(r.size()) + ":");  // length-prefixed: no record can pose as two
    h.update(r);
  }
  return h.hex();
}

}  // namespace crumble::container
