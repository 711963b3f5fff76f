// SPDX-License-Identifier: Apache-2.0
// tests/oci/fixtures.hpp — what the tests that drive crumble-runtime through its real callers
// share: a shell, a private crumble cache, a work directory removed however the test ends, and a
// busybox image made by podman in a store of the test's own.
#pragma once

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
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
// podman passes only HOME (and PATH) through conmon, so podman runs with HOME=`home`.
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

// podman with a store of its own under `work` (the user's images untouched), HOME pointing at the
// private cache, and `crumble-oci-test`: a busybox root (sh, echo, true, uname, sleep) imported
// into that store, offline.
struct PodmanStore {
  std::string podman;  // "HOME=... podman --root ... --runroot ... "
  PodmanStore(const fs::path& work, const PrivateCache& cache) {
    podman = "HOME=" + quoted(cache.home) + " podman --root " + quoted(work / "storage") + " --runroot " + quoted(work / "run") + " ";
    const fs::path bin = work / "image/bin";
    fs::create_directories(bin);
    std::string links;
    for (const char* applet : {"sh", "echo", "true", "uname", "sleep", "cat", "kill"}) links += std::string(" ") + applet;
    const Output o = shell("cp /bin/busybox " + quoted(bin) + " && cd " + quoted(bin) + " && for c in" + links +
                           "; do ln -s busybox $c; done && tar -C " + quoted(work / "image") + " -cf " + quoted(work / "image.tar") +
                           " . && " + podman + "import -q " + quoted(work / "image.tar") + " localhost/crumble-oci-test");
    INFO(o.text);
    REQUIRE(o.status == 0);
  }
  ~PodmanStore() { shell(podman + "rmi -f localhost/crumble-oci-test"); }
  PodmanStore(const PodmanStore&) = delete;
  PodmanStore& operator=(const PodmanStore&) = delete;
};

}  // namespace crumble::test
