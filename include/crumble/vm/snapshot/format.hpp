// SPDX-License-Identifier: Apache-2.0
// crumble/vm/snapshot/format.hpp — the snapshot file format: a guest saved to disk, read back intact.
//
// A snapshot is two files:
//
//   NAME        the state: magic "CRUMBSNP", the file's length, format version, architecture, a
//               host fingerprint, then tagged sections (vCPU state, VM state, engine state), then
//               a 64-bit FNV-1a checksum over everything before it. Written to NAME.tmp, fsync'ed,
//               renamed: never half.
//   NAME.mem    guest RAM, page-aligned and sparse (zero pages are holes), mapped MAP_PRIVATE on
//               restore so pages load lazily and writes stay private to each restored VM; then
//               one trailer page with a random token the state file also holds, so a state file
//               never goes with another save's memory (the two are renamed one after the other).
//
// A file from another architecture, an unknown version, a fingerprint that is not the reader's, a
// bad checksum or a truncated file (state or memory) is refused with SnapshotError saying which;
// so is anything a hostile cache directory could hold: a FIFO, device or symlink at either path
// (host/input_file.hpp), a state file over max_state_bytes (checked with fstat and its header
// before it is read), and a memory size that is not whole pages up to max_memory_bytes (the
// checksum proves only that the file was not damaged by accident).
// The format knows nothing of what the sections hold, nor of KVM: each engine fills the sections
// and names the host it needs with a fingerprint (write's and read's `fingerprint`) — the QEMU
// engine its binary and accelerator, the KVM engines snapshot::host_fingerprint() (kvm_state.hpp,
// which also saves and loads the KVM state itself).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "../../bytes.hpp"
#include "../engine/options.hpp"
#include "../errors.hpp"
#include "../host/input_file.hpp"

