// SPDX-License-Identifier: Apache-2.0
// crumble/container/layers.hpp — an image's root, unpacked: every blob verified, then the layers
// applied in order with their whiteouts, and nothing ever written outside the root.
//
// unpack_image(image, work, rootfs):
//   1. locate the blobs: a layout's files, or (archives) the members extracted into `work` in one
//      pass, hashed while they are written;
//   2. verify the manifest, the config and every layer blob (sha256 and size against what
//      read_image found) before anything is applied;
//   3. apply each layer (apply_layer's steps), checking its uncompressed stream against its diff_id.
// apply_layer(tar, rootfs) reads the layer twice (libarchive detects plain, gzip and zstd):
//   scan     every entry's name and type checked (no absolute path, no "..", no device node, no
//            hardlink out of the root, nothing under a symlink), its whiteouts collected, the
//            uncompressed stream hashed; nothing is written yet, so a hostile or corrupt layer is
//            refused whole;
//   remove   the whiteouts: `.wh.NAME` removes NAME, `.wh..wh..opq` empties its directory (of the
//            lower layers' entries: this layer's are not written yet, so the order of entries in
//            the tar does not matter), and a lower directory that this layer replaces by a file
//            goes; directories are opened one component at a time with O_NOFOLLOW and entries
//            removed with unlinkat, so a removal never follows a symlink;
//   extract  libarchive's archive_write_disk with SECURE_NODOTDOT, SECURE_SYMLINKS and
//            SECURE_NOABSOLUTEPATHS, keeping numeric owners, modes (setuid too), times and the
//            user.* and security.capability xattrs.
// All of it runs on a helper thread with its own working directory (unshare(CLONE_FS)) chrooted
// into the root where the process may (we run as root): there an absolute or `..` symlink resolves
// inside the root whatever libarchive checks, so the checks above are a second wall, not the only
// one. Progress is relayed to the calling thread, so a ProgressFn sees the host's file system.
//
// Symlinks themselves may point anywhere (/etc/alternatives, ../lib): they are data, resolved later
// inside the guest. Device nodes are refused: the guest gets /dev from devtmpfs.
// Every problem is an ImageError naming the layer and the entry; the caller throws `rootfs` away.
//
// apply_overlay_diff(tar, rootfs) takes the same steps for an overlayfs upper directory as tar
// archives it (a container's writes, Container::copy_writes_to), which marks removals the
// kernel's way (LayerFormat::overlay_diff): a character device 0/0 is a whiteout of its own path
// (and so is a hardlink to one: overlayfs links its whiteouts to one shared inode), names are
// literal (".wh." means nothing), and a hardlink must point to an earlier entry of the archive
// (an upper directory holds both ends). Opaque directories (the trusted.overlay.opaque xattr) are
// not in such an archive: the caller names them (apply_overlay_diff's `opaques`; overlay_diff_probes
// says what to ask the guest to tell them).
#pragma once

#include <crumble/container/errors.hpp>
#include <crumble/container/image.hpp>
#include <crumble/container/sha256.hpp>
#include <crumble/vm/host/fd.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <iconv.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace crumble::container {

struct UnpackProgress {
  std::size_t layer = 0, layers = 0;           // the layer being worked on (1-based; 0 before any)
  std::uint64_t bytes = 0, total_bytes = 0;    // blob bytes done in this step, of all layers' sizes
  std::string_view what;                       // "extracting", "verifying" or "applying"
};
using ProgressFn = std::function<void(const UnpackProgress&)>;

