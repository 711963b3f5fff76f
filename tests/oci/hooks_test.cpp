// SPDX-License-Identifier: Apache-2.0
// oci/hooks.hpp: config.json's hooks run on the host as the OCI runtime spec says, checked with
// real small shell scripts (/bin/sh): what they receive (the state on stdin, args, exactly the
// env), a failing one reported, a hanging one killed with its process group at its timeout, and
// the hooks section's problems named by their JSON path. No VM.
#include <catch2/catch.hpp>
#include <crumble/oci/hooks.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using crumble::oci::Hook;
using crumble::oci::HookError;

namespace {

// A scratch directory for one case, removed at its end.
struct Scratch {
  fs::path dir;
  Scratch() {
    static int n = 0;
    dir = fs::temp_directory_path() / ("hooks-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::create_directories(dir);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  // An executable shell script `name` with `body`.
  std::string script(const std::string& name, const std::string& body) const {
    const fs::path p = dir / name;
    std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
    fs::permissions(p, fs::perms::owner_all);
    return p.string();
  }
  std::string read(const std::string& name) const {
    std::ifstream in(dir / name);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
};

Hook hook(const std::string& path, std::vector<std::string> args = {}, std::vector<std::string> env = {}, std::optional<int> timeout = {}) {
  Hook h;
  h.path = path;
  h.args = std::move(args);
  h.env = std::move(env);
  h.timeout = timeout;
  return h;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

const std::string state = R"({"ociVersion":"1.0.2","id":"c1","status":"created","pid":4242,"bundle":"/b"})";

}  // namespace

TEST_CASE("oci hooks: a hook gets the state on stdin, its args as argv and exactly its env") {
  Scratch s;
  const std::string d = s.dir.string();
  const std::string path = s.script("record", "cat > '" + d + "/state'; printf '%s|' \"$@\" > '" + d + "/args'; env | sort > '" + d + "/env'");
  crumble::oci::run_hook(hook(path, {"my-hook", "one", "two words"}, {"A=1", "B=x y"}), state, "prestart[0]");
  CHECK(s.read("state") == state);
  CHECK(s.read("args") == "one|two words|");  // (a script's $0 is its path, whatever argv[0] was)
  const std::string env = s.read("env");
  CHECK_THAT(env, Contains("A=1\n") && Contains("B=x y\n"));
  CHECK(env.find("HOME=") == std::string::npos);  // nothing of this process's environment
  CHECK(env.find("PATH=/") == std::string::npos);
  // without `env` at all: the runtime's own environment, as runc (Go's exec with a nil Env)
  ::setenv("CRUMBLE_HOOKS_TEST", "inherited", 1);
  Hook without_env = hook(path);
  without_env.env.reset();
  crumble::oci::run_hook(without_env, state, "prestart[1]");
  CHECK_THAT(s.read("env"), Contains("CRUMBLE_HOOKS_TEST=inherited\n") && Contains("PATH=/"));
  ::unsetenv("CRUMBLE_HOOKS_TEST");
  // no args: argv is the path alone
  crumble::oci::run_hook(hook(path), state, "prestart[0]");
  CHECK(s.read("args") == "|");
  // argv[0] is args[0]: busybox runs the applet it names
  crumble::oci::run_hook(hook("/bin/busybox", {"true"}), state, "prestart[0]");
  CHECK_THROWS_WITH(crumble::oci::run_hook(hook("/bin/busybox", {"false"}), state, "prestart[0]"), Contains("exited with status 1"));
}

TEST_CASE("oci hooks: a hook that fails is reported with its name, its status or signal, and what it said") {
  Scratch s;
  struct Row {
    std::string what, body, says;
  };
  const std::vector<Row> rows = {
      {"a non-zero status", "echo boom >&2; exit 3", "exited with status 3: boom"},
      {"killed by a signal", "kill -9 $$", "killed by signal 9"},
      {"output to stdout too", "echo half; exit 1", "exited with status 1: half"},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    const std::string path = s.script("fails", row.body);
    try {
      crumble::oci::run_hook(hook(path), state, "createRuntime[2]");
      FAIL("no error");
    } catch (const HookError& e) {
      CHECK_THAT(e.what(), Contains("createRuntime[2] " + path + ": " + row.says));
    }
  }
  CHECK_THROWS_WITH(crumble::oci::run_hook(hook((s.dir / "missing").string()), state, "prestart[0]"),
                    Contains("prestart[0] " + (s.dir / "missing").string() + ": exited with status 127: cannot be started: No such file"));
  const std::string data = s.script("data", "true");
  fs::permissions(data, fs::perms::owner_read);
  CHECK_THROWS_WITH(crumble::oci::run_hook(hook(data), state, "prestart[0]"), Contains("cannot be started: Permission denied"));
}

TEST_CASE("oci hooks: a hanging hook is killed at its timeout, with what it started") {
  Scratch s;
  const std::string d = s.dir.string();
  const std::string path = s.script("hangs", "sleep 30 & echo $! > '" + d + "/child'; echo waiting; wait");
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(crumble::oci::run_hook(hook(path, {}, {"PATH=/usr/bin:/bin"}, 1), state, "poststop[0]"),
                    Contains("poststop[0] " + path + ": did not end within 1 s (killed): waiting"));
  const double took = seconds_since(t0);
  CHECK(took >= 1.0);
  CHECK(took < 3.0);
  // the process group went with it: gone, or a zombie its new parent has not reaped
  const std::string child = "/proc/" + std::to_string(std::stoi(s.read("child"))) + "/stat";
  auto dead = [&] {
    std::ifstream in(child);
    std::string line;
    std::getline(in, line);
    const auto paren = line.rfind(')');
    return !in || paren == std::string::npos || line.substr(paren + 2, 1) == "Z";
  };
  for (int i = 0; i < 100 && !dead(); ++i) ::usleep(10000);
  CHECK(dead());
}

TEST_CASE("oci hooks: a hook that ends while something it started keeps its output open is done, one that reads no stdin is fine") {
  Scratch s;
  const std::string bg = s.script("bg", "sleep 2 & exit 0");
  auto t0 = std::chrono::steady_clock::now();
  crumble::oci::run_hook(hook(bg, {}, {"PATH=/usr/bin:/bin"}), state, "poststart[0]");
  CHECK(seconds_since(t0) < 1.5);
  // 4 MiB of state to a hook that never reads it: no SIGPIPE here, the hook's status counts
  const std::string deaf = s.script("deaf", "exit 0");
  t0 = std::chrono::steady_clock::now();
  crumble::oci::run_hook(hook(deaf), std::string(4 << 20, 's'), "prestart[0]");
  CHECK(seconds_since(t0) < 2.0);
}

TEST_CASE("oci hooks: run_hooks stops at the first failure, run_hooks_warn runs them all and says which failed") {
  Scratch s;
  const std::string d = s.dir.string();
  const std::vector<Hook> hooks = {hook(s.script("a", "echo a >> '" + d + "/ran'")), hook(s.script("b", "echo b >> '" + d + "/ran'; exit 5")),
                                   hook(s.script("c", "echo c >> '" + d + "/ran'"))};
  CHECK_THROWS_WITH(crumble::oci::run_hooks(hooks, "prestart", state), Contains("prestart[1] ") && Contains("exited with status 5"));
  CHECK(s.read("ran") == "a\nb\n");
  fs::remove(s.dir / "ran");
  const std::vector<std::string> warnings = crumble::oci::run_hooks_warn(hooks, "poststop", state);
  CHECK(s.read("ran") == "a\nb\nc\n");
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0], Contains("poststop[1] ") && Contains("exited with status 5"));
}

TEST_CASE("oci hooks: config.json's hooks section read, and its problems named by their JSON path") {
  const auto h = crumble::oci::parse_hooks(nlohmann::json::parse(R"({
      "prestart":[{"path":"/bin/a","args":["a","1"],"env":["X=1"],"timeout":5}],
      "createRuntime":[{"path":"/bin/b"}], "poststart":[{"path":"/bin/c"},{"path":"/bin/d"}], "poststop":[{"path":"/bin/e"}],
      "createContainer":[{"path":"/bin/f"}], "startContainer":[{"path":"/bin/g"}]})"));
  REQUIRE(h.prestart.size() == 1);
  CHECK(h.prestart[0].path == "/bin/a");
  CHECK(h.prestart[0].args == std::vector<std::string>{"a", "1"});
  CHECK(h.prestart[0].env == std::vector<std::string>{"X=1"});
  CHECK(h.prestart[0].timeout == 5);
  CHECK(h.create_runtime.size() == 1);
  CHECK(!h.create_runtime[0].timeout);
  CHECK(h.poststart.size() == 2);
  CHECK(h.poststop.size() == 1);
  CHECK(h.create_container.size() == 1);
  CHECK(h.start_container.size() == 1);
  CHECK(crumble::oci::parse_hooks(nlohmann::json()).prestart.empty());

  struct Row {
    std::string json, says;
  };
  const std::vector<Row> rows = {
      {"[]", "hooks: expected an object"},
      {R"({"prestart":{}})", "hooks.prestart: expected an array"},
      {R"({"prestart":[7]})", "hooks.prestart[0]: expected an object"},
      {R"({"poststop":[{"args":[]}]})", "hooks.poststop[0].path: missing"},
      {R"({"poststop":[{"path":"rel/x"}]})", "hooks.poststop[0].path: \"rel/x\" is not absolute"},
      {R"({"poststart":[{"path":"/x","args":["a",1]}]})", "hooks.poststart[0].args[1]: expected a string"},
      {R"({"createRuntime":[{"path":"/x","env":"A=1"}]})", "hooks.createRuntime[0].env: expected an array"},
      {R"({"prestart":[{"path":"/x","timeout":0}]})", "hooks.prestart[0].timeout: expected whole seconds"},
      {R"({"prestart":[{"path":"/x","timeout":1.5}]})", "hooks.prestart[0].timeout: expected whole seconds"},
  };
  for (const Row& row : rows) {
    INFO(row.json);
    CHECK_THROWS_WITH(crumble::oci::parse_hooks(nlohmann::json::parse(row.json)), Contains(row.says));
  }
}
