// tests/vm/snapshot_test.cpp — snapshots of bare microVMs (vm/snapshot.hpp, BareVm::save/restore).
//
// The oracle is the uninterrupted run: a program paused mid-computation, saved, and continued from
// the file — in a new VM, in a new process, or 100 times over — must end with exactly the output
// and status of the same program run straight through. Damaged files are refused with a message
// that names the damage.
#include <catch2/catch.hpp>
#include <crumble/crumble.hpp>
#include "kvm_skip.hpp"
#include <crumble/vm/bare.hpp>
#include <crumble/vm/process.hpp>
#include <crumble/vm/snapshot_cache.hpp>

#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

using namespace crumble::ir;

namespace {

using crumble::test::kvm_or_skip;

// xorshift over `rounds` rounds, a line of output every 10 rounds, a pause every `every` rounds,
// a buffer in the heap (mmap) updated as it goes, so registers, stack and memory all carry state
// across a pause. The pause is the syscall getppid (the IR names syscalls; BareOptions::pause_syscall
// takes its number, 110); its result is ignored, so the program runs the same without pauses.
Program with_pause(int rounds, int every) {
  Var x{"x"}, i{"i"}, heap{"heap"};
  return Program{{Function{"main", {}, {
      Assign{x, Int64{0x2545f4914f6cdd1d}},
      Assign{heap, Syscall{Sys::mmap, {Int64{0}, Int64{4096}, Int64{3}, Int64{0x22}, Int64{-1}, Int64{0}}}},
      Assign{i, 0},
      While{i < rounds, {
          Assign{x, x ^ (x << 13)}, Assign{x, x ^ shr(x, Int64{7})}, Assign{x, x ^ (x << 17)},
          store(heap, 0, 64, load(heap, 0, 64) + (x & 0xffff)),
          If{IsZero{urem(i, Int64{10})}, {Printf{"%d:%x ", {i, x}}}},
          If{IsZero{urem(i, Int64{every})}, {Syscall{Sys::getppid, {}}}},
          Assign{i, i + 1}}},
      Printf{"\nsum=%x\n", {load(heap, 0, 64)}},
      Return{x & 0x7f}}}}};
}

crumble::vm::BareOptions options(bool pausing) {
  crumble::vm::BareOptions o;
  if (pausing) o.pause_syscall = 110;
  return o;
}

crumble::vm::BareResult straight(const crumble::code::Image& img) { return crumble::vm::run_bare(img, options(false)); }

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void write_file(const std::filesystem::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }
// Rewrites the checksum after a deliberate change, so the check under test is the one that fires.
void rechecksum(std::string& s) {
  const std::uint64_t sum = crumble::vm::snapshot::fnv1a(reinterpret_cast<const std::uint8_t*>(s.data()), s.size() - 8);
  std::memcpy(s.data() + s.size() - 8, &sum, 8);
}

}  // namespace

TEST_CASE("snapshot: paused mid-computation, continued from the file in a new VM and a new process", "[vm][snapshot]") {
  kvm_or_skip();
  const auto img = crumble::assemble<crumble::arch::amd64>(with_pause(5000, 2500));
  const auto want = straight(img);
  REQUIRE(want.out.find("sum=") != std::string::npos);

  crumble::vm::TempDir dir("crumble-snap-");
  const auto file = dir.path() / "vm.snap";
  crumble::vm::BareVm vm(img, options(true));
  REQUIRE_FALSE(vm.run());  // paused at round 0
  REQUIRE_FALSE(vm.run());  // paused at round 2500: mid-computation
  const auto t0 = std::chrono::steady_clock::now();
  vm.save(file);
  const double save_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  // The memory file is sparse: most of the 64 MiB are holes.
  struct stat st {};
  REQUIRE(::stat(crumble::vm::snapshot::memory_path(file).c_str(), &st) == 0);
  CHECK(static_cast<std::uint64_t>(st.st_size) == 64u << 20);
  CHECK(static_cast<std::uint64_t>(st.st_blocks) * 512 < (4u << 20));

  // The original goes on to the end...
  REQUIRE(vm.run());
  CHECK(vm.result().out == want.out);
  CHECK(vm.result().status == want.status);

  // ...and so does a new VM made from the file.
  const auto t1 = std::chrono::steady_clock::now();
  auto restored = crumble::vm::BareVm::restore(file, options(true));
  const double restore_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
  while (!restored->run()) {
  }
  CHECK(restored->result().out == want.out);
  CHECK(restored->result().status == want.status);
  std::cout << "snapshot of a 64 MiB bare VM: save " << save_ms << " ms, restore " << restore_ms << " ms\n";

  // And in another process.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    int code = 100;
    try {
      auto child = crumble::vm::BareVm::restore(file, options(true));
      while (!child->run()) {
      }
      const std::string& out = child->result().out;
      if (::write(fds[1], out.data(), out.size()) == static_cast<ssize_t>(out.size())) code = child->result().status;
    } catch (...) {
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  std::string child_out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) child_out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == want.status);
  CHECK(child_out == want.out);
}

TEST_CASE("snapshot: 100 cycles of save, restore, continue give the uninterrupted result", "[vm][snapshot]") {
  kvm_or_skip();
  const auto img = crumble::assemble<crumble::arch::amd64>(with_pause(3000, 30));  // 100 pauses
  const auto want = straight(img);
  crumble::vm::TempDir dir("crumble-snap-");
  const auto file = dir.path() / "vm.snap";
  auto vm = std::make_unique<crumble::vm::BareVm>(img, options(true));
  int cycles = 0;
  while (!vm->run()) {
    vm->save(file);
    vm = crumble::vm::BareVm::restore(file, options(true));
    ++cycles;
  }
  CHECK(cycles == 100);
  CHECK(vm->result().out == want.out);
  CHECK(vm->result().status == want.status);
}

