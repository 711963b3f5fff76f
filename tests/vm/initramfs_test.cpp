// SPDX-License-Identifier: Apache-2.0
// The initramfs builder, checked against GNU cpio (an independent reader of the newc format):
// `cpio -itvn` lists what we wrote (names, types, modes, sizes, device numbers, symlink targets)
// and `cpio -idm` extracts it for byte-for-byte comparison. A few checks read the bytes directly
// against the format description (Documentation/driver-api/early-userspace/buffer-format.rst).
// Without cpio (or, for the busybox layout, without /bin/busybox) a test is skipped loudly.
#include <catch2/catch.hpp>
#include <crumble/vm/guest/initramfs.hpp>

#include <sys/socket.h>
#include <sys/un.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
using crumble::vm::build_initramfs;
using crumble::vm::Cpio;
using crumble::vm::InitramfsSpec;
using Bytes = std::vector<std::uint8_t>;

namespace {

Bytes bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::string text(const Bytes& b) { return {b.begin(), b.end()}; }

// A fresh directory under $TMPDIR, removed with everything in it.
struct TempDir {
  fs::path path;
  TempDir() {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/crumble-initramfs-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& p) const { return path / p; }
};

void write_file(const fs::path& p, const Bytes& data, fs::perms mode = fs::perms(0644)) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size()));
  fs::permissions(p, mode);
}

Bytes read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), {}};
}

bool on_path(const char* tool) {
  return std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0;
}

void require_cpio() {
  if (on_path("cpio")) return;
  std::fprintf(stderr, "SKIPPED: GNU cpio not found, the oracle for the newc format (apt-get install cpio: scripts/setup.sh)\n");
  std::exit(4);
}

const fs::path host_busybox = "/bin/busybox";
void require_busybox() {
  if (::access(host_busybox.c_str(), X_OK) == 0) return;
  std::fprintf(stderr, "SKIPPED: %s not found (apt-get install busybox-static)\n", host_busybox.c_str());
  std::exit(4);
}

struct Shell {
  int status;
  std::string out;
};
Shell shell(const std::string& cmd) {
  Shell r{-1, {}};
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char chunk[4096];
  for (std::size_t n; (n = std::fread(chunk, 1, sizeof chunk, p)) > 0;) r.out.append(chunk, n);
  r.status = ::pclose(p);
  return r;
}

// One line of `cpio -itvn`, which prints like `ls -ln`.
struct Listed {
  std::string perms;  // "-rw-r--r--", "drwxr-xr-x", "lrwxrwxrwx", "crw-------"
  int nlink = 0, uid = -1, gid = -1;
  std::string size;  // bytes, or "major,minor" for devices
  std::string name, target;
};

// What GNU cpio reads from the archive, in order.
std::vector<Listed> cpio_list(const Bytes& archive) {
  TempDir dir;
  write_file(dir / "a.cpio", archive);
  Shell sh = shell("cpio -itvn < '" + (dir / "a.cpio").string() + "' 2>'" + (dir / "err").string() + "'");
  INFO("cpio stderr: " << text(read_file(dir / "err")));
  REQUIRE(sh.status == 0);
  std::vector<Listed> out;
  std::istringstream lines(sh.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream ss(line);
    Listed l;
    std::string month, day, year, rest;
    ss >> l.perms >> l.nlink >> l.uid >> l.gid >> l.size;
    if (l.perms[0] == 'c' || l.perms[0] == 'b') {
      std::string minor;
      ss >> minor;
      l.size += minor;
    }
    ss >> month >> day >> year;
    std::getline(ss, rest);
    rest.erase(0, 1);
    if (l.perms[0] == 'l') {
      auto arrow = rest.find(" -> ");
      REQUIRE(arrow != std::string::npos);
      l.target = rest.substr(arrow + 4);
      rest.resize(arrow);
    }
    l.name = rest;
    out.push_back(l);
  }
  return out;
}

const Listed& find(const std::vector<Listed>& list, const std::string& name) {
  for (const Listed& l : list)
    if (l.name == name) return l;
  FAIL("cpio does not list " << name);
  std::abort();
}

