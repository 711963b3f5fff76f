// crumble/vm/snapshot.hpp — saving a KVM guest and starting it again, in this process or another.
//
// A snapshot is two files:
//
//   NAME        the state: magic "CRUMBSNP", the file's length, format version, architecture, a
//               host fingerprint, then tagged sections (vCPU state, engine state), then a 64-bit
//               FNV-1a checksum over everything before it. Written to NAME.tmp, fsync'ed, renamed: never half.
//   NAME.mem    guest RAM, page-aligned and sparse (zero pages are holes), mapped MAP_PRIVATE on
//               restore so pages load lazily and writes stay private to each restored VM.
//
// A file from another architecture, an unknown version, a fingerprint that is not this host's, a
// bad checksum or a truncated file (state or memory) is refused with SnapshotError saying which.
//
// The vCPU state saved is what KVM gives here: REGS, SREGS, FPU, XCRS, DEBUGREGS, VCPU_EVENTS,
// MP_STATE. XSAVE and MSRs are not: the paging-based kvm_pvm on this project's machines refuses
// KVM_GET_XSAVE2 and KVM_GET_MSRS (EINVAL), and the bare microVMs this serves run integer code at
// CPL3 with no MSR they change. Restore order: MP_STATE, REGS, SREGS, FPU, XCRS, DEBUGREGS,
// VCPU_EVENTS. Save only after KVM has completed the last exit (Vcpu::run returns so).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpuid.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "kvm.hpp"

