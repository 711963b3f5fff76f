// SPDX-License-Identifier: Apache-2.0
// Interactive runs: a command's output arriving while it runs, stdin from the host, signals from
// the host, a terminal (under tmux), and several processes in one VM — through the `crumble` CLI
// as a user runs it, and through Session::start.
//
// Oracles: the guest's own tools say what it received (wc, sha256sum, stty, tty, its shell's
// traps); the host's sha256sum hashes what the host sent or got; tmux shows what a user would
// see on the terminal. Each TEST_CASE is its own ctest process; each starts from the snapshot.
// Without a cached kernel or QEMU every test prints SKIPPED and exits 4; the terminal test also
// without tmux.
#include <catch2/catch.hpp>
#include <crumble/vm/session.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../tmux.hpp"
#include "guest_skip.hpp"

namespace fs = std::filesystem;
using namespace crumble::vm;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A file in this test's own temporary directory.
fs::path temp_file(const std::string& name) {
  static const fs::path dir = [] {
    std::string tmpl = (fs::temp_directory_path() / "interactive-test-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    return fs::path(tmpl);
  }();
  return dir / name;
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The host's sha256sum of a file: the oracle for what went through.
std::string host_sha256(const fs::path& p) {
  std::string cmd = "sha256sum '" + p.string() + "'";
  std::FILE* f = ::popen(cmd.c_str(), "r");
  REQUIRE(f != nullptr);
  char buf[128] = {};
  const std::size_t n = std::fread(buf, 1, 64, f);
  ::pclose(f);
  REQUIRE(n == 64);
  return std::string(buf, 64);
}

// `crumble` as a user runs it: stdin from `in` (an fd the child gets as 0; -1: /dev/null), stdout
// and stderr read by the test, with the time each piece of stdout arrived.
struct Cli {
  pid_t pid = -1;
  int out = -1, err = -1;
  std::string stdout_text, stderr_text;
  std::vector<std::pair<double, std::string>> arrivals;  // seconds since start, bytes
  Clock::time_point started = Clock::now();

  Cli(const std::vector<std::string>& args, int in = -1) {
#ifndef CRUMBLE_CLI
    (void)args;
    (void)in;
    FAIL("CRUMBLE_CLI is not defined");
#else
    int o[2], e[2];
    REQUIRE(::pipe2(o, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(e, O_CLOEXEC) == 0);
    std::vector<std::string> argv{CRUMBLE_CLI};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      const int stdin_fd = in >= 0 ? in : ::open("/dev/null", O_RDONLY);
      ::dup2(stdin_fd, 0);
      ::dup2(o[1], 1);
      ::dup2(e[1], 2);
      ::execv(a[0], a.data());
      ::_exit(126);
    }
    ::close(o[1]);
    ::close(e[1]);
    out = o[0];
    err = e[0];
#endif
  }
  ~Cli() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (out >= 0) ::close(out);
    if (err >= 0) ::close(err);
  }

  // Reads what comes until `done` says so or both streams end; false at the deadline.
  template <class Done>
  bool read_until(Done&& done, std::chrono::seconds limit) {
    const auto deadline = Clock::now() + limit;
    while (!done() && (out >= 0 || err >= 0)) {
      if (Clock::now() > deadline) return false;
      pollfd fds[2] = {{out, POLLIN, 0}, {err, POLLIN, 0}};
      if (::poll(fds, 2, 100) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[65536];
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          ::close(fds[i].fd);
          (i == 0 ? out : err) = -1;
          continue;
        }
        if (i == 0) {
          stdout_text.append(buf, static_cast<std::size_t>(n));
          arrivals.emplace_back(seconds_since(started), std::string(buf, static_cast<std::size_t>(n)));
        } else {
          stderr_text.append(buf, static_cast<std::size_t>(n));
        }
      }
    }
    return true;
  }
  // Waits for "text" on stdout.
  bool wait_for(const std::string& text, std::chrono::seconds limit = 60s) {
    return read_until([&] { return stdout_text.find(text) != std::string::npos; }, limit) &&
           stdout_text.find(text) != std::string::npos;
  }
  // Reads to the end and returns the exit status (-1: killed by a signal or still running).
  int finish(std::chrono::seconds limit = 120s) {
    read_until([] { return false; }, limit);
    int st = 0;
    const auto deadline = Clock::now() + 10s;
    while (::waitpid(pid, &st, WNOHANG) == 0) {
      if (Clock::now() > deadline) return -1;
      std::this_thread::sleep_for(10ms);
    }
    pid = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
};

void require_vm() { (void)crumble::test::guest_kernel_or_skip(); }

}  // namespace

