// SPDX-License-Identifier: Apache-2.0
// tests/vm/qemu_snapshot_test.cpp — snapshots of a booted Linux guest under the QEMU engine.
//
// QemuMachine::save pauses the guest, has QEMU migrate its device state (guest RAM is the shared
// file, not copied by QEMU: x-ignore-shared) into a snapshot state file (snapshot/format.hpp)
// and writes guest RAM to its sparse memory file; a new QemuMachine with restore_from starts from
// them by incoming migration. The oracle is the guest's own file system: what a command wrote
// before the snapshot is there after a restore, what the original wrote after it is not, and
// each restored VM is independent of the others; /dev/urandom and date(1) in the guest show the
// reseed. Damaged snapshots are refused before QEMU starts, each with its reason, and a migration
// stream QEMU cannot load fails with QEMU's own words.
#include <catch2/catch.hpp>
#include <crumble/vm/guest/initramfs.hpp>
#include <crumble/vm/guest/kernel.hpp>
#include <crumble/vm/host/process.hpp>
#include <crumble/vm/engine/qemu/machine.hpp>

#include <sys/mman.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <ctime>
#include <iostream>
#include <mutex>
#include <thread>

#include "guest_skip.hpp"
#include "init_elf.hpp"

using namespace crumble::vm;

namespace {

QemuOptions options_or_skip() {
  const GuestKernel k = crumble::test::guest_kernel_or_skip();
  InitramfsSpec spec;
  spec.init = init_elf();
  QemuOptions o;
  o.kernel = k.image;
  o.initramfs = build_initramfs(spec);
  return o;
}

std::string sh(QemuMachine& m, const std::string& script) {
  CommandResult r = m.channel().run({"sh", "-c", script}, {"PATH=/bin:/sbin"}, Clock::now() + std::chrono::seconds(30));
  INFO(script << ": " << r.describe() << "\n" << r.err);
  REQUIRE(r.status() == 0);
  return r.out;
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

}  // namespace

TEST_CASE("qemu snapshot: a booted guest saved, restored twice, each restore independent", "[vm][qemu][snapshot]") {
  const QemuOptions o = options_or_skip();
  TempDir dir("crumble-qsnap-");
  const auto state = dir.path() / "guest.state";
  auto t0 = Clock::now();
  double boot_ms = 0, save_ms = 0;
  {
    QemuMachine m(o);
    m.channel().wait_ready(Clock::now() + std::chrono::seconds(60));
    boot_ms = ms_since(t0);
    CHECK(sh(m, "echo before > /tmp/marker; cat /tmp/marker") == "before\n");
    auto t1 = Clock::now();
    m.save(state, SnapshotMode::late);
    save_ms = ms_since(t1);
    // The original goes on after the save.
    CHECK(sh(m, "echo after > /tmp/marker; cat /tmp/marker") == "after\n");
  }
  CHECK(std::filesystem::exists(state));
  CHECK(std::filesystem::exists(snapshot::memory_path(state)));

  QemuOptions r = o;
  r.restore_from = state;
  auto t2 = Clock::now();
  QemuMachine a(r);
  const double restore_ms = ms_since(t2);
  // b's RAM file on another file system than the snapshot (tmpfs vs the test's directory) where
  // this host has one: copy_file_range cannot cross them, the plain copy must take over.
  struct stat shm {}, here {};
  const bool other_fs = ::stat("/dev/shm", &shm) == 0 && ::stat(dir.path().c_str(), &here) == 0 && shm.st_dev != here.st_dev;
  std::optional<std::string> tmpdir;
  if (const char* t = std::getenv("TMPDIR")) tmpdir = t;
  if (other_fs) ::setenv("TMPDIR", "/dev/shm", 1);
  else std::cout << "note: /dev/shm is on the same file system here; the cross-file-system copy is not exercised\n";
  QemuMachine b(r);
  if (tmpdir) ::setenv("TMPDIR", tmpdir->c_str(), 1);
  else ::unsetenv("TMPDIR");
  if (other_fs) CHECK(b.directory().string().rfind("/dev/shm/", 0) == 0);
  CHECK(sh(a, "cat /tmp/marker") == "before\n");
  CHECK(sh(b, "cat /tmp/marker") == "before\n");
  sh(a, "echo only-a > /tmp/marker");
  CHECK(sh(b, "cat /tmp/marker") == "before\n");  // b does not see a's write
  CHECK(sh(a, "cat /tmp/marker") == "only-a\n");
  // Clones differ: each was reseeded with the host's entropy after the restore, and has the time.
  const std::string ra = sh(a, "head -c 16 /dev/urandom | od -An -tx1"), rb = sh(b, "head -c 16 /dev/urandom | od -An -tx1");
  INFO(ra << rb);
  CHECK(ra != rb);
  const long guest_time = std::stol(sh(a, "date +%s"));
  CHECK(std::labs(guest_time - static_cast<long>(std::time(nullptr))) <= 5);
  std::cout << "qemu snapshot: cold boot " << boot_ms << " ms, save " << save_ms << " ms, restore to running " << restore_ms << " ms\n";
  a.shutdown();
  b.shutdown();
}

// Writes a copy of `state` (and its memory file) with `change` applied to the state file's bytes.
std::filesystem::path damaged(const std::filesystem::path& state, const std::string& name,
                              const std::function<void(std::string& bytes, std::filesystem::path mem)>& change) {
  const auto out = state.parent_path() / name;
  std::filesystem::copy_file(state, out, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(snapshot::memory_path(state), snapshot::memory_path(out), std::filesystem::copy_options::overwrite_existing);
  std::ifstream in(out, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  change(bytes, snapshot::memory_path(out));
  std::ofstream(out, std::ios::binary | std::ios::trunc) << bytes;
  return out;
}

// Re-signs a state file after a deliberate change, so the checks behind the checksum are reached.
void fix_checksum(std::string& b) {
  const std::uint64_t sum = snapshot::fnv1a(reinterpret_cast<const std::uint8_t*>(b.data()), b.size() - 8);
  std::memcpy(b.data() + b.size() - 8, &sum, 8);
}

TEST_CASE("qemu snapshot: damaged snapshots are refused, each with its reason", "[vm][qemu][snapshot]") {
  const QemuOptions o = options_or_skip();
  TempDir dir("crumble-qsnap-");
  const auto state = dir.path() / "guest.state";
  {
    QemuMachine m(o);
    m.channel().wait_ready(Clock::now() + std::chrono::seconds(60));
    m.save(state, SnapshotMode::late);
  }
  // Offsets in the state file: magic 0, length 8, version 16, architecture (u32 length + bytes) 20.
  struct Damage {
    std::string what;
    std::function<void(std::string&, std::filesystem::path)> change;
    std::string message;
  };
  const std::vector<Damage> table = {
      {"one byte flipped", [](std::string& b, auto) { b[b.size() / 2] ^= 0x40; }, "checksum mismatch"},
      {"state file truncated", [](std::string& b, auto) { b.resize(b.size() - 100); }, "is truncated"},
      {"memory file truncated", [](std::string&, std::filesystem::path mem) { std::filesystem::resize_file(mem, 4096); },
       "memory file"},
      {"not a snapshot", [](std::string& b, auto) { b[0] = 'X'; }, "bad magic"},
      {"a newer format version", [](std::string& b, auto) { b[16] = 99; fix_checksum(b); }, "format version 99"},
      {"another architecture", [](std::string& b, auto) { std::memcpy(b.data() + 24, "arm_64", 6); fix_checksum(b); }, "is for arm_64"},
      {"another QEMU (fingerprint)", [](std::string& b, auto) {
         const auto at = b.find("size ");
         REQUIRE(at != std::string::npos);
         b[at + 5] = b[at + 5] == '9' ? '8' : '9';
         fix_checksum(b);
       }, "was made on another host"},
  };
  for (const Damage& d : table) {
    QemuOptions r = o;
    r.restore_from = damaged(state, "damaged", d.change);
    INFO(d.what);
    CHECK_THROWS_MATCHES(QemuMachine(r), SnapshotError, Catch::Matchers::Predicate<SnapshotError>(
        [&](const SnapshotError& e) { return std::string(e.what()).find(d.message) != std::string::npos; }, "names " + d.message));
  }

  // A state file intact as a file but whose migration stream QEMU cannot load: QEMU says why.
  {
    snapshot::Loaded l = snapshot::read(state, QemuMachine::fingerprint(o));
    const std::uint64_t size = l.memory_size;
    void* mem = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, l.memory_fd, 0);
    ::close(l.memory_fd);
    REQUIRE(mem != MAP_FAILED);
    auto& stream = l.sections["qemu.migration"];
    stream.resize(stream.size() / 2);
    const auto half = dir.path() / "half-stream";
    snapshot::write(half, l.sections, static_cast<const std::uint8_t*>(mem), size, QemuMachine::fingerprint(o));
    ::munmap(mem, size);
    QemuOptions r = o;
    r.restore_from = half;
    try {
      QemuMachine m(r);
      FAIL("a truncated migration stream was accepted");
    } catch (const SnapshotError& e) {
      CHECK_THAT(e.what(), Catch::Contains("QEMU"));
    }
  }
}

TEST_CASE("qemu snapshot: early mode holds init after phase 6, a restore goes on to ready", "[vm][qemu][snapshot]") {
  QemuOptions o = options_or_skip();
  TempDir dir("crumble-qsnap-");
  const auto state = dir.path() / "early.state";
  {
    o.hold_after_phase_6 = true;
    QemuMachine m(o);
    REQUIRE(m.channel().wait_holding(Clock::now() + std::chrono::seconds(60)));
    m.save(state, SnapshotMode::early);
    m.channel().release_hold();
    m.channel().wait_ready(Clock::now() + std::chrono::seconds(30));
    CHECK(sh(m, "echo original") == "original\n");
    m.shutdown();
  }
  o.hold_after_phase_6 = false;
  o.restore_from = state;
  QemuMachine a(o), b(o);
  CHECK(sh(a, "echo restored") == "restored\n");
  const std::string ra = sh(a, "head -c 16 /dev/urandom | od -An -tx1"), rb = sh(b, "head -c 16 /dev/urandom | od -An -tx1");
  CHECK(ra != rb);
  CHECK(std::labs(std::stol(sh(b, "date +%s")) - static_cast<long>(std::time(nullptr))) <= 5);
}

// Restores race each other and a busy host: 20 restores of one early snapshot, two at a time,
// each going on to a command. Every failure carries QEMU's exit status and its own words
// (machine.hpp check_alive), so one that happens says why; the test counts them.
TEST_CASE("qemu snapshot: 20 restores of an early snapshot, two at once, all reach a command", "[vm][qemu][snapshot][stress]") {
  QemuOptions o = options_or_skip();
  TempDir dir("crumble-qsnap-");
  const auto state = dir.path() / "early.state";
  {
    o.hold_after_phase_6 = true;
    QemuMachine m(o);
    REQUIRE(m.channel().wait_holding(Clock::now() + std::chrono::seconds(60)));
    m.save(state, SnapshotMode::early);
  }
  o.hold_after_phase_6 = false;
  o.restore_from = state;
  constexpr int rounds = 10;
  std::vector<std::string> failures;
  std::mutex lock;
  const auto t0 = Clock::now();
  for (int round = 0; round < rounds; ++round) {
    // Each machine lives and dies in its own thread: QEMU's death signal follows the thread that
    // started it (host/process.hpp).
    auto one = [&](int i) {
      try {
        QemuMachine m(o);
        CommandResult r = m.channel().run({"echo", "r" + std::to_string(i)}, {"PATH=/bin"}, Clock::now() + std::chrono::seconds(60));
        if (r.status() != 0 || r.out != "r" + std::to_string(i) + "\n") throw std::runtime_error("command: " + r.describe());
        m.shutdown();
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> held(lock);
        failures.push_back(e.what());
      }
    };
    std::thread a(one, 2 * round), b(one, 2 * round + 1);
    a.join();
    b.join();
  }
  for (const auto& f : failures) std::cout << "restore failed: " << f << "\n";
  std::cout << "qemu snapshot: " << 2 * rounds - failures.size() << "/" << 2 * rounds << " concurrent restores reached a command in "
            << std::chrono::duration<double>(Clock::now() - t0).count() << " s\n";
  CHECK(failures.empty());
}
