// SPDX-License-Identifier: Apache-2.0
// tests/vm/uart_test.cpp — the KVM engine's 16550A (engine/kvm/uart.hpp) as Linux's 8250 driver
// drives it.
//
// The oracles: the register sequences of the driver itself (drivers/tty/serial/8250/8250_port.c:
// autoconfig's probe, serial8250_do_startup's THRE test, the transmit path), replayed port by
// port, with what the driver concludes from each answer; and, where /dev/kvm opens, KVM's own
// in-kernel PIC, whose interrupt request register shows whether the UART's line reached GSI 4.
#include <catch2/catch.hpp>
#include <crumble/vm/engine/kvm/uart.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "kvm_skip.hpp"

using crumble::vm::Uart16550;
namespace kvm = crumble::vm::kvm;

namespace {

// A UART at 0x3f8 whose line changes are recorded, driven one port access at a time.
struct Bench {
  std::string sent;
  std::vector<bool> edges;  // each level given to the interrupt line, in order
  Uart16550 uart{[this](std::string_view s) { sent += s; }, 0x3f8, [this](bool level) { edges.push_back(level); }};
  void out(unsigned reg, std::uint8_t v) {
    std::uint8_t d = v;
    kvm::IoExit io{static_cast<std::uint16_t>(0x3f8 + reg), true, 1, &d};
    REQUIRE(uart.handle(io));
  }
  std::uint8_t in(unsigned reg) {
    std::uint8_t d = 0xee;
    kvm::IoExit io{static_cast<std::uint16_t>(0x3f8 + reg), false, 1, &d};
    REQUIRE(uart.handle(io));
    return d;
  }
};

}  // namespace

TEST_CASE("uart: after IER enables THRI, IIR reports THRE and the line rises, and reading IIR clears both", "[vm][uart]") {
  Bench b;
  b.out(Uart16550::mcr, Uart16550::mcr_out2);  // the driver's interrupts on (OUT2)
  CHECK(b.in(Uart16550::iir_fcr) == 0x01);    // nothing enabled: no interrupt
  CHECK(b.edges.empty());
  b.out(Uart16550::ier, Uart16550::ier_thri);
  CHECK(b.edges == std::vector<bool>{true});
  CHECK(b.uart.irq_level());
  CHECK(b.in(Uart16550::iir_fcr) == 0x02);  // THRE
  CHECK(b.edges == std::vector<bool>{true, false});
  CHECK(b.in(Uart16550::iir_fcr) == 0x01);  // acknowledged
  // A byte written: sent, THR empty again, the interrupt back (a new rising edge).
  b.out(Uart16550::rbr_thr, 'x');
  CHECK(b.sent == "x");
  CHECK(b.edges == std::vector<bool>{true, false, true});
  // More bytes before the handler reads IIR: no new edge is needed, none is made.
  b.out(Uart16550::rbr_thr, 'y');
  b.out(Uart16550::rbr_thr, 'z');
  CHECK(b.sent == "xyz");
  CHECK(b.edges == std::vector<bool>{true, false, true});
  // THRI off (the driver's __stop_tx): the line falls.
  b.out(Uart16550::ier, 0);
  CHECK(b.edges == std::vector<bool>{true, false, true, false});
  CHECK(b.in(Uart16550::iir_fcr) == 0x01);
}

TEST_CASE("uart: the interrupt reaches the line only with OUT2 set and outside loopback, as on a PC", "[vm][uart]") {
  struct Row {
    const char* what;
    std::uint8_t mcr;
    bool line;
  };
  for (const Row& r : {Row{"OUT2 clear", 0x00, false}, Row{"OUT2 set", 0x08, true}, Row{"OUT2 set, loopback", 0x18, false},
                       Row{"DTR RTS OUT2", 0x0b, true}}) {
    INFO(r.what);
    Bench b;
    b.out(Uart16550::mcr, r.mcr);
    b.out(Uart16550::ier, Uart16550::ier_thri);
    CHECK(b.uart.irq_level() == r.line);
    CHECK((b.in(Uart16550::iir_fcr) & 0x0f) == 0x02);  // IIR says so either way
  }
}

TEST_CASE("uart: Linux's THRE test (serial8250_do_startup) finds the interrupt reasserted: no UART_BUG_THRE", "[vm][uart]") {
  // serial8250_do_startup: IER = THRI, read IIR (iir1); IER = 0; IER = THRI, read IIR (iir); IER = 0.
  // The driver sets UART_BUG_THRE, and polls by timer, when iir1 had an interrupt and iir none.
  Bench b;
  b.out(Uart16550::ier, Uart16550::ier_thri);
  const std::uint8_t iir1 = b.in(Uart16550::iir_fcr);
  b.out(Uart16550::ier, 0);
  b.out(Uart16550::ier, Uart16550::ier_thri);
  const std::uint8_t iir = b.in(Uart16550::iir_fcr);
  b.out(Uart16550::ier, 0);
  const bool bug_thre = !(iir1 & 0x01) && (iir & 0x01);
  CHECK_FALSE(bug_thre);
  CHECK((iir1 & 0x0f) == 0x02);
  CHECK((iir & 0x0f) == 0x02);
}

