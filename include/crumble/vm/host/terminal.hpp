// SPDX-License-Identifier: Apache-2.0
// crumble/vm/host/terminal.hpp — the host's terminal while a command runs on a pty in the guest:
// its size, and raw mode for as long as the command runs.
//
// In raw mode every key goes to the guest as it is typed (Ctrl-C as the byte 0x03, which the
// guest's pty turns into SIGINT for its foreground job, as a local terminal would), and nothing
// is echoed twice. The mode is restored when RawTerminal goes, on every path out (exceptions
// included), and by stop_cleanly_on_signals' cleanup when a signal ends crumble; only a SIGKILL
// leaves the terminal raw (`reset` or `stty sane` repairs it).
#pragma once

#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>

#include "../protocol/process_slot.hpp"
#include "process.hpp"

namespace crumble::vm {

// The size of the terminal on fd, if it is one.
inline std::optional<TerminalSize> terminal_size(int fd) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0) return std::nullopt;
  return TerminalSize{ws.ws_row, ws.ws_col};
}

class RawTerminal {
 public:
  // Puts the terminal on fd into raw mode (cfmakeraw; output processing kept off too: the guest's
  // pty already turns "\n" into "\r\n").
  explicit RawTerminal(int fd) : fd_(fd) {
    if (::tcgetattr(fd, &saved_) != 0) throw VmError(std::string("cannot read the terminal's mode: ") + std::strerror(errno));
    termios raw = saved_;
    ::cfmakeraw(&raw);
    {
      auto& reg = host_detail::registry();
      std::lock_guard<std::mutex> held(reg.lock);
      reg.terminal_fd = fd;
      reg.terminal_mode = saved_;
    }
    if (::tcsetattr(fd, TCSAFLUSH, &raw) != 0) {
      const int err = errno;
      forget();
      throw VmError(std::string("cannot put the terminal into raw mode: ") + std::strerror(err));
    }
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  ~RawTerminal() {
    ::tcsetattr(fd_, TCSAFLUSH, &saved_);
    forget();
  }

 private:
  void forget() {
    auto& reg = host_detail::registry();
    std::lock_guard<std::mutex> held(reg.lock);
    reg.terminal_fd = -1;
  }
  int fd_;
  termios saved_{};
};

}  // namespace crumble::vm
