// SPDX-License-Identifier: Apache-2.0
// crumble/oci/hooks.hpp — config.json's hooks, run on the host as the OCI runtime spec says.
//
// A hook is a program (`path`, absolute) run with `args` (args[0] is its argv[0]) and exactly
// the environment `env`, the container's state JSON on its stdin. The runtime runs each list in
// order at its point of the lifecycle (crumble-runtime: prestart and createRuntime once the VM is
// ready in `create`, poststart after `start` started the process, poststop in `delete`). A hook
// that exits non-zero, is killed, cannot be started or outlives its `timeout` (seconds; the whole
// process group is killed then) fails: the first failure of prestart/createRuntime fails
// `create` (run_hooks throws); poststart and poststop failures are warnings and the rest still
// run (run_hooks_warn). A hook without a timeout gets default_hook_timeout: a runtime never
// waits on one for ever. createContainer and startContainer run inside the container's
// namespaces, which are in the VM: they are not run (bundle.hpp logs them as not applied).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace crumble::oci {

// A hook that failed, or a hooks section that is malformed: the message names which hook
// ("prestart[1] /usr/bin/x"), and why.
struct HookError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Hook {
  std::string path;               // absolute
  std::vector<std::string> args;  // args[0] is argv[0]; empty: argv is {path}
  // The whole environment; absent: the runtime's own (runc runs a hook without `env` with Go's
  // nil Env, i.e. its own environment: hooks from hooks.d often rely on PATH)
  std::optional<std::vector<std::string>> env;
  std::optional<int> timeout;     // seconds, > 0
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart, poststop;
};

inline constexpr std::chrono::seconds default_hook_timeout{120};

// config.json's `hooks` (an object; null: none) as Hooks. A problem is a HookError naming its
// JSON path from `at` ("hooks.prestart[0].path: ...").
inline Hooks parse_hooks(const nlohmann::json& j, const std::string& at = "hooks") {
  Hooks h;
  if (j.is_null()) return h;
  if (!j.is_object()) throw HookError(at + ": expected an object, got " + j.type_name());
  auto strings = [](const nlohmann::json& a, const std::string& where) {
    std::vector<std::string> out;
    if (a.is_null()) return out;
    if (!a.is_array()) throw HookError(where + ": expected an array, got " + a.type_name());
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_string()) throw HookError(where + "[" + std::to_string(i) + "]: expected a string, got " + a[i].type_name());
      out.push_back(a[i].get<std::string>());
    }
    return out;
  };
  auto list = [&](const char* name, std::vector<Hook>& out) {
    if (!j.contains(name)) return;
    const nlohmann::json& a = j.at(name);
    const std::string where = at + "." + name;
    if (!a.is_array()) throw HookError(where + ": expected an array, got " + a.type_name());
    for (std::size_t i = 0; i < a.size(); ++i) {
      const std::string one = where + "[" + std::to_string(i) + "]";
      if (!a[i].is_object()) throw HookError(one + ": expected an object, got " + a[i].type_name());
      Hook hook;
      const nlohmann::json path = a[i].value("path", nlohmann::json());
      if (!path.is_string()) throw HookError(one + ".path: " + (path.is_null() ? std::string("missing") : std::string("expected a string")));
      hook.path = path.get<std::string>();
      if (hook.path.empty() || hook.path[0] != '/') throw HookError(one + ".path: \"" + hook.path + "\" is not absolute");
      hook.args = strings(a[i].value("args", nlohmann::json()), one + ".args");
      if (a[i].contains("env") && !a[i].at("env").is_null()) hook.env = strings(a[i].at("env"), one + ".env");  // null: absent, as Go's nil
      if (a[i].contains("timeout")) {
        const nlohmann::json& t = a[i].at("timeout");
        if (!t.is_number_integer() || t.get<std::int64_t>() < 1 || t.get<std::int64_t>() > 86400)
          throw HookError(one + ".timeout: expected whole seconds from 1 to 86400, got " + t.dump());
        hook.timeout = t.get<int>();
      }
      out.push_back(std::move(hook));
    }
  };
  list("prestart", h.prestart);
  list("createRuntime", h.create_runtime);
  list("createContainer", h.create_container);
  list("startContainer", h.start_container);
  list("poststart", h.poststart);
  list("poststop", h.poststop);
  return h;
}

namespace hooks_detail {
// The last `keep` bytes of what a hook wrote (for the message).
inline void keep_tail(std::string& out, const char* data, std::size_t n, std::size_t keep = 2048) {
  out.append(data, n);
  if (out.size() > keep) out.erase(0, out.size() - keep);
}
inline std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}
}  // namespace hooks_detail

