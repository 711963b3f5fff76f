// SPDX-License-Identifier: Apache-2.0
// crumble/vm/attach.hpp — a guest process wired to host file descriptors, as `docker run -i`
// wires a container to the terminal: host stdin to its stdin, its stdout and stderr to the host's,
// the host's signals to its process group, the host terminal's size to its pty.
//
//   vm::SignalForwarding signals;                       // after stop_cleanly_on_signals()
//   auto p = vm.start({"sh"}, {.stdin_open = true, .tty = {}});
//   vm::CommandResult r = vm::attach(p, {.in = 0, .signals = &signals});
//
// Memory stays bounded both ways: output is written out straight from the guest's ring (a slow
// reader of the host's stdout slows the command; nothing is lost), and host stdin is read only
// as far as the guest's stdin ring has room (a command that does not read blocks the reading of
// host stdin, not memory). Signals: each goes to the command's process group; a second SIGINT
// within `interrupt_window` after the first reached the guest (or after the guest has left the
// first untaken for that long), or a command still running `grace` after SIGTERM, SIGHUP or SIGQUIT,
// makes the host give up (CommandAbandoned; the caller stops the VM), so a command that ignores
// them is not waited for forever.
#pragma once

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "host/process.hpp"
#include "host/terminal.hpp"
#include "session.hpp"

namespace crumble::vm {

struct AttachOptions {
  int in = -1;                          // host fd whose bytes go to the command's stdin; -1: none
  int out = STDOUT_FILENO, err = STDERR_FILENO;
  SignalForwarding* signals = nullptr;  // the host's signals, to pass on
  int terminal = -1;                    // the host terminal whose size the pty follows (SIGWINCH)
  Clock::time_point deadline = Clock::time_point::max();  // then GuestTimeout (and the VM stops)
  std::chrono::milliseconds interrupt_window{1000};
  std::chrono::milliseconds grace{10000};
  // false: signals are only passed on, never a reason to give up (an OCI runtime's monitor: the
  // caller decides, and sends SIGKILL)
  bool give_up = true;
};

// The host gave up on the command after signal `signal` (see the header comment).
struct CommandAbandoned : VmError {
  CommandAbandoned(int signo, const std::string& what) : VmError(what), signal(signo) {}
  int signal;
};

namespace attach_detail {
// Writes all of `bytes` to fd (waiting when the fd is non-blocking and full).
inline void write_all(int fd, std::string_view bytes, const char* name) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 100);
      continue;
    }
    throw std::runtime_error(std::string("cannot write the command's ") + name + ": " + std::strerror(n < 0 ? errno : EIO));
  }
}
}  // namespace attach_detail

inline CommandResult attach(Session::Process& p, const AttachOptions& o) {
  int in = o.in;
  std::optional<Clock::time_point> last_interrupt, give_up;
  int give_up_signal = 0;
  unsigned idle = 0;
  auto last_check = Clock::now();
  std::vector<char> buf(std::size_t{64} << 10);
  if (auto size = terminal_size(o.terminal)) p.resize(*size);  // it may have changed while the VM started
  for (;;) {
    bool moved = false;
    for (Stream s : {Stream::out, Stream::err})  // one piece of each per look: stdin, signals and the clock get theirs
      if (std::string_view bytes = p.output(s); !bytes.empty()) {
        attach_detail::write_all(s == Stream::out ? o.out : o.err, bytes, s == Stream::out ? "stdout" : "stderr");
        p.consume(s, bytes.size());
        moved = true;
      }
    if (std::optional<CommandResult> r = p.ended()) return *r;

    pollfd fds[2];
    nfds_t n = 0;
    const std::size_t room = in >= 0 ? p.stdin_room() : 0;
    if (room > 0) fds[n++] = {in, POLLIN, 0};
    const nfds_t signal_at = n;
    if (o.signals) fds[n++] = {o.signals->fd(), POLLIN, 0};
    // Output is in memory no fd tells of: look again soon, sooner while it flows.
    idle = moved ? 0 : idle + 1;
    const timespec wait{0, moved ? 0L : idle < 400 ? 50'000L : idle < 2400 ? 1'000'000L : 10'000'000L};
    if (::ppoll(fds, n, &wait, nullptr) > 0) {
      if (room > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) {
        const ssize_t got = ::read(in, buf.data(), std::min(room, buf.size()));
        if (got > 0) {
          p.write(std::string_view(buf.data(), static_cast<std::size_t>(got)));  // fits: at most room
        } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
          p.close_stdin();  // EOF (or an error reading it, which ends it too)
          in = -1;
        }
        moved = true;
      }
      if (o.signals && (fds[signal_at].revents & POLLIN)) {
        for (int sig : o.signals->take()) {
          if (sig == SIGWINCH) {
            if (auto size = terminal_size(o.terminal)) p.resize(*size);
            continue;
          }
          const auto now = Clock::now();
          // A second SIGINT that comes before the first reached the guest is the same one
          // (`timeout -s INT` signals crumble twice: itself and its process group), unless the
          // first has waited longer than the window (a guest that takes no signals).
          const bool delivered = p.signals_delivered();
          if (o.give_up && sig == SIGINT && last_interrupt &&
              ((delivered && now - *last_interrupt < o.interrupt_window) || (!delivered && now - *last_interrupt >= o.interrupt_window)))
            throw CommandAbandoned(SIGINT, "a second SIGINT: the VM is stopped");
          if (sig == SIGINT) last_interrupt = now;
          if (o.give_up && (sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT) && !give_up) {
            give_up = now + o.grace;
            give_up_signal = sig;
          }
          p.signal(sig);
        }
        moved = true;
      }
    }
    const auto now = Clock::now();
    if (give_up && now >= *give_up)
      throw CommandAbandoned(give_up_signal, std::string("the command did not end within ") + std::to_string(o.grace.count() / 1000) +
                                                 " s of SIG" + ::sigabbrev_np(give_up_signal) + ": the VM is stopped");
    if (now - last_check > std::chrono::milliseconds(20)) {
      p.check(o.deadline);
      last_check = now;
    }
  }
}

}  // namespace crumble::vm
