// SPDX-License-Identifier: Apache-2.0
// crumble-runtime under its real callers: the OCI runtime-tools validation suite (its own bundles
// and its own checks, from inside the container) and podman 4.3 (`--runtime`). Oracles are theirs:
// TAP results, podman's exit status and output. Skipped (exit 4, saying why) without the guest
// kernel, QEMU, Go (to build the suite) or podman.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "../tmux.hpp"
#include "fixtures.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using namespace std::chrono_literals;
using namespace crumble::test;

namespace {
// BUNDLE/rootfs/bin holding busybox and these applets (space-separated) as links to it.
void busybox_rootfs(const fs::path& bundle, const std::string& applets) {
  const fs::path bin = bundle / "rootfs/bin";
  fs::create_directories(bin);
  REQUIRE(shell("cp /bin/busybox '" + bin.string() + "/' && for c in " + applets + "; do ln -sf busybox '" + bin.string() + "/'$c; done").status == 0);
}
}  // namespace

TEST_CASE("runtime-tools: the lifecycle tests and what the container sees, as runc passes them here, pass for crumble-runtime") {
  (void)crumble::test::guest_kernel_or_skip();
  const fs::path validate = fs::path(CRUMBLE_OCI_DIR) / "validate.sh";
  if (!fs::exists(validate)) skip("no runtime-tools suite at " + validate.string());
  if (std::system("command -v go > /dev/null 2>&1") != 0) skip("no Go to build the runtime-tools suite (apt-get install golang-go)");
  const PrivateCache cache;
  // What each test must give: runc's figures here (../shared/oci/runc-baseline.txt). The root's
  // writes reach the bundle's root when the process ends (Container::copy_writes_to), so `start`,
  // which reads from the host a file the container wrote, is runc's 6 of 7. `killsig` sends
  // its signal as soon as `state` says running, when the guest's sh, emulated (TCG), has not yet
  // set its `trap 'touch /SIG' SIG`: it passes (3 of 3, as runc) because the monitor holds a signal
  // until the guest has settled after the start (Relay::hold_main_signals; without it 0 of 3). `delete`
  // (3 of 5): as runc, a created container may be deleted. What the container sees, checked by
  // the suite's runtimetest inside it: config.json's mounts in order, /dev's devices and symlinks,
  // linux.devices, sysctl, masked and read-only paths, a read-only root, hostname, user, oom_score_adj,
  // all as runc's figures, `mounts` included: its eight binds of the host's /etc are virtio-fs
  // volumes, each bound from a share that holds the directory as "etc", so that the mount's root
  // in mountinfo is /etc as runtimetest wants (docs/oci-runtime.md). Like every test that runs runtimetest in the container,
  // it gives the container 10 s from `start` to stopped (measured 2.3 s at load 9; a cold boot
  // with its eight shares, before the start, is not counted), or fails whole without a TAP plan.
  // The whole table: about 110 s here (2 cores, TCG).
  const std::map<std::string, std::pair<int, int>> want = {
      {"create", {4, 0}}, {"state", {3, 0}}, {"kill", {5, 0}}, {"kill_no_effect", {1, 0}}, {"killsig", {3, 0}},
      {"delete_only_create_resources", {1, 0}}, {"delete", {3, 2}}, {"start", {6, 1}},
      {"default", {309, 0}}, {"linux_devices", {327, 0}}, {"linux_masked_paths", {4, 0}}, {"linux_readonly_paths", {4, 0}},
      {"linux_sysctl", {309, 0}}, {"root_readonly_true", {310, 0}}, {"hostname", {4, 0}}, {"process", {311, 0}},
      {"process_user", {310, 0}}, {"mounts", {320, 0}}, {"process_oom_score_adj", {309, 0}}, {"hooks_stdin", {3, 0}},
      {"linux_uid_mappings", {312, 0}},
  };
  // The suite copies its runtimetest, as built, into each bundle's root. Built under a umask such
  // as 077 it is 0700 and the host root's, and `linux_uid_mappings`' container root (host uid 1000)
  // cannot run it, with runc as with us: no TAP plan. So the suite is built into this build tree
  // (RT_DIR), under umask 022, whatever a shared copy in /tmp holds, and a copy of ours that others
  // cannot run is built again.
  const fs::path suite = CRUMBLE_OCI_SUITE_DIR;
  if (fs::exists(suite / "runtimetest") &&
      (fs::status(suite / "runtimetest").permissions() & fs::perms::others_exec) == fs::perms::none)
    fs::remove_all(suite);
  std::string tests;
  for (const auto& [t, counts] : want) tests += " " + t;
  const Output o = shell("umask 022 && RT_DIR='" + suite.string() + "' bash '" + validate.string() + "' '" +
                         std::string(CRUMBLE_RUNTIME) + "'" + tests);
  INFO(o.text);
  REQUIRE(o.status == 0);
  const std::string text = "\n" + o.text;
  for (const auto& [t, counts] : want) {
    // this test's line, alone, so that a failure names it
    const std::size_t at = text.find("\n" + t + " ok=");
    const std::string got = at == std::string::npos ? "(no line)" : text.substr(at + 1, text.find('\n', at + 1) - at - 1);
    std::ostringstream line;
    line << t << " ok=" << counts.first << " notok=" << counts.second << " rc=";
    CHECK_THAT(got, Catch::Matchers::StartsWith(line.str()));
  }
  CHECK(cache.root_images().empty());  // each container's root image went with it
}

