// SPDX-License-Identifier: Apache-2.0
// tests/runner.hpp — runs a static ELF executable made by crumble and captures what it did.
//
// The bytes go to a fresh temporary file (mkstemp, mode 0755), which is run — natively, or under
// an emulator given as a command prefix (e.g. {"qemu-aarch64"} or {"qemu-riscv64", "-cpu", "rv64"})
// — with stdin from /dev/null, stdout captured through a pipe, stderr inherited, a fixed argv and
// environment, and a wall-clock limit after which it is killed. The file is removed afterwards.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace crumble::test {

struct RunOptions {
  // Emulator command put before the executable's path; empty: run it natively. A command
  // without a '/' is looked up in PATH.
  std::vector<std::string> prefix = {};
  // argv[1..] and the whole environment the program gets. The corpus programs' expectations
  // assume these defaults (argc == 3).
  std::vector<std::string> args = {"alpha", "beta gamma"};
  std::vector<std::string> env = {"CRUMBLE_CORPUS=1"};
  int timeout_ms = 10000;
};

struct RunResult {
  std::string out;        // everything written to stdout
  bool exited = false;    // exited normally (else killed by a signal or never started)
  int status = -1;        // exit status when exited
  int signal = 0;         // terminating signal when killed
  bool timed_out = false; // killed by us after timeout_ms
  std::string error;      // set when the runner itself failed (temp file, fork, exec)

  std::string describe() const {
    if (!error.empty()) return "runner error: " + error;
    if (timed_out) return "timed out (killed)";
    if (exited) return "exited with status " + std::to_string(status);
    return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  }
};

namespace detail {
inline std::string temp_dir() {
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}
inline bool write_all(int fd, const std::uint8_t* p, std::size_t n) {
  while (n) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}
inline std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }
}  // namespace detail

inline RunResult run_elf(const std::vector<std::uint8_t>& elf, const RunOptions& opt = {}) {
  RunResult r;
  std::string path = detail::temp_dir() + "/crumble-corpus-XXXXXX";
  int fd = ::mkstemp(path.data());
  if (fd < 0) {
    r.error = detail::errno_text("mkstemp");
    return r;
  }
  struct Unlink {
    std::string p;
    ~Unlink() { ::unlink(p.c_str()); }
  } unlink_later{path};
  bool ok = detail::write_all(fd, elf.data(), elf.size()) && ::fchmod(fd, 0755) == 0;
  if (!ok) r.error = detail::errno_text("writing the executable");
  ::close(fd);  // before fork: an executable still open for writing fails with ETXTBSY
  if (!ok) return r;

  std::vector<std::string> argv_s = opt.prefix;
  argv_s.push_back(path);
  argv_s.insert(argv_s.end(), opt.args.begin(), opt.args.end());
  std::vector<char*> argv, envp;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = opt.env;
  for (auto& s : env_s) envp.push_back(s.data());
  envp.push_back(nullptr);

  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    r.error = detail::errno_text("pipe2");
    return r;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    r.error = detail::errno_text("fork");
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    return r;
  }
  if (pid == 0) {  // child: only async-signal-safe calls from here on
    ::dup2(pipefd[1], 1);
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    if (opt.prefix.empty()) ::execve(argv[0], argv.data(), envp.data());
    else ::execvpe(argv[0], argv.data(), envp.data());
    const char msg[] = "crumble corpus runner: exec failed\n";
    ssize_t ignored = ::write(2, msg, sizeof msg - 1);
    (void)ignored;
    ::_exit(127);
  }
  ::close(pipefd[1]);

  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::milliseconds(opt.timeout_ms);
  auto left_ms = [&] {
    auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    return d > 0 ? static_cast<int>(d) : 0;
  };
  char chunk[4096];
  for (;;) {
    pollfd p{pipefd[0], POLLIN, 0};
    int n = ::poll(&p, 1, left_ms());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {  // timeout (or poll failure): stop reading
      r.timed_out = n == 0;
      break;
    }
    ssize_t got = ::read(pipefd[0], chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // EOF: the program (and anything it started) closed stdout
    r.out.append(chunk, static_cast<std::size_t>(got));
  }
  ::close(pipefd[0]);

  int wstatus = 0;
  if (r.timed_out) ::kill(pid, SIGKILL);
  for (;;) {
    pid_t w = ::waitpid(pid, &wstatus, r.timed_out ? 0 : WNOHANG);
    if (w == pid) break;
    if (w < 0) {
      if (errno == EINTR) continue;
      r.error = detail::errno_text("waitpid");
      return r;
    }
    if (left_ms() == 0) {  // stdout closed but still running past the limit
      r.timed_out = true;
      ::kill(pid, SIGKILL);
      continue;  // the blocking waitpid reaps it
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (r.timed_out) return r;
  if (WIFEXITED(wstatus)) {
    r.exited = true;
    r.status = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    r.signal = WTERMSIG(wstatus);
  }
  return r;
}

// Bytes made readable for a test log: printable ASCII and '\n' as they are, anything else as \xNN.
inline std::string escaped(std::string_view s) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string o;
  for (unsigned char c : s) {
    if (c == '\n' || (c >= 0x20 && c < 0x7f && c != '\\')) o += static_cast<char>(c);
    else if (c == '\\') o += "\\\\";
    else o += std::string("\\x") + digits[c >> 4] + digits[c & 15];
  }
  return o;
}

// Options for running under a qemu-user emulator found in PATH. Without it the test is skipped
// loudly (exit code 4, which ctest reports as skipped), never passed.
inline RunOptions emulated(const char* emulator) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin";
  for (std::size_t at = 0; at <= path.size();) {
    std::size_t end = path.find(':', at);
    if (end == std::string::npos) end = path.size();
    if (::access((path.substr(at, end - at) + "/" + emulator).c_str(), X_OK) == 0) return RunOptions{{emulator}};
    at = end + 1;
  }
  std::fprintf(stderr, "SKIPPED: %s not found (install qemu-user: scripts/setup.sh)\n", emulator);
  std::exit(4);
}

}  // namespace crumble::test
