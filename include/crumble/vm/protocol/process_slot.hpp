// SPDX-License-Identifier: Apache-2.0
// crumble/vm/protocol/process_slot.hpp — the host's side of one process slot (layout.hpp, PROCESS):
// a running command's stdout and stderr rings (read), its stdin ring (written), the signals and
// terminal sizes the host sends it, and how it ended.
//
// Every position the guest writes is checked against the host's own (a ring never holds more than
// its size; the guest cannot take stdin the host has not written), and the exit fields against
// their ranges, before use: a confused or hostile guest gets a GuestProtocolError, never a read
// outside the ring. The host's own positions live here, not in the shared memory, which the guest
// could overwrite. Nothing here waits: Channel and Session build the waiting on top.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "../errors.hpp"
#include "layout.hpp"

namespace crumble::vm {

// How a command ended, and what it wrote.
struct CommandResult {
  enum class End { exited, signaled, not_started };
  End end = End::exited;
  int code = 0;        // exit status (exited) or signal number (signaled); 0 when not started
  int exec_errno = 0;  // why execve failed (not_started): ENOENT, EACCES, ENOEXEC, ...
  // Not started before execve: the step that failed (protocol::exec_stage_*: chdir, setgroups,
  // setgid, setuid, no_new_privs, capabilities, rlimits, oom_score_adj; exec_stage_execve for
  // execve itself), and what it was about (the working directory, the user or group ids), for
  // describe().
  int exec_stage = protocol::exec_stage_execve;
  std::string exec_target;
  std::string out, err;  // empty when the output went to a sink
  // The one-shot run() kept the first `limit` bytes of the stream and dropped (drained) the rest.
  bool out_truncated = false, err_truncated = false;

  // The status a shell would give: the exit status; 128+N for signal N; 127 when the command was
  // not found, 126 when it could not be executed.
  int status() const {
    switch (end) {
      case End::exited: return code;
      case End::signaled: return 128 + code;
      default: return exec_errno == ENOENT ? 127 : 126;
    }
  }
  std::string describe() const {
    switch (end) {
      case End::exited: return "exited with status " + std::to_string(code);
      case End::signaled: return std::string("killed by signal ") + std::to_string(code) + " (" + ::strsignal(code) + ")";
      default: break;
    }
    const std::string why = std::strerror(exec_errno);
    // the guest's own namespace takes every id; the container's user namespace only those it maps
    const std::string unmapped = exec_errno == EINVAL ? " (not in the container's user namespace's map)" : "";
    switch (exec_stage) {
      case protocol::exec_stage_chdir: return "cannot change to working directory " + exec_target + ": " + why;
      case protocol::exec_stage_setgroups: return "cannot set supplementary groups " + exec_target + ": " + why + unmapped;
      case protocol::exec_stage_setgid: return "cannot set group id " + exec_target + ": " + why + unmapped;
      case protocol::exec_stage_setuid: return "cannot set user id " + exec_target + ": " + why + unmapped;
      case protocol::exec_stage_no_new_privs: return "cannot set no_new_privs: " + why;
      case protocol::exec_stage_capabilities: return "cannot set the capabilities of user " + exec_target + ": " + why;
      case protocol::exec_stage_rlimits: return "cannot set a resource limit: " + why;
      case protocol::exec_stage_oom_score_adj: return "cannot set oom_score_adj " + exec_target + ": " + why;
      case protocol::exec_stage_user_namespace: return "cannot join the container's user namespace: " + why;
      default: return exec_errno == ENOENT ? "command not found" : "command could not be executed: " + why;
    }
  }
};

// A command's output streams. With a terminal there is only `out` (the pty merges them).
enum class Stream : std::uint32_t { out = 1, err = 2 };

// Whom a signal reaches in the guest: the process's group (crumble run: a shell's pipeline goes
// with it; the default), or the process alone (an OCI runtime's kill, as runc's).
enum class SignalTarget { group, process };

// A terminal's size in characters.
struct TerminalSize {
  std::uint16_t rows = 24, cols = 80;
  bool operator==(const TerminalSize&) const = default;
};

class ProcessSlot {
 public:
  ProcessSlot() = default;
  explicit ProcessSlot(std::uint8_t* slot) : slot_(slot) {}

