// SPDX-License-Identifier: Apache-2.0
// crumble-runtime — an OCI runtime with runc's command line: each container runs in its own
// crumble microVM, restored from the snapshot (issue 16).
//
//   crumble-runtime [--root DIR] [--log FILE] [--log-format text|json] COMMAND ...
//     create --bundle B [--pid-file P] [--console-socket S] ID   start ID   state ID
//     kill [--all] ID [SIGNAL]   delete [--force] ID   run [-d] --bundle B [--pid-file P] ID
//     exec [--process F] [--detach] [--pid-file P] [--console-socket S] [--tty] [--cwd D]
//          [--env K=V]... [--user U[:G]] ID [ARGS...]
//     ps [--format table|json] ID   pause ID   resume ID   update [--resources F|-] ID
//     features   --version
//
// The pid of a container (state's "pid", --pid-file) is its monitor: a process `create` forks
// that holds the VM, lives as long as the container's process and exits with its status (128+N
// for signal N); every catchable signal sent to it reaches the process in the guest (the process
// alone, as runc's kill) once it has started. Its stdin, stdout and stderr are the ones `create`
// was given, or a pty whose master went to --console-socket. `exec` makes an **exec process** (its
// pid in --pid-file) that hands its stdio to the monitor, which runs the process in the same VM
// (relay.hpp); the exec process lives as long as that process, passes its signals on and exits
// with its status. State lives in ROOT/ID/state.json (ROOT: --root, default /run/crumble-runtime),
// written under a lock; "running", "paused" or "created" is believed only while the monitor (pid
// and start time) is alive, so a killed caller or monitor leaves a container `state` reports
// stopped and `delete` removes.
//
// What config.json gives and what is not applied: docs/oci-runtime.md.
#include <crumble/container/container.hpp>
#include <crumble/oci/bundle.hpp>
#include <crumble/vm/attach.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "console.hpp"
#include "relay.hpp"
#include "sockets.hpp"
#include "version_line.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Globals {
  fs::path root = "/run/crumble-runtime";
  std::string log;
  bool json_log = false;
  bool debug = false;  // --debug: "debug" lines too (where the time goes)
};
Globals g;

std::string now_rfc3339() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  char buf[64];
  std::tm tm{};
  ::gmtime_r(&ts.tv_sec, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[96];
  std::snprintf(out, sizeof out, "%s.%09ldZ", buf, ts.tv_nsec);
  return out;
}

// A line for --log (as JSON with --log-format json: containerd shows the last "error" line).
void log_line(const std::string& level, const std::string& msg) {
  if (g.log.empty() || (level == "debug" && !g.debug)) return;
  std::ofstream out(g.log, std::ios::app);
  if (g.json_log) out << json{{"level", level}, {"msg", msg}, {"time", now_rfc3339()}}.dump() << "\n";
  else out << now_rfc3339() << " " << level << ": " << msg << "\n";
}

[[noreturn]] void fail(const std::string& msg, int status = 1) {
  log_line("error", msg);
  std::cerr << "crumble-runtime: " << msg << "\n";
  std::exit(status);
}

// ---- state on disk ------------------------------------------------------------------------------
//
// ROOT/ID/ holds: `lock` (flock: every read-modify-write of the state, and the whole of a
// create until its first state is written), `monitor` ("PID START": the monitor, written by
// `create` before anything else, so a directory whose state.json is missing or damaged still
// names the process `delete --force` must end), `root` (the monitor's root image key and cache,
// written by the monitor before it says ready, so an image is found whoever ends it),
// `state.json`, `start.fifo` and `exec.sock`.

fs::path dir_of(const std::string& id) {
  if (id.empty() || id.find('/') != std::string::npos || id == "." || id == "..") fail("invalid container id \"" + id + "\"");
  return g.root / id;
}

// How long a command waits for another one's lock on a container: a lock is held for a
// read-modify-write of the state (milliseconds) or a create's first steps; anything longer is a
// stuck process, and waiting for it forever would hang the caller (or a monitor's relay loop).
constexpr std::chrono::seconds lock_patience{10};

struct LockBusy : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// An exclusive lock on the container's directory while the state is read or written; released
// when it goes, whatever is thrown meanwhile. Waits at most `patience` (0: takes it now or not),
// then throws LockBusy.
class Lock {
 public:
  explicit Lock(const fs::path& dir, std::chrono::milliseconds patience = lock_patience) {
    const fs::path file = dir / "lock";
    fd_.reset(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd_) throw std::runtime_error("cannot open " + file.string() + ": " + std::strerror(errno));
    const auto until = std::chrono::steady_clock::now() + patience;
    for (auto pause = std::chrono::milliseconds(1);; pause = std::min(pause * 2, std::chrono::milliseconds(50))) {
      if (::flock(fd_.get(), LOCK_EX | LOCK_NB) == 0) return;
      if (errno != EWOULDBLOCK && errno != EINTR) throw std::runtime_error("cannot lock " + file.string() + ": " + std::strerror(errno));
      if (std::chrono::steady_clock::now() >= until)
        throw LockBusy("container \"" + dir.filename().string() + "\" is locked by another process (" + file.string() + ", held for more than " +
                       std::to_string(std::chrono::duration_cast<std::chrono::seconds>(patience).count()) + " s)");
      std::this_thread::sleep_for(pause);
    }
  }
  int fd() const { return fd_.get(); }

 private:
  crumble::runtime::Fd fd_;
};

// The state, or why there is none: missing (no state.json) or damaged (it does not parse).
struct StateError : std::runtime_error {
  StateError(bool missing_, const std::string& what) : std::runtime_error(what), missing(missing_) {}
  bool missing;
};

json load_state(const fs::path& dir) {
  const std::string id = dir.filename().string();
  std::ifstream in(dir / "state.json");
  if (!in) throw StateError(true, "container \"" + id + "\" does not exist");
  try {
    json s = json::parse(in);
    if (!s.is_object() || !s.contains("id")) throw std::runtime_error("not a container's state");
    return s;
  } catch (const std::exception& e) {
    throw StateError(false, "the state of container \"" + id + "\" is damaged (" + (dir / "state.json").string() + ": " + e.what() +
                                "); `delete --force " + id + "` removes it");
  }
}

json read_state(const std::string& id) {
  try {
    return load_state(dir_of(id));
  } catch (const StateError& e) {
    fail(e.what());
  }
}

// Writes `text` to `file` through a temporary file renamed over it: the file is whole or as it
// was. Every step is checked, the close too (a full disk may only say so there).
void write_file(const fs::path& file, const std::string& text) {
  const fs::path tmp = file.string() + ".tmp";
  auto failed = [&](const std::string& step) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot " + step + " " + tmp.string() + ": " + why);
  };
  crumble::runtime::Fd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!f) failed("create");
  for (std::string_view rest = text; !rest.empty();) {
    const ssize_t n = ::write(f.get(), rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      failed("write");
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::close(f.release()) != 0) failed("write");
  if (::rename(tmp.c_str(), file.c_str()) != 0) failed("rename");
}

void write_state(const fs::path& dir, const json& s) { write_file(dir / "state.json", s.dump(2) + "\n"); }

// Sets `changes` in the state under the lock; throws when it cannot (the caller decides).
void record(const fs::path& dir, const json& changes) {
  Lock held(dir);
  json s = load_state(dir);
  for (const auto& [k, v] : changes.items()) s[k] = v;
  write_state(dir, s);
}

