// SPDX-License-Identifier: Apache-2.0
// tests/container/root_cache_test.cpp — root images (container/root_image.hpp) and their cache
// (container/root_cache.hpp).
//
// The oracles are erofs-utils' own readers and the kernel: `fsck.erofs --extract` must give back
// the tree the image was built of (contents, modes, owners, times, symlinks, device nodes),
// `dump.erofs` shows hard links as one inode, and where this process may mount a loop device the
// kernel's erofs shows what fsck cannot restore (setuid bits, hard links). The cache is checked by
// what a caller sees: how often fill() ran, built(), what is left in the cache directory — also
// with threads and processes racing, fills that fail or are killed, and leases held during rm/prune.
// Without mkfs.erofs the test is skipped (exit 4), saying so.
#include <catch2/catch.hpp>
#include <crumble/container/root_cache.hpp>
#include <crumble/container/root_image.hpp>
#include <crumble/vm/host/process.hpp>

#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

namespace {

namespace fs = std::filesystem;
using crumble::container::build_erofs;
using crumble::container::ContainerError;
using crumble::container::directory_key;
using crumble::container::ImageError;
using crumble::container::RootBuildProgress;
using crumble::container::RootCache;
using crumble::container::RootLease;
using crumble::vm::TempDir;

void require_erofs_utils() {
  for (const char* tool : {"mkfs.erofs", "fsck.erofs", "dump.erofs"}) {
    if (std::system((std::string("command -v ") + tool + " > /dev/null 2>&1").c_str()) != 0) {
      std::cout << "SKIPPED: " << tool << " not found (apt-get install erofs-utils)\n";
      std::exit(4);
    }
  }
}

std::string run(const std::vector<std::string>& argv) {
  return crumble::vm::run_process_checked(argv, std::chrono::seconds(120)).out;
}

void write(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc) << s;
}
std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string key_of(const std::string& s) {
  crumble::container::Sha256 h;
  h.update(s);
  return h.hex();
}

// A tree with every kind of entry a root has: nested directories, files of several modes and
// owners, an empty and a 1 MiB file, relative, absolute and dangling symlinks, a hard link, a fifo
// and (as root) a character device, and a directory with an old timestamp.
void make_tree(const fs::path& t) {
  write(t / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n");
  write(t / "etc/group", "root:x:0:\nalice:x:1000:\n");
  write(t / "bin/tool", "#!/bin/sh\necho tool\n");
  ::chmod((t / "bin/tool").c_str(), 04755);  // setuid: the kernel check sees it
  write(t / "home/alice/notes", "private\n");
  ::chown((t / "home/alice").c_str(), 1000, 1000);
  ::chown((t / "home/alice/notes").c_str(), 1000, 2000);
  ::chmod((t / "home/alice/notes").c_str(), 0600);
  ::chmod((t / "home/alice").c_str(), 0750);
  write(t / "empty", "");
  std::string big(1 << 20, '\0');
  std::mt19937 rng(42);
  for (char& c : big) c = static_cast<char>(rng());
  write(t / "usr/lib/big.bin", big);
  fs::create_symlink("../bin/tool", t / "usr/tool-link");
  fs::create_symlink("/etc/passwd", t / "usr/absolute-link");
  fs::create_symlink("nowhere/at/all", t / "usr/dangling");
  fs::create_hard_link(t / "bin/tool", t / "bin/tool-hardlink");
  ::mkfifo((t / "run-fifo").c_str(), 0640);
  ::mknod((t / "dev-null").c_str(), S_IFCHR | 0666, ::makedev(1, 3));  // EPERM when not root: then absent
  fs::create_directories(t / "var/empty");
  struct timespec old[2] = {{981173106, 123456789}, {981173106, 123456789}};
  ::utimensat(AT_FDCWD, (t / "var/empty").c_str(), old, AT_SYMLINK_NOFOLLOW);
}

// Each entry under `dir` as one line: type, permission bits, owner, size, mtime (ns; not for
// symlinks, whose times fsck.erofs does not restore), device number, symlink target, a hash of the
// contents. What fsck.erofs cannot restore is left out here and checked by dump.erofs and the
// kernel: setuid/setgid/sticky bits and hard links.
std::map<std::string, std::string> describe(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (fs::recursive_directory_iterator it(dir), end; it != end; ++it) {
    struct stat s {};
    REQUIRE(::lstat(it->path().c_str(), &s) == 0);
    std::ostringstream d;
    d << std::oct << (s.st_mode & S_IFMT) << " " << (s.st_mode & 0777) << std::dec << " " << s.st_uid << ":" << s.st_gid;
    if (S_ISLNK(s.st_mode)) {
      d << " -> " << fs::read_symlink(it->path()).string();
    } else {
      d << " mtime " << s.st_mtim.tv_sec << "." << s.st_mtim.tv_nsec;
    }
    if (S_ISREG(s.st_mode)) d << " size " << s.st_size << " sha256 " << key_of(read(it->path()));
    if (S_ISCHR(s.st_mode) || S_ISBLK(s.st_mode)) d << " dev " << major(s.st_rdev) << "," << minor(s.st_rdev);
    out[it->path().lexically_relative(dir).string()] = d.str();
  }
  return out;
}

// What fsck.erofs extracts from `image`.
std::map<std::string, std::string> extracted(const fs::path& image, const fs::path& where) {
  run({"fsck.erofs", "--extract=" + where.string(), image.string()});
  return describe(where);
}

std::string dump_field(const fs::path& image, const std::string& path, const std::string& field) {
  const std::string out = run({"dump.erofs", "--path=" + path, image.string()});
  const auto at = out.find(field);
  REQUIRE(at != std::string::npos);
  return out.substr(at + field.size(), out.find_first_of(" \n", at + field.size()) - at - field.size());
}

fs::path only_file(const fs::path& dir, const std::string& name_part) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(name_part) != std::string::npos) return e.path();
  return {};
}

