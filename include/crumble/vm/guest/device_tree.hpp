// SPDX-License-Identifier: Apache-2.0
// crumble/vm/guest/device_tree.hpp — the device tree an ARM64 or RISC-V guest boots with: the
// machine's own tree (QEMU's `-machine dumpdtb=FILE`; later a KVM engine's) with what crumble adds:
//
//   /initx-mailbox@ADDR   compatible = "tinyrange,initx-mailbox"; reg = <ADDR 0x1000>;
//   /initx-config@ADDR    compatible = "tinyrange,initx-config";  reg = <ADDR 0x400000>;
//   /reserved-memory/crumble-window@ADDR { reg = <ADDR SIZE>; no-map; }
//                         the shared window (mailbox and config) taken out of the kernel's RAM:
//                         never allocated, never in its linear map, so init reaches it through
//                         /dev/mem (iomem=relaxed) and sees what the host writes
//   /chosen               bootargs, linux,initrd-start and linux,initrd-end, and rng-seed when given
//                         (fresh random bytes for the kernel's pool at each boot: the machine's tree
//                         may be a cached one, its own seeds removed by without_boot_seeds)
//
// Engine-independent: bytes in, bytes out, through libfdt (dtc's library). The input tree is
// checked whole first (fdt_check_full: header, blocks, every tag and name inside the buffer), so
// a truncated or damaged tree from the machine is refused with DeviceTreeError naming what is
// wrong, never read past its end. Addresses and sizes are written with the root's #address-cells
// and #size-cells, as the nodes are the root's children.
#pragma once

#include <libfdt.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "../errors.hpp"

namespace crumble::vm {

// A device tree that cannot be read or built.
struct DeviceTreeError : VmError {
  using VmError::VmError;
};

// What build_device_tree adds to the machine's tree.
struct DeviceTreeAdditions {
  std::uint64_t mailbox_address = 0, mailbox_size = 0x1000;
  std::uint64_t config_address = 0, config_size = 0x400000;
  std::uint64_t window_address = 0, window_size = 0;  // reserved, no-map; must hold both regions
  std::string bootargs;
  std::optional<std::uint64_t> initrd_start, initrd_end;  // both or neither; [start, end)
  std::vector<std::uint8_t> rng_seed;  // /chosen rng-seed (empty: the machine's own, if any, stays)
};

namespace detail {

inline std::string hex(std::uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(v));
  return b;
}

// Throws DeviceTreeError for a libfdt error code (negative), saying what was being done.
inline int fdt_ok(int r, const std::string& doing) {
  if (r < 0) throw DeviceTreeError("device tree: cannot " + doing + ": " + fdt_strerror(r));
  return r;
}

// A reg property of (address, size) in `cells` 32-bit cells each, big-endian, as a node of a
// parent with these #address-cells and #size-cells has it.
inline std::vector<std::uint8_t> reg_cells(std::uint64_t address, std::uint64_t size, int address_cells, int size_cells) {
  std::vector<std::uint8_t> out;
  auto put = [&](std::uint64_t v, int cells, const char* what) {
    if (cells < 2 && v > 0xffffffffu)
      throw DeviceTreeError("device tree: the " + std::string(what) + " 0x" + hex(v) + " does not fit the root's " +
                            std::to_string(cells) + " cell(s)");
    for (int c = cells - 1; c >= 0; --c) {
      const std::uint32_t word = c >= 2 ? 0 : static_cast<std::uint32_t>(v >> (32 * c));
      for (int b = 3; b >= 0; --b) out.push_back(static_cast<std::uint8_t>(word >> (8 * b)));
    }
  };
  put(address, address_cells, "address");
  put(size, size_cells, "size");
  return out;
}

}  // namespace detail

