// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/kvm/uart.hpp — a 16550A UART at a port base (0x3f8 for ttyS0), enough for a
// Linux console that user space can write to: what the guest transmits goes to a sink at once,
// nothing is ever received, and the transmitter-empty interrupt works.
//
// Why the interrupt matters: Linux's 8250 driver writes the kernel's own messages by polling
// LSR, but a tty write from user space (init's messages on /dev/console) sends what fits the FIFO
// and waits for the THRE interrupt to send more. A UART whose IIR never reports one is taken for a
// 16450 whose THRE interrupt does not work, and the writer waits for IRQ 4 for ever. So, as the
// 16550 does:
//
//   - the THRE interrupt is pending once the transmit holding register is empty: here after
//     every THR write (it is sent at once), and when IER's THRI bit goes from 0 to 1 (Linux's
//     startup test toggles IER and expects the interrupt to come back each time);
//   - IIR reports it (0x02) while THRI is enabled, and reading IIR clears it; otherwise IIR says
//     0x01, no interrupt; bits 7:6 are set while FCR has the FIFOs on, which makes the driver's
//     probe find a 16550A (16-byte FIFO) rather than a 16450;
//   - IER keeps its low four bits only (the probe writes bit 6, the UUE of some clones, and
//     expects it back only from those);
//   - the interrupt output reaches the PIC and IOAPIC only while MCR's OUT2 is set, as on a PC
//     (the driver sets OUT2 once it has its interrupt handler).
//
// The interrupt line goes to a callback (`irq`, with the level): the KVM engine drives GSI 4 with
// it through KVM_IRQ_LINE (kvm::Machine::set_irq_line). The callback is called only when the level
// changes; ISA interrupts are edge-triggered, so a rising level is an interrupt. The registers
// kvmtool's hw/serial.c and QEMU's serial.c model are the same; the rules above are the 16550
// datasheet's. Port I/O exits reach it through on_io.
#pragma once

#include <cstring>
#include <functional>
#include <string_view>

#include "kvm.hpp"

namespace crumble::vm {

class Uart16550 {
 public:
  // Register offsets from the base, and the bits this model uses, by the datasheet's names.
  static constexpr unsigned rbr_thr = 0, ier = 1, iir_fcr = 2, lcr = 3, mcr = 4, lsr = 5, msr = 6, scr = 7;
  static constexpr std::uint8_t ier_thri = 0x02, iir_no_interrupt = 0x01, iir_thri = 0x02, iir_fifos = 0xc0, fcr_enable_fifo = 0x01,
                                lcr_dlab = 0x80, mcr_out2 = 0x08, mcr_loop = 0x10, lsr_thre = 0x20, lsr_temt = 0x40;
  static constexpr std::uint8_t irq = 4;  // COM1's ISA interrupt (the ACPI tables say so too)

  explicit Uart16550(std::function<void(std::string_view)> sink, std::uint16_t base = 0x3f8, std::function<void(bool)> irq_line = {})
      : sink_(std::move(sink)), irq_line_(std::move(irq_line)), base_(base) {}

  // The registers the guest set and the interrupt state, for snapshots.
  struct State {
    std::uint8_t lcr, ier, mcr, scratch, fcr, dll, dlm, thre_pending, line;
  };
  State state() const { return {lcr_, ier_, mcr_, scratch_, fcr_, dll_, dlm_, thre_pending_, line_}; }
  // Restores a saved state. The line level is taken as saved, without calling `irq`: the
  // irqchip's own saved state already has the edge that level produced.
  void set_state(const State& s) {
    lcr_ = s.lcr, ier_ = s.ier & 0x0f, mcr_ = s.mcr, scratch_ = s.scratch, fcr_ = s.fcr, dll_ = s.dll, dlm_ = s.dlm;
    thre_pending_ = s.thre_pending ? 1 : 0, line_ = s.line ? 1 : 0;
  }

