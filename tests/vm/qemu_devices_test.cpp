// SPDX-License-Identifier: Apache-2.0
// tests/vm/qemu_devices_test.cpp — the container devices of the QEMU engine, against the real guest
// kernel: a read-only virtio-blk root disk (an erofs image made by mkfs.erofs), restored into a
// snapshot saved with the placeholder disk, and virtio-fs shares served by virtiofsd.
//
// The oracles are the guest kernel (insmod of the deferred modules, mount -t erofs / virtiofs,
// the disk's size in /sys/block) and the host's file system (what the guest wrote into a share,
// and a read-only share left as it was). Until init's container request lands, everything is
// driven with busybox commands through Session::run. Skipped loudly without the cached kernel,
// QEMU, mkfs.erofs, or (for shares) root and virtiofsd.
#include <catch2/catch.hpp>
#include <crumble/vm/session.hpp>

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>

#include "guest_skip.hpp"

using namespace crumble::vm;
namespace fs = std::filesystem;

namespace {

using ms = std::chrono::duration<double, std::milli>;

void write_text(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}
std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// What every test here shares: the skip checks (once), a scratch directory, and two erofs images
// with different markers and sizes.
struct World {
  TempDir dir{"crumble-devices-test-"};
  fs::path image_a, image_b;
  World() {
    crumble::test::guest_kernel_or_skip();
    if (std::system("command -v mkfs.erofs > /dev/null 2>&1") != 0) {
      std::cout << "SKIPPED: mkfs.erofs not found (apt-get install erofs-utils)\n";
      std::exit(4);
    }
    image_a = erofs("a", "marker A", 0);
    image_b = erofs("b", "marker B", 3 << 20);  // bigger: a restore must read all of it
  }
  fs::path erofs(const std::string& name, const std::string& marker, std::size_t padding) {
    const fs::path tree = dir.path() / ("tree-" + name), img = dir.path() / (name + ".erofs");
    write_text(tree / "marker", marker + "\n");
    if (padding) {
      std::string junk(padding, '\0');
      for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>((i * 2654435761u) >> 13);
      write_text(tree / "padding", junk);
    }
    const ProcessResult r = run_process({"mkfs.erofs", "--quiet", img.string(), tree.string()}, std::chrono::seconds(60));
    INFO(r.err);
    REQUIRE(r.status == 0);
    return img;
  }
};
World& world() {
  static World w;
  return w;
}

SessionConfig container_config(const fs::path& snapshots) {
  SessionConfig c;
  c.engine = Engine::qemu;
  c.container_devices = true;
  c.snapshot_dir = snapshots;
  c.snapshot_strict = true;
  c.command_timeout = std::chrono::seconds(60);  // a guest waiting on a device that never answers fails in a minute
  return c;
}

std::string sh(Session& vm, const std::string& script) {
  const CommandResult r = vm.run({"sh", "-c", script});
  INFO(script << "\n" << r.describe() << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.status() == 0);
  return r.out;
}

// Mounts the root disk as init's container request does: its cached blocks dropped first, then erofs.
const std::string wait_disk = "i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done\n";
const std::string mount_root = wait_disk +
                               "blockdev --flushbufs /dev/vda && mkdir -p /tmp/root && mount -t erofs -o ro /dev/vda /tmp/root && "
                               "cat /tmp/root/marker && cat /sys/block/vda/size\n";
// The capacity in sectors the guest sees after a restore: the placeholder's, whatever disk is in it.
const std::string placeholder_sectors = std::to_string(crumble::vm::QemuMachine::placeholder_disk_bytes / 512);

// The key in a snapshot note ("restored from snapshot KEY", "cold boot; saved snapshot KEY").
std::string key_of(const std::string& note) {
  const auto at = note.rfind("snapshot ");
  REQUIRE(at != std::string::npos);
  return note.substr(at + 9, 64);
}

std::uint64_t sectors(const fs::path& img) { return (fs::file_size(img) + 511) / 512; }

// Our child processes (QEMU, virtiofsd, anything left by a failure), from /proc.
std::set<pid_t> children() {
  std::set<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string n = e.path().filename().string();
    if (n.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string s;
    if (!std::getline(in, s)) continue;
    const auto paren = s.rfind(')');
    if (paren == std::string::npos) continue;
    char state = 0;
    long ppid = 0;
    if (std::sscanf(s.c_str() + paren + 1, " %c %ld", &state, &ppid) == 2 && ppid == ::getpid()) out.insert(std::stoi(n));
  }
  return out;
}
// Processes anywhere whose command line mentions `needle` (a path unique to one test).
std::size_t processes_mentioning(const std::string& needle) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    const std::string cmd{std::istreambuf_iterator<char>(in), {}};
    if (cmd.find(needle) != std::string::npos) ++n;
  }
  return n;
}

