// SPDX-License-Identifier: Apache-2.0
// oci/bundle.hpp: config.json as the runtime reads it — what it takes, and every problem named by
// its JSON path (no VM needed).
#include <catch2/catch.hpp>
#include <crumble/oci/bundle.hpp>

#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

// A bundle directory with `config` as config.json and an empty rootfs/.
fs::path bundle(const std::string& config) {
  static int n = 0;
  const fs::path dir = fs::temp_directory_path() / ("bundle-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
  fs::create_directories(dir / "rootfs");
  std::ofstream(dir / "config.json") << config;
  return dir;
}

const std::string ok_process = R"("process":{"args":["sh","-c","true"],"env":["PATH=/bin"],"cwd":"/srv","user":{"uid":1000,"gid":100}})";

}  // namespace

TEST_CASE("oci bundle: what config.json gives becomes the container's spec") {
  const fs::path dir = bundle(R"({"root":{"path":"rootfs"},)" + ok_process + R"(,"hostname":"h1","annotations":{"a":"b"},"mounts":[]})");
  const crumble::oci::Bundle b = crumble::oci::read_bundle(dir);
  CHECK(b.rootfs == dir / "rootfs");
  CHECK(b.args == std::vector<std::string>{"sh", "-c", "true"});
  CHECK(b.spec.entrypoint == b.args);
  CHECK(b.spec.env == std::vector<std::string>{"PATH=/bin"});
  CHECK(b.spec.workdir == "/srv");
  CHECK(b.spec.user == "1000:100");
  CHECK(b.spec.hostname == "h1");
  CHECK(b.annotations["a"] == "b");
  CHECK(b.ignored.empty());
  CHECK(b.notes.empty());
  fs::remove_all(dir);
}

TEST_CASE("oci bundle: a host namespace to join is accepted and said not to be applied, with the rest of linux") {
  const fs::path dir = bundle(R"({"root":{"path":"rootfs"},)" + ok_process +
                              R"(,"linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/run/netns/x"}]}})");
  const crumble::oci::Bundle b = crumble::oci::read_bundle(dir);
  REQUIRE(b.ignored.size() == 1);
  CHECK_THAT(b.ignored[0], Contains("linux.namespaces[1].path (network \"/run/netns/x\")"));
  fs::remove_all(dir);
}

TEST_CASE("oci bundle: a user namespace with uidMappings and gidMappings becomes the container's maps, a device's owner mapped") {
  const fs::path dir = bundle(R"({"root":{"path":"rootfs"},)" + ok_process + R"(,"linux":{"namespaces":[{"type":"pid"},{"type":"user"}],)" +
                              R"("uidMappings":[{"containerID":0,"hostID":1000,"size":2000},{"containerID":5000,"hostID":200000,"size":1}],)" +
                              R"("gidMappings":[{"containerID":0,"hostID":3000,"size":2000}],)" +
                              R"("devices":[{"path":"/dev/fuse","type":"c","major":10,"minor":229,"uid":7,"gid":8},)" +
                              R"({"path":"/dev/other","type":"c","major":1,"minor":3,"uid":4000}]}})");
  const crumble::oci::Bundle b = crumble::oci::read_bundle(dir);
  using R = crumble::vm::ContainerRequest::IdRange;
  auto same = [](const std::vector<R>& a, const std::vector<R>& w) {
    return a.size() == w.size() && std::equal(a.begin(), a.end(), w.begin(), [](const R& x, const R& y) {
             return x.inside == y.inside && x.outside == y.outside && x.count == y.count;
           });
  };
  CHECK(same(b.spec.uid_map, {{0, 1000, 2000}, {5000, 200000, 1}}));
  CHECK(same(b.spec.gid_map, {{0, 3000, 2000}}));
  CHECK(b.ignored.empty());  // the maps are applied, not passed over
  // linux.devices' owners are the container's ids: the node is made by the guest's root, owned by
  // what they map to (an id no range maps stays as given: it shows as nobody inside)
  auto device = [&](const std::string& path) {
    return *std::find_if(b.spec.devices.begin(), b.spec.devices.end(), [&](const crumble::container::Device& d) { return d.guest == path; });
  };
  CHECK(device("/dev/fuse").uid == 1007u);
  CHECK(device("/dev/fuse").gid == 3008u);
  CHECK(device("/dev/other").uid == 4000u);
  fs::remove_all(dir);
}