TEST_CASE("podman run --runtime crumble-runtime: output, exit statuses, a guest kernel") {
  podman_or_skip();
  const PodmanStore podman;
  const std::string run = podman.podman + "run --rm " + PodmanStore::limits + "crumble-oci-test ";
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
      {"a command the image lacks: 127, said on stderr", "no-such-command", 127, "crumble-runtime: no-such-command: command not found\n"},
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
  {
    INFO("--shm-size: podman's shm directory (a host tmpfs) cannot be shared with a VM; the guest's own /dev/shm gets its size");
    const Output o = shell(podman.podman + "run --rm " + PodmanStore::limits + "--shm-size 10m crumble-oci-test cat /proc/mounts");
    INFO(o.text);
    CHECK(o.status == 0);
    CHECK_THAT(o.text, Contains("shm /dev/shm tmpfs ") && Contains(",size=10240k"));
  }
  CHECK(podman.cache.root_images().empty());  // each container's root image went with it
}

TEST_CASE("podman run -d then exec and kill and pause and stop: a running container's life") {
  podman_or_skip();
  const PodmanStore podman;
  podman.run_d("life");
  CHECK(podman.status("life") == "running");
  CHECK(podman.logs_show("life", "up\n"));
  struct Exec {
    std::string what, options, args;
    int status;
    std::string out;
  };
  const std::vector<Exec> execs = {
      {"output", "", "echo hello from exec", 0, "hello from exec\n"},
      {"status 3", "", "sh -c 'echo three; exit 3'", 3, "three\n"},
      {"stdin (-i)", "-i", "cat < /etc/hostname", 0, shell("cat /etc/hostname").text},
      {"killed by a signal: 137", "", "sh -c 'kill -9 $$'", 137, ""},
      {"a command the image lacks: 127", "", "no-such-command", 127, ""},
      {"its own environment (-e)", "-e WHO=exec", "sh -c 'echo $WHO'", 0, "exec\n"},
      {"its own working directory (-w)", "-w /tmp", "sh -c pwd", 0, "/tmp\n"},
      {"its own user (-u)", "-u 1000:1001", "sh -c 'echo $(id -u):$(id -g)'", 0, "1000:1001\n"},
  };
  for (const Exec& e : execs) {
    const Output o = podman("exec " + e.options + " life " + e.args);
    INFO(e.what << ": status " << o.status << "\n" << o.text);
    CHECK(o.status == e.status);
    if (e.status != 127) CHECK(o.text == e.out);
  }
  {
    INFO("podman kill -s USR1 reaches the process, which goes on");
    CHECK(podman("kill -s USR1 life").status == 0);
    CHECK(podman.logs_show("life", "got USR1"));
    CHECK(podman.status("life") == "running");
  }
  {
    INFO("paused, an exec is refused; unpaused, it runs");
    REQUIRE(podman("pause life").status == 0);
    CHECK(podman.status("life") == "paused");
    const Output refused = podman("exec life echo no");
    CHECK(refused.status != 0);
    REQUIRE(podman("unpause life").status == 0);
    CHECK(podman.status("life") == "running");
    CHECK(podman("exec life echo yes").text == "yes\n");
  }
  {
    INFO("podman stop: SIGTERM, which the trap takes, and the container exits 0");
    const Output o = podman("stop -t 20 life");
    INFO(o.text);
    CHECK(o.status == 0);
    CHECK(podman.logs_show("life", "got TERM"));
    CHECK(podman.status("life") == "exited");
    CHECK(podman("inspect -f '{{.State.ExitCode}}' life").text == "0\n");
  }
  {
    const Output o = podman("exec life echo no");
    INFO("an exec into a stopped container fails: " << o.text);
    CHECK(o.status != 0);
  }
  CHECK(podman("rm life").status == 0);
  CHECK(podman.cache.root_images().empty());
}

TEST_CASE("podman exec: three exec'd processes at once and a fourth refused by name, rm -f ends them all") {
  podman_or_skip();
  const PodmanStore podman;
  podman.run_d("busy");
  for (int i = 0; i < 3; ++i) {
    const Output o = podman("exec -d busy sleep 600");
    INFO(o.text);
    REQUIRE(o.status == 0);
  }
  const Output fourth = podman("exec busy echo fourth");
  INFO(fourth.text);
  CHECK(fourth.status != 0);
  CHECK_THAT(fourth.text, Contains("at most 4 processes at once"));
  CHECK(podman("rm -f -t 0 busy").status == 0);
  CHECK(podman("ps -a -q").text.empty());
  CHECK(podman.cache.root_images().empty());
}