std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("root image: fsck.erofs extracts the tree it was built of: contents, modes, owners, times, symlinks, devices",
          "[container][root]") {
  require_erofs_utils();
  TempDir tmp("crumble-root-test-");
  const fs::path tree = tmp.path() / "tree", image = tmp.path() / "root.erofs";
  make_tree(tree);
  const std::uint64_t size = build_erofs(tree, image);
  CHECK(size == fs::file_size(image));
  CHECK(size % 4096 == 0);

  const auto want = describe(tree), got = extracted(image, tmp.path() / "out");
  CHECK(want.size() >= 16);
  for (const auto& [path, line] : want) {
    INFO(path);
    REQUIRE(got.count(path) == 1);
    CHECK(got.at(path) == line);
  }
  CHECK(got.size() == want.size());

  // Hard links are one inode in the image (fsck.erofs extracts them as copies).
  CHECK(dump_field(image, "/bin/tool", "NID: ") == dump_field(image, "/bin/tool-hardlink", "NID: "));
  CHECK(dump_field(image, "/bin/tool", "Links: ") == "2");
}

TEST_CASE("root image: the kernel's erofs shows setuid bits, hard links and the tree (where a loop mount is allowed)",
          "[container][root]") {
  require_erofs_utils();
  TempDir tmp("crumble-root-test-");
  const fs::path tree = tmp.path() / "tree", image = tmp.path() / "root.erofs", mnt = tmp.path() / "mnt";
  make_tree(tree);
  build_erofs(tree, image);
  fs::create_directories(mnt);
  const auto r = crumble::vm::run_process({"mount", "-t", "erofs", "-o", "loop,ro", image.string(), mnt.string()}, std::chrono::seconds(30));
  if (r.status != 0) {
    WARN("NOT CHECKED: the kernel refused to mount the image here (" << r.err << "); fsck.erofs checks the rest");
    return;
  }
  struct Unmount {
    fs::path at;
    ~Unmount() { ::umount2(at.c_str(), MNT_DETACH); }
  } unmount{mnt};
  CHECK(describe(mnt) == describe(tree));
  struct stat a {}, b {};
  REQUIRE(::lstat((mnt / "bin/tool").c_str(), &a) == 0);
  REQUIRE(::lstat((mnt / "bin/tool-hardlink").c_str(), &b) == 0);
  CHECK((a.st_mode & 07777) == 04755);
  CHECK(a.st_ino == b.st_ino);
  CHECK(a.st_nlink == 2);
}

