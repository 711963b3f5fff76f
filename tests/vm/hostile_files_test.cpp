// SPDX-License-Identifier: Apache-2.0
// tests/vm/hostile_files_test.cpp — every file the host reads as input, handed something hostile.
//
// Kernel images, snapshot state and memory files, the snapshot lock, kernel modules, busybox and
// files copied into an initramfs may name a FIFO, a device, a 16 GiB sparse file, a symlink
// planted in the cache, or bytes crafted to pass one check and not the next. Each row is one such
// input: the reader must throw the error type its callers catch, with a message naming the
// problem, well within a deadline (an alarm ends the process if a reader blocks: a FIFO opened
// without O_NONBLOCK waits for a writer forever), and leave no file descriptor open (counted in
// /proc/self/fd before and after).
#include <catch2/catch.hpp>

#include <crumble/vm/engine/kvm/bare.hpp>
#include <crumble/vm/engine/kvm/linux_x86.hpp>
#include <crumble/vm/guest/initramfs.hpp>
#include <crumble/vm/guest/kernel_image.hpp>
#include <crumble/vm/guest/modules.hpp>
#include <crumble/vm/guest/vmlinux.hpp>
#include <crumble/vm/host/process.hpp>
#include <crumble/vm/snapshot/cache.hpp>
#include <crumble/vm/snapshot/content_hash.hpp>
#include <crumble/vm/snapshot/format.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "kvm_skip.hpp"
#include "synthetic_kernel.hpp"

namespace fs = std::filesystem;
namespace snapshot = crumble::vm::snapshot;
using crumble::vm::ConfigError;
using crumble::vm::SnapshotError;
using crumble::vm::TempDir;
using Bytes = std::vector<std::uint8_t>;