TEST_CASE("podman run -it and exec -it under tmux: a prompt and output and the pane's size and Ctrl-C and the exit status") {
  podman_or_skip();
  if (std::system("command -v tmux > /dev/null 2>&1") != 0) skip("no tmux (apt-get install tmux)");
  const PodmanStore podman;
  const Tmux t;
  const std::string run = podman.podman + "run -it --rm " + PodmanStore::limits + "crumble-oci-test sh";
  REQUIRE(t.cmd("new-session -d -s run -x 100 -y 30 \"" + run + "; echo EXIT=\\$?; sleep 60\"") == 0);
  {
    const bool prompt = t.wait_for("run", "/ #");
    INFO("the pane:\n" << t.capture("run"));
    REQUIRE(prompt);
  }
  struct Step {
    std::string what, keys, shows;
  };
  const std::vector<Step> steps = {
      {"a command's output", "'echo hello-$((6*7))' Enter", "hello-42"},
      {"a tty", "'tty' Enter", "/dev/pts/0"},
      {"stty size is the pane's", "'stty size' Enter", "30 100"},
      {"sleep in the foreground", "'sleep 100; echo slept' Enter", "sleep 100; echo slept"},
      {"Ctrl-C interrupts it and the shell survives", "C-c 'echo survived-$((1+1))' Enter", "survived-2"},
      {"exit 4 gives 4", "'exit 4' Enter", "EXIT=4"},
  };
  // each step's keys into the session, then what the pane must show
  auto play = [&](const std::string& session, const std::vector<Step>& list) {
    for (const Step& s : list) {
      t.keys(session, s.keys);
      const bool shown = t.wait_for(session, s.shows, 15s);
      INFO(s.what << "\n" << t.capture(session));
      CHECK(shown);
      std::this_thread::sleep_for(300ms);
    }
  };
  play("run", steps);
  podman.run_d("host");
  REQUIRE(t.cmd("new-session -d -s exec -x 90 -y 25 \"" + podman.podman + "exec -it host sh; echo EXIT=\\$?; sleep 60\"") == 0);
  REQUIRE(t.wait_for("exec", "/ #"));
  const std::vector<Step> exec_steps = {
      {"exec -it: output", "'echo exec-$((2*21))' Enter", "exec-42"},
      {"the pane's size", "'stty size' Enter", "25 90"},
  };
  play("exec", exec_steps);
  {
    INFO("a resize of the pane reaches the exec'd shell\n" << t.capture("exec"));
    REQUIRE(t.cmd("resize-window -t exec -x 70 -y 20") == 0);
    std::this_thread::sleep_for(600ms);
    t.keys("exec", "'stty size' Enter");
    CHECK(t.wait_for("exec", "20 70", 15s));
  }
  t.keys("exec", "'exit 6' Enter");
  INFO(t.capture("exec"));
  CHECK(t.wait_for("exec", "EXIT=6", 15s));
  CHECK(podman.status("host") == "running");  // the exec'd shell's end is not the container's
}

TEST_CASE("crumble-runtime exec and ps and kill and update called directly: statuses and signals and bad input") {
  (void)crumble::test::guest_kernel_or_skip();
  const PrivateCache cache;
  const WorkDir w(fs::temp_directory_path() / ("oci-direct-" + std::to_string(::getpid())));
  const fs::path bundle = w.path / "bundle";
  busybox_rootfs(bundle, "sh echo sleep cat");
  // the process traps SIGPWR and SIGRTMIN+3 (an image's STOPSIGNAL): the monitor passes every
  // catchable signal on, not only the common ones
  {
    std::ofstream config(bundle / "config.json");
    config << R"({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"cwd": "/", "env": ["PATH=/bin"], "args": ["sh", "-c",
      "trap 'echo got PWR' PWR; trap 'echo got 37; exit 9' 37; echo up; while true; do sleep 0.1; done"]}})";
  }
  const std::string rt = std::string(CRUMBLE_RUNTIME) + " --root '" + (w.path / "state").string() + "' ";
  const fs::path out = w.path / "out";
  {
    INFO("exec into a container that does not exist");
    const Output o = shell(rt + "exec nosuch echo hi");
    CHECK(o.status != 0);
    CHECK_THAT(o.text, Contains("does not exist"));
  }
  // (the monitor and the exec process keep the stdio they are given: not popen's pipe)
  REQUIRE(shell(rt + "create --bundle '" + bundle.string() + "' direct > '" + out.string() + "' 2>&1").status == 0);
  {
    const Output o = shell(rt + "exec direct echo hi");
    INFO("exec into a created container, not yet started: " << o.text);
    CHECK(o.status != 0);
    CHECK_THAT(o.text, Contains("cannot exec in a created container"));
  }
  REQUIRE(shell(rt + "start direct").status == 0);
  const Output exec_d = shell(rt + "exec -d --pid-file '" + (w.path / "exec.pid").string() + "' direct sleep 600 > /dev/null 2>&1");
  REQUIRE(exec_d.status == 0);
  std::string exec_pid;
  std::ifstream(w.path / "exec.pid") >> exec_pid;
  {
    const Output ps = shell(rt + "ps --format json direct");
    const std::string monitor = shell("cat '" + (w.path / "state/direct/state.json").string() + "' | sed -n 's/.*\"pid\": \\([0-9]*\\).*/\\1/p'").text;
    INFO("ps lists the monitor and the exec process: " << ps.text << " monitor " << monitor << " exec " << exec_pid);
    CHECK(ps.text == "[" + monitor.substr(0, monitor.size() - 1) + "," + exec_pid + "]\n");
  }
  {
    INFO("the exec process ends with its process: SIGTERM to it ends the guest's sleep, and it exits as killed by SIGTERM");
    CHECK(shell("kill -TERM " + exec_pid).status == 0);
    bool gone = false;
    for (int i = 0; i < 50 && !gone; ++i, std::this_thread::sleep_for(100ms)) gone = shell("kill -0 " + exec_pid).status != 0;
    CHECK(gone);
  }
  {
    INFO("update is accepted and changes nothing");
    CHECK(shell("echo '{\"memory\": {\"limit\": 1000000}}' | " + rt + "update --resources - direct").status == 0);
  }
  CHECK(shell(rt + "exec direct sh -c 'exit 5'").status == 5);
  CHECK(shell(rt + "kill direct PWR").status == 0);
  CHECK(shell(rt + "kill direct RTMIN+3").status == 0);
  bool stopped = false;
  for (int i = 0; i < 100 && !stopped; ++i, std::this_thread::sleep_for(100ms))
    stopped = shell(rt + "state direct").text.find("\"stopped\"") != std::string::npos;
  CHECK(stopped);
  const Output log = shell("cat '" + out.string() + "'");
  CHECK(log.text == "up\ngot PWR\ngot 37\n");
  {
    const Output o = shell(rt + "exec direct echo hi");
    INFO("exec into a stopped container: " << o.text);
    CHECK(o.status != 0);
    CHECK_THAT(o.text, Contains("cannot exec in a stopped container"));
  }
  CHECK(shell(rt + "delete direct").status == 0);
}