// Whether the process `pid` that started at `start` (pids are reused) still runs, and is not a
// zombie its reaper has yet to collect.
bool process_alive(pid_t pid, const std::string& start) {
  if (pid <= 0 || start.empty() || crumble::vm::process_start_time(pid) != start) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  const auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

// Whether the monitor named in the state still runs.
bool monitor_alive(const json& s) { return process_alive(s.value("pid", 0), s.value("monitorStart", std::string())); }

// The monitor as ROOT/ID/monitor names it ({0, ""} when it does not).
std::pair<pid_t, std::string> monitor_on_file(const fs::path& dir) {
  std::ifstream in(dir / "monitor");
  pid_t pid = 0;
  std::string start;
  in >> pid >> start;
  return {in ? pid : 0, in ? start : std::string()};
}

std::string status_of(const json& s) {
  if (s.contains("exited") || !monitor_alive(s)) return "stopped";
  if (s.value("creating", false)) return "creating";
  if (s.value("paused", false)) return "paused";
  return s.value("started", false) ? "running" : "created";
}

json public_state(const json& s) {
  const std::string status = status_of(s);
  return json{{"ociVersion", "1.0.2"},
              {"id", s["id"]},
              {"status", status},
              {"pid", status == "stopped" ? 0 : s.value("pid", 0)},
              {"bundle", s["bundle"]},
              {"rootfs", s["rootfs"]},
              {"created", s["created"]},
              {"annotations", s.value("annotations", json::object())}};
}

int signal_number(std::string name) {
  if (!name.empty() && std::isdigit(static_cast<unsigned char>(name[0]))) {
    const int n = std::atoi(name.c_str());
    if (n >= 1 && n <= 64) return n;
    fail("no signal " + name);
  }
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  if (name.rfind("RTMIN", 0) == 0 || name.rfind("RTMAX", 0) == 0) {  // RTMIN, RTMIN+3, RTMAX-1
    const int n = name.size() == 5 ? 0 : std::atoi(name.c_str() + 5);
    const int sig = name[2] == 'M' && name[3] == 'I' ? SIGRTMIN + n : SIGRTMAX + n;
    if (sig >= SIGRTMIN && sig <= SIGRTMAX) return sig;
    fail("no signal " + name);
  }
  for (int n = 1; n < 32; ++n)
    if (const char* abbrev = ::sigabbrev_np(n); abbrev && name == abbrev) return n;
  fail("unknown signal \"" + name + "\"");
}

// ---- root images ---------------------------------------------------------------------------------

// Where the containers' root images are built: a cache of their own, not the user's
// (`crumble image list`). A bundle's root is a directory made for one container (podman's and
// containerd's overlay mounts), so its key (root_image.hpp: over ctimes too) matches no other
// container's: an image outlives its container for nothing. The monitor removes its image when it
// ends, `delete` when a killed monitor could not; one another container still uses (the same
// bundle run twice at once) is skipped, and goes with the last.
fs::path root_images() { return crumble::vm::cache_dir() / "runtime" / "roots"; }

// `dir`: the cache as `create` found it (state's "rootImages"): podman calls `delete` with no
// HOME in its environment.
// `patience`: how long an image still in use is tried again (a monitor just SIGKILLed, or its
// QEMU, may hold its lease for a moment while the kernel tears it down).
void forget_root(const std::string& key, fs::path dir = {}, std::chrono::milliseconds patience = {}) {
  if (key.empty()) return;
  try {
    crumble::container::RootCache cache(dir.empty() ? root_images() : dir);
    for (const auto until = std::chrono::steady_clock::now() + patience;; std::this_thread::sleep_for(std::chrono::milliseconds(20)))
      if (cache.remove(key).in_use.empty() || std::chrono::steady_clock::now() >= until) return;
  } catch (const std::exception& e) {
    log_line("warning", "cannot remove the root image " + key + ": " + e.what());
  }
}

// ---- the monitor --------------------------------------------------------------------------------

// The monitor's life: the VM up with the container's root, "created" said to `create` through
// `ready`, then (on `start`, through the fifo) the process, its stdio wired to fds 0-2, and exit
// with its status. Before start, SIGTERM/SIGINT/SIGHUP/SIGQUIT end it cleanly (the VM stopped).
// The root image a container's monitor built, as it wrote it to ROOT/ID/root before it said
// ready: removed with forget_root by whoever ends a monitor that could not (abandon, delete).
void forget_root_on_file(const fs::path& dir) {
  std::ifstream in(dir / "root");
  std::string key, cache;
  if (std::getline(in, key) && std::getline(in, cache)) forget_root(key, cache, std::chrono::seconds(5));
}

// The monitor's own state updates: a failure is logged, never the end of a running container
// (its lock is released whatever went wrong: record's Lock).
void mark(const fs::path& dir, const char* key, const json& value) {
  try {
    record(dir, json{{key, value}});
  } catch (const std::exception& e) {
    log_line("error", "container " + dir.filename().string() + ": cannot record " + key + ": " + e.what());
  }
}

// Where the container's process talks: fds 0-2 as `create` got them, or a terminal: the pty's
// slave (its master went to --console-socket), or the caller's own terminal on fds 0-2 (`run`
// in a terminal), raw while the process runs.
struct ProcessStdio {
  int terminal = -1;
  bool own_terminal = false;
};

// The exec processes' pids, for `ps`.
void record_execs(const fs::path& dir, const std::vector<pid_t>& pids) { mark(dir, "execs", pids); }

std::vector<pid_t> vm_processes(pid_t monitor);

// Whether any thread of `pid` is busy: running or runnable (state R in /proc/PID/task/*/stat), or
// waiting on the host's I/O (D: a vCPU or an I/O thread reading the guest's disk), which is no
// idle guest either.
bool process_busy(pid_t pid) {
  std::error_code ec;
  for (const auto& t : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(t.path() / "stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    const auto paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size() && (line[paren + 2] == 'R' || line[paren + 2] == 'D')) return true;
  }
  return false;
}

[[noreturn]] void monitor(const crumble::oci::Bundle& b, const fs::path& dir, int ready, ProcessStdio io) {
  // Every catchable signal is passed on to the process once it runs; those stop_cleanly_on_signals
  // does not take are blocked here, before any thread starts (all inherit the mask), and read
  // from a signalfd. Until the start they wait (kernel-queued), but for SIGTERM, SIGINT, SIGHUP
  // and SIGQUIT, which end a created container cleanly; SIGUSR1 and SIGUSR2, which come through
  // the SignalForwarding, wait too (kept here), so every signal but those four is delivered once
  // the process starts.
  const sigset_t passed = crumble::runtime::passed_signals(false);
  ::sigprocmask(SIG_BLOCK, &passed, nullptr);
  crumble::vm::stop_cleanly_on_signals();
  std::optional<crumble::container::Container> box;
  crumble::runtime::Fd listener;
  std::string root_key;
  auto end_before_start = [&](int status) {
    box.reset();
    forget_root(root_key);
    std::error_code ec;
    fs::remove(dir / "root", ec);
    ::_exit(status);
  };
  try {
    crumble::container::Spec spec = b.spec;
    spec.root_cache_dir = root_images();
    spec.entrypoint.emplace();  // the process's args and an exec's are passed whole to start()
    // each container has its own root image and files (/etc/hostname, /etc/hosts): a snapshot of
    // one set up would never be restored
    spec.vm.container_snapshots = false;
    box.emplace(spec);
    root_key = box->root_key();
    // on record before "ok": whoever ends this monitor from now on (create's abandon, delete)
    // removes the image it built
    write_file(dir / "root", root_key + "\n" + root_images().string() + "\n");
    listener = crumble::runtime::listen_at(dir / "exec.sock");  // before "ok": an exec may come at once
  } catch (const std::exception& e) {
    // A VM that did not start leaves the image the Container built before it (the key went with
    // the Container): found again by the directory's key, which a stat walk gives, and put on
    // record in ROOT/ID/root, so that `create`'s abandon removes it once this monitor is gone
    // (the image's lock is free only then; here it was still held), unless another container of
    // the same bundle holds it.
    if (root_key.empty() && !b.spec.rootfs.empty() && !b.spec.rootfs_rw) try {
        write_file(dir / "root", crumble::container::directory_key(b.spec.rootfs) + "\n" + root_images().string() + "\n");
      } catch (const std::exception& why) {  // the root gone or unreadable (nothing was built), or a full disk
        log_line("warning", std::string("cannot record the root image for its removal: ") + why.what());
      }
    const std::string msg = std::string("error: ") + e.what() + "\n";
    ssize_t ignored = ::write(ready, msg.data(), msg.size());
    (void)ignored;
    if (root_key.empty()) ::_exit(1);  // create removes the image and the directory
    end_before_start(1);
  }
  log_line("debug", box->root_note() + "; " + box->snapshot_note() + "; " + box->start_note());
  std::optional<crumble::vm::SignalForwarding> signals;
  try {
    signals.emplace();
  } catch (const std::exception& e) {
    const std::string msg = std::string("error: ") + e.what() + "\n";
    ssize_t ignored = ::write(ready, msg.data(), msg.size());
    (void)ignored;
    end_before_start(1);
  }
  // Open (read-write: it does not wait for a writer) before saying ready, so a `start` that
  // comes at once finds a reader; ENXIO then means the monitor is gone.
  const std::string ok = "ok " + root_key + "\n";  // `create` records the key: `delete` needs it
  const int f = ::open((dir / "start.fifo").c_str(), O_RDWR | O_CLOEXEC);
  if (f < 0 || ::write(ready, ok.data(), ok.size()) != static_cast<ssize_t>(ok.size())) end_before_start(1);  // `create` is gone: nobody will start us
  ::close(ready);
  std::vector<int> early;  // SIGUSR1/SIGUSR2 that came before the start, for the process
  for (;;) {
    pollfd p[2] = {{f, POLLIN, 0}, {signals->fd(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) continue;
    if (p[1].revents & POLLIN)
      for (int sig : signals->take()) {
        if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT) end_before_start(128 + sig);
        if (sig != SIGWINCH && std::find(early.begin(), early.end(), sig) == early.end()) early.push_back(sig);
      }
    if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    char c = 0;
    ssize_t got;
    while ((got = ::read(f, &c, 1)) < 0 && errno == EINTR) {
    }
    if (got != 1) end_before_start(1);
    break;
  }
  ::close(f);
  int status = 1;
  try {
    crumble::runtime::Fd passed_fd(::signalfd(-1, &passed, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!passed_fd) throw std::runtime_error(std::string("signalfd: ") + std::strerror(errno));
    crumble::vm::Stdio stdio;
    stdio.stdin_open = true;
    int in = STDIN_FILENO, out = STDOUT_FILENO, err = STDERR_FILENO;
    if (io.terminal >= 0) {
      stdio.tty = crumble::vm::terminal_size(io.terminal).value_or(crumble::vm::TerminalSize{});
      in = out = err = io.terminal;
    }
    std::optional<crumble::vm::RawTerminal> raw;
    if (io.own_terminal) raw.emplace(io.terminal);
    log_line("debug", "starting");
    crumble::vm::Session::Process p = box->start(b.args, stdio);
    log_line("debug", "process started");
    const auto process_started = std::chrono::steady_clock::now();
    mark(dir, "started", true);
    // An exec runs with its own env (the container's when it gives none), cwd, user,
    // additionalGids, capabilities and rlimits (as runc: the process JSON's; a user of its own
    // without additionalGids has no supplementary groups), and the container's oomScoreAdj.
    auto start_exec = [&](const crumble::runtime::ExecRequest& r, const crumble::vm::Stdio& st) {
      for (const std::string& what : r.ignored) log_line("warning", "exec: not applied: " + what);
      crumble::vm::CommandOptions o = box->command_options();
      if ((r.uid && r.uid != o.uid.value_or(0)) || (r.gid && r.gid != o.gid.value_or(0))) o.groups.clear();
      if (r.uid) o.uid = r.uid;
      if (r.gid) o.gid = r.gid;
      if (r.groups) o.groups = *r.groups;
      if (r.capabilities) o.capabilities = r.capabilities;
      if (r.rlimits) o.rlimits = *r.rlimits;
      if (!r.cwd.empty()) o.cwd = r.cwd;
      o.no_new_privs = o.no_new_privs || r.no_new_privs;
      return box->exec(r.args, st, r.env.empty() ? box->environment() : r.env, o);
    };
    crumble::runtime::Relay relay(start_exec, std::move(listener), [&](const std::vector<pid_t>& pids) { record_execs(dir, pids); },
                                  [](const std::string& level, const std::string& msg) { log_line(level, msg); });
    // Signals that come before the guest has settled after the start wait for it (at most 2 s:
    // 1 s was too short for a shell's first steps with another VM on both cores; runtime-tools'
    // killsig waits 5 s for the stop after its kill): see Relay::hold_main_signals. Settled: no
    // thread of the VM's processes (QEMU, whose vCPU threads sleep while the guest idles; a
    // virtiofsd) is running, waiting to run or waiting on I/O.
    relay.hold_main_signals(std::move(early), process_started + std::chrono::seconds(2),
                            [vm = vm_processes(::getpid())] { return !vm.empty() && std::none_of(vm.begin(), vm.end(), process_busy); });
    const crumble::vm::CommandResult ended = relay.serve(std::move(p), in, out, err, io.terminal, *signals, passed_fd.get());
    status = ended.status();
    // A process that could not start (no such executable, a working directory that is a file):
    // said on its stderr, where runc's and crun's callers show their create error.
    if (ended.end == crumble::vm::CommandResult::End::not_started) {
      const std::string msg = "crumble-runtime: " + (b.args.empty() ? std::string() : b.args[0] + ": ") + ended.describe() +
                              (io.terminal >= 0 ? "\r\n" : "\n");  // a terminal in raw mode needs its own carriage return
      ssize_t ignored = ::write(err, msg.data(), msg.size());
      (void)ignored;
      log_line("warning", "container " + dir.filename().string() + ": " + ended.describe());
    }
    // runc's container writes into root.path itself: its writes go there before anyone sees it
    // stopped. The process has ended: a signal that comes meanwhile has nobody to reach, and is
    // taken and dropped (left untaken, the SignalForwarding's patience would end the monitor
    // midway, with a wrong status and half the writes copied).
    if (!b.root_readonly) {
      std::atomic<bool> copying{true};
      std::thread drop([&] {
        while (copying) {
          pollfd sp{signals->fd(), POLLIN, 0};
          if (::poll(&sp, 1, 50) > 0) (void)signals->take();
        }
      });
      try {
        log_line("debug", "process ended; copying its writes");
        box->copy_writes_to(b.rootfs);
      } catch (const std::exception& e) {
        log_line("error", "container " + dir.filename().string() + ": its writes were not copied to " + b.rootfs.string() + ": " + e.what());
      }
      copying = false;
      drop.join();
    }
    mark(dir, "exited", status);  // stopped from now on, while the VM powers off
  } catch (const std::exception& e) {
    log_line("error", std::string("container ") + dir.filename().string() + ": " + e.what());
    status = 1;
  }
  log_line("debug", "status " + std::to_string(status) + "; stopping the VM");
  if (box) box->stop();
  box.reset();
  forget_root(root_key);
  std::error_code ec;
  fs::remove(dir / "root", ec);
  log_line("debug", "VM stopped");
  std::fflush(nullptr);
  ::_exit(status);
}

// ---- commands ------------------------------------------------------------------------------------

struct CreateArgs {
  fs::path bundle = ".";
  std::string pid_file, id, console_socket;
  bool foreground = false;  // `run`: the caller's terminal may serve process.terminal
};

CreateArgs create_args(const std::vector<std::string>& a) {
  CreateArgs c;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto value = [&] {
      if (i + 1 >= a.size()) fail(a[i] + " needs a value", 2);
      return a[++i];
    };
    const std::string& x = a[i];
    if (x == "--bundle" || x == "-b") c.bundle = value();
    else if (x.rfind("--bundle=", 0) == 0) c.bundle = x.substr(9);
    else if (x == "--pid-file") c.pid_file = value();
    else if (x.rfind("--pid-file=", 0) == 0) c.pid_file = x.substr(11);
    else if (x == "--console-socket") c.console_socket = value();
    else if (x.rfind("--console-socket=", 0) == 0) c.console_socket = x.substr(17);
    else if (x == "--no-pivot" || x == "--no-new-keyring" || x == "--detach" || x == "-d") continue;
    else if (!x.empty() && x[0] == '-') fail("unknown option " + x, 2);
    else c.id = x;
  }
  if (c.id.empty()) fail("no container id given", 2);
  return c;
}

// poststart or poststop (hooks.hpp, as recorded in the state): a failure is a warning.
void post_hooks(const json& s, const char* kind) {
  try {
    const crumble::oci::Hooks h = crumble::oci::parse_hooks(s.value("hooks", json()));
    for (const std::string& w : crumble::oci::run_hooks_warn(std::string(kind) == "poststart" ? h.poststart : h.poststop, kind, public_state(s).dump()))
      log_line("warning", w);
  } catch (const std::exception& e) {
    log_line("warning", std::string(kind) + ": " + e.what());
  }
}

// Whether ROOT/ID, which exists, is what a create or delete killed midway left: no state.json,
// nobody holding its lock, and no live monitor on file.
bool stale_container_dir(const fs::path& dir) {
  if (fs::exists(dir / "state.json")) return false;
  try {
    Lock now(dir, std::chrono::milliseconds(0));
  } catch (const std::exception&) {
    return false;
  }
  const auto [pid, start] = monitor_on_file(dir);
  return !process_alive(pid, start);
}

// Makes ROOT/ID with its start.fifo, locked (the lock held until the first state is written):
// made as ROOT/.ID.new-PID and renamed into place whole (RENAME_NOREPLACE), so another create or
// a delete never sees it half made and unlocked. A directory left without state.json by a killed
// create or delete is removed and the id taken (once).
std::optional<Lock> make_container_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(g.root, ec);
  // what killed creates left of their own new directories
  for (const auto& e : fs::directory_iterator(g.root, ec)) {
    const std::string name = e.path().filename().string();
    const auto at = name.rfind(".new-");
    if (name.empty() || name[0] != '.' || at == std::string::npos) continue;
    const pid_t owner = std::atoi(name.c_str() + at + 5);
    if (owner > 0 && ::kill(owner, 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);
  }
  const fs::path fresh = g.root / ("." + dir.filename().string() + ".new-" + std::to_string(::getpid()));
  for (int attempt = 0;; ++attempt) {
    fs::remove_all(fresh, ec);
    if (::mkdir(fresh.c_str(), 0700) != 0) fail("cannot make the state directory " + fresh.string() + ": " + std::strerror(errno));
    std::optional<Lock> held;
    try {
      held.emplace(fresh, std::chrono::milliseconds(0));
    } catch (const std::exception& e) {
      fs::remove_all(fresh, ec);
      fail(e.what());
    }
    if (::mkfifo((fresh / "start.fifo").c_str(), 0600) != 0) {
      const int e = errno;
      fs::remove_all(fresh, ec);
      fail("cannot make " + (fresh / "start.fifo").string() + ": " + std::strerror(e));
    }
    if (::renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, dir.c_str(), RENAME_NOREPLACE) == 0) return held;
    const int e = errno;
    held.reset();
    fs::remove_all(fresh, ec);
    if (e != EEXIST) fail("cannot make the state directory " + dir.string() + ": " + std::strerror(e));
    if (attempt > 0 || !stale_container_dir(dir)) fail("container \"" + dir.filename().string() + "\" already exists");
    log_line("warning", "container " + dir.filename().string() + ": removing what a killed create or delete left (" + dir.string() + ")");
    fs::remove_all(dir, ec);
  }
}

// Creates the container; returns the monitor's pid (a child of this process).
pid_t create(const CreateArgs& c) {
  crumble::oci::Bundle b;
  try {
    b = crumble::oci::read_bundle(c.bundle);
  } catch (const std::exception& e) {
    fail(e.what());
  }
  for (const std::string& what : b.ignored) log_line("warning", "not applied: " + what);
  for (const std::string& note : b.notes) log_line("info", note);
  // A terminal: a pty whose master goes to the console socket (runc's way), or, for `run` in a
  // terminal without one, the caller's terminal itself.
  std::optional<crumble::runtime::Console> console;
  ProcessStdio io;
  if (b.terminal) {
    if (!c.console_socket.empty()) {
      std::optional<crumble::vm::TerminalSize> size;
      try {  // read_bundle has parsed config.json already
        size = crumble::runtime::console_size(json::parse(std::ifstream(b.dir / "config.json")).value("process", json::object()));
      } catch (const std::exception& e) {
        fail((b.dir / "config.json").string() + ": " + e.what());
      }
      try {
        console = crumble::runtime::open_console(size);
      } catch (const std::exception& e) {
        fail(e.what());
      }
      io.terminal = console->slave.get();
    } else if (c.foreground && ::isatty(STDIN_FILENO)) {
      io.terminal = STDIN_FILENO;
      io.own_terminal = true;
    } else {
      fail("process.terminal: a terminal needs --console-socket");
    }
  } else if (!c.console_socket.empty()) {
    fail("--console-socket is for process.terminal, which config.json does not set");
  }
  const fs::path dir = dir_of(c.id);
  std::optional<Lock> held = make_container_dir(dir);
  auto undo = [&](const std::string& why) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    fail(why);
  };
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) undo(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) undo(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(p[0]);
    ::close(held->fd());  // the lock is create's: the monitor's copy would hold it as long as it lives
    if (console) console->master.reset();  // the caller's alone: its close is the terminal's hangup
    monitor(b, dir, p[1], io);
  }
  ::close(p[1]);
  // From here every failure ends the monitor (and its VM, and the root image it may have built)
  // and removes the directory: nothing is left waiting on start.fifo for a start that never comes.
  // The directory is removed only while it is still this create's (its monitor file names this
  // monitor): a `delete --force` may have removed it meanwhile and a new create of the same id
  // made it again, whose container is not ours to remove.
  const std::string monitor_line = std::to_string(pid) + " " + crumble::vm::process_start_time(pid) + "\n";
  auto abandon = [&](const std::string& why) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    std::ifstream in(dir / "monitor");
    const std::string on_file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (on_file.empty() || on_file == monitor_line) {
      forget_root_on_file(dir);
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
    fail(why);
  };
  try {
    // the monitor on record before anything else: `delete --force` finds it whatever follows
    write_file(dir / "monitor", monitor_line);
    write_state(dir, json{{"id", c.id},
                          {"pid", pid},
                          {"monitorStart", crumble::vm::process_start_time(pid)},
                          {"bundle", b.dir.string()},
                          {"rootfs", b.rootfs.string()},
                          {"created", now_rfc3339()},
                          {"creating", true},
                          {"started", false},
                          {"hooks", b.hooks_json},
                          {"annotations", b.annotations}});
  } catch (const std::exception& e) {
    abandon(std::string("cannot record the container's state: ") + e.what());
  }
  held.reset();
  std::string said;
  char buf[4096];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR);) {
    if (n < 0) continue;
    said.append(buf, static_cast<std::size_t>(n));
    if (said.find('\n') != std::string::npos) break;
  }
  ::close(p[0]);
  if (said.rfind("ok", 0) != 0) {
    while (!said.empty() && said.back() == '\n') said.pop_back();
    abandon("the container's VM did not start: " + (said.rfind("error: ", 0) == 0 ? said.substr(7) : std::string("its monitor died")));
  }
  if (console) {
    try {
      crumble::runtime::send_console(c.console_socket, console->master.get(), console->name);
    } catch (const std::exception& e) {
      abandon(std::string("cannot send the terminal to the console socket: ") + e.what());
    }
    console.reset();  // the monitor holds the slave; the caller the master
  }
  if (!c.pid_file.empty()) {
    try {
      write_file(c.pid_file, std::to_string(pid));
    } catch (const std::exception& e) {
      abandon("cannot write the pid file: " + std::string(e.what()));
    }
  }
  const std::string ok_line = said.substr(0, said.find('\n'));  // "ok KEY"
  try {
    json keys{{"rootKey", ok_line.size() > 3 ? ok_line.substr(3) : std::string()}};
    try {
      keys["rootImages"] = root_images().string();
    } catch (const std::exception&) {  // no cache directory: the monitor could not have built one
    }
    record(dir, keys);
    // the VM is ready: prestart and createRuntime, on the host; a failure fails create. They see
    // the container created (its environment is; runtime-tools' hooks_stdin checks it), though
    // `state` says creating until they are done.
    json hook_state = public_state(load_state(dir));
    hook_state["status"] = "created";
    const std::string state = hook_state.dump();
    try {
      crumble::oci::run_hooks(b.hooks.prestart, "prestart", state);
      crumble::oci::run_hooks(b.hooks.create_runtime, "createRuntime", state);
    } catch (const std::exception& e) {
      abandon(std::string("hook failed: ") + e.what());
    }
    Lock last(dir);
    json s = load_state(dir);
    if (s.contains("deleting")) abandon("container \"" + c.id + "\" was deleted while it was being created");
    s["creating"] = false;
    write_state(dir, s);
  } catch (const std::exception& e) {
    abandon(std::string("cannot record the container's state: ") + e.what());
  }
  return pid;
}