// Checks a flattened device tree whole: the header's magic, its totalsize within `tree`, and
// every block, tag and name (fdt_check_full). Throws DeviceTreeError saying what is wrong.
inline void check_device_tree(std::span<const std::uint8_t> tree) {
  if (tree.size() < sizeof(fdt_header))
    throw DeviceTreeError("device tree: truncated: " + std::to_string(tree.size()) + " bytes is less than its " +
                          std::to_string(sizeof(fdt_header)) + "-byte header");
  if (fdt_magic(tree.data()) != FDT_MAGIC)
    throw DeviceTreeError("device tree: not a flattened device tree (magic 0x" + detail::hex(fdt_magic(tree.data())) + ", expected 0x" +
                          detail::hex(FDT_MAGIC) + ")");
  if (fdt_totalsize(tree.data()) > tree.size())
    throw DeviceTreeError("device tree: truncated: its header says " + std::to_string(fdt_totalsize(tree.data())) + " bytes, there are " +
                          std::to_string(tree.size()));
  if (int r = fdt_check_full(tree.data(), tree.size()); r < 0)
    throw DeviceTreeError(std::string("device tree: malformed: ") + fdt_strerror(r));
}

// The machine's tree with crumble's additions (the top of this file), packed. The input is checked
// whole first; a tree that already has an initx node, or additions that do not fit (a region
// outside the window, an initrd whose end is before its start), throw DeviceTreeError.
inline std::vector<std::uint8_t> build_device_tree(std::span<const std::uint8_t> machine_tree, const DeviceTreeAdditions& add) {
  check_device_tree(machine_tree);
  auto inside_window = [&](std::uint64_t at, std::uint64_t size) {
    return at >= add.window_address && size <= add.window_size && at - add.window_address <= add.window_size - size;
  };
  if (add.window_size == 0) throw DeviceTreeError("device tree: no shared window to reserve (window_size is 0)");
  if (!inside_window(add.mailbox_address, add.mailbox_size) || !inside_window(add.config_address, add.config_size))
    throw DeviceTreeError("device tree: the mailbox or config region lies outside the shared window 0x" + detail::hex(add.window_address) +
                          "+0x" + detail::hex(add.window_size));
  if (add.initrd_start.has_value() != add.initrd_end.has_value() || (add.initrd_start && *add.initrd_end < *add.initrd_start))
    throw DeviceTreeError("device tree: the initrd needs a start and an end, the end not before the start");

  // Room for what is added: the nodes and their names, and the command line.
  const std::size_t room = fdt_totalsize(machine_tree.data()) + 4096 + add.bootargs.size();
  std::vector<std::uint8_t> buf(room);
  void* fdt = buf.data();
  detail::fdt_ok(fdt_open_into(machine_tree.data(), fdt, static_cast<int>(buf.size())), "open the machine's tree");
  const int ac = detail::fdt_ok(fdt_address_cells(fdt, 0), "read the root's #address-cells");
  const int sc = detail::fdt_ok(fdt_size_cells(fdt, 0), "read the root's #size-cells");
  if (ac < 1 || ac > 2 || sc < 1 || sc > 2)
    throw DeviceTreeError("device tree: the root's #address-cells (" + std::to_string(ac) + ") or #size-cells (" + std::to_string(sc) +
                          ") is not 1 or 2");
  auto set_reg = [&](int node, std::uint64_t at, std::uint64_t size, const std::string& name) {
    const std::vector<std::uint8_t> reg = detail::reg_cells(at, size, ac, sc);
    detail::fdt_ok(fdt_setprop(fdt, node, "reg", reg.data(), static_cast<int>(reg.size())), "set reg of " + name);
  };
  auto region = [&](const char* name, const char* compatible, std::uint64_t at, std::uint64_t size) {
    const std::string node_name = std::string(name) + "@" + detail::hex(at);
    const int node = fdt_add_subnode(fdt, 0, node_name.c_str());
    if (node == -FDT_ERR_EXISTS) throw DeviceTreeError("device tree: the machine's tree already has /" + node_name);
    detail::fdt_ok(node, "add /" + node_name);
    detail::fdt_ok(fdt_setprop_string(fdt, node, "compatible", compatible), "set compatible of /" + node_name);
    set_reg(node, at, size, "/" + node_name);
    detail::fdt_ok(fdt_setprop_string(fdt, node, "status", "okay"), "set status of /" + node_name);
  };
  region("initx-mailbox", "tinyrange,initx-mailbox", add.mailbox_address, add.mailbox_size);
  region("initx-config", "tinyrange,initx-config", add.config_address, add.config_size);

  // /reserved-memory (made when the machine has none) with the window, no-map.
  int reserved = fdt_path_offset(fdt, "/reserved-memory");
  if (reserved == -FDT_ERR_NOTFOUND) {
    reserved = detail::fdt_ok(fdt_add_subnode(fdt, 0, "reserved-memory"), "add /reserved-memory");
    detail::fdt_ok(fdt_setprop_u32(fdt, reserved, "#address-cells", static_cast<std::uint32_t>(ac)), "set /reserved-memory's #address-cells");
    detail::fdt_ok(fdt_setprop_u32(fdt, reserved, "#size-cells", static_cast<std::uint32_t>(sc)), "set /reserved-memory's #size-cells");
    detail::fdt_ok(fdt_setprop_empty(fdt, reserved, "ranges"), "set /reserved-memory's ranges");
  } else {
    detail::fdt_ok(reserved, "find /reserved-memory");
    if (fdt_address_cells(fdt, reserved) != ac || fdt_size_cells(fdt, reserved) != sc)
      throw DeviceTreeError("device tree: the machine's /reserved-memory has other #address-cells/#size-cells than the root");
  }
  const std::string window_name = "crumble-window@" + detail::hex(add.window_address);
  const int window = fdt_add_subnode(fdt, reserved, window_name.c_str());
  if (window == -FDT_ERR_EXISTS) throw DeviceTreeError("device tree: the machine's tree already has /reserved-memory/" + window_name);
  detail::fdt_ok(window, "add /reserved-memory/" + window_name);
  set_reg(window, add.window_address, add.window_size, "/reserved-memory/" + window_name);
  detail::fdt_ok(fdt_setprop_empty(fdt, window, "no-map"), "set no-map of the window");

  // /chosen: what the kernel is told; the machine's own bootargs (none from a dump) are replaced.
  int chosen = fdt_path_offset(fdt, "/chosen");
  if (chosen == -FDT_ERR_NOTFOUND) chosen = fdt_add_subnode(fdt, 0, "chosen");
  detail::fdt_ok(chosen, "find or add /chosen");
  detail::fdt_ok(fdt_setprop_string(fdt, chosen, "bootargs", add.bootargs.c_str()), "set bootargs");
  if (!add.rng_seed.empty())
    detail::fdt_ok(fdt_setprop(fdt, chosen, "rng-seed", add.rng_seed.data(), static_cast<int>(add.rng_seed.size())), "set rng-seed");
  if (add.initrd_start) {
    detail::fdt_ok(fdt_setprop_u64(fdt, chosen, "linux,initrd-start", *add.initrd_start), "set linux,initrd-start");
    detail::fdt_ok(fdt_setprop_u64(fdt, chosen, "linux,initrd-end", *add.initrd_end), "set linux,initrd-end");
  } else {
    fdt_delprop(fdt, chosen, "linux,initrd-start");  // absent is fine: a machine's stale initrd must not stay
    fdt_delprop(fdt, chosen, "linux,initrd-end");
  }

  detail::fdt_ok(fdt_pack(fdt), "pack the tree");
  buf.resize(fdt_totalsize(fdt));
  return buf;
}

// The tree without /chosen's rng-seed and kaslr-seed: the random bytes a machine put there for one
// boot, which a tree kept for later boots must not hand to every one of them. Checked whole first,
// as build_device_tree does; a tree without them comes back as it was (packed).
inline std::vector<std::uint8_t> without_boot_seeds(std::span<const std::uint8_t> tree) {
  check_device_tree(tree);
  std::vector<std::uint8_t> out(tree.begin(), tree.begin() + fdt_totalsize(tree.data()));
  void* fdt = out.data();
  if (const int chosen = fdt_path_offset(fdt, "/chosen"); chosen >= 0)
    for (const char* seed : {"rng-seed", "kaslr-seed"})
      if (const int r = fdt_delprop(fdt, chosen, seed); r != -FDT_ERR_NOTFOUND) detail::fdt_ok(r, std::string("remove /chosen/") + seed);
  detail::fdt_ok(fdt_pack(fdt), "pack the tree");
  out.resize(fdt_totalsize(fdt));
  return out;
}

}  // namespace crumble::vm