TEST_CASE("root image: a failed build is an ImageError with mkfs.erofs's own message, and leaves no image",
          "[container][root]") {
  require_erofs_utils();
  TempDir tmp("crumble-root-test-");
  const fs::path tree = tmp.path() / "tree", image = tmp.path() / "root.erofs";
  make_tree(tree);

  SECTION("the output cannot grow (as on a full disk): RLIMIT_FSIZE, inherited by mkfs.erofs") {
    // SIGXFSZ ignored (an ignored signal stays ignored across exec): the write fails with EFBIG,
    // as it would with ENOSPC, instead of killing the tool.
    struct rlimit old {};
    ::getrlimit(RLIMIT_FSIZE, &old);
    auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = {64 * 1024, old.rlim_max};
    ::setrlimit(RLIMIT_FSIZE, &small);
    std::string message;
    try {
      build_erofs(tree, image);
    } catch (const ImageError& e) {
      message = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &old);
    ::signal(SIGXFSZ, old_handler);
    INFO(message);
    CHECK(message.find("mkfs.erofs could not build the root image " + image.string()) != std::string::npos);
    CHECK(message.find("File too large") != std::string::npos);  // mkfs.erofs's words
    CHECK(!fs::exists(image));
  }
  SECTION("the tree is missing or not a directory") {
    CHECK_THROWS_WITH(build_erofs(tmp.path() / "none", image), Catch::Contains("none: No such file or directory"));
    CHECK_THROWS_WITH(build_erofs(tree / "empty", image), Catch::Contains("not a directory"));
    CHECK(!fs::exists(image));
  }
  SECTION("the output's directory is missing") {
    CHECK_THROWS_AS(build_erofs(tree, tmp.path() / "no/such/dir/root.erofs"), ImageError);
  }
}

TEST_CASE("directory key: changes with every change to the tree, and with nothing else", "[container][root]") {
  TempDir tmp("crumble-root-test-");
  const fs::path t = tmp.path() / "tree", outside = tmp.path() / "outside";
  make_tree(t);
  write(outside / "file", "outside\n");
  fs::create_symlink(outside, t / "link-to-outside");

  std::set<std::string> seen;
  std::string key = directory_key(t);
  seen.insert(key);
  CHECK(key.size() == 64);
  CHECK(key.find_first_not_of("0123456789abcdef") == std::string::npos);
  fs::create_symlink(t, tmp.path() / "via-link");  // `--rootfs ./link`: the link to the root is followed
  CHECK(directory_key(tmp.path() / "via-link") == key);

  // None of these changes what an image of the tree would hold.
  const std::pair<const char*, std::function<void()>> unchanged[] = {
      {"the key computed again", [] {}},
      {"a file read", [&] { (void)read(t / "usr/lib/big.bin"); }},
      {"directories listed", [&] { (void)describe(t); }},
      {"an image built of it", [&] { build_erofs(t, tmp.path() / "root.erofs"); }},
      {"a file changed outside, behind a symlink", [&] { write(outside / "file", "changed, same size? no\n"); }},
      {"a file added outside, behind a symlink", [&] { write(outside / "new", "x"); }},
  };
  for (const auto& [what, act] : unchanged) {
    INFO(what);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    act();
    CHECK(directory_key(t) == key);
  }

  // Each of these does: every key differs from every one before.
  const std::pair<const char*, std::function<void()>> changes[] = {
      {"touch", [&] { ::utimensat(AT_FDCWD, (t / "etc/passwd").c_str(), nullptr, 0); }},
      {"same size, new bytes", [&] { write(t / "bin/tool", "#!/bin/sh\necho TOOL\n"); }},
      {"new bytes, old mtime put back",
       [&] {
         struct stat s {};
         ::stat((t / "etc/group").c_str(), &s);
         write(t / "etc/group", "root:x:0:\nalicE:x:1000:\n");
         struct timespec times[2] = {s.st_atim, s.st_mtim};
         ::utimensat(AT_FDCWD, (t / "etc/group").c_str(), times, 0);
       }},
      {"chmod", [&] { ::chmod((t / "empty").c_str(), 0600); }},
      {"chown", [&] { ::lchown((t / "empty").c_str(), 7, 7); }},
      {"a file added", [&] { write(t / "new-file", ""); }},
      {"an empty directory added", [&] { fs::create_directory(t / "new-dir"); }},
      {"a file removed", [&] { fs::remove(t / "new-file"); }},
      {"a file renamed", [&] { fs::rename(t / "empty", t / "empty2"); }},
      {"a symlink's target, same length",
       [&] {
         fs::remove(t / "usr/dangling");
         fs::create_symlink("nowhere/at/ALL", t / "usr/dangling");
       }},
      {"a hard link added", [&] { fs::create_hard_link(t / "usr/lib/big.bin", t / "big-again"); }},
      {"an xattr set", [&] { ::lsetxattr((t / "etc/passwd").c_str(), "user.crumble", "1", 1, 0); }},
      {"the root's mode", [&] { ::chmod(t.c_str(), 0700); }},
  };
  for (const auto& [what, act] : changes) {
    INFO(what);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // a new ctime/mtime even on coarse clocks
    act();
    key = directory_key(t);
    CHECK(seen.insert(key).second);
  }
  CHECK_THROWS_AS(directory_key(tmp.path() / "none"), ImageError);
  CHECK_THROWS_WITH(directory_key(t / "etc/passwd"), Catch::Contains("is not a directory"));
}