// Extracts with GNU cpio; `skip` names entries (device nodes) an unprivileged user cannot create.
void cpio_extract(const Bytes& archive, const fs::path& into, const std::vector<std::string>& skip = {}) {
  TempDir dir;
  write_file(dir / "a.cpio", archive);
  fs::create_directories(into);
  std::string cmd = "cd '" + into.string() + "' && cpio -idm --no-absolute-filenames ";
  if (!skip.empty()) cmd += "--nonmatching";
  for (const std::string& pattern : skip) cmd += " '" + pattern + "'";
  cmd += " < '" + (dir / "a.cpio").string() + "' 2>'" + (dir / "err").string() + "'";
  Shell sh = shell(cmd);
  INFO("cpio stderr: " << text(read_file(dir / "err")));
  REQUIRE(sh.status == 0);
}

// The records as the format description lays them out, walked without the writer's help.
struct Record {
  std::size_t offset;
  std::uint32_t ino, mode, nlink, filesize, rmajor, rminor;
  std::string name;
  Bytes data;
};
std::vector<Record> walk(const Bytes& a) {
  std::vector<Record> out;
  std::size_t at = 0;
  auto field = [&](int i) {
    return static_cast<std::uint32_t>(std::stoul(std::string(a.begin() + at + 6 + 8 * i, a.begin() + at + 14 + 8 * i), nullptr, 16));
  };
  while (true) {
    REQUIRE(at + 110 <= a.size());
    REQUIRE(std::string(a.begin() + at, a.begin() + at + 6) == "070701");
    Record r{at, field(0), field(1), field(4), field(6), field(9), field(10), {}, {}};
    std::uint32_t namesize = field(11);
    REQUIRE(at + 110 + namesize <= a.size());
    REQUIRE(a[at + 110 + namesize - 1] == 0);
    r.name.assign(a.begin() + at + 110, a.begin() + at + 110 + namesize - 1);
    std::size_t data = (at + 110 + namesize + 3) & ~std::size_t{3};
    REQUIRE(data + r.filesize <= a.size());
    r.data.assign(a.begin() + data, a.begin() + data + r.filesize);
    at = (data + r.filesize + 3) & ~std::size_t{3};
    out.push_back(r);
    if (r.name == "TRAILER!!!") break;
  }
  REQUIRE(at == a.size());  // nothing after the trailer's padding
  return out;
}

// Deterministic bytes that are not all alike, so a shifted or truncated copy shows.
Bytes pattern(std::size_t n, std::uint32_t seed) {
  Bytes b(n);
  for (auto& x : b) x = static_cast<std::uint8_t>((seed = seed * 1103515245u + 12345u) >> 16);
  return b;
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("a one-file archive is exactly the newc layout") {
  Cpio c;
  c.file("a", bytes("hi"), 0644);
  std::string want =
      // magic  ino       mode      uid       gid       nlink     mtime     filesize
      "070701" "00000001" "000081A4" "00000000" "00000000" "00000001" "00000000" "00000002"
      // devmaj devmin    rdevmaj   rdevmin   namesize  check
      "00000000" "00000000" "00000000" "00000000" "00000002" "00000000"
      "a" + std::string(1, '\0') +          // name and NUL: 110 + 2 is already a multiple of 4
      "hi" + std::string(2, '\0') +         // data padded to 4
      "070701" "00000000" "00000000" "00000000" "00000000" "00000001" "00000000" "00000000"
      "00000000" "00000000" "00000000" "00000000" "0000000B" "00000000"
      "TRAILER!!!" + std::string(4, '\0');  // NUL, then 110 + 11 = 121 padded to 124
  CHECK(text(c.finish()) == want);
}

TEST_CASE("cpio lists each entry with its type, mode, size and target") {
  require_cpio();
  Cpio c;
  c.directory("etc", 0750);
  c.file("etc/motd", bytes("hello\n"), 0640);
  c.file("bin/tool", bytes("#!"), 0755);
  c.file("empty", {}, 0600);
  c.symlink("bin/sh", "/bin/busybox");
  c.symlink("lib", "usr/lib");
  c.char_device("dev/console", 0600, 5, 1);
  c.char_device("dev/ttyS0", 0660, 4, 64);
  c.block_device("dev/vda", 0660, 254, 0);
  auto list = cpio_list(c.finish());

  struct Row {
    const char* name;
    const char* perms;
    const char* size;  // "maj,min" for devices
    const char* target;
  };
  const Row rows[] = {
      {"etc", "drwxr-x---", "0", ""},
      {"etc/motd", "-rw-r-----", "6", ""},
      {"bin", "drwxr-xr-x", "0", ""},  // added as a parent
      {"bin/tool", "-rwxr-xr-x", "2", ""},
      {"empty", "-rw-------", "0", ""},
      {"bin/sh", "lrwxrwxrwx", "12", "/bin/busybox"},
      {"lib", "lrwxrwxrwx", "7", "usr/lib"},
      {"dev", "drwxr-xr-x", "0", ""},
      {"dev/console", "crw-------", "5,1", ""},
      {"dev/ttyS0", "crw-rw----", "4,64", ""},
      {"dev/vda", "brw-rw----", "254,0", ""},
  };
  REQUIRE(list.size() == std::size(rows));
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Row& r = rows[i];
    INFO(r.name);
    CHECK(list[i].name == r.name);  // in the order added
    CHECK(list[i].perms == r.perms);
    CHECK(list[i].size == r.size);
    CHECK(list[i].target == r.target);
    CHECK(list[i].uid == 0);
    CHECK(list[i].gid == 0);
  }
}