// Starts a created container: the one `start` that records "starting" (under the lock) writes
// to the fifo and runs poststart; another finds it starting and fails. Throws (`run` cleans up).
void start(const std::string& id) {
  const fs::path dir = dir_of(id);
  auto refuse = [&](const std::string& why) { throw std::runtime_error("cannot start container \"" + id + "\": " + why); };
  {
    Lock held(dir);
    json s = load_state(dir);
    const std::string status = status_of(s);
    if (status != "created") refuse("it is " + status);
    if (const json d = s.value("deleting", json()); d.is_object() && process_alive(d.value("pid", 0), d.value("start", std::string())))
      refuse("it is being deleted");
    if (s.value("starting", false)) refuse("another start has started it");
    s["starting"] = true;
    try {
      write_state(dir, s);
    } catch (const std::exception& e) {
      refuse(std::string("cannot record it: ") + e.what());
    }
    const int f = ::open((dir / "start.fifo").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (f < 0) refuse(std::string("its monitor is not waiting (") + std::strerror(errno) + ")");
    ssize_t ignored = ::write(f, "s", 1);
    (void)ignored;
    ::close(f);
  }
  for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60); std::chrono::steady_clock::now() < until;) {
    const json now = load_state(dir);
    if (now.value("started", false)) return post_hooks(now, "poststart");
    if (!monitor_alive(now)) throw std::runtime_error("container \"" + id + "\" ended before it started (see the log)");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  throw std::runtime_error("container \"" + id + "\" did not start within 60 s");
}