TEST_CASE("live output: each line reaches the host as the command writes it, not when it ends") {
  require_vm();
  Cli c({"run", "--", "sh", "-c", "echo a; sleep 3; echo b"});
  REQUIRE(c.finish() == 0);
  CHECK(c.stdout_text == "a\nb\n");
  REQUIRE(c.arrivals.size() == 2);
  INFO("a arrived at " << c.arrivals[0].first << " s, b at " << c.arrivals[1].first << " s");
  CHECK(c.arrivals[0].second == "a\n");
  CHECK(c.arrivals[1].first - c.arrivals[0].first > 2.8);  // a came before the sleep, not with b
}

TEST_CASE("output: the bytes of a stream arrive in order, as the guest's sha256sum says, and stderr apart") {
  require_vm();
  Cli c({"run", "--memory", "384", "--", "sh", "-c",
         "head -c 33554432 /dev/urandom > /tmp/r && sha256sum /tmp/r >&2 && cat /tmp/r && echo done >&2"});
  REQUIRE(c.finish() == 0);
  const fs::path got = temp_file("urandom.out");
  write_file(got, c.stdout_text);
  INFO("stderr: " << c.stderr_text);
  CHECK(c.stdout_text.size() == 33554432);
  CHECK(c.stderr_text == host_sha256(got) + "  /tmp/r\ndone\n");
}

TEST_CASE("output into a pipe nobody reads for a while: the command waits, nothing is lost, memory stays flat") {
  require_vm();
  Cli c({"run", "--", "sh", "-c", "dd if=/dev/zero bs=65536 count=1024 2>/dev/null; echo end >&2"});  // 64 MiB
  std::this_thread::sleep_for(4s);  // the reader sleeps: the pipe, the ring and the guest's pipe fill up
  long peak = 0;
  {
    std::ifstream in("/proc/" + std::to_string(c.pid) + "/status");
    for (std::string l; std::getline(in, l);)
      if (l.rfind("VmHWM:", 0) == 0) peak = std::atol(l.c_str() + 6);
  }
  CHECK(c.stdout_text.empty());
  const int status = c.finish();
  INFO("peak RSS of crumble while its stdout was full: " << peak << " KiB; stderr: " << c.stderr_text);
  CHECK(status == 0);
  CHECK(c.stdout_text.size() == std::size_t{64} << 20);
  CHECK(std::count(c.stdout_text.begin(), c.stdout_text.end(), '\0') == std::ptrdiff_t{64} << 20);
  CHECK(c.stderr_text == "end\n");
  CHECK(peak > 0);
  CHECK(peak < 64 * 1024);
}

