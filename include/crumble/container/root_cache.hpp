// SPDX-License-Identifier: Apache-2.0
// crumble/container/root_cache.hpp — containers' root images (root_image.hpp) kept by content, so the
// second run of an image or a directory builds nothing; what `crumble image list/rm/prune` shows and
// removes.
//
// On disk, under cache_dir()/roots (like the snapshot cache, snapshot/cache.hpp):
//   KEY/root.erofs        the image the guest gets as its read-only root (mode 0444: no run changes it)
//   KEY/info.json         {"key", "source", "image_bytes"}: what `crumble image list` shows
//   KEY/kept/etc/passwd   files of the root kept beside the image (user lookup on the host: users.hpp)
//   KEY.lock              the entry's lock file (flock)
//   KEY.tmp.PID.N/        a build or removal in progress, or what one that was killed left
// KEY is lowercase hex: for an image, a SHA-256 over its layer digests (the caller's); for a
// directory, directory_key().
//
// The locking rule, one flock on KEY.lock:
//   - a run holds it shared for as long as it uses the entry (RootLease): removals skip the entry;
//   - a build holds it exclusive: one build per key at a time; the others wait (with a deadline)
//     and then use what it built. A build works in KEY.tmp.* and renames it to KEY last, so a
//     build that fails or is killed leaves no entry, only a temporary that the next build of the
//     key (or a prune) removes while holding the lock — no running build's then;
//   - a removal takes it exclusive without waiting (in use: skipped, reported), renames the entry
//     away (nobody sees half of one), deletes it, and unlinks the lock file while still holding it.
//     Whoever then gets a lock on the unlinked file sees that it is no longer the one at KEY.lock
//     (another inode) and opens it again, so two processes never hold "the" lock on two files.
//
//   RootCache cache;                                    // ~/.cache/crumble/roots
//   RootLease root = cache.acquire(key, "alpine.tar", [&](const fs::path& d) { unpack(image, d); });
//   attach(root.image());                               // the VM's virtio-blk drive, read-only
#pragma once

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "../vm/host/cache_dir.hpp"
#include "../vm/host/fd.hpp"
#include "errors.hpp"
#include "root_image.hpp"

namespace crumble::container {

// One entry, as `crumble image list` shows it.
struct RootInfo {
  std::string key;     // the cache key (image: sha256 over layer digests; directory: directory_key)
  std::string source;  // where it came from (image path or directory), as given
  std::uint64_t bytes = 0;  // on disk: the erofs image and what is kept beside it
  std::filesystem::file_time_type last_used;
};

// What a build is doing, for progress output (RootCache::on_build). `elapsed` counts from the
// acquire's start while waiting, then from the build's start: at `done` it is the build's time.
struct RootBuildProgress {
  enum class Step {
    waiting,         // another process is building this key (or removing it): this one waits
    filling,         // fill() runs: an image is unpacked
    building_image,  // mkfs.erofs runs
    done,            // the entry is in the cache; image_bytes is its size
  };
  Step step;
  std::string_view key, source;
  std::uint64_t image_bytes = 0;
  std::chrono::duration<double> elapsed{};
};

class RootCache;

// A root in use by a run: holds the entry's lock shared, so `crumble image rm/prune` skip it.
// Movable, not copyable; the lock goes with the lease.
class RootLease {
 public:
  RootLease(RootLease&&) noexcept = default;
  RootLease& operator=(RootLease&&) noexcept = default;
  RootLease(const RootLease&) = delete;
  RootLease& operator=(const RootLease&) = delete;

  // The erofs file (mode 0444; attach it read-only).
  const std::filesystem::path& image() const { return image_; }
  // A file kept beside the image ("etc/passwd"), or an empty path when the root had none.
  std::filesystem::path kept(std::string_view relative) const {
    const std::filesystem::path rel(relative);
    if (relative.empty() || rel.is_absolute()) return {};
    for (const auto& part : rel)
      if (part == "..") return {};
    std::filesystem::path p = entry_ / "kept" / rel;
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) ? p : std::filesystem::path{};
  }
  // True when this acquire built the image; false when it found it in the cache.
  bool built() const { return built_; }
  const std::string& key() const { return key_; }

