// SPDX-License-Identifier: Apache-2.0
// tests/container/layers_test.cpp — unpack_image and apply_layer: the unpacked root of every form of
// one image equals `umoci unpack` of it (the oracle: same files, modes, owners, symlinks), whiteouts
// and opaque directories honoured in any entry order, every blob verified before anything is
// applied, and hostile layers refused with nothing written outside the root; overlay diffs (a
// container's writes) applied as the host kernel's own overlay shows them.
#include "make_images.hpp"

#include <crumble/container/image.hpp>
#include <crumble/container/layers.hpp>

#include <sys/mount.h>
#include <sys/xattr.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <iostream>
#include <chrono>
#include <functional>

using namespace crumble::container;
using namespace crumble::test;
namespace fs = std::filesystem;

namespace {

// A fresh root and work directory for one unpack, with a canary directory beside them that no
// layer may touch.
struct Unpack {
  crumble::vm::TempDir dir{"crumble-unpack-"};
  fs::path rootfs = dir.path() / "rootfs", work = dir.path() / "work", canary = dir.path() / "canary";
  Unpack() {
    fs::create_directories(rootfs);
    fs::create_directories(work);
    fs::create_directories(canary);
    write_file(canary / "victim", "keep me\n");
  }
  std::map<std::string, std::string> canary_tree() const { return tree(canary); }
  bool empty_root() const { return fs::is_empty(rootfs); }
};

std::string layer_at(const std::vector<TarEntry>& entries) { return make_tar(entries); }

}  // namespace

