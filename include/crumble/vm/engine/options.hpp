// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/options.hpp — what every engine needs to start a Linux guest, and the kernel
// command-line piece both engines boot with.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "../protocol/layout.hpp"

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
  // Start from a snapshot the engine's save() wrote for the same kernel, initramfs, memory and
  // vCPUs (the snapshot cache keys on them). One that cannot be used (damaged, another host's,
  // refused by the engine) is a SnapshotError.
  std::filesystem::path restore_from;
  // Early snapshots: init holds after phase 6 until the host releases it (Channel::request_hold).
  bool hold_after_phase_6 = false;
};

// The kernel command-line argument that reserves the protocol window (memmap=SIZE$BASE): the
// guest kernel leaves that RAM alone, and init reaches it through /dev/mem.
inline std::string protocol_window_memmap() {
  char arg[64];
  std::snprintf(arg, sizeof arg, "memmap=%lluM$0x%llx", static_cast<unsigned long long>(protocol::window_size >> 20),
                static_cast<unsigned long long>(protocol::window_base));
  return arg;
}

}  // namespace crumble::vm
