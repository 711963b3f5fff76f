// crumble/vm/snapshot_cache.hpp — snapshots kept by what made the guest, reused while valid.
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

#include <chrono>
#include <optional>
#include <string_view>

#include "bare.hpp"
#include "kernel.hpp"
#include "snapshot.hpp"

namespace crumble::vm {

class SnapshotCache {
 public:
  explicit SnapshotCache(std::filesystem::path dir = cache_dir() / "snapshots") : dir_(std::move(dir)) {}

  // A 128-bit key (hex) over the parts, each length-prefixed so ("ab","c") != ("a","bc").
  static std::string key(std::initializer_list<std::string_view> parts) {
    std::uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
    for (std::string_view p : parts) {
      const std::uint64_t n = p.size();
      a = snapshot::fnv1a(reinterpret_cast<const std::uint8_t*>(&n), 8, a);
      b = snapshot::fnv1a(reinterpret_cast<const std::uint8_t*>(&n), 8, b ^ 0x5bd1e995);
      a = snapshot::fnv1a(reinterpret_cast<const std::uint8_t*>(p.data()), p.size(), a);
      b = snapshot::fnv1a(reinterpret_cast<const std::uint8_t*>(p.data()), p.size(), b);
    }
    char s[33];
    std::snprintf(s, sizeof s, "%016llx%016llx", static_cast<unsigned long long>(a), static_cast<unsigned long long>(b));
    return s;
  }

  std::filesystem::path path(const std::string& key) const { return dir_ / key; }

  // Exists, newer than `reference` (e.g. the kernel file's time), and reads back intact.
  bool is_valid(const std::string& key, std::optional<std::filesystem::file_time_type> reference = {}) const {
    std::error_code ec;
    const auto p = path(key);
    const auto t = std::filesystem::last_write_time(p, ec);
    if (ec) return false;
    if (reference && t <= *reference) return false;
    try {
      snapshot::Loaded l = snapshot::read(p);
      ::close(l.memory_fd);
      return true;
    } catch (const SnapshotError&) {
      return false;
    }
  }

  // Where to save a snapshot for `key` (the directory exists afterwards).
  std::filesystem::path prepare(const std::string& key) const {
    std::filesystem::create_directories(dir_);
    return path(key);
  }

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
  std::size_t clear() const {
    std::size_t n = 0;
    for (const Entry& e : list()) remove(e.key), ++n;
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
  if (std::filesystem::exists(cache.path(key))) {
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
  vm->save(cache.prepare(key));
  return vm;
}

}  // namespace crumble::vm
