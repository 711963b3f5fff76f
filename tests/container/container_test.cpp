// SPDX-License-Identifier: Apache-2.0
// tests/container/container_test.cpp — containers end to end (issue 14), as a user runs them: the
// `crumble` CLI (exit status, stdout, stderr) and crumble::container::Container, on real images made
// offline by umoci, skopeo and podman (make_images.hpp), in a real Debian guest under QEMU.
//
// The oracles: umoci's own unpack of the 3-layer image (what every layer's files and whiteouts must
// give), the host's file system (volume contents and owners, the --rootfs directory, the cached
// erofs file's sha256), /proc (is a QEMU of ours still alive?), and the image's /etc/passwd and
// /etc/group as the guest's `id` reads them.
//
// Everything runs with a private cache (XDG_CACHE_HOME: an empty root image cache, one snapshot
// directory that every case shares so most runs restore instead of booting cold, and a `kernels`
// link to the real cached kernel) and a private TMPDIR (so "our" QEMUs and temporary directories can
// be told from anyone else's). The file is one ctest (tests/container/CMakeLists.txt): its cases
// share that setup and run in order. Without the cached kernel, QEMU, mkfs.erofs or the image tools
// it prints SKIPPED and exits 4.
#include <catch2/catch.hpp>
#include <crumble/arch/arm64/target.hpp>
#include <crumble/assemble.hpp>
#include <crumble/container/container.hpp>
#include <crumble/ir/build.hpp>

#include "../vm/guest_skip.hpp"
#include "make_images.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <latch>
#include <set>
#include <sstream>
#include <thread>

namespace {

namespace fs = std::filesystem;
using namespace crumble::test;
using namespace std::chrono_literals;
using crumble::vm::TempDir;

// --- the shared world -------------------------------------------------------------------------

// A small image of our own, made by umoci like make_images.hpp's: busybox, a user database with
// supplementary groups (the 3-layer image has no /etc/group), Cmd `sh -c 'echo default'`.
fs::path make_users_image(const fs::path& d) {
  const fs::path layout = d / "users-layout";
  const std::string ref = layout.string() + ":u";
  tool({"umoci", "init", "--layout", layout.string()});
  tool({"umoci", "new", "--image", ref});
  const fs::path b = d / "users-bundle", r = b / "rootfs";
  tool({"umoci", "unpack", "--image", ref, b.string()});
  fs::create_directories(r / "bin");
  fs::copy_file("/bin/busybox", r / "bin/busybox");
  tool({"chroot", r.string(), "/bin/busybox", "--install", "-s", "/bin"});
  write_file(r / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\nguest:x:1001:1001::/:/bin/sh\n");
  write_file(r / "etc/group", "root:x:0:\nwheel:x:10:user\nstaff:x:50:user,root\nuser:x:1000:\nguest:x:1001:\n");
  write_file(r / "etc/marker", "users image\n");
  fs::create_directories(r / "home/user");
  if (::chown((r / "home/user").c_str(), 1000, 1000) != 0) throw std::runtime_error("chown failed");
  tool({"umoci", "repack", "--image", ref, b.string()});
  tool({"umoci", "config", "--image", ref, "--config.cmd", "/bin/sh", "--config.cmd", "-c", "--config.cmd", "echo default"});
  const fs::path archive = d / "users-oci.tar";
  tool({"skopeo", "copy", "oci:" + ref, "oci-archive:" + archive.string()});
  return archive;
}

// busybox and a few of its applets, as tar entries (hand-made images that can run a shell).
std::vector<TarEntry> busybox_entries() {
  std::vector<TarEntry> e = {dir_entry("bin"), file_entry("bin/busybox", read_file("/bin/busybox"), 0755)};
  for (const char* applet : {"sh", "cat", "ls", "rm", "echo", "test"}) e.push_back(symlink_entry(std::string("bin/") + applet, "busybox"));
  return e;
}

// A directory with busybox installed (a --rootfs root).
void make_busybox_dir(const fs::path& dir) {
  fs::create_directories(dir / "bin");
  fs::copy_file("/bin/busybox", dir / "bin/busybox");
  tool({"chroot", dir.string(), "/bin/busybox", "--install", "-s", "/bin"});
}

// The names in a directory (without the root cache's KEY.lock files when !with_locks).
std::set<std::string> names_in(const fs::path& dir, bool with_locks = true) {
  std::set<std::string> s;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (with_locks || !n.ends_with(".lock")) s.insert(n);
  }
  return s;
}

std::string joined(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ", ") + x;
  return out.empty() ? "(nothing)" : out;
}

struct World {
  TempDir dir{"crumble-e2e-"};
  fs::path xdg, roots, tmp, users_image;
  fs::path users_roots;                     // the user's own root image cache: never touched here
  std::set<std::string> users_roots_before;
  const ToolImages* images = nullptr;

  static World& get() {
    static World w;
    return w;
  }

 private:
  World() {
    const fs::path real_kernels = crumble::vm::cache_dir() / "kernels";  // the user's, before XDG_CACHE_HOME moves it
    users_roots = crumble::vm::cache_dir() / "roots";
    users_roots_before = names_in(users_roots);
    images = &ToolImages::get();                                          // skips (exit 4) without umoci, skopeo, podman, busybox
    users_image = make_users_image(dir.path());
    xdg = dir.path() / "xdg";
    roots = xdg / "crumble/roots";
    tmp = dir.path() / "tmp";
    fs::create_directories(xdg / "crumble");
    fs::create_directories(tmp);
    fs::create_symlink(real_kernels, xdg / "crumble/kernels");
    // The CLI children inherit both (run_process passes this environment on); so do this process's
    // Containers (cache_dir() and TempDir read them).
    ::setenv("XDG_CACHE_HOME", xdg.c_str(), 1);
    ::setenv("TMPDIR", tmp.c_str(), 1);
    (void)guest_kernel_or_skip();  // from the private cache, through the link
    if (std::system("command -v mkfs.erofs > /dev/null 2>&1") != 0) {
      std::cout << "SKIPPED: mkfs.erofs not found: root images need it (apt-get install erofs-utils)\n";
      std::exit(4);
    }
  }
};

// --- running the CLI ----------------------------------------------------------------------------

struct Cli {
  int status = -1;
  std::string out, err;
};
std::ostream& operator<<(std::ostream& os, const Cli& c) {
  return os << "status " << c.status << "\n--- stdout ---\n" << c.out << "--- stderr ---\n" << c.err;
}

Cli crumble_cli(const std::vector<std::string>& args, std::vector<std::string> prefix = {}) {
  World::get();
  std::vector<std::string> argv = std::move(prefix);
  argv.push_back(CRUMBLE_CLI);
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = crumble::vm::run_process(argv, std::chrono::seconds(240));
  return {r.status, r.out, r.err};
}

// `crumble run ARGS`; the caller checks the status.
Cli run(const std::vector<std::string>& args) {
  std::vector<std::string> a = {"run"};
  a.insert(a.end(), args.begin(), args.end());
  return crumble_cli(a);
}

bool built(const Cli& c) { return c.err.find("root image built") != std::string::npos; }

// --- the host's view ------------------------------------------------------------------------------

std::string slurp(const fs::path& p) { return read_file(p); }

// Running QEMUs of ours: command line or working directory under `root`.
std::vector<pid_t> qemus_in(const fs::path& root) {
  std::vector<pid_t> found;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string cmd = slurp(e.path() / "cmdline");
    if (cmd.find("qemu-system") == std::string::npos) continue;
    std::error_code ec;
    const std::string cwd = fs::read_symlink(e.path() / "cwd", ec).string();
    if (cmd.find(root.string()) != std::string::npos || (!ec && cwd.rfind(root.string(), 0) == 0)) found.push_back(std::stoi(name));
  }
  return found;
}

// The one cache entry added since `before` (its key).
std::string new_key(const std::set<std::string>& before) {
  std::string key;
  for (const auto& n : names_in(World::get().roots, false))
    if (!before.count(n)) {
      INFO("new entries in the root cache: " << n << (key.empty() ? "" : ", " + key));
      REQUIRE(key.empty());
      key = n;
    }
  REQUIRE(!key.empty());
  return key;
}

struct Owner {
  uid_t uid;
  gid_t gid;
};
Owner owner(const fs::path& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return {st.st_uid, st.st_gid};
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

// "uid=1000(user) gid=50(staff) groups=50(staff),10(wheel)" -> uid, gid and the set of group ids.
struct Id {
  std::string uid, gid;
  std::set<int> groups;
};
Id parse_id(const std::string& line) {
  Id id;
  std::istringstream in(line);
  for (std::string word; in >> word;) {
    if (word.rfind("uid=", 0) == 0) id.uid = word.substr(4);
    else if (word.rfind("gid=", 0) == 0) id.gid = word.substr(4);
    else if (word.rfind("groups=", 0) == 0) {
      std::istringstream g(word.substr(7));
      for (std::string one; std::getline(g, one, ',');) id.groups.insert(std::stoi(one));
    }
  }
  return id;
}

}  // namespace

// --- files of every layer ---------------------------------------------------------------------------

