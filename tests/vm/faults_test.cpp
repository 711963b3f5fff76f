// SPDX-License-Identifier: Apache-2.0
// tests/vm/faults_test.cpp — the crumble CLI under faults: signals in the middle of a command, a
// save or a restore; a full TMPDIR or cache directory; a TMPDIR whose name has quotes and commas;
// many runs at once from one snapshot. The oracles are the host's own: /proc (is a QEMU of ours
// still alive?), the directories (is anything left behind?), the exit status and the message.
//
// Each test runs the CLI with TMPDIR set to a directory of its own, so "our" QEMUs and temporary
// directories can be told from those of other tests running at the same time. QEMU runs in its
// temporary directory (engine/qemu/machine.hpp), and an older crumble named it on QEMU's command
// line: a QEMU is ours when either points into our TMPDIR. Set CRUMBLE_CLI_UNDER_TEST to run the
// tests against another build of the CLI (to see them fail before a fix).
//
// Without a cached kernel or QEMU every test prints SKIPPED and exits 4; so do the tests that
// mount a small tmpfs when mount(8) refuses (not root).
#include <catch2/catch.hpp>
#include <crumble/vm/guest/kernel.hpp>
#include <crumble/vm/host/process.hpp>

#include "guest_skip.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>

using namespace crumble::vm;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

void skip_without_guest() { (void)crumble::test::guest_kernel_or_skip(); }

std::string cli_path() {
  if (const char* c = std::getenv("CRUMBLE_CLI_UNDER_TEST"); c && *c) return c;
  return CRUMBLE_CLI;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The pids of running QEMUs that belong to `tmpdir` (command line or working directory in it).
std::vector<pid_t> qemus_in(const fs::path& tmpdir) {
  std::vector<pid_t> found;
  const std::string root = tmpdir.string();
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = slurp(e.path() / "cmdline");
    if (cmd.find("qemu-system") == std::string::npos) continue;
    std::error_code ec;
    const std::string cwd = fs::read_symlink(e.path() / "cwd", ec).string();
    if (cmd.find(root) != std::string::npos || (!ec && cwd.rfind(root, 0) == 0)) found.push_back(std::stoi(name));
  }
  return found;
}

// What is left in a directory (names), sorted.
std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> v;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) v.push_back(e.path().filename().string());
  std::sort(v.begin(), v.end());
  return v;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? "(nothing)" : s;
}

// A place for one test: TMPDIR for the CLI (`tmp`), its snapshots (`snapshots`), its output files.
// Whatever QEMU of ours is still alive at the end is killed, so a failing test leaks nothing.
struct Scene {
  TempDir root{"crumble-faults-"};
  fs::path tmp, snapshots;
  explicit Scene(const std::string& tmp_name = "tmp") {
    tmp = root.path() / tmp_name;
    snapshots = root.path() / "snapshots";
    fs::create_directories(tmp);
    fs::create_directories(snapshots);
  }
  ~Scene() {
    for (pid_t p : qemus_in(tmp)) ::kill(p, SIGKILL);
  }
};

// One CLI process, its stdout and stderr in files.
struct Cli {
  pid_t pid = -1;
  fs::path out, err;
  int status = -1;  // exit status, or 128+N when killed by signal N

  // Waits up to `limit`; past it kills the CLI and fails the test.
  int wait(std::chrono::seconds limit) {
    const auto until = Clock::now() + limit;
    while (pid > 0) {
      int st = 0;
      const pid_t r = ::waitpid(pid, &st, WNOHANG);
      if (r == pid) {
        status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        pid = -1;
        break;
      }
      if (Clock::now() > until) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        pid = -1;
        FAIL("the CLI did not end within " << limit.count() << " s; stderr:\n" << slurp(err));
      }
      std::this_thread::sleep_for(5ms);
    }
    return status;
  }
  std::string stdout_text() const { return slurp(out); }
  std::string stderr_text() const { return slurp(err); }
};

