// SPDX-License-Identifier: Apache-2.0
// tests/container/users_test.cpp — `-u/--user` resolved against a root's passwd and group
// (container/users.hpp).
//
// The table is what runc's GetExecUser (used by docker and podman) gives for each spec against the
// passwd/group pair below, with docker's primary gid put first among the groups; a second case
// asks the oracle itself for every row: the same files in an image made by `podman import`, then
// `podman run --runtime runc --user SPEC IMAGE id` (crun refuses this machine's hybrid cgroups).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <iostream>
#include <crumble/container/users.hpp>
#include <crumble/vm/host/process.hpp>

#include <fstream>
#include <sstream>

namespace {

using crumble::container::ContainerError;
using crumble::container::resolve_user;
using crumble::container::User;
namespace fs = std::filesystem;

constexpr const char* passwd_text =
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "this line is not an entry\n"
    "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
    "bob:x:1001:100::/home/bob:/bin/sh\n"
    "123:x:4242:4242:a name of digits:/home/n:/bin/sh\n"
    "dup:x:2000:2000::/first:/bin/sh\n"
    "dup:x:2001:2001::/second:/bin/sh\n"
    "nohome:x:3000:3000:::/bin/sh\n";
constexpr const char* group_text =
    "root:x:0:root\n"
    "daemon:x:1:\n"
    "wheel:x:10:alice\n"
    "audio:x:29:bob,alice\n"
    "staff:x:50:\n"
    "users:x:100:alice,bob\n"
    "alice:x:1000:\n";

struct Db {
  crumble::vm::TempDir dir{"crumble-users-test-"};
  fs::path passwd = dir.path() / "passwd", group = dir.path() / "group";
  Db() {
    std::ofstream(passwd) << passwd_text;
    std::ofstream(group) << group_text;
  }
};

std::string show(const User& u) {
  std::ostringstream s;
  s << u.uid << ":" << u.gid << " [";
  for (std::size_t i = 0; i < u.groups.size(); ++i) s << (i ? "," : "") << u.groups[i];
  s << "] " << u.home;
  return s.str();
}

}  // namespace

struct Resolved {
  const char* spec;
  const char* expected;  // uid:gid [groups] home
};
const Resolved resolved[] = {
    {"", "0:0 [0] /root"},  // root's entry; root's group lists root: no duplicate
    {"root", "0:0 [0] /root"},
    {"0", "0:0 [0] /root"},
    {"alice", "1000:1000 [1000,10,29,100] /home/alice"},
    {"1000", "1000:1000 [1000,10,29,100] /home/alice"},  // a uid in passwd: that user's groups
    {"bob", "1001:100 [100,29] /home/bob"},               // primary 100, also listed: once
    {"daemon", "1:1 [1] /usr/sbin"},
    {"dup", "2000:2000 [2000] /first"},  // the first entry wins
    {"123", "123:0 [0] /"},              // digits are a uid, never a name
    {"nohome", "3000:3000 [3000] "},     // an empty home stays empty: HOME= in podman+runc
    {"5000", "5000:0 [0] /"},            // a uid without an entry: allowed, gid 0
    {"alice:staff", "1000:50 [50] /home/alice"},  // an explicit group: no supplementary groups
    {"alice:29", "1000:29 [29] /home/alice"},
    {"alice:777", "1000:777 [777] /home/alice"},  // a gid without an entry: allowed
    {"1000:100", "1000:100 [100] /home/alice"},
    {"5000:50", "5000:50 [50] /"},
    {"5000:staff", "5000:50 [50] /"},
};

TEST_CASE("users: each spec resolves to runc's uid, gid, groups (primary first) and home", "[container][users]") {
  Db db;
  for (const Resolved& c : resolved) {
    INFO("spec `" << c.spec << "`");
    CHECK(show(resolve_user(c.spec, db.passwd, db.group)) == c.expected);
  }
}

