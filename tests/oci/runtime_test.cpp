// SPDX-License-Identifier: Apache-2.0
// crumble-runtime under its real callers: the OCI runtime-tools validation suite (its own bundles
// and its own checks, from inside the container) and podman 4.3 (`--runtime`). Oracles are theirs:
// TAP results, podman's exit status and output. Skipped (exit 4, saying why) without the guest
// kernel, QEMU, Go (to build the suite) or podman.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "../vm/guest_skip.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

struct Output {
  int status = -1;
  std::string text;
};

// Runs a shell command, its stdout and stderr together.
Output shell(const std::string& cmd) {
  Output o;
  std::FILE* f = ::popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(f != nullptr);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) o.text.append(buf, n);
  const int st = ::pclose(f);
  o.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return o;
}

void skip(const std::string& why) {
  std::printf("SKIPPED: %s\n", why.c_str());
  std::exit(4);
}

// The runtime's cache for this test alone: the user's cache is never touched (other tests check
// that, running alongside); only its kernels are used, through a symlink. Snapshots are made here
// on the first run. The suite passes XDG_CACHE_HOME on to the runtime; podman passes only HOME
// (and PATH) through conmon, so podman runs with `home()`.
struct PrivateCache {
  fs::path home = fs::temp_directory_path() / ("oci-home-" + std::to_string(::getpid()));
  fs::path dir = home / ".cache";
  PrivateCache() {
    const fs::path kernels = crumble::vm::cache_dir() / "kernels";
    fs::create_directories(dir / "crumble");
    fs::create_directory_symlink(kernels, dir / "crumble/kernels");
    ::setenv("XDG_CACHE_HOME", dir.c_str(), 1);
  }
  ~PrivateCache() {
    std::error_code ec;
    fs::remove_all(home, ec);
  }
  // The root images the runtime still keeps (each container's goes with it).
  std::vector<std::string> root_images() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir / "crumble/runtime/roots", ec)) out.push_back(e.path().filename().string());
    return out;
  }
};