TEST_CASE("root cache: the first acquire builds, the next reuse it without calling fill, the image is read-only",
          "[container][cache]") {
  require_erofs_utils();
  TempDir tmp("crumble-root-test-");
  RootCache cache(tmp.path() / "roots");
  const std::string key = key_of("image one");
  int fills = 0;
  auto fill = [&](const fs::path& rootfs) {
    ++fills;
    make_tree(rootfs);
  };
  std::vector<RootBuildProgress::Step> steps;
  std::uint64_t told_bytes = 0;
  cache.on_build([&](const RootBuildProgress& p) {
    steps.push_back(p.step);
    if (p.step == RootBuildProgress::Step::done) told_bytes = p.image_bytes;
    CHECK(p.key == key);
    CHECK(p.source == "one.tar");
  });
  fs::path image;
  {
    RootLease first = cache.acquire(key, "one.tar", fill);
    CHECK(first.built());
    CHECK(first.key() == key);
    image = first.image();
    CHECK(image == cache.dir() / key / "root.erofs");
    CHECK(told_bytes == fs::file_size(image));
    struct stat s {};
    REQUIRE(::stat(image.c_str(), &s) == 0);
    CHECK((s.st_mode & 07777) == 0444);
    CHECK(read(first.kept("etc/passwd")) == "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n");
    CHECK(read(first.kept("etc/group")) == "root:x:0:\nalice:x:1000:\n");
    CHECK(first.kept("etc/shadow").empty());
    CHECK(first.kept("../roots").empty());
  }
  CHECK(fills == 1);
  CHECK(steps == std::vector{RootBuildProgress::Step::filling, RootBuildProgress::Step::building_image, RootBuildProgress::Step::done});

  steps.clear();
  RootLease again = cache.acquire(key, "one.tar", fill);
  CHECK(!again.built());
  CHECK(fills == 1);
  CHECK(steps.empty());
  CHECK(again.image() == image);

  // The image holds what fill wrote; the unpacked tree itself is not kept.
  TempDir ref("crumble-root-test-");
  make_tree(ref.path() / "tree");
  const auto got = extracted(image, tmp.path() / "out"), want = describe(ref.path() / "tree");
  auto timeless = [](std::map<std::string, std::string> m) {  // two trees made one after the other
    for (auto& [path, line] : m)
      if (auto at = line.find(" mtime "); at != std::string::npos) line.erase(at, line.find(' ', at + 7) - at);
    return m;
  };
  CHECK(timeless(got) == timeless(want));
  CHECK(leftovers(cache.dir()) == std::vector<std::string>{key, key + ".lock"});
  CHECK(leftovers(cache.dir() / key) == std::vector<std::string>{"info.json", "kept", "root.erofs"});
}