TEST_CASE("cpio extracts every file byte for byte") {
  require_cpio();
  struct Row {
    std::string name;
    Bytes data;
    std::uint32_t mode;
  };
  const std::vector<Row> rows = {
      {"empty", {}, 0644},
      {"one", bytes("1"), 0600},
      {"three", bytes("abc"), 0640},  // data needs padding
      {"four", bytes("abcd"), 0755},  // data needs none
      {"one-mebibyte.bin", pattern(1 << 20, 7), 0644},
      {"with space/and more spaces.txt", bytes("spaced"), 0644},
      {"ünïcødé/файл-文件.txt", bytes("utf-8 \xe2\x9c\x93"), 0644},
      {"deep/a/b/c/d/e/f/g/leaf", bytes("leaf"), 0444},
  };
  Cpio c;
  for (const Row& r : rows) c.file(r.name, r.data, r.mode);
  c.symlink("link-relative", "three");
  c.symlink("link-absolute", "/etc/passwd");
  c.directory("locked", 0700);
  TempDir out;
  cpio_extract(c.finish(), out.path);

  for (const Row& r : rows) {
    INFO(r.name);
    CHECK(read_file(out / r.name) == r.data);
    CHECK((fs::status(out / r.name).permissions() & fs::perms::all) == fs::perms(r.mode));
  }
  CHECK(fs::read_symlink(out / "link-relative") == "three");
  CHECK(fs::read_symlink(out / "link-absolute") == "/etc/passwd");
  CHECK(fs::is_directory(out / "locked"));
  CHECK((fs::status(out / "locked").permissions() & fs::perms::all) == fs::perms(0700));
}

TEST_CASE("every record starts 4-byte aligned and the archive ends with the trailer") {
  require_cpio();
  Cpio c;
  // Every residue of name length and data length modulo 4, so every padding case occurs.
  std::vector<std::string> names;
  for (std::size_t name_len = 1; name_len <= 8; ++name_len)
    for (std::size_t data_len = 0; data_len <= 7; ++data_len) {
      std::string name = std::string(name_len - 1, 'n') + char('a' + data_len);
      c.file(name, pattern(data_len, static_cast<std::uint32_t>(name_len)), 0644);
      names.push_back(name);
    }
  Bytes archive = c.finish();
  CHECK(archive.size() % 4 == 0);
  auto records = walk(archive);
  REQUIRE(records.size() == names.size() + 1);
  std::set<std::uint32_t> inodes;
  for (std::size_t i = 0; i < names.size(); ++i) {
    CHECK(records[i].offset % 4 == 0);
    CHECK(records[i].name == names[i]);
    CHECK(records[i].nlink == 1);
    inodes.insert(records[i].ino);
  }
  CHECK(inodes.size() == names.size());  // unique
  CHECK(records.back().name == "TRAILER!!!");
  CHECK(records.back().offset % 4 == 0);

  auto listed = cpio_list(archive);
  REQUIRE(listed.size() == names.size());
  for (std::size_t i = 0; i < names.size(); ++i) CHECK(listed[i].name == names[i]);
}

TEST_CASE("parents come before their children, once, and naming a directory again sets its mode") {
  require_cpio();
  Cpio c;
  c.file("x/y/z", bytes("z"));
  c.file("x/y/w", bytes("w"));
  c.directory("x", 0700);  // already there as a parent: keeps its place
  c.symlink("usr-bin", "usr/bin");
  c.file("usr-bin/through-a-symlink", bytes("k"));  // a symlinked parent is not replaced
  auto list = cpio_list(c.finish());
  std::vector<std::string> names;
  for (const auto& l : list) names.push_back(l.name);
  CHECK(names == std::vector<std::string>{"x", "x/y", "x/y/z", "x/y/w", "usr-bin", "usr-bin/through-a-symlink"});
  CHECK(find(list, "x").perms == "drwx------");
  CHECK(find(list, "x/y").perms == "drwxr-xr-x");
}

