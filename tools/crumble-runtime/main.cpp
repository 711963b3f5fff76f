// SPDX-License-Identifier: Apache-2.0
// crumble-runtime — an OCI runtime with runc's command line: each container runs in its own
// crumble microVM, restored from the snapshot (issue 16; this is its first step: the lifecycle).
//
//   crumble-runtime [--root DIR] [--log FILE] [--log-format text|json] COMMAND ...
//     create --bundle B [--pid-file P] ID   start ID   state ID   kill ID [SIGNAL]
//     delete [--force] ID   run --bundle B [--pid-file P] ID   features   --version
//
// The pid of a container (state's "pid", --pid-file) is its monitor: a process `create` forks
// that holds the VM, lives as long as the container's process and exits with its status (128+N
// for signal N); signals sent to it reach the process in the guest once it has started. Its
// stdin, stdout and stderr are the ones `create` was given. State lives in ROOT/ID/state.json
// (ROOT: --root, default /run/crumble-runtime), written under a lock; "running" or "created"
// is believed only while the monitor (pid and start time) is alive, so a killed caller or monitor
// leaves a container `state` reports stopped and `delete` removes.
//
// Not yet (issue 16 goes on): terminals and --console-socket, exec, ps, pause/resume, update;
// they are refused or logged, never silently wrong. Mounts, hooks, resources: docs/oci-runtime.md.
#include <crumble/container/container.hpp>
#include <crumble/oci/bundle.hpp>
#include <crumble/vm/attach.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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

fs::path dir_of(const std::string& id) {
  if (id.empty() || id.find('/') != std::string::npos || id == "." || id == "..") fail("invalid container id \"" + id + "\"");
  return g.root / id;
}

