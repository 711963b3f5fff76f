// SPDX-License-Identifier: Apache-2.0
// tests/vm/container_init_test.cpp — the container side of the guest's init (rtg/init/init.go,
// setupContainer and asUser) in a real Linux guest under QEMU, through the host's channel
// (Channel::setup_container, Channel::run with CommandOptions).
//
// The guest's initramfs holds busybox at /bin and a container root at /ctr (its own busybox,
// /etc/passwd and /etc/group with a user 1000, a marker file). The host asks init to make /ctr
// the root (a `dir` root, hostname "box"); the oracles are the guest kernel's own views, read by
// the container's busybox: /proc/self/mountinfo, /proc/self/status (ids, capabilities,
// NoNewPrivs), /proc/sys/kernel/cap_last_cap, hostname, pwd, id. The request also registers
// Debian's qemu-user-static for AArch64 with binfmt_misc (the interpreter in the initramfs, the
// 'F' flag): an AArch64 program made by crumble-rtg then runs in the amd64 guest's container.
// Block and virtio-fs roots need QEMU devices this test does not attach.
//
// Each boot costs seconds under software emulation, so every TEST_CASE here shares one VM,
// booted when the first needs it, and the file runs as one ctest (tests/vm/CMakeLists.txt). A
// failing request needs a VM of its own (one request per boot). Without a cached kernel or QEMU
// every test prints SKIPPED and exits 4.
#include <catch2/catch.hpp>
#include <crumble/vm/engine/qemu/machine.hpp>
#include <crumble/vm/guest/default_init.hpp>
#include <crumble/vm/guest/initramfs.hpp>
#include <crumble/vm/guest/modules.hpp>
#include <crumble/vm/host/process.hpp>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "guest_skip.hpp"

namespace fs = std::filesystem;
using namespace crumble::vm;
namespace p = crumble::vm::protocol;

