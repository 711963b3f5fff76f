// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/kvm/uart.hpp — a 16550 UART at a port base (0x3f8 for ttyS0), enough for a Linux console:
// what the guest transmits goes to a sink; the line status always says "ready to send"; nothing
// is ever received. Port I/O exits reach it through on_io.
#pragma once

#include <functional>
#include <string_view>

#include "kvm.hpp"

namespace crumble::vm {

class Uart16550 {
 public:
  explicit Uart16550(std::function<void(std::string_view)> sink, std::uint16_t base = 0x3f8) : sink_(std::move(sink)), base_(base) {}

  // The registers the guest set, for snapshots.
  struct State {
    std::uint8_t lcr, ier, mcr, scratch;
  };
  State state() const { return {lcr_, ier_, mcr_, scratch_}; }
  void set_state(const State& s) { lcr_ = s.lcr, ier_ = s.ier, mcr_ = s.mcr, scratch_ = s.scratch; }

  // Handles the exit if it is for one of this UART's 8 ports; false otherwise.
  bool handle(kvm::IoExit& io) {
    if (io.port < base_ || io.port >= base_ + 8) return false;
    const unsigned reg = io.port - base_;
    const bool dlab = lcr_ & 0x80;
    if (io.out) {
      const auto v = static_cast<std::uint8_t>(io.value());
      if (reg == 0 && !dlab) {
        char c = static_cast<char>(v);
        sink_(std::string_view(&c, 1));
      } else if (reg == 3) {
        lcr_ = v;
      } else if (reg == 1 && !dlab) {
        ier_ = v;
      } else if (reg == 4) {
        mcr_ = v;
      } else if (reg == 7) {
        scratch_ = v;
      }
      return true;
    }
    std::uint8_t v = 0;
    switch (reg) {
      case 1: v = dlab ? 0 : ier_; break;
      case 2: v = 0x01; break;                  // IIR: no interrupt pending
      case 3: v = lcr_; break;
      case 4: v = mcr_; break;
      case 5: v = 0x60; break;                  // LSR: transmitter empty, holding register empty
      case 6: v = (mcr_ & 0x10) ? 0 : 0xb0; break;  // MSR: DCD, DSR, CTS (loopback: none)
      case 7: v = scratch_; break;
      default: v = 0;
    }
    std::memset(io.data, 0, io.size);
    io.data[0] = v;
    return true;
  }

 private:
  std::function<void(std::string_view)> sink_;
  std::uint16_t base_;
  std::uint8_t lcr_ = 0x03, ier_ = 0, mcr_ = 0, scratch_ = 0;
};

}  // namespace crumble::vm