TEST_CASE("uart: Linux's probe (autoconfig) takes it for a 16550A, not a 16450", "[vm][uart]") {
  Bench b;
  // The scratch register holds what is written (the 8250 test).
  b.out(Uart16550::scr, 0xa5);
  CHECK(b.in(Uart16550::scr) == 0xa5);
  // IER: the low four bits read back; bit 6 (UUE, XScale) does not, so the driver does not
  // take it for an XScale.
  b.out(Uart16550::ier, 0x0f);
  CHECK(b.in(Uart16550::ier) == 0x0f);
  b.out(Uart16550::ier, 0x40);
  CHECK(b.in(Uart16550::ier) == 0x00);
  // Loopback with OUT2 and RTS: MSR's top nibble reads DCD and CTS (0x90), else "no UART here".
  b.out(Uart16550::mcr, Uart16550::mcr_loop | 0x0a);
  CHECK((b.in(Uart16550::msr) & 0xf0) == 0x90);
  b.out(Uart16550::mcr, 0);
  // FCR with the FIFOs on: IIR bits 7:6 = 3, the 16550A (autoconfig: "scratch = serial_in(up,
  // UART_IIR) >> 6; case 3: autoconfig_16550a"). Without: 0, an 8250/16450.
  CHECK((b.in(Uart16550::iir_fcr) >> 6) == 0);
  b.out(Uart16550::iir_fcr, Uart16550::fcr_enable_fifo);
  CHECK((b.in(Uart16550::iir_fcr) >> 6) == 3);
  // The 16750 check: with DLAB set and the 64-byte FIFO bit, IIR bit 5 stays 0 (not a 16750).
  b.out(Uart16550::lcr, Uart16550::lcr_dlab);
  b.out(Uart16550::iir_fcr, 0x21);
  CHECK((b.in(Uart16550::iir_fcr) & 0x20) == 0);
  // The divisor latch holds what is written while DLAB is set, apart from THR and IER.
  b.out(Uart16550::rbr_thr, 0x01);
  b.out(Uart16550::ier, 0x00);
  CHECK(b.in(Uart16550::rbr_thr) == 0x01);
  CHECK(b.in(Uart16550::ier) == 0x00);
  b.out(Uart16550::lcr, 0x03);
  CHECK(b.sent.empty());  // the divisor write sent nothing
  CHECK(b.in(Uart16550::lsr) == 0x60);  // THRE and TEMT: ready, nothing received
}

TEST_CASE("uart: the saved state restores the registers and the interrupt, without a new edge", "[vm][uart]") {
  Bench a;
  a.out(Uart16550::mcr, Uart16550::mcr_out2);
  a.out(Uart16550::iir_fcr, Uart16550::fcr_enable_fifo);
  a.out(Uart16550::ier, Uart16550::ier_thri);
  a.out(Uart16550::scr, 0x42);
  REQUIRE(a.uart.irq_level());
  Bench b;
  b.uart.set_state(a.uart.state());
  CHECK(b.edges.empty());  // the irqchip's saved state already has that edge
  CHECK(b.uart.irq_level());
  CHECK(b.in(Uart16550::scr) == 0x42);
  CHECK(b.in(Uart16550::iir_fcr) == 0xc2);  // FIFOs on, THRE pending; now acknowledged
  CHECK(b.edges == std::vector<bool>{false});
}

TEST_CASE("uart: its line raises IRQ 4 in KVM's in-kernel PIC through KVM_IRQ_LINE", "[vm][uart][kvm]") {
  const kvm::System& sys = crumble::test::kvm_or_skip();
  kvm::Machine m(sys, 2 << 20);
  m.create_irqchip();
  auto pic_irr = [&] {
    kvm_irqchip c{};
    c.chip_id = KVM_IRQCHIP_PIC_MASTER;
    kvm::ioctl_or_throw(m.fd(), KVM_GET_IRQCHIP, &c, "KVM_GET_IRQCHIP");
    return c.chip.pic.irr;
  };
  std::string sent;
  Uart16550 uart([&](std::string_view s) { sent += s; }, 0x3f8, [&](bool level) { m.set_irq_line(Uart16550::irq, level); });
  auto out = [&](unsigned reg, std::uint8_t v) {
    kvm::IoExit io{static_cast<std::uint16_t>(0x3f8 + reg), true, 1, &v};
    uart.handle(io);
  };
  CHECK((pic_irr() & 0x10) == 0);
  out(Uart16550::mcr, Uart16550::mcr_out2);
  out(Uart16550::ier, Uart16550::ier_thri);
  CHECK((pic_irr() & 0x10) == 0x10);  // the rising edge latched IRQ 4 in the PIC
  std::uint8_t iir = 0;
  kvm::IoExit read_iir{0x3fa, false, 1, &iir};
  uart.handle(read_iir);
  CHECK(iir == 0x02);
  CHECK_FALSE(uart.irq_level());
}