namespace layers_detail {

using crumble::container::image_detail::ArchiveReader;

inline bool disk_full(int e) { return e == ENOSPC || e == EDQUOT; }

// How a layer marks what it removes.
enum class LayerFormat {
  oci,           // an image layer: `.wh.NAME` removes NAME, `.wh..wh..opq` empties its directory
  overlay_diff,  // an overlayfs upper directory: a character device 0/0 removes its own path
};

// An entry's name as a clean relative path ("./a//b/" -> "a/b"; the root is ""), or an ImageError
// for an absolute name or a ".." component.
inline std::string entry_path(std::string_view raw, std::string_view layer, std::string_view what = "entry") {
  const std::string shown = std::string(layer) + ": " + std::string(what) + " " + quote_untrusted(raw);
  if (raw.starts_with('/')) throw ImageError(shown + " has an absolute path: refused");
  std::string out;
  std::size_t i = 0;
  while (i <= raw.size()) {
    std::size_t j = raw.find('/', i);
    if (j == std::string_view::npos) j = raw.size();
    const std::string_view c = raw.substr(i, j - i);
    if (c == "..") throw ImageError(shown + " has a \"..\" component: refused");
    if (!c.empty() && c != ".") {
      if (!out.empty()) out += '/';
      out += c;
    }
    i = j + 1;
  }
  return out;
}

inline std::vector<std::string> components(const std::string& path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

inline std::string parent_of(const std::string& path) {
  const auto s = path.rfind('/');
  return s == std::string::npos ? std::string() : path.substr(0, s);
}
inline std::string base_of(const std::string& path) {
  const auto s = path.rfind('/');
  return s == std::string::npos ? path : path.substr(s + 1);
}

// The directory `path` under the root, opened one component at a time without following a symlink.
// Fails with errno ELOOP when a component is a symlink, ENOENT/ENOTDIR when it is not there.
inline vm::Fd open_dir_beneath(int root, const std::string& path) {
  vm::Fd cur(::fcntl(root, F_DUPFD_CLOEXEC, 0));
  if (cur.get() < 0) return cur;
  for (const auto& c : components(path)) {
    vm::Fd next(::openat(cur.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (next.get() < 0) return next;
    cur = std::move(next);
  }
  return cur;
}

enum class Kind { absent, dir, symlink, other };

// What `path` is under the root, never following a symlink (one on the way counts as a symlink).
inline Kind kind_beneath(int root, const std::string& path) {
  vm::Fd dir = open_dir_beneath(root, parent_of(path));
  if (dir.get() < 0) return errno == ELOOP ? Kind::symlink : Kind::absent;
  struct stat st;
  if (::fstatat(dir.get(), base_of(path).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return Kind::absent;
  if (S_ISLNK(st.st_mode)) return Kind::symlink;
  return S_ISDIR(st.st_mode) ? Kind::dir : Kind::other;
}

// Removes `name` in the directory `dirfd`, a directory with everything in it; never follows a
// symlink (a symlink is removed as itself).
inline void remove_at(int dirfd, const std::string& name, const std::string& what) {
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return;
    throw ImageError(what + ": cannot remove " + quote_untrusted(name) + ": " + std::string(std::strerror(errno)));
  }
  if (S_ISDIR(st.st_mode)) {
    vm::Fd d(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (d.get() < 0) throw ImageError(what + ": cannot open " + quote_untrusted(name) + ": " + std::string(std::strerror(errno)));
    std::vector<std::string> names;
    {
      DIR* ds = ::fdopendir(::fcntl(d.get(), F_DUPFD_CLOEXEC, 0));
      if (!ds) throw ImageError(what + ": cannot list " + quote_untrusted(name) + ": " + std::string(std::strerror(errno)));
      while (struct dirent* de = ::readdir(ds)) {
        const std::string n = de->d_name;
        if (n != "." && n != "..") names.push_back(n);
      }
      ::closedir(ds);
    }
    for (const auto& n : names) remove_at(d.get(), n, what);
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
      throw ImageError(what + ": cannot remove " + quote_untrusted(name) + ": " + std::string(std::strerror(errno)));
  } else if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) {
    throw ImageError(what + ": cannot remove " + quote_untrusted(name) + ": " + std::string(std::strerror(errno)));
  }
}

// Removes `path` under the root; nothing to do when it is not there. A symlink on the way is an
// error: a removal never goes through one.
inline void remove_beneath(int root, const std::string& path, const std::string& what) {
  vm::Fd dir = open_dir_beneath(root, parent_of(path));
  if (dir.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return;
    if (errno == ELOOP) throw ImageError(what + ": refused: it would remove through a symlink");
    throw ImageError(what + ": " + std::string(std::strerror(errno)));
  }
  remove_at(dir.get(), base_of(path), what);
}

// The layer file, read in 64 KiB blocks for libarchive, optionally hashed as read (the blob's
// digest), with the bytes read so far reported.
struct BlobReader {
  int fd = -1;
  Sha256* hash = nullptr;
  std::uint64_t bytes = 0;
  std::function<void(std::uint64_t)> on_bytes;
  std::vector<char> buf = std::vector<char>(1 << 16);

  static la_ssize_t read(struct archive* a, void* self, const void** out) {
    auto* r = static_cast<BlobReader*>(self);
    for (;;) {
      const ssize_t n = ::read(r->fd, r->buf.data(), r->buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        archive_set_error(a, errno, "read: %s", std::strerror(errno));
        return -1;
      }
      if (r->hash) r->hash->update(r->buf.data(), static_cast<std::size_t>(n));
      r->bytes += static_cast<std::uint64_t>(n);
      if (r->on_bytes) r->on_bytes(r->bytes);
      *out = r->buf.data();
      return n;
    }
  }
};

// The uncompressed stream of a layer (libarchive's "raw" format under all its filters), hashed as
// the tar reader above it consumes it: the diff_id is computed in the same read as the scan.
// A stream that ends inside a 512-byte block gets zeros up to the block's end (not hashed): umoci
// 0.4.7's `insert` writes layers that stop right after the last file's data, without its padding
// or the end-of-archive blocks; GNU tar, Go's archive/tar and umoci itself read them.
struct StreamReader {
  struct archive* inner = nullptr;
  Sha256* hash = nullptr;
  std::uint64_t bytes = 0;  // real bytes handed out
  std::size_t pad = 0;      // zeros still to hand out at the end
  bool ended = false;
  static constexpr char zeros[512] = {};

  static la_ssize_t read(struct archive* a, void* self, const void** out) {
    auto* r = static_cast<StreamReader*>(self);
    if (r->ended) {
      const std::size_t n = r->pad;
      r->pad = 0;
      *out = zeros;
      return static_cast<la_ssize_t>(n);
    }
    const void* buf = nullptr;
    std::size_t size = 0;
    la_int64_t offset = 0;
    const int rc = archive_read_data_block(r->inner, &buf, &size, &offset);
    if (rc == ARCHIVE_EOF) {
      r->ended = true;
      r->pad = (512 - r->bytes % 512) % 512;
      return read(a, self, out);
    }
    if (rc < ARCHIVE_OK) {
      const char* msg = archive_error_string(r->inner);
      archive_set_error(a, archive_errno(r->inner), "%s", msg ? msg : "cannot decompress");
      return -1;
    }
    if (r->hash) r->hash->update(buf, size);
    r->bytes += size;
    *out = buf;
    return static_cast<la_ssize_t>(size);
  }
};

// A layer opened for reading as a tar: the file (BlobReader) -> libarchive's filters ("raw") ->
// StreamReader -> libarchive's tar reader (`tar`).
struct LayerStream {
  BlobReader blob;
  StreamReader stream;
  ArchiveReader raw, tar;

  LayerStream(int fd, const std::string& layer, Sha256* diff_hash, std::function<void(std::uint64_t)> on_bytes) {
    if (::lseek(fd, 0, SEEK_SET) != 0) throw ImageError(layer + ": cannot rewind: " + std::string(std::strerror(errno)));
    blob.fd = fd;
    blob.on_bytes = std::move(on_bytes);
    raw.reset(archive_read_new());
    image_detail::support_builtin_filters(raw.get());
    archive_read_support_format_raw(raw.get());
    if (archive_read_open(raw.get(), &blob, nullptr, &BlobReader::read, nullptr) != ARCHIVE_OK)
      throw ImageError(layer + ": cannot read: " + error_of(raw.get()));
    struct archive_entry* e = nullptr;
    if (archive_read_next_header(raw.get(), &e) != ARCHIVE_OK) throw ImageError(layer + ": cannot read: " + error_of(raw.get()));
    stream.inner = raw.get();
    stream.hash = diff_hash;
    tar.reset(archive_read_new());
    archive_read_support_format_tar(tar.get());
    if (archive_read_open(tar.get(), &stream, nullptr, &StreamReader::read, nullptr) != ARCHIVE_OK)
      throw ImageError(layer + ": not a tar archive: " + error_of(tar.get()));
  }
  LayerStream(const LayerStream&) = delete;
  LayerStream& operator=(const LayerStream&) = delete;

  // The rest of the uncompressed stream (what follows the end of the tar is part of the diff_id).
  void drain() {
    const void* out = nullptr;
    while (!stream.ended && StreamReader::read(tar.get(), &stream, &out) > 0) {
    }
  }

  static std::string error_of(struct archive* a) {
    const char* m = archive_error_string(a);
    return m ? m : "empty or unreadable";
  }
};

// What the scan learnt about one layer.
struct LayerPlan {
  std::map<std::string, Kind> entries;  // this layer's paths (not whiteouts) and their kinds
  std::vector<std::string> whiteouts;   // paths of lower layers to remove
  std::vector<std::string> opaques;     // directories to empty of lower layers' entries
  std::vector<std::pair<std::string, std::string>> hardlinks;  // entry, target
  std::string diff_id;                  // sha256:... of the uncompressed stream
};

inline constexpr std::string_view whiteout_prefix = ".wh.";
inline constexpr std::string_view opaque_marker = ".wh..wh..opq";

// Scan: reads every header (and hashes every byte) of the layer; writes nothing.
inline LayerPlan scan_layer(int fd, const std::string& layer, LayerFormat format = LayerFormat::oci) {
  Sha256 diff_hash;
  LayerStream in(fd, layer, &diff_hash, {});
  struct archive* const tar = in.tar.get();
  struct archive_entry* e = nullptr;
  LayerPlan plan;
  std::set<std::string> whiteouts;  // an overlay diff's, so far
  for (;;) {
    const int r = archive_read_next_header(tar, &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      const char* msg = archive_error_string(tar);
      throw ImageError(layer + ": cannot read the layer (corrupt or truncated): " + (msg ? msg : "?"));
    }
    const char* raw_name = archive_entry_pathname(e);
    const std::string path = entry_path(raw_name ? raw_name : "", layer);
    const std::string shown = layer + ": entry " + quote_untrusted(raw_name ? raw_name : "");
    const std::string base = base_of(path);
    const auto type = archive_entry_filetype(e);
    if (format == LayerFormat::overlay_diff) {
      const char* hl = archive_entry_hardlink(e);
      const std::string target = hl ? entry_path(hl, layer, "hardlink target") : std::string();
      const bool whiteout = hl ? whiteouts.count(target) != 0 : type == AE_IFCHR && archive_entry_rdevmajor(e) == 0 && archive_entry_rdevminor(e) == 0;
      if (whiteout) {
        if (path.empty()) throw ImageError(shown + " is a whiteout of the root: refused");
        plan.whiteouts.push_back(path);
        whiteouts.insert(path);
        continue;
      }
      // an upper directory holds both ends of its hardlinks: one to anything else is not its own
      if (hl && !plan.entries.count(target))
        throw ImageError(shown + " is a hardlink to " + quote_untrusted(hl) + ", which is not an earlier entry of the archive: refused");
    } else if (base.starts_with(whiteout_prefix)) {
      if (base == opaque_marker) {
        plan.opaques.push_back(parent_of(path));
      } else if (!base.starts_with(".wh..wh.")) {  // other .wh..wh. names are aufs metadata: ignored
        const std::string name = base.substr(whiteout_prefix.size());
        if (name.empty() || name == "." || name == "..") throw ImageError(shown + " is a whiteout of " + quote_untrusted(name) + ": refused");
        const std::string dir = parent_of(path);
        plan.whiteouts.push_back(dir.empty() ? name : dir + "/" + name);
      }
      continue;
    }
    if (path.empty()) continue;  // the root itself
    if (const char* hl = archive_entry_hardlink(e)) {
      const std::string target = entry_path(hl, layer, "hardlink target");
      if (target.empty()) throw ImageError(shown + " is a hardlink to the root: refused");
      plan.hardlinks.emplace_back(path, target);
      plan.entries[path] = Kind::other;
      continue;
    }
    switch (type) {
      case AE_IFDIR: plan.entries[path] = Kind::dir; break;
      case AE_IFLNK: plan.entries[path] = Kind::symlink; break;
      case AE_IFREG:
      case AE_IFIFO: plan.entries[path] = Kind::other; break;
      case AE_IFCHR:
      case AE_IFBLK:
        throw ImageError(shown + " is a device node: refused (the guest gets /dev from devtmpfs)");
      default:
        throw ImageError(shown + " has a file type we do not unpack (" + std::to_string(type) + ")");
    }
  }
  in.drain();
  plan.diff_id = sha256_digest(diff_hash.hex());
  return plan;
}

// Nothing this layer writes may go through a symlink, whether this layer or a lower one made it.
// A path is judged by this layer's own entry for it if there is one, as absent if this layer
// removes it, and else by what the lower layers left in the root.
inline void check_no_symlink_on_the_way(const LayerPlan& plan, int root, const std::string& layer) {
  std::set<std::string> removed(plan.whiteouts.begin(), plan.whiteouts.end());
  std::map<std::string, bool> known;  // prefix -> a symlink is at or above it
  auto removed_by_layer = [&](const std::string& p) {
    for (std::string q = p; !q.empty(); q = parent_of(q))
      if (removed.count(q)) return true;
    return false;
  };
  auto under_opaque = [&](const std::string& p) {
    for (const auto& o : plan.opaques)
      if (o.empty() || p.starts_with(o + "/")) return true;
    return false;
  };
  // A hardlink is whatever its target is: link(2) does not follow a symlink, so one to a symlink
  // is a symlink (a chain longer than 8 counts as one: no archive needs it).
  const std::map<std::string, std::string> link_target(plan.hardlinks.begin(), plan.hardlinks.end());
  std::function<bool(const std::string&, int)> is_symlink = [&](const std::string& p, int depth) {
    if (auto l = link_target.find(p); l != link_target.end()) return depth >= 8 || is_symlink(l->second, depth + 1);
    if (auto it = plan.entries.find(p); it != plan.entries.end()) return it->second == Kind::symlink;
    if (removed_by_layer(p) || under_opaque(p)) return false;
    return kind_beneath(root, p) == Kind::symlink;
  };
  auto symlink_at = [&](const std::string& prefix) {
    if (auto it = known.find(prefix); it != known.end()) return it->second;
    const bool s = is_symlink(prefix, 0);
    known[prefix] = s;
    return s;
  };
  auto check = [&](const std::string& path, const std::string& shown) {
    std::string prefix;
    const auto parts = components(path);
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      prefix += (prefix.empty() ? "" : "/") + parts[i];
      if (symlink_at(prefix))
        throw ImageError(layer + ": " + shown + " " + quote_untrusted(path) + " goes through the symlink " + quote_untrusted(prefix) + ": refused");
    }
  };
  for (const auto& [path, kind] : plan.entries) check(path, "entry");
  for (const auto& [path, target] : plan.hardlinks) check(target, "hardlink " + quote_untrusted(path) + " -> target");
  for (const auto& w : plan.whiteouts) check(w, "whiteout of");
  for (const auto& o : plan.opaques) check(o + "/x", "opaque directory");
}

// Remove: whiteouts, opaque directories, and lower directories this layer replaces by a non-directory.
inline void apply_removals(const LayerPlan& plan, int root, const std::string& layer) {
  for (const auto& o : plan.opaques) {
    const std::string what = layer + ": opaque directory " + quote_untrusted(o.empty() ? "/" : o);
    vm::Fd d = open_dir_beneath(root, o);
    if (d.get() < 0) {
      if (errno == ENOENT) continue;
      if (errno == ENOTDIR) {  // a lower non-directory, replaced by this layer's directory
        remove_beneath(root, o, what);
        continue;
      }
      if (errno == ELOOP) throw ImageError(what + ": refused: it is or goes through a symlink");
      throw ImageError(what + ": " + std::string(std::strerror(errno)));
    }
    std::vector<std::string> names;
    DIR* ds = ::fdopendir(::fcntl(d.get(), F_DUPFD_CLOEXEC, 0));
    if (!ds) throw ImageError(what + ": cannot list: " + std::string(std::strerror(errno)));
    while (struct dirent* de = ::readdir(ds)) {
      const std::string n = de->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(ds);
    for (const auto& n : names) remove_at(d.get(), n, what);
  }
  for (const auto& w : plan.whiteouts) remove_beneath(root, w, layer + ": whiteout of " + quote_untrusted(w));
  for (const auto& [path, kind] : plan.entries)
    if (kind != Kind::dir && kind_beneath(root, path) == Kind::dir) remove_beneath(root, path, layer + ": entry " + quote_untrusted(path));
}

struct WriterCloser {
  void operator()(struct archive* a) const { archive_write_free(a); }
};

inline constexpr int extract_flags = ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                     ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                     ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;

[[noreturn]] inline void write_failed(struct archive* w, const std::string& layer, std::string_view entry) {
  const int e = archive_errno(w);
  const char* msg = archive_error_string(w);
  if (disk_full(e))
    throw ImageError(layer + ": the disk is full (" + std::string(std::strerror(e)) + ") while writing entry " + quote_untrusted(entry));
  throw ImageError(layer + ": cannot write entry " + quote_untrusted(entry) + ": " + (msg ? msg : std::string(std::strerror(e))));
}

// Only user.* and security.capability xattrs reach the root: trusted.* or security.selinux from a
// layer would be the host's business, not the image's.
inline void keep_safe_xattrs(struct archive_entry* e) {
  if (archive_entry_xattr_reset(e) == 0) return;
  std::vector<std::pair<std::string, std::string>> keep;
  const char* name = nullptr;
  const void* value = nullptr;
  std::size_t size = 0;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    const std::string_view n = name ? name : "";
    if (n.starts_with("user.") || n == "security.capability") keep.emplace_back(std::string(n), std::string(static_cast<const char*>(value), size));
  }
  archive_entry_xattr_clear(e);
  for (const auto& [n, v] : keep) archive_entry_xattr_add_entry(e, n.c_str(), v.data(), v.size());
}

// Extract: the layer's entries (whiteouts skipped) into the current directory, the root. An
// overlay diff's whiteouts are the plan's (`whiteouts`: the scan found them).
inline void extract_layer(int fd, const std::string& layer, const std::function<void(std::uint64_t)>& on_bytes,
                          LayerFormat format = LayerFormat::oci, const std::vector<std::string>& whiteouts = {}) {
  const std::set<std::string> skip(whiteouts.begin(), whiteouts.end());
  LayerStream in(fd, layer, nullptr, on_bytes);
  struct archive* const r = in.tar.get();
  std::unique_ptr<struct archive, WriterCloser> w(archive_write_disk_new());
  archive_write_disk_set_options(w.get(), extract_flags);  // numeric ids: no user-name lookups
  struct archive_entry* e = nullptr;
  for (;;) {
    const int rc = archive_read_next_header(r, &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) throw ImageError(layer + ": cannot read the layer: " + std::string(archive_error_string(r)));
    const char* raw_name = archive_entry_pathname(e);
    const std::string raw(raw_name ? raw_name : "");
    const std::string path = entry_path(raw, layer);
    if (path.empty()) continue;
    if (format == LayerFormat::oci ? base_of(path).starts_with(whiteout_prefix) : skip.count(path) != 0) continue;
    archive_entry_set_pathname(e, path.c_str());
    if (const char* hl = archive_entry_hardlink(e)) archive_entry_set_hardlink(e, entry_path(hl, layer, "hardlink target").c_str());
    keep_safe_xattrs(e);
    // libarchive answers ARCHIVE_WARN both for a metadata it could not restore (an xattr the file
    // system does not support: accepted) and for a failed write of data (never accepted)
    auto failed = [&](la_ssize_t rc) { return rc < ARCHIVE_WARN || (rc == ARCHIVE_WARN && disk_full(archive_errno(w.get()))); };
    if (failed(archive_write_header(w.get(), e))) write_failed(w.get(), layer, raw);
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0) {
      for (;;) {
        const void* buf = nullptr;
        std::size_t size = 0;
        la_int64_t offset = 0;
        const int d = archive_read_data_block(r, &buf, &size, &offset);
        if (d == ARCHIVE_EOF) break;
        if (d < ARCHIVE_WARN) throw ImageError(layer + ": cannot read entry " + quote_untrusted(raw) + ": " + archive_error_string(r));
        if (archive_write_data_block(w.get(), buf, size, offset) != ARCHIVE_OK) write_failed(w.get(), layer, raw);
      }
    }
    if (failed(archive_write_finish_entry(w.get()))) write_failed(w.get(), layer, raw);
  }
  const int closed = archive_write_close(w.get());
  if (closed < ARCHIVE_WARN || (closed == ARCHIVE_WARN && disk_full(archive_errno(w.get())))) write_failed(w.get(), layer, "(directory modes and times)");
}

// One layer: scan, check, remove, extract. Runs inside the confined thread (cwd = root).
inline void apply_open_layer(int fd, int root, const std::string& layer, const std::string& expected_diff_id,
                             const std::function<void(std::uint64_t)>& on_bytes) {
  LayerPlan plan = scan_layer(fd, layer);
  if (!expected_diff_id.empty() && plan.diff_id != expected_diff_id)
    throw ImageError(layer + ": its uncompressed contents do not match the diff_id " + expected_diff_id + " (sha256 " + plan.diff_id + ")");
  check_no_symlink_on_the_way(plan, root, layer);
  apply_removals(plan, root, layer);
  extract_layer(fd, layer, on_bytes);
}

// Runs `work` on a thread of its own whose working directory (and, where we may, root) is the
// unpacked root; `progress` events it posts are delivered on the calling thread.
class ConfinedWorker {
 public:
  void post(const UnpackProgress& p) {
    std::lock_guard<std::mutex> held(lock_);
    latest_ = p;
    fresh_ = true;
    wake_.notify_one();
  }

  void run(int root, const std::function<void()>& work, const ProgressFn& progress) {
    std::exception_ptr error;
    std::thread t([&] {
      try {
        // glibc reads its character-set configuration (and may dlopen converters) on the first
        // iconv_open, which libarchive makes for pax names: let that happen here, on the host's
        // files, not later inside the chroot on the image's (CVE-2019-14271 was that in docker cp).
        if (iconv_t cd = ::iconv_open("UTF-8", "ISO-8859-1"); cd != reinterpret_cast<iconv_t>(-1)) ::iconv_close(cd);
        if (::unshare(CLONE_FS) != 0) throw ImageError(std::string("unshare(CLONE_FS): ") + std::string(std::strerror(errno)));
        if (::fchdir(root) != 0) throw ImageError(std::string("cannot enter the root: ") + std::string(std::strerror(errno)));
        if (::chroot(".") == 0 && ::chdir("/") != 0) throw ImageError(std::string("chdir in the root: ") + std::string(std::strerror(errno)));
        ::umask(0);
        work();
      } catch (...) {
        error = std::current_exception();
      }
      std::lock_guard<std::mutex> held(lock_);
      done_ = true;
      wake_.notify_one();
    });
    for (;;) {
      std::unique_lock<std::mutex> held(lock_);
      wake_.wait(held, [&] { return done_ || fresh_; });
      if (fresh_) {
        fresh_ = false;
        const UnpackProgress p = latest_;
        held.unlock();
        if (progress) {
          try {
            progress(p);
          } catch (...) {  // a failing progress display must not stop the unpack
          }
        }
        continue;
      }
      break;
    }
    t.join();
    if (error) std::rethrow_exception(error);
  }

 private:
  std::mutex lock_;
  std::condition_variable wake_;
  UnpackProgress latest_;
  bool fresh_ = false, done_ = false;
};

inline vm::Fd open_root(const std::filesystem::path& rootfs) {
  vm::Fd root(::open(rootfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) throw ImageError("cannot open the root directory " + rootfs.string() + ": " + std::string(std::strerror(errno)));
  return root;
}

inline vm::Fd open_blob(const std::filesystem::path& p, const std::string& what) {
  vm::Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) throw ImageError("cannot read " + what + " (" + p.string() + "): " + std::string(std::strerror(errno)));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) throw ImageError("cannot read " + what + " (" + p.string() + "): not a regular file");
  return fd;
}

inline std::string layer_name(const Image& image, std::size_t i) {
  return "layer " + std::to_string(i + 1) + " (" + image.layers[i].digest + ") of image " + image.source.string();
}

// Archives: the members unpack_image needs, extracted into `work` in one pass and hashed on the way.
struct ExtractedBlob {
  std::filesystem::path file;
  std::string sha256;
  std::uint64_t size = 0;
};

inline std::map<std::string, ExtractedBlob> extract_members(const Image& image, const std::set<std::string>& wanted,
                                                            const std::filesystem::path& work, const ProgressFn& progress,
                                                            std::uint64_t total) {
  std::map<std::string, ExtractedBlob> got;
  auto a = image_detail::open_tar(image.source);
  struct archive_entry* e = nullptr;
  std::uint64_t done = 0, shown = 0;
  std::vector<char> buf(1 << 16);
  for (;;) {
    const int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) throw ImageError("cannot read image " + image.source.string() + ": " + archive_error_string(a.get()));
    const char* raw = archive_entry_pathname(e);
    const std::string name = image_detail::clean_member_name(raw ? raw : "");
    if (!wanted.count(name) || got.count(name) || archive_entry_filetype(e) != AE_IFREG) continue;
    ExtractedBlob b;
    b.file = work / ("blob-" + std::to_string(got.size()));
    vm::Fd out(::open(b.file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (out.get() < 0) throw ImageError("cannot create " + b.file.string() + ": " + std::string(std::strerror(errno)));
    Sha256 h;
    for (;;) {
      const la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n < 0) throw ImageError("cannot read " + name + " in image " + image.source.string() + ": " + archive_error_string(a.get()));
      if (n == 0) break;
      h.update(buf.data(), static_cast<std::size_t>(n));
      for (la_ssize_t off = 0; off < n;) {
        const ssize_t w = ::write(out.get(), buf.data() + off, static_cast<std::size_t>(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
          if (disk_full(errno))
            throw ImageError("the disk is full (" + std::string(std::strerror(errno)) + ") while extracting " + name + " of image " + image.source.string() + " into " + work.string());
          throw ImageError("cannot write " + b.file.string() + ": " + std::string(std::strerror(errno)));
        }
        off += w;
      }
      b.size += static_cast<std::uint64_t>(n);
      done += static_cast<std::uint64_t>(n);
      if (progress && done - shown >= (4u << 20)) {
        shown = done;
        progress({0, image.layers.size(), done, total, "extracting"});
      }
    }
    b.sha256 = h.hex();
    got[name] = std::move(b);
  }
  for (const auto& w : wanted)
    if (!got.count(w)) throw ImageError("image " + image.source.string() + ": " + w + " is missing from the archive");
  return got;
}

// For an overlay diff (the archive `diff_tar`) about to be applied onto `rootfs`: for each of its
// directories that `rootfs` holds too (reached without a symlink), up to `per_directory` entries of
// rootfs's there that the archive neither has nor whites out ("dir/name"). Such an entry still
// shows in the container's root unless overlayfs marked the directory opaque: asking the guest
// about them tells which (Container::copy_writes_to; all of a directory's gone: opaque, so an
// entry someone else put in rootfs since does not count alone). Checks the archive as
// apply_overlay_diff does (ImageError).
inline std::vector<std::string> overlay_diff_probes(const std::filesystem::path& diff_tar, const std::filesystem::path& rootfs,
                                                   std::string_view name_for_errors, std::size_t per_directory = 16) {
  const std::string layer(name_for_errors);
  vm::Fd fd = open_blob(diff_tar, layer);
  vm::Fd root = open_root(rootfs);
  const LayerPlan plan = scan_layer(fd.get(), layer, LayerFormat::overlay_diff);
  const std::set<std::string> whiteouts(plan.whiteouts.begin(), plan.whiteouts.end());
  std::vector<std::string> probes;
  for (const auto& [path, kind] : plan.entries) {
    if (kind != Kind::dir) continue;
    vm::Fd d = open_dir_beneath(root.get(), path);
    if (d.get() < 0) continue;  // new, not a directory, or behind a symlink: nothing of rootfs's shows there
    DIR* ds = ::fdopendir(::fcntl(d.get(), F_DUPFD_CLOEXEC, 0));
    if (!ds) continue;
    std::size_t taken = 0;
    while (struct dirent* de = ::readdir(ds)) {
      const std::string n = de->d_name;
      if (n == "." || n == "..") continue;
      const std::string child = path + "/" + n;
      if (!plan.entries.count(child) && !whiteouts.count(child)) {
        probes.push_back(child);
        if (++taken == per_directory) break;
      }
    }
    ::closedir(ds);
  }
  return probes;
}

}  // namespace layers_detail

// One layer tar (plain, gzip or zstd) applied onto `rootfs`, with its whiteouts; any hostile entry
// is an ImageError naming `name_for_errors` and the entry, before anything of the layer is written.
inline void apply_layer(const std::filesystem::path& layer_tar, const std::filesystem::path& rootfs, std::string_view name_for_errors) {
  namespace d = layers_detail;
  const std::string layer(name_for_errors);
  vm::Fd fd = d::open_blob(layer_tar, layer);
  vm::Fd root = d::open_root(rootfs);
  d::ConfinedWorker worker;
  worker.run(root.get(), [&] { d::apply_open_layer(fd.get(), root.get(), layer, {}, {}); }, {});
}

// An overlayfs upper directory archived by tar (LayerFormat::overlay_diff: character devices 0/0
// are whiteouts) applied onto `rootfs` with apply_layer's steps and walls: hostile entries are an
// ImageError naming `name_for_errors` and the entry, before anything is written. `opaques`: the
// directories (relative, clean) that overlayfs marked opaque, emptied of what `rootfs` held there
// before the archive's entries are written (the archive cannot say which they are).
// `keep_out`: paths whose entries and whiteouts are not applied (the mount points the guest's init
// made for files bound into the container: what is there in rootfs stays).
inline void apply_overlay_diff(const std::filesystem::path& diff_tar, const std::filesystem::path& rootfs, std::string_view name_for_errors,
                               const std::vector<std::string>& opaques = {}, const std::vector<std::string>& keep_out = {}) {
  namespace d = layers_detail;
  const std::string layer(name_for_errors);
  vm::Fd fd = d::open_blob(diff_tar, layer);
  vm::Fd root = d::open_root(rootfs);
  d::ConfinedWorker worker;
  worker.run(
      root.get(),
      [&] {
        d::LayerPlan plan = d::scan_layer(fd.get(), layer, d::LayerFormat::overlay_diff);
        for (const auto& o : opaques) {
          const std::string dir = d::entry_path(o, layer, "opaque directory");
          if (dir.empty()) throw ImageError(layer + ": the root itself cannot be an opaque directory");
          plan.opaques.push_back(dir);
        }
        std::vector<std::string> skip = plan.whiteouts;  // overlay whiteouts are entries too: not extracted
        for (const auto& k : keep_out) {
          const std::string path = d::entry_path(k, layer, "path kept out");
          if (path.empty()) continue;
          plan.entries.erase(path);
          std::erase(plan.whiteouts, path);
          skip.push_back(path);
        }
        d::check_no_symlink_on_the_way(plan, root.get(), layer);
        d::apply_removals(plan, root.get(), layer);
        d::extract_layer(fd.get(), layer, {}, d::LayerFormat::overlay_diff, skip);
      },
      {});
}

// Verifies every blob of `image`, then applies its layers in order into `rootfs` (an empty
// directory). Archive blobs are extracted into `work` first (a directory the caller gives and
// removes). Throws ImageError naming the blob or entry; `rootfs` is then the caller's to discard.
inline void unpack_image(const Image& image, const std::filesystem::path& work, const std::filesystem::path& rootfs,
                         const ProgressFn& progress = {}) {
  namespace d = layers_detail;
  const std::string where = "image " + image.source.string();
  std::uint64_t total = 0;
  for (const auto& l : image.layers) total += l.size;
  const std::size_t n = image.layers.size();
  auto report = [&](std::size_t layer, std::uint64_t bytes, std::string_view what) {
    if (progress) progress({layer, n, bytes, total, what});
  };
  vm::Fd root = d::open_root(rootfs);

  // 1. locate (and for archives extract) the blobs; hashes of the layers' blobs
  std::vector<std::filesystem::path> layer_files(n);
  std::vector<std::pair<std::string, std::uint64_t>> layer_hashes(n);
  std::string manifest_text, config_text;
  if (image.format == ImageFormat::oci_layout) {
    const image_detail::Store store = image_detail::Store::directory(image.source);
    manifest_text = store.read("blobs/sha256/" + std::string(digest_hex(image.manifest_digest)), image_detail::max_json_blob, "manifest");
    config_text = store.read(image.config_path, image_detail::max_json_blob, "config");
    std::uint64_t done = 0;
    for (std::size_t i = 0; i < n; ++i) {
      report(i + 1, done, "verifying");
      layer_files[i] = image.source / image.layers[i].path;
      d::open_blob(layer_files[i], d::layer_name(image, i));  // a FIFO or directory is refused, not hung on
      std::uint64_t size = 0;
      layer_hashes[i].first = sha256_file(layer_files[i], &size);
      layer_hashes[i].second = size;
      done += size;
    }
    report(n, done, "verifying");
  } else {
    const std::string manifest_member =
        image.format == ImageFormat::docker_archive ? std::string("manifest.json") : "blobs/sha256/" + std::string(digest_hex(image.manifest_digest));
    std::set<std::string> wanted{manifest_member, image.config_path};
    for (const auto& l : image.layers) wanted.insert(l.path);
    auto got = d::extract_members(image, wanted, work, progress, total);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& b = got.at(image.layers[i].path);
      layer_files[i] = b.file;
      layer_hashes[i] = {b.sha256, b.size};
    }
    manifest_text = image_detail::Store::directory(work).read(got.at(manifest_member).file.filename().string(), image_detail::max_json_blob, "manifest");
    config_text = image_detail::Store::directory(work).read(got.at(image.config_path).file.filename().string(), image_detail::max_json_blob, "config");
  }

  // 2. verify every blob before anything is applied
  if (image.format == ImageFormat::docker_archive) {
    const auto entries = image_detail::parse_json(manifest_text, where + ": manifest.json");
    bool found = false;
    if (entries.is_array())
      for (const auto& entry : entries) found = found || sha256_digest(sha256_hex(entry.dump())) == image.manifest_digest;
    if (!found) throw ImageError(where + ": manifest.json no longer has the entry read before (" + image.manifest_digest + "): the image changed");
  } else {
    if (sha256_hex(manifest_text) != digest_hex(image.manifest_digest) || manifest_text.size() != image.manifest_size)
      throw ImageError(where + ": the manifest does not match its digest " + image.manifest_digest + " and size " + std::to_string(image.manifest_size));
  }
  if (sha256_hex(config_text) != digest_hex(image.config_digest) || config_text.size() != image.config_size)
    throw ImageError(where + ": the config does not match its digest " + image.config_digest);
  for (std::size_t i = 0; i < n; ++i) {
    const Layer& l = image.layers[i];
    if (layer_hashes[i].second != l.size)
      throw ImageError(d::layer_name(image, i) + " has " + std::to_string(layer_hashes[i].second) + " bytes, its descriptor says " +
                       std::to_string(l.size) + ": nothing was applied");
    if (layer_hashes[i].first != digest_hex(l.digest))
      throw ImageError(d::layer_name(image, i) + " does not match its digest (its sha256 is " + layer_hashes[i].first + "): nothing was applied");
  }

  // 3. apply the layers in order, on the confined thread
  std::vector<vm::Fd> fds;
  for (std::size_t i = 0; i < n; ++i) fds.push_back(d::open_blob(layer_files[i], d::layer_name(image, i)));
  d::ConfinedWorker worker;
  worker.run(
      root.get(),
      [&] {
        std::uint64_t before = 0, shown = 0;
        for (std::size_t i = 0; i < n; ++i) {
          worker.post({i + 1, n, before, total, "applying"});
          d::apply_open_layer(fds[i].get(), root.get(), d::layer_name(image, i), image.layers[i].diff_id, [&](std::uint64_t bytes) {
            if (before + bytes - shown >= (4u << 20)) {
              shown = before + bytes;
              worker.post({i + 1, n, shown, total, "applying"});
            }
          });
          before += image.layers[i].size;
        }
        worker.post({n, n, before, total, "applying"});
      },
      progress);
}

}  // namespace crumble::container