Cli start_cli(const Scene& s, const std::vector<std::string>& args, const std::string& tag) {
  static int serial = 0;
  Cli c;
  const std::string n = tag + "-" + std::to_string(++serial);
  c.out = s.root.path() / (n + ".out");
  c.err = s.root.path() / (n + ".err");
  std::vector<std::string> argv{cli_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> env{"TMPDIR=" + s.tmp.string()};
  for (char** e = environ; *e; ++e)
    if (std::string_view(*e).rfind("TMPDIR=", 0) != 0) env.emplace_back(*e);
  std::vector<char*> a, ev;
  for (auto& x : argv) a.push_back(x.data());
  a.push_back(nullptr);
  for (auto& x : env) ev.push_back(x.data());
  ev.push_back(nullptr);
  const std::string out = c.out.string(), err = c.err.string();
  c.pid = ::fork();
  REQUIRE(c.pid >= 0);
  if (c.pid == 0) {
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(o, 1), ::dup2(e, 2);
    ::execve(a[0], a.data(), ev.data());
    ::_exit(127);
  }
  return c;
}

// `crumble run` with the scene's snapshot directory and --verbose (it says "restored in" or
// "booted in" just before the command starts).
Cli run(const Scene& s, const std::vector<std::string>& command, const std::vector<std::string>& options = {}) {
  std::vector<std::string> args{"run", "--verbose", "--snapshot-dir", s.snapshots.string()};
  args.insert(args.end(), options.begin(), options.end());
  args.push_back("--");
  args.insert(args.end(), command.begin(), command.end());
  return start_cli(s, args, "run");
}

// Waits until `ready` holds (polled every millisecond); false past the deadline.
bool wait_until(const std::function<bool()>& ready, std::chrono::seconds limit) {
  const auto until = Clock::now() + limit;
  while (!ready()) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// A snapshot to restore from: one cold boot into the scene's snapshot directory.
void make_snapshot(const Scene& s) {
  Cli c = run(s, {"true"});
  const int st = c.wait(240s);
  INFO(c.stderr_text());
  REQUIRE(st == 0);
  REQUIRE(!entries(s.snapshots).empty());
}

// No QEMU of ours within a few seconds (a dying one takes a moment to go).
void check_no_qemu(const Scene& s) {
  const bool gone = wait_until([&] { return qemus_in(s.tmp).empty(); }, 10s);
  CHECK(gone);
}

struct Tmpfs {
  fs::path dir;
  Tmpfs(const fs::path& at, const std::string& size) : dir(at) {
    fs::create_directories(dir);
    const std::string cmd = "mount -t tmpfs -o size=" + size + " tmpfs '" + dir.string() + "' 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      std::cout << "SKIPPED: cannot mount a tmpfs at " << dir << " (`" << cmd << "` failed; this test needs root)\n";
      std::exit(4);
    }
  }
  ~Tmpfs() {
    const std::string cmd = "umount -l '" + dir.string() + "'";
    if (std::system(cmd.c_str()) != 0) std::cerr << "warning: " << cmd << " failed\n";
  }
};

}  // namespace

TEST_CASE("faults: SIGTERM, SIGINT, SIGHUP during a command: exit 128+N, VM stopped, temp dir removed", "[vm][faults]") {
  skip_without_guest();
  Scene s;
  make_snapshot(s);
  const struct {
    int sig;
    int status;
  } table[] = {{SIGTERM, 143}, {SIGINT, 130}, {SIGHUP, 129}};
  for (const auto& t : table) {
    INFO("signal " << t.sig);
    Cli c = run(s, {"sleep", "60"});
    REQUIRE(wait_until([&] { return c.stderr_text().find(" in ") != std::string::npos && !qemus_in(s.tmp).empty(); }, 60s));
    std::this_thread::sleep_for(300ms);  // the command is running
    ::kill(c.pid, t.sig);
    const auto t0 = Clock::now();
    CHECK(c.wait(20s) == t.status);
    std::cout << "signal " << t.sig << ": CLI ended in " << std::chrono::duration<double, std::milli>(Clock::now() - t0).count()
              << " ms\n";
    check_no_qemu(s);
    INFO("left in TMPDIR: " << joined(entries(s.tmp)));
    CHECK(entries(s.tmp).empty());
  }
}

