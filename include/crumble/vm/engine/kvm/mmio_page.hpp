// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/kvm/mmio_page.hpp — a page of device registers the guest reaches through MMIO
// exits: the KVM Linux engine's mailbox (linux_machine.hpp), which the Channel reads as memory.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>

#include "kvm.hpp"

namespace crumble::vm {

// A 4 KiB page of device registers behind an MMIO hole, as the guest's loads and stores see it
// (whole accesses of 1, 2, 4 or 8 bytes inside the page; any other is ignored and reads 0) and as
// the host reads and writes it: bytes() for the Channel. Accesses from vCPU threads and the host
// are atomic 32-bit words, the Channel's own unit, a store with release order and a load with
// acquire, so the host that sees the guest's `seq` bump also sees the fields stored before it.
class MmioPage {
 public:
  static constexpr std::uint64_t size = 0x1000;
  explicit MmioPage(std::uint64_t base) : base_(base) {}

  std::uint8_t* bytes() { return reinterpret_cast<std::uint8_t*>(words_); }
  std::uint64_t base() const { return base_; }

  // Serves the exit if it is for this page; false otherwise.
  bool handle(kvm::MmioExit& e) {
    if (e.address < base_ || e.address - base_ >= size) return false;
    const std::uint64_t off = e.address - base_;
    if ((e.size != 1 && e.size != 2 && e.size != 4 && e.size != 8) || off + e.size > size) {
      if (!e.write) std::memset(e.data, 0, e.size);
      return true;
    }
    for (std::uint64_t w = off & ~std::uint64_t{3}; w < off + e.size; w += 4) {
      std::atomic_ref<std::uint32_t> word(words_[w / 4]);
      // the bytes of this word the access covers, and where they are in e.data
      const std::uint64_t lo = std::max(w, off), hi = std::min(w + 4, off + e.size);
      if (e.write) {
        std::uint32_t old = word.load(std::memory_order_relaxed), v;
        do {  // a compare-exchange: the host may store another part of the word meanwhile
          v = old;
          for (std::uint64_t a = lo; a < hi; ++a)
            v = (v & ~(0xffu << 8 * (a - w))) | std::uint32_t{e.data[a - off]} << 8 * (a - w);
        } while (!word.compare_exchange_weak(old, v, std::memory_order_release, std::memory_order_relaxed));
      } else {
        const std::uint32_t v = word.load(std::memory_order_acquire);
        for (std::uint64_t a = lo; a < hi; ++a) e.data[a - off] = static_cast<std::uint8_t>(v >> 8 * (a - w));
      }
    }
    return true;
  }

 private:
  std::uint64_t base_;
  alignas(4096) std::uint32_t words_[size / 4] = {};
};

}  // namespace crumble::vm
