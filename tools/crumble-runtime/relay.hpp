// SPDX-License-Identifier: Apache-2.0
// tools/crumble-runtime/relay.hpp — what a container's monitor does while the container runs:
// serve its main process and the processes `exec` adds, all at once, from one thread.
//
// Each guest process has host fds its bytes go to and come from: the main process the monitor's
// own fds 0-2 (the ones `create` was given), an exec'd one the fds its **exec process** (the host
// process `exec` made, whose pid the caller holds) sent over the monitor's socket, or a pty's
// slave when it has a terminal. One loop moves every process's output, stdin and terminal size,
// passes signals on (the monitor's to the main process, each exec process's to its own), accepts
// new exec processes and says to each how its process ended. One thread, because a Session and
// its Channel are not made for several callers (Channel::start waits for the guest's answer in
// the mailbox every start shares; Session::Process calls are plain loads and stores): the loop is
// the only caller, and nothing in it blocks for long — output is written only as far as the host
// fd takes it now (a reader that stops slows its process, not the others), stdin is read only
// when it is ready, and a start waits for the guest at most the boot timeout.
//
// The exec protocol (SOCK_SEQPACKET messages on ROOT/ID/exec.sock):
//   exec process -> monitor   "exec\n" + the OCI process JSON, with its fds 0, 1, 2 attached
//   monitor -> exec process   "started PID" (the guest's pid) | "error MESSAGE"
//   exec process -> monitor   "signal N" (a signal it received, for the guest process alone)
//   monitor -> exec process   "exit STATUS" (128+N for signal N), once the process has ended and
//                             its output is written and its fds closed
// An exec process that goes away (SIGKILL) takes its guest process with it (SIGKILL to its
// group); when the main process ends, every exec'd one is killed (the container is gone, as with
// runc) and its exec process told. `kill --all` connects too: "kill-all N" -> "ok".
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <crumble/oci/bundle.hpp>
#include <crumble/vm/attach.hpp>
#include <algorithm>
#include <filesystem>
#include <functional>
#include <list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sockets.hpp"

