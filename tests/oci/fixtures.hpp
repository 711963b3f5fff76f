// SPDX-License-Identifier: Apache-2.0
// tests/oci/fixtures.hpp — what the tests that drive crumble-runtime through its real callers
// share: a shell, a private crumble cache, a work directory removed however the test ends, and
// podman with a store of the test's own holding a busybox image. Needs CRUMBLE_RUNTIME defined.
#pragma once

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../vm/guest_skip.hpp"

namespace crumble::test {

namespace fs = std::filesystem;

struct Output {
  int status = -1;
  std::string text;
};

// Runs a shell command, its stdout and stderr together.
inline Output shell(const std::string& cmd) {
  Output o;
  std::FILE* f = ::popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(f != nullptr);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) o.text.append(buf, n);
  const int st = ::pclose(f);
  o.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return o;
}

[[noreturn]] inline void skip(const std::string& why) {
  std::printf("SKIPPED: %s\n", why.c_str());
  std::exit(4);
}

inline std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

// The runtime's cache for this test alone: the user's cache is never touched (other tests check
// that, running alongside); only its kernels are used, through a symlink. Snapshots are made here
// on the first run. The runtime-tools suite and containerd pass XDG_CACHE_HOME on to the runtime;
// podman passes only HOME (and PATH) through conmon, so podman runs with HOME=`home`. The
// variable is put back at the end, so the next test case in the process finds the kernels.
struct PrivateCache {
  fs::path home = fs::temp_directory_path() / ("oci-home-" + std::to_string(::getpid()));
  fs::path dir = home / ".cache";
  std::optional<std::string> before;
  PrivateCache() {
    const fs::path kernels = crumble::vm::cache_dir() / "kernels";
    fs::create_directories(dir / "crumble");
    fs::create_directory_symlink(kernels, dir / "crumble/kernels");
    if (const char* v = std::getenv("XDG_CACHE_HOME")) before = v;
    ::setenv("XDG_CACHE_HOME", dir.c_str(), 1);
  }
  ~PrivateCache() {
    if (before) ::setenv("XDG_CACHE_HOME", before->c_str(), 1);
    else ::unsetenv("XDG_CACHE_HOME");
    std::error_code ec;
    fs::remove_all(home, ec);
  }
  PrivateCache(const PrivateCache&) = delete;
  PrivateCache& operator=(const PrivateCache&) = delete;
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
  explicit WorkDir(const std::string& name) : path(fs::temp_directory_path() / (name + "-" + std::to_string(::getpid()))) {
    fs::create_directories(path);
  }
  ~WorkDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
};

// podman with a store of its own (removed with the test, the user's images untouched), the
// runtime's private cache, and `crumble-oci-test`: a busybox root imported as an image (offline).
// `run_d` starts a container in the background whose process traps TERM and USR1 and says so.
struct PodmanStore {
  PrivateCache cache;
  WorkDir w{"oci-test"};
  std::string podman;  // "HOME=... podman --root ... --runroot ... --runtime crumble-runtime "
  PodmanStore() {
    podman = "HOME=" + quoted(cache.home) + " podman --root " + quoted(w.path / "storage") + " --runroot " + quoted(w.path / "run") +
             " --runtime " + quoted(CRUMBLE_RUNTIME) + " ";
    const fs::path bin = w.path / "root/bin";
    fs::create_directories(bin);
    const Output o = shell("cp /bin/busybox " + quoted(bin) + " && cd " + quoted(bin) +
                           " && for c in sh echo true uname sleep cat stty tty kill id; do ln -s busybox $c; done && tar -C " +
                           quoted(w.path / "root") + " -cf " + quoted(w.path / "root.tar") + " . && " + podman + "import -q " +
                           quoted(w.path / "root.tar") + " crumble-oci-test");
    INFO(o.text);
    REQUIRE(o.status == 0);
  }
  ~PodmanStore() {
    shell(podman + "rm -a -f");
    shell(podman + "rmi -f crumble-oci-test");
  }
  PodmanStore(const PodmanStore&) = delete;
  PodmanStore& operator=(const PodmanStore&) = delete;
  Output operator()(const std::string& args) const { return shell(podman + args); }
  static constexpr const char* limits = "--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 ";
  void run_d(const std::string& name) const {
    const Output o = shell(podman + "run -d --name " + name + " " + limits +
                           "crumble-oci-test sh -c \"trap 'echo got TERM; exit 0' TERM; trap 'echo got USR1' USR1; echo up; "
                           "while true; do sleep 0.1; done\"");
    INFO(o.text);
    REQUIRE(o.status == 0);
  }
  std::string status(const std::string& name) const {
    std::string t = shell(podman + "inspect -f '{{.State.Status}}' " + name).text;
    while (!t.empty() && t.back() == '\n') t.pop_back();
    return t;
  }
  // Waits until `podman logs` shows `text`.
  bool logs_show(const std::string& name, const std::string& text) const {
    for (int i = 0; i < 50; ++i, std::this_thread::sleep_for(std::chrono::milliseconds(100)))
      if (shell(podman + "logs " + name).text.find(text) != std::string::npos) return true;
    return false;
  }
};

inline void podman_or_skip() {
  (void)guest_kernel_or_skip();
  if (std::system("command -v podman > /dev/null 2>&1") != 0) skip("no podman (apt-get install podman)");
}

}  // namespace crumble::test