 private:
  friend class RootCache;
  RootLease(vm::Fd lock, std::filesystem::path entry, std::string key, bool built)
      : lock_(std::move(lock)), entry_(std::move(entry)), image_(entry_ / "root.erofs"), key_(std::move(key)), built_(built) {}
  vm::Fd lock_;
  std::filesystem::path entry_, image_;
  std::string key_;
  bool built_ = false;
};

namespace root_cache_detail {

inline bool is_hex(std::string_view s) { return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string_view::npos; }
inline bool is_key(std::string_view s) { return s.size() >= 16 && s.size() <= 128 && is_hex(s); }

// Whether `fd` is still the file at `path` (a removal may have unlinked it after we opened it).
inline bool same_file(int fd, const std::filesystem::path& path) {
  struct stat a {}, b {};
  return ::fstat(fd, &a) == 0 && ::lstat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

inline vm::Fd open_lock_file(const std::filesystem::path& file) {
  // Not following a symlink: one planted in the cache would have us create or lock a file elsewhere.
  vm::Fd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600));
  if (fd.get() < 0) {
    const int e = errno;
    throw ImageError("cannot open the lock file " + file.string() + ": " +
                     (e == ELOOP ? std::string("it is a symbolic link (refused)") : std::strerror(e)));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) throw ImageError("the lock file " + file.string() + " is not a regular file");
  return fd;
}

// flock(op) on `file` (LOCK_SH or LOCK_EX), on the file that is at that path once locked. Waits
// until `deadline` (none: one try) and then throws; `blocked` is called once if it has to wait.
// Returns an empty Fd only for a single try that failed.
inline vm::Fd lock_file(const std::filesystem::path& file, int op, std::optional<std::chrono::steady_clock::time_point> deadline,
                        const std::function<void()>& blocked = {}) {
  bool told = false;
  for (;;) {
    vm::Fd fd = open_lock_file(file);
    while (::flock(fd.get(), op | LOCK_NB) != 0) {
      const int e = errno;
      if (e == EINTR) continue;
      if (e != EWOULDBLOCK) throw ImageError("cannot lock " + file.string() + ": " + std::strerror(e));
      if (!deadline) return vm::Fd();
      if (std::chrono::steady_clock::now() >= *deadline)
        throw ImageError("gave up waiting for the lock " + file.string() +
                         ": another process is building or removing this root (or hung holding it); try again, or "
                         "remove the entry with `crumble image rm`");
      if (!told && blocked) blocked(), told = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (same_file(fd.get(), file)) return fd;
    // unlinked by a removal while we waited: lock the file that is there now
  }
}

// Removes a tree of ours (a temporary build or a removed entry), making its directories writable
// first if need be: an image may unpack read-only directories, which a non-root user cannot empty.
// Symlinks are never followed (remove_all does not, and only directories are chmod'ed).
inline void remove_tree(const std::filesystem::path& p) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::remove_all(p, ec);
  if (!ec) return;
  for (fs::recursive_directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISDIR(st.st_mode)) ::chmod(it->path().c_str(), (st.st_mode & 07777) | S_IRWXU);
  }
  struct stat st {};
  if (::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) ::chmod(p.c_str(), (st.st_mode & 07777) | S_IRWXU);
  fs::remove_all(p, ec);
}

// Opens `relative` inside `root` as if `root` were "/": symbolic links (an etc/passwd pointing to
// ../usr/share/...) and ".." are resolved within the tree and can never lead out of it
// (openat2 RESOLVE_IN_ROOT; on kernels before 5.6, no symbolic link is followed at all).
// Returns an empty Fd when it is missing or not a regular file.
inline vm::Fd open_in_tree(const std::filesystem::path& root, const std::string& relative) {
  vm::Fd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root_fd.get() < 0) return {};
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;  // O_NONBLOCK: a fifo named etc/passwd does not hang us
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  vm::Fd fd(static_cast<int>(::syscall(SYS_openat2, root_fd.get(), relative.c_str(), &how, sizeof how)));
  if (fd.get() < 0 && errno == ENOSYS) {
    vm::Fd dir(::dup(root_fd.get()));
    std::filesystem::path rel(relative);
    std::vector<std::string> parts;
    for (const auto& part : rel) parts.push_back(part.string());
    for (std::size_t i = 0; i < parts.size() && dir.get() >= 0; ++i) {
      const bool last = i + 1 == parts.size();
      if (parts[i] == ".." ) return {};
      vm::Fd next(::openat(dir.get(), parts[i].c_str(),
                           O_NOFOLLOW | O_CLOEXEC | (last ? O_RDONLY | O_NONBLOCK | O_NOCTTY : O_PATH | O_DIRECTORY)));
      dir = std::move(next);
    }
    fd = std::move(dir);
  }
  struct stat st {};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
  return fd;
}