void require_shares_or_skip() {
  if (::geteuid() != 0) {
    std::cout << "SKIPPED: virtio-fs shares need root (QEMU 7.2's virtiofsd runs as root)\n";
    std::exit(4);
  }
  if (::access(default_virtiofsd, X_OK) != 0) {
    std::cout << "SKIPPED: " << default_virtiofsd << " not found (apt-get install qemu-system-common)\n";
    std::exit(4);
  }
  if (std::system("command -v unshare > /dev/null 2>&1") != 0) {
    std::cout << "SKIPPED: util-linux unshare not found\n";
    std::exit(4);
  }
}

}  // namespace

TEST_CASE("a snapshot saved with the placeholder disk restores with any erofs root, under one key", "[vm][qemu][devices]") {
  World& w = world();
  const fs::path snapshots = w.dir.path() / "snapshots";

  // Cold boot with the placeholder; the snapshot is saved before any command runs.
  auto t = Clock::now();
  Session cold(container_config(snapshots));
  const double cold_ms = ms(Clock::now() - t).count();
  INFO(cold.snapshot_note());
  REQUIRE_FALSE(cold.restored());
  REQUIRE_THAT(cold.snapshot_note(), Catch::Contains("saved snapshot"));
  const std::string key = key_of(cold.snapshot_note());
  // Every container module is loaded at boot and the disk is bound to its driver before the save
  // (no bind on every container start), the placeholder as large as any root disk may be.
  const std::string loaded = sh(cold, "cat /proc/modules");
  for (const char* m : {"erofs", "overlay", "fuse", "binfmt_misc", "virtio_mmio", "virtio_blk", "virtiofs"}) CHECK_THAT(loaded, Catch::Contains(m));
  CHECK(sh(cold, "tr '\\0' '\\n' < /crumble/container-modules.list") ==
        "/crumble/container-modules/00-virtio_blk.ko\n/crumble/container-modules/01-virtiofs.ko\n");
  CHECK(sh(cold, "ls /sys/bus/virtio/devices") == "virtio0\n");
  // The placeholder: 1 TiB of zeros (QEMU's null-co driver, no file on the host), no file system.
  CHECK(sh(cold, wait_disk + "cat /sys/block/vda/size") == placeholder_sectors + "\n");
  CHECK(cold.run({"mount", "-t", "erofs", "-o", "ro", "/dev/vda", "/tmp"}).status() != 0);
  cold.shutdown();

  // Restored twice, each with another image: same key, the image's marker and size.
  for (const fs::path& img : {w.image_b, w.image_a}) {
    INFO(img);
    SessionConfig c = container_config(snapshots);
    c.root_disk = img;
    t = Clock::now();
    Session vm(c);
    const double restore_ms = ms(Clock::now() - t).count();
    INFO(vm.snapshot_note());
    REQUIRE(vm.restored());
    CHECK(key_of(vm.snapshot_note()) == key);
    t = Clock::now();
    const std::string out = sh(vm, mount_root);
    const double mount_ms = ms(Clock::now() - t).count();
    t = Clock::now();
    sh(vm, "true");
    const double true_ms = ms(Clock::now() - t).count();
    CHECK(out == (img == w.image_a ? "marker A\n" : "marker B\n") + placeholder_sectors + "\n");
    std::cout << "[measure] container_devices: cold boot + save " << cold_ms << " ms; restore " << restore_ms
              << " ms; flush + mount erofs + cat (one command) " << mount_ms << " ms (a `true` command: " << true_ms
              << " ms)\n";
  }

  // Without container devices: another guest, another key; and its restore time for comparison.
  SessionConfig plain;
  plain.engine = Engine::qemu;
  plain.snapshot_dir = snapshots;
  plain.snapshot_strict = true;
  {
    Session vm(plain);
    INFO(vm.snapshot_note());
    REQUIRE_FALSE(vm.restored());
    CHECK(key_of(vm.snapshot_note()) != key);
  }
  t = Clock::now();
  Session vm(plain);
  const double plain_ms = ms(Clock::now() - t).count();
  REQUIRE(vm.restored());
  std::cout << "[measure] without container_devices: restore " << plain_ms << " ms\n";
}