// An exclusive lock on the container's directory while the state is read or written.
struct Lock {
  int fd = -1;
  explicit Lock(const fs::path& dir) {
    fd = ::open((dir / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) fail("cannot lock " + (dir / "lock").string() + ": " + std::strerror(errno));
    ::flock(fd, LOCK_EX);
  }
  ~Lock() { ::close(fd); }
};

json read_state(const std::string& id) {
  const fs::path dir = dir_of(id);
  std::ifstream in(dir / "state.json");
  if (!in) fail("container \"" + id + "\" does not exist");
  try {
    return json::parse(in);
  } catch (const std::exception& e) {
    fail("the state of container \"" + id + "\" is damaged (" + (dir / "state.json").string() + "): " + e.what());
  }
}

void write_state(const fs::path& dir, const json& s) {
  const fs::path tmp = dir / "state.json.tmp";
  {
    std::ofstream out(tmp);
    out << s.dump(2) << "\n";
    if (!out) fail("cannot write " + tmp.string());
  }
  fs::rename(tmp, dir / "state.json");
}

// Whether the monitor named in the state still runs: its pid and its start time (pids are
// reused), and not a zombie its reaper has yet to collect.
bool monitor_alive(const json& s) {
  const pid_t pid = s.value("pid", 0);
  const std::string start = s.value("monitorStart", std::string());
  if (pid <= 0 || start.empty() || crumble::vm::process_start_time(pid) != start) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  const auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

std::string status_of(const json& s) {
  if (s.contains("exited") || !monitor_alive(s)) return "stopped";
  if (s.value("creating", false)) return "creating";
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

void forget_root(const std::string& key) {
  if (key.empty()) return;
  try {
    crumble::container::RootCache(root_images()).remove(key);
  } catch (const std::exception& e) {
    log_line("warning", "cannot remove the root image " + key + ": " + e.what());
  }
}

// ---- the monitor --------------------------------------------------------------------------------

// The monitor's life: the VM up with the container's root, "created" said to `create` through
// `ready`, then (on `start`, through the fifo) the process, its stdio wired to fds 0-2, and exit
// with its status. Before start, SIGTERM/SIGINT/SIGHUP/SIGQUIT end it cleanly (the VM stopped).
// The monitor's own state updates: a failure is logged, never the end of a running container.
void mark(const fs::path& dir, const char* key, const json& value) {
  try {
    const int fd = ::open((dir / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) ::flock(fd, LOCK_EX);
    std::ifstream in(dir / "state.json");
    json s = json::parse(in);
    s[key] = value;
    {
      std::ofstream out(dir / "state.json.tmp");
      out << s.dump(2) << "\n";
    }
    fs::rename(dir / "state.json.tmp", dir / "state.json");
    if (fd >= 0) ::close(fd);
  } catch (const std::exception& e) {
    log_line("error", "container " + dir.filename().string() + ": cannot record " + key + ": " + e.what());
  }
}

[[noreturn]] void monitor(const crumble::oci::Bundle& b, const fs::path& dir, int ready) {
  crumble::vm::stop_cleanly_on_signals();
  std::optional<crumble::container::Container> box;
  try {
    crumble::container::Spec spec = b.spec;
    spec.root_cache_dir = root_images();
    box.emplace(spec);
  } catch (const std::exception& e) {
    const std::string msg = std::string("error: ") + e.what() + "\n";
    ssize_t ignored = ::write(ready, msg.data(), msg.size());
    (void)ignored;
    ::_exit(1);
  }
  log_line("debug", box->root_note() + "; " + box->snapshot_note() + "; " + box->start_note());
  // Open (read-write: it does not wait for a writer) before saying ready, so a `start` that
  // comes at once finds a reader; ENXIO then means the monitor is gone.
  const std::string root_key = box->root_key();
  const std::string ok = "ok " + root_key + "\n";  // `create` records the key: `delete` needs it
  const int f = ::open((dir / "start.fifo").c_str(), O_RDWR | O_CLOEXEC);
  if (f < 0 || ::write(ready, ok.data(), ok.size()) != static_cast<ssize_t>(ok.size())) {  // `create` is gone: nobody will start us
    box.reset();
    forget_root(root_key);
    ::_exit(1);
  }
  ::close(ready);
  char c = 0;
  ssize_t got;
  while ((got = ::read(f, &c, 1)) < 0 && errno == EINTR) {
  }
  if (got != 1) {
    box.reset();
    forget_root(root_key);
    ::_exit(1);
  }
  ::close(f);
  int status = 1;
  try {
    crumble::vm::SignalForwarding signals;
    crumble::vm::Stdio stdio;
    stdio.stdin_open = true;
    log_line("debug", "starting");
    crumble::vm::Session::Process p = box->start({}, stdio);
    mark(dir, "started", true);
    crumble::vm::AttachOptions a;
    a.in = STDIN_FILENO;
    a.signals = &signals;
    a.give_up = false;  // runc's semantics: a signal is only passed on
    status = crumble::vm::attach(p, a).status();
    // runc's container writes into root.path itself: its writes go there before anyone sees it stopped
    if (!b.root_readonly) {
      try {
        box->copy_writes_to(b.rootfs);
      } catch (const std::exception& e) {
        log_line("error", "container " + dir.filename().string() + ": its writes were not copied to " + b.rootfs.string() + ": " + e.what());
      }
    }
    mark(dir, "exited", status);  // stopped from now on, while the VM powers off
  } catch (const std::exception& e) {
    log_line("error", std::string("container ") + dir.filename().string() + ": " + e.what());
    status = 1;
  }
  log_line("debug", "process ended: " + std::to_string(status));
  box.reset();
  forget_root(root_key);
  log_line("debug", "VM stopped");
  std::fflush(nullptr);
  ::_exit(status);
}

// ---- commands ------------------------------------------------------------------------------------

struct CreateArgs {
  fs::path bundle = ".";
  std::string pid_file, id;
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
    else if (x == "--console-socket") fail("terminals (--console-socket) are not supported yet");
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

// Creates the container; returns the monitor's pid (a child of this process).
pid_t create(const CreateArgs& c) {
  crumble::oci::Bundle b;
  try {
    b = crumble::oci::read_bundle(c.bundle);
  } catch (const std::exception& e) {
    fail(e.what());
  }
  if (b.terminal) fail("process.terminal: terminals are not supported yet");
  for (const std::string& what : b.ignored) log_line("warning", "not applied: " + what);
  for (const std::string& note : b.notes) log_line("info", note);
  const fs::path dir = dir_of(c.id);
  std::error_code ec;
  fs::create_directories(g.root, ec);
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST) fail("container \"" + c.id + "\" already exists");
    fail("cannot make the state directory " + dir.string() + ": " + std::strerror(errno));
  }
  if (::mkfifo((dir / "start.fifo").c_str(), 0600) != 0) {
    const int e = errno;
    fs::remove_all(dir, ec);
    fail("cannot make " + (dir / "start.fifo").string() + ": " + std::strerror(e));
  }
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) fail(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) fail(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(p[0]);
    monitor(b, dir, p[1]);
  }
  ::close(p[1]);
  // Whatever happens to this process from here, the monitor is on record: `delete` finds it.
  auto abandon = [&](const std::string& why) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    fs::remove_all(dir, ec);
    fail(why);
  };
  try {
    Lock held(dir);
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
  std::string said;
  char buf[4096];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) {
    said.append(buf, static_cast<std::size_t>(n));
    if (said.find('\n') != std::string::npos) break;
  }
  ::close(p[0]);
  if (said.rfind("ok", 0) != 0) {
    while (!said.empty() && said.back() == '\n') said.pop_back();
    abandon("the container's VM did not start: " + (said.rfind("error: ", 0) == 0 ? said.substr(7) : std::string("its monitor died")));
  }
  if (!c.pid_file.empty()) {
    std::ofstream out(c.pid_file);
    out << pid;
    if (!out) abandon("cannot write the pid file " + c.pid_file);
  }
  const std::string ok_line = said.substr(0, said.find('\n'));  // "ok KEY"
  mark(dir, "rootKey", ok_line.size() > 3 ? ok_line.substr(3) : std::string());
  try {  // the VM is ready: prestart and createRuntime, on the host; a failure fails create
    const std::string state = public_state(read_state(c.id)).dump();
    crumble::oci::run_hooks(b.hooks.prestart, "prestart", state);
    crumble::oci::run_hooks(b.hooks.create_runtime, "createRuntime", state);
  } catch (const std::exception& e) {
    abandon(std::string("hook failed: ") + e.what());
  }
  mark(dir, "creating", false);
  return pid;
}

void start(const std::string& id) {
  const fs::path dir = dir_of(id);
  const json s = read_state(id);
  const std::string status = status_of(s);
  if (status != "created") fail("cannot start container \"" + id + "\": it is " + status);
  const int f = ::open((dir / "start.fifo").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (f < 0) fail("cannot start container \"" + id + "\": its monitor is not waiting (" + std::strerror(errno) + ")");
  ssize_t ignored = ::write(f, "s", 1);
  (void)ignored;
  ::close(f);
  for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60); std::chrono::steady_clock::now() < until;) {
    const json now = read_state(id);
    if (now.value("started", false)) return post_hooks(now, "poststart");
    if (!monitor_alive(now)) fail("container \"" + id + "\" ended before it started (see the log)");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  fail("container \"" + id + "\" did not start within 60 s");
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
    const CreateArgs c = create_args(rest);
    const pid_t pid = create(c);
    start(c.id);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    post_hooks(read_state(c.id), "poststop");
    std::error_code ec;
    fs::remove_all(dir_of(c.id), ec);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
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
    for (const std::string& x : rest)
      if (x != "--all" && x != "-a") pos.push_back(x);
    if (pos.empty() || pos.size() > 2) fail("usage: kill [--all] ID [SIGNAL]", 2);
    const int sig = signal_number(pos.size() == 2 ? pos[1] : "TERM");
    const json s = read_state(pos[0]);
    if (status_of(s) == "stopped") fail("container not running");  // runc's words: containerd matches them
    if (::kill(s.value("pid", 0), sig) != 0) fail(std::string("kill: ") + std::strerror(errno));
    return 0;
  }
  if (cmd == "delete") {
    bool force = false;
    std::string id;
    for (const std::string& x : rest) {
      if (x == "--force" || x == "-f") force = true;
      else id = x;
    }
    const fs::path dir = dir_of(id);
    if (!fs::exists(dir / "state.json")) {
      std::error_code ec;
      if (force) fs::remove_all(dir, ec);  // a create that died before it wrote anything
      if (force) return 0;
      fail("container \"" + id + "\" does not exist");
    }
    const json s = read_state(id);
    const std::string status = status_of(s);
    if (status == "running" && !force) fail("cannot delete container \"" + id + "\": it is running (use --force)");
    if (status != "stopped") {  // created: asked to stop cleanly first (the VM's files go with it)
      if (status != "running") ::kill(s.value("pid", 0), SIGTERM);
      for (int i = 0; i < 2000 && status != "running" && monitor_alive(s); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (monitor_alive(s)) ::kill(s.value("pid", 0), SIGKILL);
      for (int i = 0; i < 5000 && monitor_alive(s); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    forget_root(s.value("rootKey", std::string()));
    post_hooks(read_state(id), "poststop");
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) fail("cannot remove " + dir.string() + ": " + ec.message());
    return 0;
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
  if (cmd == "exec" || cmd == "ps" || cmd == "pause" || cmd == "resume" || cmd == "update" || cmd == "checkpoint" || cmd == "restore")
    fail("\"" + cmd + "\" is not supported yet");
  fail("unknown command \"" + cmd + "\" (create, start, state, kill, delete, run, features)", 2);
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