namespace {

auto in(int seconds) { return Clock::now() + std::chrono::seconds(seconds); }

void write(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << text;
}

// A root with busybox and the applets the tests call, as symlinks to it.
void busybox_root(const fs::path& root) {
  fs::create_directories(root / "bin");
  fs::copy_file("/bin/busybox", root / "bin/busybox");
  for (const char* applet : {"sh", "id", "hostname", "cat", "grep", "pwd", "test", "stat", "ls", "touch", "mkdir", "uname"})
    fs::create_symlink("busybox", root / "bin" / applet);
}

const char* const qemu_aarch64 = "/usr/bin/qemu-aarch64-static";
// Debian's registration for qemu-user-static (binfmts/qemu-aarch64), its interpreter where the
// initramfs has it; F: the kernel opens it now, so it need not be in the container's root.
const char* const aarch64_binfmt =
    R"(:qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:)"
    R"(\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/libexec/qemu-aarch64:F)";

// The guest's initramfs root: busybox at /bin, the container's root at /ctr, qemu-aarch64.
QemuOptions options_or_skip(const fs::path& rootfs) {
  const GuestKernel k = crumble::test::guest_kernel_or_skip();
  if (!fs::exists(qemu_aarch64)) {
    std::cout << "SKIPPED: " << qemu_aarch64 << " not found (apt-get install qemu-user-static)\n";
    std::exit(4);
  }
  busybox_root(rootfs);
  const fs::path ctr = rootfs / "ctr";
  busybox_root(ctr);
  write(ctr / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n");
  write(ctr / "etc/group", "root:x:0:\nsudo:x:27:user\nuser:x:1000:\n");
  write(ctr / "marker", "only in /ctr\n");
  // binfmt_misc: the interpreter stays in the initramfs; the program is only in the container
  fs::create_directories(rootfs / "usr/libexec");
  fs::copy_file(qemu_aarch64, rootfs / "usr/libexec/qemu-aarch64");
  const fs::path hello = rootfs.parent_path() / "hello.go";
  write(hello, "package main\n\nimport \"crumble/rtg/runtime\"\n\nfunc main() {\n"
               "\tp, n := runtime.EmbedString(\"hello from arm64\\n\")\n\truntime.Syscall(runtime.SYS_WRITE, 1, p, n)\n}\n");
  const std::string make = std::string(CRUMBLE_RTG) + " -arch arm64 -o " + (ctr / "hello-arm64").string() + " " + hello.string();
  REQUIRE(std::system(make.c_str()) == 0);
  InitramfsSpec spec;
  spec.init = default_init();
  spec.rootfs = rootfs;
  for (const KernelModule& m : resolve_modules(ModuleIndex(k.modules_dir), {"binfmt_misc"})) spec.modules.emplace_back(m.name, m.path);
  QemuOptions o;
  o.kernel = k.image;
  o.initramfs = build_initramfs(spec);
  return o;
}

ContainerRequest ctr_root() {
  ContainerRequest q;
  q.root_kind = ContainerRequest::RootKind::dir;
  q.root_source = "/ctr";
  q.hostname = "box";
  q.binfmt = {aarch64_binfmt};
  return q;
}

// The VM all test cases share: booted, then moved into /ctr, on first use.
struct Guest {
  TempDir dir{"crumble-ctr-test-"};
  std::unique_ptr<QemuMachine> machine;
  Guest() {
    machine = std::make_unique<QemuMachine>(options_or_skip(dir.path() / "rootfs"));
    machine->channel().wait_ready(in(120));
    machine->channel().setup_container(ctr_root(), in(60));
  }
};
QemuMachine& vm() {
  static Guest guest;
  return *guest.machine;
}

CommandResult run(const std::vector<std::string>& argv, const CommandOptions& options = {}) {
  return vm().channel().run(argv, {"PATH=/bin"}, in(60), default_output_limit, options);
}

// A command that must succeed: its standard output.
std::string out(const std::vector<std::string>& argv, const CommandOptions& options = {}) {
  CommandResult r = run(argv, options);
  INFO(argv[0] << ": " << r.describe() << "\n" << r.err);
  REQUIRE(r.status() == 0);
  return r.out;
}

// /proc/self/status of a `grep` run with `options`: field name -> value.
std::map<std::string, std::string> status_of(const CommandOptions& options) {
  std::map<std::string, std::string> fields;
  std::istringstream lines(out({"grep", "-E", "^(Uid|Gid|Groups|Cap[A-Za-z]+|NoNewPrivs):", "/proc/self/status"}, options));
  for (std::string line; std::getline(lines, line);) {
    const auto colon = line.find(':');
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t") + 1);
    fields[line.substr(0, colon)] = value;
  }
  return fields;
}

}  // namespace

TEST_CASE("container init: the root is the container's, with the filesystems a container expects", "[vm][container]") {
  // mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPER"
  std::map<std::string, std::string> fstype_at;
  std::istringstream lines(out({"cat", "/proc/self/mountinfo"}));
  for (std::string line; std::getline(lines, line);) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point, word;
    f >> id >> parent >> dev >> root >> point;
    while (f >> word && word != "-") {}
    f >> word;
    fstype_at[point] = word;  // the last mount at a point is the one seen
  }
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"/proc", "proc"}, {"/sys", "sysfs"}, {"/dev", "devtmpfs"}, {"/dev/pts", "devpts"},
      {"/dev/shm", "tmpfs"}, {"/tmp", "tmpfs"}, {"/run", "tmpfs"},
  };
  for (const auto& [point, fstype] : expected) {
    INFO(point);
    REQUIRE(fstype_at.count(point) == 1);
    CHECK(fstype_at[point] == fstype);
  }
  CHECK(fstype_at.count("/") == 1);
  // the root is /ctr: its marker is at /, the initramfs's own files are not
  CHECK(out({"cat", "/marker"}) == "only in /ctr\n");
  CHECK(run({"test", "-e", "/ctr"}).status() == 1);
  CHECK(run({"test", "-e", "/init"}).status() == 1);
  CHECK(run({"test", "-e", "/crumble"}).status() == 1);
  // /tmp and /dev/shm are for everyone, with the sticky bit; /run for root
  CHECK(out({"stat", "-c", "%a", "/tmp", "/dev/shm", "/run"}) == "1777\n1777\n755\n");
  CHECK(out({"hostname"}) == "box\n");
  CHECK(out({"cat", "/proc/sys/kernel/hostname"}) == "box\n");
}