// The cold boot of a container VM with its own disk saves the snapshot with the placeholder, not
// with that disk: the driver bound at boot keeps the capacity it read, and a restore with a larger
// disk must read all of it (saved with the small disk, the larger one failed to read past its end:
// "Structure needs cleaning").
TEST_CASE("a cold boot with a small root disk saves a snapshot a larger disk restores into whole", "[vm][qemu][devices]") {
  World& w = world();
  const fs::path snapshots = w.dir.path() / "snapshots-small-first";
  SessionConfig c = container_config(snapshots);
  c.root_disk = w.image_a;  // the small one first
  {
    Session cold(c);
    INFO(cold.snapshot_note());
    CHECK_THAT(cold.snapshot_note(), Catch::Contains("saved snapshot") && Catch::Contains("restored it with the root disk"));
    CHECK(sh(cold, mount_root) == "marker A\n" + placeholder_sectors + "\n");
  }
  c.root_disk = w.image_b;
  Session vm(c);
  INFO(vm.snapshot_note());
  REQUIRE(vm.restored());
  const ProcessResult host = run_process({"sha256sum", (w.dir.path() / "tree-b" / "padding").string()}, std::chrono::seconds(60));
  const std::string want = host.out.substr(0, 64);
  CHECK(sh(vm, mount_root + "sha256sum /tmp/root/padding | cut -d' ' -f1\n") == "marker B\n" + placeholder_sectors + "\n" + want + "\n");
}

TEST_CASE("a cold boot with a root disk, a read-write and a read-only share", "[vm][qemu][devices][virtiofs]") {
  World& w = world();
  require_shares_or_skip();
  const fs::path rw = w.dir.path() / "rw", ro = w.dir.path() / "ro";
  write_text(ro / "existing", "host's\n");
  fs::create_directories(rw);
  SessionConfig c = container_config(w.dir.path() / "snapshots-shares");
  c.root_disk = w.image_a;
  c.shares = {{"vol-rw", rw, false}, {"vol.ro", ro, true}};
  auto t = Clock::now();
  Session vm(c);
  const double boot_ms = ms(Clock::now() - t).count();
  INFO(vm.snapshot_note());
  CHECK_FALSE(vm.restored());
  CHECK(vm.snapshot_note() == "cold boot: virtio-fs volumes cannot be snapshotted with QEMU 7.2");
  CHECK_FALSE(fs::exists(w.dir.path() / "snapshots-shares"));  // nothing saved, not even the directory's contents
  t = Clock::now();
  CHECK(sh(vm, mount_root) == "marker A\n" + std::to_string(sectors(w.image_a)) + "\n");
  const double mount_ms = ms(Clock::now() - t).count();

  // Read-write: what the guest writes is on the host when the command returns.
  t = Clock::now();
  sh(vm, "mkdir -p /tmp/rw /tmp/ro && mount -t virtiofs vol-rw /tmp/rw && mount -t virtiofs -o ro vol.ro /tmp/ro");
  const double share_ms = ms(Clock::now() - t).count();
  sh(vm, "printf 'from the guest\\n' > /tmp/rw/hello && mkdir /tmp/rw/sub && echo 2 > /tmp/rw/sub/two");
  CHECK(read_text(rw / "hello") == "from the guest\n");
  CHECK(read_text(rw / "sub" / "two") == "2\n");
  // ... and the guest sees the host's writes.
  write_text(rw / "from-host", "host\n");
  CHECK(sh(vm, "cat /tmp/rw/from-host") == "host\n");

  // Read-only: refused by the guest's mount flag, and still refused by the host after the guest
  // drops that flag.
  CHECK(sh(vm, "cat /tmp/ro/existing") == "host's\n");
  CHECK(vm.run({"sh", "-c", "echo x > /tmp/ro/new"}).status() != 0);
  sh(vm, "mount -o remount,rw /tmp/ro");
  CHECK_THAT(sh(vm, "grep ' /tmp/ro ' /proc/mounts"), Catch::Contains(" rw,"));
  for (const char* write : {"echo x > /tmp/ro/new", "echo y >> /tmp/ro/existing", "rm /tmp/ro/existing", "mkdir /tmp/ro/d",
                            "mv /tmp/ro/existing /tmp/ro/moved", "chmod 777 /tmp/ro/existing", "touch /tmp/ro/existing"}) {
    INFO(write);
    const CommandResult r = vm.run({"sh", "-c", write});
    CHECK(r.status() != 0);
    CHECK_THAT(r.err, Catch::Contains("Read-only file system"));
  }
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(ro)) names.insert(e.path().filename().string());
  CHECK(names == std::set<std::string>{"existing"});
  CHECK(read_text(ro / "existing") == "host's\n");
  CHECK((fs::status(ro / "existing").permissions() & fs::perms::others_write) == fs::perms::none);

  // The file servers go with the VM.
  CHECK(children().size() >= 3);  // QEMU and two virtiofsd
  vm.shutdown();
  CHECK(children().empty());
  std::cout << "[measure] shares: cold boot " << boot_ms << " ms; insmod + mount erofs " << mount_ms << " ms; mount two virtio-fs "
            << share_ms << " ms\n";
}

