// SPDX-License-Identifier: Apache-2.0
// The kept QEMU machine trees (engine/qemu/machine_tree.hpp): dumped once per QEMU binary and
// machine, kept without their boot seeds, damaged ones dumped again, and a key that misses when the
// QEMU binary changes. The cache lives in a scratch XDG_CACHE_HOME; the dumps are counted.
//
// Oracles: dtc makes the input trees from source and prints the kept ones (fdtget lists /chosen's
// properties); QEMU's own dump where qemu-system-aarch64 is installed. Skipped (exit 4) without dtc.
#include <catch2/catch.hpp>
#include <crumble/vm/engine/qemu/machine.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "scratch_dir.hpp"

namespace fs = std::filesystem;
using crumble::test::quote;
using crumble::test::shell;
using crumble::test::ScratchDir;
using namespace crumble::vm;

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}
void require_dtc() {
  if (std::system("command -v dtc > /dev/null 2>&1 && command -v fdtget > /dev/null 2>&1") != 0) {
    std::printf("SKIPPED: dtc/fdtget not found (install device-tree-compiler: scripts/setup.sh)\n");
    std::exit(4);
  }
}

// A scratch cache directory for the test's life (XDG_CACHE_HOME), the old value put back after.
struct ScratchCache {
  ScratchDir dir{"crumble-machine-tree"};
  std::string old;
  bool had;
  ScratchCache() {
    const char* o = std::getenv("XDG_CACHE_HOME");
    had = o != nullptr;
    if (had) old = o;
    ::setenv("XDG_CACHE_HOME", dir.path.c_str(), 1);
  }
  ~ScratchCache() {
    if (had) ::setenv("XDG_CACHE_HOME", old.c_str(), 1);
    else ::unsetenv("XDG_CACHE_HOME");
  }
  fs::path trees() const { return dir.path / "crumble/machine-trees"; }
};

// A machine's tree as QEMU dumps one: /chosen with its one-time seeds.
Bytes seeded_tree(const ScratchDir& d, std::uint32_t seed) {
  char dts[1024];
  std::snprintf(dts, sizeof dts, R"(/dts-v1/;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	memory@40000000 { device_type = "memory"; reg = <0 0x40000000 0 0x10000000>; };
	chosen { stdout-path = "/pl011@9000000"; rng-seed = <0x%x 1 2 3 4 5 6 7>; kaslr-seed = <0x%x 9>; };
};
)", seed, seed);
  std::ofstream(d.path / "in.dts") << dts;
  shell("dtc -q -I dts -O dtb -o " + quote((d.path / "in.dtb").string()) + " " + quote((d.path / "in.dts").string()));
  return read_file(d.path / "in.dtb");
}

}  // namespace

TEST_CASE("machine_tree: dumped once per key, kept without its seeds, the same tree on a hit as on the miss") {
  require_dtc();
  ScratchCache cache;
  int dumps = 0;
  auto dump = [&] {
    ++dumps;
    return seeded_tree(cache.dir, 0x1000 + static_cast<std::uint32_t>(dumps));  // QEMU's seeds differ at every dump
  };
  struct Row {
    std::string key;
    bool hit;
    int dumps_after;
  };
  const Row rows[] = {
      {"qemu A machine virt memory 256M smp 1", false, 1},
      {"qemu A machine virt memory 256M smp 1", true, 1},
      {"qemu A machine virt memory 512M smp 1", false, 2},
      {"qemu B machine virt memory 256M smp 1", false, 3},
      {"qemu A machine virt memory 256M smp 1", true, 3},
  };
  Bytes first;
  for (const Row& r : rows) {
    INFO(r.key);
    bool hit = !r.hit;
    const Bytes tree = qemu::machine_tree(r.key, dump, &hit);
    CHECK(hit == r.hit);
    CHECK(dumps == r.dumps_after);
    const fs::path kept = *qemu::machine_tree_path(r.key);
    CHECK(read_file(kept) == tree);
    CHECK(shell("fdtget -p " + quote(kept.string()) + " /chosen") == "stdout-path\n");
    if (r.key == rows[0].key) {
      if (first.empty()) first = tree;
      CHECK(tree == first);
    }
  }
  CHECK(std::distance(fs::directory_iterator(cache.trees()), fs::directory_iterator{}) == 3);
}

