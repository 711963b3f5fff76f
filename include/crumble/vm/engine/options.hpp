// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/options.hpp — what every engine needs to start a Linux guest, and the kernel
// command-line piece both engines boot with.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "../net/publish.hpp"
#include "../protocol/layout.hpp"

namespace crumble::vm {

// Where a snapshot catches the guest's init (the spec's snapshot modes): `early` after phase 6,
// before it signals ready; `late` waiting in its command loop, where commands arrive through the
// config region. `off`: no snapshots.
enum class SnapshotMode { off, early, late };

// A host directory the guest mounts by virtio-fs (`mount -t virtiofs TAG DIR`). Read-only is
// enforced on the host (the file server sees a read-only mount), not only by the guest's flags.
struct Share {
  std::string tag;                 // 1 to 36 of [A-Za-z0-9_.-]: the guest names the share by it
  std::filesystem::path host_dir;
  bool read_only = false;
  // Empty: the share's root is host_dir. Else its root is a read-only directory whose one entry
  // is host_dir, under this name, which the guest binds alone (ContainerRequest::Volume::subdir).
  std::string subdir{};
};

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
  // Devices for containers (the QEMU engine only; the in-process KVM engine has no virtio devices).
  // A virtio-blk disk, read-only: `root_disk` (an erofs image, at most 1 TiB), or when that is
  // empty a placeholder of 1 TiB of zeros (QEMU's null-co driver: no file). A snapshot saved with the placeholder restores
  // with any root_disk: the guest's driver keeps the placeholder's capacity, which no root disk
  // exceeds, and init drops the blocks it cached from it (docs/protocol.md, container step 1).
  bool root_disk_slot = false;
  std::filesystem::path root_disk;
  // virtio-fs shares, one file server (virtiofsd, run as root) each. A machine with shares can be
  // neither saved nor restored: QEMU 7.2 refuses to migrate a vhost-user-fs device.
  std::vector<Share> shares;
  // The network (the QEMU engine only): a virtio-net device on QEMU's user-mode network (slirp),
  // which init configures (protocol::config::network). `published`: host ports forwarded into the
  // guest; they are not the snapshot's: a snapshot saved with some ports restores with others.
  bool network = false;
  std::vector<PublishedPort> published;
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