namespace {

constexpr double deadline_s = 1.0;

std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Runs `call`, which must throw Error with `piece` in its message, within deadline_s, leaving no
// descriptor open. An alarm ends the process if the reader blocks (the failure before the fix).
template <class Error>
void refuses(const std::string& row, const std::function<void()>& call, const std::string& piece) {
  INFO(row);
  const std::size_t before = open_fds();
  std::string what = "(nothing thrown)";
  bool typed = false;
  ::alarm(20);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    call();
  } catch (const Error& e) {
    typed = true;
    what = e.what();
  } catch (const std::exception& e) {
    what = std::string("wrong type: ") + e.what();
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ::alarm(0);
  INFO("message: " << what);
  CHECK(typed);
  CHECK(what.find(piece) != std::string::npos);
  CHECK(took < deadline_s);
  CHECK(open_fds() == before);
}

void write_file(const fs::path& p, const Bytes& b) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
fs::path fifo(const fs::path& p) {
  REQUIRE(::mkfifo(p.c_str(), 0600) == 0);
  return p;
}
fs::path sparse(const fs::path& p, std::uint64_t size, const Bytes& head = {}) {
  write_file(p, head);
  REQUIRE(::truncate(p.c_str(), static_cast<off_t>(size)) == 0);
  return p;
}

// --- kernels -------------------------------------------------------------------------------------

using crumble::test::put_le;

// An x86-64 vmlinux: one PT_LOAD of 0x100 bytes at 16 MiB (entry at its start), then `extra`
// program headers each made by `header(i, ph)`, then `tail` bytes.
Bytes vmlinux(std::uint64_t extra, const std::function<void(std::uint64_t, std::uint8_t*)>& header, const Bytes& tail = {}) {
  const std::uint64_t phnum = 1 + extra, load_off = 64 + 56 * phnum;
  Bytes f(load_off + 0x100, 0x90);
  std::fill(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(load_off), 0);
  f[0] = 0x7f, f[1] = 'E', f[2] = 'L', f[3] = 'F', f[4] = 2, f[5] = 1, f[6] = 1;
  put_le(f, 16, 2, 2), put_le(f, 18, 62, 2), put_le(f, 20, 1, 4), put_le(f, 24, 0x1000000, 8);
  put_le(f, 32, 64, 8), put_le(f, 52, 64, 2), put_le(f, 54, 56, 2), put_le(f, 56, phnum, 2);
  put_le(f, 64, 1, 4), put_le(f, 64 + 8, load_off, 8), put_le(f, 64 + 16, 0xffffffff81000000, 8);
  put_le(f, 64 + 24, 0x1000000, 8), put_le(f, 64 + 32, 0x100, 8), put_le(f, 64 + 40, 0x100, 8);
  for (std::uint64_t i = 0; i < extra; ++i) header(i, f.data() + 64 + 56 * (1 + i));
  f.insert(f.end(), tail.begin(), tail.end());
  return f;
}

// p_type 0x00010001: PT_LOAD in its low 16 bits only, its bytes past the end of the file. The
// loader once took it for loadable (a 16-bit compare) while the checker did not (32-bit), so it
// was copied unchecked: a 64 KiB heap overflow under ASan.
Bytes type_0x10001() {
  Bytes f = vmlinux(1, [](std::uint64_t, std::uint8_t* ph) {
    crumble::le::store<std::uint32_t>(ph, 0x00010001);
    crumble::le::store<std::uint64_t>(ph + 24, 0x2000000);  // paddr
  });
  const std::uint64_t size = f.size();
  crumble::le::store<std::uint64_t>(f.data() + 64 + 56 + 8, size);      // offset: the end of the file
  crumble::le::store<std::uint64_t>(f.data() + 64 + 56 + 32, 0x10000);  // filesz 64 KiB
  crumble::le::store<std::uint64_t>(f.data() + 64 + 56 + 40, 0x10000);
  return f;
}

// 65,535 program headers: the PT_LOAD and 65,534 PT_NOTEs, all over one run of `run` bytes of
// empty notes. Scanned once per header, this took seconds (47.7 s for a 4.5 MiB file).
Bytes many_notes(std::uint64_t run) {
  const std::uint64_t notes_at = 64 + 56 * 65535 + 0x100;
  return vmlinux(
      65534,
      [=](std::uint64_t, std::uint8_t* ph) {
        crumble::le::store<std::uint32_t>(ph, 4);
        crumble::le::store<std::uint64_t>(ph + 8, notes_at);
        crumble::le::store<std::uint64_t>(ph + 32, run);
        crumble::le::store<std::uint64_t>(ph + 48, 4);
      },
      Bytes(run, 0));  // namesz 0, descsz 0, type 0: a 12-byte note, over and over
}

}  // namespace

TEST_CASE("hostile kernel files: each refused with its error, at once, no descriptor left open", "[vm][hostile]") {
  TempDir dir("crumble-hostile-");
  const fs::path d = dir.path();
  const fs::path fifo_kernel = fifo(d / "fifo-kernel");
  const fs::path huge = sparse(d / "huge-kernel", std::uint64_t{16} << 30, {0x7f, 'E', 'L', 'F'});
  write_file(d / "many-notes", many_notes(256 << 10));
  using crumble::vm::check_kernel_image;
  using crumble::vm::LinuxImage;
  struct Row {
    const char* input;
    fs::path path;
    const char* piece;
  } rows[] = {
      {"a FIFO", fifo_kernel, "is not a regular file (it is a FIFO)"},
      {"a character device", "/dev/zero", "is not a regular file (it is a character device)"},
      {"a directory", d, "is not a regular file (it is a directory)"},
      {"a 16 GiB sparse file", huge, "bytes, more than the 1073741824 this reader accepts"},
      {"65,535 note headers over one run of notes", d / "many-notes", "they overlap"},
  };
  for (const Row& r : rows) {
    refuses<std::invalid_argument>(std::string("check_kernel_image: ") + r.input, [&] { check_kernel_image(r.path); }, r.piece);
    refuses<ConfigError>(std::string("LinuxImage::read: ") + r.input, [&] { LinuxImage::read(r.path); }, r.piece);
  }
  refuses<std::runtime_error>("extract_vmlinux: a FIFO", [&] { crumble::vm::extract_vmlinux(fifo_kernel, d / "out"); }, "(it is a FIFO)");
  refuses<ConfigError>("ContentHash::add_file: a FIFO", [&] { crumble::vm::ContentHash().add_file(fifo_kernel); }, "(it is a FIFO)");
}