TEST_CASE("root cache: kept files are never read through a symlink out of the tree", "[container][cache]") {
  require_erofs_utils();
  TempDir tmp("crumble-root-test-");
  write(tmp.path() / "host-secret", "HOST FILE\n");
  RootCache cache(tmp.path() / "roots");
  RootLease lease = cache.acquire(key_of("symlinks"), "links", [&](const fs::path& r) {
    write(r / "usr/share/base-passwd/passwd", "root:x:0:0::/root:/bin/sh\n");
    fs::create_directories(r / "etc");
    fs::create_symlink("../usr/share/base-passwd/passwd", r / "etc/passwd");      // inside: followed
    fs::create_symlink(tmp.path() / "host-secret", r / "etc/group");                // absolute: in the tree, missing
    fs::create_symlink("../../../../../../../../host-secret", r / "etc/shadow");   // climbing out: stays at the top
    fs::create_symlink(tmp.path(), r / "hostdir");                                // a symlinked directory
  }, {"etc/passwd", "etc/group", "etc/shadow", "hostdir/host-secret", "etc/nsswitch.conf"});
  CHECK(read(lease.kept("etc/passwd")) == "root:x:0:0::/root:/bin/sh\n");
  CHECK(lease.kept("etc/group").empty());
  CHECK(lease.kept("etc/shadow").empty());
  CHECK(lease.kept("hostdir/host-secret").empty());
  CHECK(lease.kept("etc/nsswitch.conf").empty());
  CHECK_THROWS_WITH(cache.acquire(key_of("bad keep"), "x", [](const fs::path&) {}, {"../etc/passwd"}),
                    Catch::Contains("not a relative path inside it"));
  CHECK_THROWS_WITH(cache.acquire(key_of("bad keep"), "x", [](const fs::path&) {}, {"/etc/passwd"}),
                    Catch::Contains("not a relative path inside it"));
  CHECK_THROWS_WITH(cache.acquire("../../etc", "x", [](const fs::path&) {}), Catch::Contains("is not a root cache key"));
}