// What the guest sees of its root, per path: "type perm uid:gid size sha256" (size and sha256 for
// regular files, the target for symlinks), without the mount points the container init adds. The
// same from umoci's own unpack on the host is the oracle.
namespace {
const std::set<std::string> init_mount_points = {"dev", "proc", "run", "sys", "tmp"};

std::map<std::string, std::string> oracle_view(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    struct stat st {};
    REQUIRE(::lstat(it->path().c_str(), &st) == 0);
    char perm[16];
    std::snprintf(perm, sizeof perm, "%o", static_cast<unsigned>(st.st_mode & 07777));
    std::string d = (S_ISDIR(st.st_mode) ? "d " : S_ISLNK(st.st_mode) ? "l " : S_ISREG(st.st_mode) ? "f " : S_ISFIFO(st.st_mode) ? "p " : "? ");
    d += std::string(perm) + " " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
    if (S_ISREG(st.st_mode)) d += " " + std::to_string(st.st_size) + " " + crumble::container::sha256_file(it->path());
    if (S_ISLNK(st.st_mode)) d += " -> " + fs::read_symlink(it->path()).string();
    out["/" + it->path().lexically_relative(root).string()] = d;
  }
  return out;
}

// The guest script printing the same view: one `stat` line per path, one `sha256sum` per file, one
// `readlink` per symlink; parsed here.
const char* const guest_view_script =
    "find / -xdev ! -path / -exec stat -c 'S|%n|%f|%a|%u|%g|%s' {} + && "
    "find / -xdev -type f -exec sha256sum {} + | sed 's/^/H|/' && "
    "find / -xdev -type l | while read -r l; do echo \"L|$l|$(readlink \"$l\")\"; done";

std::map<std::string, std::string> guest_view(const std::string& out) {
  std::map<std::string, std::string> type, hash, target, size;
  for (const std::string& l : lines(out)) {
    if (l.rfind("S|", 0) == 0) {
      std::vector<std::string> f;
      std::istringstream in(l.substr(2));
      for (std::string x; std::getline(in, x, '|');) f.push_back(x);
      if (f.size() != 6) continue;
      const unsigned mode = static_cast<unsigned>(std::stoul(f[1], nullptr, 16));
      const char t = S_ISDIR(mode) ? 'd' : S_ISLNK(mode) ? 'l' : S_ISREG(mode) ? 'f' : S_ISFIFO(mode) ? 'p' : '?';
      type[f[0]] = std::string(1, t) + " " + f[2] + " " + f[3] + ":" + f[4];
      if (t == 'f') size[f[0]] = f[5];
    } else if (l.rfind("H|", 0) == 0) {
      const std::string rest = l.substr(2);
      const auto sp = rest.find("  ");
      if (sp != std::string::npos) hash[rest.substr(sp + 2)] = rest.substr(0, sp);
    } else if (l.rfind("L|", 0) == 0) {
      const std::string rest = l.substr(2);
      const auto bar = rest.find('|');
      if (bar != std::string::npos) target[rest.substr(0, bar)] = rest.substr(bar + 1);
    }
  }
  std::map<std::string, std::string> view;
  for (auto& [path, d] : type) {
    const std::string top = fs::path(path).relative_path().begin()->string();
    if (init_mount_points.count(top)) continue;
    std::string v = d;
    if (v[0] == 'f') v += " " + size[path] + " " + hash[path];
    if (v[0] == 'l') v += " -> " + target[path];
    view[path] = v;
  }
  return view;
}
}  // namespace

TEST_CASE("container: the files of every layer, whiteouts and opaque directories honoured, in each image format (umoci, skopeo, podman)", "[container][e2e]") {
  const World& w = World::get();
  const auto oracle = oracle_view(w.images->oracle_rootfs);
  REQUIRE(oracle.count("/keep/a"));
  for (const fs::path& image : {w.images->layout, w.images->oci_archive, w.images->docker_archive, w.images->podman_oci_archive,
                                w.images->podman_docker_archive}) {
    INFO("image " << image);
    const Cli prune = crumble_cli({"image", "prune"});  // each format unpacked by its own reader, not reused
    REQUIRE(prune.status == 0);
    const Cli r = run({"--image", image.string(), "-u", "0", "--", "-c", guest_view_script});
    INFO(r);
    REQUIRE(r.status == 0);
    CHECK(built(r));
    const auto seen = guest_view(r.out);
    // The table the tools agree on: a mismatch names the path.
    for (const auto& [path, want] : oracle) {
      INFO(path);
      CHECK(seen.count(path) == 1);
      if (seen.count(path)) CHECK(seen.at(path) == want);
    }
    for (const auto& [path, got] : seen) {
      INFO("in the guest only: " << path << " " << got);
      CHECK(oracle.count(path) == 1);
    }
    // The whiteouts, said plainly.
    CHECK(!seen.count("/gone"));
    CHECK(!seen.count("/opq/old1"));
    CHECK(!seen.count("/opq/sub"));
    CHECK(seen.count("/opq/fresh") == 1);
    CHECK(seen.count("/newdir/n") == 1);
  }
}

// --- the image's config ------------------------------------------------------------------------------

TEST_CASE("container: the image config's Env, Entrypoint, Cmd, WorkingDir and User apply, and the flags override them", "[container][e2e]") {
  const std::string image = World::get().images->layout.string();
  const std::string show = "echo \"A=$A B=$B C=$C\"; pwd; id -u; id -g";
  struct Row {
    std::vector<std::string> args;
    std::string out;
  };
  const std::vector<Row> rows = {
      // Entrypoint /bin/sh + Cmd [-c, echo hi]
      {{"--image", image}, "hi\n"},
      // the command after -- replaces Cmd, the Entrypoint stays; Env, WorkingDir /opq, User 1000:1000
      {{"--image", image, "--", "-c", show}, "A=1 B=two words C=\n/opq\n1000\n1000\n"},
      // -e replaces one variable and adds another, -w, -u
      {{"--image", image, "-e", "A=9", "-e", "C=3", "-w", "/keep", "-u", "0:0", "--", "-c", show}, "A=9 B=two words C=3\n/keep\n0\n0\n"},
      // --entrypoint replaces the Entrypoint
      {{"--image", image, "--entrypoint", "/bin/echo", "--", "x", "y z"}, "x y z\n"},
      // an empty --entrypoint: the command runs as it is
      {{"--image", image, "--entrypoint", "", "--", "/bin/cat", "/keep/a"}, "second\n"},
  };
  for (const Row& row : rows) {
    const Cli r = run(row.args);
    INFO(r);
    CHECK(r.status == 0);
    CHECK(r.out == row.out);
  }
  // The command's exit status is crumble's; the run restored the container snapshot the first
  // run of this image saved (the flags above change the command, not the container's setup).
  const Cli r = run({"--verbose", "--image", image, "--", "-c", "exit 7"});
  INFO(r);
  CHECK(r.status == 7);
  CHECK(r.err.find("VM restored with the container set up in ") != std::string::npos);
}

TEST_CASE("container: the C++ API runs an image in a few lines, with the image's defaults", "[container][e2e][api]") {
  crumble::container::Spec spec;
  spec.image = World::get().images->oci_archive;
  crumble::container::Container box(spec);
  INFO(box.root_note() << "; " << box.snapshot_note());
  CHECK(box.argv({}) == std::vector<std::string>{"/bin/sh", "-c", "echo hi"});
  CHECK(box.argv({"-c", "true"}) == std::vector<std::string>{"/bin/sh", "-c", "true"});
  const auto& env = box.environment();
  CHECK(std::count(env.begin(), env.end(), "A=1") == 1);
  CHECK(std::count(env.begin(), env.end(), "B=two words") == 1);
  CHECK(box.command_options().uid == 1000u);
  CHECK(box.command_options().cwd == "/opq");
  auto r = box.run();
  CHECK(r.status() == 0);
  CHECK(r.out == "hi\n");
  r = box.run({"-c", "cat /keep/a /added; echo \"$B\"; id -u"});
  CHECK(r.status() == 0);
  CHECK(r.out == "second\nadded\ntwo words\n1000\n");
  // The same VM runs the next command: what one command wrote the next sees.
  CHECK(box.run({"-c", "echo kept > /tmp/f"}).status() == 0);
  CHECK(box.run({"-c", "cat /tmp/f"}).out == "kept\n");
  box.shutdown();
}

// --- users, hostname, working directory ------------------------------------------------------------

TEST_CASE("container: -u NAME and -u UID:GID set the ids, supplementary groups from the image's /etc/group", "[container][e2e]") {
  const std::string image = World::get().users_image.string();
  struct Row {
    std::string user;  // "": the image's default (root)
    std::string uid, gid;
    std::set<int> groups;
  };
  const std::vector<Row> rows = {
      {"", "0(root)", "0(root)", {0, 50}},
      {"user", "1000(user)", "1000(user)", {1000, 10, 50}},
      {"1000", "1000(user)", "1000(user)", {1000, 10, 50}},
      {"1000:50", "1000(user)", "50(staff)", {50}},  // docker: an explicit group, no supplementary groups
      {"guest", "1001(guest)", "1001(guest)", {1001}},
      {"2000:2000", "2000", "2000", {2000}},  // ids the image does not name are allowed, as in docker
  };
  for (const Row& row : rows) {
    std::vector<std::string> args = {"--image", image};
    if (!row.user.empty()) args.insert(args.end(), {"-u", row.user});
    args.insert(args.end(), {"--", "id"});
    const Cli r = run(args);
    INFO("-u " << row.user << "\n" << r);
    REQUIRE(r.status == 0);
    const Id id = parse_id(r.out);
    CHECK(id.uid == row.uid);
    CHECK(id.gid == row.gid);
    CHECK(id.groups == row.groups);
  }
}