TEST_CASE("container init: a command runs as the user, group and groups asked for, without capabilities", "[vm][container]") {
  // (the kernel keeps supplementary groups sorted: getgroups gives 27 first)
  CHECK(out({"id"}, {1000, 1000, {1000, 27}, "", false}) == "uid=1000(user) gid=1000(user) groups=27(sudo),1000(user)\n");
  CHECK(out({"id"}) == "uid=0(root) gid=0(root)\n");  // init has no supplementary groups
  CHECK(out({"id"}, {1000, std::nullopt, {}, "", false}) == "uid=1000(user) gid=0(root)\n");

  const int last_cap = std::stoi(out({"cat", "/proc/sys/kernel/cap_last_cap"}));
  char full[32];
  std::snprintf(full, sizeof full, "%016llx", (2ull << last_cap) - 1);
  INFO("cap_last_cap " << last_cap);

  auto user = status_of({1000, 1000, {1000, 27}, "", false});
  CHECK(user["Uid"] == "1000\t1000\t1000\t1000");
  CHECK(user["Gid"] == "1000\t1000\t1000\t1000");
  CHECK(user["Groups"] == "27 1000");
  for (const char* cap : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    INFO(cap);
    CHECK(user[cap] == "0000000000000000");
  }
  CHECK(user["NoNewPrivs"] == "0");

  auto root = status_of({});
  CHECK(root["Uid"] == "0\t0\t0\t0");
  CHECK(root["CapEff"] == full);
  CHECK(root["CapBnd"] == full);

  // root asked for by number keeps its capabilities, drops its supplementary groups as asked
  auto root_again = status_of({0, 0, {}, "", false});
  CHECK(root_again["CapBnd"] == full);
  CHECK(root_again["Groups"] == "");

  CHECK(status_of({std::nullopt, std::nullopt, {}, "", true})["NoNewPrivs"] == "1");
  auto both = status_of({1000, 1000, {}, "", true});
  CHECK(both["NoNewPrivs"] == "1");
  CHECK(both["CapBnd"] == "0000000000000000");
}

TEST_CASE("container init: capability sets, resource limits and oom_score_adj as asked, for root and a user", "[vm][container]") {
  auto hex = [](std::uint64_t v) {
    char s[32];
    std::snprintf(s, sizeof s, "%016llx", static_cast<unsigned long long>(v));
    return std::string(s);
  };
  // docker's default set; NET_BIND_SERVICE (10) ambient too, which needs it permitted and inheritable.
  // What `grep` then shows follows execve's rules: root's permitted and effective sets are the
  // bounding set (and the inheritable one); a user's are its ambient set alone.
  const std::uint64_t docker = 0xa80425fb, bind = 1ull << 10;
  struct Case {
    std::string what;
    std::optional<std::uint32_t> uid;
    crumble::vm::Capabilities caps;
    std::uint64_t prm, inh, amb;  // what the kernel then shows (effective = permitted)
  };
  const std::vector<Case> cases = {
      {"root with docker's set", std::nullopt, {docker, docker, docker, 0, 0}, docker, 0, 0},
      {"a user: the bounding set as given, nothing effective after execve", 1000u, {docker, docker, docker, 0, 0}, 0, 0, 0},
      {"a user with an ambient capability keeps it across execve", 1000u, {docker, docker, docker, bind, bind}, bind, bind, bind},
      {"an ambient capability not inheritable is left out, as runc does", 1000u, {docker, docker, docker, 0, bind}, 0, 0, 0},
      {"no capabilities at all, as root", 0u, {0, 0, 0, 0, 0}, 0, 0, 0},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    CommandOptions o;
    o.uid = k.uid;
    o.capabilities = k.caps;
    auto s = status_of(o);
    CHECK(s["CapBnd"] == hex(k.caps.bounding));
    CHECK(s["CapEff"] == hex(k.prm));
    CHECK(s["CapPrm"] == hex(k.prm));
    CHECK(s["CapInh"] == hex(k.inh));
    CHECK(s["CapAmb"] == hex(k.amb));
  }
  // rlimits and oom_score_adj: the kernel's own view, /proc/self/limits and oom_score_adj
  CommandOptions o;
  o.uid = 1000;
  o.rlimits = {{7, 1024, 4096}, {6, 100, 200}};  // RLIMIT_NOFILE, RLIMIT_NPROC
  o.oom_score_adj = -500;  // lowering it needs root: set before the uid is
  const std::string limits = out({"cat", "/proc/self/limits"}, o);
  CHECK_THAT(limits, Catch::Matches("(.|\\n)*Max open files +1024 +4096 +files(.|\\n)*"));
  CHECK_THAT(limits, Catch::Matches("(.|\\n)*Max processes +100 +200 +processes(.|\\n)*"));
  CHECK(out({"cat", "/proc/self/oom_score_adj"}, o) == "-500\n");
  o.oom_score_adj = 1000;
  CHECK(out({"cat", "/proc/self/oom_score_adj"}, o) == "1000\n");
  // a limit above the hard one a user may raise to is the kernel's to refuse: named, exit 126
  CommandOptions raise;
  raise.rlimits = {{7, 1ull << 40, 1ull << 40}};
  const CommandResult refused = run({"true"}, raise);
  CHECK(refused.end == CommandResult::End::not_started);
  CHECK(refused.exec_stage == static_cast<int>(p::exec_stage_rlimits));
  CHECK(refused.status() == 126);
}