TEST_CASE("a share that cannot be served is a clear error and leaves no process", "[vm][qemu][devices][virtiofs]") {
  World& w = world();
  require_shares_or_skip();
  const GuestKernel k = crumble::test::guest_kernel_or_skip();
  REQUIRE(children().empty());

  SECTION("a missing host directory: refused before anything starts") {
    SessionConfig c = container_config(w.dir.path() / "snapshots-missing");
    const fs::path missing = w.dir.path() / "no-such-volume";
    c.shares = {{"vol", missing, false}};
    CHECK_THROWS_WITH(Session(c), Catch::Contains("the host directory " + missing.string() + " of share 'vol' does not exist"));
    CHECK(processes_mentioning(missing.string()) == 0);
  }
  SECTION("a share's directory that is not one name: refused before anything starts") {
    SessionConfig c = container_config(w.dir.path() / "snapshots-subdir");
    fs::create_directories(w.dir.path() / "vol");
    c.shares = {{"vol", w.dir.path() / "vol", false, "a/b"}};
    CHECK_THROWS_WITH(Session(c), Catch::Contains("share 'vol': its directory name \"a/b\" is not one file name"));
  }
  SECTION("virtiofsd itself, given a missing source: its error, the process gone") {
    const fs::path missing = w.dir.path() / "vanished-volume";
    TempDir d;
    try {
      Virtiofsd v(Share{"vol", missing, true}, d.path(), "fs0");
      FAIL("virtiofsd started without its source");
    } catch (const BootError& e) {
      CHECK_THAT(e.what(), Catch::Contains("virtiofsd for share 'vol' (" + missing.string() + ") did not start"));
      CHECK_THAT(e.what(), Catch::Contains("does not exist"));  // mount's own words, from its stderr
    }
    CHECK(processes_mentioning(missing.string()) == 0);
  }
  SECTION("a virtiofsd that fails: its stderr in the error, and QEMU never started") {
    const fs::path script = w.dir.path() / "failing-virtiofsd";
    write_text(script, "#!/bin/sh\necho 'virtiofsd: cannot serve this (test)' >&2\nexit 3\n");
    fs::permissions(script, fs::perms(0755));
    fs::create_directories(w.dir.path() / "vol");
    QemuOptions o;
    o.kernel = k.image;
    o.initramfs = {0};
    o.virtiofsd = script.string();
    o.shares = {{"vol", w.dir.path() / "vol", false}};
    try {
      QemuMachine m(o);
      FAIL("the machine started");
    } catch (const BootError& e) {
      CHECK_THAT(e.what(), Catch::Contains("did not start (exited with status 3)"));
      CHECK_THAT(e.what(), Catch::Contains("virtiofsd: cannot serve this (test)"));
    }
  }
  CHECK(children().empty());
}