TEST_CASE("crumble-runtime with linux.uidMappings: the process and an exec'd one in the container's user namespace, a volume's files owned by the mapped ids") {
  (void)crumble::test::guest_kernel_or_skip();
  const PrivateCache cache;
  const WorkDir w(fs::temp_directory_path() / ("oci-userns-" + std::to_string(::getpid())));
  const fs::path bundle = w.path / "bundle";
  busybox_rootfs(bundle, "sh cat sleep touch id");
  fs::create_directories(w.path / "data");
  fs::permissions(w.path / "data", fs::perms::all);
  {
    std::ofstream config(bundle / "config.json");
    config << R"({"ociVersion": "1.0.2", "root": {"path": "rootfs"},
      "process": {"cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 7, "gid": 8},
                  "args": ["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; touch /data/by-main; sleep 600"]},
      "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                 {"destination": "/data", "type": "bind", "source": ")" + (w.path / "data").string() + R"(", "options": ["rbind"]}],
      "linux": {"namespaces": [{"type": "mount"}, {"type": "user"}],
                "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 2000}],
                "gidMappings": [{"containerID": 0, "hostID": 3000, "size": 2000}]}})";
  }
  const std::string rt = std::string(CRUMBLE_RUNTIME) + " --root '" + (w.path / "state").string() + "' ";
  const fs::path out = w.path / "out";
  REQUIRE(shell(rt + "create --bundle '" + bundle.string() + "' userns > '" + out.string() + "' 2>&1").status == 0);
  REQUIRE(shell(rt + "start userns").status == 0);
  // the kernel prints each map's numbers right-aligned: compare them as words
  auto words = [](const std::string& s) {
    std::istringstream in(s);
    std::string all, word;
    while (in >> word) all += word + " ";
    return all;
  };
  const std::string want = "0 1000 2000 0 3000 2000 ";
  // (the output reaches the file through the guest's rings and the monitor: it may come after the
  // volume's file)
  std::string said;
  for (int i = 0; i < 100 && said != want + "7 8 "; ++i, std::this_thread::sleep_for(100ms)) said = words(shell("cat '" + out.string() + "'").text);
  CHECK(said == want + "7 8 ");
  REQUIRE(fs::exists(w.path / "data/by-main"));
  // an exec'd process joins the namespace: same maps, its own ids mapped the same way
  const Output exec = shell(rt + "exec --user 9:9 userns sh -c 'cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /data/by-exec'");
  INFO(exec.text);
  CHECK(exec.status == 0);
  CHECK(words(exec.text) == want + "9 ");
  // as the host sees the volume: the guest's ids the namespace maps them to
  auto owner = [](const fs::path& f) {
    struct stat st {};
    REQUIRE(::stat(f.c_str(), &st) == 0);
    return std::pair<std::uint32_t, std::uint32_t>{st.st_uid, st.st_gid};
  };
  CHECK(owner(w.path / "data/by-main") == std::pair<std::uint32_t, std::uint32_t>{1007, 3008});
  CHECK(owner(w.path / "data/by-exec") == std::pair<std::uint32_t, std::uint32_t>{1009, 3009});
  CHECK(shell(rt + "delete --force userns").status == 0);
}

TEST_CASE("podman run --uidmap with crumble-runtime: the container's root is the mapped id, owns the root podman chowned, writes as it") {
  podman_or_skip();
  const PodmanStore podman;
  const WorkDir w(fs::temp_directory_path() / ("oci-podman-userns-" + std::to_string(::getpid())));
  fs::create_directories(w.path / "vol");
  fs::permissions(w.path / "vol", fs::perms::all);
  // podman chowns a copy of the image to the map and passes the maps in config.json (a user
  // namespace): inside, the root's files are root's again (its own root directory too: the
  // overlay's upper directory takes the image root's owner), the volume's new file is 100000's
  const Output o = podman("run --rm --network none " + std::string(PodmanStore::limits) + "--uidmap 0:100000:65536 --gidmap 0:200000:65536 -v '" +
                          (w.path / "vol").string() + ":/vol' crumble-oci-test sh -c "
                          "'cat /proc/self/uid_map /proc/self/gid_map; stat -c \"%u %g\" /bin/busybox /; touch /made && echo root-written; "
                          "touch /vol/f && echo vol-written'");
  INFO(o.text);
  CHECK(o.status == 0);
  std::istringstream in(o.text);
  std::string all, word;
  while (in >> word) all += word + " ";
  CHECK(all == "0 100000 65536 0 200000 65536 0 0 0 0 root-written vol-written ");
  struct stat st {};
  REQUIRE(::stat((w.path / "vol/f").c_str(), &st) == 0);
  CHECK(st.st_uid == 100000u);
  CHECK(st.st_gid == 200000u);
}

