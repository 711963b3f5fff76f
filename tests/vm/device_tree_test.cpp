// SPDX-License-Identifier: Apache-2.0
// The device-tree builder (guest/device_tree.hpp): crumble's nodes added to a machine's tree, read
// back by dtc's own tools, and damaged trees refused.
//
// Oracles: dtc (`dtc -I dts -O dtb` makes the input trees from source, `dtc -I dtb -O dts` prints
// the result) and fdtget (each property's cells), both from Debian's device-tree-compiler; QEMU's
// own virt tree (`-machine dumpdtb=`) where qemu-system-aarch64 is installed. Without dtc the tests
// are skipped (exit 4).
#include <catch2/catch.hpp>
#include <crumble/vm/guest/device_tree.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "scratch_dir.hpp"

namespace fs = std::filesystem;
using crumble::test::quote;
using crumble::test::shell;
using crumble::test::ScratchDir;
using namespace crumble::vm;
using Catch::Matchers::Contains;

namespace {

using Bytes = std::vector<std::uint8_t>;

void require_dtc() {
  if (std::system("command -v dtc > /dev/null 2>&1 && command -v fdtget > /dev/null 2>&1") != 0) {
    std::printf("SKIPPED: dtc/fdtget not found (install device-tree-compiler: scripts/setup.sh)\n");
    std::exit(4);
  }
}
void write_file(const fs::path& p, const Bytes& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  REQUIRE(f.good());
}
Bytes read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DeviceTreeError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("(not a DeviceTreeError) ") + e.what();
  }
  return "(no error)";
}

// A tree compiled by dtc from source: the independent maker of inputs.
Bytes compile(const ScratchDir& d, const std::string& dts) {
  std::ofstream(d.path / "in.dts") << dts;
  shell("dtc -q -I dts -O dtb -o " + quote((d.path / "in.dtb").string()) + " " + quote((d.path / "in.dts").string()));
  return read_file(d.path / "in.dtb");
}

// A machine like QEMU's virt, in 2 address and 2 size cells, with RAM at 1 GiB.
const char* virt_like = R"(/dts-v1/;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	compatible = "linux,dummy-virt";
	memory@40000000 { device_type = "memory"; reg = <0 0x40000000 0 0x10000000>; };
	pl011@9000000 { compatible = "arm,pl011", "arm,primecell"; reg = <0 0x9000000 0 0x1000>; };
	chosen { stdout-path = "/pl011@9000000"; bootargs = "left over"; };
};
)";

DeviceTreeAdditions additions() {
  DeviceTreeAdditions a;
  a.window_address = 0x48000000, a.window_size = 0x800000;
  a.mailbox_address = 0x48000000;
  a.config_address = 0x48100000;
  a.bootargs = "console=ttyAMA0 iomem=relaxed rdinit=/init";
  a.initrd_start = 0x4f000000, a.initrd_end = 0x4f123456;
  return a;
}