TEST_CASE("container init: the working directory is entered, made when missing, a file is refused", "[vm][container]") {
  CHECK(out({"pwd"}, {std::nullopt, std::nullopt, {}, "/etc", false}) == "/etc\n");
  CHECK(run({"test", "-e", "/home/user/new/deep"}).status() == 1);
  CHECK(out({"pwd"}, {1000, 1000, {}, "/home/user/new/deep", false}) == "/home/user/new/deep\n");
  // made by root, as docker makes a missing WorkingDir
  CHECK(out({"stat", "-c", "%u %a", "/home/user/new/deep"}) == "0 755\n");
  CHECK(out({"pwd"}) == "/\n");  // without one: init's own, the root

  const CommandResult file = run({"pwd"}, {std::nullopt, std::nullopt, {}, "/marker", false});
  CHECK(file.end == CommandResult::End::not_started);
  CHECK(file.exec_stage == static_cast<int>(p::exec_stage_chdir));
  CHECK(file.exec_errno == ENOTDIR);
  CHECK(file.describe() == "cannot change to working directory /marker: Not a directory");
  CHECK(file.status() == 126);

  // chdir comes before the ids are dropped: root enters a directory the user could not, and the
  // command then runs there as the user
  CHECK(out({"mkdir", "-p", "-m", "700", "/private"}).empty());
  CHECK(out({"pwd"}, {1000, 1000, {}, "/private", false}) == "/private\n");

  // a program the user may not execute: execve's own error, as before
  CHECK(out({"touch", "/secret"}).empty());
  const CommandResult denied = run({"/secret"}, {1000, 1000, {}, "", false});
  CHECK(denied.end == CommandResult::End::not_started);
  CHECK(denied.exec_stage == static_cast<int>(p::exec_stage_execve));
  CHECK(denied.exec_errno == EACCES);
}

TEST_CASE("container init: one request per boot, a second fails with EBUSY and init serves on", "[vm][container]") {
  vm();
  try {
    vm().channel().setup_container(ctr_root(), in(60));
    FAIL("a second request was accepted");
  } catch (const ContainerSetupError& e) {
    CHECK(e.step == static_cast<int>(p::container_step_request));
    CHECK(e.error == EBUSY);
    CHECK_THAT(e.what(), Catch::Contains("EBUSY"));
  }
  CHECK(out({"hostname"}) == "box\n");
}

TEST_CASE("container init: a request init could not carry out is refused on the host, nothing sent", "[vm][container]") {
  vm();
  ContainerRequest relative = ctr_root();
  relative.volumes = {{"data", "data", false}};
  CHECK_THROWS_AS(vm().channel().setup_container(relative, in(10)), ConfigError);
  ContainerRequest long_path = ctr_root();
  long_path.volumes = {{"data", "/" + std::string(5000, 'd'), false}};
  CHECK_THROWS_AS(vm().channel().setup_container(long_path, in(10)), ConfigError);
  ContainerRequest long_name = ctr_root();
  long_name.hostname = std::string(65, 'h');
  CHECK_THROWS_AS(vm().channel().setup_container(long_name, in(10)), ConfigError);
  CHECK_THROWS_AS(run({"pwd"}, {std::nullopt, std::nullopt, {}, "relative", false}), ConfigError);
  // the guest saw none of it: it is in the container still, and answers the next command
  CHECK(out({"hostname"}) == "box\n");
}

TEST_CASE("container init: a root that is not there fails at its step, and init serves on where it was", "[vm][container]") {
  TempDir dir("crumble-ctr-test-");
  QemuMachine m(options_or_skip(dir.path() / "rootfs"));
  m.channel().wait_ready(in(120));
  ContainerRequest q = ctr_root();
  q.root_source = "/nowhere";
  try {
    m.channel().setup_container(q, in(60));
    FAIL("accepted");
  } catch (const ContainerSetupError& e) {
    CHECK(e.step == static_cast<int>(p::container_step_root));
    CHECK(e.error == ENOENT);
    CHECK_THAT(e.what(), Catch::Contains("cannot mount the root /nowhere: ENOENT"));
  }
  // still in the initramfs: its /ctr is there, the hostname untouched
  CommandResult r = m.channel().run({"test", "-d", "/ctr"}, {"PATH=/bin"}, in(60));
  CHECK(r.status() == 0);
  r = m.channel().run({"hostname"}, {"PATH=/bin"}, in(60));
  CHECK(r.out != "box\n");
}

TEST_CASE("container init: an AArch64 program runs in the amd64 guest through binfmt_misc", "[vm][container]") {
  CHECK(out({"uname", "-m"}) == "x86_64\n");
  CHECK(out({"/hello-arm64"}) == "hello from arm64\n");
  CHECK(out({"/hello-arm64"}, {1000, 1000, {}, "/tmp", true}) == "hello from arm64\n");  // as a user, no_new_privs
}