  // Whether the interrupt output is asserted (the level last given to `irq`).
  bool irq_level() const { return line_ != 0; }

  // Handles the exit if it is for one of this UART's 8 ports; false otherwise.
  bool handle(kvm::IoExit& io) {
    if (io.port < base_ || io.port >= base_ + 8) return false;
    const unsigned reg = io.port - base_;
    const bool dlab = lcr_ & lcr_dlab;
    if (io.out) {
      const auto v = static_cast<std::uint8_t>(io.value());
      switch (reg) {
        case rbr_thr:
          if (dlab) {
            dll_ = v;
          } else {
            // Writing THR acknowledges a pending THRE interrupt; the byte leaves at once, THR is
            // empty again, and the interrupt is pending anew. The level stays up if it was: the
            // edge that raised it is still to be served, and the handler's next IIR read lowers it.
            char c = static_cast<char>(v);
            if (!(mcr_ & mcr_loop)) sink_(std::string_view(&c, 1));
            thre_pending_ = 1;
          }
          break;
        case ier:
          if (dlab) {
            dlm_ = v;
          } else {
            const bool was = ier_ & ier_thri;
            ier_ = v & 0x0f;
            if (!was && (ier_ & ier_thri)) thre_pending_ = 1;  // THR is always empty here
          }
          break;
        case iir_fcr: fcr_ = v & 0xc9; break;  // FIFO enable, DMA mode, trigger level; the reset bits act at once
        case lcr: lcr_ = v; break;
        case mcr: mcr_ = v & 0x1f; break;
        case scr: scratch_ = v; break;
        default: break;  // LSR and MSR: factory test registers, ignored
      }
      update_line();
      return true;
    }
    std::uint8_t v = 0;
    switch (reg) {
      case rbr_thr: v = dlab ? dll_ : 0; break;  // nothing received
      case ier: v = dlab ? dlm_ : ier_; break;
      case iir_fcr:
        v = interrupt_pending() ? iir_thri : iir_no_interrupt;
        if (fcr_ & fcr_enable_fifo) v |= iir_fifos;
        if (interrupt_pending()) thre_pending_ = 0;  // reading IIR acknowledges THRE
        break;
      case lcr: v = lcr_; break;
      case mcr: v = mcr_; break;
      case lsr: v = lsr_thre | lsr_temt; break;  // transmitter empty; no data received
      case msr:
        // Modem status: DCD, DSR, CTS asserted; in loopback they follow MCR's OUT2, OUT1, DTR/RTS.
        v = (mcr_ & mcr_loop) ? static_cast<std::uint8_t>(((mcr_ & 0x08) << 4) | ((mcr_ & 0x04) << 4) | ((mcr_ & 0x01) << 5) | ((mcr_ & 0x02) << 3))
                              : 0xb0;
        break;
      case scr: v = scratch_; break;
    }
    std::memset(io.data, 0, io.size);
    io.data[0] = v;
    update_line();
    return true;
  }

 private:
  bool interrupt_pending() const { return (ier_ & ier_thri) && thre_pending_; }
  // The output a PC routes to the interrupt controller: an interrupt pending, OUT2 set, not in
  // loopback (where OUT2 is looped back to the modem status instead).
  void update_line() {
    const std::uint8_t want = interrupt_pending() && (mcr_ & mcr_out2) && !(mcr_ & mcr_loop) ? 1 : 0;
    if (want == line_) return;
    line_ = want;
    if (irq_line_) irq_line_(want != 0);
  }

  std::function<void(std::string_view)> sink_;
  std::function<void(bool)> irq_line_;
  std::uint16_t base_;
  std::uint8_t lcr_ = 0x03, ier_ = 0, mcr_ = 0, scratch_ = 0, fcr_ = 0, dll_ = 0x0c, dlm_ = 0, thre_pending_ = 1, line_ = 0;
};

}  // namespace crumble::vm