// ---- exec ----------------------------------------------------------------------------------------

struct ExecArgs {
  std::string process_file, pid_file, console_socket, id, cwd, user;
  std::vector<std::string> env, args;
  bool detach = false, tty = false;
};

ExecArgs exec_args(const std::vector<std::string>& a) {
  ExecArgs e;
  std::size_t i = 0;
  for (; i < a.size(); ++i) {
    auto value = [&] {
      if (i + 1 >= a.size()) fail(a[i] + " needs a value", 2);
      return a[++i];
    };
    std::string x = a[i], inline_value;
    if (x.size() > 2 && x[0] == '-' && x[1] == '-' && x.find('=') != std::string::npos) {  // --flag=value
      inline_value = x.substr(x.find('=') + 1);
      x = x.substr(0, x.find('='));
    }
    auto val = [&] { return inline_value.empty() ? value() : inline_value; };
    if (x == "--process" || x == "-p") e.process_file = val();
    else if (x == "--pid-file") e.pid_file = val();
    else if (x == "--console-socket") e.console_socket = val();
    else if (x == "--cwd") e.cwd = val();
    else if (x == "--env" || x == "-e") e.env.push_back(val());
    else if (x == "--user" || x == "-u") e.user = val();
    else if (x == "--detach" || x == "-d") e.detach = true;
    else if (x == "--tty" || x == "-t") e.tty = true;
    else if (x == "--no-new-privs" || x == "--ignore-paused") continue;
    else if (x == "--additional-gids" || x == "-g" || x == "--cap" || x == "-c" || x == "--preserve-fds" || x == "--process-label" ||
             x == "--apparmor" || x == "--cgroup")
      log_line("warning", "exec: not applied: " + x + " " + val());
    else if (x == "--") continue;
    else if (!x.empty() && x[0] == '-') fail("unknown option " + x, 2);
    else break;
  }
  if (i >= a.size()) fail("usage: exec [--process F] [--detach] [--pid-file P] [--console-socket S] [--tty] ID [ARGS...]", 2);
  e.id = a[i];
  e.args.assign(a.begin() + static_cast<std::ptrdiff_t>(i) + 1, a.end());
  return e;
}