namespace crumble::vm {

struct SnapshotError : VmError {
  using VmError::VmError;
};

namespace snapshot {

inline constexpr char magic[8] = {'C', 'R', 'U', 'M', 'B', 'S', 'N', 'P'};
inline constexpr std::uint32_t format_version = 1;
inline constexpr char arch_name[] = "x86_64";

inline std::uint64_t fnv1a(const std::uint8_t* p, std::size_t n, std::uint64_t h = 0xcbf29ce484222325ull) {
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

// What a snapshot depends on in the host: the CPU (vendor, family/model/stepping), the KVM API,
// and which optional state this host's KVM lets us save.
inline std::string host_fingerprint() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  __cpuid(0, a, b, c, d);
  char vendor[13] = {};
  std::memcpy(vendor, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  __cpuid(1, a, b, c, d);
  return std::string(vendor) + " signature " + std::to_string(a) + " kvm-api " + std::to_string(KVM_API_VERSION) +
         " state regs+sregs+fpu+xcrs+debugregs+events+mp";
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

inline void save_vcpu(kvm::Vcpu& cpu, Sections& s, const std::string& prefix = "vcpu0.") {
  put(s, prefix + "mp_state", cpu.get<kvm_mp_state>(KVM_GET_MP_STATE, "KVM_GET_MP_STATE"));
  put(s, prefix + "regs", cpu.regs());
  put(s, prefix + "sregs", cpu.sregs());
  put(s, prefix + "fpu", cpu.get<kvm_fpu>(KVM_GET_FPU, "KVM_GET_FPU"));
  put(s, prefix + "xcrs", cpu.get<kvm_xcrs>(KVM_GET_XCRS, "KVM_GET_XCRS"));
  put(s, prefix + "debugregs", cpu.get<kvm_debugregs>(KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS"));
  put(s, prefix + "events", cpu.get<kvm_vcpu_events>(KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS"));
}

inline void restore_vcpu(kvm::Vcpu& cpu, const Sections& s, const std::string& prefix = "vcpu0.") {
  cpu.set(KVM_SET_MP_STATE, get<kvm_mp_state>(s, prefix + "mp_state"), "KVM_SET_MP_STATE");
  cpu.set_regs(get<kvm_regs>(s, prefix + "regs"));
  cpu.set_sregs(get<kvm_sregs>(s, prefix + "sregs"));
  cpu.set(KVM_SET_FPU, get<kvm_fpu>(s, prefix + "fpu"), "KVM_SET_FPU");
  cpu.set(KVM_SET_XCRS, get<kvm_xcrs>(s, prefix + "xcrs"), "KVM_SET_XCRS");
  cpu.set(KVM_SET_DEBUGREGS, get<kvm_debugregs>(s, prefix + "debugregs"), "KVM_SET_DEBUGREGS");
  cpu.set(KVM_SET_VCPU_EVENTS, get<kvm_vcpu_events>(s, prefix + "events"), "KVM_SET_VCPU_EVENTS");
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
// Writes via path.tmp, fsync, rename.
template <class Fill>
void atomic_file(const std::filesystem::path& path, Fill&& fill) {
  const std::string tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
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

// Writes guest RAM sparsely (zero pages stay holes) and the state file, each atomically.
inline void write(const std::filesystem::path& state, const Sections& sections, const std::uint8_t* memory, std::uint64_t size) {
  detail::atomic_file(memory_path(state), [&](int fd, const std::filesystem::path& p) {
    static const std::uint8_t zero[4096] = {};
    for (std::uint64_t at = 0; at < size; at += 4096) {
      const std::uint64_t n = std::min<std::uint64_t>(4096, size - at);
      if (std::memcmp(memory + at, zero, n) != 0) detail::write_all(fd, memory + at, n, at, p);
    }
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) throw SnapshotError("cannot size " + p.string());
  });
  std::vector<std::uint8_t> out(magic, magic + 8);
  out.resize(16);  // the file's length, filled in below
  auto u32 = [&](std::uint32_t v) { for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i))); };
  auto u64 = [&](std::uint64_t v) { for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i))); };
  auto str = [&](const std::string& s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
  };
  u32(format_version);
  str(arch_name);
  str(host_fingerprint());
  u64(size);
  u32(static_cast<std::uint32_t>(sections.size()));
  for (const auto& [tag, bytes] : sections) {
    str(tag);
    u64(bytes.size());
    out.insert(out.end(), bytes.begin(), bytes.end());
  }
  const std::uint64_t length = out.size() + 8;
  for (int i = 0; i < 8; ++i) out[8 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(length >> (8 * i));
  u64(fnv1a(out.data(), out.size()));
  detail::atomic_file(state, [&](int fd, const std::filesystem::path& p) { detail::write_all(fd, out.data(), out.size(), 0, p); });
}

struct Loaded {
  Sections sections;
  std::uint64_t memory_size = 0;
  int memory_fd = -1;  // open on NAME.mem; the caller maps it and closes it
};

// Reads and checks a state file and opens its memory file.
inline Loaded read(const std::filesystem::path& state) {
  std::ifstream in(state, std::ios::binary);
  if (!in) throw SnapshotError("cannot open snapshot " + state.string());
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto* b = reinterpret_cast<const std::uint8_t*>(data.data());
  std::size_t at = 0;
  auto need = [&](std::size_t n) {
    if (n > data.size() || at > data.size() - n) throw SnapshotError("snapshot " + state.string() + " is truncated");
  };
  auto u32 = [&] {
    need(4);
    std::uint32_t v = b[at] | b[at + 1] << 8 | b[at + 2] << 16 | static_cast<std::uint32_t>(b[at + 3]) << 24;
    at += 4;
    return v;
  };
  auto u64 = [&] {
    std::uint64_t lo = u32();
    return lo | static_cast<std::uint64_t>(u32()) << 32;
  };
  auto str = [&](std::size_t max) {
    std::uint32_t n = u32();
    if (n > max) throw SnapshotError("snapshot " + state.string() + " is corrupt (a field of " + std::to_string(n) + " bytes)");
    need(n);
    std::string s(data, at, n);
    at += n;
    return s;
  };
  // Checked in this order, so the message names the first thing wrong: what the file is, its
  // length, its checksum, then whether this crumble and this host can use it.
  if (data.size() < 8 || std::memcmp(b, magic, 8) != 0) throw SnapshotError(state.string() + " is not a crumble snapshot (bad magic)");
  at = 8;
  const std::uint64_t length = u64();
  if (data.size() < length) throw SnapshotError("snapshot " + state.string() + " is truncated (" + std::to_string(data.size()) + " of " +
                                                std::to_string(length) + " bytes)");
  if (data.size() > length || length < 24) throw SnapshotError("snapshot " + state.string() + " is corrupt (wrong length)");
  const std::size_t body = data.size() - 8;
  std::uint64_t sum = 0;
  std::memcpy(&sum, b + body, 8);
  if (fnv1a(b, body) != sum) throw SnapshotError("snapshot " + state.string() + " is corrupt (checksum mismatch)");
  const std::uint32_t version = u32();
  if (version != format_version)
    throw SnapshotError("snapshot " + state.string() + " has format version " + std::to_string(version) + "; this crumble reads version " +
                        std::to_string(format_version));
  const std::string arch = str(64);
  if (arch != arch_name) throw SnapshotError("snapshot " + state.string() + " is for " + arch + ", this host is " + arch_name);
  const std::string fp = str(4096);
  if (fp != host_fingerprint())
    throw SnapshotError("snapshot " + state.string() + " was made on another host (" + fp + "; this host: " + host_fingerprint() + ")");
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
  const auto mem = memory_path(state);
  l.memory_fd = ::open(mem.c_str(), O_RDONLY | O_CLOEXEC);
  if (l.memory_fd < 0) throw SnapshotError("cannot open the snapshot's memory file " + mem.string() + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(l.memory_fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) != l.memory_size) {
    ::close(l.memory_fd);
    throw SnapshotError("the snapshot's memory file " + mem.string() + " is truncated (" + std::to_string(st.st_size) + " of " +
                        std::to_string(l.memory_size) + " bytes)");
  }
  return l;
}

}  // namespace snapshot
}  // namespace crumble::vm