TEST_CASE("faults: a reader that goes away (crumble run ... | head): a clear error, VM stopped, temp dir removed", "[vm][faults]") {
  // Before SIGPIPE was blocked, the write killed crumble on the spot (status 141, no message) and
  // its directory with the guest's RAM file stayed until the next run.
  skip_without_guest();
  Scene s;
  make_snapshot(s);
  const fs::path script = s.root.path() / "pipe.sh", status = s.root.path() / "status", err = s.root.path() / "err";
  std::ofstream(script) << "TMPDIR='" << s.tmp.string() << "' '" << cli_path() << "' run --snapshot-dir '" << s.snapshots.string()
                        << "' -- dd if=/dev/zero bs=1000000 count=50 2>'" << err.string() << "' | head -c 10 > /dev/null\n"
                        << "echo ${PIPESTATUS[0]} > '" << status.string() << "'\n";
  REQUIRE(std::system(("timeout 120 bash '" + script.string() + "'").c_str()) == 0);
  INFO("stderr: " << slurp(err));
  CHECK(slurp(status) == "125\n");
  CHECK_THAT(slurp(err), Catch::Contains("Broken pipe"));
  check_no_qemu(s);
  INFO("left in TMPDIR: " << joined(entries(s.tmp)));
  CHECK(entries(s.tmp).empty());
}

TEST_CASE("faults: SIGKILL during a command: QEMU dies with the CLI, the next run removes the temp dir", "[vm][faults]") {
  skip_without_guest();
  Scene s;
  make_snapshot(s);
  Cli c = run(s, {"sleep", "60"});
  REQUIRE(wait_until([&] { return c.stderr_text().find(" in ") != std::string::npos && !qemus_in(s.tmp).empty(); }, 60s));
  ::kill(c.pid, SIGKILL);
  CHECK(c.wait(10s) == 137);
  check_no_qemu(s);
  REQUIRE(entries(s.tmp).size() == 1);  // the killed run's directory (it cannot remove it itself)
  Cli next = run(s, {"echo", "next"});
  CHECK(next.wait(120s) == 0);
  CHECK(next.stdout_text() == "next\n");
  INFO("left in TMPDIR: " << joined(entries(s.tmp)));
  CHECK(entries(s.tmp).empty());
}

TEST_CASE("faults: SIGKILL during a restore and during a save: no orphan QEMU, no half snapshot used", "[vm][faults]") {
  skip_without_guest();
  Scene s;
  SECTION("restore") {
    make_snapshot(s);
    int caught = 0;
    for (int i = 0; i < 3; ++i) {
      Cli c = run(s, {"true"});
      // Killed as soon as QEMU runs and before the CLI says it is restored.
      REQUIRE(wait_until([&] { return !qemus_in(s.tmp).empty(); }, 60s));
      ::kill(c.pid, SIGKILL);
      c.wait(10s);
      if (c.stderr_text().find("restored in") == std::string::npos) ++caught;
      check_no_qemu(s);
    }
    CHECK(caught > 0);
  }
  SECTION("save") {
    // A cold boot saves into the snapshot directory (KEY.tmp.* while it writes): kill then.
    Cli c = run(s, {"true"});
    const bool saving = wait_until([&] {
      for (const auto& n : entries(s.snapshots))
        if (n.find(".tmp") != std::string::npos) return true;
      return false;
    }, 240s);
    ::kill(c.pid, SIGKILL);
    c.wait(10s);
    REQUIRE(saving);
    check_no_qemu(s);
    std::cout << "after a SIGKILL mid-save the snapshot directory holds: " << joined(entries(s.snapshots)) << "\n";
  }
  // The next run works (from a whole snapshot, or by a cold boot), and removes what the killed
  // one left in TMPDIR.
  Cli next = run(s, {"echo", "next"}, {"--strict-snapshot"});
  CHECK(next.wait(240s) == 0);
  INFO(next.stderr_text());
  CHECK(next.stdout_text() == "next\n");
  INFO("left in TMPDIR: " << joined(entries(s.tmp)));
  CHECK(entries(s.tmp).empty());
  check_no_qemu(s);
}