TEST_CASE("podman run with a volume, a user, a working directory and an environment, and the root's writes in podman diff") {
  podman_or_skip();
  const PodmanStore podman;
  const fs::path data = podman.w.path / "data";
  fs::create_directories(data);
  std::ofstream(data / "in") << "from the host\n";
  fs::permissions(data, fs::perms::all);  // the user 1000 writes there
  // a directory volume is shared live (virtio-fs): this container boots cold
  const Output o = podman("run --rm " + std::string(PodmanStore::limits) + "-v " + data.string() +
                          ":/data --user 1000:1000 --workdir /data --env WHO=podman crumble-oci-test "
                          "sh -c 'cat in; echo $WHO; id -u; pwd; echo from the guest > out'");
  INFO(o.text);
  CHECK(o.status == 0);
  CHECK(o.text == "from the host\npodman\n1000\n/data\n");
  CHECK(shell("cat " + quoted(data / "out")).text == "from the guest\n");
  CHECK(shell("stat -c %u " + quoted(data / "out")).text == "1000\n");

  const Output ro = podman("run --rm " + std::string(PodmanStore::limits) + "-v " + data.string() +
                           ":/data:ro crumble-oci-test sh -c 'echo no > /data/no'");
  INFO(ro.text);
  CHECK(ro.status != 0);
  CHECK(!fs::exists(data / "no"));

  // the root's writes reach podman's own view of the container once it has stopped
  const Output w = podman("run --name writes " + std::string(PodmanStore::limits) + "crumble-oci-test sh -c 'echo hi > /f; rm /bin/true'");
  INFO(w.text);
  CHECK(w.status == 0);
  const std::string diff = podman("diff writes").text;
  INFO(diff);
  CHECK_THAT(diff, Contains("A /f"));
  CHECK_THAT(diff, Contains("D /bin/true"));
  CHECK(podman("cp writes:/f -").status == 0);
  CHECK(podman("rm writes").status == 0);
  CHECK(podman.cache.root_images().empty());
}

