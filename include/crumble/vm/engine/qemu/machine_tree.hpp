// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/qemu/machine_tree.hpp — QEMU's own device tree for a `virt` machine
// (`-machine dumpdtb=`), kept between starts.
//
// Every start of an ARM64 or RISC-V guest, cold or restored, needs the machine's tree to add
// crumble's nodes to (device_tree.hpp), and dumping it runs QEMU once more: about 150 ms here.
// The tree depends only on the QEMU binary and the machine's options, so it is kept under
// <cache>/machine-trees/<key>.dtb, the key a hash of a description that holds everything it
// depends on: the binary (its real path, size and mtime: an upgrade misses), the machine, CPU,
// accelerator, memory and vCPUs (QemuMachine::machine_tree_key).
//
// A kept tree holds none of the random bytes QEMU put in its /chosen for that one dump (rng-seed,
// kaslr-seed: without_boot_seeds), or every guest would start from the same seed; each boot gets
// fresh ones from build_device_tree (DeviceTreeAdditions::rng_seed). A hit and a miss hand back
// the same tree. A kept file that is not a whole, well-formed tree (a crash mid-write is avoided
// by rename, but the cache is the user's directory) is removed and dumped again. The cache is a
// saving, not a need: without a cache directory, or one that cannot be written, the dump is used.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "../../guest/device_tree.hpp"
#include "../../host/cache_dir.hpp"
#include "../../snapshot/content_hash.hpp"

namespace crumble::vm::qemu {

// Where the tree for `key` (a description of binary and machine) is kept; nullopt without a cache
// directory.
inline std::optional<std::filesystem::path> machine_tree_path(const std::string& key) {
  try {
    ContentHash h;
    h.add(std::string_view("crumble machine tree 1"));
    h.add(key);
    return cache_dir() / "machine-trees" / (h.hex() + ".dtb");
  } catch (const std::runtime_error&) {  // neither XDG_CACHE_HOME nor HOME
    return std::nullopt;
  }
}

// The machine's tree for `key`, its boot seeds removed: the kept one, or `dump()`'s (QEMU's bytes;
// refused with DeviceTreeError when not a well-formed tree), kept for next time. `hit`, when given,
// says which.
inline std::vector<std::uint8_t> machine_tree(const std::string& key, const std::function<std::vector<std::uint8_t>()>& dump,
                                              bool* hit = nullptr) {
  const std::optional<std::filesystem::path> at = machine_tree_path(key);
  std::error_code ec;
  if (at && std::filesystem::is_regular_file(*at, ec)) {
    std::ifstream in(*at, std::ios::binary);
    std::vector<std::uint8_t> kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    try {
      check_device_tree(kept);
      if (hit) *hit = true;
      return kept;
    } catch (const DeviceTreeError&) {
      std::filesystem::remove(*at, ec);  // damaged: dump again
    }
  }
  if (hit) *hit = false;
  std::vector<std::uint8_t> tree = without_boot_seeds(dump());
  if (!at) return tree;
  // Written beside its final name and renamed: a reader sees the whole tree or none.
  std::filesystem::create_directories(at->parent_path(), ec);
  const std::filesystem::path partial = at->string() + ".partial-" + std::to_string(::getpid());
  const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return tree;
  bool whole = true;
  for (std::size_t done = 0; whole && done < tree.size();) {
    const ssize_t n = ::write(fd, tree.data() + done, tree.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) whole = false;
    else done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) whole = false;
  if (whole) std::filesystem::rename(partial, *at, ec);
  if (!whole || ec) std::filesystem::remove(partial, ec);
  return tree;
}

}  // namespace crumble::vm::qemu