TEST_CASE("root cache: threads and processes acquiring one key at once build it once", "[container][cache]") {
  require_erofs_utils();
  TempDir tmp("crumble-root-test-");
  const fs::path dir = tmp.path() / "roots", fills_log = tmp.path() / "fills";
  auto slow_fill = [&](const fs::path& rootfs) {
    std::ofstream(fills_log, std::ios::app) << ::getpid() << "\n";
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the others arrive while it runs
    make_tree(rootfs);
  };

  SECTION("four threads") {
    std::atomic<int> built{0}, reused{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
      threads.emplace_back([&] {
        RootCache cache(dir);
        RootLease l = cache.acquire(key_of("raced"), "raced.tar", slow_fill);
        (l.built() ? built : reused)++;
        CHECK(fs::file_size(l.image()) > 0);
      });
    for (auto& t : threads) t.join();
    CHECK(built == 1);
    CHECK(reused == 3);
  }
  SECTION("three processes") {
    std::vector<pid_t> children;
    for (int i = 0; i < 3; ++i) {
      const pid_t pid = ::fork();
      if (pid == 0) {
        int code = 1;
        try {
          RootCache cache(dir);
          RootLease l = cache.acquire(key_of("raced"), "raced.tar", slow_fill);
          code = fs::file_size(l.image()) > 0 ? (l.built() ? 10 : 11) : 2;
        } catch (const std::exception& e) {
          std::cerr << "child: " << e.what() << "\n";
        }
        ::_exit(code);
      }
      REQUIRE(pid > 0);
      children.push_back(pid);
    }
    std::multiset<int> codes;
    for (pid_t p : children) {
      int st = 0;
      ::waitpid(p, &st, 0);
      codes.insert(WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    CHECK(codes == std::multiset<int>{10, 11, 11});
  }
  std::string log = read(fills_log);
  CHECK(std::count(log.begin(), log.end(), '\n') == 1);
  CHECK(RootCache(dir).list().size() == 1);
}

TEST_CASE("root cache: a fill that fails or is killed leaves no entry, and the next acquire builds", "[container][cache]") {
  require_erofs_utils();
  TempDir tmp("crumble-root-test-");
  RootCache cache(tmp.path() / "roots");
  const std::string key = key_of("fragile");
  auto good_fill = [](const fs::path& r) { make_tree(r); };

  SECTION("fill throws: its exception comes back as it is") {
    CHECK_THROWS_WITH(cache.acquire(key, "fragile.tar",
                                    [](const fs::path& r) {
                                      write(r / "half/written", "x");
                                      throw ImageError("layer 2: unexpected end of data (test)");
                                    }),
                      "layer 2: unexpected end of data (test)");
    CHECK(cache.list().empty());
    CHECK(leftovers(cache.dir()) == std::vector<std::string>{key + ".lock"});
  }
  SECTION("the building process is killed (SIGKILL) mid-fill: the next build removes what it left") {
    const pid_t pid = ::fork();
    if (pid == 0) {
      RootCache c(tmp.path() / "roots");
      c.acquire(key, "fragile.tar", [](const fs::path& r) {
        write(r / "half/written", "x");
        ::kill(::getpid(), SIGKILL);
      });
      ::_exit(0);
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    REQUIRE(WIFSIGNALED(st));
    CHECK(cache.list().empty());
    CHECK(!only_file(cache.dir(), key + ".tmp.").empty());  // what it left
  }
  SECTION("mkfs.erofs fails (its output cannot grow, as on a full disk)") {
    struct rlimit old {};
    ::getrlimit(RLIMIT_FSIZE, &old);
    auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    std::string message;
    try {
      cache.acquire(key, "fragile.tar", [&](const fs::path& r) {
        make_tree(r);
        struct rlimit small = {64 * 1024, old.rlim_max};  // from here on: mkfs.erofs inherits it
        ::setrlimit(RLIMIT_FSIZE, &small);
      });
    } catch (const ImageError& e) {
      message = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &old);
    ::signal(SIGXFSZ, old_handler);
    CHECK(message.find("File too large") != std::string::npos);
    CHECK(cache.list().empty());
    CHECK(leftovers(cache.dir()) == std::vector<std::string>{key + ".lock"});
  }
  RootLease l = cache.acquire(key, "fragile.tar", good_fill);
  CHECK(l.built());
  CHECK(cache.list().size() == 1);
  CHECK(leftovers(cache.dir()) == std::vector<std::string>{key, key + ".lock"});
}

TEST_CASE("root cache: a build held by another process is waited for up to the deadline, then an error", "[container][cache]") {
  require_erofs_utils();
  TempDir tmp("crumble-root-test-");
  RootCache cache(tmp.path() / "roots");
  cache.set_lock_wait(std::chrono::milliseconds(300));
  const std::string key = key_of("held");
  fs::create_directories(cache.dir());
  crumble::vm::Fd held(::open((cache.dir() / (key + ".lock")).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  REQUIRE(::flock(held.get(), LOCK_EX) == 0);  // as a build in progress holds it
  bool told_waiting = false;
  cache.on_build([&](const RootBuildProgress& p) { told_waiting |= p.step == RootBuildProgress::Step::waiting; });
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(cache.acquire(key, "held.tar", [](const fs::path&) {}), Catch::Contains("gave up waiting for the lock"));
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(300));
  CHECK(told_waiting);
}

TEST_CASE("root cache: rm and prune remove entries not in use and report those in use", "[container][cache]") {
  require_erofs_utils();
  TempDir tmp("crumble-root-test-");
  RootCache cache(tmp.path() / "roots");
  auto fill = [](const fs::path& r) { write(r / "etc/hostname", "x\n"); };
  const std::string a = key_of("a"), b = key_of("b"), c = key_of("c");
  std::optional<RootLease> held = cache.acquire(a, "a.tar", fill);
  cache.acquire(b, "b.tar", fill);
  cache.acquire(c, "c.tar", fill);
  REQUIRE(cache.list().size() == 3);

  auto removed = cache.remove(b.substr(0, 6));
  CHECK(removed.removed == std::vector{b});
  CHECK(removed.in_use.empty());
  removed = cache.remove(a.substr(0, 4));
  CHECK(removed.removed.empty());
  CHECK(removed.in_use == std::vector{a});
  CHECK(fs::exists(held->image()));

  removed = cache.prune();
  CHECK(removed.removed == std::vector{c});
  CHECK(removed.in_use == std::vector{a});
  REQUIRE(cache.list().size() == 1);
  CHECK(cache.list()[0].key == a);

  held.reset();  // the run ends
  removed = cache.prune();
  CHECK(removed.removed == std::vector{a});
  CHECK(cache.list().empty());
  CHECK(leftovers(cache.dir()).empty());  // no lock files, no temporaries
  CHECK(cache.remove(a.substr(0, 8)).removed.empty());

  for (const char* bad : {"", "abc", "ab.d", "ABCD", "../x"}) {
    INFO(bad);
    CHECK_THROWS_AS(cache.remove(bad), ContainerError);
  }
  // After removal the key builds again.
  int fills = 0;
  CHECK(cache.acquire(a, "a.tar", [&](const fs::path& r) { ++fills, fill(r); }).built());
  CHECK(fills == 1);
}

TEST_CASE("root cache: list shows key, source, size on disk and last use", "[container][cache]") {
  require_erofs_utils();
  TempDir tmp("crumble-root-test-");
  RootCache cache(tmp.path() / "roots");
  const auto before = fs::file_time_type::clock::now();
  std::uint64_t image_bytes = 0;
  {
    RootLease l = cache.acquire(key_of("listed"), "/images/alpine.tar", [](const fs::path& r) { make_tree(r); });
    image_bytes = fs::file_size(l.image());
  }
  auto list = cache.list();
  REQUIRE(list.size() == 1);
  CHECK(list[0].key == key_of("listed"));
  CHECK(list[0].source == "/images/alpine.tar");
  CHECK(list[0].bytes > image_bytes);  // the image, info.json and the kept files
  CHECK(list[0].bytes < image_bytes + 4096);
  CHECK(list[0].last_used >= before);
  const auto first_use = list[0].last_used;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  cache.acquire(key_of("listed"), "/images/alpine.tar", [](const fs::path&) { FAIL("filled again"); });
  CHECK(cache.list().at(0).last_used > first_use);
}

TEST_CASE("root cache: --rootfs DIR builds from the directory itself, again only when it changes", "[container][cache]") {
  require_erofs_utils();
  TempDir tmp("crumble-root-test-");
  RootCache cache(tmp.path() / "roots");
  const fs::path dir = tmp.path() / "my-root";
  make_tree(dir);
  const auto want = describe(dir);
  fs::path first_image;
  {
    RootLease l = cache.acquire_directory(dir);
    CHECK(l.built());
    CHECK(l.key() == directory_key(dir));
    CHECK(read(l.kept("etc/group")) == "root:x:0:\nalice:x:1000:\n");
    first_image = l.image();
    CHECK(extracted(l.image(), tmp.path() / "out") == want);
  }
  CHECK(describe(dir) == want);  // the directory is untouched
  CHECK(!cache.acquire_directory(dir).built());
  write(dir / "etc/hostname", "changed\n");
  RootLease changed = cache.acquire_directory(dir);
  CHECK(changed.built());
  CHECK(changed.image() != first_image);
  const auto list = cache.list();
  REQUIRE(list.size() == 2);
  CHECK(list[0].source == dir.string());
}

// Not run by default: `container_root_cache_test "[.bench]"` (set CRUMBLE_BENCH_ROOT to a tree of
// about 100 MB; default: a copy of /usr/lib/python3*).
TEST_CASE("root image: time to build a ~100 MB root", "[.bench]") {
  require_erofs_utils();
  TempDir tmp("crumble-root-bench-");
  const fs::path tree = tmp.path() / "tree";
  const char* given = std::getenv("CRUMBLE_BENCH_ROOT");
  fs::create_directories(tree / "usr/lib");
  if (given) {
    run({"cp", "-a", given, (tree / "usr/lib").string()});
  } else {
    for (const auto& e : fs::directory_iterator("/usr/lib"))
      if (e.path().filename().string().starts_with("python3")) run({"cp", "-a", e.path().string(), (tree / "usr/lib").string()});
  }
  const std::string du = run({"du", "-sb", tree.string()});
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  const std::string key = directory_key(tree);
  auto t1 = clock::now();
  const std::uint64_t bytes = build_erofs(tree, tmp.path() / "root.erofs");
  auto t2 = clock::now();
  RootCache cache(tmp.path() / "roots");
  { RootLease l = cache.acquire_directory(tree); }
  auto t3 = clock::now();
  { RootLease l = cache.acquire_directory(tree); }
  auto t4 = clock::now();
  auto s = [](auto d) { return std::chrono::duration<double>(d).count(); };
  std::cout << "tree: " << du.substr(0, du.find('\t')) << " bytes, " << describe(tree).size() << " entries\n"
            << "directory_key: " << s(t1 - t0) << " s\nbuild_erofs: " << s(t2 - t1) << " s (" << bytes << " bytes)\n"
            << "acquire_directory, first (key + build): " << s(t3 - t2) << " s\nacquire_directory, cached: " << s(t4 - t3) << " s\n";
}