namespace {

// A process standing for a container's monitor in a state made by the test (the runtime checks
// its pid and start time, nothing else): a child of the test, so its end is seen by waitpid.
struct FakeMonitor {
  pid_t pid = -1;
  FakeMonitor() {
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::execlp("sleep", "sleep", "600", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100 && start().empty(); ++i) std::this_thread::sleep_for(10ms);
  }
  ~FakeMonitor() {
    if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
  }
  // /proc/PID/stat's field 22, read here on its own
  std::string start() const {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(in, line);
    std::istringstream f(line.substr(line.rfind(')') + 2));
    std::string x;
    for (int i = 3; i <= 22 && (f >> x); ++i) {
    }
    return x;
  }
  // How it ended, once it has (waits at most `limit`): the signal that killed it, 0 if it lives.
  int killed_by(std::chrono::milliseconds limit) {
    int st = 0;
    for (const auto until = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(10ms))
      if (::waitpid(pid, &st, WNOHANG) == pid) {
        pid = -1;
        return WIFSIGNALED(st) ? WTERMSIG(st) : -1;
      }
    return 0;
  }
};

// A bundle of busybox (sh, echo, sleep, cat and `more`) whose process is `script` (sh -c), with
// /proc mounted (a container gets the mounts its config lists, as under runc).
void busybox_bundle(const fs::path& bundle, const std::string& script, const std::vector<std::string>& more = {}) {
  std::string tools = "sh echo sleep cat";
  for (const std::string& m : more) tools += " " + m;
  busybox_rootfs(bundle, tools);
  nlohmann::json config = {{"ociVersion", "1.0.2"},
                           {"root", {{"path", "rootfs"}}},
                           {"process", {{"cwd", "/"}, {"env", {"PATH=/bin"}}, {"args", {"sh", "-c", script}}}},
                           {"mounts", {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}}}}};
  std::ofstream(bundle / "config.json") << config.dump(2);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("crumble-runtime with a damaged, missing, locked or contended state: clear errors, nothing left, no shell") {
  const WorkDir w("oci-state");
  const fs::path root = w.path / "state", bundle = w.path / "bundle";
  busybox_bundle(bundle, "echo hi");
  const std::string rt = std::string(CRUMBLE_RUNTIME) + " --root '" + root.string() + "' ";
  FakeMonitor monitor;
  REQUIRE(!monitor.start().empty());
  // a created (or, with started, running) container whose monitor is `monitor`
  auto state = [&](const std::string& id, nlohmann::json extra = nlohmann::json::object()) {
    fs::create_directories(root / id);
    nlohmann::json s = {{"id", id},         {"pid", monitor.pid},         {"monitorStart", monitor.start()}, {"bundle", bundle.string()},
                        {"rootfs", (bundle / "rootfs").string()}, {"created", "2024-01-01T00:00:00Z"}, {"started", false}};
    s.update(extra);
    std::ofstream(root / id / "state.json") << s.dump();
    return root / id;
  };
  struct Case {
    std::string what, setup, command;
    int status;
    std::string says;
  };
  const fs::path injected = w.path / "injected";
  const std::vector<Case> cases = {
      {"a directory without state: delete says so and how to remove it", "nostate", "delete nostate", 1, "delete --force nostate"},
      {"damaged state: state says damaged", "damaged", "state damaged", 1, "is damaged"},
      {"damaged state: delete refuses without --force", "damaged", "delete damaged", 1, "is damaged"},
      {"a second start of a container being started is refused", "starting", "start starting", 1, "another start has started it"},
      {"a delete while another (alive) deletes is refused", "deleting", "delete deleting", 1, "is being deleted by process"},
      {"exec: noNewPrivileges not a boolean, by its path", "running", "exec --process " + (w.path / "nnp.json").string() + " running", 1,
       "process.noNewPrivileges: expected true or false"},
      {"exec: consoleSize out of 16 bits refused, by its path", "running", "exec --process " + (w.path / "size.json").string() + " running", 1,
       "process.consoleSize.height: expected a whole number from 0 to 65535, got 70000"},
      {"exec: the process's rlimits read by their path", "running", "exec --process " + (w.path / "rlimit.json").string() + " running", 1,
       "process.rlimits[0].soft"},
      {"exec: over 1 MiB refused with its size", "running", "exec --process " + (w.path / "big.json").string() + " running", 1, "at most 1048576"},
      {"exec into a running container whose monitor no longer listens", "running", "exec running echo hi", 1, "the container is stopped"},
      {"ps --format table: arguments reach ps as they are, no shell", "running", "ps --format table running \"x'; touch " + injected.string() + "; '\"", 1,
       ""},
  };
  std::ofstream(w.path / "nnp.json") << R"({"args": ["true"], "noNewPrivileges": "yes"})";
  std::ofstream(w.path / "size.json") << R"({"args": ["true"], "terminal": true, "consoleSize": {"height": 70000, "width": 80}})";
  std::ofstream(w.path / "rlimit.json") << R"({"args": ["true"], "rlimits": [{"type": "RLIMIT_NOFILE", "soft": -1, "hard": 5}]})";
  std::ofstream(w.path / "big.json") << nlohmann::json{{"args", {"true"}}, {"env", {"BIG=" + std::string(std::size_t{1} << 20, 'x')}}}.dump();
  for (const Case& c : cases) {
    fs::remove_all(root);
    if (c.setup == "nostate") fs::create_directories(root / "nostate");
    if (c.setup == "damaged") {
      fs::create_directories(root / "damaged");
      std::ofstream(root / "damaged/state.json") << "{\"id\": \"dam";
    }
    if (c.setup == "starting") state("starting", {{"starting", true}});
    if (c.setup == "deleting") state("deleting", {{"deleting", {{"pid", monitor.pid}, {"start", monitor.start()}}}});
    if (c.setup == "running") state("running", {{"started", true}});
    const Output o = shell(rt + c.command);
    INFO(c.what << ": status " << o.status << "\n" << o.text);
    CHECK(o.status == c.status);
    CHECK_THAT(o.text, Contains(c.says));
  }
  CHECK(!fs::exists(injected));
  {
    INFO("a full disk (writes fail with ENOSPC): start fails saying so, the state as it was");
    const fs::path dir = state("full");
    fs::create_symlink("/dev/full", dir / "state.json.tmp");
    const std::string before = slurp(dir / "state.json");
    const Output o = shell(rt + "start full");
    INFO(o.text);
    CHECK(o.status == 1);
    CHECK_THAT(o.text, Contains("No space left on device"));
    CHECK(slurp(dir / "state.json") == before);
  }
  {
    INFO("a lock another process holds: start gives up (10 s) and says so, never hangs");
    const fs::path dir = state("locked");
    const int fd = ::open((dir / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    REQUIRE(::flock(fd, LOCK_EX) == 0);
    const auto t0 = std::chrono::steady_clock::now();
    const Output o = shell("timeout 60 " + rt + "start locked");
    const auto took = std::chrono::steady_clock::now() - t0;
    ::close(fd);
    INFO(o.text);
    CHECK(o.status == 1);
    CHECK_THAT(o.text, Contains("is locked by another process"));
    CHECK(took < 20s);
  }
  {
    INFO("delete --force of a damaged state kills the monitor on file (ROOT/ID/monitor) and removes the directory");
    fs::create_directories(root / "gone");
    std::ofstream(root / "gone/state.json") << "garbage";
    std::ofstream(root / "gone/monitor") << monitor.pid << " " << monitor.start() << "\n";
    const Output o = shell(rt + "delete --force gone");
    INFO(o.text);
    CHECK(o.status == 0);
    CHECK(monitor.killed_by(5s) == SIGKILL);
    CHECK(!fs::exists(root / "gone"));
  }
  {
    INFO("delete --force of a directory without state removes it");
    fs::create_directories(root / "empty");
    CHECK(shell(rt + "delete --force empty").status == 0);
    CHECK(!fs::exists(root / "empty"));
  }
  {
    INFO("create with process.consoleSize out of range: refused by its path, nothing made");
    const fs::path tty = w.path / "tty";
    busybox_bundle(tty, "true");
    nlohmann::json config = nlohmann::json::parse(std::ifstream(tty / "config.json"));
    config["process"]["terminal"] = true;
    config["process"]["consoleSize"] = {{"height", 24}, {"width", 65536}};
    std::ofstream(tty / "config.json") << config.dump();
    const Output o = shell(rt + "create --bundle '" + tty.string() + "' --console-socket " + (w.path / "no.sock").string() + " tty");
    INFO(o.text);
    CHECK(o.status == 1);
    CHECK_THAT(o.text, Contains("process.consoleSize.width: expected a whole number from 0 to 65535, got 65536"));
    CHECK(!fs::exists(root / "tty"));
  }
}

TEST_CASE("crumble-runtime's lifecycle hardened: a stale id, signals before start, silent clients, exec's own limits, a damaged state") {
  (void)crumble::test::guest_kernel_or_skip();
  const PrivateCache cache;
  const WorkDir w("oci-hard");
  const fs::path root = w.path / "state", bundle = w.path / "bundle", out = w.path / "out";
  busybox_bundle(bundle, "trap 'echo got USR1' USR1; echo up; while true; do sleep 0.1; done", {"grep"});
  const std::string rt = std::string(CRUMBLE_RUNTIME) + " --root '" + root.string() + "' ";
  {
    INFO("an id whose directory a killed create left (no state, no lock holder, no monitor) is taken");
    fs::create_directories(root / "hard");
    const Output o = shell(rt + "create --bundle '" + bundle.string() + "' hard > '" + out.string() + "' 2>&1");
    INFO(o.text << slurp(out));
    REQUIRE(o.status == 0);
  }
  {
    INFO("SIGUSR1 to a created container waits for the start (as every signal but TERM, INT, HUP and QUIT), then for the "
         "guest to settle after it, so it reaches the process once its trap is set: it says so and runs on");
    const fs::path sig_out = w.path / "sig.out";
    REQUIRE(shell(rt + "create --bundle '" + bundle.string() + "' sig > '" + sig_out.string() + "' 2>&1").status == 0);
    REQUIRE(shell(rt + "kill sig USR1").status == 0);
    std::this_thread::sleep_for(300ms);
    CHECK_THAT(shell(rt + "state sig").text, Contains("\"created\""));
    REQUIRE(shell(rt + "start sig").status == 0);
    bool got = false;
    for (int i = 0; i < 100 && !got; ++i, std::this_thread::sleep_for(100ms)) got = slurp(sig_out).find("got USR1") != std::string::npos;
    INFO(slurp(sig_out));
    CHECK(got);
    CHECK_THAT(shell(rt + "state sig").text, Contains("\"running\""));
    CHECK(shell(rt + "delete --force sig").status == 0);
  }
  REQUIRE(shell(rt + "start hard").status == 0);
  {
    INFO("five clients connected to exec.sock that say nothing hold up no exec");
    const fs::path ready = w.path / "connected";
    REQUIRE(shell("python3 -c \"import socket,sys,time\nss=[]\nfor i in range(5):\n s=socket.socket(socket.AF_UNIX, "
                  "socket.SOCK_SEQPACKET); s.connect(sys.argv[1]); ss.append(s)\nopen(sys.argv[2], 'w').close()\ntime.sleep(20)\n\" '" +
                  (root / "hard/exec.sock").string() + "' '" + ready.string() + "' > /dev/null 2>&1 &")
                .status == 0);
    for (int i = 0; i < 100 && !fs::exists(ready); ++i) std::this_thread::sleep_for(50ms);
    REQUIRE(fs::exists(ready));
    const auto t0 = std::chrono::steady_clock::now();
    const Output o = shell("timeout 60 " + rt + "exec hard echo through");
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    INFO(o.text << " in " << took.count() << " ms");
    CHECK(o.text == "through\n");
    CHECK(took < 6s);  // each silent client held the loop 2 s before
  }
  {
    INFO("exec --process: its own rlimits, capabilities and additionalGids, and a 300 KiB environment");
    nlohmann::json p = {{"args", {"sh", "-c", "ulimit -n; grep -E '^(CapEff|Groups)' /proc/self/status; echo $((${#A}+${#B}+${#C}))"}},
                        // three: one string may be at most 128 KiB (the guest kernel's MAX_ARG_STRLEN)
                        {"env", {"PATH=/bin", "A=" + std::string(100000, 'a'), "B=" + std::string(100000, 'b'), "C=" + std::string(100000, 'c')}},
                        {"cwd", "/"},
                        {"user", {{"uid", 0}, {"gid", 0}, {"additionalGids", {7, 9}}}},
                        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"soft", 77}, {"hard", 77}}}},
                        {"capabilities", {{"bounding", {"CAP_CHOWN", "CAP_KILL"}}, {"effective", {"CAP_CHOWN", "CAP_KILL"}},
                                          {"permitted", {"CAP_CHOWN", "CAP_KILL"}}}}};
    std::ofstream(w.path / "p.json") << p.dump();
    const Output o = shell("timeout 60 " + rt + "exec --process '" + (w.path / "p.json").string() + "' hard");
    INFO(o.text);
    CHECK(o.status == 0);
    CHECK_THAT(o.text, Contains("77\n"));
    CHECK_THAT(o.text, Contains("CapEff:\t0000000000000021"));  // CAP_CHOWN (0) and CAP_KILL (5)
    CHECK_THAT(o.text, Contains("Groups:\t7 9"));
    CHECK_THAT(o.text, Contains("300000\n"));
  }
  {
    INFO("the monitor's state updates fail on a damaged state without keeping the lock: the next exec still runs");
    const fs::path state = root / "hard/state.json";
    const std::string good = slurp(state);
    REQUIRE(shell("timeout 60 " + rt + "exec -d hard sleep 1 > /dev/null 2>&1").status == 0);
    std::ofstream(state) << "garbage";  // the monitor records the exec's end: parse fails
    std::this_thread::sleep_for(2500ms);
    std::ofstream(state) << good;
    const Output o = shell("timeout 30 " + rt + "exec hard echo still");
    INFO(o.text);
    CHECK(o.text == "still\n");
  }
  {
    INFO("delete --force of a running container whose state is damaged: its monitor killed, its directory and root image gone");
    const std::string monitor = shell("cut -d' ' -f1 '" + (root / "hard/monitor").string() + "'").text;
    REQUIRE(!monitor.empty());
    std::ofstream(root / "hard/state.json") << "garbage";
    const Output o = shell(rt + "delete --force hard");
    INFO(o.text);
    CHECK(o.status == 0);
    CHECK(!fs::exists(root / "hard"));
    // gone, or a zombie its new parent has yet to reap
    CHECK(shell("test ! -e /proc/" + monitor.substr(0, monitor.size() - 1) + " || grep -q '^[0-9]* (.*) Z' /proc/" +
                monitor.substr(0, monitor.size() - 1) + "/stat")
              .status == 0);
    CHECK(cache.root_images().empty());
  }
  {
    INFO("run -d returns with the container running, as runc run -d");
    const Output o = shell("timeout 60 " + rt + "run -d --bundle '" + bundle.string() + "' bg > /dev/null 2>&1");
    CHECK(o.status == 0);
    CHECK_THAT(shell(rt + "state bg").text, Contains("\"running\""));
    CHECK(shell(rt + "delete --force bg").status == 0);
    CHECK(!fs::exists(root / "bg"));
  }
  CHECK(cache.root_images().empty());
}