  // Before a command names this slot: the host's fields, and its own positions, back to 0.
  void reset(TerminalSize size) {
    out_tail_ = err_tail_ = in_head_ = signal_seq_ = 0;
    winsize_seq_ = 0;
    queued_ = queued_alone_ = 0;
    stdin_closed_ = false;
    size_ = size;
    for (std::uint32_t f : {protocol::config::proc_out_tail, protocol::config::proc_err_tail, protocol::config::proc_in_head,
                            protocol::config::proc_in_closed, protocol::config::proc_signal, protocol::config::proc_signal_seq,
                            protocol::config::proc_winsize_seq})
      host_u32(f, 0);
    host_u32(protocol::config::proc_rows, size.rows);
    host_u32(protocol::config::proc_cols, size.cols);
    host_u32(protocol::config::proc_state, protocol::process_free);
  }

  // The bytes of stream `s` the guest has written and the host not yet taken, as far as they lie
  // contiguous in the ring (the rest, after the ring's end, comes with the next call). They lie in
  // the shared memory: valid until consume().
  std::string_view pending(Stream s) const {
    const Ring r = ring(s);
    const std::uint32_t head = guest_u32(r.head);
    const std::uint32_t used = head - r.tail;
    if (used > r.size)
      throw GuestProtocolError("guest's " + std::string(r.name) + " ring claims " + std::to_string(used) + " bytes; it holds " +
                               std::to_string(r.size));
    const std::uint32_t at = r.tail & (r.size - 1);
    return {reinterpret_cast<const char*>(slot_ + r.data + at), std::min<std::uint32_t>(used, r.size - at)};
  }
  // Takes n bytes of pending(s) (at most what it returned): the guest may reuse their room.
  void consume(Stream s, std::size_t n) {
    const Ring r = ring(s);
    if (n > static_cast<std::uint32_t>(guest_u32(r.head) - r.tail))
      throw ConfigError("consumed " + std::to_string(n) + " bytes of " + r.name + ", more than were pending");
    std::uint32_t& tail = s == Stream::out ? out_tail_ : err_tail_;
    tail += static_cast<std::uint32_t>(n);
    host_u32(s == Stream::out ? protocol::config::proc_out_tail : protocol::config::proc_err_tail, tail);
  }

  // Room in the stdin ring now.
  std::size_t stdin_room() const {
    const std::uint32_t taken = guest_u32(protocol::config::proc_in_tail);
    const std::uint32_t waiting = in_head_ - taken;
    if (waiting > protocol::config::stdin_ring)
      throw GuestProtocolError("guest's stdin ring position " + std::to_string(taken) + " is not one the host wrote (the host is at " +
                               std::to_string(in_head_) + ")");
    return protocol::config::stdin_ring - waiting;
  }
  // Copies as much of `bytes` as there is room for into the stdin ring; how much.
  std::size_t write_stdin(std::string_view bytes) {
    if (stdin_closed_) throw ConfigError("the process's stdin is closed");
    const std::size_t n = std::min(bytes.size(), stdin_room());
    for (std::size_t done = 0; done < n;) {
      const std::uint32_t at = (in_head_ + static_cast<std::uint32_t>(done)) & (protocol::config::stdin_ring - 1);
      const std::size_t part = std::min<std::size_t>(n - done, protocol::config::stdin_ring - at);
      std::memcpy(slot_ + protocol::config::process_stdin + at, bytes.data() + done, part);
      done += part;
    }
    in_head_ += static_cast<std::uint32_t>(n);
    host_u32(protocol::config::proc_in_head, in_head_);  // after the bytes (release)
    return n;
  }
  // No more stdin: the process reads EOF once it has read what was written.
  void close_stdin() {
    stdin_closed_ = true;
    host_u32(protocol::config::proc_in_closed, 1);
  }
  bool stdin_closed() const { return stdin_closed_; }

  // Sends signal `signo` (1-64) to the process's group, or to the process alone. The guest takes
  // one at a time: one sent while the last is not taken waits in a set per target (a second of
  // the same kind merges, as pending signals do in Linux) until flush() finds the guest ready.
  void signal(int signo, SignalTarget to = SignalTarget::group) {
    if (signo < 1 || signo > 64) throw ConfigError("no signal " + std::to_string(signo));
    (to == SignalTarget::group ? queued_ : queued_alone_) |= std::uint64_t{1} << (signo - 1);
    flush();
  }
  // Sends the next queued signal if the guest has taken the last; true when none waits. The
  // group's go first (a kill --all is meant for everyone, also the process).
  bool flush() {
    if (queued_ == 0 && queued_alone_ == 0) return true;
    if (guest_u32(protocol::config::proc_signal_ack) != signal_seq_) return false;
    const bool group = queued_ != 0;
    std::uint64_t& set = group ? queued_ : queued_alone_;
    const int signo = std::countr_zero(set) + 1;
    set &= set - 1;
    host_u32(protocol::config::proc_signal, static_cast<std::uint32_t>(signo) | (group ? 0 : protocol::signal_to_process_only));
    host_u32(protocol::config::proc_signal_seq, ++signal_seq_);
    return queued_ == 0 && queued_alone_ == 0;
  }

