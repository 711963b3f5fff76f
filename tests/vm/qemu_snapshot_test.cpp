// tests/vm/qemu_snapshot_test.cpp — snapshots of a booted Linux guest under the QEMU engine.
//
// QemuMachine::save pauses the guest, has QEMU migrate its device state to a file (guest RAM is
// the shared file, not copied by QEMU: x-ignore-shared) and keeps a sparse copy of the RAM file;
// a new QemuMachine with restore_from starts from them by incoming migration. The oracle is the
// guest's own file system: what a command wrote before the snapshot is there after a restore,
// what the original wrote after it is not, and each restored VM is independent of the others.
#include <catch2/catch.hpp>
#include <crumble/vm/initramfs.hpp>
#include <crumble/vm/kernel.hpp>
#include <crumble/vm/process.hpp>
#include <crumble/vm/qemu.hpp>

#include <cstdlib>
#include <ctime>
#include <iostream>

#include "init_elf.hpp"

using namespace crumble::vm;

namespace {

QemuOptions options_or_skip() {
  auto k = cached_kernel();
  if (!k) {
    std::cout << "SKIPPED: no cached kernel (run `crumble kernel fetch`)\n";
    std::exit(4);
  }
  if (std::system("command -v qemu-system-x86_64 > /dev/null 2>&1") != 0) {
    std::cout << "SKIPPED: qemu-system-x86_64 not found (apt-get install qemu-system-x86)\n";
    std::exit(4);
  }
  InitramfsSpec spec;
  spec.init = init_elf();
  QemuOptions o;
  o.kernel = k->image;
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
    m.save(state);
    save_ms = ms_since(t1);
    // The original goes on after the save.
    CHECK(sh(m, "echo after > /tmp/marker; cat /tmp/marker") == "after\n");
  }
  CHECK(std::filesystem::exists(state));
  CHECK(std::filesystem::exists(QemuMachine::ram_file(state)));

  QemuOptions r = o;
  r.restore_from = state;
  auto t2 = Clock::now();
  QemuMachine a(r);
  const double restore_ms = ms_since(t2);
  QemuMachine b(r);
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

TEST_CASE("qemu snapshot: a damaged state file fails the restore with QEMU's reason", "[vm][qemu][snapshot]") {
  const QemuOptions o = options_or_skip();
  TempDir dir("crumble-qsnap-");
  const auto state = dir.path() / "guest.state";
  {
    QemuMachine m(o);
    m.channel().wait_ready(Clock::now() + std::chrono::seconds(60));
    m.save(state);
  }
  std::filesystem::resize_file(state, std::filesystem::file_size(state) / 2);
  QemuOptions r = o;
  r.restore_from = state;
  try {
    QemuMachine m(r);
    FAIL("a truncated state file was accepted");
  } catch (const VmError& e) {
    CHECK_THAT(e.what(), Catch::Contains("QEMU"));
  }
}