TEST_CASE("ELF kernels: one notion of loadable, checked once, in linear time", "[vm][hostile]") {
  SECTION("p_type 0x00010001 is not PT_LOAD: the loader's segments are the checked ones") {
    const auto k = crumble::vm::LinuxImage::parse(type_0x10001(), "k");
    REQUIRE(k.segments.size() == 1);
    CHECK(k.segments[0].paddr == 0x1000000);
    CHECK(k.segments[0].filesz == 0x100);
    CHECK(crumble::vm::parse_elf_kernel(type_0x10001()).loads.size() == 1);
  }
  SECTION("the same header as PT_LOAD is refused by the checker") {
    Bytes f = type_0x10001();
    put_le(f, 64 + 56, 1, 4);
    refuses<ConfigError>("PT_LOAD past the end", [&] { crumble::vm::LinuxImage::parse(f, "k"); }, "truncated ELF: segment 1 ends at");
  }
  SECTION("65,535 note headers over 256 KiB of notes: refused in well under a second") {
    const Bytes f = many_notes(256 << 10);
    refuses<ConfigError>("many notes", [&] { crumble::vm::LinuxImage::parse(f, "k"); }, "they overlap");
  }
  SECTION("65,535 note headers over one 12-byte note each: accepted, in well under a second") {
    // The same number of headers, each with its own note (no overlap): linear work, and accepted.
    const std::uint64_t notes_at = 64 + 56 * 65535 + 0x100;
    const Bytes f = vmlinux(
        65534,
        [=](std::uint64_t i, std::uint8_t* ph) {
          crumble::le::store<std::uint32_t>(ph, 4);
          crumble::le::store<std::uint64_t>(ph + 8, notes_at + 12 * i);
          crumble::le::store<std::uint64_t>(ph + 32, 12);
        },
        Bytes(12 * 65534, 0));
    const auto t0 = std::chrono::steady_clock::now();
    const auto k = crumble::vm::LinuxImage::parse(f, "k");
    CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < deadline_s);
    CHECK(k.segments.size() == 1);
    CHECK(!k.pvh_entry);
  }
}

TEST_CASE("ELF kernels: the loader copies only the checked segments", "[vm][hostile][kvm]") {
  const auto& kvm = crumble::test::kvm_or_skip();
  crumble::vm::kvm::Machine m(kvm, 64 << 20);
  const auto k = crumble::vm::LinuxImage::parse(type_0x10001(), "k");
  const crumble::vm::BootSetup b = crumble::vm::load_linux(m, k, {.cmdline = "console=ttyS0", .initrd = {}});
  CHECK(b.kernel == 0x1000000);
  CHECK(b.kernel_end == 0x1000100);  // not 0x2010000: the 0x00010001 header was not loaded
  CHECK(m.memory()[0x1000000] == 0x90);
  CHECK(m.memory()[0x2000000] == 0);
}

// --- snapshots -----------------------------------------------------------------------------------