// The process an exec runs: --process F whole (containerd, conmon), or the container's own
// process from its bundle with exec's args and flags over it (as runc does without --process).
json exec_process_json(const ExecArgs& e, const json& state) {
  if (!e.process_file.empty()) {
    std::ifstream in(e.process_file);
    if (!in) fail("cannot read the process file " + e.process_file);
    try {
      return json::parse(in);
    } catch (const std::exception& x) {
      fail(e.process_file + ": " + x.what());
    }
  }
  json p = json::object();
  try {
    p = json::parse(std::ifstream(fs::path(state.value("bundle", std::string())) / "config.json")).value("process", json::object());
  } catch (const std::exception&) {  // the bundle is gone: the flags alone
  }
  if (e.args.empty()) fail("exec: no command given (ARGS or --process)", 2);
  p["args"] = e.args;
  for (const std::string& kv : e.env) p["env"].push_back(kv);
  if (!e.cwd.empty()) p["cwd"] = e.cwd;
  if (!e.user.empty()) {
    const auto colon = e.user.find(':');
    try {
      p["user"]["uid"] = std::stoul(e.user.substr(0, colon));
      p["user"]["gid"] = colon == std::string::npos ? 0 : std::stoul(e.user.substr(colon + 1));
    } catch (const std::exception&) {
      fail("--user: expected UID[:GID], got \"" + e.user + "\"", 2);
    }
  }
  p["terminal"] = e.tty;
  return p;
}