TEST_CASE("paths are stored without a leading '/', and bad ones are refused") {
  struct Row {
    std::string path;
    const char* stored_or_error;  // the name in the archive, or a piece of the error
  };
  const std::vector<Row> rows = {
      {"/etc/passwd", "etc/passwd"},
      {"//a///b/", "a/b"},
      {"plain", "plain"},
      {std::string(4095, 'p'), nullptr},  // the longest name: checked below
      {"", "names no file"},
      {"/", "names no file"},
      {"a/../b", "'.' or '..'"},
      {"./a", "'.' or '..'"},
      {std::string("a\0b", 3), "NUL"},
      {std::string(4096, 'p'), "at most 4095"},
      {"TRAILER!!!", "reserved"},
  };
  for (const Row& r : rows) {
    INFO("path of " << r.path.size() << " bytes: " << r.path.substr(0, 40));
    Cpio c;
    std::string err = error_of([&] { c.file(r.path, bytes("d")); });
    if (r.stored_or_error == nullptr) {
      CHECK(err == "(no error)");
      auto records = walk(c.finish());
      CHECK(records[0].name == r.path);
    } else if (err == "(no error)") {
      auto records = walk(c.finish());
      CHECK(records.back().name == "TRAILER!!!");
      CHECK(records[records.size() - 2].name == r.stored_or_error);
    } else {
      CHECK_THAT(err, Catch::Contains(r.stored_or_error));
    }
  }
}

TEST_CASE("the writer refuses what newc or the unpacker cannot hold") {
  struct Row {
    const char* what;
    std::function<void(Cpio&)> call;
    const char* error;
  };
  const std::vector<Row> rows = {
      {"a path twice", [](Cpio& c) { c.file("f", {}); c.file("/f", {}); }, "f is already in the archive"},
      {"a directory over a file", [](Cpio& c) { c.file("f", {}); c.directory("f"); }, "not a directory"},
      {"a child of a file", [](Cpio& c) { c.file("f", {}); c.file("f/g", {}); }, "f is not a directory"},
      {"type bits in a mode", [](Cpio& c) { c.file("f", {}, 0100644); }, "outside 07777"},
      {"an empty symlink target", [](Cpio& c) { c.symlink("l", ""); }, "target must be"},
      {"a symlink target with NUL", [](Cpio& c) { c.symlink("l", std::string_view("a\0b", 3)); }, "without NUL"},
      {"a symlink target of 4096 bytes", [](Cpio& c) { c.symlink("l", std::string(4096, 't')); }, "1 to 4095"},
  };
  for (const Row& r : rows) {
    INFO(r.what);
    Cpio c;
    CHECK_THAT(error_of([&] { r.call(c); }), Catch::Contains(r.error));
  }
}

TEST_CASE("file_from_disk reads the file, and refuses missing, non-regular and 4 GiB files") {
  TempDir dir;
  Bytes data = pattern(12345, 3);
  write_file(dir / "data", data);
  {
    Cpio c;
    c.file_from_disk("/copied", dir / "data", 0600);
    auto records = walk(c.finish());
    CHECK(records[0].name == "copied");
    CHECK(records[0].mode == (S_IFREG | 0600));
    CHECK(records[0].data == data);
  }
  // Sparse: 4 GiB of size costs no disk, and the size is refused before anything is read.
  {
    std::ofstream(dir / "huge").put('x');
    fs::resize_file(dir / "huge", std::uint64_t{1} << 32);
  }
  struct Row {
    fs::path source;
    std::vector<std::string> error;
  };
  const std::vector<Row> rows = {
      {dir / "missing", {(dir / "missing").string(), "No such file"}},
      {dir.path, {dir.path.string(), "not a regular file"}},
      {dir / "huge", {(dir / "huge").string(), "4294967296 bytes", "4 GiB - 1"}},
  };
  for (const Row& r : rows) {
    INFO(r.source);
    Cpio c;
    std::string err = error_of([&] { c.file_from_disk("x", r.source, 0644); });
    for (const auto& piece : r.error) CHECK_THAT(err, Catch::Contains(piece));
  }
}

