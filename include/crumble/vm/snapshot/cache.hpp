// SPDX-License-Identifier: Apache-2.0
// crumble/vm/snapshot/cache.hpp — snapshots kept by what made the guest, reused while valid.
//
// The spec's cache (GetSnapshotPath, IsValid, SaveSnapshot, LoadSnapshot): a snapshot lives at
// <dir>/<key>, the key a hash of everything that determines the guest (engine, architecture,
// memory, vCPUs, kernel, init bytes, command line, initramfs, devices: the caller lists them).
// It is valid when it exists, is newer than a reference time (the kernel file's, as the spec
// says) and reads back intact (snapshot::read checks magic, length, checksum, version,
// architecture, host). The cache only keeps files: what to do with them — restore, or boot cold
// and save, deleting a snapshot that cannot be used — is restore_or_boot.hpp's one rule.
//
//   SnapshotCache cache;                                      // ~/.cache/crumble/snapshots
//   auto key = SnapshotCache::key({"bare", program_bytes, ...});
//   auto vm = bare_from_cache(cache, key, img, opt);          // engine/kvm/bare.hpp
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "../host/cache_dir.hpp"
#include "content_hash.hpp"
#include "format.hpp"

namespace crumble::vm {

class SnapshotCache {
 public:
  explicit SnapshotCache(std::filesystem::path dir = cache_dir() / "snapshots") : dir_(std::move(dir)) {}

  // A 128-bit key (hex) over the parts, each length-prefixed so ("ab","c") != ("a","bc").
  static std::string key(std::initializer_list<std::string_view> parts) {
    ContentHash h;
    for (std::string_view p : parts) h.add(p);
    return h.hex();
  }

  // Whether a snapshot for `key` exists and is newer than `reference` (the spec's rule: a
  // snapshot older than the kernel file is stale). Cheap: does not read the snapshot.
  bool fresh(const std::string& key, std::optional<std::filesystem::file_time_type> reference = {}) const {
    std::error_code ec;
    const auto t = std::filesystem::last_write_time(path(key), ec);
    return !ec && (!reference || t > *reference);
  }

  std::filesystem::path path(const std::string& key) const { return dir_ / key; }

  // Exists, newer than `reference` (e.g. the kernel file's time), and reads back intact for
  // `fingerprint` (the engine's: snapshot::host_fingerprint() for KVM, QemuMachine::fingerprint).
  bool is_valid(const std::string& key, const std::string& fingerprint,
                std::optional<std::filesystem::file_time_type> reference = {}) const {
    if (!fresh(key, reference)) return false;
    try {
      snapshot::Loaded l = snapshot::read(path(key), fingerprint);
      ::close(l.memory_fd);
      return true;
    } catch (const SnapshotError&) {
      return false;
    }
  }

  // Where to save a snapshot for `key` (the directory exists afterwards); SnapshotError when the
  // directory cannot be made.
  std::filesystem::path prepare(const std::string& key) const {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) throw SnapshotError("cannot create the snapshot directory " + dir_.string() + ": " + ec.message());
    return path(key);
  }