TEST_CASE("container: the hostname is --hostname's, else a random 12-hex name, the working directory is created if missing", "[container][e2e]") {
  const std::string image = World::get().users_image.string();
  const Cli named = run({"--image", image, "--hostname", "box-one", "--", "sh", "-c", "hostname; echo $HOSTNAME"});
  INFO(named);
  CHECK(named.status == 0);
  CHECK(named.out == "box-one\nbox-one\n");

  std::set<std::string> seen;
  for (int i = 0; i < 2; ++i) {
    const Cli r = run({"--image", image, "--", "hostname"});
    INFO(r);
    CHECK(r.status == 0);
    const std::string h = r.out.substr(0, r.out.find('\n'));
    CHECK(h.size() == 12);
    CHECK(std::all_of(h.begin(), h.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(static_cast<unsigned char>(c)); }));
    seen.insert(h);
  }
  CHECK(seen.size() == 2);

  const Cli wd = run({"--image", image, "-u", "user", "-w", "/made/for/me", "--", "sh", "-c", "pwd; test -d /made/for/me && echo is-dir"});
  INFO(wd);
  CHECK(wd.status == 0);
  CHECK(wd.out == "/made/for/me\nis-dir\n");
}

// --- volumes ---------------------------------------------------------------------------------------

TEST_CASE("container: volumes: read-write ones get the guest's files with its owner, read-only ones refuse writes", "[container][e2e][volumes]") {
  const World& w = World::get();
  TempDir d("e2e-volumes-");
  // names a shell or an option parser would take apart: each reaches virtiofsd's script as one
  // argument, and the guest's mountinfo names each (a space escaped as \040)
  const fs::path rw = d.path() / "-rw$x", ro = d.path() / "ro dir";
  write_file(rw / "in", "from the host\n");
  write_file(ro / "in", "read only\n");
  fs::permissions(rw, fs::perms::all);  // uid 1000 may write in it, as on the host
  const auto ro_before = tree(ro);

  const Cli r = run({"--verbose", "--image", w.users_image.string(), "-u", "1000", "-v", rw.string() + ":/data", "-v", ro.string() + ":/ro:ro", "--", "sh", "-c",
                     "cat /data/in; echo made > /data/out; mkdir /data/dir; "
                     "if echo x > /ro/new; then echo ro-written; else echo ro-refused; fi; "
                     "if rm /ro/in; then echo ro-removed; else echo ro-kept; fi; cat /ro/in; "
                     "grep -E ' /(data|ro) ' /proc/self/mountinfo | cut -d' ' -f4,5"});
  INFO(r);
  CHECK(r.status == 0);
  // each volume's root in mountinfo is its host directory's name, as runc's bind mount's
  CHECK(r.out == "from the host\nro-refused\nro-kept\nread only\n/-rw$x /data\n/ro\\040dir /ro\n");
  CHECK(r.err.find("virtio-fs") != std::string::npos);  // --verbose says why this run booted cold
  CHECK(slurp(rw / "out") == "made\n");
  CHECK(owner(rw / "out").uid == 1000u);
  CHECK(owner(rw / "out").gid == 1000u);
  CHECK(fs::is_directory(rw / "dir"));
  CHECK(owner(rw / "dir").uid == 1000u);
  CHECK(tree(ro) == ro_before);
  CHECK(qemus_in(w.tmp).empty());
}

// --- a user namespace ------------------------------------------------------------------------------

TEST_CASE("container: --uidmap and --gidmap: the processes' own user namespace, the host's files owned by the mapped ids, the guest's root kept out", "[container][e2e][userns]") {
  const World& w = World::get();
  TempDir d("e2e-userns-");
  const fs::path vol = d.path() / "vol";
  fs::create_directories(vol);
  fs::permissions(vol, fs::perms::all);
  struct Row {
    std::vector<std::string> flags;
    std::string maps;  // /proc/self/uid_map, then gid_map, as the container reads them
    std::string ids;   // id -u, id -g inside
    std::uint32_t host_uid, host_gid;  // the owner of what it made in the volume, as the host sees it
  };
  const std::vector<Row> rows = {
      {{"--uidmap", "0:100000:65536"}, "0 100000 65536\n0 100000 65536\n", "0 0", 100000, 100000},  // --gidmap as --uidmap, as podman
      {{"--uidmap", "0:1000:2000", "--gidmap", "0:3000:2000", "-u", "5:6"}, "0 1000 2000\n0 3000 2000\n", "5 6", 1005, 3006},
      {{"--uidmap", "0:2000:1", "--uidmap", "1:5000:10", "--gidmap", "0:2000:11", "-u", "3:3"}, "0 2000 1\n1 5000 10\n0 2000 11\n", "3 3", 5002, 2003},
      {{"--gidmap", "0:4000:100"}, "0 4000 100\n0 4000 100\n", "0 0", 4000, 4000},  // --uidmap as --gidmap (root is in group 50 too)
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    std::vector<std::string> args = {"--image", w.users_image.string(), "-v", vol.string() + ":/data"};
    args.insert(args.end(), row.flags.begin(), row.flags.end());
    const std::string made = "made-by-row-" + std::to_string(i);
    // the image's files belong to the guest's root, which the namespace does not map: its root
    // may not write in / (as runc's, over a root it did not chown)
    args.insert(args.end(), {"--", "sh", "-c",
                             "awk '{print $1, $2, $3}' /proc/self/uid_map /proc/self/gid_map; echo $(id -u) $(id -g); touch /data/" + made +
                                 "; if touch /rootwrite 2>/dev/null; then echo root-written; else echo root-refused; fi; stat -c %u /bin; "
                                 "stat -c '%u %g' /run; touch /tmp/t && echo tmp-written"});
    const Cli r = run(args);
    INFO(r);
    REQUIRE(r.status == 0);
    // /bin: the guest's 0, the overflow uid inside; /run: the container root's own (as podman's)
    CHECK(r.out == row.maps + row.ids + "\nroot-refused\n65534\n0 0\ntmp-written\n");
    CHECK(owner(vol / made).uid == row.host_uid);
    CHECK(owner(vol / made).gid == row.host_gid);
  }
  // without the flags: the guest's ids, root writes anywhere
  const Cli plain = run({"--image", w.users_image.string(), "--", "sh", "-c", "wc -l < /proc/self/uid_map; awk '{print $1, $2, $3}' /proc/self/uid_map; touch /rootwrite && echo root-written"});
  INFO(plain);
  CHECK(plain.out == "1\n0 0 4294967295\nroot-written\n");
  // bad maps: refused before a VM starts, named (a malformed flag as a usage error, 2)
  struct Bad {
    std::vector<std::string> flags;
    int status;
    std::string says;
  };
  const std::vector<Bad> bad = {
      {{"--uidmap", "0:1000"}, 2, "--uidmap takes CONTAINER:HOST:COUNT (ids), not \"0:1000\""},
      {{"--gidmap", "0:1000:x"}, 2, "--gidmap takes CONTAINER:HOST:COUNT"},
      {{"--uidmap", "0:1000:10:5"}, 2, "--uidmap takes CONTAINER:HOST:COUNT"},
      {{"--uidmap", "0:4294967296:1"}, 2, "--uidmap takes CONTAINER:HOST:COUNT"},
      {{"--uidmap", "0:1000:10", "--uidmap", "5:2000:10"}, 125, "uid map range 1 (5 2000 10) overlaps range 0"},
      {{"--uidmap", "0:1000:0"}, 125, "uid map range 0 (0 1000 0) maps no id"},
  };
  for (const Bad& b : bad) {
    std::vector<std::string> args = {"--image", w.users_image.string()};
    args.insert(args.end(), b.flags.begin(), b.flags.end());
    args.insert(args.end(), {"--", "true"});
    const Cli r = run(args);
    INFO(r);
    CHECK(r.status == b.status);
    CHECK_THAT(r.err, Catch::Contains(b.says));
  }
  CHECK(qemus_in(w.tmp).empty());
}

// --- two runs at once ---------------------------------------------------------------------------------

TEST_CASE("container: two containers of one image at once do not see each other's writes", "[container][e2e][api]") {
  const World& w = World::get();
  crumble::container::Spec spec;
  spec.image = w.users_image;
  // Each container lives in a thread of its own, start to end: a VM's QEMU dies with the thread
  // that started it (PR_SET_PDEATHSIG, host/process.hpp), so the threads outlive their VMs. The
  // latches make the two start, write and read at the same time.
  std::latch started(2), written(2);
  std::string out[2], problem[2];
  auto container = [&](int i) {
    const std::string n = std::to_string(i);
    bool at_start = false, at_written = false;  // latches passed (a failure counts down the rest)
    try {
      crumble::container::Container box(spec);
      at_start = true;
      started.arrive_and_wait();
      const auto wrote = box.run({"/bin/sh", "-c", "echo " + n + " > /only-" + n + "; echo " + n + " > /etc/marker"});
      if (wrote.status() != 0) problem[i] = "write: " + wrote.describe() + ": " + wrote.err;
      at_written = true;
      written.arrive_and_wait();
      out[i] = box.run({"/bin/sh", "-c", "ls / | grep only-; cat /etc/marker"}).out;
      box.shutdown();
    } catch (const std::exception& e) {
      problem[i] += e.what();
      if (!at_start) started.count_down();
      if (!at_written) written.count_down();
    }
  };
  std::thread one(container, 0), two(container, 1);
  one.join();
  two.join();
  for (int i = 0; i < 2; ++i) {
    INFO("container " << i << ": " << problem[i]);
    CHECK(problem[i].empty());
    CHECK(out[i] == "only-" + std::to_string(i) + "\n" + std::to_string(i) + "\n");
  }
  // And the image is as it was.
  const Cli after = run({"--image", w.users_image.string(), "--", "sh", "-c", "cat /etc/marker; ls / | grep only- || echo none"});
  INFO(after);
  CHECK(after.out == "users image\nnone\n");
}