// Runs one hook with `state` on its stdin; `name` names it in errors ("prestart[0]"). Throws
// HookError when it fails: not started, a non-zero status, killed by a signal, or past its
// timeout (then its process group is killed).
inline void run_hook(const Hook& hook, const std::string& state, const std::string& name) {
  using namespace hooks_detail;
  const std::string who = name + " " + hook.path;
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) throw HookError(who + ": pipe: " + std::strerror(errno));
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    throw HookError(who + ": pipe: " + std::strerror(errno));
  }
  // argv and envp made before the fork: the child only calls async-signal-safe functions
  std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  std::vector<char*> argv, envp;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env;
  if (hook.env) env = *hook.env;
  else
    for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
    throw HookError(who + ": fork: " + std::strerror(errno));
  }
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group: a timeout kills what it started too
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::close_range(3, ~0u, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(hook.path.c_str(), argv.data(), envp.data());
    const int e = errno;
    const char* msg = "cannot be started: ";
    ssize_t ignored = ::write(2, msg, std::strlen(msg));
    ignored = ::write(2, std::strerror(e), std::strlen(std::strerror(e)));
    (void)ignored;
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // as the child does: whichever runs first
  // a hook that does not read its stdin must not end this process with SIGPIPE (set after the
  // fork: the hook keeps the default)
  struct IgnorePipe {
    struct sigaction old {};
    IgnorePipe() {
      struct sigaction ign {};
      ign.sa_handler = SIG_IGN;
      ::sigaction(SIGPIPE, &ign, &old);
    }
    ~IgnorePipe() { ::sigaction(SIGPIPE, &old, nullptr); }
  } ignore_pipe;
  ::close(in[0]);
  ::close(out[1]);
  ::fcntl(in[1], F_SETFL, O_NONBLOCK);
  const auto limit = hook.timeout ? std::chrono::seconds(*hook.timeout) : default_hook_timeout;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::size_t sent = 0;
  int to = in[1], from = out[0];
  if (state.empty()) {
    ::close(to);
    to = -1;
  }
  std::string said;
  bool timed_out = false;
  int status = 0;
  ::fcntl(from, F_SETFL, O_NONBLOCK);
  // Until it ends (not until its output closes: something it started in the background may
  // keep that open) or the time is up; its stdin fed as it reads, its output kept.
  auto drain = [&] {
    char buf[4096];
    for (ssize_t r; from >= 0 && (r = ::read(from, buf, sizeof buf)) != 0;) {
      if (r > 0) keep_tail(said, buf, static_cast<std::size_t>(r));
      else if (errno != EINTR) break;
    }
  };
  for (;;) {
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2] = {{from, POLLIN, 0}, {to, POLLOUT, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(std::min<long long>(left, 10)));  // fd -1: not polled
    if (n <= 0) continue;
    if (to >= 0 && fds[1].revents) {
      const ssize_t w = ::write(to, state.data() + sent, state.size() - sent);
      if (w > 0) sent += static_cast<std::size_t>(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || sent == state.size()) {  // done, or it does not read (EPIPE)
        ::close(to);
        to = -1;
      }
    }
    if (from >= 0 && fds[0].revents) {
      char buf[4096];
      const ssize_t r = ::read(from, buf, sizeof buf);
      if (r > 0) keep_tail(said, buf, static_cast<std::size_t>(r));
      else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(from);
        from = -1;
      }
    }
  }
  if (timed_out) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  drain();
  if (to >= 0) ::close(to);
  if (from >= 0) ::close(from);
  const std::string tail = trimmed(said);
  const std::string output = tail.empty() ? "" : ": " + tail;
  if (timed_out) throw HookError(who + ": did not end within " + std::to_string(limit.count()) + " s (killed)" + output);
  if (WIFSIGNALED(status)) throw HookError(who + ": killed by signal " + std::to_string(WTERMSIG(status)) + output);
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    throw HookError(who + ": exited with status " + std::to_string(WEXITSTATUS(status)) + output);
}

// Runs `hooks` in order; the first that fails throws (prestart, createRuntime: create fails).
// `kind` names them ("prestart").
inline void run_hooks(const std::vector<Hook>& hooks, const std::string& kind, const std::string& state) {
  for (std::size_t i = 0; i < hooks.size(); ++i) run_hook(hooks[i], state, kind + "[" + std::to_string(i) + "]");
}

// Runs them all, whatever fails (poststart, poststop: the spec makes a failure a warning); the
// warnings, one per failed hook.
inline std::vector<std::string> run_hooks_warn(const std::vector<Hook>& hooks, const std::string& kind, const std::string& state) {
  std::vector<std::string> warnings;
  for (std::size_t i = 0; i < hooks.size(); ++i) {
    try {
      run_hook(hooks[i], state, kind + "[" + std::to_string(i) + "]");
    } catch (const std::exception& e) {
      warnings.push_back(e.what());
    }
  }
  return warnings;
}

}  // namespace crumble::oci