// A directory removed however the test ends.
struct WorkDir {
  fs::path path;
  explicit WorkDir(fs::path p) : path(std::move(p)) { fs::create_directories(path); }
  ~WorkDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

TEST_CASE("runtime-tools: the lifecycle tests and what the container sees, as runc passes them here, pass for crumble-runtime") {
  (void)crumble::test::guest_kernel_or_skip();
  const fs::path validate = fs::path(CRUMBLE_OCI_DIR) / "validate.sh";
  if (!fs::exists(validate)) skip("no runtime-tools suite at " + validate.string());
  if (std::system("command -v go > /dev/null 2>&1") != 0) skip("no Go to build the runtime-tools suite (apt-get install golang-go)");
  const PrivateCache cache;
  // What each test must give: runc's figures here (../shared/oci/runc-baseline.txt). The root's
  // writes reach the bundle's root when the process ends (Container::copy_writes_to), so `start`,
  // which reads from the host a file the container wrote, is runc's 6 of 7. `killsig` is not yet
  // (0 of 3, runc 3): it sends the signal as soon as `state` says running, and the guest's sh,
  // emulated (TCG), has not yet set its `trap 'touch /SIG' SIG` then (measured: a kill 50 ms after
  // start kills sh before the trap, one 200 ms after finds it, and /SIG reaches the host). `delete`
  // (3 of 5): as runc, a created container may be deleted. What the container sees, checked by
  // the suite's runtimetest inside it: config.json's mounts in order, /dev's devices and symlinks,
  // linux.devices, sysctl, masked and read-only paths, a read-only root, hostname, user, oom_score_adj,
  // all as runc's figures. `mounts` (312 of 320, runc 320): its eight binds of the host's /etc
  // are virtio-fs volumes, whose mountinfo root is the share's "/", not "etc" (docs/oci-runtime.md).
  // The whole table: about 115 s here (2 cores, TCG).
  const std::map<std::string, std::pair<int, int>> want = {
      {"create", {4, 0}}, {"state", {3, 0}}, {"kill", {5, 0}}, {"kill_no_effect", {1, 0}}, {"killsig", {0, 3}},
      {"delete_only_create_resources", {1, 0}}, {"delete", {3, 2}}, {"start", {6, 1}},
      {"default", {309, 0}}, {"linux_devices", {327, 0}}, {"linux_masked_paths", {4, 0}}, {"linux_readonly_paths", {4, 0}},
      {"linux_sysctl", {309, 0}}, {"root_readonly_true", {310, 0}}, {"hostname", {4, 0}}, {"process", {311, 0}},
      {"process_user", {310, 0}}, {"process_oom_score_adj", {309, 0}}, {"mounts", {312, 8}},
  };
  std::string tests;
  for (const auto& [t, counts] : want) tests += " " + t;
  const Output o = shell("bash '" + validate.string() + "' '" + std::string(CRUMBLE_RUNTIME) + "'" + tests);
  INFO(o.text);
  REQUIRE(o.status == 0);
  for (const auto& [t, counts] : want) {
    std::ostringstream line;
    line << t << " ok=" << counts.first << " notok=" << counts.second << " ";
    CHECK_THAT(o.text, Contains(line.str()));
  }
  CHECK(cache.root_images().empty());  // each container's root image went with it
}

TEST_CASE("podman run --runtime crumble-runtime: output, exit statuses, a guest kernel") {
  (void)crumble::test::guest_kernel_or_skip();
  if (std::system("command -v podman > /dev/null 2>&1") != 0) skip("no podman (apt-get install podman)");
  const PrivateCache cache;
  // podman with a store of its own (removed with the test, the user's images untouched), and a
  // busybox root imported into it (offline)
  const WorkDir w(fs::temp_directory_path() / ("oci-test-" + std::to_string(::getpid())));
  const fs::path& work = w.path;
  const std::string podman = "HOME='" + cache.home.string() + "' podman --root '" + (work / "storage").string() + "' --runroot '" + (work / "run").string() + "' ";
  fs::create_directories(work / "root/bin");
  REQUIRE(shell("cp /bin/busybox '" + (work / "root/bin/").string() + "' && for c in sh echo true uname; do ln -s busybox '" +
                (work / "root/bin/").string() + "'$c; done && tar -C '" + (work / "root").string() + "' -cf '" +
                (work / "root.tar").string() + "' . && " + podman + "import -q '" + (work / "root.tar").string() + "' crumble-oci-test")
            .status == 0);
  const std::string run = podman + "--runtime '" + CRUMBLE_RUNTIME + "' run --rm --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 crumble-oci-test ";
  struct Case {
    std::string what, args;
    int status;
    std::string out;
  };
  const std::vector<Case> cases = {
      {"output", "echo hello from crumble", 0, "hello from crumble\n"},
      {"exit 1", "sh -c 'exit 1'", 1, ""},
      {"exit 42", "sh -c 'echo before; exit 42'", 42, "before\n"},
      {"killed by SIGKILL: 137", "sh -c 'kill -9 $$'", 137, ""},
      {"the guest's kernel, not the host's", "uname -r", 0, ""},
  };
  const std::string host_kernel = shell("uname -r").text;
  for (const Case& c : cases) {
    const Output o = shell(run + c.args);
    INFO(c.what << ": status " << o.status << "\n" << o.text);
    CHECK(o.status == c.status);
    if (c.what.rfind("the guest", 0) == 0) {
      CHECK_THAT(o.text, Contains("-cloud-amd64"));  // Debian's cloud kernel in the VM
      CHECK(o.text != host_kernel);
    } else {
      CHECK(o.text == c.out);
    }
  }
  // each container's root image went with it
  CHECK(cache.root_images().empty());
  shell(podman + "rmi -f crumble-oci-test");
}