namespace crumble::runtime {

// What an exec asks for: the OCI process object (exec --process F, or built from exec's flags).
struct ExecRequest {
  std::vector<std::string> args, env;
  std::string cwd;
  std::optional<std::uint32_t> uid, gid;
  std::optional<std::vector<std::uint32_t>> groups;     // user.additionalGids
  std::optional<vm::Capabilities> capabilities;         // absent: the container's
  std::optional<std::vector<vm::ResourceLimit>> rlimits;  // absent: the container's
  std::optional<vm::TerminalSize> console_size;
  bool terminal = false;
  bool no_new_privs = false;
  std::vector<std::string> ignored;  // what is not applied (an unknown capability), for the log
};

// process.consoleSize: {height, width}, each 0..65535 (a pty's size is 16 bits a side).
inline std::optional<vm::TerminalSize> console_size(const nlohmann::json& process) {
  if (!process.is_object() || !process.contains("consoleSize") || process["consoleSize"].is_null()) return std::nullopt;
  const nlohmann::json& cs = process["consoleSize"];
  if (!cs.is_object()) throw std::runtime_error("process.consoleSize: expected an object {height, width}, got " + cs.dump());
  std::uint16_t v[2] = {0, 0};
  int i = 0;
  for (const char* key : {"height", "width"}) {
    const nlohmann::json& x = cs.value(key, nlohmann::json(0));
    if (!x.is_number_unsigned() || x.get<std::uint64_t>() > 0xffff)
      throw std::runtime_error(std::string("process.consoleSize.") + key + ": expected a whole number from 0 to 65535, got " + x.dump());
    v[i++] = static_cast<std::uint16_t>(x.get<std::uint64_t>());
  }
  if (v[0] == 0 || v[1] == 0) return std::nullopt;  // no size: the caller's
  return vm::TerminalSize{v[0], v[1]};
}

// Reads an OCI process object; errors name the JSON path ("process.args: ...").
inline ExecRequest exec_request(const nlohmann::json& j) {
  auto bad = [](const std::string& what) { throw std::runtime_error("process" + what); };
  if (!j.is_object()) bad(": expected an object");
  ExecRequest r;
  auto strings = [&](const char* key, std::vector<std::string>& to) {
    if (!j.contains(key) || j[key].is_null()) return;
    if (!j[key].is_array()) bad(std::string(".") + key + ": expected an array of strings");
    for (std::size_t i = 0; i < j[key].size(); ++i) {
      if (!j[key][i].is_string()) bad(std::string(".") + key + "[" + std::to_string(i) + "]: expected a string");
      to.push_back(j[key][i].get<std::string>());
    }
  };
  strings("args", r.args);
  if (r.args.empty() || r.args[0].empty()) bad(".args: empty: nothing to run");
  strings("env", r.env);
  if (j.contains("cwd") && !j["cwd"].is_null()) {
    if (!j["cwd"].is_string()) bad(".cwd: expected a string");
    r.cwd = j["cwd"].get<std::string>();
    if (!r.cwd.empty() && r.cwd[0] != '/') bad(".cwd: \"" + r.cwd + "\" is not absolute");
  }
  if (j.contains("user") && j["user"].is_object())
    for (const char* key : {"uid", "gid"})
      if (j["user"].contains(key)) {
        const auto& v = j["user"][key];
        if (!v.is_number_unsigned() || v.get<std::uint64_t>() > 0xfffffffeu)
          bad(std::string(".user.") + key + ": expected an id from 0 to 4294967294, got " + v.dump());
        (std::string(key) == "uid" ? r.uid : r.gid) = v.get<std::uint32_t>();
      }
  if (j.contains("user") && j["user"].is_object() && j["user"].contains("additionalGids") && !j["user"]["additionalGids"].is_null()) {
    const nlohmann::json& gids = j["user"]["additionalGids"];
    if (!gids.is_array()) bad(".user.additionalGids: expected an array of ids");
    r.groups.emplace();
    for (std::size_t i = 0; i < gids.size(); ++i) {
      if (!gids[i].is_number_unsigned() || gids[i].get<std::uint64_t>() > 0xfffffffeu)
        bad(".user.additionalGids[" + std::to_string(i) + "]: expected an id from 0 to 4294967294, got " + gids[i].dump());
      r.groups->push_back(static_cast<std::uint32_t>(gids[i].get<std::uint64_t>()));
    }
  }
  for (const char* key : {"terminal", "noNewPrivileges"})
    if (j.contains(key) && !j[key].is_null() && !j[key].is_boolean()) bad(std::string(".") + key + ": expected true or false, got " + j[key].dump());
  r.terminal = j.value("terminal", false) == true;
  r.no_new_privs = j.value("noNewPrivileges", false) == true;
  // capabilities and rlimits as config.json's process reads them (bundle.hpp), errors with their path
  const std::filesystem::path file = "the exec process";
  try {
    using T = nlohmann::json::value_t;
    oci::Bundle scratch;
    if (const auto& caps = oci::bundle_detail::member(j, "capabilities", file, "process.", T::object); !caps.is_null()) {
      r.capabilities = oci::bundle_detail::capabilities(scratch, caps, file);
      r.ignored = scratch.ignored;
    }
    if (j.contains("rlimits") && !j["rlimits"].is_null())
      r.rlimits = oci::bundle_detail::rlimits(oci::bundle_detail::member(j, "rlimits", file, "process.", T::array), file);
  } catch (const oci::BundleError& e) {
    throw std::runtime_error(std::string(e.what()).substr(file.string().size() + 2));  // "process.rlimits[0].soft: ..."
  }
  if (r.rlimits && r.rlimits->size() > vm::protocol::config::command_rlimits_max)
    bad(".rlimits: at most " + std::to_string(vm::protocol::config::command_rlimits_max) + " limits");
  r.console_size = console_size(j);
  return r;
}

// The signals a monitor or exec process passes on besides handled_signals (host/process.hpp):
// every catchable one but those that are about the process itself (SIGCHLD, SIGPIPE, SIGWINCH,
// SIGURG, the faults a bad instruction raises) and glibc's own two (32, 33). Blocked in every
// thread, read from a signalfd: an image's STOPSIGNAL (SIGRTMIN+3, SIGPWR) reaches its process
// instead of ending the monitor.
inline sigset_t passed_signals(bool with_handled) {
  sigset_t set;
  ::sigemptyset(&set);
  for (int s = 1; s <= 64; ++s) {
    if (s == SIGKILL || s == SIGSTOP || s == SIGCHLD || s == SIGPIPE || s == SIGWINCH || s == SIGURG || s == SIGSEGV || s == SIGBUS ||
        s == SIGFPE || s == SIGILL || s == SIGTRAP || s == SIGSYS || s == 32 || s == 33)
      continue;
    if (!with_handled && std::find(std::begin(vm::handled_signals), std::end(vm::handled_signals), s) != std::end(vm::handled_signals))
      continue;
    ::sigaddset(&set, s);
  }
  return set;
}

// The signals waiting on a signalfd, one of each.
inline std::vector<int> take_signals(int signal_fd) {
  std::vector<int> out;
  signalfd_siginfo si;
  while (::read(signal_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si))
    if (std::find(out.begin(), out.end(), static_cast<int>(si.ssi_signo)) == out.end()) out.push_back(static_cast<int>(si.ssi_signo));
  return out;
}

// Where a guest stream goes on the host, written without ever blocking the loop: a pipe, FIFO or
// terminal is opened anew, non-blocking (O_NONBLOCK on the caller's own file description would
// change it for the caller too: a shell's terminal); a file is written as it is (it never waits
// for a reader); anything else (a socket, or a FIFO whose reader was gone when it was reopened:
// ENXIO) at most PIPE_BUF at a time once poll says it has room. A reader that went away (EPIPE,
// EIO, or poll's POLLERR/POLLHUP/POLLNVAL) makes the stream's bytes dropped from then on, as a
// runc container's process would get EPIPE and go on: the process is not held up, and its end
// is not waited for behind output nobody will read.
class Output {
 public:
  Output() = default;
  explicit Output(int fd) : fd_(fd) {
    struct stat st{};
    if (fd >= 0 && ::fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))) {
      own_.reset(::open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
      if (own_) fd_ = own_.get();
    }
    whole_ = own_ || (fd >= 0 && S_ISREG(st.st_mode));  // a file's write does not wait for a reader
  }
  // How many of `bytes` went out now.
  std::size_t put(std::string_view bytes) {
    if (fd_ < 0 || broken_) return bytes.size();
    if (!whole_) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, 0) <= 0) return 0;
      if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) {  // its reader is gone: dropped, as after EPIPE
        broken_ = true;
        return bytes.size();
      }
      if (!(p.revents & POLLOUT)) return 0;
      bytes = bytes.substr(0, std::min<std::size_t>(bytes.size(), PIPE_BUF));
    }
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EAGAIN || errno == EINTR) return 0;
    broken_ = true;  // nobody reads it any more
    return bytes.size();
  }
  void close() {
    own_.reset();
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  Fd own_;
  bool whole_ = false;  // written as it comes, not PIPE_BUF after a poll
  bool broken_ = false;
};