// fdtget's view of one property: cells in hex ("0 48000000 0 1000") or a string.
std::string fdtget(const fs::path& dtb, const std::string& node, const std::string& prop, const char* type = "x") {
  std::string out = shell("fdtget -t " + std::string(type) + " " + quote(dtb.string()) + " " + quote(node) + " " + quote(prop));
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

TEST_CASE("build_device_tree: the initx nodes, the reserved window and /chosen, as dtc and fdtget read them") {
  require_dtc();
  ScratchDir d{"crumble-dt-test"};
  const Bytes out = build_device_tree(compile(d, virt_like), additions());
  const fs::path dtb = d.path / "out.dtb";
  write_file(dtb, out);
  struct Row {
    const char* node;
    const char* prop;
    const char* type;
    std::string expected;
  };
  const Row rows[] = {
      {"/initx-mailbox@48000000", "compatible", "s", "tinyrange,initx-mailbox"},
      {"/initx-mailbox@48000000", "reg", "x", "0 48000000 0 1000"},
      {"/initx-mailbox@48000000", "status", "s", "okay"},
      {"/initx-config@48100000", "compatible", "s", "tinyrange,initx-config"},
      {"/initx-config@48100000", "reg", "x", "0 48100000 0 400000"},
      {"/reserved-memory", "#address-cells", "x", "2"},
      {"/reserved-memory", "#size-cells", "x", "2"},
      {"/reserved-memory/crumble-window@48000000", "reg", "x", "0 48000000 0 800000"},
      {"/chosen", "bootargs", "s", "console=ttyAMA0 iomem=relaxed rdinit=/init"},
      {"/chosen", "linux,initrd-start", "x", "0 4f000000"},
      {"/chosen", "linux,initrd-end", "x", "0 4f123456"},
      {"/chosen", "stdout-path", "s", "/pl011@9000000"},  // the machine's own properties stay
      {"/memory@40000000", "reg", "x", "0 40000000 0 10000000"},
  };
  for (const Row& r : rows) {
    INFO(r.node << " " << r.prop);
    CHECK(fdtget(dtb, r.node, r.prop, r.type) == r.expected);
  }
  // no-map is an empty property: present in dtc's source form.
  const std::string dts = shell("dtc -q -I dtb -O dts " + quote(dtb.string()));
  const std::size_t window = dts.find("crumble-window@48000000 {");
  REQUIRE(window != std::string::npos);
  const std::string window_node = dts.substr(window, dts.find("};", window) - window);
  CHECK_THAT(window_node, Contains("\t\t\tno-map;\n") && Contains("\t\t\treg = <0x00 0x48000000 0x00 0x800000>;\n"));
  CHECK_THAT(dts, Contains("ranges;"));
  CHECK(dts.find("left over") == std::string::npos);
  CHECK(out.size() < 4096);  // packed
}

TEST_CASE("build_device_tree: one address cell and one size cell, an existing /reserved-memory, no initrd") {
  require_dtc();
  ScratchDir d{"crumble-dt-test"};
  const Bytes in = compile(d, R"(/dts-v1/;
/ {
	#address-cells = <1>;
	#size-cells = <1>;
	memory@80000000 { device_type = "memory"; reg = <0x80000000 0x10000000>; };
	reserved-memory { #address-cells = <1>; #size-cells = <1>; ranges; firmware@80000000 { reg = <0x80000000 0x40000>; no-map; }; };
	chosen { linux,initrd-start = <0x1000>; linux,initrd-end = <0x2000>; };
};
)");
  DeviceTreeAdditions a = additions();
  a.window_address = 0x88000000, a.mailbox_address = 0x88000000, a.config_address = 0x88100000;
  a.initrd_start.reset(), a.initrd_end.reset();
  const fs::path dtb = d.path / "out.dtb";
  write_file(dtb, build_device_tree(in, a));
  CHECK(fdtget(dtb, "/initx-mailbox@88000000", "reg") == "88000000 1000");
  CHECK(fdtget(dtb, "/initx-config@88100000", "reg") == "88100000 400000");
  CHECK(fdtget(dtb, "/reserved-memory/crumble-window@88000000", "reg") == "88000000 800000");
  CHECK(fdtget(dtb, "/reserved-memory/firmware@80000000", "reg") == "80000000 40000");  // kept
  CHECK_THAT(shell("fdtget -p " + quote(dtb.string()) + " /chosen"), !Contains("linux,initrd"));
  CHECK(fdtget(dtb, "/chosen", "bootargs", "s") == a.bootargs);
  // An address above 4 GiB does not fit one cell.
  a.window_address = 0x100000000, a.mailbox_address = 0x100000000, a.config_address = 0x100100000;
  CHECK(error_of([&] { build_device_tree(in, a); }) == "device tree: the address 0x100000000 does not fit the root's 1 cell(s)");
}

TEST_CASE("build_device_tree: damaged input trees and impossible additions are refused, each with its reason") {
  require_dtc();
  ScratchDir d{"crumble-dt-test"};
  const Bytes good = compile(d, virt_like);
  Bytes bad_magic = good;
  bad_magic[0] ^= 0xff;
  Bytes cut = good;
  cut.resize(good.size() / 2);
  Bytes bad_struct = good;  // the structure block's first tag (FDT_BEGIN_NODE) made an unknown one
  const std::uint32_t struct_at = (std::uint32_t{good[8]} << 24) | (std::uint32_t{good[9]} << 16) | (good[10] << 8) | good[11];
  bad_struct[struct_at + 3] = 0x7f;
  Bytes past_end = good;  // the strings block said to run past the tree's end
  past_end[32 + 3] = 0xff, past_end[32 + 2] = 0xff;  // size_dt_strings (header offset 32)
  struct Row {
    const char* what;
    Bytes bytes;
    std::string expected;
  };
  const Row rows[] = {
      {"empty", Bytes{}, "device tree: truncated: 0 bytes is less than its 40-byte header"},
      {"header cut", Bytes(good.begin(), good.begin() + 20), "device tree: truncated: 20 bytes is less than its 40-byte header"},
      {"bad magic", bad_magic, "device tree: not a flattened device tree (magic 0x2f0dfeed, expected 0xd00dfeed)"},
      {"cut in half", cut,
       "device tree: truncated: its header says " + std::to_string(good.size()) + " bytes, there are " + std::to_string(cut.size())},
      {"unknown structure tag", bad_struct, "device tree: malformed: FDT_ERR_BADSTRUCTURE"},
      {"strings past the end", past_end, "device tree: malformed: FDT_ERR_TRUNCATED"},
  };
  for (const Row& r : rows) {
    INFO(r.what);
    CHECK(error_of([&] { build_device_tree(r.bytes, additions()); }) == r.expected);
  }
  DeviceTreeAdditions outside = additions();
  outside.config_address = 0x48700000;  // 4 MiB from 7 MiB runs past the 8 MiB window
  CHECK_THAT(error_of([&] { build_device_tree(good, outside); }), Contains("lies outside the shared window 0x48000000+0x800000"));
  DeviceTreeAdditions backwards = additions();
  backwards.initrd_end = 0x1000;
  CHECK_THAT(error_of([&] { build_device_tree(good, backwards); }), Contains("the end not before the start"));
  // Built twice: the second sees the nodes the first added.
  const Bytes once = build_device_tree(good, additions());
  CHECK(error_of([&] { build_device_tree(once, additions()); }) == "device tree: the machine's tree already has /initx-mailbox@48000000");
}

TEST_CASE("build_device_tree: QEMU's own virt tree (dumpdtb) takes the additions") {
  require_dtc();
  if (std::system("command -v qemu-system-aarch64 > /dev/null 2>&1") != 0) {
    std::printf("SKIPPED: qemu-system-aarch64 not found (install qemu-system-arm)\n");
    std::exit(4);
  }
  ScratchDir d{"crumble-dt-test"};
  const fs::path dumped = d.path / "virt.dtb";
  shell("cd " + quote(d.path.string()) + " && qemu-system-aarch64 -M virt,gic-version=3,dumpdtb=virt.dtb -cpu cortex-a72 -m 256 -nographic -nodefaults 2>&1");
  const Bytes machine = read_file(dumped);
  const fs::path dtb = d.path / "out.dtb";
  write_file(dtb, build_device_tree(machine, additions()));
  CHECK(fdtget(dtb, "/initx-mailbox@48000000", "reg") == "0 48000000 0 1000");
  CHECK(fdtget(dtb, "/reserved-memory/crumble-window@48000000", "reg") == "0 48000000 0 800000");
  CHECK(fdtget(dtb, "/chosen", "bootargs", "s") == additions().bootargs);
  CHECK(fdtget(dtb, "/memory@40000000", "reg") == "0 40000000 0 10000000");
  // QEMU's truncated dump is refused.
  CHECK_THAT(error_of([&] { build_device_tree(std::span(machine).first(machine.size() / 3), additions()); }),
             Contains("device tree: truncated: its header says"));
}

TEST_CASE("without_boot_seeds: /chosen's rng-seed and kaslr-seed removed, everything else as dtc printed it before") {
  require_dtc();
  ScratchDir d{"crumble-dt-test"};
  const std::string seeded = R"(/dts-v1/;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	memory@40000000 { device_type = "memory"; reg = <0 0x40000000 0 0x10000000>; };
	chosen {
		stdout-path = "/pl011@9000000";
		rng-seed = <0xd3acadce 0x498d522c 0xfc2d44a0 0x898f6ee7 0x27e3ff99 0xbab1d51e 0xbe4dbff6 0xe2bf3a8e>;
		kaslr-seed = <0x6352bcf9 0x91a0376d>;
	};
};
)";
  std::string unseeded = seeded;
  for (const char* prop : {"\t\trng-seed", "\t\tkaslr-seed"}) {
    const auto at = unseeded.find(prop);
    unseeded.erase(at, unseeded.find('\n', at) + 1 - at);
  }
  auto dts = [&](const Bytes& tree) {
    write_file(d.path / "t.dtb", tree);
    return shell("dtc -q -I dtb -O dts " + quote((d.path / "t.dtb").string()));
  };
  const Bytes stripped = without_boot_seeds(compile(d, seeded));
  CHECK(dts(stripped) == dts(compile(d, unseeded)));
  write_file(d.path / "s.dtb", stripped);
  CHECK(shell("fdtget -p " + quote((d.path / "s.dtb").string()) + " /chosen") == "stdout-path\n");
  // A tree without them (or without /chosen) is the same tree.
  CHECK(dts(without_boot_seeds(compile(d, unseeded))) == dts(compile(d, unseeded)));
  CHECK(dts(without_boot_seeds(compile(d, virt_like))) == dts(compile(d, virt_like)));
  // A damaged tree is refused as build_device_tree refuses it.
  const Bytes whole = compile(d, seeded);
  CHECK_THAT(error_of([&] { without_boot_seeds(std::span(whole).first(whole.size() / 2)); }), Contains("device tree: truncated"));
}

TEST_CASE("build_device_tree: a given rng-seed is /chosen's, byte for byte, in place of the machine's") {
  require_dtc();
  ScratchDir d{"crumble-dt-test"};
  DeviceTreeAdditions a = additions();
  for (std::uint8_t i = 1; i <= 32; ++i) a.rng_seed.push_back(i);
  const std::string with_seed = std::string(virt_like).replace(std::string(virt_like).find("bootargs"), 0, "rng-seed = <0xdeadbeef>; ");
  for (const std::string& machine : {std::string(virt_like), with_seed}) {
    INFO(machine);
    const fs::path dtb = d.path / "out.dtb";
    write_file(dtb, build_device_tree(compile(d, machine), a));
    CHECK(fdtget(dtb, "/chosen", "rng-seed", "bx") == "1 2 3 4 5 6 7 8 9 a b c d e f 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f 20");
  }
}