TEST_CASE("faults: a TMPDIR with quotes, a comma and spaces in its name: boot, save and restore", "[vm][faults]") {
  skip_without_guest();
  Scene s("tmp 'single' \"double\" a,b");
  make_snapshot(s);  // cold boot and save
  Cli c = run(s, {"echo", "restored"}, {"--strict-snapshot"});
  CHECK(c.wait(120s) == 0);
  INFO(c.stderr_text());
  CHECK(c.stdout_text() == "restored\n");
  CHECK(c.stderr_text().find("restored from snapshot") != std::string::npos);
  CHECK(entries(s.tmp).empty());
}

TEST_CASE("faults: 20 concurrent runs from one snapshot all succeed and leave nothing behind", "[vm][faults]") {
  // 20, not 50: on the 2 shared cores this suite runs on, 50 QEMUs at once restore in well over a
  // minute and push the guests past their protocol deadlines; 20 shows the same races.
  skip_without_guest();
  Scene s;
  make_snapshot(s);
  constexpr int n = 20;
  std::vector<Cli> runs;
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) runs.push_back(run(s, {"sh", "-c", "echo run-" + std::to_string(i)}, {"--strict-snapshot"}));
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    INFO("run " << i << ": " << runs[i].stderr_text());
    const int st = runs[i].wait(300s);
    CHECK(st == 0);
    CHECK(runs[i].stdout_text() == "run-" + std::to_string(i) + "\n");
    ok += st == 0;
  }
  std::cout << ok << "/" << n << " concurrent runs succeeded in "
            << std::chrono::duration<double>(Clock::now() - t0).count() << " s\n";
  check_no_qemu(s);
  INFO("left in TMPDIR: " << joined(entries(s.tmp)));
  CHECK(entries(s.tmp).empty());
}

TEST_CASE("faults: a full TMPDIR is a clear error before the boot, nothing half-written kept", "[vm][faults][disk]") {
  skip_without_guest();
  Scene s;
  Tmpfs small(s.tmp, "64m");
  const struct {
    std::string size;
    std::string message;
  } table[] = {
      {"64m", "needs 256 MiB"},                 // the RAM file cannot be filled: refused before QEMU starts
      {"256k", "No space left on device"},      // not even the initramfs fits
  };
  for (const auto& t : table) {
    INFO("tmpfs of " << t.size);
    REQUIRE(std::system(("mount -o remount,size=" + t.size + " '" + s.tmp.string() + "'").c_str()) == 0);
    Cli c = run(s, {"true"}, {"--no-snapshot"});
    CHECK(c.wait(120s) == 125);
    const std::string err = c.stderr_text();
    INFO(err);
    CHECK(err.find(t.message) != std::string::npos);
    check_no_qemu(s);
    INFO("left in TMPDIR: " << joined(entries(s.tmp)));
    CHECK(entries(s.tmp).empty());
  }
}

TEST_CASE("faults: a full cache directory: the command still runs, no half snapshot kept", "[vm][faults][disk]") {
  skip_without_guest();
  Scene s;
  Tmpfs small(s.snapshots, "4m");  // a booted guest's RAM file is tens of MiB
  Cli c = run(s, {"echo", "ran"});
  CHECK(c.wait(240s) == 0);
  INFO(c.stderr_text());
  CHECK(c.stdout_text() == "ran\n");
  // The cache's lock file stays (it is how concurrent runs take turns); no snapshot, whole or half.
  std::vector<std::string> left = entries(s.snapshots);
  std::erase_if(left, [](const std::string& n) { return n.ends_with(".lock"); });
  INFO("left in the snapshot directory: " << joined(left));
  CHECK(left.empty());
  CHECK(c.stderr_text().find("No space left on device") != std::string::npos);
  CHECK(entries(s.tmp).empty());
  check_no_qemu(s);
}