namespace {

const std::string fp = "hostile-test-host";

// A good snapshot of `size` bytes of memory at `state`.
void good_snapshot(const fs::path& state, std::uint64_t size = 4096, const std::string& fingerprint = fp) {
  snapshot::Sections s;
  s["test"] = {1, 2, 3};
  const Bytes memory(size, 0xab);
  snapshot::write(state, s, memory.data(), size, fingerprint);
}

// Rewrites the state file's memory size (and its checksum: the tampering is deliberate) and moves
// the memory file's trailer to match, so that only the size is wrong.
void set_memory_size(const fs::path& state, std::uint64_t size, const std::string& fingerprint = fp) {
  std::ifstream in(state, std::ios::binary);
  Bytes b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t at = 16 + 4 + 4 + std::strlen(snapshot::arch_name) + 4 + fingerprint.size();
  crumble::le::store<std::uint64_t>(b.data() + at, size);
  crumble::le::store<std::uint64_t>(b.data() + b.size() - 8, snapshot::fnv1a(b.data(), b.size() - 8));
  write_file(state, b);
  const fs::path mem = snapshot::memory_path(state);
  std::uint8_t trailer[16];
  const int fd = ::open(mem.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  REQUIRE(::pread(fd, trailer, 16, static_cast<off_t>(fs::file_size(mem) - 4096)) == 16);
  const std::uint64_t new_size = size + 4096;  // wraps for the wrap row: then the file is that many bytes
  const bool wraps = new_size < size;
  REQUIRE(::ftruncate(fd, static_cast<off_t>(new_size)) == 0);
  if (!wraps) REQUIRE(::pwrite(fd, trailer, 16, static_cast<off_t>(size)) == 16);
  ::close(fd);
}

}  // namespace

TEST_CASE("hostile snapshot files: SnapshotError at once, no descriptor left open", "[vm][hostile]") {
  TempDir dir("crumble-hostile-");
  const fs::path d = dir.path();
  auto path = [&](const char* name) { return d / name; };

  fifo(path("fifo-state"));
  good_snapshot(path("fifo-memory"));
  fs::remove(snapshot::memory_path(path("fifo-memory")));
  fifo(snapshot::memory_path(path("fifo-memory")));
  sparse(path("huge-junk"), std::uint64_t{16} << 30);
  Bytes head(16, 0);
  std::memcpy(head.data(), snapshot::magic, 8);
  crumble::le::store<std::uint64_t>(head.data() + 8, std::uint64_t{16} << 30);
  sparse(path("huge-snapshot"), std::uint64_t{16} << 30, head);
  good_snapshot(path("good"));
  fs::create_symlink(path("good"), path("symlinked-state"));
  good_snapshot(path("symlinked-memory"));
  fs::remove(snapshot::memory_path(path("symlinked-memory")));
  fs::create_symlink(snapshot::memory_path(path("good")), snapshot::memory_path(path("symlinked-memory")));
  good_snapshot(path("size-4097"));
  set_memory_size(path("size-4097"), 4097);
  good_snapshot(path("size-wraps"));
  set_memory_size(path("size-wraps"), ~std::uint64_t{0} - 4095 + 16);  // + 4096 wraps to 16, the memory file's size
  good_snapshot(path("size-0"));
  set_memory_size(path("size-0"), 0);

  struct Row {
    const char* name;
    const char* piece;
  } rows[] = {
      {"fifo-state", "is not a regular file (it is a FIFO)"},
      {"fifo-memory", "is not a regular file (it is a FIFO)"},
      {"huge-junk", "is not a crumble snapshot (bad magic)"},
      {"huge-snapshot", "more than a state file may be"},
      {"symlinked-state", "it is a symbolic link (refused)"},
      {"symlinked-memory", "it is a symbolic link (refused)"},
      {"size-4097", "a guest memory size of 4097 bytes: not a whole number of 4 KiB pages"},
      {"size-wraps", "a guest memory size of 18446744073709547536 bytes"},
      {"size-0", "a guest memory size of 0 bytes"},
  };
  crumble::vm::SnapshotCache cache(d);
  for (const Row& r : rows) {
    refuses<SnapshotError>(std::string("snapshot::read: ") + r.name, [&] { snapshot::read(path(r.name), fp); }, r.piece);
    // The cache's check answers no, without throwing, as fast.
    const auto t0 = std::chrono::steady_clock::now();
    ::alarm(20);
    CHECK_FALSE(cache.is_valid(r.name, fp));
    ::alarm(0);
    CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < deadline_s);
  }
  // And the good one reads.
  snapshot::Loaded l = snapshot::read(path("good"), fp);
  CHECK(l.memory_size == 4096);
  ::close(l.memory_fd);
}