// Copies `relative` from the tree `root` to `to` (see open_in_tree); false when there is none. A
// kept file is small (passwd, group): more than 16 MiB is refused as not what it claims to be.
inline bool copy_kept(const std::filesystem::path& root, const std::string& relative, const std::filesystem::path& to) {
  vm::Fd in = open_in_tree(root, relative);
  if (in.get() < 0) return false;
  ::fcntl(in.get(), F_SETFL, 0);  // a regular file: blocking reads again
  std::string data;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(in.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw ImageError("cannot read " + relative + " in " + root.string() + ": " + std::strerror(errno));
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > (16u << 20)) throw ImageError(relative + " in " + root.string() + " is larger than 16 MiB: not kept");
  }
  std::error_code ec;
  std::filesystem::create_directories(to.parent_path(), ec);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  out << data;
  out.flush();
  if (ec || !out) throw ImageError("cannot write " + to.string() + " (is the disk full?)");
  return true;
}

inline std::uint64_t bytes_under(const std::filesystem::path& dir) {
  std::uint64_t n = 0;
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) n += static_cast<std::uint64_t>(st.st_size);
  }
  return n;
}

}  // namespace root_cache_detail

class RootCache {
 public:
  RootCache() : RootCache(vm::cache_dir() / "roots") {}
  explicit RootCache(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // The root image for `key`; when it is not in the cache, builds it: `fill(rootfs)` fills an empty
  // directory (unpacks an image), then build_erofs. `keep` names files of the filled tree to keep
  // beside the image (RootLease::kept), copied without following a symlink out of the tree; missing
  // ones are skipped. One build per key at a time: a second caller waits (up to the lock wait,
  // then ImageError) and reuses the result. A build that fails or is killed leaves no entry; what
  // fill() throws is passed on as it is.
  RootLease acquire(const std::string& key, const std::string& source,
                    const std::function<void(const std::filesystem::path& rootfs)>& fill,
                    const std::vector<std::string>& keep = {"etc/passwd", "etc/group"}) {
    if (!fill) throw ImageError("RootCache::acquire: no fill function for " + source);
    return obtain(key, source, keep, [&](const std::filesystem::path& work, Progress& progress) {
      const std::filesystem::path rootfs = work / "rootfs";
      std::error_code ec;
      std::filesystem::create_directory(rootfs, ec);
      if (ec) throw ImageError("cannot create " + rootfs.string() + ": " + ec.message());
      progress.say(RootBuildProgress::Step::filling);
      fill(rootfs);
      return rootfs;
    });
  }

  // For `--rootfs DIR`: the same, the image built straight from `dir` (no copy), keyed by
  // directory_key(dir): an unchanged directory is not built again. (Changed while its image is
  // being built, the image may hold some of the change under the old key; the next run sees a new
  // key and builds again.)
  RootLease acquire_directory(const std::filesystem::path& dir) {
    const std::string key = directory_key(dir);
    return obtain(key, dir.string(), {"etc/passwd", "etc/group"},
                  [&](const std::filesystem::path&, Progress&) { return dir; });
  }

  // Every entry in the cache (complete ones; builds in progress are not entries yet).
  std::vector<RootInfo> list() const {
    std::vector<RootInfo> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
      const std::string name = e.path().filename().string();
      if (!root_cache_detail::is_key(name) || !complete(e.path())) continue;
      RootInfo info;
      info.key = name;
      try {
        std::ifstream in(e.path() / "info.json");
        info.source = nlohmann::json::parse(in).value("source", "");
      } catch (const std::exception&) {
        info.source = "?";  // unreadable metadata; the image is still there
      }
      info.bytes = root_cache_detail::bytes_under(e.path());
      std::error_code tec;
      info.last_used = std::filesystem::last_write_time(e.path(), tec);
      if (tec) continue;  // removed meanwhile
      out.push_back(std::move(info));
    }
    return out;
  }