class Relay {
 public:
  // Starts an exec'd process (throws with a message for the exec process when it cannot).
  using Starter = std::function<vm::Session::Process(const ExecRequest&, const vm::Stdio&)>;
  // Told the host pids of the exec processes whenever they change (for `ps`).
  using ExecsChanged = std::function<void(const std::vector<pid_t>&)>;
  // Lines for the log.
  using Log = std::function<void(const std::string& level, const std::string& msg)>;

  Relay(Starter start, Fd listener, ExecsChanged changed, Log log)
      : start_(std::move(start)), listener_(std::move(listener)), changed_(std::move(changed)), log_(std::move(log)) {}

  // Holds the main process's signals until the guest has settled after the process's start:
  // until `guest_idle` says so (asked every 5 ms while a signal waits; three times running), or
  // until `until`, whichever comes first; `early` (signals that came before the start) wait
  // with them. Why: under TCG a program's first steps after a restore take 100-200 ms that take
  // well under one natively (its code is translated afresh), so a signal sent as soon as `state`
  // says running (the runtime-tools suite, a quick `podman stop`) would find a shell that has
  // not yet set its `trap` and kill it, where under runc the trap is long set. Later signals go
  // straight through.
  void hold_main_signals(std::vector<int> early, vm::Clock::time_point until, std::function<bool()> guest_idle) {
    held_ = std::move(early);
    hold_until_ = until;
    guest_idle_ = std::move(guest_idle);
  }