TEST_CASE("two machines' file servers of the same name serve at once, and leave no pid file on the host", "[vm][qemu][devices][virtiofs]") {
  World& w = world();
  require_shares_or_skip();
  // virtiofsd names its pid-file lock after the socket path, and every machine's first share is
  // fs0.sock: two VMs with volumes at once (ctest -j2) once failed on that lock.
  const fs::path vol = w.dir.path() / "shared-by-two";
  fs::create_directories(vol);
  TempDir a, b;
  Virtiofsd first(Share{"vol", vol, false}, a.path(), "fs0");
  Virtiofsd second(Share{"vol", vol, true}, b.path(), "fs0");
  CHECK(first.running());
  CHECK(second.running());
  CHECK(fs::is_socket(a.path() / "fs0.sock"));
  CHECK(fs::is_socket(b.path() / "fs0.sock"));
  // the host's /var/run/virtiofsd holds no lock of theirs (one there is an older build's)
  std::ifstream lock("/var/run/virtiofsd/fs0.sock.pid");
  std::string locker;
  lock >> locker;
  CHECK(locker != std::to_string(first.pid()));
  CHECK(locker != std::to_string(second.pid()));
  first.stop();
  second.stop();
  CHECK(children().empty());
}

TEST_CASE("container options are refused where they cannot work", "[vm][qemu][devices]") {
  World& w = world();
  const fs::path snapshots = w.dir.path() / "snapshots-refused";
  const fs::path huge = w.dir.path() / "huge.erofs";  // sparse: one byte more than a restored guest's disk holds
  { std::ofstream(huge.string()); }
  fs::resize_file(huge, static_cast<std::uintmax_t>(QemuMachine::placeholder_disk_bytes) + 1);
  struct Row {
    const char* what;
    std::function<void(SessionConfig&)> change;
    std::string error;
  };
  const std::vector<Row> rows = {
      {"root disk without the slot", [&](SessionConfig& c) { c.container_devices = false; c.root_disk = w.image_a; },
       "a root disk was given without the root disk slot"},
      {"missing root disk", [&](SessionConfig& c) { c.root_disk = w.dir.path() / "nope.erofs"; },
       "the root disk " + (w.dir.path() / "nope.erofs").string() + " does not exist"},
      {"bad share tag", [&](SessionConfig& c) { c.shares = {{"a,b", w.dir.path(), false}}; }, "may hold only letters"},
      {"two shares, one tag", [&](SessionConfig& c) { c.shares = {{"t", w.dir.path(), false}, {"t", w.dir.path(), true}}; },
       "two virtio-fs shares have the tag 't'"},
      {"root disk larger than the placeholder", [&](SessionConfig& c) { c.root_disk = huge; }, "is larger than the 1 TiB a container's root may be"},
  };
  for (const Row& r : rows) {
    INFO(r.what);
    SessionConfig c = container_config(snapshots);
    r.change(c);
    CHECK_THROWS_WITH(Session(c), Catch::Contains(r.error));
  }
  if (::access("/dev/kvm", R_OK | W_OK) == 0) {
    SessionConfig c = container_config(snapshots);
    c.engine = Engine::kvm;
    CHECK_THROWS_WITH(Session(c), Catch::Contains("containers need the QEMU engine for now: the in-process KVM engine has no virtio devices"));
  }
  // A QEMU machine with shares is never restored (nor saved: QemuMachine::save refuses the same way).
  QemuOptions o;
  o.kernel = w.image_a;  // not looked at: refused first
  o.initramfs = {0};
  o.shares = {{"vol", w.dir.path(), false}};
  o.restore_from = w.dir.path() / "some-snapshot";
  CHECK_THROWS_WITH(QemuMachine(o), Catch::Contains("cannot be restored from a snapshot: QEMU 7.2 cannot migrate vhost-user-fs"));
  CHECK(children().empty());
}