  // Removes the entries whose key starts with `prefix` (at least 4 hex digits, else ContainerError).
  // An entry in use (a lease held, or a build running) is not removed but reported in in_use.
  struct Removed {
    std::vector<std::string> removed, in_use;
  };
  Removed remove(const std::string& prefix) {
    if (prefix.size() < 4 || !root_cache_detail::is_hex(prefix))
      throw ContainerError("`" + prefix + "` does not name a root image: give at least 4 hex digits of its key (crumble image list)");
    return remove_where([&](const std::string& key) { return key.starts_with(prefix); });
  }
  // Removes every entry not in use, and what killed builds left.
  Removed prune() { return remove_where([](const std::string&) { return true; }); }

  const std::filesystem::path& dir() const { return dir_; }

  // Told when a build starts and as it goes (for progress output); also when this process has to
  // wait for another's build.
  void on_build(std::function<void(const RootBuildProgress&)> tell) { on_build_ = std::move(tell); }
  // How long acquire waits for another process's build of the same key before ImageError.
  static constexpr std::chrono::milliseconds default_lock_wait{std::chrono::minutes(20)};
  void set_lock_wait(std::chrono::milliseconds wait) { lock_wait_ = wait; }

 private:
  std::filesystem::path entry(const std::string& key) const { return dir_ / key; }
  std::filesystem::path lock_path(const std::string& key) const { return dir_ / (key + ".lock"); }
  static bool complete(const std::filesystem::path& entry) {
    struct stat a {}, b {};
    return ::lstat((entry / "root.erofs").c_str(), &a) == 0 && S_ISREG(a.st_mode) && ::lstat((entry / "info.json").c_str(), &b) == 0 &&
           S_ISREG(b.st_mode);
  }
  // One acquire's progress, told to on_build (if set).
  struct Progress {
    RootBuildProgress now;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    const std::function<void(const RootBuildProgress&)>& tell;
    void say(RootBuildProgress::Step step) {
      now.step = step;
      now.elapsed = std::chrono::steady_clock::now() - start;
      if (tell) tell(now);
    }
  };