  // Serves `main` (stdio on in/out/err; `terminal`: the host terminal whose size its pty
  // follows, -1 for none) and every exec that comes, until the main process has ended and the
  // exec'd ones with it. Signals: those on `signals` and `signal_fd` go to the main process
  // alone. How the main process ended.
  vm::CommandResult serve(vm::Session::Process main, int in, int out, int err, int terminal, vm::SignalForwarding& signals,
                          int signal_fd) {
    Served& m = served_.emplace_back();
    m.p.emplace(std::move(main));
    m.in = in;
    m.out = Output(out);
    m.err = Output(err);
    m.terminal = terminal;
    m.name = "the container's process";
    main_ = &m;
    std::optional<vm::Clock::time_point> ending;
    unsigned idle = 0;
    auto last_check = vm::Clock::now(), last_size = last_check;
    std::vector<char> buf(std::size_t{64} << 10);
    for (;;) {
      bool moved = false;
      for (auto it = served_.begin(); it != served_.end();) {
        Served& s = *it;
        if (!s.result) moved |= pump(s);
        if (s.result && &s != main_) {  // an exec'd process ended: tell its exec process
          finish(s);
          it = served_.erase(it);
          execs_changed();
          continue;
        }
        ++it;
      }
      if (main_->result && !ending) {  // the container ends: its exec'd processes with it
        ending = vm::Clock::now();
        for (Served& s : served_)
          if (&s != main_) kill(s, SIGKILL, vm::SignalTarget::group);
        listener_.reset();
        for (Pending& c : pending_) {  // a request that came too late: the container is stopped
          try {
            send_message(c.conn.get(), "error cannot exec: the container is stopped (its process has ended)");
          } catch (const std::exception&) {
          }
        }
        pending_.clear();
      }
      if (ending && (served_.size() == 1 || vm::Clock::now() - *ending > std::chrono::seconds(5))) break;

      std::vector<pollfd> fds;
      std::vector<Served*> owner;
      for (Served& s : served_) {
        if (!s.result && s.in >= 0 && s.p->stdin_room() > 0) fds.push_back({s.in, POLLIN, 0}), owner.push_back(&s);
        if (s.conn) fds.push_back({s.conn.get(), POLLIN, 0}), owner.push_back(&s);
      }
      const std::size_t fixed = fds.size();
      for (Pending& c : pending_) fds.push_back({c.conn.get(), POLLIN, 0});
      const std::size_t signal_at = fds.size();
      fds.push_back({signals.fd(), POLLIN, 0});
      fds.push_back({signal_fd, POLLIN, 0});
      if (listener_) fds.push_back({listener_.get(), POLLIN, 0});
      idle = moved ? 0 : idle + 1;
      const long held_wait = held_.empty() ? 10'000'000L : 5'000'000L;  // the guest's idleness is looked at every 5 ms
      const timespec wait{0, moved ? 0L : idle < 400 ? 50'000L : idle < 2400 ? 1'000'000L : held_wait};
      if (::ppoll(fds.data(), fds.size(), &wait, nullptr) > 0) {
        for (std::size_t i = 0; i < fixed; ++i) {
          if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) continue;
          Served& s = *owner[i];
          moved = true;
          if (fds[i].fd == s.in) read_stdin(s, buf);
          else from_exec_process(s);
        }
        // a pending connection's request (fds in the order of pending_, which changes only here)
        auto c = pending_.begin();
        for (std::size_t i = fixed; i < signal_at; ++i) {
          auto next = std::next(c);
          if (fds[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
            Fd conn = std::move(c->conn);
            pending_.erase(c);
            serve_request(conn);
            moved = true;
          }
          c = next;
        }
        if (fds[signal_at].revents & POLLIN)
          for (int sig : signals.take())
            if (sig != SIGWINCH) signal_main(sig);
        if (fds[signal_at + 1].revents & POLLIN)
          for (int sig : take_signals(signal_fd)) signal_main(sig);
        if (listener_ && (fds[signal_at + 2].revents & POLLIN)) accept_one();
      }
      const auto now = vm::Clock::now();
      release_held(now);
      pending_.remove_if([&](const Pending& c) { return now > c.deadline; });  // said nothing in time: closed
      if (now - last_size > std::chrono::milliseconds(100)) {  // the caller may have resized the master
        for (Served& s : served_)
          if (!s.result && s.terminal >= 0)
            if (auto size = vm::terminal_size(s.terminal)) s.p->resize(*size);
        last_size = now;
      }
      if (now - last_check > std::chrono::milliseconds(20) && !main_->result) {
        main_->p->check(vm::Clock::time_point::max());  // the guest is alive
        last_check = now;
      }
    }
    for (Served& s : served_)
      if (&s != main_) {  // not ended within 5 s of SIGKILL: the VM goes anyway
        s.result.emplace();
        s.result->end = vm::CommandResult::End::signaled;
        s.result->code = SIGKILL;
        finish(s);
      }
    return *main_->result;
  }

 private:
  std::vector<int> held_;                             // the main process's signals waiting for the guest to settle
  std::optional<vm::Clock::time_point> hold_until_;  // set while they wait
  std::function<bool()> guest_idle_;
  vm::Clock::time_point last_idle_look_{};
  unsigned idle_looks_ = 0;

  struct Served {
    std::string name;
    std::optional<vm::Session::Process> p;
    int in = -1, terminal = -1;
    Output out, err;
    std::vector<Fd> owned;  // an exec's fds
    Fd conn;                // an exec's exec process
    pid_t host_pid = 0;
    std::optional<vm::CommandResult> result;
  };

  // One look at a process: its output out, its end. True when anything moved.
  bool pump(Served& s) {
    bool moved = false;
    for (vm::Stream st : {vm::Stream::out, vm::Stream::err})
      if (std::string_view bytes = s.p->output(st); !bytes.empty())
        if (const std::size_t n = (st == vm::Stream::out ? s.out : s.err).put(bytes); n > 0) {
          s.p->consume(st, n);
          moved = true;
        }
    if (std::optional<vm::CommandResult> r = s.p->ended()) {
      s.result = r;
      moved = true;
    }
    return moved;
  }

  void read_stdin(Served& s, std::vector<char>& buf) {
    const std::size_t room = s.p->stdin_room();
    if (room == 0) return;
    const ssize_t got = ::read(s.in, buf.data(), std::min(room, buf.size()));
    if (got > 0) {
      s.p->write(std::string_view(buf.data(), static_cast<std::size_t>(got)));
    } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
      s.p->close_stdin();  // EOF, or the pty's master closed (EIO)
      s.in = -1;
    }
  }

