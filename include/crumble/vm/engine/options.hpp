// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/options.hpp — what every engine needs to start a Linux guest.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace crumble::vm {

// Where a snapshot catches the guest's init (the spec's snapshot modes): `early` after phase 6,
// before it signals ready; `late` waiting in its command loop, where commands arrive through the
// config region. `off`: no snapshots.
enum class SnapshotMode { off, early, late };

struct GuestOptions {
  std::filesystem::path kernel;         // bzImage or vmlinux
  std::vector<std::uint8_t> initramfs;  // newc cpio
  std::uint32_t memory_mib = 256;
  int vcpus = 1;
  std::string append;                   // added to the kernel command line
};

}  // namespace crumble::vm