  // A fresh temporary name for `key` (KEY.tmp.PID.N): unique across processes and threads.
  std::filesystem::path temporary(const std::string& key) const {
    static std::atomic<unsigned> counter{0};
    return dir_ / (key + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++));
  }
  // Removes what builds and removals of `key` that never finished left. Call it holding the key's
  // lock exclusive: every build and removal holds it, so a temporary found then is nobody's.
  void remove_temporaries(const std::string& key) const {
    std::vector<std::filesystem::path> found;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_, ec))
      if (e.path().filename().string().starts_with(key + ".tmp.")) found.push_back(e.path());
    for (const auto& p : found) root_cache_detail::remove_tree(p);
  }

  // The one way to an entry: use it if it is there, else build it with `tree` (which returns the
  // directory to build the image of, made inside the build's work directory or not).
  template <typename Tree>
  RootLease obtain(const std::string& key, const std::string& source, const std::vector<std::string>& keep, Tree&& tree) {
    namespace fs = std::filesystem;
    if (!root_cache_detail::is_key(key)) throw ImageError("`" + key + "` is not a root cache key (16 to 128 lowercase hex digits)");
    for (const std::string& k : keep) {
      const fs::path p(k);
      bool bad = k.empty() || p.is_absolute();
      for (const auto& part : p) bad = bad || part == "..";
      if (bad) throw ImageError("cannot keep `" + k + "` of a root: not a relative path inside it");
    }
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw ImageError("cannot create the root image cache " + dir_.string() + ": " + ec.message());

    Progress progress{{RootBuildProgress::Step::waiting, key, source}, std::chrono::steady_clock::now(), on_build_};
    const auto deadline = std::chrono::steady_clock::now() + lock_wait_;
    auto waiting = [&] { progress.say(RootBuildProgress::Step::waiting); };
    for (;;) {
      // In the cache: use it, holding the lock shared (waits while a build or removal holds it).
      {
        vm::Fd shared = root_cache_detail::lock_file(lock_path(key), LOCK_SH, deadline, waiting);
        if (complete(entry(key))) return lease(std::move(shared), key, false);
      }
      // Not there: build it, holding the lock exclusive; another process may have built it while
      // this one waited.
      vm::Fd exclusive = root_cache_detail::lock_file(lock_path(key), LOCK_EX, deadline, waiting);
      bool built = false;
      if (!complete(entry(key))) {
        build(key, source, keep, tree, progress);
        built = true;
      }
      // Down to shared for the lease. Linux drops the lock before taking the new one, so a removal
      // may slip in between: then the entry or the lock file is gone, and this starts over.
      while (::flock(exclusive.get(), LOCK_SH) != 0)
        if (errno != EINTR) throw ImageError("cannot lock " + lock_path(key).string() + ": " + std::strerror(errno));
      if (root_cache_detail::same_file(exclusive.get(), lock_path(key)) && complete(entry(key)))
        return lease(std::move(exclusive), key, built);
    }
  }

  template <typename Tree>
  void build(const std::string& key, const std::string& source, const std::vector<std::string>& keep, Tree& tree,
             Progress& progress) const {
    namespace fs = std::filesystem;
    remove_temporaries(key);
    std::error_code ec;
    if (fs::exists(entry(key), ec)) {  // incomplete (its image deleted by hand?): replaced
      const fs::path away = temporary(key);
      fs::rename(entry(key), away, ec);
      root_cache_detail::remove_tree(away);
    }
    const fs::path work = temporary(key);
    if (::mkdir(work.c_str(), 0700) != 0) throw ImageError("cannot create " + work.string() + ": " + std::strerror(errno));
    progress.start = std::chrono::steady_clock::now();  // the build's time, not the wait before it
    try {
      const fs::path rootfs = tree(work, progress);
      progress.say(RootBuildProgress::Step::building_image);
      const fs::path image = work / "root.erofs";
      progress.now.image_bytes = build_erofs(rootfs, image);
      for (const std::string& k : keep) root_cache_detail::copy_kept(rootfs, k, work / "kept" / k);
      if (rootfs.parent_path() == work) root_cache_detail::remove_tree(rootfs);
      {
        std::ofstream info(work / "info.json", std::ios::trunc);
        info << nlohmann::json{{"key", key}, {"source", source}, {"image_bytes", progress.now.image_bytes}}.dump(2) << '\n';
        info.flush();
        if (!info) throw ImageError("cannot write " + (work / "info.json").string() + " (is the disk full?)");
      }
      if (::chmod(image.c_str(), 0444) != 0 || ::chmod(work.c_str(), 0755) != 0)
        throw ImageError("cannot make " + image.string() + " read-only: " + std::strerror(errno));
      if (::rename(work.c_str(), entry(key).c_str()) != 0)
        throw ImageError("cannot move the built root " + work.string() + " to " + entry(key).string() + ": " + std::strerror(errno));
    } catch (...) {
      root_cache_detail::remove_tree(work);
      throw;
    }
    progress.say(RootBuildProgress::Step::done);
  }

  RootLease lease(vm::Fd lock, const std::string& key, bool built) const {
    ::utimensat(AT_FDCWD, entry(key).c_str(), nullptr, 0);  // last use: the entry directory's time
    return RootLease(std::move(lock), entry(key), key, built);
  }

  // Removes every entry whose key `match`es and that nobody holds; cleans what killed builds left.
  template <typename Match>
  Removed remove_where(Match&& match) {
    Removed r;
    std::vector<std::string> keys;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
      std::string name = e.path().filename().string();
      const auto dot = name.find('.');
      std::string key = name.substr(0, dot);
      if (!root_cache_detail::is_key(key) || !match(key)) continue;
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(std::move(key));
    }
    std::sort(keys.begin(), keys.end());
    for (const std::string& key : keys) {
      const bool was_entry = complete(entry(key));
      vm::Fd exclusive = root_cache_detail::lock_file(lock_path(key), LOCK_EX, std::nullopt);
      if (exclusive.get() < 0) {
        if (was_entry) r.in_use.push_back(key);
        continue;
      }
      remove_temporaries(key);
      if (std::filesystem::exists(entry(key), ec)) {
        const std::filesystem::path away = temporary(key);
        if (::rename(entry(key).c_str(), away.c_str()) != 0)
          throw ImageError("cannot remove the root image " + entry(key).string() + ": " + std::strerror(errno));
        root_cache_detail::remove_tree(away);
        if (was_entry) r.removed.push_back(key);
      }
      ::unlink(lock_path(key).c_str());  // still held: see the locking rule at the top
    }
    return r;
  }

  std::filesystem::path dir_;
  std::chrono::milliseconds lock_wait_ = default_lock_wait;
  std::function<void(const RootBuildProgress&)> on_build_;
};

}  // namespace crumble::container