TEST_CASE("the snapshot lock: no symlinks followed, and a deadline", "[vm][hostile]") {
  TempDir dir("crumble-hostile-");
  crumble::vm::SnapshotCache cache(dir.path());
  const std::string key(32, 'a');
  SECTION("a dangling symlink as the lock file: refused, and nothing is created where it points") {
    const fs::path target = dir.path() / "elsewhere";
    fs::create_symlink(target, cache.path(key).string() + ".lock");
    refuses<SnapshotError>("symlinked lock", [&] { cache.lock(key); }, "it is a symbolic link (refused)");
    CHECK_FALSE(fs::exists(target));
  }
  SECTION("a lock another process holds: SnapshotError after the wait, not a hang") {
    cache.prepare(key);
    const fs::path lock = cache.path(key).string() + ".lock";
    const int holder = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);  // its own open file: flock conflicts
    REQUIRE(holder >= 0);
    REQUIRE(::flock(holder, LOCK_EX) == 0);
    cache.set_lock_wait(std::chrono::milliseconds(200));
    const auto t0 = std::chrono::steady_clock::now();
    refuses<SnapshotError>("held lock", [&] { cache.lock(key); }, "gave up waiting for the lock");
    CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(200));
    ::close(holder);
    CHECK_NOTHROW(cache.lock(key));  // free again: taken at once
  }
}

TEST_CASE("a bare VM's snapshot with a memory size the engine cannot make: SnapshotError, fd closed", "[vm][hostile][kvm]") {
  crumble::test::kvm_or_skip();
  TempDir dir("crumble-hostile-");
  const fs::path state = dir.path() / "bare";
  const std::string host = snapshot::host_fingerprint();
  struct Row {
    std::uint64_t size;
    const char* piece;
  } rows[] = {
      {4097, "not a whole number of 4 KiB pages"},  // refused by the format
      {(2 << 20) + 4096, "which no bare VM has"},   // a valid format size no bare VM has
      {std::uint64_t{3} << 30, "which no bare VM has"},
  };
  for (const Row& r : rows) {
    good_snapshot(state, 4096, host);
    set_memory_size(state, r.size, host);
    refuses<SnapshotError>("BareVm::restore, memory size " + std::to_string(r.size),
                           [&] { crumble::vm::BareVm::restore(state, crumble::vm::BareOptions{}); }, r.piece);
  }
}

// --- initramfs inputs ----------------------------------------------------------------------------

TEST_CASE("hostile initramfs inputs: a FIFO as a module, busybox or file is refused at once", "[vm][hostile]") {
  TempDir dir("crumble-hostile-");
  const fs::path f = fifo(dir.path() / "fifo");
  const Bytes init{0x7f, 'E', 'L', 'F'};
  refuses<std::runtime_error>("Cpio::file_from_disk", [&] { crumble::vm::Cpio().file_from_disk("x", f, 0644); },
                              "is not a regular file (it is a FIFO)");
  refuses<std::runtime_error>("a module path", [&] {
    crumble::vm::InitramfsSpec spec;
    spec.init = init;
    spec.rootfs = dir.path() / "root";
    fs::create_directories(spec.rootfs);
    spec.modules = {{"evil", f}};
    crumble::vm::build_initramfs(spec);
  }, "is not a regular file (it is a FIFO)");
  refuses<std::runtime_error>("the busybox path", [&] {
    crumble::vm::InitramfsSpec spec;
    spec.init = init;
    spec.busybox = f;
    crumble::vm::build_initramfs(spec);
  }, "is not a regular file (it is a FIFO)");
  refuses<std::runtime_error>("read_modinfo", [&] { crumble::vm::read_modinfo(f); }, "is not a regular file (it is a FIFO)");
  refuses<std::runtime_error>("read_modinfo, a device", [&] { crumble::vm::read_modinfo("/dev/zero"); }, "(it is a character device)");
}
