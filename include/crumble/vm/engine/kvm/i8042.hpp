// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/kvm/i8042.hpp — the one part of the PC keyboard controller a Linux guest needs from a
// microVM: its reset line. `reboot=k` makes the kernel pulse it (0xfe to port 0x64) to restart;
// the engine treats that as the guest going down. Reads say "no data, ready for commands".
#pragma once

#include <functional>

#include "kvm.hpp"

namespace crumble::vm {

class I8042 {
 public:
  explicit I8042(std::function<void()> on_reset) : on_reset_(std::move(on_reset)) {}

  // Handles the exit if it is for port 0x60 or 0x64; false otherwise.
  bool handle(kvm::IoExit& io) {
    if (io.port != 0x60 && io.port != 0x64) return false;
    if (io.out) {
      if (io.port == 0x64 && (io.value() & 0xff) == 0xfe) on_reset_();
    } else {
      std::memset(io.data, 0, io.size);  // status: output buffer empty, input buffer empty
    }
    return true;
  }

 private:
  std::function<void()> on_reset_;
};

}  // namespace crumble::vm