TEST_CASE("snapshot: damaged files are refused, each with its reason", "[vm][snapshot]") {
  kvm_or_skip();
  const auto img = crumble::assemble<crumble::arch::amd64>(with_pause(100, 50));
  crumble::vm::TempDir dir("crumble-snap-");
  const auto good = dir.path() / "good.snap";
  {
    crumble::vm::BareVm vm(img, options(true));
    REQUIRE_FALSE(vm.run());
    vm.save(good);
  }
  const std::string state = read_file(good);
  const std::string memory = read_file(crumble::vm::snapshot::memory_path(good));
  struct Row {
    const char* name;
    std::function<void(std::string& state, std::string& memory)> damage;
    const char* reason;
  };
  const std::vector<Row> rows = {
      {"a corrupt byte", [](std::string& s, std::string&) { s[s.size() / 2] ^= 0x40; }, "checksum mismatch"},
      {"a truncated state file", [](std::string& s, std::string&) { s.resize(s.size() - 100); }, "is truncated"},
      {"a truncated memory file", [](std::string&, std::string& m) { m.resize(m.size() / 2); }, "memory file"},
      {"a format version bump", [](std::string& s, std::string&) { s[16] = 2; rechecksum(s); }, "format version 2"},
      {"another architecture", [](std::string& s, std::string&) { std::memcpy(s.data() + 24, "arm64_", 6); rechecksum(s); }, "is for arm64_"},
      {"another host", [](std::string& s, std::string&) { s[34] ^= 0x20; rechecksum(s); }, "made on another host"},
      {"not a snapshot", [](std::string& s, std::string&) { s[0] = 'X'; }, "bad magic"},
  };
  for (const Row& row : rows) {
    INFO(row.name);
    std::string s = state, m = memory;
    row.damage(s, m);
    const auto file = dir.path() / "bad.snap";
    write_file(file, s);
    write_file(crumble::vm::snapshot::memory_path(file), m);
    try {
      crumble::vm::BareVm::restore(file, options(true));
      FAIL("accepted");
    } catch (const crumble::vm::SnapshotError& e) {
      CHECK_THAT(e.what(), Catch::Contains(row.reason));
    }
  }
}

TEST_CASE("snapshot cache: a miss boots cold and saves, a hit restores, a corrupt one is replaced", "[vm][snapshot][cache]") {
  kvm_or_skip();
  crumble::vm::TempDir dir("crumble-cache-");
  crumble::vm::SnapshotCache cache(dir.path() / "snapshots");
  const auto img = crumble::assemble<crumble::arch::amd64>(with_pause(400, 200));
  const auto want = straight(img);
  const std::string key = crumble::vm::SnapshotCache::key(
      {"bare", "amd64", std::string_view(reinterpret_cast<const char*>(img.bytes.data()), img.bytes.size())});
  CHECK(key.size() == 32);
  CHECK(key != crumble::vm::SnapshotCache::key({"bare", "arm64"}));
  CHECK(crumble::vm::SnapshotCache::key({"ab", "c"}) != crumble::vm::SnapshotCache::key({"a", "bc"}));

  auto finish = [&](std::unique_ptr<crumble::vm::BareVm> vm) {
    while (!vm->run()) {
    }
    CHECK(vm->result().out == want.out);
    CHECK(vm->result().status == want.status);
  };
  struct Step {
    const char* what;
    std::function<void()> before;
    bool expect_restored;
  };
  auto corrupt = [&] {
    std::string s = read_file(cache.path(key));
    s[s.size() / 2] ^= 1;
    write_file(cache.path(key), s);
  };
  const std::vector<Step> steps = {
      {"first use: a miss, cold boot, saved", [] {}, false},
      {"second use: a hit", [] {}, true},
      {"a corrupt snapshot: deleted, cold boot, saved again", corrupt, false},
      {"and then a hit again", [] {}, true},
  };
  for (const Step& step : steps) {
    INFO(step.what);
    step.before();
    bool restored = false;
    finish(crumble::vm::bare_from_cache(cache, key, img, options(true), false, &restored));
    CHECK(restored == step.expect_restored);
    CHECK(cache.is_valid(key));
  }
  // Strict mode: a corrupt snapshot is an error, not a cold boot.
  corrupt();
  CHECK_THROWS_AS(crumble::vm::bare_from_cache(cache, key, img, options(true), true), crumble::vm::SnapshotError);
  // Older than its reference (the spec's rule: a kernel newer than the snapshot) is not valid.
  cache.remove(key);
  finish(crumble::vm::bare_from_cache(cache, key, img, options(true)));
  const auto t = std::filesystem::last_write_time(cache.path(key));
  CHECK(cache.is_valid(key, t - std::chrono::seconds(1)));
  CHECK_FALSE(cache.is_valid(key, t + std::chrono::seconds(1)));
  // list and clear
  REQUIRE(cache.list().size() == 1);
  CHECK(cache.list()[0].key == key);
  CHECK(cache.clear() == 1);
  CHECK(cache.list().empty());
  CHECK_FALSE(cache.is_valid(key));
}