  // Held while a snapshot for `key` is saved (flock on KEY.lock): of two processes that booted
  // the same guest cold, one saves, the other finds its snapshot there and does not save again.
  // The lock file is opened without following a symlink (one planted in the cache would have us
  // create or lock a file elsewhere), and the wait has a deadline: a process that hangs holding
  // the lock costs the others their snapshot save (SnapshotError, which restore_or_boot turns into
  // a cold boot without saving), never their run.
  class Lock {
   public:
    explicit Lock(const std::filesystem::path& file, std::chrono::milliseconds wait = default_lock_wait)
        : fd_(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600)) {
      if (fd_ < 0) {
        const int e = errno;
        throw SnapshotError("cannot open the lock file " + file.string() + ": " +
                            (e == ELOOP ? std::string("it is a symbolic link (refused)") : std::strerror(e)));
      }
      struct stat st {};
      if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd_);
        throw SnapshotError("the lock file " + file.string() + " is not a regular file");
      }
      const auto deadline = std::chrono::steady_clock::now() + wait;
      while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        if (e == EINTR) continue;
        if (e != EWOULDBLOCK || std::chrono::steady_clock::now() >= deadline) {
          ::close(fd_);
          throw SnapshotError(e == EWOULDBLOCK ? "gave up waiting for the lock " + file.string() + " after " + std::to_string(wait.count()) +
                                                     " ms: another process holds it"
                                               : "cannot lock " + file.string() + ": " + std::strerror(e));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;
    ~Lock() { ::close(fd_); }

   private:
    int fd_;
  };
  // Longer than any save takes (a few seconds for a 3 GiB guest's memory file).
  static constexpr std::chrono::milliseconds default_lock_wait{60000};
  Lock lock(const std::string& key) const { return Lock(prepare(key).string() + ".lock", lock_wait_); }
  // How long lock() waits for another process's save (tests make it short).
  void set_lock_wait(std::chrono::milliseconds wait) { lock_wait_ = wait; }

  // Removes a snapshot: its state, its memory and its side files (KEY.<kind>, label()), not
  // its lock file, which another process may hold.
  void remove(const std::string& key) const {
    std::error_code ec;
    std::filesystem::remove(path(key), ec);
    std::filesystem::remove(snapshot::memory_path(path(key)), ec);
    std::vector<std::filesystem::path> sides;
    for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
      const std::string name = e.path().filename().string();
      if (!name.starts_with(key + ".")) continue;
      const std::string kind = name.substr(key.size() + 1);
      if (!kind.empty() && kind != "lock" && kind.find_first_not_of("abcdefghijklmnopqrstuvwxyz") == std::string::npos) sides.push_back(e.path());
    }
    for (const auto& f : sides) std::filesystem::remove(f, ec);
  }

  // Every snapshot in the cache: key, bytes on disk (state + allocated memory blocks), time.
  struct Entry {
    std::string key;
    std::uint64_t bytes;
    std::filesystem::file_time_type time;
  };
  std::vector<Entry> list() const {
    std::vector<Entry> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
      const std::string name = e.path().filename().string();
      if (name.size() != 32 || name.find('.') != std::string::npos) continue;
      struct stat st {};
      std::uint64_t bytes = e.file_size(ec);
      if (::stat(snapshot::memory_path(e.path()).c_str(), &st) == 0) bytes += static_cast<std::uint64_t>(st.st_blocks) * 512;
      out.push_back({name, bytes, e.last_write_time(ec)});
    }
    return out;
  }
  // Removes what saves of `key` that never finished left (KEY.tmp.*, KEY.mem.tmp.*: a process
  // killed while saving). Call it holding lock(key): every save of a key holds its lock, so a
  // temporary file of the key found then is no running save's.
  void remove_interrupted_saves(const std::string& key) const {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
      const std::string name = e.path().filename().string();
      if (name.starts_with(key + ".tmp.") || name.starts_with(key + ".mem.tmp.")) files.push_back(e.path());
    }
    for (const auto& f : files) std::filesystem::remove(f, ec);
  }

  // Snapshots of a kind the cache keeps a bounded number of (container snapshots: one per root
  // and options) carry a side file KEY.<kind> saying what they are of, whose time is their last
  // use. label() writes it (after a save), used() stamps it (after a restore), keep_recent()
  // removes all but the `n` most recently used of the kind and says how many it removed.
  void label(const std::string& key, const std::string& kind, std::string_view text) const {
    const std::filesystem::path side = path(key).string() + "." + kind;
    const int fd = ::open(side.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return;  // only eviction order is lost
    const ssize_t ignored = ::write(fd, text.data(), text.size());
    (void)ignored;
    ::close(fd);
  }
  void used(const std::string& key, const std::string& kind) const {
    ::utimensat(AT_FDCWD, (path(key).string() + "." + kind).c_str(), nullptr, AT_SYMLINK_NOFOLLOW);
  }
  std::size_t keep_recent(const std::string& kind, std::size_t n) const {
    std::vector<std::pair<std::filesystem::file_time_type, std::string>> of_kind;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
      const std::string name = e.path().filename().string();
      if (name.size() == 33 + kind.size() && name.ends_with("." + kind) && name.find_first_not_of("0123456789abcdef") == 32)
        of_kind.emplace_back(e.last_write_time(ec), name.substr(0, 32));
    }
    if (of_kind.size() <= n) return 0;
    std::sort(of_kind.begin(), of_kind.end(), std::greater<>());
    for (std::size_t i = n; i < of_kind.size(); ++i) {
      remove(of_kind[i].second);
      std::filesystem::remove(path(of_kind[i].second).string() + "." + kind, ec);
    }
    return of_kind.size() - n;
  }

  // Removes every snapshot, with what interrupted saves left (KEY.tmp.*, KEY.mem.tmp.*) and the
  // lock files; how many snapshots there were.
  std::size_t clear() const {
    const std::size_t n = list().size();
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
      const std::string name = e.path().filename().string();
      if (name.size() >= 32 && name.find_first_not_of("0123456789abcdef") >= 32 && (name.size() == 32 || name[32] == '.'))
        files.push_back(e.path());
    }
    for (const auto& f : files) std::filesystem::remove(f, ec);
    return n;
  }

  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::chrono::milliseconds lock_wait_ = default_lock_wait;
};

}  // namespace crumble::vm