// Ends this process as its guest process ended: with the signal itself where its default action
// ends a process (the caller's waitpid sees what runc's caller would see), else with the status.
[[noreturn]] void exit_as(int status) {
  std::fflush(nullptr);
  const int sig = status - 128;
  if (sig >= 1 && sig <= 64 && sig != SIGCHLD && sig != SIGWINCH && sig != SIGURG && sig != SIGCONT && sig != SIGSTOP &&
      sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU) {
    ::signal(sig, SIG_DFL);
    sigset_t one;
    ::sigemptyset(&one);
    ::sigaddset(&one, sig);
    ::sigprocmask(SIG_UNBLOCK, &one, nullptr);
    if (sig == SIGQUIT || sig == SIGABRT || sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGTRAP ||
        sig == SIGSYS || sig == SIGXCPU || sig == SIGXFSZ) {
      const rlimit none{0, 0};  // no core file of ours for the guest's crash
      ::setrlimit(RLIMIT_CORE, &none);
    }
    ::raise(sig);
  }
  ::_exit(status);
}

// The exec process: hands the process and its stdio (`fds`) to the container's monitor, says on
// `report` (a pipe to `exec --detach`, else -1) whether it started, then passes its signals on
// until it learns how the process ended, and ends so too.
[[noreturn]] void exec_process(const fs::path& dir, const json& process, const std::vector<int>& fds, int report, const std::string& pid_file,
                               std::optional<crumble::runtime::Console> console, bool own_terminal) {
  auto failed = [&](const std::string& msg) {
    if (report >= 0) {
      const std::string line = "error " + msg;
      ssize_t ignored = ::write(report, line.data(), line.size());
      (void)ignored;
      ::_exit(1);
    }
    fail(msg);
  };
  // Every signal it can pass on is blocked from here, so none that comes meanwhile is lost.
  const sigset_t passed = crumble::runtime::passed_signals(true);
  ::sigprocmask(SIG_BLOCK, &passed, nullptr);
  crumble::runtime::Fd sig_fd(::signalfd(-1, &passed, SFD_CLOEXEC | SFD_NONBLOCK));
  crumble::runtime::Fd conn;
  std::string reply;
  const std::string request = "exec\n" + process.dump();
  try {
    conn = crumble::runtime::connect_to(dir / "exec.sock");
    crumble::runtime::room_to_send(conn.get(), request.size());
    // bounded: the monitor starts a process within its boot timeout; one that hangs must not
    // hang its callers
    crumble::runtime::socket_timeouts(conn.get(), std::chrono::seconds(120));
    crumble::runtime::send_message(conn.get(), request, fds);
    if (!crumble::runtime::receive_message(conn.get(), reply))
      failed(errno == EAGAIN ? std::string("the container's monitor did not answer within 120 s")
                             : std::string("the container's monitor ended before the process started"));
    crumble::runtime::socket_timeouts(conn.get(), std::chrono::seconds(0));  // from now on read when poll says so
  } catch (const crumble::runtime::ConnectError& e) {
    // its main process has ended (the monitor stops listening then) or the monitor is gone
    if (e.code == ECONNREFUSED || e.code == ENOENT) failed("cannot exec: the container is stopped");
    failed(std::string("cannot reach the container's monitor: ") + e.what());
  } catch (const std::exception& e) {
    failed(std::string("cannot reach the container's monitor: ") + e.what());
  }
  if (reply.rfind("error ", 0) == 0) failed(reply.substr(6));
  if (reply.rfind("started", 0) != 0) failed("the container's monitor answered \"" + reply + "\"");
  console.reset();  // the monitor has the slave now
  std::optional<crumble::vm::RawTerminal> raw;
  if (own_terminal) raw.emplace(STDIN_FILENO);
  if (report >= 0) {
    ssize_t ignored = ::write(report, "ok", 2);
    (void)ignored;
    ::close(report);
  } else if (!pid_file.empty()) {
    std::ofstream out(pid_file);
    out << ::getpid();
  }
  for (;;) {
    pollfd p[2] = {{conn.get(), POLLIN, 0}, {sig_fd.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) continue;
    if (p[1].revents & POLLIN)
      for (int sig : crumble::runtime::take_signals(sig_fd.get())) {
        try {
          crumble::runtime::send_message(conn.get(), "signal " + std::to_string(sig));
        } catch (const std::exception&) {
        }
      }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      std::string msg;
      bool got = false;
      try {
        got = crumble::runtime::receive_message(conn.get(), msg);
      } catch (const std::exception&) {
      }
      raw.reset();
      if (got && msg.rfind("exit ", 0) == 0) exit_as(std::atoi(msg.c_str() + 5));
      if (got) continue;
      // The monitor went without a word: killed, and the VM, with the process, with it.
      const std::string line = "crumble-runtime: the container's monitor ended before the exec'd process did\n";
      ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
      (void)ignored;
      exit_as(128 + SIGKILL);
    }
  }
}

int exec(const ExecArgs& e) {
  const fs::path dir = dir_of(e.id);
  const json s = read_state(e.id);
  const std::string status = status_of(s);
  if (status == "paused") fail("cannot exec in a paused container (resume it first)");
  if (status != "running") fail("cannot exec in a " + status + " container");
  const json process = exec_process_json(e, s);
  if (const std::size_t size = process.dump().size() + 5; size > crumble::runtime::exec_message_max)
    fail("the exec process's JSON is " + std::to_string(size) + " bytes; at most " + std::to_string(crumble::runtime::exec_message_max) +
         " (1 MiB) is taken");
  std::optional<crumble::vm::TerminalSize> size;
  try {
    size = crumble::runtime::exec_request(process).console_size;  // its errors here, before anything starts
  } catch (const std::exception& x) {
    fail(x.what());
  }
  std::vector<int> fds = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
  std::optional<crumble::runtime::Console> console;
  bool own_terminal = false;
  if (process.value("terminal", false) == true) {
    if (!e.console_socket.empty()) {
      try {
        console = crumble::runtime::open_console(size);
        crumble::runtime::send_console(e.console_socket, console->master.get(), console->name);
      } catch (const std::exception& x) {
        fail(std::string("cannot hand the terminal to the console socket: ") + x.what());
      }
      console->master.reset();
      fds.assign(3, console->slave.get());
    } else if (!e.detach && ::isatty(STDIN_FILENO)) {
      own_terminal = true;
    } else {
      fail("process.terminal: a terminal needs --console-socket (or, without --detach, a terminal on stdin)");
    }
  } else if (!e.console_socket.empty()) {
    fail("--console-socket is for process.terminal, which the process does not set");
  }
  if (!e.detach) exec_process(dir, process, fds, -1, e.pid_file, std::move(console), own_terminal);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) fail(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) fail(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(p[0]);
    exec_process(dir, process, fds, p[1], "", std::move(console), false);
  }
  ::close(p[1]);
  console.reset();
  std::string said;
  char buf[4096];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) said.append(buf, static_cast<std::size_t>(n));
  ::close(p[0]);
  if (said != "ok") {
    ::waitpid(pid, nullptr, 0);
    fail(said.rfind("error ", 0) == 0 ? said.substr(6) : std::string("the exec process died before the process started"));
  }
  if (!e.pid_file.empty()) {
    std::ofstream out(e.pid_file);
    out << pid;
    if (!out) fail("cannot write the pid file " + e.pid_file);  // the process runs: the caller cannot find it, but it ends with the container
  }
  return 0;
}

