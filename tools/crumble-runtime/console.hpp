// SPDX-License-Identifier: Apache-2.0
// tools/crumble-runtime/console.hpp — a container's terminal on the host (process.terminal with
// --console-socket): a pty pair whose master goes to the caller (runc's console socket), while
// the slave stands for the guest's own pty, which does the real work.
//
// The guest process runs on a pty in the guest (its line discipline echoes, edits lines and turns
// Ctrl-C into SIGINT), so the host's pty only carries bytes: its slave is put in raw mode, or
// every key would be echoed twice and every "\n" doubled into "\r\r\n". The caller resizes the
// master (TIOCSWINSZ); nobody is told (the monitor has no controlling terminal to get SIGWINCH
// from), so the monitor reads the slave's size as it serves and passes changes on.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>

#include <optional>
#include <string>

#include <crumble/vm/protocol/process_slot.hpp>

#include "sockets.hpp"

namespace crumble::runtime {

struct Console {
  Fd master, slave;
  std::string name;  // /dev/pts/N
};

// A pty pair, its slave raw, sized `size` when one is given (process.consoleSize).
inline Console open_console(std::optional<vm::TerminalSize> size) {
  Console c;
  c.master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!c.master || ::grantpt(c.master.get()) != 0 || ::unlockpt(c.master.get()) != 0)
    throw std::runtime_error(std::string("cannot make a pty: ") + std::strerror(errno));
  char name[128];
  if (::ptsname_r(c.master.get(), name, sizeof name) != 0) throw std::runtime_error(std::string("ptsname: ") + std::strerror(errno));
  c.name = name;
  c.slave.reset(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!c.slave) throw std::runtime_error("cannot open " + c.name + ": " + std::strerror(errno));
  termios t{};
  if (::tcgetattr(c.slave.get(), &t) == 0) {
    ::cfmakeraw(&t);
    ::tcsetattr(c.slave.get(), TCSANOW, &t);
  }
  if (size && size->rows > 0 && size->cols > 0) {
    winsize ws{size->rows, size->cols, 0, 0};
    ::ioctl(c.master.get(), TIOCSWINSZ, &ws);
  }
  return c;
}

}  // namespace crumble::runtime