TEST_CASE("machine_tree: a damaged kept tree is dumped again, a bad dump refused and not kept, no cache directory no error") {
  require_dtc();
  ScratchCache cache;
  int dumps = 0;
  auto dump = [&] {
    ++dumps;
    return seeded_tree(cache.dir, 7);
  };
  const std::string key = "qemu A machine virt";
  const Bytes good = qemu::machine_tree(key, dump);
  const fs::path kept = *qemu::machine_tree_path(key);
  {
    std::ofstream cut(kept, std::ios::binary | std::ios::trunc);
    cut.write(reinterpret_cast<const char*>(good.data()), static_cast<std::streamsize>(good.size() / 2));
  }
  bool hit = true;
  CHECK(qemu::machine_tree(key, dump, &hit) == good);
  CHECK_FALSE(hit);
  CHECK(dumps == 2);
  CHECK(read_file(kept) == good);

  // QEMU's dump cut short: refused (DeviceTreeError), nothing kept.
  const std::string other = "qemu B machine virt";
  auto truncated = [&] {
    Bytes t = seeded_tree(cache.dir, 8);
    t.resize(t.size() / 3);
    return t;
  };
  CHECK_THROWS_AS(qemu::machine_tree(other, truncated), DeviceTreeError);
  CHECK_FALSE(fs::exists(*qemu::machine_tree_path(other)));

  // Neither XDG_CACHE_HOME nor HOME: every start dumps.
  const char* home = std::getenv("HOME");
  const std::string saved_home = home ? home : "";
  ::unsetenv("XDG_CACHE_HOME");
  ::unsetenv("HOME");
  CHECK_FALSE(qemu::machine_tree_path(key).has_value());
  CHECK(qemu::machine_tree(key, dump) == good);
  CHECK(qemu::machine_tree(key, dump) == good);
  CHECK(dumps == 4);
  if (home) ::setenv("HOME", saved_home.c_str(), 1);
  ::setenv("XDG_CACHE_HOME", cache.dir.path.c_str(), 1);
}

TEST_CASE("machine_tree_key: a new QEMU binary (size or mtime), memory, vCPUs, CPU or architecture each make another key") {
  ScratchDir d{"crumble-machine-tree"};
  const fs::path fake = d.path / "qemu-system-aarch64";
  std::ofstream(fake) << "#!/bin/sh\n";
  QemuOptions o;
  o.arch = GuestArch::arm64;
  o.binary = fake.string();
  const std::string base = QemuMachine::machine_tree_key(o);
  CHECK(QemuMachine::machine_tree_key(o) == base);
  auto differs = [&](auto&& change) {
    QemuOptions c = o;
    change(c);
    return QemuMachine::machine_tree_key(c) != base;
  };
  CHECK(differs([](QemuOptions& c) { c.memory_mib = 512; }));
  CHECK(differs([](QemuOptions& c) { c.vcpus = 2; }));
  CHECK(differs([](QemuOptions& c) { c.arm64_cpu = "max"; }));
  CHECK(differs([](QemuOptions& c) { c.arch = GuestArch::riscv64; c.binary = QemuOptions{}.binary; }));
  // the upgrade: same path, other mtime; then other size
  const timespec times[2] = {{0, UTIME_OMIT}, {1000000000, 0}};
  REQUIRE(::utimensat(AT_FDCWD, fake.c_str(), times, 0) == 0);
  const std::string touched = QemuMachine::machine_tree_key(o);
  CHECK(touched != base);
  std::ofstream(fake, std::ios::app) << "# 7.2.1\n";
  REQUIRE(::utimensat(AT_FDCWD, fake.c_str(), times, 0) == 0);
  CHECK(QemuMachine::machine_tree_key(o) != touched);
}

TEST_CASE("machine_tree: QEMU's own virt tree kept, without the rng-seed and kaslr-seed it dumped") {
  require_dtc();
  if (std::system("command -v qemu-system-aarch64 > /dev/null 2>&1") != 0) {
    std::printf("SKIPPED: qemu-system-aarch64 not found (install qemu-system-arm)\n");
    std::exit(4);
  }
  ScratchCache cache;
  auto dump = [&] {
    shell("cd " + quote(cache.dir.path.string()) +
          " && qemu-system-aarch64 -M virt,gic-version=3,dumpdtb=virt.dtb -cpu cortex-a72 -m 256 -nographic -nodefaults 2>&1");
    return read_file(cache.dir.path / "virt.dtb");
  };
  const Bytes dumped = dump();
  std::ofstream(cache.dir.path / "dumped.dtb", std::ios::binary).write(reinterpret_cast<const char*>(dumped.data()),
                                                                        static_cast<std::streamsize>(dumped.size()));
  const std::string chosen = shell("fdtget -p " + quote((cache.dir.path / "dumped.dtb").string()) + " /chosen");
  CHECK(chosen.find("rng-seed\n") != std::string::npos);  // what there is to strip
  CHECK(chosen.find("kaslr-seed\n") != std::string::npos);
  qemu::machine_tree("virt key", dump);
  const fs::path kept = *qemu::machine_tree_path("virt key");
  std::string without = chosen;
  for (const char* p : {"rng-seed\n", "kaslr-seed\n"}) without.erase(without.find(p), std::string(p).size());
  CHECK(shell("fdtget -p " + quote(kept.string()) + " /chosen") == without);
  CHECK(shell("fdtget -l " + quote(kept.string()) + " /") == shell("fdtget -l " + quote((cache.dir.path / "dumped.dtb").string()) + " /"));
}