TEST_CASE("container: two `crumble run`s of a new image at once: one builds the root image, both run, neither sees the other's writes", "[container][e2e][cache]") {
  TempDir d("e2e-race-");
  std::vector<TarEntry> layer = busybox_entries();
  layer.push_back(dir_entry("etc"));
  layer.push_back(file_entry("etc/marker", "race\n"));
  const fs::path image = make_layout(d.path() / "layout", ManifestSpec{{make_tar(layer)}});
  Cli r[2];
  {
    std::vector<std::thread> runs;
    for (int i = 0; i < 2; ++i)
      runs.emplace_back([&, i] {
        const std::string n = std::to_string(i);
        r[i] = run({"--image", image.string(), "--", "/bin/sh", "-c", "echo " + n + " > /only-" + n + "; cat /etc/marker; ls / | grep only-"});
      });
    for (auto& t : runs) t.join();
  }
  for (int i = 0; i < 2; ++i) {
    INFO("run " << i << ": " << r[i]);
    CHECK(r[i].status == 0);
    CHECK(r[i].out == "race\nonly-" + std::to_string(i) + "\n");
  }
  INFO(r[0] << "\n" << r[1]);
  CHECK(int(built(r[0])) + int(built(r[1])) == 1);
}

// --- the image cache ------------------------------------------------------------------------------------

TEST_CASE("container: the image cache: built once, listed, never changed by a run, removed by image rm and prune", "[container][e2e][cache]") {
  const World& w = World::get();
  TempDir d("e2e-cache-");
  std::vector<TarEntry> layer = busybox_entries();
  layer.push_back(dir_entry("etc"));
  layer.push_back(file_entry("etc/marker", "cached\n"));
  const fs::path image = make_layout(d.path() / "layout", ManifestSpec{{make_tar(layer)}});
  const std::vector<std::string> cat = {"--image", image.string(), "--", "/bin/cat", "/etc/marker"};

  const auto before = names_in(w.roots, false);
  const Cli first = run(cat);
  INFO(first);
  REQUIRE(first.status == 0);
  CHECK(first.out == "cached\n");
  CHECK(built(first));
  const std::string key = new_key(before);
  const fs::path erofs = w.roots / key / "root.erofs";
  REQUIRE(fs::is_regular_file(erofs));
  const std::string sha = crumble::container::sha256_file(erofs);

  const Cli list = crumble_cli({"image", "list"});
  INFO(list);
  CHECK(list.status == 0);
  CHECK(list.out.find(key.substr(0, 12)) != std::string::npos);
  CHECK(list.out.find(image.string()) != std::string::npos);

  // A run that deletes half the root: the cached image does not change, and the next run has it all.
  const Cli wreck = run({"--image", image.string(), "--", "/bin/sh", "-c", "rm -rf /bin /etc; echo wrecked"});
  INFO(wreck);
  CHECK(wreck.status == 0);
  CHECK(wreck.out == "wrecked\n");
  CHECK(!built(wreck));
  CHECK(crumble::container::sha256_file(erofs) == sha);
  const Cli again = run(cat);
  INFO(again);
  CHECK(again.status == 0);
  CHECK(again.out == "cached\n");
  CHECK(!built(again));

  // image rm KEY-PREFIX removes it; the next run builds it again; prune removes it too.
  const Cli rm = crumble_cli({"image", "rm", key.substr(0, 12)});
  INFO(rm);
  CHECK(rm.status == 0);
  CHECK(rm.out.find(key.substr(0, 12)) != std::string::npos);
  CHECK(!fs::exists(w.roots / key));
  const Cli listed = crumble_cli({"image", "list"});
  CHECK(listed.out.find(key.substr(0, 12)) == std::string::npos);
  const Cli rebuilt = run(cat);
  INFO(rebuilt);
  CHECK(rebuilt.status == 0);
  CHECK(built(rebuilt));
  CHECK(fs::exists(w.roots / key));
  const Cli prune = crumble_cli({"image", "prune"});
  INFO(prune);
  CHECK(prune.status == 0);
  CHECK(prune.out.find(key.substr(0, 12)) != std::string::npos);
  CHECK(!fs::exists(w.roots / key));
  CHECK(names_in(w.roots, false).empty());
}

// --- directory roots ----------------------------------------------------------------------------------

TEST_CASE("container: --rootfs DIR: built once while unchanged, again after a change, the run's writes are thrown away", "[container][e2e][rootfs]") {
  TempDir d("e2e-rootfs-");
  const fs::path root = d.path() / "root";
  make_busybox_dir(root);
  write_file(root / "etc/marker", "one\n");
  const std::vector<std::string> args = {"--rootfs", root.string(), "--", "/bin/sh", "-c",
                                         "cat /etc/marker; test -e /written && echo still-there; echo w > /written; echo w > /etc/marker2"};
  const Cli first = run(args);
  INFO(first);
  CHECK(first.status == 0);
  CHECK(first.out == "one\n");
  CHECK(built(first));
  CHECK(!fs::exists(root / "written"));
  CHECK(!fs::exists(root / "etc/marker2"));

  const Cli second = run(args);
  INFO(second);
  CHECK(second.status == 0);
  CHECK(second.out == "one\n");
  CHECK(!built(second));

  write_file(root / "etc/marker", "two\n");
  const Cli changed = run(args);
  INFO(changed);
  CHECK(changed.status == 0);
  CHECK(changed.out == "two\n");
  CHECK(built(changed));
  CHECK(!fs::exists(root / "written"));
}

TEST_CASE("container: --rootfs DIR --rootfs-rw: the run's writes land in DIR", "[container][e2e][rootfs]") {
  TempDir d("e2e-rootfs-rw-");
  const fs::path root = d.path() / "root";
  make_busybox_dir(root);
  write_file(root / "etc/marker", "rw\n");
  const auto roots_before = names_in(World::get().roots, false);
  const Cli r = run({"--rootfs", root.string(), "--rootfs-rw", "--", "/bin/sh", "-c", "cat /etc/marker; echo through > /written; mkdir /newdir; rm /etc/marker"});
  INFO(r);
  CHECK(r.status == 0);
  CHECK(r.out == "rw\n");
  CHECK(slurp(root / "written") == "through\n");
  CHECK(fs::is_directory(root / "newdir"));
  CHECK(!fs::exists(root / "etc/marker"));
  CHECK(!built(r));
  CHECK(names_in(World::get().roots, false) == roots_before);  // nothing to cache: the directory itself is the root
}

// --- the root's writes, copied back (crumble-runtime: runc's container writes into root.path) ------------