  void signal_main(int sig) {
    if (main_->result) return;
    if (hold_until_ && held_.empty() && vm::Clock::now() >= *hold_until_) hold_until_.reset();  // long after the start
    if (hold_until_) {  // the guest has not settled since the start: later, in the order they came
      if (std::find(held_.begin(), held_.end(), sig) == held_.end()) held_.push_back(sig);
      return;
    }
    main_->p->signal(sig, vm::SignalTarget::process);
  }

  // Ends the hold (hold_main_signals) once the guest has been idle three looks running, 5 ms
  // apart, or its time is up, and passes the held signals on. Nothing is looked at while no
  // signal waits; the hold ends with the first settling either way.
  void release_held(vm::Clock::time_point now) {
    if (!hold_until_ || held_.empty()) return;
    bool settled = now >= *hold_until_ || main_->result;
    if (!settled && now - last_idle_look_ >= std::chrono::milliseconds(5)) {
      last_idle_look_ = now;
      idle_looks_ = guest_idle_ && guest_idle_() ? idle_looks_ + 1 : 0;
      settled = idle_looks_ >= 3;
    }
    if (!settled) return;
    log_("debug", std::string("signals held since the start passed on: the guest ") + (now >= *hold_until_ ? "did not settle in time" : "settled"));
    hold_until_.reset();
    std::vector<int> held;
    held.swap(held_);
    for (int sig : held) signal_main(sig);
  }

