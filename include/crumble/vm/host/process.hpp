// SPDX-License-Identifier: Apache-2.0
// crumble/vm/host/process.hpp — child processes on the host, the one place crumble starts them: a
// long-running child (QEMU) that is always reaped, killed if need be (ChildProcess); a command run
// to its end with a deadline and its output captured (run_process: apt, dpkg-deb, decompressors,
// busybox); a private temporary directory (TempDir) and the reclaim of those a killed process
// left (reclaim_stale_temp_dirs); and a clean exit on SIGTERM/SIGINT/SIGHUP for the CLIs
// (stop_cleanly_on_signals). No child outlives crumble, however crumble ends.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <linux/close_range.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "../errors.hpp"

extern char** environ;

namespace crumble::vm {

// What a signal-driven exit must clean up: every live TempDir and ChildProcess registers here, so
// stop_cleanly_on_signals() can kill the children and remove the directories before the process
// exits. Children are reaped under the lock, so a pid in the list is never one the kernel has
// already given to another process.
namespace host_detail {
struct Registry {
  std::mutex lock;
  std::set<std::string> dirs;
  std::set<pid_t> children;
  bool ending = false;  // a signal arrived: nothing new may start
  // While a SignalForwarding lives: its eventfd, and the signals it has not taken (bit N-1).
  int forward_fd = -1;
  std::uint64_t forwarded = 0;
  // Since when a signal that ends crumble waits untaken (the caller is stuck: a write to a stdout
  // nobody reads); after forward_patience the signal thread ends crumble itself.
  std::optional<std::chrono::steady_clock::time_point> untaken_since;
  // While a terminal is in raw mode (host/terminal.hpp): its fd and the mode to restore.
  int terminal_fd = -1;
  termios terminal_mode{};
};
// How long a signal that ends crumble may wait untaken by a SignalForwarding's owner before the
// signal thread ends crumble anyway (longer than attach's grace, which normally acts first).
inline constexpr std::chrono::seconds forward_patience{15};
inline Registry& registry() {
  static Registry r;
  return r;
}

// The first steps of every child, between fork() and exec (async-signal-safe calls only): its
// own process group (a terminal's Ctrl-C reaches crumble, which decides), killed when its parent
// dies, no signal blocked (the mask survives exec; stop_cleanly_on_signals blocks three), and
// every descriptor of ours above 2 closed at exec (an iostream or socket opened without
// O_CLOEXEC would otherwise leak into QEMU). Returns 0, or 3 when the parent is already gone.
inline int enter_child(pid_t parent) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) return 3;  // it died before the prctl: no signal will come
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);  // fails harmlessly on kernels before 5.11
  return 0;
}
}  // namespace host_detail

// A process's start time in clock ticks since boot (/proc/PID/stat, field 22): with the pid it
// names one process for good, as pids are reused. Empty when there is no such process.
inline std::string process_start_time(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  if (!std::getline(in, s)) return {};
  const auto paren = s.rfind(')');  // the name (field 2) may hold spaces and parentheses
  if (paren == std::string::npos) return {};
  std::istringstream fields(s.substr(paren + 1));
  std::string f;
  for (int i = 3; i <= 22 && (fields >> f); ++i) {
  }
  return f;
}

// The file in each crumble temporary directory that names its owner ("PID START-TIME"), so a
// later run can tell a directory left by a process killed with SIGKILL from one still in use.
inline constexpr const char* owner_mark = ".crumble-owner";

