// SPDX-License-Identifier: Apache-2.0
// crumble/vm/snapshot/cache.hpp — snapshots kept by what made the guest, reused while valid.
//
// The spec's cache (GetSnapshotPath, IsValid, SaveSnapshot, LoadSnapshot): a snapshot lives at
// <dir>/<key>, the key a hash of everything that determines the guest (engine, architecture,
// memory, vCPUs, kernel, init bytes, command line, initramfs, devices: the caller lists them).
// It is valid when it exists, is newer than a reference time (the kernel file's, as the spec
// says) and reads back intact (snapshot::read checks magic, length, checksum, version,
// architecture, host). An invalid or corrupt snapshot is deleted, so the caller boots cold and
// saves a fresh one: a user gets a working VM, never an error, unless they ask for strict mode.
//
//   SnapshotCache cache;                                      // ~/.cache/crumble/snapshots
//   auto key = SnapshotCache::key({"bare", program_bytes, ...});
//   auto vm = bare_from_cache(cache, key, img, opt);          // restore, or run to the pause and save
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <chrono>
#include <optional>
#include <string_view>

#include "../engine/kvm/bare.hpp"
#include "../guest/kernel.hpp"
#include "format.hpp"

namespace crumble::vm {

// A fast 128-bit hash for cache keys: four independent 64-bit lanes over 32-byte blocks. Not
// cryptographic — it keys a cache of the user's own inputs — but every byte counts, and a kernel
// of 14 MB hashes in a few milliseconds (FNV-1a, byte by byte, takes about 25).
class ContentHash {
 public:
  void add(std::string_view bytes) {
    begin(bytes.size());
    const char* p = bytes.data();
    std::size_t left = bytes.size();
    for (; left >= 32; p += 32, left -= 32) block(p);
    end(p, left);
  }
  void add(std::span<const std::uint8_t> bytes) { add(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())); }
  // A whole file's contents, the same as add() of them, read in large chunks (a 14 MB kernel:
  // ~5 ms; through an istream iterator it took ~50). Throws ConfigError when it cannot be read.
  void add_file(const std::filesystem::path& file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0) {
      if (fd >= 0) ::close(fd);
      throw ConfigError("cannot read " + file.string() + ": " + std::strerror(errno));
    }
    begin(static_cast<std::uint64_t>(st.st_size));
    std::vector<char> buf(1 << 20);
    std::size_t have = 0;  // bytes in buf not hashed yet (fewer than 32 after each pass)
    std::uint64_t total = 0;
    while (true) {
      const ssize_t n = ::read(fd, buf.data() + have, buf.size() - have);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        ::close(fd);
        throw ConfigError("cannot read " + file.string() + ": " + std::strerror(errno));
      }
      if (n == 0) break;
      have += static_cast<std::size_t>(n);
      total += static_cast<std::uint64_t>(n);
      std::size_t at = 0;
      for (; have - at >= 32; at += 32) block(buf.data() + at);
      std::memmove(buf.data(), buf.data() + at, have - at);
      have -= at;
    }
    ::close(fd);
    if (total != static_cast<std::uint64_t>(st.st_size)) throw ConfigError(file.string() + " changed while it was read");
    end(buf.data(), have);
  }
  std::string hex() const {
    const std::uint64_t x = fold(lane_[0], lane_[1]), y = fold(lane_[2], lane_[3]) ^ x;
    char s[33];
    std::snprintf(s, sizeof s, "%016llx%016llx", static_cast<unsigned long long>(x), static_cast<unsigned long long>(y));
    return s;
  }

 private:
  static std::uint64_t word(const char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  static std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
    h ^= v * 0x9e3779b97f4a7c15ull;
    return std::rotl(h, 29) * 0xbf58476d1ce4e5b9ull;
  }
  static std::uint64_t fold(std::uint64_t a, std::uint64_t b) {
    std::uint64_t h = a ^ std::rotl(b, 32);
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    return h ^ (h >> 31);
  }
  void begin(std::uint64_t n) { block(n, n ^ 0x5bd1e995, 0, 0); }  // the length first: parts are self-delimiting
  void block(const char* p) { block(word(p), word(p + 8), word(p + 16), word(p + 24)); }
  void end(const char* p, std::size_t left) {
    char tail[32] = {};
    std::memcpy(tail, p, left);
    block(tail);
  }
  void block(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t d) {
    lane_[0] = mix(lane_[0], a), lane_[1] = mix(lane_[1], b), lane_[2] = mix(lane_[2], c), lane_[3] = mix(lane_[3], d);
  }
  std::uint64_t lane_[4] = {0x243f6a8885a308d3ull, 0x13198a2e03707344ull, 0xa4093822299f31d0ull, 0x082efa98ec4e6c89ull};
};

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
  // `fingerprint` (the engine's: snapshot::host_fingerprint() for KVM).
  bool is_valid(const std::string& key, std::optional<std::filesystem::file_time_type> reference = {},
                const std::optional<std::string>& fingerprint = {}) const {
    if (!fresh(key, reference)) return false;
    try {
      snapshot::Loaded l = fingerprint ? snapshot::read(path(key), *fingerprint) : snapshot::read(path(key));
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
  class Lock {
   public:
    explicit Lock(const std::filesystem::path& file) : fd_(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
      if (fd_ < 0) throw SnapshotError("cannot open " + file.string() + ": " + std::strerror(errno));
      while (::flock(fd_, LOCK_EX) != 0)
        if (errno != EINTR) {
          ::close(fd_);
          throw SnapshotError("cannot lock " + file.string() + ": " + std::strerror(errno));
        }
    }
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;
    ~Lock() { ::close(fd_); }

   private:
    int fd_;
  };
  Lock lock(const std::string& key) const { return Lock(prepare(key).string() + ".lock"); }

  void remove(const std::string& key) const {
    std::error_code ec;
    std::filesystem::remove(path(key), ec);
    std::filesystem::remove(snapshot::memory_path(path(key)), ec);
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
};

// A bare VM through the cache: the program runs cold until its first pause (its "boot": setup
// done, e.g. an init after phase 6) and is saved there; later calls restore from that point.
// A snapshot that fails to restore is deleted and the VM boots cold again, unless `strict`.
// `restored` says which happened.
inline std::unique_ptr<BareVm> bare_from_cache(const SnapshotCache& cache, const std::string& key, const code::Image& img,
                                               const BareOptions& opt, bool strict = false, bool* restored = nullptr) {
  if (!opt.pause_syscall) throw ConfigError("a cached bare VM needs BareOptions::pause_syscall: the point to snapshot at");
  if (restored) *restored = false;
  std::error_code ec;
  if (std::filesystem::exists(cache.path(key), ec)) {
    try {
      auto vm = BareVm::restore(cache.path(key), opt);
      if (restored) *restored = true;
      return vm;
    } catch (const SnapshotError&) {
      if (strict) throw;
      cache.remove(key);  // corrupt or from elsewhere: boot cold and save a good one
    }
  }
  auto vm = std::make_unique<BareVm>(img, opt);
  if (vm->run()) return vm;  // finished before pausing: nothing worth saving
  try {
    auto held = cache.lock(key);
    if (!cache.is_valid(key)) vm->save(cache.path(key));
  } catch (const SnapshotError&) {
    if (strict) throw;  // otherwise the VM runs on without a snapshot
  }
  return vm;
}

}  // namespace crumble::vm