TEST_CASE("oci bundle: a bad config.json is refused with the JSON path of the problem") {
  struct Case {
    std::string what, config, says;
  };
  const std::string root = R"("root":{"path":"rootfs"})";
  const std::vector<Case> cases = {
      {"not JSON", "{", "not JSON"},
      {"not an object", "[]", "(top): expected an object"},
      {"no root", "{" + ok_process + "}", "root: missing"},
      {"root.path not a string", R"({"root":{"path":7},)" + ok_process + "}", "root.path: expected string, got number"},
      {"root.path missing on disk", R"({"root":{"path":"nope"},)" + ok_process + "}", "root.path: "},
      {"no process", "{" + root + "}", "process: missing"},
      {"args with a number", "{" + root + R"(,"process":{"args":["sh",1]}})", "process.args[1]: expected a string, got number"},
      {"empty args", "{" + root + R"(,"process":{"args":[]}})", "process.args: empty"},
      {"relative cwd", "{" + root + R"(,"process":{"args":["sh"],"cwd":"srv"}})", "process.cwd: \"srv\" is not absolute"},
      {"negative uid", "{" + root + R"(,"process":{"args":["sh"],"user":{"uid":-1}}})", "process.user.uid: expected an id"},
      {"uid past 32 bits", "{" + root + R"(,"process":{"args":["sh"],"user":{"uid":4294967296}}})", "process.user.uid: expected an id"},
      {"fractional gid", "{" + root + R"(,"process":{"args":["sh"],"user":{"gid":1.5}}})", "process.user.gid: expected an id"},
      {"a user namespace without maps", "{" + root + "," + ok_process + R"(,"linux":{"namespaces":[{"type":"user"}]}})",
       "linux.uidMappings: missing or empty: the user namespace in linux.namespaces needs it"},
      {"a user namespace without a gid map", "{" + root + "," + ok_process +
       R"(,"linux":{"namespaces":[{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":1,"size":1}]}})",
       "linux.gidMappings: missing or empty"},
      {"maps without a user namespace", "{" + root + "," + ok_process +
       R"(,"linux":{"uidMappings":[{"containerID":0,"hostID":1,"size":1}],"gidMappings":[{"containerID":0,"hostID":1,"size":1}]}})",
       "linux.uidMappings: given without a user namespace in linux.namespaces"},
      {"a mapping without its size", "{" + root + "," + ok_process +
       R"(,"linux":{"namespaces":[{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":1}]}})", "linux.uidMappings[0].size: missing"},
      {"a mapping past 32 bits", "{" + root + "," + ok_process +
       R"(,"linux":{"namespaces":[{"type":"user"}],"gidMappings":[{"containerID":0,"hostID":4294967296,"size":1}]}})",
       "linux.gidMappings[0].hostID: expected a whole number from 0 to 4294967295, got 4294967296"},
      {"a mapping that is a list", "{" + root + "," + ok_process + R"(,"linux":{"namespaces":[{"type":"user"}],"uidMappings":[[0,1,1]]}})",
       "linux.uidMappings[0]: expected an object, got array"},
  };
  for (const Case& c : cases) {
    const fs::path dir = bundle(c.config);
    INFO(c.what);
    try {
      (void)crumble::oci::read_bundle(dir);
      FAIL("accepted");
    } catch (const crumble::oci::BundleError& e) {
      CHECK_THAT(e.what(), Contains("config.json: " + c.says) || Contains(c.says));
      CHECK_THAT(e.what(), Contains((dir / "config.json").string()));
    }
    fs::remove_all(dir);
  }
  CHECK_THROWS_WITH(crumble::oci::read_bundle("/nonexistent-bundle"), Contains("cannot be read"));
}

// ---- mounts -----------------------------------------------------------------------------------