// ---- ps, pause, resume, update ---------------------------------------------------------------

// The host processes that stand for the container's: its monitor and the exec processes.
std::vector<pid_t> container_pids(const json& s) {
  std::vector<pid_t> pids;
  if (status_of(s) == "stopped") return pids;
  pids.push_back(s.value("pid", 0));
  for (const json& p : s.value("execs", json::array()))
    if (p.is_number_integer() && ::kill(p.get<pid_t>(), 0) == 0) pids.push_back(p.get<pid_t>());
  return pids;
}

int ps(const std::vector<std::string>& rest) {
  std::string format = "table", id;
  std::vector<std::string> ps_args;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    const std::string& x = rest[i];
    if ((x == "--format" || x == "-f") && i + 1 < rest.size()) format = rest[++i];
    else if (x.rfind("--format=", 0) == 0) format = x.substr(9);
    else if (id.empty() && !x.empty() && x[0] != '-') id = x;
    else if (!id.empty() && x != "--") ps_args.push_back(x);
  }
  if (id.empty()) fail("usage: ps [--format table|json] ID [PS-ARGS...]", 2);
  const std::vector<pid_t> pids = container_pids(read_state(id));
  if (format == "json") {
    std::cout << json(pids).dump() << "\n";
    return 0;
  }
  if (format != "table") fail("ps: unknown format \"" + format + "\" (table, json)", 2);
  // runc runs ps(1) and keeps the container's lines; here ps is asked for those pids alone, its
  // arguments passed as they are (no shell)
  std::vector<std::string> argv = {"ps", "-f"};
  argv.insert(argv.end(), ps_args.begin(), ps_args.end());
  std::string list;
  for (std::size_t i = 0; i < pids.size(); ++i) list += (i ? "," : "") + std::to_string(pids[i]);
  argv.push_back("-p");
  argv.push_back(pids.empty() ? "0" : list);
  std::fflush(nullptr);
  std::vector<char*> cargs;
  for (std::string& a : argv) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  const pid_t child = ::fork();
  if (child < 0) fail(std::string("fork: ") + std::strerror(errno));
  if (child == 0) {
    if (pids.empty()) {  // only the header: ps finds no pid 0 and says so on stderr
      const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
      if (null >= 0) ::dup2(null, STDERR_FILENO);
    }
    ::execvp("ps", cargs.data());
    std::fprintf(stderr, "crumble-runtime: cannot run ps: %s\n", std::strerror(errno));
    ::_exit(127);
  }
  int st = 0;
  while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
  }
  if (pids.empty()) return 0;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

// A paused container's VM is frozen as runc's freezer freezes a container's processes: its QEMU
// is stopped (SIGSTOP to its process group; QEMU is the monitor's only child). The guest's clock
// then jumps on resume, as the wall clock does for a frozen container. The QEMU engine's QMP
// stop/cont is not reachable from here (Container keeps its Session to itself).
std::vector<pid_t> vm_processes(pid_t monitor) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream in(e.path() / "stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    const auto paren = line.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream f(line.substr(paren + 2));
    char state = 0;
    pid_t ppid = 0;
    f >> state >> ppid;
    if (ppid == monitor) out.push_back(std::stoi(name));
  }
  return out;
}

int pause_or_resume(const std::string& id, bool pause) {
  const fs::path dir = dir_of(id);
  Lock held(dir);
  json s = read_state(id);
  const std::string status = status_of(s);
  if (pause && status != "running") fail("cannot pause container \"" + id + "\": it is " + status);
  if (!pause && status != "paused") fail("cannot resume container \"" + id + "\": it is " + status + ", not paused");
  const std::vector<pid_t> vm = vm_processes(s.value("pid", 0));
  if (vm.empty()) fail("cannot " + std::string(pause ? "pause" : "resume") + " container \"" + id + "\": its VM process is not found");
  for (pid_t p : vm) {
    ::kill(-p, pause ? SIGSTOP : SIGCONT);
    ::kill(p, pause ? SIGSTOP : SIGCONT);
  }
  s["paused"] = pause;
  write_state(dir, s);
  return 0;
}

int update(const std::vector<std::string>& rest) {
  std::string id, resources;
  std::vector<std::string> flags;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    const std::string& x = rest[i];
    if (x == "--resources" || x == "-r") {
      if (i + 1 >= rest.size()) fail("--resources needs a value", 2);
      resources = rest[++i];
    } else if (x.rfind("--resources=", 0) == 0) {
      resources = x.substr(12);
    } else if (!x.empty() && x[0] == '-') {
      flags.push_back(x);
      if (x.find('=') == std::string::npos && i + 1 < rest.size() && rest[i + 1].rfind("-", 0) != 0 && i + 2 < rest.size()) flags.back() += " " + rest[++i];
    } else {
      id = x;
    }
  }
  if (id.empty()) fail("usage: update [--resources F|-] ID", 2);
  const json s = read_state(id);
  if (status_of(s) == "stopped") fail("container not running");
  std::string what;
  if (!resources.empty()) {
    try {
      json r;
      if (resources == "-") r = json::parse(std::cin);
      else r = json::parse(std::ifstream(resources));
      what = r.dump();
    } catch (const std::exception& e) {
      fail("--resources " + resources + ": " + e.what());
    }
  }
  for (const std::string& f : flags) what += (what.empty() ? "" : " ") + f;
  // A VM's memory and vCPUs are fixed when it starts here; accepted, so the callers' updates
  // (Kubernetes' in-place resizes) do not fail, and logged.
  log_line("warning", "update of container " + id + ": not applied (a VM's resources do not change while it runs): " + what);
  return 0;
}

// ---- delete, run ----------------------------------------------------------------------------------

// Ends the monitor `pid` (started at `start`): SIGTERM first when it may stop cleanly (a created
// container: the VM's files go with it), SIGKILL after 2 s or at once; waits at most 5 s more.
void end_monitor(pid_t pid, const std::string& start, bool gently) {
  auto wait_gone = [&](int ms) {
    for (int i = 0; i < ms && process_alive(pid, start); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  if (!process_alive(pid, start)) return;
  if (gently) {
    ::kill(pid, SIGTERM);
    wait_gone(2000);
  }
  if (process_alive(pid, start)) ::kill(pid, SIGKILL);
  wait_gone(5000);
}

// `delete [--force] ID`. The one delete that records "deleting" (under the lock, with its own pid
// and start time) stops the monitor and runs poststop; another that finds a live deleter on
// record fails, one that finds a dead one (killed midway) takes over. A directory whose state is
// missing or damaged is removed by --force alone, its monitor (ROOT/ID/monitor) killed.
int delete_container(const std::string& id, bool force) {
  const fs::path dir = dir_of(id);
  if (!fs::is_directory(dir)) fail("container \"" + id + "\" does not exist");
  std::optional<Lock> held(std::in_place, dir);
  json s;
  try {
    s = load_state(dir);
  } catch (const StateError& e) {
    if (!force) fail(e.missing ? "container \"" + id + "\" does not exist (" + dir.string() + " has no state: `delete --force " + id + "` removes it)"
                               : e.what());
    const auto [pid, start] = monitor_on_file(dir);
    end_monitor(pid, start, false);
    forget_root_on_file(dir);
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) fail("cannot remove " + dir.string() + ": " + ec.message());
    return 0;
  }
  const std::string status = status_of(s);
  if ((status == "running" || status == "paused") && !force) fail("cannot delete container \"" + id + "\": it is " + status + " (use --force)");
  if (const json d = s.value("deleting", json()); d.is_object() && process_alive(d.value("pid", 0), d.value("start", std::string())))
    fail("container \"" + id + "\" is being deleted by process " + std::to_string(d.value("pid", 0)));
  s["deleting"] = json{{"pid", ::getpid()}, {"start", crumble::vm::process_start_time(::getpid())}};
  try {
    write_state(dir, s);
  } catch (const std::exception& e) {  // a full disk must not keep a container: on, with a word
    log_line("warning", "delete " + id + ": cannot record \"deleting\": " + e.what());
  }
  held.reset();  // the monitor records its own end under the lock: not held while it goes
  if (status != "stopped")
    end_monitor(s.value("pid", 0), s.value("monitorStart", std::string()), status == "created" || status == "creating");  // paused: frozen, SIGKILL
  // (a monitor ends with its own image; a killed one leaves it here)
  const std::string key = s.value("rootKey", std::string());
  if (!key.empty()) forget_root(key, s.value("rootImages", std::string()), std::chrono::seconds(5));
  else forget_root_on_file(dir);
  post_hooks(s, "poststop");
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) fail("cannot remove " + dir.string() + ": " + ec.message());
  return 0;
}