  void kill(Served& s, int sig, vm::SignalTarget to) {
    if (!s.result) s.p->signal(sig, to);
  }

  // A message from an exec process: a signal for its guest process, or its end.
  void from_exec_process(Served& s) {
    std::string msg;
    bool got = false;
    try {
      got = receive_message(s.conn.get(), msg);
    } catch (const std::exception&) {
    }
    if (!got) {  // the exec process is gone (killed): its process goes with it
      s.conn.reset();
      log_("debug", s.name + ": its exec process went away; killing it");
      kill(s, SIGKILL, vm::SignalTarget::group);
      return;
    }
    if (msg.rfind("signal ", 0) == 0) {
      const int sig = std::atoi(msg.c_str() + 7);
      if (sig >= 1 && sig <= 64) kill(s, sig, vm::SignalTarget::process);
    }
  }

  // An exec'd process has ended: its fds closed (the caller's reader sees the end), then its
  // exec process told how.
  void finish(Served& s) {
    s.out.close();
    s.err.close();
    s.in = -1;
    log_("debug", s.name + " ended: " + s.result->describe());
    if (s.result->end == vm::CommandResult::End::not_started && !s.owned.empty()) {  // runc says why on its stderr too
      const std::string line = "crumble-runtime: exec failed: " + s.result->describe() + "\n";
      ssize_t ignored = ::write(s.owned[2].get(), line.data(), line.size());
      (void)ignored;
    }
    s.owned.clear();
    if (s.conn) {
      try {
        send_message(s.conn.get(), "exit " + std::to_string(s.result->status()));
      } catch (const std::exception&) {
      }
      s.conn.reset();
    }
  }

  void execs_changed() {
    std::vector<pid_t> pids;
    for (const Served& s : served_)
      if (s.host_pid > 0) pids.push_back(s.host_pid);
    changed_(pids);
  }