// A container VM's snapshot is saved with a root-disk placeholder as large as any root may be
// (1 TiB, QemuMachine::placeholder_disk_bytes). It is QEMU's null-co driver, no file: under a
// file-size limit of 4 GiB (as on a file system whose files may not reach 1 TiB) the runtime
// cold-boots, saves and runs from a fresh cache. The limit's effect is checked first: a 1 TiB
// sparse file cannot be made under it, so a placeholder file would fail here.
TEST_CASE("crumble-runtime cold-boots and saves its container snapshot where no file may reach the 1 TiB placeholder's size") {
  (void)crumble::test::guest_kernel_or_skip();
  const PrivateCache cache;  // no snapshot yet: this run boots cold and saves with the placeholder
  const WorkDir w("oci-fsize");
  const fs::path bundle = w.path / "bundle";
  busybox_bundle(bundle, "echo from the container");
  const std::string limit = "trap '' XFSZ; ulimit -f 4194304; ";  // KiB: 4 GiB; EFBIG rather than SIGXFSZ
  const Output big = shell("bash -c \"" + limit + "truncate -s 1T '" + (w.path / "big").string() + "'\"");
  INFO(big.text);
  REQUIRE(big.status != 0);  // the oracle: the limit refuses a 1 TiB file
  const std::string rt = std::string(CRUMBLE_RUNTIME) + " --root '" + (w.path / "state").string() + "' ";
  const Output o = shell("bash -c \"" + limit + "timeout 300 " + rt + "run --bundle '" + bundle.string() + "' fsize\" < /dev/null");
  INFO(o.text);
  CHECK(o.status == 0);
  CHECK(o.text == "from the container\n");
  // the snapshot was saved (so the next container restores it) and nothing of the run is left
  std::size_t snapshots = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(cache.dir / "crumble/snapshots", ec)) snapshots += e.path().extension() == ".mem";
  CHECK(snapshots >= 1);
  CHECK(!fs::exists(w.path / "state/fsize"));
  CHECK(cache.root_images().empty());
}

// A VM that cannot start after the root image was built (here: a file-size limit of 16 MiB, which
// the root's erofs image fits and the VM's 256 MiB RAM file does not): `create` fails naming
// the cause, and leaves neither the container's directory nor its root image.
TEST_CASE("crumble-runtime create whose VM cannot start: a clear error, no state and no root image left") {
  (void)crumble::test::guest_kernel_or_skip();
  const PrivateCache cache;
  const WorkDir w("oci-nostart");
  const fs::path bundle = w.path / "bundle";
  busybox_bundle(bundle, "echo never");
  const std::string rt = std::string(CRUMBLE_RUNTIME) + " --root '" + (w.path / "state").string() + "' ";
  const Output o = shell("bash -c \"trap '' XFSZ; ulimit -f 16384; timeout 300 " + rt + "create --bundle '" + bundle.string() +
                         "' nostart\" < /dev/null");
  INFO(o.text);
  CHECK(o.status != 0);
  CHECK_THAT(o.text, Contains("the container's VM did not start") && Contains("File too large"));
  CHECK(!fs::exists(w.path / "state/nostart"));
  CHECK(cache.root_images().empty());
}
