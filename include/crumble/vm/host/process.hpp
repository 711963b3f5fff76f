// SPDX-License-Identifier: Apache-2.0
// crumble/vm/host/process.hpp — child processes on the host, the one place crumble starts them: a
// long-running child (QEMU) that is always reaped, killed if need be (ChildProcess); a command run
// to its end with a deadline and its output captured (run_process: apt, dpkg-deb, decompressors,
// busybox); and a private temporary directory (TempDir).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "../errors.hpp"

extern char** environ;

namespace crumble::vm {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it when this goes.
class TempDir {
 public:
  explicit TempDir(const char* prefix = "crumble-") {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/" + prefix + "XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw VmError("cannot create a temporary directory in " + tmpl + ": " + std::strerror(errno));
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A child process; stdin from /dev/null, stdout and stderr to `log` (appended). The destructor
// kills (SIGKILL) and reaps it if it is still running, so no process outlives its owner.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& log) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int rc = posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw BootError("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { kill(); }

  // True while it runs; once it has ended, exit_status() says how.
  bool running() {
    if (pid_ <= 0) return false;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
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
    ::kill(pid_, SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    status_ = st;
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
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], exec_pipe[0], exec_pipe[1]}) ::close(fd);
    throw std::runtime_error("fork: " + std::string(std::strerror(e)));
  }
  if (pid == 0) {
    ::setpgid(0, 0);  // its own process group, so a timeout kills apt's helpers too
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