TEST_CASE("finish leaves the writer empty, and the output is reproducible") {
  auto fill = [](Cpio& c) {
    c.file("a/b", bytes("b"));
    c.symlink("l", "a/b");
  };
  Cpio c;
  fill(c);
  Bytes first = c.finish();
  CHECK(walk(c.finish()).size() == 1);  // only the trailer
  fill(c);                              // the same paths are accepted again
  CHECK(c.finish() == first);           // inode numbers start over
}

TEST_CASE("build_initramfs with busybox: /init, applets, directories, console and modules") {
  require_cpio();
  require_busybox();
  TempDir dir;
  const Bytes init = pattern(4099, 11);
  write_file(dir / "virtio_ring.ko", pattern(777, 1));
  write_file(dir / "virtio.ko", pattern(1000, 2));
  InitramfsSpec spec;
  spec.init = init;
  spec.modules = {{"virtio_ring", dir / "virtio_ring.ko"}, {"virtio", dir / "virtio.ko"}};
  Bytes archive = build_initramfs(spec);
  CHECK(build_initramfs(spec) == archive);

  auto list = cpio_list(archive);
  struct Row {
    const char* name;
    const char* perms;
    const char* size_or_target;
  };
  const Row rows[] = {
      {"init", "-rwxr-xr-x", "4099"},
      {"bin/busybox", "-rwxr-xr-x", nullptr},
      {"bin/sh", "lrwxrwxrwx", "/bin/busybox"},
      {"sbin/init", "lrwxrwxrwx", "/bin/busybox"},
      {"dev", "drwxr-xr-x", "0"},
      {"dev/console", "crw-------", "5,1"},
      {"proc", "drwxr-xr-x", "0"},
      {"sys", "drwxr-xr-x", "0"},
      {"tmp", "drwxrwxrwt", "0"},
      {"run", "drwxr-xr-x", "0"},
      {"etc", "drwxr-xr-x", "0"},
      {"crumble/modules/00-virtio_ring.ko", "-rw-r--r--", "777"},
      {"crumble/modules/01-virtio.ko", "-rw-r--r--", "1000"},
      {"crumble/modules.list", "-rw-r--r--", nullptr},
  };
  for (const Row& r : rows) {
    INFO(r.name);
    const Listed& l = find(list, r.name);
    CHECK(l.perms == r.perms);
    if (r.size_or_target) CHECK((l.perms[0] == 'l' ? l.target : l.size) == r.size_or_target);
  }

  // One symlink per applet the host's busybox lists, except the binary itself.
  Shell applets = shell("'" + host_busybox.string() + "' --list-full");
  REQUIRE(applets.status == 0);
  std::istringstream lines(applets.out);
  std::size_t count = 0;
  for (std::string applet; std::getline(lines, applet);) {
    if (applet.empty() || applet == "bin/busybox") continue;
    INFO(applet);
    CHECK(find(list, applet).target == "/bin/busybox");
    ++count;
  }
  CHECK(count > 100);

  std::set<std::string> seen;
  for (const auto& l : list) CHECK(seen.insert(l.name).second);  // no name twice
  for (const auto& l : list) {  // every parent listed before its child
    auto slash = l.name.rfind('/');
    if (slash != std::string::npos) CHECK(seen.count(l.name.substr(0, slash)));
  }

  TempDir out;
  cpio_extract(archive, out.path, {"dev/console"});
  CHECK(read_file(out / "init") == init);
  CHECK(read_file(out / "bin/busybox") == read_file(host_busybox));
  CHECK(read_file(out / "crumble/modules/00-virtio_ring.ko") == pattern(777, 1));
  CHECK(read_file(out / "crumble/modules/01-virtio.ko") == pattern(1000, 2));
  using namespace std::string_literals;
  CHECK(text(read_file(out / "crumble/modules.list")) ==
        "/crumble/modules/00-virtio_ring.ko\0/crumble/modules/01-virtio.ko\0"s);
}