  // A new connection: an exec process, or `kill --all`. Non-blocking, and kept in the poll set
  // until its request comes (at most request_patience): a client that connects and says nothing
  // holds nothing up. At most pending_max wait at once; the oldest goes for a newer one.
  void accept_one() {
    Fd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!conn) return;
    if (pending_.size() >= pending_max) pending_.pop_front();
    pending_.push_back(Pending{std::move(conn), vm::Clock::now() + request_patience});
  }

  // A pending connection's request, ready (poll said so).
  void serve_request(Fd& conn) {
    std::string msg;
    std::vector<Fd> fds;
    try {
      if (!receive_message(conn.get(), msg, &fds, exec_message_max + 4096)) return;
      if (msg.rfind("kill-all ", 0) == 0) {
        const int sig = std::atoi(msg.c_str() + 9);
        if (sig < 1 || sig > 64) return send_message(conn.get(), "error no signal " + msg.substr(9));
        for (Served& s : served_) kill(s, sig, vm::SignalTarget::group);
        return send_message(conn.get(), "ok");
      }
      if (msg.rfind("exec\n", 0) != 0) return send_message(conn.get(), "error unknown request");
      if (fds.size() != 3) return send_message(conn.get(), "error an exec needs its stdin, stdout and stderr");
      add_exec(conn, nlohmann::json::parse(msg.substr(5)), std::move(fds));
    } catch (const std::exception& e) {
      try {
        if (conn) send_message(conn.get(), std::string("error ") + e.what());
      } catch (const std::exception&) {
      }
    }
  }

  // (`conn` is taken once the process runs: until then an error is the caller's to answer.)
  void add_exec(Fd& conn, const nlohmann::json& process, std::vector<Fd> fds) {
    const ExecRequest r = exec_request(process);
    ucred peer{};
    socklen_t len = sizeof peer;
    ::getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len);
    vm::Stdio stdio;
    stdio.stdin_open = true;
    if (r.terminal) stdio.tty = vm::terminal_size(fds[0].get()).value_or(vm::TerminalSize{});
    vm::Session::Process p = [&] {
      try {
        return start_(r, stdio);
      } catch (const vm::ConfigError& e) {  // no free slot: say how many may run
        const std::string what = e.what();
        if (what.find("at most") != std::string::npos)
          throw std::runtime_error("exec failed: a container runs at most " + std::to_string(vm::protocol::config::process_max) +
                                   " processes at once (its own and " + std::to_string(vm::protocol::config::process_max - 1) +
                                   " exec'd); this one would be one more");
        throw;
      }
    }();
    std::optional<vm::CommandResult> early = p.ended();
    if (early && early->end == vm::CommandResult::End::not_started) {
      // runc's words (podman maps "executable file not found" to 127, "permission denied" to 126)
      const std::string why = early->exec_errno == ENOENT ? "executable file not found in $PATH"
                              : early->exec_errno == EACCES ? "permission denied"
                                                            : early->describe();
      throw std::runtime_error("exec failed: unable to start container process: exec: \"" + r.args[0] + "\": " + why);
    }
    Served& s = served_.emplace_back();
    s.name = "exec " + r.args[0] + " (exec process " + std::to_string(peer.pid) + ")";
    s.host_pid = peer.pid;
    const std::uint32_t guest_pid = early ? 0 : p.guest_pid();
    s.p.emplace(std::move(p));
    s.result = early;
    s.in = fds[0].get();
    s.out = Output(fds[1].get());
    s.err = Output(fds[2].get());
    if (r.terminal) s.terminal = fds[0].get();
    s.owned = std::move(fds);
    try {
      send_message(conn.get(), "started " + std::to_string(guest_pid));
    } catch (const std::exception& e) {  // its exec process is gone (killed): its process goes with it
      log_("debug", s.name + ": its exec process went away before it was told it started (" + e.what() + "); killing it");
      kill(s, SIGKILL, vm::SignalTarget::group);
      return;  // served on until it ends (its fds closed then), with nobody to tell
    }
    s.conn = std::move(conn);
    log_("debug", s.name + " started");
    execs_changed();
  }

  // A connection whose request has not come yet.
  struct Pending {
    Fd conn;
    vm::Clock::time_point deadline;
  };
  static constexpr std::chrono::seconds request_patience{2};
  static constexpr std::size_t pending_max = 32;

  Starter start_;
  Fd listener_;
  std::list<Pending> pending_;
  ExecsChanged changed_;
  Log log_;
  std::list<Served> served_;  // the main process first; stable addresses
  Served* main_ = nullptr;
};

}  // namespace crumble::runtime