// $TMPDIR, or /tmp.
inline std::filesystem::path temp_root() {
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

// A fresh directory under $TMPDIR (or /tmp), marked with its owner and removed with everything
// in it when this goes (or, after a SIGKILL, by the next reclaim_stale_temp_dirs()).
class TempDir {
 public:
  explicit TempDir(const char* prefix = "crumble-") {
    std::string tmpl = (temp_root() / (std::string(prefix) + "XXXXXX")).string();
    auto& reg = host_detail::registry();
    std::lock_guard<std::mutex> held(reg.lock);
    if (reg.ending) throw VmError("crumble is stopping (signal): no new temporary directory");
    if (!::mkdtemp(tmpl.data())) throw VmError("cannot create a temporary directory in " + tmpl + ": " + std::strerror(errno));
    path_ = tmpl;
    const std::string mark = std::to_string(::getpid()) + " " + process_start_time(::getpid()) + "\n";
    const int fd = ::open((path_ / owner_mark).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    const bool written = fd >= 0 && ::write(fd, mark.data(), mark.size()) == static_cast<ssize_t>(mark.size());
    const int err = errno;
    if (fd >= 0) ::close(fd);
    if (!written) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
      throw VmError("cannot write in the temporary directory " + path_.string() + ": " + std::strerror(err) +
                    " (is TMPDIR's file system full? set TMPDIR to another directory)");
    }
    reg.dirs.insert(path_.string());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    auto& reg = host_detail::registry();
    std::lock_guard<std::mutex> held(reg.lock);
    reg.dirs.erase(path_.string());
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Removes the crumble-* directories under $TMPDIR whose owner (the mark TempDir writes) has
// ended: a process killed with SIGKILL cannot remove its own, and a QEMU guest's holds its whole
// RAM file. Directories without a mark (being created this instant, or not crumble's) stay.
// Returns how many were removed.
inline std::size_t reclaim_stale_temp_dirs() {
  std::size_t removed = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(temp_root(), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("crumble-", 0) != 0 || !it->is_directory(ec)) continue;
    std::ifstream in(it->path() / owner_mark);
    long pid = 0;
    std::string start;
    if (!(in >> pid >> start) || pid <= 0) continue;
    if (pid == ::getpid() || process_start_time(static_cast<pid_t>(pid)) == start) continue;  // its owner lives
    std::error_code rm;
    if (std::filesystem::remove_all(it->path(), rm) > 0 && !rm) ++removed;
  }
  return removed;
}

// A child process; stdin from /dev/null, stdout and stderr to `log` (appended), run in `cwd`
// (empty: ours), in its own process group, with no descriptor of ours but those three. It dies
// with us: the destructor kills (SIGKILL) and reaps it if it is still running, and the kernel
// kills it (PR_SET_PDEATHSIG) if we die without running destructors (SIGKILL, a crash). The
// death signal follows the *thread* that started it: start a child from a thread that outlives it.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& log, const std::filesystem::path& cwd = {}) {
    if (argv.empty()) throw std::logic_error("ChildProcess: empty argv");
    // Everything the child needs is made before fork(): afterwards only async-signal-safe calls.
    std::vector<std::string> argv_s = argv;
    std::vector<char*> args;
    for (std::string& a : argv_s) args.push_back(a.data());
    args.push_back(nullptr);
    const std::string cwd_s = cwd.string();
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) throw BootError("cannot start " + argv[0] + ": cannot open " + log.string() + ": " + std::strerror(errno));
    int exec_pipe[2];
    if (::pipe2(exec_pipe, O_CLOEXEC) != 0) {
      ::close(log_fd);
      throw BootError("cannot start " + argv[0] + ": pipe2: " + std::strerror(errno));
    }
    const pid_t parent = ::getpid();
    auto& reg = host_detail::registry();
    {
      std::lock_guard<std::mutex> held(reg.lock);
      if (reg.ending) {
        ::close(log_fd), ::close(exec_pipe[0]), ::close(exec_pipe[1]);
        throw BootError("crumble is stopping (signal): " + argv[0] + " not started");
      }
      pid_ = ::fork();
      if (pid_ == 0) {
        int stage = host_detail::enter_child(parent);
        if (stage == 0) {
          int null = ::open("/dev/null", O_RDONLY);
          if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(log_fd, 1) < 0 || ::dup2(log_fd, 2) < 0) stage = 2;
        }
        if (stage == 0 && !cwd_s.empty() && ::chdir(cwd_s.c_str()) != 0) stage = 1;
        if (stage == 0) ::execvp(args[0], args.data());
        int report[2] = {stage, errno};
        ssize_t ignored = ::write(exec_pipe[1], report, sizeof report);
        (void)ignored;
        ::_exit(127);
      }
      if (pid_ > 0) reg.children.insert(pid_);
    }
    const int fork_errno = errno;
    ::close(log_fd);
    ::close(exec_pipe[1]);
    if (pid_ < 0) {
      ::close(exec_pipe[0]);
      throw BootError("cannot start " + argv[0] + ": fork: " + std::strerror(fork_errno));
    }
    int report[2] = {0, 0};
    ssize_t got;
    while ((got = ::read(exec_pipe[0], report, sizeof report)) < 0 && errno == EINTR) {
    }
    ::close(exec_pipe[0]);
    if (got == static_cast<ssize_t>(sizeof report)) {  // the exec did not happen
      kill();
      throw BootError("cannot start " + argv[0] + ": " + (report[0] == 1 ? "chdir to " + cwd_s + ": " : std::string()) +
                      std::strerror(report[1]));
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { kill(); }

  // True while it runs; once it has ended, exit_status() says how.
  bool running() {
    if (pid_ <= 0) return false;
    auto& reg = host_detail::registry();
    std::lock_guard<std::mutex> held(reg.lock);
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      reg.children.erase(pid_);
      pid_ = -1;
      status_ = st;
      return false;
    }
    return true;
  }
  // Waits up to `limit` for it to end by itself; false if it is still running.
  bool wait_for(std::chrono::milliseconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (running()) {
      if (std::chrono::steady_clock::now() >= until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }
  void kill() {
    if (pid_ <= 0) return;
    auto& reg = host_detail::registry();
    std::lock_guard<std::mutex> held(reg.lock);
    ::kill(-pid_, SIGKILL);  // its group: helpers it started (QEMU's exec: migration) go too
    ::kill(pid_, SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    status_ = st;
    reg.children.erase(pid_);
    pid_ = -1;
  }
  // How it ended, in words ("exited with status 1", "killed by signal 9").
  std::string exit_status() const {
    if (WIFEXITED(status_)) return "exited with status " + std::to_string(WEXITSTATUS(status_));
    if (WIFSIGNALED(status_)) return "killed by signal " + std::to_string(WTERMSIG(status_));
    return "ended";
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
};

// The signals crumble acts on or passes on: SIGTERM, SIGINT, SIGHUP and SIGQUIT end the process
// cleanly, unless a SignalForwarding lives; then they, SIGUSR1, SIGUSR2 and SIGWINCH go to it.
inline constexpr int handled_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

// SIGTERM, SIGINT, SIGHUP and SIGQUIT end the process cleanly: children (QEMU) killed, temporary
// directories removed, a raw terminal restored, then exit with 128+N, as a shell reports a
// command killed by signal N. A thread waits for the signals (blocked everywhere else), so the
// cleanup may take locks and free memory, which a signal handler may not. Call it first in
// main(), before any thread starts: threads inherit the blocked mask. What the process had
// buffered for stdout is not written. While a SignalForwarding lives (a command runs in the
// guest), the signals go to it instead, and the caller decides; one that ends crumble and is not
// taken for 15 s (the caller is stuck writing to a stdout nobody reads) ends it as above.
inline void stop_cleanly_on_signals() {
  sigset_t set;
  ::sigemptyset(&set);
  for (int s : handled_signals) ::sigaddset(&set, s);
  // SIGPIPE is blocked too, but not waited for: a write to a reader that went away (`crumble run
  // ... | head`) then fails with EPIPE, an error the normal path reports and cleans up after,
  // instead of killing crumble on the spot with the VM's directory left behind. (Children start
  // with no signal blocked: enter_child.)
  sigset_t blocked = set;
  ::sigaddset(&blocked, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  std::thread([set] {
    auto& reg = host_detail::registry();
    int sig = 0;
    const timespec second{1, 0};
    for (;;) {
      sig = ::sigtimedwait(&set, nullptr, &second);
      reg.lock.lock();
      if (sig < 0) {  // no signal this second: is one waiting untaken for too long?
        const bool stuck = reg.forward_fd >= 0 && reg.untaken_since &&
                           std::chrono::steady_clock::now() - *reg.untaken_since > host_detail::forward_patience;
        if (!stuck) {
          reg.lock.unlock();
          continue;
        }
        for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT})
          if (reg.forwarded & (std::uint64_t{1} << (s - 1))) sig = s;
        const std::string msg = std::string("crumble: SIG") + ::sigabbrev_np(sig) + " was not acted on for " +
                                std::to_string(host_detail::forward_patience.count()) + " s\n";
        ssize_t ignored = ::write(2, msg.data(), msg.size());
        (void)ignored;
        break;
      }
      if (reg.forward_fd >= 0) {
        if ((sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT) && !reg.untaken_since)
          reg.untaken_since = std::chrono::steady_clock::now();
        reg.forwarded |= std::uint64_t{1} << (sig - 1);
        const std::uint64_t one = 1;
        ssize_t ignored = ::write(reg.forward_fd, &one, sizeof one);
        (void)ignored;
        reg.lock.unlock();
        continue;
      }
      if (sig == SIGUSR1 || sig == SIGUSR2 || sig == SIGWINCH) {  // nothing to pass them on to
        reg.lock.unlock();
        continue;
      }
      break;  // the lock stays held until _exit: nothing starts, nothing is reaped behind our back
    }
    reg.ending = true;
    if (reg.terminal_fd >= 0) ::tcsetattr(reg.terminal_fd, TCSAFLUSH, &reg.terminal_mode);
    for (pid_t p : reg.children) ::kill(-p, SIGKILL), ::kill(p, SIGKILL);
    // Reaped (bounded) before the directories go, so no dying child writes into them after.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (pid_t p : reg.children)
      while (::waitpid(p, nullptr, WNOHANG) == 0 && std::chrono::steady_clock::now() < until) ::usleep(1000);
    for (const std::string& d : reg.dirs) {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    }
    const std::string msg = std::string("crumble: stopped by SIG") + ::sigabbrev_np(sig) + "\n";
    ssize_t ignored = ::write(2, msg.data(), msg.size());
    (void)ignored;
    ::_exit(128 + sig);
  }).detach();
}

// While it lives, the signals of handled_signals that reach the process (after
// stop_cleanly_on_signals) are collected here instead of ending it: `crumble run` passes them to
// the command in the guest. One at a time.
class SignalForwarding {
 public:
  SignalForwarding() {
    fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd_ < 0) throw VmError(std::string("cannot make an eventfd to pass signals on: ") + std::strerror(errno));
    auto& reg = host_detail::registry();
    std::lock_guard<std::mutex> held(reg.lock);
    if (reg.forward_fd >= 0) {
      ::close(fd_);
      throw VmError("signals are already being passed on (one SignalForwarding at a time)");
    }
    reg.forward_fd = fd_;
    reg.forwarded = 0;
    reg.untaken_since.reset();
  }
  SignalForwarding(const SignalForwarding&) = delete;
  SignalForwarding& operator=(const SignalForwarding&) = delete;
  ~SignalForwarding() {
    auto& reg = host_detail::registry();
    {
      std::lock_guard<std::mutex> held(reg.lock);
      reg.forward_fd = -1;
    }
    ::close(fd_);
  }
  // Readable (poll) when signals wait.
  int fd() const { return fd_; }
  // The signals that came since the last call, lowest number first (one of each kind, as Linux
  // merges pending signals).
  std::vector<int> take() {
    std::uint64_t n;
    ssize_t ignored = ::read(fd_, &n, sizeof n);
    (void)ignored;
    auto& reg = host_detail::registry();
    std::uint64_t bits;
    {
      std::lock_guard<std::mutex> held(reg.lock);
      bits = reg.forwarded;
      reg.forwarded = 0;
      reg.untaken_since.reset();
    }
    std::vector<int> sigs;
    for (int s = 1; s <= 64; ++s)
      if (bits & (std::uint64_t{1} << (s - 1))) sigs.push_back(s);
    return sigs;
  }

 private:
  int fd_ = -1;
};

// How a process run to its end ended, and what it wrote.
struct ProcessResult {
  int status = -1;  // exit status; -1 when killed by a signal
  int signal = 0;   // the signal that killed it
  std::string out, err;
};

inline std::string command_text(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

// The last few lines of a child's stderr (at most ~1500 characters), for an error message.
inline std::string tail_lines(std::string_view s, std::size_t max_lines = 8, std::size_t max_chars = 1500) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  std::size_t from = s.size();
  for (std::size_t lines = 0; from > 0 && lines < max_lines; ++lines) {
    std::size_t nl = s.rfind('\n', from - 1);
    from = nl == std::string_view::npos ? 0 : nl;
  }
  if (from > 0) ++from;  // past the newline that ends the line before
  s.remove_prefix(from);
  if (s.size() > max_chars) s.remove_prefix(s.size() - max_chars);
  return std::string(s);
}

inline std::string describe_failure(const std::vector<std::string>& argv, const std::string& what,
                                    const std::string& err) {
  std::string m = "`" + command_text(argv) + "` " + what;
  std::string t = tail_lines(err);
  if (!t.empty()) m += ":\n" + t;
  return m;
}

// Runs argv in its own process group, in `cwd` (empty: ours), stdout and stderr captured, stdin
// from /dev/null, LC_ALL=C. The file executed is `program`, or when that is empty argv[0] looked
// up in PATH. Past `timeout` the whole group gets SIGKILL and this throws. Failing to start it
// throws too ("cannot run X: reason"); a non-zero exit is returned.
inline ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::seconds timeout, const std::filesystem::path& cwd = {},
                                 const std::filesystem::path& program = {}) {
  if (argv.empty()) throw std::logic_error("run_process: empty argv");
  // Everything the child needs is built before fork(): afterwards only async-signal-safe calls.
  std::vector<std::string> env_s;
  for (char** e = environ; e && *e; ++e) {
    std::string_view v(*e);
    if (v.starts_with("LC_ALL=") || v.starts_with("LANGUAGE=")) continue;
    env_s.emplace_back(v);
  }
  env_s.emplace_back("LC_ALL=C");
  std::vector<char*> envp, args;
  for (auto& s : env_s) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_s = argv;
  for (auto& s : argv_s) args.push_back(s.data());
  args.push_back(nullptr);
  std::string cwd_s = cwd.string(), program_s = program.string();

  int out_pipe[2], err_pipe[2], exec_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2: " + std::string(std::strerror(errno)));
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(out_pipe[0]), ::close(out_pipe[1]);
    throw std::runtime_error("pipe2: " + std::string(std::strerror(e)));
  }
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) {  // carries errno from a failed chdir/exec
    int e = errno;
    ::close(out_pipe[0]), ::close(out_pipe[1]), ::close(err_pipe[0]), ::close(err_pipe[1]);
    throw std::runtime_error("pipe2: " + std::string(std::strerror(e)));
  }
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], exec_pipe[0], exec_pipe[1]}) ::close(fd);
    throw std::runtime_error("fork: " + std::string(std::strerror(e)));
  }
  if (pid == 0) {
    // its own process group (a timeout kills apt's helpers too), dies with us (enter_child)
    if (host_detail::enter_child(parent) != 0) ::_exit(127);
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    int stage = 0;
    if (!cwd_s.empty() && ::chdir(cwd_s.c_str()) != 0) stage = 1;
    // A path is executed as it is (execve: a file that is no executable is ENOEXEC, not a script)
    if (stage == 0 && !program_s.empty()) ::execve(program_s.c_str(), args.data(), envp.data());
    else if (stage == 0) ::execvpe(args[0], args.data(), envp.data());
    int report[2] = {stage, errno};
    ssize_t ignored = ::write(exec_pipe[1], report, sizeof report);
    (void)ignored;
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(exec_pipe[1]);

  ProcessResult r;
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + timeout;
  bool timed_out = false;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char chunk[8192];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    int n = ::poll(fds, 2, static_cast<int>(std::min<long long>(left, 1000)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(fds[i].fd, chunk, sizeof chunk);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        sinks[i]->append(chunk, static_cast<std::size_t>(got));
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  if (timed_out) ::kill(-pid, SIGKILL), ::kill(pid, SIGKILL);
  int wstatus = 0;
  for (;;) {  // stdout/stderr closed: the child is exiting; still bounded by the deadline
    pid_t w = ::waitpid(pid, &wstatus, timed_out ? 0 : WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) break;
    if (clock::now() >= deadline) {
      timed_out = true;
      ::kill(-pid, SIGKILL), ::kill(pid, SIGKILL);
      continue;
    }
    ::usleep(2000);
  }
  int report[2] = {0, 0};
  ssize_t got = ::read(exec_pipe[0], report, sizeof report);
  ::close(exec_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof report)) {
    throw std::runtime_error("cannot run `" + command_text(argv) + "`: " +
                             (report[0] == 1 ? "chdir to " + cwd_s + ": " : std::string()) +
                             std::strerror(report[1]));
  }
  if (timed_out) {
    throw std::runtime_error(describe_failure(
        argv, "timed out after " + std::to_string(timeout.count()) + " s (killed)", r.err));
  }
  r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  r.signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
  return r;
}

// run_process, and a non-zero exit is an error too.
inline ProcessResult run_process_checked(const std::vector<std::string>& argv, std::chrono::seconds timeout,
                                         const std::filesystem::path& cwd = {}) {
  ProcessResult r = run_process(argv, timeout, cwd);
  if (r.status != 0) {
    throw std::runtime_error(describe_failure(
        argv, r.status < 0 ? "was killed by signal " + std::to_string(r.signal) : "failed (exit status " + std::to_string(r.status) + ")",
        r.err.empty() ? r.out : r.err));
  }
  return r;
}


}  // namespace crumble::vm