TEST_CASE("container modules are stored apart, with their own list, and extra files are copied in") {
  require_cpio();
  TempDir dir;
  write_file(dir / "root/init", bytes("own init"), fs::perms(0755));
  write_file(dir / "overlay.ko", pattern(300, 3));
  write_file(dir / "virtio_mmio.ko", pattern(501, 4));
  write_file(dir / "virtio_blk.ko", pattern(502, 5));
  write_file(dir / "qemu-aarch64", pattern(7000, 6), fs::perms(0700));
  write_file(dir / "config", bytes("k=v\n"));
  InitramfsSpec spec;
  spec.rootfs = dir / "root";
  spec.modules = {{"overlay", dir / "overlay.ko"}};
  spec.container_modules = {{"virtio_mmio", dir / "virtio_mmio.ko"}, {"virtio_blk", dir / "virtio_blk.ko"}};
  spec.extra_files = {{"/crumble/qemu-aarch64", dir / "qemu-aarch64", 0755}, {"/etc/crumble/config", dir / "config", 0640}};
  const Bytes archive = build_initramfs(spec);
  CHECK(build_initramfs(spec) == archive);

  auto list = cpio_list(archive);
  struct Row {
    const char* name;
    const char* perms;
    const char* size;
  };
  const Row rows[] = {
      {"crumble/modules/00-overlay.ko", "-rw-r--r--", "300"},
      {"crumble/container-modules/00-virtio_mmio.ko", "-rw-r--r--", "501"},
      {"crumble/container-modules/01-virtio_blk.ko", "-rw-r--r--", "502"},
      {"crumble/qemu-aarch64", "-rwxr-xr-x", "7000"},  // the mode given, not the host file's
      {"etc/crumble/config", "-rw-r-----", "4"},
  };
  for (const Row& r : rows) {
    INFO(r.name);
    const Listed& l = find(list, r.name);
    CHECK(l.perms == r.perms);
    CHECK(l.size == r.size);
  }

  TempDir out;
  cpio_extract(archive, out.path, {"dev/console"});
  using namespace std::string_literals;
  CHECK(text(read_file(out / "crumble/modules.list")) == "/crumble/modules/00-overlay.ko\0"s);
  CHECK(text(read_file(out / "crumble/container-modules.list")) ==
        "/crumble/container-modules/00-virtio_mmio.ko\0/crumble/container-modules/01-virtio_blk.ko\0"s);
  CHECK(read_file(out / "crumble/container-modules/01-virtio_blk.ko") == pattern(502, 5));
  CHECK(read_file(out / "crumble/qemu-aarch64") == pattern(7000, 6));
  CHECK(read_file(out / "etc/crumble/config") == bytes("k=v\n"));

  // Without container modules the list is there and empty.
  spec.container_modules.clear();
  TempDir out2;
  cpio_extract(build_initramfs(spec), out2.path, {"dev/console"});
  CHECK(read_file(out2 / "crumble/container-modules.list").empty());
}