// `run`: create and start; with --detach that is all (runc run -d: the monitor runs on, the
// caller's subreaper its parent). Otherwise run waits for the monitor and passes SIGTERM, SIGINT,
// SIGHUP and SIGQUIT on to it (so to the process, as `kill` would), then deletes the container;
// a start that fails deletes it too.
int run(CreateArgs c, bool detach) {
  c.foreground = !detach;
  const sigset_t ends = [] {
    sigset_t set;
    ::sigemptyset(&set);
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) ::sigaddset(&set, s);
    return set;
  }();
  ::sigprocmask(SIG_BLOCK, &ends, nullptr);  // from before the fork: none is lost, none ends us midway
  const pid_t pid = create(c);
  try {
    start(c.id);
  } catch (const std::exception& e) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    const std::string why = e.what();
    if (fs::exists(dir_of(c.id) / "state.json")) delete_container(c.id, true);
    fail(why);
  }
  if (detach) return 0;
  int st = 0;
  for (;;) {
    const pid_t done = ::waitpid(pid, &st, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) break;
    const timespec tick{0, 50'000'000};
    if (const int sig = ::sigtimedwait(&ends, nullptr, &tick); sig > 0) ::kill(pid, sig);
  }
  delete_container(c.id, true);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int run_main(const std::vector<std::string>& args) {
  std::string cmd = args.empty() ? "" : args[0];
  const std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1), args.end());
  if (cmd == "create" || cmd == "run") crumble::vm::reclaim_stale_temp_dirs();  // what SIGKILLed monitors left
  if (cmd == "create") {
    create(create_args(rest));
    return 0;
  }
  if (cmd == "run") {
    bool detach = false;
    for (const std::string& x : rest) detach = detach || x == "--detach" || x == "-d";
    return run(create_args(rest), detach);
  }
  if (cmd == "start" && rest.size() == 1) {
    start(rest[0]);
    return 0;
  }
  if (cmd == "state" && rest.size() == 1) {
    std::cout << public_state(read_state(rest[0])).dump(2) << "\n";
    return 0;
  }
  if (cmd == "kill") {
    std::vector<std::string> pos;
    bool all = false;
    for (const std::string& x : rest) {
      if (x == "--all" || x == "-a") all = true;
      else pos.push_back(x);
    }
    if (pos.empty() || pos.size() > 2) fail("usage: kill [--all] ID [SIGNAL]", 2);
    const int sig = signal_number(pos.size() == 2 ? pos[1] : "TERM");
    const json s = read_state(pos[0]);
    const std::string status = status_of(s);
    if (status == "stopped") fail("container not running");  // runc's words: containerd matches them
    if (all && (status == "running" || status == "paused")) {
      // every process: the group of each the monitor serves (the container's and the exec'd)
      try {
        crumble::runtime::Fd c = crumble::runtime::connect_to(dir_of(pos[0]) / "exec.sock");
        crumble::runtime::socket_timeouts(c.get(), std::chrono::seconds(10));  // a stuck monitor: signalled instead
        crumble::runtime::send_message(c.get(), "kill-all " + std::to_string(sig));
        std::string reply;
        if (crumble::runtime::receive_message(c.get(), reply) && reply == "ok") return 0;
        if (reply.rfind("error ", 0) == 0) fail(reply.substr(6));
      } catch (const std::exception& e) {
        log_line("warning", std::string("kill --all: the monitor did not answer (") + e.what() + "); signalling it instead");
      }
    }
    // the monitor passes the signal to the container's process alone (SIGKILL ends the VM); a
    // state without a pid (damaged) must not become kill(0, ...): the caller's own process group
    const pid_t pid = s.value("pid", 0);
    if (pid <= 0) fail("container \"" + pos[0] + "\" has no process to signal in its state");
    if (::kill(pid, sig) != 0) fail(std::string("kill: ") + std::strerror(errno));
    return 0;
  }
  if (cmd == "exec") return exec(exec_args(rest));
  if (cmd == "ps") return ps(rest);
  if ((cmd == "pause" || cmd == "resume") && rest.size() == 1) return pause_or_resume(rest[0], cmd == "pause");
  if (cmd == "update") return update(rest);
  if (cmd == "delete") {
    bool force = false;
    std::string id;
    for (const std::string& x : rest) {
      if (x == "--force" || x == "-f") force = true;
      else id = x;
    }
    return delete_container(id, force);
  }
  if (cmd == "features") {
    std::cout << json{{"ociVersionMin", "1.0.0"},
                      {"ociVersionMax", "1.0.2"},
                      {"hooks", {"prestart", "createRuntime", "poststart", "poststop"}},
                      {"mountOptions", json::array()},
                      {"annotations", {{"io.crumble.runtime", "a microVM per container"}}}}
                     .dump(2)
              << "\n";
    return 0;
  }
  if (cmd == "checkpoint" || cmd == "restore") fail("\"" + cmd + "\" is not supported yet");
  fail("unknown command \"" + cmd + "\" (create, start, state, kill, delete, run, exec, ps, pause, resume, update, features)", 2);
}

}  // namespace

int main(int argc, char** argv) {
  // fds 0-2 exist (a caller may have closed them): otherwise a pipe of ours would become the
  // container's stdout
  int fd;
  while ((fd = ::open("/dev/null", O_RDWR)) >= 0 && fd <= 2) {
  }
  if (fd > 2) ::close(fd);
  std::vector<std::string> args(argv + 1, argv + argc);
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&] {
      if (i + 1 >= args.size()) fail(a + " needs a value", 2);
      return args[++i];
    };
    if (a == "--version" || a == "-v") {
      std::cout << crumble::tools::version_line("crumble-runtime") << "spec: 1.0.2\n";
      return 0;
    }
    if (a == "--root") g.root = value();
    else if (a.rfind("--root=", 0) == 0) g.root = a.substr(7);
    else if (a == "--log") g.log = value();
    else if (a.rfind("--log=", 0) == 0) g.log = a.substr(6);
    else if (a == "--log-format") g.json_log = value() == "json";
    else if (a.rfind("--log-format=", 0) == 0) g.json_log = a.substr(13) == "json";
    else if (a == "--debug") g.debug = true;
    else if (a == "--systemd-cgroup" || a == "--rootless=false") continue;
    else if (a == "--rootless" || a == "--criu") value();
    else break;
  }
  args.erase(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(i));
  try {
    return run_main(args);
  } catch (const std::exception& e) {
    fail(e.what());
  }
}
