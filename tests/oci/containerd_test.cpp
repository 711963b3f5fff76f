// SPDX-License-Identifier: Apache-2.0
// crumble-runtime under containerd 1.6: a private containerd started by the test (its own root,
// state, socket and config; the CRI plugin off), the runc shim v2 told to run crumble-runtime
// (`ctr run --runc-binary`, what a RuntimeClass's BinaryName does), an OCI archive made by podman
// imported with `ctr image import`. The oracles are containerd's: ctr's exit status, output and
// task states. Skipped (exit 4, saying why) without the guest kernel, QEMU, containerd or podman.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "fixtures.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using namespace crumble::test;

namespace {

// A containerd of the test's own, stopped (and its mounts gone) when the test ends.
class PrivateContainerd {
 public:
  explicit PrivateContainerd(const fs::path& dir) : dir_(dir) {
    fs::create_directories(dir);
    std::ofstream(dir / "config.toml") << "version = 2\n"
                                       << "root = \"" << (dir / "root").string() << "\"\n"
                                       << "state = \"" << (dir / "state").string() << "\"\n"
                                       << "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
                                       << "[grpc]\n  address = \"" << socket().string() << "\"\n"
                                       << "[ttrpc]\n  address = \"" << socket().string() << ".ttrpc\"\n";
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      const std::string log = (dir / "containerd.log").string();
      std::freopen(log.c_str(), "w", stdout);
      std::freopen(log.c_str(), "a", stderr);
      ::execlp("containerd", "containerd", "--config", (dir / "config.toml").c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // up when its socket answers; a containerd that exits says why in its log
    try {
      int st = 0;
      for (int i = 0; i < 600 && !fs::exists(socket()); ++i) {
        if (::waitpid(pid_, &st, WNOHANG) == pid_) {
          pid_ = -1;
          FAIL("containerd exited: " << shell("cat " + quoted(dir / "containerd.log")).text);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      const Output version = ctr("--timeout 10s version");
      INFO(shell("cat " + quoted(dir / "containerd.log")).text);
      REQUIRE(version.status == 0);
    } catch (...) {
      stop();
      throw;
    }
  }
  ~PrivateContainerd() { stop(); }
  PrivateContainerd(const PrivateContainerd&) = delete;
  PrivateContainerd& operator=(const PrivateContainerd&) = delete;

  fs::path socket() const { return dir_ / "containerd.sock"; }
  Output ctr(const std::string& args) const { return shell("ctr --address " + quoted(socket()) + " " + args); }

 private:
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int st = 0;
    for (int i = 0; i < 100 && ::waitpid(pid_, &st, WNOHANG) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (::waitpid(pid_, &st, WNOHANG) == 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
    }
    pid_ = -1;
    shell("grep -o ' " + dir_.string() + "[^ ]*' /proc/self/mounts | sort -r | xargs -r -n1 umount -l");
  }

  fs::path dir_;
  pid_t pid_ = -1;
};

}  // namespace

TEST_CASE("containerd: ctr run with crumble-runtime as the runc shim's binary: output, statuses, kill, task states") {
  (void)guest_kernel_or_skip();
  if (std::system("command -v containerd > /dev/null 2>&1 && command -v ctr > /dev/null 2>&1") != 0)
    skip("no containerd (apt-get install containerd)");
  podman_or_skip();  // podman makes the image
  const PodmanStore store;  // the image, and the private cache: containerd passes its environment to the shim and runtime
  const fs::path& work = store.w.path;
  const Output saved = store("save -q --format oci-archive -o " + quoted(work / "image.oci.tar") + " localhost/crumble-oci-test");
  INFO(saved.text);
  REQUIRE(saved.status == 0);
  const PrivateContainerd containerd(work / "containerd");
  const Output imported = containerd.ctr("image import " + quoted(work / "image.oci.tar"));
  INFO(imported.text);
  REQUIRE(imported.status == 0);
  const std::string runtime = "--runc-binary " + quoted(CRUMBLE_RUNTIME) + " --runc-root " + quoted(work / "runtime-state") + " ";
  const std::string image = " localhost/crumble-oci-test:latest ";

  struct Case {
    std::string what, command;
    int status;
    std::string out;  // exactly, or (when it starts with '~') contained
  };
  const std::vector<Case> cases = {
      {"output", "echo hello from crumble", 0, "hello from crumble\n"},
      {"exit 42", "sh -c 'echo before; exit 42'", 42, "before\n"},
      {"killed by SIGKILL: 137", "sh -c 'kill -9 $$'", 137, ""},
      {"the guest's kernel", "uname -r", 0, "~-cloud-amd64"},
  };
  int n = 0;
  for (const Case& c : cases) {
    const Output o = containerd.ctr("run --rm " + runtime + image + "run" + std::to_string(++n) + " " + c.command);
    INFO(c.what << ": status " << o.status << "\n" << o.text);
    CHECK(o.status == c.status);
    if (c.out.rfind('~', 0) == 0) CHECK_THAT(o.text, Contains(c.out.substr(1)));
    else CHECK(o.text == c.out);
  }

  {  // a detached task: RUNNING, then SIGTERM reaches its trap, STOPPED with its status
    // its output to a file (containerd's file:// log), so the test sees when the trap is set
    const fs::path log = work / "bg.log";
    const Output started = containerd.ctr("run -d --log-uri file://" + log.string() + " " + runtime + image +
                                          "bg sh -c 'trap \"echo got TERM; exit 3\" TERM; echo ready; while true; do sleep 0.1; done'");
    INFO(started.text);
    REQUIRE(started.status == 0);
    CHECK_THAT(containerd.ctr("task ls").text, Contains("RUNNING"));
    for (int i = 0; i < 400 && shell("cat " + quoted(log)).text.find("ready") == std::string::npos; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    REQUIRE_THAT(shell("cat " + quoted(log)).text, Contains("ready"));
    CHECK(containerd.ctr("task kill -s SIGTERM bg").status == 0);
    std::string tasks;
    for (int i = 0; i < 200; ++i) {
      tasks = containerd.ctr("task ls").text;
      if (tasks.find("STOPPED") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK_THAT(tasks, Contains("STOPPED"));
    CHECK_THAT(shell("cat " + quoted(log)).text, Contains("got TERM"));
    CHECK_THAT(containerd.ctr("task delete bg").text, Contains("exit code 3"));  // containerd's own words
    CHECK(containerd.ctr("container rm bg").status == 0);
  }
  CHECK(store.cache.root_images().empty());  // each container's root image went with it
}