TEST_CASE("stdin: -i passes exactly the bytes crumble reads, then EOF, and without -i it is /dev/null") {
  require_vm();
  std::string every;
  for (int i = 0; i < 256; ++i) every += static_cast<char>(i);
  std::string big(64 << 20, '\0');
  std::mt19937_64 rng(15);
  for (std::size_t i = 0; i < big.size(); i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(&big[i], &v, 8);
  }
  const fs::path big_file = temp_file("big.in");
  write_file(big_file, big);
  big.clear();
  struct Case {
    std::string what;
    std::string kind;   // how the host's stdin is made: "bytes" (a file with `input`), "closed pipe", "/dev/null"
    std::string input;  // with "bytes"
    std::vector<std::string> args;
    std::string out;
  };
  const std::vector<Case> cases = {
      {"nothing", "bytes", "", {"-i", "--", "wc", "-c"}, "0\n"},
      {"one byte", "bytes", "x", {"-i", "--", "wc", "-c"}, "1\n"},
      {"every byte value, back exactly", "bytes", every, {"-i", "--", "cat"}, every},
      {"lines a command reads one by one", "bytes", "one\ntwo\n", {"-i", "--", "sh", "-c", "read a; read b; echo $b $a"}, "two one\n"},
      {"a closed pipe: EOF at once", "closed pipe", "", {"-i", "--", "wc", "-c"}, "0\n"},
      {"/dev/null", "/dev/null", "", {"-i", "--", "wc", "-c"}, "0\n"},
      {"without -i the host's stdin is not read", "bytes", "secret", {"--", "wc", "-c"}, "0\n"},
      {"64 MiB of random bytes through the guest's sha256sum", "big", "", {"-i", "--", "sha256sum"}, host_sha256(big_file) + "  -\n"},
  };
  for (const Case& k : cases) {
    int in = -1;
    if (k.kind == "bytes" || k.kind == "big") {
      const fs::path f = k.kind == "big" ? big_file : temp_file("in");
      if (k.kind == "bytes") write_file(f, k.input);
      in = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
    } else if (k.kind == "closed pipe") {
      int p[2];
      REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
      ::close(p[1]);
      in = p[0];
    } else {
      in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    REQUIRE(in >= 0);
    std::vector<std::string> args{"run"};
    args.insert(args.end(), k.args.begin(), k.args.end());
    const auto t = Clock::now();
    Cli c(args, in);
    ::close(in);
    const int status = c.finish();
    INFO(k.what << ": status " << status << " in " << seconds_since(t) << " s\nstderr: " << c.stderr_text);
    CHECK(status == 0);
    CHECK(c.stdout_text == k.out);
  }
}

TEST_CASE("crumble run -it with piped stdin is refused before the VM starts, as docker refuses it, and -t alone is fine") {
  require_vm();
  const fs::path f = temp_file("piped");
  write_file(f, "hello\n");
  {
    const int in = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
    Cli c({"run", "-it", "--", "cat"}, in);
    ::close(in);
    CHECK(c.finish() == 125);
    CHECK_THAT(c.stderr_text, Contains("the input device is not a TTY"));
  }
  {
    Cli c({"run", "-t", "--", "sh", "-c", "tty; stty size"});  // a pty in the guest, no input
    CHECK(c.finish() == 0);
    CHECK(c.stdout_text == "/dev/pts/0\r\n24 80\r\n");  // the pty's line discipline: CR LF
  }
}

TEST_CASE("signals sent to crumble reach the command's process group, and the status is the shell's") {
  require_vm();
  struct Case {
    std::string what;
    std::string script;           // prints "ready" once its traps are set
    std::vector<int> signals;     // sent to crumble, 0.3 s apart
    int status;
    std::vector<std::string> out_has, err_has;
    double at_most;               // seconds from the first signal to the end
  };
  const std::vector<Case> cases = {
      {"SIGINT ends sleep: 130", "echo ready; exec sleep 100", {SIGINT}, 130, {}, {}, 5},
      {"SIGTERM: 143", "echo ready; exec sleep 100", {SIGTERM}, 143, {}, {}, 5},
      {"SIGHUP: 129", "echo ready; exec sleep 100", {SIGHUP}, 129, {}, {}, 5},
      {"traps see USR1, USR2 and TERM by name",
       "trap 'echo got USR1' USR1; trap 'echo got USR2' USR2; trap 'echo got TERM; exit 3' TERM; echo ready; while :; do sleep 0.1; done",
       {SIGUSR1, SIGUSR2, SIGTERM}, 3, {"got USR1", "got USR2", "got TERM"}, {}, 5},
      {"a whole pipeline gets the signal (its process group)", "echo ready; sleep 100 | cat", {SIGINT}, 130, {}, {}, 5},
      {"a second SIGINT while the command ignores the first stops the VM", "trap '' INT; echo ready; sleep 60", {SIGINT, SIGINT}, 130,
       {}, {"a second SIGINT"}, 5},
      {"a command that ignores SIGTERM is given up on after the grace", "trap '' TERM; echo ready; sleep 60", {SIGTERM}, 143, {},
       {"did not end within 10 s of SIGTERM"}, 14},
      {"SIGKILL of the command in the guest: 137", "echo ready; kill -9 $$", {}, 137, {}, {}, 5},
  };
  for (const Case& k : cases) {
    Cli c({"run", "--", "sh", "-c", k.script});
    INFO(k.what);
    REQUIRE(c.wait_for("ready\n"));
    const auto first = Clock::now();
    for (std::size_t i = 0; i < k.signals.size(); ++i) {
      if (i > 0) std::this_thread::sleep_for(300ms);
      ::kill(c.pid, k.signals[i]);
    }
    const int status = c.finish(60s);
    INFO("status " << status << " after " << seconds_since(first) << " s\nstdout: " << c.stdout_text << "\nstderr: " << c.stderr_text);
    CHECK(status == k.status);
    for (const std::string& s : k.out_has) CHECK_THAT(c.stdout_text, Contains(s));
    for (const std::string& s : k.err_has) CHECK_THAT(c.stderr_text, Contains(s));
    CHECK(seconds_since(first) < k.at_most);
  }
}

TEST_CASE("timeout(1) around crumble: the signal it sends (twice: crumble and its group) ends the command once") {
  require_vm();
  if (std::system("command -v timeout > /dev/null 2>&1") != 0) {
    std::printf("SKIPPED: no timeout(1) (coreutils)\n");
    std::exit(4);
  }
  struct Case {
    const char* signal;
    int status;
  };
  for (const Case& k : {Case{"INT", 130}, Case{"TERM", 143}}) {
    const std::string cmd = std::string("timeout --preserve-status -s ") + k.signal + " 2 " + CRUMBLE_CLI + " run -- sleep 100 > /dev/null 2>&1";
    const auto t = Clock::now();
    const int st = std::system(cmd.c_str());
    INFO(cmd << ": " << st << " after " << seconds_since(t) << " s");
    REQUIRE(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == k.status);
    CHECK(seconds_since(t) < 8);
  }
}

namespace {

// tmux on a private socket, for the terminal test (tests/tmux.hpp).
using crumble::test::Tmux;

}  // namespace

TEST_CASE("a terminal: crumble run -it -- sh under tmux is a usable shell") {
  require_vm();
  if (std::system("command -v tmux > /dev/null 2>&1") != 0) {
    std::printf("SKIPPED: no tmux (apt-get install tmux)\n");
    std::exit(4);
  }
  Tmux t;
  const std::string run = std::string(CRUMBLE_CLI) + " run -it -- sh";
  REQUIRE(t.cmd("new-session -d -s term -x 100 -y 30 \"" + run + "; echo EXIT=\\$?; sleep 60\"") == 0);
  {
    const bool prompt = t.wait_for("term", "/ #");
    INFO("the pane:\n" << t.capture("term"));
    REQUIRE(prompt);
  }
  struct Step {
    std::string what, keys, shows;
  };
  const std::vector<Step> steps = {
      {"a command's output", "'echo hello-$((6*7))' Enter", "hello-42"},
      {"the pty is the controlling terminal", "'tty; [ -t 0 ] && echo is-a-tty' Enter", "/dev/pts/0"},
      {"stty size is the pane's", "'stty size' Enter", "30 100"},
      {"sleep 100 runs in the foreground", "'sleep 100; echo slept' Enter", "sleep 100; echo slept"},
      {"Ctrl-C interrupts it (the line is not finished) and the shell survives", "C-c 'echo survived-$((1+1))' Enter", "survived-2"},
      {"line editing: a typo fixed with backspace", "'echo abcx' BSpace 'd' Enter", "abcd"},
      {"Ctrl-Z: sleep in the foreground again", "'sleep 200' Enter", "sleep 200"},
      {"Ctrl-Z stops it as a job the shell knows", "C-z", "Stopped"},
      {"the stopped job is listed and killed", "'jobs; kill -9 %1; echo killed-$((3+4))' Enter", "killed-7"},
      {"Ctrl-\\ (SIGQUIT) ends a foreground sleep and the shell survives", "'sleep 300' Enter", "sleep 300"},
      {"after Ctrl-\\ the shell takes commands", "C-\\\\ 'echo after-quit-$((4+4))' Enter", "after-quit-8"},
      {"vi starts", "'vi /tmp/f' Enter", "/tmp/f"},
      {"vi inserts", "i 'written-by-vi' Escape", "written-by-vi"},
      {"vi writes the file", "':wq' Enter 'cat /tmp/f' Enter", "cat /tmp/f\nwritten-by-vi"},
  };
  for (const Step& s : steps) {
    t.keys("term", s.keys);
    const bool shown = t.wait_for("term", s.shows, 15s);
    INFO(s.what << "\n" << t.capture("term"));
    CHECK(shown);
    std::this_thread::sleep_for(300ms);  // the command has started: its keys go to it, not before
  }
  CHECK(t.capture("term").find("\nslept") == std::string::npos);  // the interrupted line did not go on
  {
    INFO("a resize reaches the guest (SIGWINCH, TIOCSWINSZ)\n" << t.capture("term"));
    REQUIRE(t.cmd("resize-window -t term -x 120 -y 40") == 0);
    std::this_thread::sleep_for(500ms);
    t.keys("term", "'stty size' Enter");
    CHECK(t.wait_for("term", "40 120", 15s));
  }
  {
    INFO("exit 3 gives 3\n" << t.capture("term"));
    t.keys("term", "'exit 3' Enter");
    CHECK(t.wait_for("term", "EXIT=3", 15s));
  }
  // crumble killed while the terminal is raw: the terminal stays raw (documented: `reset`), and
  // the next run still works.
  REQUIRE(t.cmd("new-session -d -s killed -x 80 -y 24 \"sh\"") == 0);
  t.keys("killed", "'" + run + "' Enter");
  REQUIRE(t.wait_for("killed", "/ #"));
  const std::string shell = t.output("display -p -t killed '#{pane_pid}'");
  REQUIRE(std::system(("pkill -KILL -x crumble -P " + shell).c_str()) == 0);  // the pane's crumble, no other
  std::this_thread::sleep_for(1s);
  // raw: Enter (CR) is not a newline to the shell any more; Ctrl-J is
  t.keys("killed", "'stty sane' C-j");
  std::this_thread::sleep_for(500ms);
  t.keys("killed", "'" + run + "' Enter");
  std::this_thread::sleep_for(1s);
  t.keys("killed", "'echo again-$((2+3))' Enter");
  INFO(t.capture("killed"));
  CHECK(t.wait_for("killed", "again-5", 30s));
}

TEST_CASE("library: several processes at once in one VM, each with its own stdin and output") {
  require_vm();
  Session vm(SessionConfig{});
  Session::Process cat = vm.start({"cat"}, {.stdin_open = true, .tty = {}});
  Session::Process upper = vm.start({"tr", "a-z", "A-Z"}, {.stdin_open = true, .tty = {}});
  // A third, run to its end while the two wait for input.
  CHECK(vm.run({"echo", "between"}).out == "between\n");
  CHECK(cat.write("to cat\n") == 7);
  CHECK(upper.write("to tr\n") == 6);
  cat.close_stdin();
  upper.close_stdin();
  std::string got_cat, got_upper;
  auto keep = [](std::string& to) { return [&to](Stream, std::string_view b) { to.append(b); }; };
  CHECK(upper.wait(keep(got_upper), 30s).status() == 0);
  CHECK(cat.wait(keep(got_cat), 30s).status() == 0);
  CHECK(got_cat == "to cat\n");
  CHECK(got_upper == "TO TR\n");
  // At most process_max at once.
  std::vector<Session::Process> held;
  for (std::uint32_t i = 0; i < protocol::config::process_max; ++i) held.push_back(vm.start({"cat"}, {.stdin_open = true, .tty = {}}));
  CHECK_THROWS_WITH(vm.start({"true"}), Contains("at most"));
  for (auto& p : held) p.close_stdin();
  for (auto& p : held) CHECK(p.wait([](Stream, std::string_view) {}, 30s).status() == 0);
  CHECK(vm.run({"echo", "still-serving"}).out == "still-serving\n");
}

TEST_CASE("library: a host that does not read stops the command at a full ring, and nothing is lost") {
  require_vm();
  Session vm(SessionConfig{});
  // 8 MiB, more than the ring and the pipe hold together
  Session::Process p = vm.start({"sh", "-c", "dd if=/dev/zero bs=65536 count=128 2>/dev/null; echo end >&2"});
  std::this_thread::sleep_for(2s);
  const std::string_view waiting = p.output(Stream::out);
  CHECK(waiting.size() == protocol::config::stdout_ring);  // full, from its start
  CHECK_FALSE(p.ended());                                    // and the writer waits
  std::uint64_t total = 0, zero = 0;
  std::string err;
  const CommandResult r = p.wait([&](Stream s, std::string_view b) {
    if (s == Stream::err) {
      err.append(b);
      return;
    }
    total += b.size();
    zero += static_cast<std::uint64_t>(std::count(b.begin(), b.end(), '\0'));
  });
  CHECK(r.status() == 0);
  CHECK(total == 8u << 20);
  CHECK(zero == total);
  CHECK(err == "end\n");
}

TEST_CASE("library: a process ended by a signal the host sent, and a resize without a terminal is harmless") {
  require_vm();
  Session vm(SessionConfig{});
  Session::Process p = vm.start({"sh", "-c", "echo ready; exec sleep 100"});
  std::string out;
  for (const auto deadline = Clock::now() + 30s; out.find("ready") == std::string::npos && Clock::now() < deadline;) {
    const std::string_view b = p.output(Stream::out);
    out.append(b);
    p.consume(Stream::out, b.size());
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(out == "ready\n");
  p.resize({50, 60});
  p.signal(SIGKILL);
  const CommandResult r = p.wait([](Stream, std::string_view) {}, 30s);
  CHECK(r.end == CommandResult::End::signaled);
  CHECK(r.code == SIGKILL);
  CHECK(r.status() == 137);
  CHECK_THROWS_AS(p.signal(0), ConfigError);
}

TEST_CASE("library: a signal to the process alone leaves the rest of its group, one to the group ends them all") {
  require_vm();
  Session vm(SessionConfig{});
  // sh starts a sleep in its own process group (no job control: the same group) and waits for it;
  // SIGTERM ends sh either way; whether the sleep lives on says whom the signal reached (the
  // guest's kill(1) is the oracle).
  struct Case {
    std::string what;
    SignalTarget to;
    bool sleep_lives;
  };
  const std::vector<Case> cases = {
      {"the process alone (an OCI runtime's kill)", SignalTarget::process, true},
      {"its group (crumble run's, the default)", SignalTarget::group, false},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    Session::Process sh = vm.start({"sh", "-c", "sleep 1000 & echo $!; wait"}, {});
    std::string out;
    for (const auto until = Clock::now() + 30s; out.find('\n') == std::string::npos && Clock::now() < until;) {
      const std::string_view b = sh.output(Stream::out);
      out.append(b);
      sh.consume(Stream::out, b.size());
      std::this_thread::sleep_for(10ms);
    }
    REQUIRE(out.find('\n') != std::string::npos);
    const std::string sleep_pid = out.substr(0, out.find('\n'));
    sh.signal(SIGTERM, c.to);
    const CommandResult r = sh.wait([](Stream, std::string_view) {}, 30s);
    CHECK(r.end == CommandResult::End::signaled);
    CHECK(r.code == SIGTERM);
    CHECK((vm.run({"kill", "-0", sleep_pid}).status() == 0) == c.sleep_lives);
    vm.run({"kill", "-9", sleep_pid});
  }
}