TEST_CASE("container: copy_writes_to: the host directory shows what the same commands do to a plain copy of it", "[container][e2e][writes]") {
  World::get();
  TempDir d("e2e-writes-");
  const fs::path root = d.path() / "root", oracle = d.path() / "oracle";
  make_busybox_dir(root);
  for (const char* m : {"proc", "sys", "dev", "tmp", "run"}) fs::create_directories(root / m);  // as podman's roots have them
  for (const char* p : {"etc/existing", "etc/gone", "etc/gone2", "etc/keep", "dir/sub/f", "lowfile", "opq/old1", "opq/old2/x", "filetodir",
                        "dirtofile/a", "moveme/in/f"}) {
    fs::create_directories((root / p).parent_path());
    write_file(root / p, std::string("lower ") + p + "\n");
  }
  tool({"cp", "-a", root.string(), oracle.string()});
  // runc's container runs on the directory itself: the oracle is the same script run there (chroot)
  const std::string script =
      "set -e; cd /; echo new > newfile; echo changed > etc/existing; rm etc/gone etc/gone2; rm -rf dir; ln -s /etc/existing link; "
      "ln lowfile hard; mkdir -p newdir/sub; echo deep > newdir/sub/f; rm -rf opq; mkdir opq; echo fresh > opq/fresh; "
      "rm filetodir; mkdir filetodir; echo in > filetodir/in; rm -rf dirtofile; echo f > dirtofile; chmod 600 etc/existing; "
      "chown 1000:1000 newfile; mkfifo fifo; mv moveme renamed";  // a lower directory renamed (overlayfs: copied, redirect_dir off)
  tool({"chroot", oracle.string(), "/bin/sh", "-c", script});

  crumble::container::Spec spec;
  spec.rootfs = root;
  crumble::container::Container box(spec);
  INFO(box.root_note() << "; " << box.snapshot_note() << "; " << box.start_note());
  const auto r = box.run({"/bin/sh", "-c", script});
  INFO(r.out << r.err);
  REQUIRE(r.status() == 0);
  CHECK(!fs::exists(root / "newfile"));  // nothing reaches the host before the copy
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t bytes = box.copy_writes_to(root);
  std::printf("copy_writes_to: %llu bytes of archive in %.1f ms\n", static_cast<unsigned long long>(bytes),
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  box.shutdown();

  const auto want = tree(oracle), got = tree(root);
  for (const auto& [p, desc] : want) {
    INFO(p);
    CHECK(got.count(p) == 1);
    if (got.count(p)) CHECK(got.at(p) == desc);
  }
  for (const auto& [p, desc] : got) {
    INFO(p);
    CHECK(want.count(p) == 1);
  }
  CHECK(fs::equivalent(root / "hard", root / "lowfile"));
  CHECK(read_file(root / "etc/existing") == "changed\n");
  CHECK(!fs::exists(root / "opq/old1"));  // removed and made again: the old entries go
  CHECK(fs::is_directory(fs::symlink_status(root / "filetodir")));
}

TEST_CASE("container: copy_writes_to refuses writes larger than the guest's memory, writes nothing and stops the VM", "[container][e2e][writes]") {
  World::get();
  TempDir d("e2e-writes-big-");
  const fs::path root = d.path() / "root";
  make_busybox_dir(root);
  const auto before = tree(root);
  crumble::container::Spec spec;
  spec.rootfs = root;
  crumble::container::Container box(spec);
  // a sparse file: 1 GiB to archive from a tmpfs that holds almost nothing
  REQUIRE(box.run({"/bin/truncate", "-s", "1G", "/sparse"}).status() == 0);
  std::string msg;
  try {
    box.copy_writes_to(root);
  } catch (const crumble::container::ContainerError& e) {
    msg = e.what();
  }
  INFO(msg);
  CHECK_THAT(msg, Catch::Contains("more than " + std::to_string(spec.vm.memory_mib) + " MiB") && Catch::Contains("not copied"));
  CHECK(tree(root) == before);
  CHECK_THROWS_AS(box.run({"/bin/true"}), crumble::vm::VmError);  // the VM was stopped
}

TEST_CASE("container: copy_writes_to leaves out the mount points of files bound in, an image's symlink there included", "[container][e2e][writes]") {
  World::get();
  TempDir d("e2e-writes-files-");
  const fs::path root = d.path() / "root";
  make_busybox_dir(root);
  fs::create_directories(root / "etc");
  fs::create_symlink("../run/resolv.conf", root / "etc/resolv.conf");  // as systemd-resolved images have it
  crumble::container::Spec spec;
  spec.rootfs = root;
  spec.files.push_back({"/etc/resolv.conf", "nameserver 192.0.2.1\n"});
  spec.files.push_back({"/etc/hosts", "127.0.0.1 localhost\n"});  // not in the image: a new mount point
  crumble::container::Container box(spec);
  const auto r = box.run({"/bin/sh", "-c", "cat /etc/resolv.conf /etc/hosts; echo mine > /etc/mine"});
  INFO(r.out << r.err);
  REQUIRE(r.status() == 0);
  CHECK(r.out == "nameserver 192.0.2.1\n127.0.0.1 localhost\n");
  box.copy_writes_to(root);
  box.shutdown();
  CHECK(fs::is_symlink(root / "etc/resolv.conf"));  // the image's symlink, as it was
  CHECK(fs::read_symlink(root / "etc/resolv.conf") == "../run/resolv.conf");
  CHECK(!fs::exists(fs::symlink_status(root / "etc/hosts")));
  CHECK(read_file(root / "etc/mine") == "mine\n");  // the container's own write
}

// The copy-back skips the archive when the writable layer is as the setup left it (init's
// layerPrint): nothing may be missed for it. Each row is one change that adds no entry of its own
// that stays in the layer (the cases a count of its entries would miss), the others one each.
TEST_CASE("container: copy_writes_to: no archive when the container wrote nothing, and every kind of change still seen", "[container][e2e][writes]") {
  World::get();
  TempDir d("e2e-writes-print-");
  const fs::path base = d.path() / "base";
  make_busybox_dir(base);
  fs::create_directories(base / "etc");
  write_file(base / "etc/existing", "lower\n");
  struct Row {
    const char* what;
    const char* script;  // empty: the container writes nothing
    std::function<void(const fs::path&)> expect;  // on the host directory, after the copy
  };
  auto mode_of = [](const fs::path& p) { return static_cast<unsigned>(fs::status(p).permissions()); };
  const std::vector<Row> rows = {
      {"nothing written (reads only)", "cat /etc/existing /etc/hosts > /dev/null", nullptr},
      {"nothing at all", "", nullptr},
      {"a file's mode", "chmod 600 /etc/existing", [&](const fs::path& r) { CHECK(mode_of(r / "etc/existing") == 0600); }},
      {"a file's owner", "chown 7:8 /etc/existing", [](const fs::path& r) {
         struct stat st {};
         REQUIRE(::lstat((r / "etc/existing").c_str(), &st) == 0);
         CHECK((st.st_uid == 7 && st.st_gid == 8));
       }},
      {"a lower file removed", "rm /etc/existing", [](const fs::path& r) { CHECK(!fs::exists(r / "etc/existing")); }},
      {"the mode of a directory the setup made for a mount point", "chmod 0701 /opt/app", [&](const fs::path& r) { CHECK(mode_of(r / "opt/app") == 0701); }},
      {"a file made and removed again (only the directory changed)", "echo x > /gone && rm /gone", [](const fs::path& r) { CHECK(!fs::exists(r / "gone")); }},
      {"an existing file rewritten in place, same size", "printf 'LOWER\\n' > /etc/existing", [](const fs::path& r) { CHECK(read_file(r / "etc/existing") == "LOWER\n"); }},
  };
  for (const Row& row : rows) {
    DYNAMIC_SECTION(row.what) {
      const fs::path root = d.path() / "root";
      fs::remove_all(root);
      tool({"cp", "-a", base.string(), root.string()});
      const auto before = tree(root);
      crumble::container::Spec spec;
      spec.rootfs = root;
      spec.files.push_back({"/etc/hosts", "127.0.0.1 localhost\n"});  // mount points the setup makes: in the layer
      spec.files.push_back({"/opt/app/config", "x=1\n"});                // (/opt/app, too: the root has none)
      crumble::container::Container box(spec);
      const auto r = box.run({"/bin/sh", "-c", row.script});
      INFO(r.out << r.err);
      REQUIRE(r.status() == 0);
      const std::uint64_t bytes = box.copy_writes_to(root);
      box.shutdown();
      if (!row.expect) {
        CHECK(bytes == 0);
        CHECK(tree(root) == before);
      } else {
        CHECK(bytes > 0);
        row.expect(root);
      }
    }
  }
}

TEST_CASE("container: a root_writes command in a VM that is no container does not start, and says why", "[container][e2e][writes]") {
  World::get();
  // the guest's own answer: a command asking for the writable layer in a VM without one
  crumble::vm::Session vm({});
  crumble::vm::CommandOptions o;
  o.root_writes = true;
  const auto r = vm.run({"tar", "-cf", "-", "."}, crumble::vm::default_environment(), {}, o);
  CHECK(r.end == crumble::vm::CommandResult::End::not_started);
  CHECK(r.describe() == "cannot change to working directory (the root's writable layer): No such file or directory");
  vm.shutdown();
}

// --- foreign binaries ------------------------------------------------------------------------------------

TEST_CASE("container: an arm64 static executable runs in the amd64 guest under qemu-user (--platform linux/arm64)", "[container][e2e][binfmt]") {
  World::get();
  if (!fs::exists("/usr/bin/qemu-aarch64-static") || !fs::exists("/usr/share/binfmts/qemu-aarch64")) {
    WARN("SKIPPED: the binfmt_misc run needs Debian's qemu-user-static (/usr/bin/qemu-aarch64-static, /usr/share/binfmts/qemu-aarch64)");
    return;
  }
  using namespace crumble::ir;
  const Program hello{{Function{"main", {"argc"}, {
                                                      Printf{"hello from arm64, argc %d\n", {Var{"argc"}}},
                                                      Return{Int64{3}},
                                                  }}}};
  const std::vector<std::uint8_t> elf = crumble::executable<crumble::arch::arm64>(hello);
  REQUIRE(elf.size() > 20);
  CHECK(elf[18] == 183);  // e_machine EM_AARCH64: it really is a foreign binary
  TempDir d("e2e-arm64-");
  const fs::path root = d.path() / "root";
  write_file(root / "hello", std::string(elf.begin(), elf.end()));
  fs::permissions(root / "hello", static_cast<fs::perms>(0755));
  const Cli r = run({"--rootfs", root.string(), "--platform", "linux/arm64", "--", "/hello", "a", "b"});
  INFO(r);
  CHECK(r.out == "hello from arm64, argc 3\n");
  CHECK(r.status == 3);
}

// --- bad input --------------------------------------------------------------------------------------------

TEST_CASE("container: bad input: a clear error naming the problem, status 125, no VM left, nothing cached, nothing written outside", "[container][e2e][bad]") {
  const World& w = World::get();
  TempDir d("e2e-bad-");
  const fs::path base = d.path();
  const std::string busybox_layer = make_tar(busybox_entries());

  write_file(base / "garbage.tar", std::string(4096, '\x5a'));
  fs::create_directories(base / "empty-dir");

  // A layer blob changed after the manifest was written (same size, one byte different).
  const fs::path bad_digest = make_layout(base / "bad-digest", ManifestSpec{{busybox_layer, make_tar({file_entry("f", "original contents\n")})}, "none"});
  {
    const std::string tar = make_tar({file_entry("f", "original contents\n")});
    const fs::path blob = bad_digest / "blobs/sha256" / digest_of(tar).substr(7);
    std::string bytes = read_file(blob);
    const auto at = bytes.find("original");
    REQUIRE(at != std::string::npos);
    bytes[at] = 'O';
    write_file(blob, bytes);
  }
  const fs::path outside = base / "outside";  // what an escaping layer would write into
  fs::create_directories(outside);
  const fs::path dotdot = make_layout(base / "dotdot", ManifestSpec{{busybox_layer, make_tar({file_entry("etc/../../escaped", "x\n")})}});
  const fs::path through_abs = make_layout(base / "through-abs", ManifestSpec{{busybox_layer, make_tar({symlink_entry("esc", outside.string())}),
                                                                                  make_tar({file_entry("esc/pwned", "x\n")})}});
  const fs::path through_rel = make_layout(base / "through-rel", ManifestSpec{{busybox_layer, make_tar({symlink_entry("up", "../../../../../../../../.."),
                                                                                                      file_entry("up" + outside.string() + "/pwned2", "x\n")})}});
  const fs::path device = make_layout(base / "device", ManifestSpec{{busybox_layer, make_tar({dir_entry("dev"), node_entry("dev/mem2", 'c')})}});
  const fs::path arm64 = make_layout(base / "arm64", ManifestSpec{{busybox_layer}, "gzip", "arm64"});

  struct Row {
    std::string what;
    std::vector<std::string> args;
    std::vector<std::string> says;  // each in stderr
  };
  const std::string users = w.users_image.string();
  const std::vector<Row> rows = {
      {"a missing image", {"--image", (base / "nope.tar").string(), "--", "true"}, {"nope.tar", "does not exist"}},
      {"a file that is not an image", {"--image", (base / "garbage.tar").string(), "--", "true"}, {"garbage.tar", "not an image"}},
      {"a directory that is not an image", {"--image", (base / "empty-dir").string(), "--", "true"}, {"empty-dir", "not an image"}},
      {"a blob whose digest does not match", {"--image", bad_digest.string(), "--", "true"}, {"does not match its digest"}},
      {"a layer with ../ entries", {"--image", dotdot.string(), "--", "true"}, {"etc/../../escaped", "\"..\""}},
      {"a write through an absolute symlink", {"--image", through_abs.string(), "--", "true"}, {"esc", "symlink"}},
      {"a write through an escaping relative symlink", {"--image", through_rel.string(), "--", "true"}, {"up", "symlink"}},
      {"a device node", {"--image", device.string(), "--", "true"}, {"dev/mem2", "device node"}},
      {"an arm64 image in an amd64 guest (--arch) without --platform", {"--arch", "amd64", "--image", arm64.string(), "--", "true"}, {"arm64", "amd64"}},
      {"a missing volume source", {"--image", users, "-v", (base / "no-such-dir").string() + ":/data", "--", "true"}, {"no-such-dir", "does not exist"}},
      {"a volume's guest path that is not absolute", {"--image", users, "-v", outside.string() + ":data", "--", "true"}, {"\"data\"", "absolute"}},
      {"a user the image does not have", {"--image", users, "-u", "nosuchuser", "--", "true"}, {"nosuchuser", "does not exist"}},
      {"a group the image does not have", {"--image", users, "-u", "user:nosuchgroup", "--", "true"}, {"nosuchgroup", "does not exist"}},
      {"a working directory that is not absolute", {"--image", users, "-w", "relative", "--", "true"}, {"relative", "absolute"}},
  };
  // The users image is in the cache already (earlier cases); the rows with it add nothing.
  REQUIRE(run({"--image", users, "--", "true"}).status == 0);
  for (const Row& row : rows) {
    const auto roots_before = names_in(w.roots, false);
    const auto tmp_before = names_in(w.tmp);
    const Cli r = run(row.args);
    INFO(row.what << "\n" << r);
    CHECK(r.status == 125);
    for (const std::string& s : row.says) CHECK(r.err.find(s) != std::string::npos);
    CHECK(r.out.empty());
    CHECK(qemus_in(w.tmp).empty());
    INFO("root cache before: " << joined(roots_before) << "; after: " << joined(names_in(w.roots, false)));
    CHECK(names_in(w.roots, false) == roots_before);
    CHECK(names_in(w.tmp) == tmp_before);
  }
  CHECK(names_in(outside).empty());
  CHECK(!fs::exists(base / "escaped"));
  CHECK(!fs::exists(d.path().parent_path() / "escaped"));
}

TEST_CASE("container: a full disk while unpacking: a clear error, status 125, the partial unpack not cached", "[container][e2e][bad]") {
  const World& w = World::get();
  TempDir d("e2e-full-");
  const fs::path xdg = d.path() / "xdg";
  fs::create_directories(xdg);
  if (::mount("tmpfs", xdg.c_str(), "tmpfs", 0, "size=1m") != 0) {
    WARN("SKIPPED: cannot mount a 1 MiB tmpfs (" << std::strerror(errno) << "): the full-disk case needs root");
    return;
  }
  struct Unmount {
    fs::path p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{xdg};
  fs::create_directories(xdg / "crumble");
  fs::create_symlink(fs::read_symlink(w.xdg / "crumble/kernels"), xdg / "crumble/kernels");
  // The users image (busybox alone is about 2 MiB unpacked): as an archive, the disk fills while
  // its blobs are extracted; as a layout, while its layer is unpacked.
  for (const fs::path& image : {w.users_image, w.users_image.parent_path() / "users-layout"}) {
    const Cli r = crumble_cli({"run", "--image", image.string(), "--", "true"}, {"env", "XDG_CACHE_HOME=" + xdg.string()});
    INFO(image << "\n" << r);
    CHECK(r.status == 125);
    CHECK((r.err.find("full") != std::string::npos || r.err.find("No space left") != std::string::npos));
    CHECK(qemus_in(w.tmp).empty());
    const auto left = names_in(xdg / "crumble/roots", false);
    INFO("left in the root cache: " << joined(left));
    CHECK(left.empty());
  }
  // With room, the same image runs (the failure left nothing that gets in the way).
  const Cli ok = run({"--image", w.users_image.string(), "--", "cat", "/etc/marker"});
  INFO(ok);
  CHECK(ok.status == 0);
  CHECK(ok.out == "users image\n");
}

// --- files copied in, tmpfs mounts (issue 16: what OCI runtimes bind into every container) -------

namespace {
// A Spec file: `content`, or (content empty, host given) the host file's.
crumble::container::File file(std::string guest, std::string content, fs::path host = {}, std::uint32_t mode = 0644, std::uint32_t uid = 0,
                              std::uint32_t gid = 0) {
  crumble::container::File f;
  f.guest = std::move(guest);
  f.content = std::move(content);
  f.host = std::move(host);
  f.mode = mode;
  f.uid = uid;
  f.gid = gid;
  return f;
}
template <class T>
T with_flags(T x, bool read_only, bool nosuid = false, bool nodev = false, bool noexec = false) {
  x.read_only = read_only;
  x.nosuid = nosuid;
  x.nodev = nodev;
  x.noexec = noexec;
  return x;
}
crumble::container::Tmpfs tmpfs(std::string guest, std::string options) {
  crumble::container::Tmpfs t;
  t.guest = std::move(guest);
  t.options = std::move(options);
  return t;
}
}  // namespace

TEST_CASE("container: files copied in: content, mode and owner as given, read-only ones unwritable, the host's untouched, the VM still restored", "[container][e2e][files]") {
  const World& w = World::get();
  TempDir d("e2e-files-");
  std::string blob(200 << 10, '\0');  // binary, NULs and 0xff included
  for (std::size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>((i * 7919) >> 3);
  write_file(d.path() / "token", "s3cret\n");
  write_file(d.path() / "blob", blob);
  using crumble::container::File;
  crumble::container::Spec spec;
  spec.image = w.users_image;
  spec.files = {
      file("/etc/hosts", "127.0.0.1 localhost\n10.0.0.1 box\n"),      // missing in the image: a mount point is made
      file("/etc/marker", "copied over\n", {}, 0600, 1000, 1000),     // over the image's own
      with_flags(file("/run/secrets/token", "", d.path() / "token", 0400, 1000, 50), true),  // read from the host, read-only
      with_flags(file("/srv/deep/blob", "", d.path() / "blob", 04755, 1001, 1001), false, true, true, true),  // set-uid kept
      file("/etc/empty", "", {}, 0640),
  };
  spec.tmpfs = {with_flags(tmpfs("/scratch", "size=1m,mode=0750"), false, true, true, true)};
  crumble::container::Container box(spec);
  INFO(box.root_note() << "; " << box.snapshot_note());
  // no live sharing: a second container of the same spec restores from the snapshot (the first
  // may have made it)
  if (!box.restored()) {
    crumble::container::Container again(spec);
    CHECK(again.restored());
  }
  struct Row {
    std::string path, stat;  // %a %u %g %s as the guest's stat prints them
  };
  const std::vector<Row> rows = {
      {"/etc/hosts", "644 0 0 33"},    {"/etc/marker", "600 1000 1000 12"}, {"/run/secrets/token", "400 1000 50 7"},
      {"/srv/deep/blob", "4755 1001 1001 204800"}, {"/etc/empty", "640 0 0 0"},
  };
  for (const Row& row : rows) {
    INFO(row.path);
    const auto r = box.run({"stat", "-c", "%a %u %g %s", row.path});
    CHECK(r.status() == 0);
    CHECK(r.out == row.stat + "\n");
  }
  auto r = box.run({"sh", "-c", "cat /etc/hosts /etc/marker /run/secrets/token; sha256sum /srv/deep/blob | cut -d' ' -f1"});
  CHECK(r.status() == 0);
  CHECK(r.out == "127.0.0.1 localhost\n10.0.0.1 box\ncopied over\ns3cret\n" + crumble::container::sha256_file(d.path() / "blob") + "\n");
  // read-only: not even root changes it; a read-write copy changes in the VM only; no copy can be
  // removed (each is a mount point, as under runc)
  r = box.run({"sh", "-c",
               "if echo x > /run/secrets/token; then echo ro-written; else echo ro-refused; fi; "
               "echo changed > /etc/marker && cat /etc/marker; "
               "if rm /etc/hosts 2>/dev/null; then echo removed; else echo kept; fi"});
  CHECK(r.out == "ro-refused\nchanged\nkept\n");
  CHECK(read_file(d.path() / "token") == "s3cret\n");
  // the mount flags, as the guest's kernel reports them
  r = box.run({"sh", "-c", "grep -E ' (/srv/deep/blob|/run/secrets/token|/scratch) ' /proc/mounts | sort"});
  INFO(r.out);
  const std::vector<std::string> m = lines(r.out);
  REQUIRE(m.size() == 3);
  CHECK_THAT(m[0], Catch::Contains(" /run/secrets/token tmpfs ro,"));
  CHECK_THAT(m[1], Catch::Contains(" /scratch tmpfs rw,nosuid,nodev,noexec") && Catch::Contains("size=1024k") && Catch::Contains("mode=750"));
  CHECK_THAT(m[2], Catch::Contains(" /srv/deep/blob tmpfs rw,nosuid,nodev,noexec"));
  // the copies' staging tmpfs is gone from the container's view
  CHECK(box.run({"sh", "-c", "test -e /dev/.crumble-files || echo gone"}).out == "gone\n");
  box.shutdown();
  CHECK(qemus_in(w.tmp).empty());
}

TEST_CASE("container: its own mounts in order, devices, symlinks, sysctls, read-only and masked paths, a read-only root, as the guest's kernel shows them", "[container][e2e][oci]") {
  // what crumble-runtime makes of runtime-tools' default config.json (oci/bundle.hpp)
  const World& w = World::get();
  crumble::container::Spec spec;
  spec.image = w.users_image;
  using crumble::container::Mount;
  spec.mounts = std::vector<Mount>{{"/proc", "proc", "proc", "", false, true, true, true},
                                   {"/dev", "tmpfs", "tmpfs", "mode=755,size=65536k", false, true, false, false},
                                   {"/dev/pts", "devpts", "devpts", "newinstance,ptmxmode=0666,mode=0620,gid=5", false, true, false, true},
                                   {"/dev/shm", "tmpfs", "shm", "mode=1777,size=65536k", false, true, true, true},
                                   {"/dev/mqueue", "mqueue", "mqueue", "", false, true, true, true},
                                   {"/sys", "sysfs", "sysfs", "", true, true, true, true}};
  spec.devices = {{"/dev/null", 'c', 1, 3, 0666, 0, 0},
                  {"/dev/fuse", 'c', 10, 229, 0640, 1000, 5},
                  {"/dev/sdz", 'b', 8, 0x12345, 0600, 0, 6},  // a minor past 255: Linux's 32-bit encoding
                  {"/dev/queue", 'p', 0, 0, 0620, 1001, 1001}};
  spec.symlinks = {{"/dev/fd", "/proc/self/fd"}, {"/dev/ptmx", "pts/ptmx"}};
  spec.sysctl = {{"net.ipv4.ip_forward", "1"}, {"vm.swappiness", "17"}};
  spec.readonly_paths = {"/proc/sys", "/nonexistent/ro"};
  spec.masked_paths = {"/proc/kcore", "/sys/firmware", "/nonexistent/masked"};
  spec.root_readonly = true;
  crumble::container::Container box(spec);
  INFO(box.root_note() << "; " << box.snapshot_note());
  // the mounts in the order given, with their types and sources; none of the guest's defaults
  auto r = box.run({"sh", "-c", "awk '{ for (i = 7; $i != \"-\"; i++); print $5, $(i+1), $(i+2) }' /proc/self/mountinfo"});
  INFO(r.out);
  REQUIRE(r.status() == 0);
  const std::vector<std::string> seen = lines(r.out);
  const std::vector<std::string> order = {"/proc proc proc",          "/dev tmpfs tmpfs",         "/dev/pts devpts devpts",
                                          "/dev/shm tmpfs shm",       "/dev/mqueue mqueue mqueue", "/sys sysfs sysfs"};
  auto at = seen.begin();
  for (const std::string& m : order) {
    at = std::find(at, seen.end(), m);
    CHECK(at != seen.end());
  }
  for (const std::string& m : seen) CHECK((m.rfind("/tmp ", 0) != 0 && m.rfind("/run ", 0) != 0));
  // sysfs read-only as asked
  CHECK(box.run({"sh", "-c", "grep ' /sys sysfs ro,' /proc/mounts > /dev/null && echo ro"}).out == "ro\n");
  // the nodes: type, major and minor (hex), mode, owner, as the guest's stat reads them
  struct Node {
    std::string path, stat;
  };
  for (const Node& n : std::vector<Node>{{"/dev/null", "character special file 1 3 666 0 0"},
                                         {"/dev/fuse", "character special file a e5 640 1000 5"},
                                         {"/dev/sdz", "block special file 8 12345 600 0 6"},
                                         {"/dev/queue", "fifo 0 0 620 1001 1001"}}) {
    INFO(n.path);
    r = box.run({"stat", "-c", "%F %t %T %a %u %g", n.path});
    CHECK(r.out == n.stat + "\n");
  }
  CHECK(box.run({"sh", "-c", "readlink /dev/fd; readlink /dev/ptmx; echo hi > /dev/null && head -c 3 /dev/null | wc -c"}).out == "/proc/self/fd\npts/ptmx\n0\n");
  // sysctls written in the VM's kernel, then /proc/sys read-only
  r = box.run({"sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/vm/swappiness; if echo 0 > /proc/sys/vm/swappiness; then echo written; else echo refused; fi"});
  CHECK(r.out == "1\n17\nrefused\n");
  CHECK(box.run({"sh", "-c", "grep ' /proc/sys proc ro,nosuid,nodev,noexec' /proc/mounts > /dev/null && echo ro"}).out == "ro\n");
  // masked: a file reads empty, a directory is an empty read-only tmpfs; the missing paths stay missing
  r = box.run({"sh", "-c", "wc -c < /proc/kcore; ls -A /sys/firmware | wc -l; if touch /sys/firmware/x 2>/dev/null; then echo written; else echo refused; fi; "
                           "ls /nonexistent 2>&1 | grep -c 'No such'"});
  CHECK(r.out == "0\n0\nrefused\n1\n");
  // the root read-only
  r = box.run({"sh", "-c", "if touch /x 2>/dev/null; then echo written; else echo refused; fi; echo shm > /dev/shm/f && cat /dev/shm/f"});
  CHECK(r.out == "refused\nshm\n");
  box.shutdown();
  CHECK(qemus_in(w.tmp).empty());
}

TEST_CASE("container: files copied into a --rootfs-rw root: the host's directory gets only the missing mount points, never the content", "[container][e2e][files][rootfs]") {
  const World& w = World::get();
  TempDir d("e2e-files-rw-");
  const fs::path root = d.path() / "root";
  make_busybox_dir(root);
  write_file(root / "etc/hosts", "the host's own\n");
  crumble::container::Spec spec;
  spec.rootfs = root;
  spec.rootfs_rw = true;
  spec.files = {file("/etc/hosts", "copied\n"), with_flags(file("/etc/new/name", "made\n"), true)};
  crumble::container::Container box(spec);
  const auto r = box.run({"sh", "-c", "cat /etc/hosts /etc/new/name"});
  CHECK(r.status() == 0);
  CHECK(r.out == "copied\nmade\n");
  box.shutdown();
  CHECK(read_file(root / "etc/hosts") == "the host's own\n");
  CHECK(fs::is_regular_file(root / "etc/new/name"));  // the mount point, as runc makes one
  CHECK(fs::file_size(root / "etc/new/name") == 0);
  CHECK(!fs::exists(root / "dev/.crumble-files"));
  CHECK(qemus_in(w.tmp).empty());
}

TEST_CASE("container: bad files are refused before a VM starts, the file named", "[container][e2e][files][bad]") {
  const World& w = World::get();
  TempDir d("e2e-files-bad-");
  fs::create_directories(d.path() / "a-dir");
  ::mkfifo((d.path() / "fifo").c_str(), 0600);
  write_file(d.path() / "big", std::string((1 << 20) + 1, 'b'));
  using crumble::container::File;
  struct Row {
    std::string what;
    std::vector<File> files;
    std::vector<std::string> says;
  };
  const std::string k400(400 << 10, 'k');
  const std::vector<Row> rows = {
      {"a relative path", {file("etc/hosts", "x")}, {"\"etc/hosts\"", "absolute"}},
      {"the root itself", {file("/", "x")}, {"\"/\"", "root"}},
      {"a path with ..", {file("/etc/../../x", "x")}, {"/etc/../../x", ".."}},
      {"a path with .", {file("/etc/./x", "x")}, {"/etc/./x", "."}},
      {"a mode past the permission bits", {file("/etc/x", "x", {}, 010644)}, {"/etc/x", "010644"}},
      {"a host directory", {file("/etc/x", "", d.path() / "a-dir")}, {"/etc/x", "a-dir", "not a regular file"}},
      {"a host fifo (never read: it would not end)", {file("/etc/x", "", d.path() / "fifo")}, {"fifo", "not a regular file"}},
      {"a missing host file", {file("/etc/x", "", d.path() / "missing")}, {"/etc/x", "missing", "No such file"}},
      {"both content and a host file", {file("/etc/x", "x", d.path() / "big")}, {"/etc/x", "both"}},
      {"a host file larger than the request", {file("/etc/x", "", d.path() / "big")}, {"/etc/x", "1048577 bytes"}},
      {"a set that does not fit: the file that overflows", {file("/a", k400), file("/b", k400), file("/c", k400)}, {"file /c", "does not fit"}},
      {"more files than a request carries", std::vector<File>(crumble::vm::protocol::config::container_files_max + 1, file("/x", "x")),
       {std::to_string(crumble::vm::protocol::config::container_files_max + 1) + " files",
        "at most " + std::to_string(crumble::vm::protocol::config::container_files_max)}},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    crumble::container::Spec spec;
    spec.image = w.users_image;
    spec.files = row.files;
    try {
      crumble::container::Container box(spec);
      FAIL("accepted");
    } catch (const std::exception& e) {
      for (const std::string& s : row.says) CHECK_THAT(e.what(), Catch::Contains(s));
    }
    CHECK(qemus_in(w.tmp).empty());
  }
  crumble::container::Spec spec;
  spec.image = w.users_image;
  spec.tmpfs = {tmpfs("relative", "size=1m")};
  CHECK_THROWS_WITH(crumble::container::Container(spec), Catch::Contains("\"relative\"") && Catch::Contains("absolute"));
}

// --- the container snapshot -------------------------------------------------------------------------

namespace {
// The container snapshot a `--verbose` run restored or saved ("" for neither).
std::string container_snapshot(const Cli& r, const char* how) {
  const std::string marker = std::string(how) + " container snapshot ";
  const auto at = r.err.find(marker);
  return at == std::string::npos ? std::string() : r.err.substr(at + marker.size(), 32);
}
std::size_t snapshots_in_cache() { return names_in(World::get().xdg / "crumble/snapshots", false).size(); }
}  // namespace

TEST_CASE("container: the container snapshot: saved by the first run of a root, restored by the next with its own hostname, randomness and clock, none of the first run's writes", "[container][e2e][snapshot]") {
  TempDir d("e2e-csnap-");
  const fs::path root = d.path() / "root";
  make_busybox_dir(root);  // a root no other case uses: its container snapshot is new
  const std::string script = "hostname; cat /proc/sys/kernel/random/uuid; date +%s; cat /tmp/left 2>/dev/null; echo left > /tmp/left";
  const Cli first = run({"--verbose", "--rootfs", root.string(), "--", "sh", "-c", script});
  INFO(first);
  REQUIRE(first.status == 0);
  const std::string key = container_snapshot(first, "saved");
  REQUIRE(key.size() == 32);
  CHECK(fs::exists(World::get().xdg / "crumble/snapshots" / key));

  struct Row {
    std::vector<std::string> flags;
    std::string hostname;  // "": a random 12-hex one
  };
  const std::vector<Row> rows = {{{}, ""}, {{"--hostname", "box-two"}, "box-two"}, {{}, ""}};
  std::set<std::string> hostnames = {lines(first.out).at(0)}, uuids = {lines(first.out).at(1)};
  for (const Row& row : rows) {
    std::vector<std::string> args = {"--verbose", "--rootfs", root.string()};
    args.insert(args.end(), row.flags.begin(), row.flags.end());
    args.insert(args.end(), {"--", "sh", "-c", script});
    const auto host_now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const Cli r = run(args);
    INFO(r);
    REQUIRE(r.status == 0);
    CHECK(container_snapshot(r, "restored from") == key);  // the hostname is not in the key
    CHECK(r.err.find("VM restored with the container set up in ") != std::string::npos);
    const std::vector<std::string> out = lines(r.out);
    REQUIRE(out.size() == 3);  // no "left": the first run's write was after the save
    if (row.hostname.empty()) CHECK(out[0].size() == 12);
    else CHECK(out[0] == row.hostname);
    CHECK(hostnames.insert(out[0]).second);
    CHECK(uuids.insert(out[1]).second);
    CHECK(std::abs(std::stoll(out[2]) - host_now) < 30);
  }

  // The root's files are in the snapshot's page cache (the root is small): reading one reads no
  // disk after a restore, as the disk's own counters say; set up without the snapshot, it does.
  const std::string reads = "read a b < /sys/block/vda/stat; cat /bin/busybox > /dev/null; read c d < /sys/block/vda/stat; echo $((c - a))";
  const Cli cached = run({"--rootfs", root.string(), "--", "sh", "-c", reads});
  INFO(cached);
  CHECK(cached.out == "0\n");
  const Cli uncached = run({"--no-container-snapshot", "--rootfs", root.string(), "--", "sh", "-c", reads});
  INFO(uncached);
  CHECK(uncached.status == 0);
  CHECK(uncached.out != "0\n");

  // Another request (a tmpfs mounted) is another container snapshot; the same one again restores it.
  crumble::container::Spec spec;
  spec.rootfs = root;
  spec.tmpfs = {tmpfs("/scratch", "size=1m")};
  std::string scratch_key;
  for (int i = 0; i < 2; ++i) {
    crumble::container::Container box(spec);
    INFO(box.snapshot_note());
    CHECK(box.run({"sh", "-c", "grep -c ' /scratch tmpfs ' /proc/mounts"}).out == "1\n");
    const std::string note = box.snapshot_note();
    if (i == 0) {
      REQUIRE(note.find("saved container snapshot ") != std::string::npos);
      scratch_key = note.substr(note.find("saved container snapshot ") + 25, 32);
      CHECK(scratch_key != key);
      CHECK(slurp(World::get().xdg / "crumble/snapshots" / (scratch_key + ".container")).find("root.erofs") != std::string::npos);
    } else {
      CHECK(note == "restored from container snapshot " + scratch_key);
    }
  }
  // With its own mounts and no /dev, the container has no /dev/urandom: restores still get fresh
  // randomness (init reseeds through the device it opened at boot), so no two print the same UUID.
  crumble::container::Spec bare;
  bare.rootfs = root;
  bare.mounts = std::vector<crumble::container::Mount>{{"/proc", "proc", "proc", ""}};
  std::set<std::string> bare_uuids;
  for (int i = 0; i < 3; ++i) {
    crumble::container::Container box(bare);
    INFO(box.snapshot_note());
    CHECK(box.container_restored() == (i > 0));
    const auto r = box.run({"sh", "-c", "test -e /dev/urandom || cat /proc/sys/kernel/random/uuid"});
    CHECK(r.status() == 0);
    CHECK(r.out.size() == 37);
    CHECK(bare_uuids.insert(r.out).second);
  }

  // Files copied in (secrets, keys) would sit in the snapshot's memory file: no container snapshot.
  spec.files = {file("/etc/marker", "one\n")};
  for (int i = 0; i < 2; ++i) {
    crumble::container::Container box(spec);
    INFO(box.snapshot_note());
    CHECK(box.run({"cat", "/etc/marker"}).out == "one\n");
    CHECK(box.snapshot_note().find("container snapshot") == std::string::npos);
    CHECK_FALSE(box.container_restored());
  }

  // A changed root is another root image: a new container snapshot, the change seen.
  write_file(root / "etc/changed", "yes\n");
  const Cli changed = run({"--verbose", "--rootfs", root.string(), "--", "cat", "/etc/changed"});
  INFO(changed);
  CHECK(changed.status == 0);
  CHECK(changed.out == "yes\n");
  CHECK(container_snapshot(changed, "saved").size() == 32);
  CHECK(container_snapshot(changed, "saved") != key);

  // --no-container-snapshot: neither restored nor saved.
  const std::size_t before = snapshots_in_cache();
  const Cli plain = run({"--verbose", "--no-container-snapshot", "--rootfs", root.string(), "--", "cat", "/etc/changed"});
  INFO(plain);
  CHECK(plain.status == 0);
  CHECK(plain.out == "yes\n");
  CHECK(plain.err.find("container snapshot") == std::string::npos);
  CHECK(plain.err.find("VM restored and container set up in ") != std::string::npos);
  CHECK(snapshots_in_cache() == before);

  // A damaged container snapshot is removed, the container set up again and saved anew.
  const std::string changed_key = container_snapshot(changed, "saved");
  fs::resize_file(World::get().xdg / "crumble/snapshots" / changed_key, 100);
  const Cli repaired = run({"--verbose", "--rootfs", root.string(), "--", "cat", "/etc/changed"});
  INFO(repaired);
  CHECK(repaired.status == 0);
  CHECK(repaired.out == "yes\n");
  CHECK(repaired.err.find("removed container snapshot " + changed_key) != std::string::npos);
  CHECK(container_snapshot(repaired, "saved") == changed_key);
  CHECK(qemus_in(World::get().tmp).empty());
}

TEST_CASE("container: after every case: no QEMU of ours running, nothing left in TMPDIR, the user's own cache untouched", "[container][e2e]") {
  const World& w = World::get();
  CHECK(qemus_in(w.tmp).empty());
  CHECK(joined(names_in(w.tmp)) == "(nothing)");
  CHECK(names_in(w.users_roots) == w.users_roots_before);
}

TEST_CASE("container: with its own mounts, a volume under a tmpfs and a file under a volume are seen (parents first, whatever the kind)", "[container][e2e][oci]") {
  const World& w = World::get();
  TempDir d("e2e-order-");
  write_file(d.path() / "vol/from-host", "shared\n");
  crumble::container::Spec spec;
  spec.image = w.users_image;
  using crumble::container::Mount;
  // as containerd's default spec: a tmpfs at /run; a bind below it, given before it
  spec.volumes = {{d.path() / "vol", "/run/data", false}};
  spec.mounts = std::vector<Mount>{{"/proc", "proc", "proc", "", false, true, true, true},
                                   {"/dev", "tmpfs", "tmpfs", "mode=755", false, true, false, false},
                                   {"/run", "tmpfs", "tmpfs", "mode=755", false, true, true, false}};
  spec.files.push_back({"/run/data/copied", "copied in\n"});
  crumble::container::Container box(spec);
  const auto r = box.run({"/bin/sh", "-c", "cat /run/data/from-host /run/data/copied && echo written > /run/data/back"});
  INFO(r.out << r.err);
  CHECK(r.status() == 0);
  CHECK(r.out == "shared\ncopied in\n");
  box.shutdown();
  CHECK(read_file(d.path() / "vol/back") == "written\n");  // the volume is the host's directory
}