namespace {

// A mount entry as JSON.
std::string mount(const std::string& type, const std::string& source, const std::string& dest, const std::string& options) {
  return R"({"destination":")" + dest + R"(","type":")" + type + R"(","source":")" + source + R"(","options":[)" + options + "]}";
}

std::string with_mounts(const std::vector<std::string>& mounts) {
  std::string list;
  for (const std::string& m : mounts) list += (list.empty() ? "" : ",") + m;
  return R"({"root":{"path":"rootfs"},)" + ok_process + R"(,"mounts":[)" + list + "]}";
}

// The bundle with `files` (name, bytes) beside config.json, a directory data/ and a unix socket.
fs::path bundle_with_files(const std::string& config, const std::vector<std::pair<std::string, std::size_t>>& files = {}) {
  const fs::path dir = bundle(config);
  fs::create_directories(dir / "data");
  for (const auto& [name, bytes] : files) std::ofstream(dir / name) << std::string(bytes, 'x');
  return dir;
}

bool any_contains(const std::vector<std::string>& v, const std::string& s) {
  for (const std::string& x : v)
    if (x.find(s) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("oci bundle: podman's mounts: single files copied in with their mode and owner, the guest's own for the rest, nothing shared live") {
  // what podman 4.3 passes for `podman run --rm IMG` (docs/oci-runtime.md), its userdata files here
  const fs::path dir = bundle_with_files("{}", {{"hostname", 12}, {"resolv.conf", 25}, {"hosts", 127}, {".containerenv", 0}});
  fs::create_directories(dir / "shm");
  // podman's shm directory is a tmpfs of --shm-size (64m by default): 10m here, which the
  // guest's /dev/shm takes over
  REQUIRE(::mount("shm", (dir / "shm").c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=10m,mode=1777") == 0);
  struct Unmount {  // however the test ends
    fs::path at;
    ~Unmount() { ::umount2(at.c_str(), MNT_DETACH); }
  } unmount{dir / "shm"};
  for (const char* f : {"hostname", "resolv.conf", "hosts", ".containerenv"}) REQUIRE(::chmod((dir / f).c_str(), 0644) == 0);
  REQUIRE(::chown((dir / "hosts").c_str(), 1000, 50) == 0);
  REQUIRE(::chmod((dir / "hosts").c_str(), 0640) == 0);
  const std::string d = dir.string();
  std::ofstream(dir / "config.json") << with_mounts({
      mount("proc", "proc", "/proc", R"("nosuid","noexec","nodev")"),
      mount("tmpfs", "tmpfs", "/dev", R"("nosuid","noexec","strictatime","mode=755","size=65536k")"),
      mount("sysfs", "sysfs", "/sys", R"("nosuid","noexec","nodev","ro")"),
      mount("devpts", "devpts", "/dev/pts", R"("nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5")"),
      mount("mqueue", "mqueue", "/dev/mqueue", R"("nosuid","noexec","nodev")"),
      mount("bind", d + "/hostname", "/etc/hostname", R"("bind","rprivate")"),
      mount("bind", d + "/resolv.conf", "/etc/resolv.conf", R"("bind","rprivate")"),
      mount("bind", d + "/hosts", "/etc/hosts", R"("bind","rprivate")"),
      mount("bind", d + "/shm", "/dev/shm", R"("bind","rprivate","nosuid","noexec","nodev")"),
      mount("bind", d + "/.containerenv", "/run/.containerenv", R"("bind","rprivate")"),
      mount("cgroup", "cgroup", "/sys/fs/cgroup", R"("rprivate","nosuid","noexec","nodev","relatime","ro")"),
  });
  const crumble::oci::Bundle b = crumble::oci::read_bundle(dir);
  struct Copied {
    std::string guest, host;
    std::uint32_t mode, uid, gid;
  };
  const std::vector<Copied> want = {{"/etc/hostname", "hostname", 0644, 0, 0},
                                    {"/etc/resolv.conf", "resolv.conf", 0644, 0, 0},
                                    {"/etc/hosts", "hosts", 0640, 1000, 50},
                                    {"/run/.containerenv", ".containerenv", 0644, 0, 0}};
  REQUIRE(b.spec.files.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO(want[i].guest);
    CHECK(b.spec.files[i].guest == want[i].guest);
    CHECK(b.spec.files[i].host == dir / want[i].host);
    CHECK(b.spec.files[i].content.empty());  // read when the container is made
    CHECK(b.spec.files[i].mode == want[i].mode);
    CHECK(b.spec.files[i].uid == want[i].uid);
    CHECK(b.spec.files[i].gid == want[i].gid);
    CHECK(!b.spec.files[i].read_only);
  }
  CHECK(b.spec.volumes.empty());  // nothing shared live: the VM restores from its snapshot
  CHECK(b.spec.tmpfs.empty());
  CHECK(b.notes.empty());
  // the file systems, in config.json's order, with their options; podman's shm directory a tmpfs
  const std::vector<crumble::container::Mount> mounted = {{"/proc", "proc", "proc", "", false, true, true, true},
                                        {"/dev", "tmpfs", "tmpfs", "mode=755,size=65536k", false, true, false, true},
                                        {"/sys", "sysfs", "sysfs", "", true, true, true, true},
                                        {"/dev/pts", "devpts", "devpts", "newinstance,ptmxmode=0666,mode=0620,gid=5", false, true, false, true},
                                        {"/dev/mqueue", "mqueue", "mqueue", "", false, true, true, true},
                                        {"/dev/shm", "tmpfs", "shm", "mode=1777,size=10240k", false, true, true, true}};
  REQUIRE(b.spec.mounts);
  REQUIRE(b.spec.mounts->size() == mounted.size());
  for (std::size_t i = 0; i < mounted.size(); ++i) {
    INFO(mounted[i].guest);
    CHECK((*b.spec.mounts)[i] == mounted[i]);
  }
  // said precisely: the two the VM serves otherwise or not at all
  REQUIRE(b.ignored.size() == 2);
  CHECK_THAT(b.ignored[0], Contains("mounts[8] (bind " + d + "/shm on /dev/shm): the container has a tmpfs of the VM's own at /dev/shm"));
  CHECK_THAT(b.ignored[1], Contains("mounts[10] (cgroup cgroup on /sys/fs/cgroup): not mounted"));
  CHECK(::umount2((dir / "shm").c_str(), MNT_DETACH) == 0);
  fs::remove_all(dir);
}

TEST_CASE("oci bundle: each kind of mount, and how it is served") {
  struct Row {
    std::string what, mount;
    std::size_t files, volumes, mounts;  // mounts: besides the tmpfs at /dev every container gets
    std::string ignored, note;  // a line of each that contains this ("": none at all)
  };
  const std::vector<Row> rows = {
      {"a file bind, read-only", mount("bind", "hosts", "/etc/hosts", R"("rbind","ro")"), 1, 0, 0, "", ""},
      {"a file bind by option alone, relative to the bundle", mount("none", "hosts", "/etc/hosts", R"("bind")"), 1, 0, 0, "", ""},
      {"a relative destination, taken from /", mount("bind", "hosts", "etc//x/", R"("bind")"), 1, 0, 0, "", ""},
      {"a directory bind: a volume, a cold boot", mount("bind", "data", "/data", R"("rbind","ro")"), 0, 1, 0, "", "boots cold"},
      {"a directory bind with flags a volume does not carry", mount("bind", "data", "/data", R"("rbind","nosuid","noexec")"), 0, 1, 0,
       "options nosuid,noexec", "boots cold"},
      {"a tmpfs elsewhere, with options (tmpcopyup: the root has nothing there to copy)",
       mount("tmpfs", "tmpfs", "/scratch", R"("size=10m","mode=1777","rw","rprivate","nosuid","nodev","tmpcopyup")"), 0, 0, 1, "", ""},
      {"containerd's tmpfs at /dev/shm", mount("tmpfs", "shm", "/dev/shm", R"("nosuid","noexec","nodev","mode=1777","size=65536k")"), 0, 0, 1, "", ""},
      {"proc at /proc", mount("proc", "proc", "/proc", ""), 0, 0, 1, "", ""},
      {"devpts at /dev/pts", mount("devpts", "devpts", "/dev/pts", R"("newinstance","gid=5")"), 0, 0, 1, "", ""},
      {"proc elsewhere", mount("proc", "proc", "/other/proc", ""), 0, 0, 1, "", ""},
      {"mqueue", mount("mqueue", "mqueue", "/dev/mqueue", R"("nosuid")"), 0, 0, 1, "", ""},
      {"a cgroup file system: the VM's own", mount("cgroup", "cgroup", "/sys/fs/cgroup", R"("ro")"), 0, 0, 0, "(cgroup cgroup on /sys/fs/cgroup): not mounted", ""},
      {"an unknown type", mount("ext4", "/dev/sdz", "/mnt/disk", ""), 0, 0, 0, "(ext4 /dev/sdz on /mnt/disk): not mounted (type ext4", ""},
      {"a socket", mount("bind", "sock", "/run/app.sock", R"("bind")"), 0, 0, 0, "a VM cannot share it", ""},
  };
  for (const Row& row : rows) {
    INFO(row.what << ": " << row.mount);
    const fs::path dir = bundle_with_files(with_mounts({row.mount}), {{"hosts", 10}});
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string sock = (dir / "sock").string();
    REQUIRE(sock.size() < sizeof addr.sun_path);
    std::memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const crumble::oci::Bundle b = crumble::oci::read_bundle(dir);
    ::close(fd);
    CHECK(b.spec.files.size() == row.files);
    CHECK(b.spec.volumes.size() == row.volumes);
    REQUIRE(b.spec.mounts);
    CHECK(b.spec.mounts->size() == row.mounts + 1);
    CHECK(b.spec.mounts->front().guest == "/dev");
    CHECK(b.spec.tmpfs.empty());  // the CLI's; config.json's are among the mounts, in order
    if (row.ignored.empty()) CHECK(b.ignored.empty());
    else CHECK(any_contains(b.ignored, row.ignored));
    if (row.note.empty()) CHECK(b.notes.empty());
    else CHECK(any_contains(b.notes, row.note));
    fs::remove_all(dir);
  }
}

// tmpcopyup (podman adds it to every --tmpfs): the root's files at the destination belong in the
// new tmpfs. crumble-runtime cannot copy them there, so it is honoured only where there is
// nothing to copy, refused where there is, and logged as not applied where a symlink on the way
// (not followed: it could lead out of the root) leaves it unknown.
TEST_CASE("oci bundle: a tmpfs with tmpcopyup is mounted where the root has nothing to copy, refused where it has files") {
  struct Row {
    std::string what;
    std::function<void(const fs::path& rootfs)> make;
    std::string refused, ignored;  // "": not refused, nothing logged
  };
  const std::vector<Row> rows = {
      {"no such directory in the root", [](const fs::path&) {}, "", ""},
      {"an empty directory", [](const fs::path& r) { fs::create_directories(r / "scratch"); }, "", ""},
      {"a directory with a file",
       [](const fs::path& r) {
         fs::create_directories(r / "scratch");
         std::ofstream(r / "scratch/kept") << "x";
       },
       "mounts[0].options: tmpcopyup: the root has files under /scratch that the tmpfs would hide", ""},
      {"a file where the directory would be", [](const fs::path& r) { std::ofstream(r / "scratch") << "x"; }, "tmpcopyup: the root has files", ""},
      {"a symlink on the way, to a host directory with files",
       [](const fs::path& r) { fs::create_directory_symlink("/etc", r / "scratch"); }, "", "options tmpcopyup"},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    const fs::path dir = bundle_with_files(with_mounts({mount("tmpfs", "tmpfs", "/scratch", R"("size=10m","nosuid","tmpcopyup")")}));
    row.make(dir / "rootfs");
    if (!row.refused.empty()) {
      CHECK_THROWS_WITH(crumble::oci::read_bundle(dir), Contains(row.refused) && Contains("--tmpfs /scratch:notmpcopyup"));
    } else {
      const crumble::oci::Bundle b = crumble::oci::read_bundle(dir);
      REQUIRE(b.spec.mounts);
      REQUIRE(b.spec.mounts->size() == 2);
      CHECK((*b.spec.mounts)[1].guest == "/scratch");
      CHECK((*b.spec.mounts)[1].options == "size=10m");
      if (row.ignored.empty()) CHECK(b.ignored.empty());
      else CHECK(any_contains(b.ignored, row.ignored));
    }
    fs::remove_all(dir);
  }
}

TEST_CASE("oci bundle: what a mount asks for reaches the spec: read-only, flags, tmpfs options, the destination made clean") {
  const fs::path dir = bundle_with_files(with_mounts({mount("bind", "hosts", "etc//x/", R"("rbind","ro","nosuid","nodev","noexec")"),
                                                      mount("bind", "data", "/data", R"("rbind","ro")"),
                                                      mount("tmpfs", "tmpfs", "/scratch", R"("size=10m","mode=1777","nosuid","ro","tmpcopyup")")}),
                                         {{"hosts", 10}});
  const crumble::oci::Bundle b = crumble::oci::read_bundle(dir);
  REQUIRE(b.spec.files.size() == 1);
  CHECK(b.spec.files[0].guest == "/etc/x");
  CHECK(b.spec.files[0].host == dir / "hosts");
  CHECK((b.spec.files[0].read_only && b.spec.files[0].nosuid && b.spec.files[0].nodev && b.spec.files[0].noexec));
  REQUIRE(b.spec.volumes.size() == 1);
  CHECK(b.spec.volumes[0].host == dir / "data");
  CHECK(b.spec.volumes[0].guest == "/data");
  CHECK(b.spec.volumes[0].read_only);
  REQUIRE(b.spec.mounts);
  REQUIRE(b.spec.mounts->size() == 2);  // after the tmpfs at /dev every container gets
  const crumble::container::Mount& t = (*b.spec.mounts)[1];
  CHECK(t.guest == "/scratch");
  CHECK(t.type == "tmpfs");
  CHECK(t.options == "size=10m,mode=1777");
  CHECK((t.read_only && t.nosuid && !t.nodev && !t.noexec));
  fs::remove_all(dir);
}

TEST_CASE("oci bundle: a mount that cannot be served is refused, named by its JSON path") {
  struct Case {
    std::string what;
    std::vector<std::string> mounts;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"a file past the per-file limit", {mount("bind", "big", "/etc/big", R"("bind")")}, "is 262145 bytes: a file bind is copied into the VM, at most 262144"},
      {"files past the total", {mount("bind", "f200a", "/a", ""), mount("bind", "f200b", "/b", ""), mount("bind", "f200c", "/c", ""), mount("bind", "f200d", "/d", "")},
       "mounts[3]: the file"},
      {"a missing source", {mount("bind", "nope", "/x", "")}, "mounts[0].source: "},
      {"a bind without a source", {R"({"destination":"/x","type":"bind"})"}, "mounts[0].source: missing"},
      {"no destination", {R"({"type":"tmpfs","source":"tmpfs"})"}, "mounts[0].destination: missing"},
      {"a destination with ..", {mount("tmpfs", "tmpfs", "/a/../../b", "")}, "mounts[0].destination: \"/a/../../b\" has a . or .. component"},
      {"the root itself", {mount("tmpfs", "tmpfs", "/", "")}, "mounts[0].destination: a mount cannot replace the container's root"},
      {"a mount that is no object", {"7"}, "mounts[0]: expected an object"},
      {"an option that is no string", {R"({"destination":"/x","type":"tmpfs","options":["ro",1]})"}, "mounts[0].options[1]: expected a string"},
      {"a type that is no string", {R"({"destination":"/x","type":5})"}, "mounts[0].type: expected string"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    const fs::path dir = bundle_with_files(with_mounts(c.mounts), {{"big", (256 << 10) + 1}, {"f200a", 200 << 10}, {"f200b", 200 << 10},
                                                                     {"f200c", 200 << 10}, {"f200d", 200 << 10}});
    try {
      (void)crumble::oci::read_bundle(dir);
      FAIL("accepted");
    } catch (const crumble::oci::BundleError& e) {
      CHECK_THAT(e.what(), Contains(c.says));
    }
    fs::remove_all(dir);
  }
  const fs::path dir = bundle(R"({"root":{"path":"rootfs"},)" + ok_process + R"(,"mounts":{}})");
  CHECK_THROWS_WITH(crumble::oci::read_bundle(dir), Contains("mounts: expected array"));
  fs::remove_all(dir);
}

// ---- resources and io.crumble annotations ------------------------------------------------------

TEST_CASE("oci bundle: memory and CPU limits size the VM, io.crumble annotations override them") {
  struct Row {
    std::string what, linux_, annotations;
    std::uint32_t memory_mib;
    int vcpus;
    std::string ignored;  // a line that contains this ("": none)
  };
  const std::vector<Row> rows = {
      {"none: the defaults", "{}", "{}", 256, 1, ""},
      {"podman --memory 512m --cpus 1.5", R"({"resources":{"memory":{"limit":536870912,"swap":1073741824},"cpu":{"quota":150000,"period":100000}}})", "{}", 512, 2, ""},
      {"a limit in bytes rounded up to MiB", R"({"resources":{"memory":{"limit":314572801}}})", "{}", 301, 1, ""},
      {"a limit below the floor is raised, and said", R"({"resources":{"memory":{"limit":67108864}}})", "{}", 256, 1, "the VM gets 256 MiB"},
      {"unlimited (-1)", R"({"resources":{"memory":{"limit":-1}}})", "{}", 256, 1, ""},
      {"a quota without a period: the kernel's 100000", R"({"resources":{"cpu":{"quota":250000}}})", "{}", 256, 3, ""},
      {"a cpuset list", R"({"resources":{"cpu":{"cpus":"0-2,5"}}})", "{}", 256, 4, ""},
      {"more CPUs than a VM gets", R"({"resources":{"cpu":{"cpus":"0-63"}}})", "{}", 256, 16, "the VM gets 16"},
      {"annotations over resources", R"({"resources":{"memory":{"limit":536870912}}})", R"({"io.crumble.memory":"1024","io.crumble.cpus":"2"})", 1024, 2, ""},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    const fs::path dir = bundle(R"({"root":{"path":"rootfs"},)" + ok_process + R"(,"linux":)" + row.linux_ + R"(,"annotations":)" + row.annotations + "}");
    const crumble::oci::Bundle b = crumble::oci::read_bundle(dir);
    CHECK(b.spec.vm.memory_mib == row.memory_mib);
    CHECK(b.spec.vm.vcpus == row.vcpus);
    if (!row.ignored.empty()) CHECK(any_contains(b.ignored, row.ignored));
    else CHECK(b.ignored.empty());  // memory and cpu are applied; a VM needs nothing else of linux
    fs::remove_all(dir);
  }
  const fs::path dir = bundle(R"({"root":{"path":"rootfs"},)" + ok_process + R"(,"annotations":{"io.crumble.engine":"qemu","io.crumble.snapshot":"off"}})");
  const crumble::oci::Bundle b = crumble::oci::read_bundle(dir);
  CHECK(b.spec.vm.engine == crumble::vm::Engine::qemu);
  CHECK(b.spec.vm.snapshot == crumble::vm::SnapshotMode::off);
  fs::remove_all(dir);
}

TEST_CASE("oci bundle: bad resources and io.crumble annotations are refused by their JSON path") {
  struct Case {
    std::string linux_, annotations, says;
  };
  const std::vector<Case> cases = {
      {R"({"resources":{"memory":{"limit":"1g"}}})", "{}", "linux.resources.memory.limit: expected a whole number of bytes"},
      {R"({"resources":{"cpu":{"quota":1.5}}})", "{}", "linux.resources.cpu.quota: expected a whole number"},
      {R"({"resources":{"cpu":{"cpus":"3-1"}}})", "{}", "linux.resources.cpu.cpus: \"3-1\" is not a CPU list"},
      {R"({"resources":{"cpu":{"cpus":"a"}}})", "{}", "linux.resources.cpu.cpus: \"a\" is not a CPU list"},
      {"{}", R"({"io.crumble.memory":"128"})", "annotations.io.crumble.memory: \"128\": expected a whole number from 256"},
      {"{}", R"({"io.crumble.memory":"12x"})", "annotations.io.crumble.memory: \"12x\""},
      {"{}", R"({"io.crumble.cpus":"0"})", "annotations.io.crumble.cpus: \"0\": expected a whole number from 1 to 16"},
      {"{}", R"({"io.crumble.cpus":2})", "annotations.io.crumble.cpus: expected a string"},
      {"{}", R"({"io.crumble.engine":"kvm"})", "annotations.io.crumble.engine: \"kvm\": expected automatic or qemu"},
      {"{}", R"({"io.crumble.snapshot":"sometimes"})", "annotations.io.crumble.snapshot: \"sometimes\": expected off, early or late"},
  };
  for (const Case& c : cases) {
    INFO(c.says);
    const fs::path dir = bundle(R"({"root":{"path":"rootfs"},)" + ok_process + R"(,"linux":)" + c.linux_ + R"(,"annotations":)" + c.annotations + "}");
    CHECK_THROWS_WITH(crumble::oci::read_bundle(dir), Contains(c.says));
    fs::remove_all(dir);
  }
}

TEST_CASE("oci bundle: capabilities, rlimits, oomScoreAdj and additionalGids become the process's exactly") {
  const fs::path dir = bundle(R"({"root":{"path":"rootfs"},"process":{"args":["sh"],"user":{"uid":1000,"gid":100,"additionalGids":[27,1000]},
    "capabilities":{"bounding":["CAP_CHOWN","CAP_KILL","CAP_NET_BIND_SERVICE"],"effective":["CAP_KILL"],"permitted":["CAP_KILL","CAP_CHOWN"],
                    "inheritable":["CAP_NET_BIND_SERVICE"],"ambient":["CAP_NET_BIND_SERVICE","CAP_CHECKPOINT_RESTORE","CAP_FROM_THE_FUTURE"]},
    "rlimits":[{"type":"RLIMIT_NOFILE","soft":1024,"hard":4096},{"type":"RLIMIT_RTTIME","soft":0,"hard":18446744073709551615}],
    "oomScoreAdj":-999}})");
  const crumble::oci::Bundle b = crumble::oci::read_bundle(dir);
  // the numbers are <linux/capability.h>'s and <sys/resource.h>'s
  const std::uint64_t chown = 1ull << 0, kill = 1ull << 5, bind = 1ull << 10, checkpoint = 1ull << 40;
  REQUIRE(b.spec.capabilities);
  CHECK(*b.spec.capabilities == crumble::vm::Capabilities{chown | kill | bind, kill, kill | chown, bind, bind | checkpoint});
  CHECK(b.spec.rlimits == std::vector<crumble::vm::ResourceLimit>{{7, 1024, 4096}, {15, 0, ~0ull}});
  CHECK(b.spec.oom_score_adj == -999);
  CHECK(b.spec.groups == std::vector<std::uint32_t>{27, 1000});
  // a name this runtime does not know is left out and said, as runc does
  REQUIRE(b.ignored.size() == 1);
  CHECK_THAT(b.ignored[0], Contains("process.capabilities.ambient: unknown capability CAP_FROM_THE_FUTURE"));
  fs::remove_all(dir);

  // without them: the user's groups, no capabilities at all (runc's empty set), the guest's limits
  const fs::path bare = bundle(R"({"root":{"path":"rootfs"},"process":{"args":["sh"]}})");
  const crumble::oci::Bundle none = crumble::oci::read_bundle(bare);
  CHECK(none.spec.capabilities == crumble::vm::Capabilities{});
  CHECK(none.spec.rlimits.empty());
  CHECK(!none.spec.oom_score_adj);
  CHECK(!none.spec.groups);
  fs::remove_all(bare);
}

TEST_CASE("oci bundle: bad capabilities, rlimits, oomScoreAdj and additionalGids are refused by their JSON path") {
  struct Case {
    std::string what, process, says;
  };
  const std::vector<Case> cases = {
      {"capabilities not an object", R"("capabilities":[])", "process.capabilities: expected object"},
      {"a set with a number", R"("capabilities":{"bounding":["CAP_KILL",5]})", "process.capabilities.bounding[1]: expected a string"},
      {"an unknown rlimit", R"("rlimits":[{"type":"RLIMIT_FOO","soft":1,"hard":1}])", "process.rlimits[0].type: \"RLIMIT_FOO\""},
      {"a negative rlimit", R"("rlimits":[{"type":"RLIMIT_NOFILE","soft":-1,"hard":1}])", "process.rlimits[0].soft: expected a whole number"},
      {"an rlimit type not a string", R"("rlimits":[{"type":7,"soft":1,"hard":1}])", "process.rlimits[0].type: expected a string"},
      {"an rlimit without hard", R"("rlimits":[{"type":"RLIMIT_NOFILE","soft":1}])", "process.rlimits[0].hard: expected a whole number"},
      {"soft above hard", R"("rlimits":[{"type":"RLIMIT_NOFILE","soft":9,"hard":1}])", "process.rlimits[0]: soft 9 is above hard 1"},
      {"an rlimit twice", R"("rlimits":[{"type":"RLIMIT_NOFILE","soft":1,"hard":1},{"type":"RLIMIT_NOFILE","soft":2,"hard":2}])",
       "process.rlimits[1].type: RLIMIT_NOFILE is given twice"},
      {"oomScoreAdj 1001", R"("oomScoreAdj":1001)", "process.oomScoreAdj: expected a whole number from -1000 to 1000"},
      {"oomScoreAdj fractional", R"("oomScoreAdj":0.5)", "process.oomScoreAdj: expected a whole number"},
      {"a negative additional gid", R"("user":{"uid":0,"additionalGids":[-2]})", "process.user.additionalGids[0]: expected an id"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    const fs::path dir = bundle(R"({"root":{"path":"rootfs"},"process":{"args":["sh"],)" + c.process + "}}");
    CHECK_THROWS_WITH(crumble::oci::read_bundle(dir), Contains(c.says));
    fs::remove_all(dir);
  }
}

TEST_CASE("oci bundle: devices (runc's defaults, then linux.devices), symlinks, sysctls, read-only and masked paths, a read-only root") {
  const fs::path dir = bundle(R"({"root":{"path":"rootfs","readonly":true},)" + ok_process + R"(,
    "mounts":[{"destination":"/proc","type":"proc","source":"proc"}],"linux":{
      "devices":[{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":432,"uid":1000,"gid":5},
                 {"path":"/dev/null","type":"u","major":1,"minor":3,"fileMode":438},
                 {"path":"/dev/sda","type":"b","major":8,"minor":0},
                 {"path":"/dev/queue","type":"p"}],
      "sysctl":{"net.ipv4.ip_forward":"1","kernel.shmmax":"4096"},
      "readonlyPaths":["/proc/sys","/proc/bus"],
      "maskedPaths":["/proc/kcore","/sys/firmware"],
      "seccomp":{"defaultAction":"SCMP_ACT_ALLOW"}}})");
  const crumble::oci::Bundle b = crumble::oci::read_bundle(dir);
  // runc's defaults but the one the config names again, then the config's in order
  const std::vector<crumble::container::Device> want = {{"/dev/zero", 'c', 1, 5, 0666, 0, 0},     {"/dev/full", 'c', 1, 7, 0666, 0, 0},
                                 {"/dev/random", 'c', 1, 8, 0666, 0, 0},   {"/dev/urandom", 'c', 1, 9, 0666, 0, 0},
                                 {"/dev/tty", 'c', 5, 0, 0666, 0, 0},      {"/dev/fuse", 'c', 10, 229, 0660, 1000, 5},
                                 {"/dev/null", 'c', 1, 3, 0666, 0, 0},     {"/dev/sda", 'b', 8, 0, 0666, 0, 0},
                                 {"/dev/queue", 'p', 0, 0, 0666, 0, 0}};
  REQUIRE(b.spec.devices.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO(want[i].guest);
    CHECK(b.spec.devices[i] == want[i]);
  }
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  CHECK(b.spec.symlinks == Pairs{{"/dev/fd", "/proc/self/fd"}, {"/dev/stdin", "/proc/self/fd/0"}, {"/dev/stdout", "/proc/self/fd/1"},
                                 {"/dev/stderr", "/proc/self/fd/2"}, {"/dev/ptmx", "pts/ptmx"}});
  CHECK(b.spec.sysctl == Pairs{{"kernel.shmmax", "4096"}, {"net.ipv4.ip_forward", "1"}});  // JSON's order of keys
  CHECK(b.spec.readonly_paths == std::vector<std::string>{"/proc/sys", "/proc/bus"});
  CHECK(b.spec.masked_paths == std::vector<std::string>{"/proc/kcore", "/sys/firmware"});
  CHECK(b.spec.root_readonly);
  CHECK(b.root_readonly);
  // /dev: a tmpfs when config.json gives none, so the nodes are not written into the root
  REQUIRE(b.spec.mounts);
  REQUIRE(b.spec.mounts->size() == 2);
  CHECK((*b.spec.mounts)[0].guest == "/dev");  // first: the config's own go on it
  CHECK((*b.spec.mounts)[0].type == "tmpfs");
  CHECK((*b.spec.mounts)[1].guest == "/proc");
  // what is not applied is named
  CHECK(b.ignored == std::vector<std::string>{"linux.seccomp"});
  fs::remove_all(dir);
}

TEST_CASE("oci bundle: bad devices, sysctls and paths are refused by their JSON path") {
  struct Case {
    std::string linux_, error;
  };
  const std::vector<Case> cases = {
      {R"("devices":[{"type":"c","major":1,"minor":3}])", "linux.devices[0].path: missing or not absolute"},
      {R"("devices":[{"path":"dev/x","type":"c","major":1,"minor":3}])", "linux.devices[0].path: missing or not absolute"},
      {R"("devices":[{"path":"/dev/../etc/x","type":"c","major":1,"minor":3}])", "linux.devices[0].path: \"/dev/../etc/x\" has a . or .. component"},
      {R"("devices":[{"path":"/dev/x","type":"s","major":1,"minor":3}])", "linux.devices[0].type: \"s\": expected c, b, u or p"},
      {R"("devices":[{"path":"/dev/x","type":"c","minor":3}])", "linux.devices[0].major: missing: a c device needs one"},
      {R"("devices":[{"path":"/dev/x","type":"c","major":4096,"minor":3}])", "linux.devices[0].major: expected a whole number from 0 to 4095"},
      {R"("devices":[{"path":"/dev/x","type":"b","major":8,"minor":1048576}])", "linux.devices[0].minor: expected a whole number from 0 to 1048575"},
      {R"("devices":[{"path":"/dev/x","type":"c","major":1,"minor":3,"fileMode":4096}])", "linux.devices[0].fileMode: expected a whole number from 0 to 4095"},
      {R"("devices":[{"path":"/dev/x","type":"c","major":1,"minor":3,"uid":-1}])", "linux.devices[0].uid: expected a whole number"},
      {R"("devices":[1])", "linux.devices[0]: expected an object"},
      {R"("sysctl":{"net.ipv4.ip_forward":1})", "linux.sysctl.net.ipv4.ip_forward: expected a string, got number"},
      {R"("sysctl":{"net.ipv4.ip_forward":"1"})", "linux.sysctl: needs a proc mount at /proc"},
      {R"("sysctl":[])", "linux.sysctl: expected object"},
      {R"("maskedPaths":["proc/kcore"])", "linux.maskedPaths[0]: \"proc/kcore\" is not absolute"},
      {R"("maskedPaths":["/"])", "linux.maskedPaths[0]: a mount cannot replace the container's root"},
      {R"("readonlyPaths":["/proc/../etc"])", "linux.readonlyPaths[0]: \"/proc/../etc\" has a . or .. component"},
      {R"("readonlyPaths":[7])", "linux.readonlyPaths[0]: expected a string"},
  };
  for (const Case& k : cases) {
    INFO(k.linux_);
    const fs::path dir = bundle(R"({"root":{"path":"rootfs"},)" + ok_process + R"(,"linux":{)" + k.linux_ + "}}");
    try {
      (void)crumble::oci::read_bundle(dir);
      FAIL("accepted");
    } catch (const crumble::oci::BundleError& e) {
      CHECK_THAT(e.what(), Contains(k.error));
    }
    fs::remove_all(dir);
  }
}

TEST_CASE("oci bundle: a sysctl key that would leave /proc/sys is refused when the container is made") {
  // the key's dots become slashes (runc's way); what is left must name a file under /proc/sys
  for (const std::string key : {"..", "a..b", ".net", "net.", "/etc/passwd", "net/../../etc"}) {
    INFO(key);
    crumble::container::Spec spec;
    spec.rootfs = "/nonexistent-root";
    spec.sysctl = {{key, "1"}};
    CHECK_THROWS_WITH(crumble::container::Container(spec), Contains("the sysctl \"" + key + "\" is not a key under /proc/sys"));
  }
}