  // True when every signal sent has reached the guest (it has sent it on to the process or group).
  bool signals_delivered() const {
    return queued_ == 0 && queued_alone_ == 0 && guest_u32(protocol::config::proc_signal_ack) == signal_seq_;
  }

  // A new terminal size (with a tty): the guest sets it on the pty, and the kernel tells the
  // foreground process group (SIGWINCH).
  void resize(TerminalSize size) {
    if (size.rows == 0 || size.cols == 0) throw ConfigError("a terminal needs at least one row and column");
    if (size == size_) return;
    size_ = size;
    host_u32(protocol::config::proc_rows, size.rows);
    host_u32(protocol::config::proc_cols, size.cols);
    host_u32(protocol::config::proc_winsize_seq, ++winsize_seq_);
  }

  // True once the guest says the process has ended: its exit fields and ring heads are final.
  bool ended() const { return guest_u32(protocol::config::proc_state) == protocol::process_ended; }
  // True once it has ended and the host has taken all its output.
  bool done() const { return ended() && pending(Stream::out).empty() && pending(Stream::err).empty(); }

  // How it ended (after ended()), checked. The target of a failed step is the caller's to fill.
  CommandResult result() const {
    namespace c = protocol::config;
    const std::uint32_t kind = guest_u32(c::proc_exit_kind);
    const std::uint32_t code = guest_u32(c::proc_exit_code);
    const std::uint32_t err = guest_u32(c::proc_exec_errno);
    const std::uint32_t stage = guest_u32(c::proc_exec_stage);
    if (kind > protocol::exit_kind_not_started || code > 255 || err > 4095 || stage >= std::size(protocol::exec_stage_names) ||
        (kind == protocol::exit_kind_signaled && (code < 1 || code > 64)))
      throw GuestProtocolError("guest reported an impossible command end (kind " + std::to_string(kind) + ", code " + std::to_string(code) +
                               ", errno " + std::to_string(err) + ", stage " + std::to_string(stage) + ")");
    CommandResult r;
    r.end = static_cast<CommandResult::End>(kind);
    r.code = kind == protocol::exit_kind_not_started ? 0 : static_cast<int>(code);
    r.exec_errno = static_cast<int>(err);
    if (kind == protocol::exit_kind_not_started) r.exec_stage = static_cast<int>(stage);
    return r;
  }

  // The guest's pid of the process (informational: a guest could write anything).
  std::uint32_t guest_pid() const { return guest_u32(protocol::config::proc_pid); }

 private:
  struct Ring {
    std::uint32_t head, data, size, tail;
    const char* name;
  };
  Ring ring(Stream s) const {
    namespace c = protocol::config;
    if (s == Stream::out) return {c::proc_out_head, c::process_stdout, c::stdout_ring, out_tail_, "stdout"};
    return {c::proc_err_head, c::process_stderr, c::stderr_ring, err_tail_, "stderr"};
  }

  // The guest's fields: read once, with acquire ordering (a head seen means its bytes are there).
  std::uint32_t guest_u32(std::uint32_t field) const {
    return std::atomic_ref<const std::uint32_t>(*reinterpret_cast<const std::uint32_t*>(slot_ + field)).load(std::memory_order_acquire);
  }
  // The host's: release ordering (the guest that sees a head sees the bytes before it).
  void host_u32(std::uint32_t field, std::uint32_t v) {
    std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(slot_ + field)).store(v, std::memory_order_release);
  }

  std::uint8_t* slot_ = nullptr;
  std::uint32_t out_tail_ = 0, err_tail_ = 0, in_head_ = 0, signal_seq_ = 0, winsize_seq_ = 0;
  std::uint64_t queued_ = 0;        // signals waiting to be sent to the group, bit N-1 for signal N
  std::uint64_t queued_alone_ = 0;  // the same, to the process alone
  bool stdin_closed_ = false;
  TerminalSize size_;
};

}  // namespace crumble::vm