// The oracle itself: an image with these files (busybox for sh and id), `podman run --runtime runc
// --user SPEC`. Not checked (said loudly) where podman or runc cannot run a container.
TEST_CASE("users: podman with runc gives every row of the table", "[container][users][podman]") {
  using crumble::vm::run_process;
  const auto limit = std::chrono::seconds(60);
  if (run_process({"sh", "-c", "command -v podman && command -v runc && test -x /bin/busybox"}, limit).status != 0) {
    std::cout << "SKIPPED: not checked against podman: podman, runc or /bin/busybox (busybox-static) is missing" << "\n";  // ctest: skipped, not passed
    std::exit(4);
  }
  Db db;
  const fs::path root = db.dir.path() / "root", tar = db.dir.path() / "root.tar";
  fs::create_directories(root / "bin");
  fs::create_directories(root / "etc");
  fs::copy_file("/bin/busybox", root / "bin/busybox");
  fs::create_symlink("busybox", root / "bin/sh");
  fs::create_symlink("busybox", root / "bin/id");
  fs::copy_file(db.passwd, root / "etc/passwd");
  fs::copy_file(db.group, root / "etc/group");
  const std::string image = "localhost/crumble-users-test:" + std::to_string(::getpid());
  REQUIRE(run_process({"tar", "-C", root.string(), "-cf", tar.string(), "."}, limit).status == 0);
  const auto imported = run_process({"podman", "import", tar.string(), image}, limit);
  REQUIRE(imported.status == 0);
  struct Rmi {
    std::string image;
    ~Rmi() { crumble::vm::run_process({"podman", "rmi", "-f", image}, std::chrono::seconds(60)); }
  } rmi{image};
  auto podman_id = [&](const std::string& spec) {
    std::vector<std::string> argv = {"podman", "run", "--rm", "--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"};
    if (!spec.empty()) argv.insert(argv.end(), {"--user", spec});
    argv.insert(argv.end(), {image, "sh", "-c", "echo \"$(id -u):$(id -g) [$(id -G 2>/dev/null | tr ' ' ,)] $HOME\""});
    return run_process(argv, limit);
  };
  const auto probe = podman_id("");
  if (probe.status != 0) {
    std::cout << "SKIPPED: not checked against podman: it cannot run a container here: " << probe.err << "\n";  // ctest: skipped, not passed
    std::exit(4);
  }
  for (const Resolved& c : resolved) {
    INFO("spec `" << c.spec << "`");
    const auto r = podman_id(c.spec);
    CHECK(r.out == std::string(c.expected) + "\n");
    CHECK(show(resolve_user(c.spec, db.passwd, db.group)) + "\n" == r.out);
  }
  for (const char* missing : {"nobody", "alice:nogroup"}) {
    INFO("spec `" << missing << "`");
    CHECK(podman_id(missing).status != 0);
    CHECK_THROWS_AS(resolve_user(missing, db.passwd, db.group), ContainerError);
  }
}

TEST_CASE("users: unknown names and malformed specs are errors that say what is wrong", "[container][users]") {
  Db db;
  struct Case {
    const char* spec;
    const char* message;  // a part of the error
  };
  const Case cases[] = {
      {"nobody", "user nobody does not exist in the image (its /etc/passwd)"},
      {"nobody:staff", "user nobody does not exist in the image (its /etc/passwd)"},
      {"alice:nogroup", "group nogroup does not exist in the image (its /etc/group)"},
      {"5000:nogroup", "group nogroup does not exist in the image (its /etc/group)"},
      {"alice:", "malformed user spec `alice:`"},
      {":staff", "malformed user spec `:staff`"},
      {":", "malformed user spec `:`"},
      {"alice:staff:x", "more than one `:`"},
      {"alice\n", "a control character"},
      {"2147483648", "out of range"},
      {"1000:99999999999", "out of range"},
  };
  for (const Case& c : cases) {
    INFO("spec `" << c.spec << "`");
    CHECK_THROWS_WITH(resolve_user(c.spec, db.passwd, db.group), Catch::Contains(c.message));
    CHECK_THROWS_AS(resolve_user(c.spec, db.passwd, db.group), ContainerError);
  }
}

TEST_CASE("users: a root without passwd or group takes numeric specs only", "[container][users]") {
  crumble::vm::TempDir dir{"crumble-users-test-"};
  const fs::path none = dir.path() / "missing", also_none;  // a missing file, and no kept file at all
  for (const fs::path& p : {none, also_none}) {
    CHECK(show(resolve_user("", p, p)) == "0:0 [0] /");
    CHECK(show(resolve_user("1000", p, p)) == "1000:0 [0] /");
    CHECK(show(resolve_user("1000:100", p, p)) == "1000:100 [100] /");
    CHECK_THROWS_WITH(resolve_user("alice", p, p), Catch::Contains("user alice does not exist in the image"));
    CHECK_THROWS_WITH(resolve_user("1000:staff", p, p), Catch::Contains("group staff does not exist in the image"));
  }
}

TEST_CASE("users: a passwd line longer than the first read buffer is read whole", "[container][users]") {
  Db db;
  std::ofstream(db.passwd, std::ios::app) << "long:x:7000:7000:" << std::string(100000, 'g') << ":/home/long:/bin/sh\n";
  std::ofstream(db.group, std::ios::app) << "big:x:7001:" << std::string(50000, 'x') << ",long\n";
  CHECK(show(resolve_user("long", db.passwd, db.group)) == "7000:7000 [7000,7001] /home/long");
}