TEST_CASE("every form of an image unpacks to what umoci unpacks") {
  const auto& images = ToolImages::get();
  const auto oracle = tree(images.oracle_rootfs);
  REQUIRE(oracle.count("bin/busybox"));
  for (const auto& path : {images.layout, images.oci_archive, images.docker_archive, images.podman_oci_archive, images.podman_docker_archive}) {
    INFO(path);
    Unpack u;
    const auto t0 = std::chrono::steady_clock::now();
    unpack_image(read_image(path), u.work, u.rootfs);
    std::printf("unpack %s: %.1f ms\n", path.filename().c_str(),
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    const auto ours = tree(u.rootfs);
    for (const auto& [p, d] : oracle) {
      INFO(p);
      CHECK(ours.count(p) == 1);
      if (ours.count(p)) CHECK(ours.at(p) == d);
    }
    for (const auto& [p, d] : ours) {
      INFO(p);
      CHECK(oracle.count(p) == 1);
    }
  }
}

TEST_CASE("files of every layer are visible, whiteouts and opaque directories honoured") {
  const auto& images = ToolImages::get();
  Unpack u;
  unpack_image(read_image(images.layout), u.work, u.rootfs);
  const auto t = tree(u.rootfs);
  struct Case {
    const char* path;
    const char* want;  // "" = absent; else a prefix of the tree description
  };
  const Case cases[] = {
      {"bin/busybox", "file 00755"},          // layer 1
      {"bin/ls", "symlink -> /bin/busybox"},  // busybox --install -s
      {"bin/suid", "file 04755"},
      {"home/user/f", "file 00640"},
      {"fifo", "fifo 00600"},
      {"etc/alternatives/sh", "symlink -> /bin/busybox"},  // absolute targets are data
      {"etc/alternatives/lib", "symlink -> ../../usr/lib"},
      {"gone", ""},  // layer 2: .wh.gone
      {"added", "file 00644"},
      {"newdir/n", "file"},
      {"opq/old1", ""},  // layer 3: .wh..wh..opq
      {"opq/sub", ""},
      {"opq/fresh", "file"},
  };
  for (const auto& c : cases) {
    INFO(c.path);
    if (*c.want == 0) {
      CHECK(t.count(c.path) == 0);
    } else {
      REQUIRE(t.count(c.path) == 1);
      CHECK_THAT(t.at(c.path), Catch::StartsWith(c.want));
    }
  }
  CHECK_THAT(t.at("home/user/f"), Catch::EndsWith(" 1000:1000"));
  CHECK_THAT(t.at("added"), Catch::EndsWith(" 1000:1000"));
  CHECK(read_file(u.rootfs / "keep/a") == "second\n");
  CHECK(fs::equivalent(u.rootfs / "bin/hard", u.rootfs / "bin/busybox"));  // the hardlink is one
}

TEST_CASE("whiteouts do not depend on where they are in the layer's tar") {
  const std::string lower = layer_at({dir_entry("d"), file_entry("d/old", "o"), file_entry("d/gone", "g"), dir_entry("o"), file_entry("o/old", "o"), file_entry("top", "t")});
  struct Case {
    const char* name;
    std::vector<TarEntry> upper;
  };
  const Case cases[] = {
      {"whiteouts first", {file_entry("d/.wh.gone", ""), file_entry("o/.wh..wh..opq", ""), file_entry("o/new", "n"), file_entry("d/new", "n")}},
      {"whiteouts last", {file_entry("o/new", "n"), file_entry("d/new", "n"), file_entry("d/.wh.gone", ""), file_entry("o/.wh..wh..opq", "")}},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    Unpack u;
    const auto lay = make_layout(u.dir.path() / "img", {{lower, layer_at(c.upper)}});
    unpack_image(read_image(lay), u.work, u.rootfs);
    CHECK(fs::exists(u.rootfs / "d/old"));
    CHECK(!fs::exists(u.rootfs / "d/gone"));
    CHECK(fs::exists(u.rootfs / "d/new"));
    CHECK(!fs::exists(u.rootfs / "o/old"));  // opaque: the lower layer's entries go,
    CHECK(fs::exists(u.rootfs / "o/new"));   // this layer's stay
    CHECK(fs::exists(u.rootfs / "top"));
    CHECK(!fs::exists(u.rootfs / "d/.wh.gone"));
    CHECK(!fs::exists(u.rootfs / "o/.wh..wh..opq"));
  }
}

TEST_CASE("an upper layer replaces a lower directory by a file and a lower symlink by a directory") {
  Unpack u;
  const auto lay = make_layout(u.dir.path() / "img", {{layer_at({dir_entry("x"), file_entry("x/in", "1"), symlink_entry("l", "/")}),
                                                      layer_at({file_entry("x", "now a file"), dir_entry("l"), file_entry("l/f", "2")})}});
  unpack_image(read_image(lay), u.work, u.rootfs);
  CHECK(read_file(u.rootfs / "x") == "now a file");
  CHECK(fs::is_directory(fs::symlink_status(u.rootfs / "l")));
  CHECK(read_file(u.rootfs / "l/f") == "2");
}

TEST_CASE("hostile layers are refused, naming the layer and entry, with nothing written outside the root") {
  Unpack probe;  // only for the canary's path, which the hostile entries aim at
  struct Case {
    const char* name;
    std::function<std::vector<std::vector<TarEntry>>(const fs::path& canary)> layers;
    std::vector<std::string> says;
  };
  const Case cases[] = {
      {"a .. entry", [](const fs::path&) { return std::vector<std::vector<TarEntry>>{{file_entry("../../../escape", "x")}}; },
       {"entry \"../../../escape\"", "\"..\" component"}},
      {"a .. in the middle", [](const fs::path&) { return std::vector<std::vector<TarEntry>>{{file_entry("a/../../escape", "x")}}; },
       {"\"..\" component"}},
      {"an absolute path", [](const fs::path& c) { return std::vector<std::vector<TarEntry>>{{file_entry((c / "abs").string(), "x")}}; },
       {"absolute path"}},
      {"a symlink, then a write through it", [](const fs::path& c) { return std::vector<std::vector<TarEntry>>{{symlink_entry("evil", c.string()), file_entry("evil/file", "x")}}; },
       {"entry \"evil/file\"", "goes through the symlink \"evil\""}},
      {"a write through it first, then the symlink", [](const fs::path& c) { return std::vector<std::vector<TarEntry>>{{file_entry("evil/file", "x"), symlink_entry("evil", c.string())}}; },
       {"goes through the symlink \"evil\""}},
      {"a symlink in a lower layer, a write through it in an upper one",
       [](const fs::path& c) { return std::vector<std::vector<TarEntry>>{{symlink_entry("evil", c.string())}, {file_entry("evil/file", "x")}}; },
       {"layer 2", "goes through the symlink \"evil\""}},
      {"a relative symlink climbing out, then a write through it",
       [](const fs::path&) { return std::vector<std::vector<TarEntry>>{{symlink_entry("up", "../canary"), file_entry("up/file", "x")}}; },
       {"goes through the symlink \"up\""}},
      {"a hardlink escaping", [](const fs::path&) { return std::vector<std::vector<TarEntry>>{{hardlink_entry("hl", "../canary/victim")}}; },
       {"hardlink target", "\"..\" component"}},
      {"a hardlink to an absolute path", [](const fs::path& c) { return std::vector<std::vector<TarEntry>>{{hardlink_entry("hl", (c / "victim").string())}}; },
       {"hardlink target", "absolute path"}},
      {"a hardlink through a symlink", [](const fs::path& c) { return std::vector<std::vector<TarEntry>>{{symlink_entry("evil", c.string()), hardlink_entry("hl", "evil/victim")}}; },
       {"hardlink \"hl\"", "goes through the symlink \"evil\""}},
      {"a hardlink to a symlink, then a write through the hardlink",
       [](const fs::path& c) { return std::vector<std::vector<TarEntry>>{{symlink_entry("evil", c.string()), hardlink_entry("hl", "evil"), file_entry("hl/file", "x")}}; },
       {"entry \"hl/file\"", "goes through the symlink \"hl\""}},
      {"a hardlink to a lower layer's symlink, then a write through it",
       [](const fs::path& c) { return std::vector<std::vector<TarEntry>>{{symlink_entry("evil", c.string())}, {hardlink_entry("hl", "evil"), file_entry("hl/file", "x")}}; },
       {"layer 2", "goes through the symlink \"hl\""}},
      {"a character device", [](const fs::path&) { return std::vector<std::vector<TarEntry>>{{node_entry("dev/null", 'c')}}; },
       {"entry \"dev/null\"", "device node", "devtmpfs"}},
      {"a block device", [](const fs::path&) { return std::vector<std::vector<TarEntry>>{{node_entry("dev/loop0", 'b')}}; }, {"device node"}},
      {"a whiteout through a lower symlink", [](const fs::path& c) { return std::vector<std::vector<TarEntry>>{{symlink_entry("evil", c.string())}, {file_entry("evil/.wh.victim", "")}}; },
       {"layer 2", "whiteout of \"evil/victim\"", "symlink"}},
      {"an opaque directory through a lower symlink",
       [](const fs::path& c) { return std::vector<std::vector<TarEntry>>{{symlink_entry("evil", c.string())}, {file_entry("evil/.wh..wh..opq", "")}}; },
       {"layer 2", "opaque directory", "symlink \"evil\""}},
      {"a whiteout of ..", [](const fs::path&) { return std::vector<std::vector<TarEntry>>{{dir_entry("d"), file_entry("d/.wh...", "")}}; },
       {"whiteout of \"..\"", "refused"}},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    Unpack u;
    ManifestSpec spec;
    const auto layers = c.layers(u.canary);
    for (const auto& l : layers) spec.layers.push_back(make_tar(l));
    const auto lay = make_layout(u.dir.path() / "img", spec);
    const std::string msg = image_error([&] { unpack_image(read_image(lay), u.work, u.rootfs); });
    INFO(msg);
    REQUIRE(!msg.empty());
    CHECK_THAT(msg, Catch::Contains("layer " + std::to_string(layers.size()) + " (sha256:"));
    for (const auto& s : c.says) CHECK_THAT(msg, Catch::Contains(s));
    // nothing outside the root: the canary as it was, nothing beside the root
    CHECK(u.canary_tree() == std::map<std::string, std::string>{{"victim", tree(u.canary).at("victim")}});
    CHECK(read_file(u.canary / "victim") == "keep me\n");
    CHECK(!fs::exists(u.dir.path() / "escape"));
    CHECK(!fs::exists(u.dir.path().parent_path() / "escape"));
    CHECK(fs::exists(u.dir.path() / "canary/victim"));
    // a one-layer hostile image wrote nothing at all: the layer is refused whole
    if (layers.size() == 1) CHECK(u.empty_root());
  }
}

TEST_CASE("apply_layer refuses a hostile tar the same way, naming what the caller calls it") {
  Unpack u;
  write_file(u.dir.path() / "evil.tar", make_tar({symlink_entry("evil", u.canary.string()), file_entry("evil/file", "x")}));
  CHECK_THAT(image_error([&] { apply_layer(u.dir.path() / "evil.tar", u.rootfs, "my layer"); }),
             Catch::StartsWith("my layer: entry \"evil/file\"") && Catch::Contains("symlink"));
  CHECK(!fs::exists(u.canary / "file"));
  CHECK(u.empty_root());
}

TEST_CASE("symlinks may point anywhere: absolute and .. targets are data for the guest") {
  Unpack u;
  const auto lay = make_layout(u.dir.path() / "img", {{layer_at({symlink_entry("abs", u.canary.string()), symlink_entry("up", "../../../../canary"),
                                                                 symlink_entry("etc/alt", "/usr/bin/x")})}});
  unpack_image(read_image(lay), u.work, u.rootfs);
  CHECK(fs::read_symlink(u.rootfs / "abs") == u.canary);
  CHECK(fs::read_symlink(u.rootfs / "up") == "../../../../canary");
  CHECK(fs::read_symlink(u.rootfs / "etc/alt") == "/usr/bin/x");
  CHECK(u.canary_tree().size() == 1);
}

TEST_CASE("a blob that does not match its descriptor is refused before anything is applied") {
  const std::string good = layer_at({file_entry("first", "1")}), second = layer_at({file_entry("second", "2")});
  struct Case {
    const char* name;
    std::function<void(const fs::path& blob)> spoil;  // the second layer's blob
    const char* says;
  };
  const Case cases[] = {
      {"a changed byte", [](const fs::path& b) { auto t = read_file(b); t[t.size() / 2] ^= 1; write_file(b, t); }, "does not match its digest"},
      {"another size", [](const fs::path& b) { write_file(b, read_file(b) + "x"); }, "its descriptor says"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    Unpack u;
    const auto lay = make_layout(u.dir.path() / "img", {{good, second}});
    const Image img = read_image(lay);  // read first: the blob changes afterwards
    c.spoil(lay / img.layers[1].path);
    const std::string msg = image_error([&] { unpack_image(img, u.work, u.rootfs); });
    CHECK_THAT(msg, Catch::Contains("layer 2 (" + img.layers[1].digest + ")") && Catch::Contains(c.says) && Catch::Contains("nothing was applied"));
    CHECK(u.empty_root());
  }
  // the same in an OCI archive (the blobs are checked as they are extracted into work)
  Unpack u;
  const auto lay = make_layout(u.dir.path() / "img", {{good, second}});
  const Image img = read_image(lay);
  auto blob = read_file(lay / img.layers[1].path);
  blob[blob.size() / 2] ^= 1;
  std::vector<std::pair<std::string, std::string>> members;
  for (const auto& e : fs::recursive_directory_iterator(lay))
    if (e.is_regular_file()) members.emplace_back(fs::relative(e.path(), lay).string(), read_file(e.path()));
  for (auto& [name, bytes] : members)
    if (name == img.layers[1].path) bytes = blob;
  make_archive(u.dir.path() / "img.tar", members);
  CHECK_THAT(image_error([&] { unpack_image(read_image(u.dir.path() / "img.tar"), u.work, u.rootfs); }),
             Catch::Contains("layer 2") && Catch::Contains("does not match its digest"));
  CHECK(u.empty_root());
}

TEST_CASE("a layer whose contents do not match its diff_id is refused") {
  Unpack u;
  const auto lay = u.dir.path() / "img";
  const std::string tar = layer_at({file_entry("f", "x")});
  const json config{{"architecture", "amd64"}, {"os", "linux"}, {"rootfs", {{"type", "layers"}, {"diff_ids", {digest_of(tar + std::string(512, '\0'))}}}}};
  const json m{{"schemaVersion", 2},
               {"config", put_blob(lay, config.dump(), "application/vnd.oci.image.config.v1+json")},
               {"layers", {put_blob(lay, compress(tar), "application/vnd.oci.image.layer.v1.tar+gzip")}}};
  put_index(lay, json::array({put_blob(lay, m.dump(), "application/vnd.oci.image.manifest.v1+json")}));
  CHECK_THAT(image_error([&] { unpack_image(read_image(lay), u.work, u.rootfs); }),
             Catch::Contains("layer 1") && Catch::Contains("do not match the diff_id"));
  CHECK(u.empty_root());
}

TEST_CASE("a corrupt gzip layer is refused (its digest right: the image was made so)") {
  Unpack u;
  std::string payload;
  for (int i = 0; i < 20000; ++i) payload += std::to_string(i * 7919) + "\n";
  const std::string tar = layer_at({file_entry("big", payload)});
  std::string gz = compress(tar);
  gz[gz.size() / 2] ^= 0x55;
  const auto lay = u.dir.path() / "img";
  const json config{{"architecture", "amd64"}, {"os", "linux"}, {"rootfs", {{"type", "layers"}, {"diff_ids", {digest_of(tar)}}}}};
  const json m{{"schemaVersion", 2},
               {"config", put_blob(lay, config.dump(), "application/vnd.oci.image.config.v1+json")},
               {"layers", {put_blob(lay, gz, "application/vnd.oci.image.layer.v1.tar+gzip")}}};
  put_index(lay, json::array({put_blob(lay, m.dump(), "application/vnd.oci.image.manifest.v1+json")}));
  const std::string msg = image_error([&] { unpack_image(read_image(lay), u.work, u.rootfs); });
  CHECK_THAT(msg, Catch::Contains("layer 1 (sha256:"));
  CHECK(u.empty_root());
  // a gzip cut short (libarchive does not check gzip's CRC, so a flipped bit may decode: the
  // diff_id above is what catches that; a cut stream fails by itself)
  write_file(u.dir.path() / "corrupt.tar.gz", compress(tar).substr(0, gz.size() / 2));
  CHECK_THAT(image_error([&] { apply_layer(u.dir.path() / "corrupt.tar.gz", u.rootfs, "corrupt.tar.gz"); }), Catch::StartsWith("corrupt.tar.gz: "));
  CHECK(u.empty_root());
}

TEST_CASE("plain, gzip and zstd layers all unpack") {
  for (const char* compression : {"none", "gzip", "zstd"}) {
    INFO(compression);
    Unpack u;
    const auto lay = make_layout(u.dir.path() / "img", {{layer_at({file_entry("a", "1")}), layer_at({file_entry("b", "2"), file_entry(".wh.a", "")})}, compression});
    unpack_image(read_image(lay), u.work, u.rootfs);
    CHECK(!fs::exists(u.rootfs / "a"));
    CHECK(read_file(u.rootfs / "b") == "2");
  }
}

TEST_CASE("progress reports every layer, ending with all bytes, on the calling thread") {
  const auto& images = ToolImages::get();
  Unpack u;
  const Image img = read_image(images.oci_archive);
  std::vector<UnpackProgress> seen;
  std::vector<std::string> whats;
  const auto caller = std::this_thread::get_id();
  bool same_thread = true;
  unpack_image(img, u.work, u.rootfs, [&](const UnpackProgress& p) {
    seen.push_back(p);
    whats.emplace_back(p.what);
    same_thread = same_thread && std::this_thread::get_id() == caller;
  });
  REQUIRE(!seen.empty());
  CHECK(same_thread);
  CHECK(seen.back().layer == img.layers.size());
  CHECK(seen.back().layers == img.layers.size());
  CHECK(seen.back().bytes == seen.back().total_bytes);
  CHECK(whats.back() == "applying");
  for (std::size_t i = 1; i < seen.size(); ++i)
    if (whats[i] == whats[i - 1]) CHECK(seen[i].bytes >= seen[i - 1].bytes);
}

TEST_CASE("a full disk while unpacking is an ImageError that says so") {
  const auto& images = ToolImages::get();
  Unpack u;
  if (::mount("tmpfs", u.rootfs.c_str(), "tmpfs", 0, "size=512k") != 0) {
    std::cout << "SKIPPED: cannot mount a small tmpfs (" << std::strerror(errno) << "): the full-disk case needs root" << "\n";  // ctest: skipped, not passed
    std::exit(4);
  }
  struct Unmount {
    fs::path p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{u.rootfs};
  const std::string msg = image_error([&] { unpack_image(read_image(images.layout), u.work, u.rootfs); });
  CHECK_THAT(msg, Catch::Contains("the disk is full") && Catch::Contains("layer 1") && Catch::Contains("bin/busybox"));
}

TEST_CASE("without the scan's checks, the extraction's own walls still keep writes inside the root") {
  // The second wall on its own: libarchive's SECURE_SYMLINKS and the chroot of the confined thread.
  Unpack u;
  write_file(u.dir.path() / "evil.tar", make_tar({symlink_entry("evil", u.canary.string()), file_entry("evil/file", "x")}));
  const crumble::vm::Fd fd(::open((u.dir.path() / "evil.tar").c_str(), O_RDONLY | O_CLOEXEC));
  const crumble::vm::Fd root = layers_detail::open_root(u.rootfs);
  layers_detail::ConfinedWorker worker;
  const std::string msg = image_error([&] { worker.run(root.get(), [&] { layers_detail::extract_layer(fd.get(), "evil.tar", {}); }, {}); });
  INFO(msg);
  CHECK(!fs::exists(u.canary / "file"));
  CHECK(u.canary_tree().size() == 1);
  // refused by libarchive, or else written under the root's own copy of the path: never outside
  CHECK((!msg.empty() || fs::exists(u.rootfs / u.canary.relative_path() / "file")));
}

// --- overlay diffs: a container's writes (Container::copy_writes_to) --------------------------------

namespace {

// An overlay mount made by the host's kernel (the oracle of what a container's writes mean): the
// lower directory, the upper one, the merged view. Skips loudly where overlay cannot be mounted.
struct Overlay {
  crumble::vm::TempDir dir{"crumble-overlay-"};
  fs::path lower = dir.path() / "lower", upper = dir.path() / "upper", work = dir.path() / "work", merged = dir.path() / "merged";
  bool mounted = false;
  Overlay() {
    for (const auto& p : {lower, upper, work, merged}) fs::create_directories(p);
  }
  void mount() {
    const std::string opts = "lowerdir=" + lower.string() + ",upperdir=" + upper.string() + ",workdir=" + work.string();
    if (::mount("overlay", merged.c_str(), "overlay", 0, opts.c_str()) != 0) {
      std::cout << "SKIPPED: cannot mount an overlay (" << std::strerror(errno) << "): the overlay-diff oracle needs root and overlayfs\n";
      std::exit(4);
    }
    mounted = true;
  }
  ~Overlay() {
    if (mounted) ::umount2(merged.c_str(), MNT_DETACH);
  }
};

bool opaque_mark(const fs::path& d) {
  char v[8] = {};
  return ::getxattr(d.c_str(), "trusted.overlay.opaque", v, sizeof v) == 1 && v[0] == 'y';
}

}  // namespace

TEST_CASE("an overlay's upper directory archived by busybox tar, applied onto its lower, gives the kernel's merged view") {
  if (!fs::exists("/bin/busybox")) {
    std::cout << "SKIPPED: /bin/busybox (busybox-static) is missing: it archives the upper directory as the guest's init does\n";
    std::exit(4);
  }
  Overlay o;
  const auto put = [&](const std::string& p, const std::string& data) {
    fs::create_directories((o.lower / p).parent_path());
    write_file(o.lower / p, data);
  };
  for (const char* p : {"etc/existing", "etc/gone", "etc/gone2", "etc/keep", "dir/sub/f", "lowfile", "opq/old1", "opq/old2/x", "filetodir",
                        "dirtofile/a", "keepdir/k"})
    put(p, std::string("lower ") + p + "\n");
  fs::create_directories(o.lower / "emptydir");
  const fs::path applied = o.dir.path() / "applied";  // the lower as it was: the copy-back's target
  tool({"cp", "-a", o.lower.string(), applied.string()});
  o.mount();
  // what a container does to its root, done by the kernel through the merged view
  tool({"/bin/busybox", "sh", "-ec",
        "echo new > newfile; echo changed > etc/existing; rm etc/gone etc/gone2; rm -rf dir; ln -s /etc/existing link; ln lowfile hard; "
        "mkdir -p newdir/sub; echo deep > newdir/sub/f; rm -rf opq; mkdir opq; echo fresh > opq/fresh; "
        "rm filetodir; mkdir filetodir; echo in > filetodir/in; rm -rf dirtofile; echo f > dirtofile; "
        "chmod 600 etc/existing; chown 1000:1000 newfile; mkfifo fifo; echo literal > .wh.literal; rmdir emptydir"},
       o.merged);
  const fs::path tar = o.dir.path() / "writes.tar";
  tool({"/bin/busybox", "tar", "-cf", tar.string(), "."}, o.upper);

  // the opaque directories, found as Container::copy_writes_to finds them (its guest command's
  // test, here on the merged view), against the kernel's own mark
  std::map<std::string, std::size_t> asked, gone;
  for (const auto& p : layers_detail::overlay_diff_probes(tar, applied, "writes")) {
    ++asked[layers_detail::parent_of(p)];
    struct stat st;
    if (::lstat((o.merged / p).c_str(), &st) != 0) ++gone[layers_detail::parent_of(p)];
  }
  std::vector<std::string> opaques;
  for (const auto& [d, n] : gone)
    if (n == asked[d]) opaques.push_back(d);
  CHECK(opaques == std::vector<std::string>{"opq"});
  CHECK(opaque_mark(o.upper / "opq"));
  CHECK(asked.count("etc") == 1);  // etc was asked about, and is not opaque
  CHECK(!opaque_mark(o.upper / "etc"));

  apply_overlay_diff(tar, applied, "writes", opaques);
  const auto want = tree(o.merged), got = tree(applied);
  for (const auto& [p, d] : want) {
    INFO(p);
    CHECK(got.count(p) == 1);
    if (got.count(p)) CHECK(got.at(p) == d);
  }
  for (const auto& [p, d] : got) {
    INFO(p);
    CHECK(want.count(p) == 1);
  }
  CHECK(fs::equivalent(applied / "hard", applied / "lowfile"));  // the hardlink stays one
  CHECK(read_file(applied / ".wh.literal") == "literal\n");       // a name, not a whiteout
}

TEST_CASE("a hostile overlay diff is refused, naming the entry, with nothing written outside the root") {
  struct Case {
    const char* name;
    std::function<std::vector<TarEntry>(const fs::path& canary)> entries;
    std::vector<std::string> opaques;
    std::vector<std::string> says;
  };
  const Case cases[] = {
      {"an absolute path", [](const fs::path& c) { return std::vector<TarEntry>{file_entry((c / "abs").string(), "x")}; }, {}, {"absolute path"}},
      {"a .. entry", [](const fs::path&) { return std::vector<TarEntry>{file_entry("../x", "x")}; }, {}, {"entry \"../x\"", "\"..\" component"}},
      {"a symlink to the canary, then a file through it",
       [](const fs::path& c) { return std::vector<TarEntry>{symlink_entry("evil", c.string()), file_entry("evil/file", "x")}; }, {},
       {"entry \"evil/file\"", "goes through the symlink \"evil\""}},
      {"a symlink to /, then a file through it", [](const fs::path&) { return std::vector<TarEntry>{symlink_entry("evil", "/"), file_entry("evil/etc/x", "x")}; },
       {}, {"goes through the symlink \"evil\""}},
      {"a hardlink to /etc/passwd", [](const fs::path&) { return std::vector<TarEntry>{hardlink_entry("hl", "/etc/passwd")}; }, {},
       {"hardlink target", "absolute path"}},
      {"a hardlink to a file the archive does not hold", [](const fs::path&) { return std::vector<TarEntry>{hardlink_entry("hl", "etc/passwd")}; }, {},
       {"entry \"hl\"", "not an earlier entry"}},
      {"a hardlink out through ..", [](const fs::path&) { return std::vector<TarEntry>{hardlink_entry("hl", "../canary/victim")}; }, {},
       {"hardlink target", "\"..\" component"}},
      {"a character device other than 0/0", [](const fs::path&) { return std::vector<TarEntry>{node_entry("null", 'c')}; }, {},
       {"entry \"null\"", "device node"}},
      {"a block device", [](const fs::path&) { return std::vector<TarEntry>{node_entry("loop0", 'b')}; }, {}, {"entry \"loop0\"", "device node"}},
      {"a whiteout through the root's symlink", [](const fs::path&) { return std::vector<TarEntry>{node_entry("link/victim", 'w')}; }, {},
       {"whiteout of \"link/victim\"", "symlink \"link\""}},
      {"a whiteout of the root", [](const fs::path&) { return std::vector<TarEntry>{node_entry("./", 'w')}; }, {}, {"whiteout of the root"}},
      {"an opaque directory through the root's symlink", [](const fs::path&) { return std::vector<TarEntry>{file_entry("new", "x")}; }, {"link/sub"},
       {"opaque directory", "symlink \"link\""}},
      {"an opaque directory out through ..", [](const fs::path&) { return std::vector<TarEntry>{file_entry("new", "x")}; }, {"../canary"},
       {"opaque directory", "\"..\" component"}},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    Unpack u;
    fs::create_symlink(u.canary, u.rootfs / "link");  // the root's own symlink out (data for the guest)
    write_file(u.rootfs / "keep", "keep\n");
    const auto before = tree(u.rootfs);
    write_file(u.dir.path() / "writes.tar", make_tar(c.entries(u.canary)));
    const std::string msg = image_error([&] { apply_overlay_diff(u.dir.path() / "writes.tar", u.rootfs, "the writes", c.opaques); });
    INFO(msg);
    REQUIRE(!msg.empty());
    CHECK_THAT(msg, Catch::StartsWith("the writes: "));
    for (const auto& s : c.says) CHECK_THAT(msg, Catch::Contains(s));
    CHECK(tree(u.rootfs) == before);  // refused whole: nothing written
    CHECK(u.canary_tree().size() == 1);
    CHECK(read_file(u.canary / "victim") == "keep me\n");
    CHECK(!fs::exists(u.dir.path() / "x"));
  }
}

TEST_CASE("an overlay diff's whiteouts remove files, directories and symlinks without following them, a second whiteout is a hardlink") {
  Unpack u;
  write_file(u.rootfs / "f", "f");
  fs::create_directories(u.rootfs / "d/sub");
  write_file(u.rootfs / "d/sub/x", "x");
  fs::create_symlink(u.canary, u.rootfs / "out");      // removed as itself: the canary stays whole
  fs::create_symlink(u.canary, u.rootfs / "d/out");    // inside a removed directory: the same
  write_file(u.rootfs / "stays", "s");
  write_file(u.dir.path() / "w.tar", make_tar({node_entry("f", 'w'), hardlink_entry("d", "f"), hardlink_entry("out", "f"), file_entry("new", "n")}));
  apply_overlay_diff(u.dir.path() / "w.tar", u.rootfs, "w");
  CHECK(!fs::exists(fs::symlink_status(u.rootfs / "f")));
  CHECK(!fs::exists(fs::symlink_status(u.rootfs / "d")));
  CHECK(!fs::exists(fs::symlink_status(u.rootfs / "out")));
  CHECK(read_file(u.rootfs / "new") == "n");
  CHECK(read_file(u.rootfs / "stays") == "s");
  CHECK(u.canary_tree().size() == 1);
  CHECK(read_file(u.canary / "victim") == "keep me\n");
}