TEST_CASE("build_initramfs copies a rootfs directory whole, in sorted order") {
  require_cpio();
  TempDir dir;
  const fs::path root = dir / "root";
  write_file(root / "etc/hostname", bytes("guest\n"), fs::perms(0644));
  write_file(root / "bin/tool", pattern(5000, 4), fs::perms(0755));
  write_file(root / "with space/ünï.txt", bytes("u"), fs::perms(0600));
  write_file(root / "big.bin", pattern(1 << 20, 5), fs::perms(0640));
  write_file(root / "empty", {}, fs::perms(0644));
  fs::create_directories(root / "private/inner");
  fs::create_directories(root / "empty-dir");
  fs::create_symlink("tool", root / "bin/relative");
  fs::create_symlink("/etc/hostname", root / "absolute");
  fs::create_symlink("nowhere", root / "dangling");
  fs::create_directory_symlink("private", root / "dir-link");  // stored as a symlink, not followed
  fs::permissions(root / "private", fs::perms(0700));
  REQUIRE(::mkfifo((root / "fifo").c_str(), 0644) == 0);
  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string sock_path = (root / "sock").string();
  REQUIRE(sock_path.size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, sock_path.c_str(), sock_path.size() + 1);
  REQUIRE(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  ::close(sock);
  // Device nodes need CAP_MKNOD; without it that row is not checked.
  const bool have_nodes = ::mknod((root / "null").c_str(), S_IFCHR, makedev(1, 3)) == 0 &&
                          ::mknod((root / "loop0").c_str(), S_IFBLK, makedev(7, 0)) == 0;
  if (have_nodes) {  // set apart from mknod, which the umask trims
    fs::permissions(root / "null", fs::perms(0666));
    fs::permissions(root / "loop0", fs::perms(0660));
  }
  if (!have_nodes) WARN("mknod not permitted here: device nodes in a rootfs are not checked");

  const Bytes init = bytes("\x7f" "ELF stand-in");
  InitramfsSpec spec;
  spec.init = init;
  spec.rootfs = root;
  spec.busybox = "/nonexistent/busybox";  // not consulted when there is a rootfs
  Bytes archive = build_initramfs(spec);
  auto list = cpio_list(archive);

  struct Row {
    const char* name;
    const char* perms;
    const char* size_or_target;
  };
  std::vector<Row> rows = {
      {"absolute", "lrwxrwxrwx", "/etc/hostname"},
      {"big.bin", "-rw-r-----", "1048576"},
      {"bin", "drwxr-xr-x", "0"},
      {"bin/relative", "lrwxrwxrwx", "tool"},
      {"bin/tool", "-rwxr-xr-x", "5000"},
      {"dangling", "lrwxrwxrwx", "nowhere"},
      {"dir-link", "lrwxrwxrwx", "private"},
      {"empty", "-rw-r--r--", "0"},
      {"empty-dir", "drwxr-xr-x", "0"},
      {"etc", "drwxr-xr-x", "0"},
      {"etc/hostname", "-rw-r--r--", "6"},
  };
  if (have_nodes) {
    rows.push_back({"loop0", "brw-rw----", "7,0"});
    rows.push_back({"null", "crw-rw-rw-", "1,3"});
  }
  for (const Row& r : std::vector<Row>{
           {"private", "drwx------", "0"},
           {"private/inner", "drwxr-xr-x", "0"},
           {"with space", "drwxr-xr-x", "0"},
           {"with space/ünï.txt", "-rw-------", "1"},
           {"init", "-rwxr-xr-x", "13"},
           {"dev", "drwxr-xr-x", "0"},
           {"dev/console", "crw-------", "5,1"},
           {"crumble", "drwxr-xr-x", "0"},
           {"crumble/modules.list", "-rw-r--r--", "0"},
           {"crumble/container-modules.list", "-rw-r--r--", "0"},
       })
    rows.push_back(r);

  REQUIRE(list.size() == rows.size());  // the fifo and the socket are skipped
  for (std::size_t i = 0; i < rows.size(); ++i) {
    INFO(rows[i].name);
    CHECK(list[i].name == rows[i].name);  // sorted, then /init, the console and the module lists
    CHECK(list[i].perms == rows[i].perms);
    CHECK((list[i].perms[0] == 'l' ? list[i].target : list[i].size) == rows[i].size_or_target);
  }

  TempDir out;
  cpio_extract(archive, out.path, {"dev/console", "null", "loop0"});
  for (const char* f : {"etc/hostname", "bin/tool", "with space/ünï.txt", "big.bin", "empty"}) {
    INFO(f);
    CHECK(read_file(out / f) == read_file(root / f));
  }
  CHECK(read_file(out / "init") == init);

  // The bytes do not depend on the order the host lists a directory in.
  const fs::path again = dir / "again";
  for (const char* name : {"zeta", "alpha", "mid", "beta"}) write_file(again / name, bytes(name));
  const fs::path other = dir / "other";
  for (const char* name : {"beta", "mid", "alpha", "zeta"}) write_file(other / name, bytes(name));
  spec.rootfs = again;
  Bytes a = build_initramfs(spec);
  spec.rootfs = other;
  CHECK(build_initramfs(spec) == a);
}

TEST_CASE("a rootfs may bring its own /init and /dev/console") {
  TempDir dir;
  write_file(dir / "root/init", bytes("#!/bin/sh\n"), fs::perms(0755));
  InitramfsSpec spec;
  spec.rootfs = dir / "root";
  auto records = walk(build_initramfs(spec));
  std::vector<std::string> names;
  for (const auto& r : records) names.push_back(r.name);
  CHECK(names == std::vector<std::string>{"init", "dev", "dev/console", "crumble", "crumble/modules.list",
                                          "crumble/container-modules.list", "TRAILER!!!"});

  if (::mknod((dir / "root/console").c_str(), S_IFCHR | 0600, makedev(5, 1)) == 0) {
    fs::create_directories(dir / "root/dev");
    fs::rename(dir / "root/console", dir / "root/dev/console");
    names.clear();
    for (const auto& r : walk(build_initramfs(spec))) names.push_back(r.name);
    CHECK(std::count(names.begin(), names.end(), "dev/console") == 1);
  }
}

TEST_CASE("build_initramfs errors name the path and what to do") {
  TempDir dir;
  write_file(dir / "not-a-dir", bytes("x"));
  write_file(dir / "script", bytes("#!/bin/sh\n"), fs::perms(0755));
  write_file(dir / "root/init", bytes("own init"), fs::perms(0755));
  write_file(dir / "mod.ko", bytes("ko"));
  // A 32-bit ELF header and junk: passes the static check (only 64-bit files are inspected),
  // then the host refuses to run it.
  Bytes broken = bytes("\x7f" "ELF");
  broken.resize(64, 1);
  write_file(dir / "broken-elf", broken, fs::perms(0755));
  const Bytes init = bytes("init");

  struct Row {
    const char* what;
    std::function<void(InitramfsSpec&)> change;
    std::vector<std::string> error;
  };
  const std::string d = dir.path.string();
  const std::vector<Row> rows = {
      {"missing rootfs", [&](auto& s) { s.rootfs = d + "/nope"; },
       {"rootfs directory " + d + "/nope not found", "leave InitramfsSpec::rootfs empty"}},
      {"rootfs is a file", [&](auto& s) { s.rootfs = d + "/not-a-dir"; },
       {d + "/not-a-dir not found (or not a directory)"}},
      {"missing busybox", [&](auto& s) { s.busybox = d + "/nope/busybox"; },
       {"busybox not found at " + d + "/nope/busybox: apt-get install busybox-static, or pass a rootfs directory"}},
      {"busybox is not ELF", [&](auto& s) { s.busybox = d + "/script"; }, {d + "/script is not an ELF executable"}},
      {"busybox is dynamic", [&](auto& s) { s.busybox = "/proc/self/exe"; },  // this test: dynamically linked
       {"/proc/self/exe is dynamically linked", "apt-get install busybox-static"}},
      {"busybox cannot run here", [&](auto& s) { s.busybox = d + "/broken-elf"; },
       {"could not run '" + d + "/broken-elf --list-full'", "Exec format error"}},
      {"missing module", [&](auto& s) { s.init = {}; s.rootfs = d + "/root"; s.modules = {{"virtio", d + "/nope.ko"}}; },
       {"kernel module virtio not found at " + d + "/nope.ko", "dpkg-deb -x"}},
      {"module name with '/'", [&](auto& s) { s.init = {}; s.rootfs = d + "/root"; s.modules = {{"a/b", d + "/mod.ko"}}; },
       {"kernel module name 'a/b'"}},
      {"init twice", [&](auto& s) { s.rootfs = d + "/root"; }, {"init is already in the archive"}},
      {"missing container module", [&](auto& s) { s.container_modules = {{"virtio_blk", d + "/nope.ko"}}; },
       {"kernel module virtio_blk not found at " + d + "/nope.ko"}},
      {"relative extra file", [&](auto& s) { s.rootfs = d + "/root"; s.init = {}; s.extra_files = {{"crumble/x", d + "/mod.ko", 0755}}; },
       {"initramfs file " + d + "/mod.ko: its guest path 'crumble/x' must be absolute"}},
      {"missing extra file", [&](auto& s) { s.rootfs = d + "/root"; s.init = {}; s.extra_files = {{"/crumble/x", d + "/nope", 0755}}; },
       {"initramfs file " + d + "/nope (for /crumble/x) not found"}},
      {"extra file over /init", [&](auto& s) { s.rootfs = d + "/root"; s.init = {}; s.extra_files = {{"/init", d + "/mod.ko", 0755}}; },
       {"init is already in the archive"}},
  };
  for (const Row& r : rows) {
    INFO(r.what);
    InitramfsSpec spec;
    spec.init = init;
    r.change(spec);
    std::string err = error_of([&] { build_initramfs(spec); });
    for (const auto& piece : r.error) CHECK_THAT(err, Catch::Contains(piece));
  }

  InitramfsSpec none;
  fs::create_directories(dir / "bare");
  none.rootfs = dir / "bare";
  CHECK_THAT(error_of([&] { build_initramfs(none); }), Catch::Contains("no /init: set InitramfsSpec::init"));

  if (::geteuid() != 0) {  // root reads anything, so this row only means something for other users
    write_file(dir / "root2/secret", bytes("s"), fs::perms::none);
    InitramfsSpec spec;
    spec.init = init;
    spec.rootfs = dir / "root2";
    CHECK_THAT(error_of([&] { build_initramfs(spec); }), Catch::Contains("cannot read " + d + "/root2/secret"));
  }
}