namespace crumble::vm::snapshot {

inline constexpr char magic[8] = {'C', 'R', 'U', 'M', 'B', 'S', 'N', 'P'};
inline constexpr std::uint32_t format_version = 1;
inline constexpr char arch_name[] = "x86_64";

inline std::uint64_t fnv1a(const std::uint8_t* p, std::size_t n, std::uint64_t h = 0xcbf29ce484222325ull) {
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

// A snapshot's sections, by tag.
using Sections = std::map<std::string, std::vector<std::uint8_t>>;

template <class T>
void put(Sections& s, const std::string& tag, const T& v) {
  static_assert(std::is_trivially_copyable_v<T>);
  auto& out = s[tag];
  out.resize(sizeof v);
  std::memcpy(out.data(), &v, sizeof v);
}
template <class T>
T get(const Sections& s, const std::string& tag) {
  auto it = s.find(tag);
  if (it == s.end()) throw SnapshotError("snapshot has no " + tag + " section");
  if (it->second.size() != sizeof(T)) throw SnapshotError("snapshot section " + tag + " has the wrong size");
  T v;
  std::memcpy(&v, it->second.data(), sizeof v);
  return v;
}

// Where init was when the guest was saved (section "crumble.mode"), for the engines' restores.
inline void put_mode(Sections& s, SnapshotMode mode) {
  const std::string m = mode == SnapshotMode::early ? "early" : "late";
  s["crumble.mode"].assign(m.begin(), m.end());
}
inline SnapshotMode get_mode(const Sections& s, const std::filesystem::path& state) {
  const auto it = s.find("crumble.mode");
  const std::string m = it == s.end() ? std::string() : std::string(it->second.begin(), it->second.end());
  if (m == "early") return SnapshotMode::early;
  if (m == "late") return SnapshotMode::late;
  throw SnapshotError("snapshot " + state.string() + " does not say where its guest's init was (no crumble.mode)");
}

namespace detail {
inline void write_all(int fd, const void* p, std::size_t n, std::uint64_t at, const std::filesystem::path& path) {
  const auto* c = static_cast<const std::uint8_t*>(p);
  while (n) {
    ssize_t w = ::pwrite(fd, c, n, static_cast<off_t>(at));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw SnapshotError("cannot write " + path.string() + ": " + std::strerror(errno));
    c += w, n -= static_cast<std::size_t>(w), at += static_cast<std::uint64_t>(w);
  }
}
// Writes via a temporary file of its own (PATH.tmp.XXXXXX: two processes saving the same
// snapshot never write into one file), fsync, rename.
template <class Fill>
void atomic_file(const std::filesystem::path& path, Fill&& fill) {
  std::string tmp = path.string() + ".tmp.XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) throw SnapshotError("cannot create " + tmp + ": " + std::strerror(errno));
  try {
    fill(fd, std::filesystem::path(tmp));
    if (::fsync(fd) != 0) throw SnapshotError("cannot sync " + tmp + ": " + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    throw SnapshotError("cannot rename " + tmp + ": " + std::strerror(errno));
  }
}
}  // namespace detail

inline std::filesystem::path memory_path(const std::filesystem::path& state) { return state.string() + ".mem"; }

// The memory file is guest RAM (memory_size bytes, so mappings of it are page-aligned) and then
// one trailer page: magic and the token that ties it to its state file.
inline constexpr char memory_magic[8] = {'C', 'R', 'U', 'M', 'B', 'M', 'E', 'M'};
inline constexpr std::uint64_t memory_trailer = 4096;

// A guest-physical range that is not memory (an MMIO hole): unreadable on the host, never saved.
struct MemoryHole {
  std::uint64_t base, size;
};

// Writes `size` bytes of guest RAM to the empty file `fd` (named `path` in errors) page by page,
// leaving zero pages as holes, then sizes the file: a mostly idle guest's RAM takes little disk.
// Pages in `holes` (MMIO holes: not memory, and unreadable on the host) are left out.
inline void write_sparse(int fd, const std::uint8_t* memory, std::uint64_t size, const std::filesystem::path& path,
                         std::span<const MemoryHole> holes = {}) {
  static const std::uint8_t zero[4096] = {};
  for (std::uint64_t at = 0; at < size; at += 4096) {
    const std::uint64_t n = std::min<std::uint64_t>(4096, size - at);
    if (std::any_of(holes.begin(), holes.end(), [&](const MemoryHole& h) { return at < h.base + h.size && h.base < at + n; })) continue;
    if (std::memcmp(memory + at, zero, n) != 0) detail::write_all(fd, memory + at, n, at, path);
  }
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) throw SnapshotError("cannot size " + path.string() + ": " + std::strerror(errno));
}

// Writes guest RAM sparsely and the state file, each atomically. `fingerprint` names what the
// snapshot needs of the host that restores it (the QEMU engine passes its own).
inline void write(const std::filesystem::path& state, const Sections& sections, const std::uint8_t* memory, std::uint64_t size,
                  const std::string& fingerprint, std::span<const MemoryHole> holes = {}) {
  // The two files are renamed into place one after the other, so a reader can meet a state file
  // and a memory file from different saves (another process saving the same snapshot at the same
  // time): a random token in both ties them together; read() checks it.
  std::random_device random;
  const std::uint64_t token = (std::uint64_t{random()} << 32) | random();
  detail::atomic_file(memory_path(state), [&](int fd, const std::filesystem::path& p) {
    write_sparse(fd, memory, size, p, holes);
    std::uint8_t trailer[memory_trailer] = {};
    std::memcpy(trailer, memory_magic, 8);
    std::memcpy(trailer + 8, &token, 8);
    detail::write_all(fd, trailer, sizeof trailer, size, p);
  });
  Sections with_token = sections;
  put(with_token, "memory.token", token);
  std::vector<std::uint8_t> out(magic, magic + 8);
  out.resize(16);  // the file's length, filled in below
  auto u32 = [&](std::uint32_t v) { le::append(out, v, 4); };
  auto u64 = [&](std::uint64_t v) { le::append(out, v, 8); };
  auto str = [&](const std::string& s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
  };
  u32(format_version);
  str(arch_name);
  str(fingerprint);
  u64(size);
  u32(static_cast<std::uint32_t>(with_token.size()));
  for (const auto& [tag, bytes] : with_token) {
    str(tag);
    u64(bytes.size());
    out.insert(out.end(), bytes.begin(), bytes.end());
  }
  const std::uint64_t length = out.size() + 8;
  le::store<std::uint64_t>(out.data() + 8, length);
  u64(fnv1a(out.data(), out.size()));
  detail::atomic_file(state, [&](int fd, const std::filesystem::path& p) { detail::write_all(fd, out.data(), out.size(), 0, p); });
}

// A state file holds vCPU and device state (QEMU's without RAM: x-ignore-shared), the memory
// token and what a bare program wrote so far: kilobytes to a few MiB. Larger is refused before
// it is read.
inline constexpr std::uint64_t max_state_bytes = std::uint64_t{256} << 20;
// Guest RAM as the format allows it: far above any engine's limit (kvm::Machine: 3 GiB), far below
// where memory_size + memory_trailer could wrap.
inline constexpr std::uint64_t max_memory_bytes = std::uint64_t{1} << 40;

struct Loaded {
  Sections sections;
  std::uint64_t memory_size = 0;
  int memory_fd = -1;  // open on NAME.mem; the caller maps it and closes it
};

namespace detail {
// The memory file does not go with the state file: maybe another save is being renamed into place.
struct MemoryMismatch : SnapshotError {
  using SnapshotError::SnapshotError;
};
inline Loaded read_once(const std::filesystem::path& state, const std::string& fingerprint);
}  // namespace detail

// Reads and checks a state file (made with `fingerprint`) and opens its memory file. A memory
// file from another save is looked at once more: a concurrent save renames its state file just
// after its memory file.
inline Loaded read(const std::filesystem::path& state, const std::string& fingerprint) {
  try {
    return detail::read_once(state, fingerprint);
  } catch (const detail::MemoryMismatch&) {
    return detail::read_once(state, fingerprint);
  }
}

inline Loaded detail::read_once(const std::filesystem::path& state, const std::string& fingerprint) {
  // The file is looked at before it is read: a regular file (host/input_file.hpp: a FIFO or a
  // symlink planted in the cache is refused at once), with the magic and a length that is the
  // file's own and at most max_state_bytes. Only then is it read, exactly that many bytes.
  const InputFile file = open_input<SnapshotError>(state, "snapshot", {.follow = false});
  std::uint8_t head[16] = {};
  if (file.size() < sizeof head) throw SnapshotError("snapshot " + state.string() + " is truncated (" + std::to_string(file.size()) + " bytes)");
  file.read_at<SnapshotError>(0, head, sizeof head);
  if (std::memcmp(head, magic, 8) != 0) throw SnapshotError(state.string() + " is not a crumble snapshot (bad magic)");
  {
    const std::uint64_t length = le::load<std::uint64_t>(head + 8);
    if (file.size() < length)
      throw SnapshotError("snapshot " + state.string() + " is truncated (" + std::to_string(file.size()) + " of " + std::to_string(length) +
                          " bytes)");
    if (file.size() > length || length < 24) throw SnapshotError("snapshot " + state.string() + " is corrupt (wrong length)");
    if (length > max_state_bytes)
      throw SnapshotError("snapshot " + state.string() + " is " + std::to_string(length) + " bytes, more than a state file may be (" +
                          std::to_string(max_state_bytes) + ")");
  }
  const std::vector<std::uint8_t> data = file.read_all<SnapshotError>();
  const auto* b = data.data();
  std::size_t at = 0;
  auto need = [&](std::size_t n) {
    if (n > data.size() || at > data.size() - n) throw SnapshotError("snapshot " + state.string() + " is truncated");
  };
  auto u32 = [&] {
    need(4);
    const auto v = le::load<std::uint32_t>(b + at);
    at += 4;
    return v;
  };
  auto u64 = [&] {
    need(8);
    const auto v = le::load<std::uint64_t>(b + at);
    at += 8;
    return v;
  };
  auto str = [&](std::size_t max) {
    std::uint32_t n = u32();
    if (n > max) throw SnapshotError("snapshot " + state.string() + " is corrupt (a field of " + std::to_string(n) + " bytes)");
    need(n);
    std::string s(reinterpret_cast<const char*>(b + at), n);
    at += n;
    return s;
  };
  // Checked in this order, so the message names the first thing wrong: what the file is, its
  // length, its checksum, then whether this crumble and this host can use it.
  at = 16;  // magic and length: checked above
  const std::size_t body = data.size() - 8;
  const auto sum = le::load<std::uint64_t>(b + body);
  if (fnv1a(b, body) != sum) throw SnapshotError("snapshot " + state.string() + " is corrupt (checksum mismatch)");
  const std::uint32_t version = u32();
  if (version != format_version)
    throw SnapshotError("snapshot " + state.string() + " has format version " + std::to_string(version) + "; this crumble reads version " +
                        std::to_string(format_version));
  const std::string arch = str(64);
  if (arch != arch_name) throw SnapshotError("snapshot " + state.string() + " is for " + arch + ", this host is " + arch_name);
  const std::string fp = str(4096);
  if (fp != fingerprint)
    throw SnapshotError("snapshot " + state.string() + " was made on another host (" + fp + "; this host: " + fingerprint + ")");
  Loaded l;
  l.memory_size = u64();
  const std::uint32_t count = u32();
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string tag = str(256);
    const std::uint64_t n = u64();
    need(n);
    l.sections[tag].assign(b + at, b + at + n);
    at += n;
  }
  if (at != body) throw SnapshotError("snapshot " + state.string() + " is corrupt (trailing bytes)");
  // The memory size comes from the file: a checksum proves only that it was not damaged by
  // accident. Whole pages (every engine maps the file), and small enough that adding the trailer
  // cannot wrap.
  if (l.memory_size == 0 || l.memory_size % 4096 || l.memory_size > max_memory_bytes)
    throw SnapshotError("snapshot " + state.string() + " is corrupt (a guest memory size of " + std::to_string(l.memory_size) +
                        " bytes: not a whole number of 4 KiB pages from 4 KiB to " + std::to_string(max_memory_bytes >> 30) + " GiB)");
  const auto mem = memory_path(state);
  InputFile memory = open_input<SnapshotError>(mem, "the snapshot's memory file", {.follow = false});
  if (memory.size() != l.memory_size + memory_trailer)
    throw SnapshotError("the snapshot's memory file " + mem.string() + " is truncated (" + std::to_string(memory.size()) + " of " +
                        std::to_string(l.memory_size + memory_trailer) + " bytes)");
  std::uint8_t trailer[16] = {};
  const auto token = l.sections.find("memory.token");
  if (::pread(memory.fd(), trailer, sizeof trailer, static_cast<off_t>(l.memory_size)) != sizeof trailer ||
      std::memcmp(trailer, memory_magic, 8) != 0 || token == l.sections.end() || token->second.size() != 8 ||
      std::memcmp(trailer + 8, token->second.data(), 8) != 0) {
    throw detail::MemoryMismatch("the snapshot's memory file " + mem.string() + " does not belong to its state file (another save's, or damaged)");
  }
  l.sections.erase("memory.token");
  l.memory_fd = memory.release();  // the caller's from here: nothing above can leave it open
  return l;
}

}  // namespace crumble::vm::snapshot
