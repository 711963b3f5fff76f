// SPDX-License-Identifier: Apache-2.0
// tests/container/make_images.hpp — test images, made offline by the real tools (the oracles of the
// formats) and, for what no tool will write (hostile layers, wrong digests, other architectures),
// by hand with libarchive and nlohmann-json.
//
// ToolImages::get() builds once per test binary (about 2 s), in a TempDir:
//   layout           an OCI layout made by umoci, tag "t", 3 layers and a config:
//                      1 base: busybox-static with its applets (`busybox --install -s`), /etc/passwd,
//                        `gone`, `keep/a`, `opq/old1`, `opq/sub/old2`, a setuid file, a file of
//                        uid 1000 mode 0640, a hardlink, a FIFO, symlinks with absolute and ".."
//                        targets;
//                      2 `umoci repack` of a change: `gone` deleted (a .wh.gone whiteout), `added`
//                        (uid 1000), `keep/a` rewritten, `newdir/n`;
//                      3 `umoci insert --opaque`: /opq replaced (.wh..wh..opq) by `fresh`;
//                    and Env, Entrypoint, Cmd, WorkingDir, User set by `umoci config`;
//   oracle_rootfs    `umoci unpack` of it: what our unpack must equal;
//   oci_archive, docker_archive              `skopeo copy` of it;
//   podman_oci_archive, podman_docker_archive `podman load` + `podman save` (private vfs storage).
// Without umoci, skopeo, podman or busybox-static the test binary is skipped (exit 4), saying why.
#pragma once

#include <crumble/container/errors.hpp>
#include <crumble/container/sha256.hpp>
#include <crumble/vm/host/process.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace crumble::test {

// The message of the ImageError `f` throws ("" when it throws none).
inline std::string image_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const crumble::container::ImageError& e) {
    return e.what();
  }
  return "";
}

namespace fs = std::filesystem;
using nlohmann::json;

inline void write_file(const fs::path& p, const std::string& data) {
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!f) throw std::runtime_error("cannot write " + p.string());
}

inline std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Runs a tool; a failure is the test's failure, with the tool's own words.
inline std::string tool(const std::vector<std::string>& argv, const fs::path& cwd = {}) {
  auto r = crumble::vm::run_process(argv, std::chrono::seconds(60), cwd);
  if (r.status != 0) throw std::runtime_error(crumble::vm::describe_failure(argv, "failed (status " + std::to_string(r.status) + ")", r.err));
  return r.out;
}

inline void require_image_tools() {
  static const char* const tools[] = {"umoci", "skopeo", "podman"};
  for (const char* t : tools) {
    if (std::system((std::string("command -v ") + t + " > /dev/null 2>&1").c_str()) != 0) {
      std::printf("SKIPPED: %s not found: the image tests need umoci, skopeo and podman (apt-get install umoci skopeo podman)\n", t);
      std::exit(4);
    }
  }
  if (::access("/bin/busybox", X_OK) != 0) {
    std::printf("SKIPPED: /bin/busybox not found (apt-get install busybox-static)\n");
    std::exit(4);
  }
}

struct ToolImages {
  crumble::vm::TempDir dir{"crumble-images-"};
  fs::path layout, oracle_rootfs, oci_archive, docker_archive, podman_oci_archive, podman_docker_archive;

  static const ToolImages& get() {
    static const ToolImages images;
    return images;
  }

 private:
  ToolImages() {
    require_image_tools();
    const fs::path d = dir.path();
    layout = d / "layout";
    const std::string ref = layout.string() + ":t";
    tool({"umoci", "init", "--layout", layout.string()});
    tool({"umoci", "new", "--image", ref});

    // layer 1: the base
    const fs::path b1 = d / "b1", r1 = b1 / "rootfs";
    tool({"umoci", "unpack", "--image", ref, b1.string()});
    fs::create_directories(r1 / "bin");
    fs::copy_file("/bin/busybox", r1 / "bin/busybox");
    tool({"chroot", r1.string(), "/bin/busybox", "--install", "-s", "/bin"});
    write_file(r1 / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n");
    write_file(r1 / "gone", "to be deleted\n");
    write_file(r1 / "keep/a", "first\n");
    write_file(r1 / "opq/old1", "old\n");
    write_file(r1 / "opq/sub/old2", "old\n");
    write_file(r1 / "bin/suid", "#!/bin/sh\n");
    fs::permissions(r1 / "bin/suid", static_cast<fs::perms>(04755));
    write_file(r1 / "home/user/f", "private\n");
    fs::permissions(r1 / "home/user/f", static_cast<fs::perms>(0640));
    if (::chown((r1 / "home/user/f").c_str(), 1000, 1000) != 0 || ::chown((r1 / "home/user").c_str(), 1000, 1000) != 0)
      throw std::runtime_error("chown failed");
    fs::create_hard_link(r1 / "bin/busybox", r1 / "bin/hard");
    if (::mkfifo((r1 / "fifo").c_str(), 0600) != 0) throw std::runtime_error("mkfifo failed");
    fs::create_directories(r1 / "etc/alternatives");
    fs::create_symlink("/bin/busybox", r1 / "etc/alternatives/sh");
    fs::create_symlink("../../usr/lib", r1 / "etc/alternatives/lib");
    tool({"umoci", "repack", "--image", ref, b1.string()});

    // layer 2: a change with a deletion
    const fs::path b2 = d / "b2", r2 = b2 / "rootfs";
    tool({"umoci", "unpack", "--image", ref, b2.string()});
    fs::remove(r2 / "gone");
    write_file(r2 / "added", "added\n");
    if (::chown((r2 / "added").c_str(), 1000, 1000) != 0) throw std::runtime_error("chown failed");
    write_file(r2 / "keep/a", "second\n");
    write_file(r2 / "newdir/n", "n\n");
    tool({"umoci", "repack", "--image", ref, b2.string()});

    // layer 3: an opaque directory
    write_file(d / "newopq/fresh", "fresh\n");
    tool({"umoci", "insert", "--image", ref, "--opaque", (d / "newopq").string(), "/opq"});

    tool({"umoci", "config", "--image", ref, "--config.env", "A=1", "--config.env", "B=two words", "--config.entrypoint", "/bin/sh",
          "--config.cmd", "-c", "--config.cmd", "echo hi", "--config.workingdir", "/opq", "--config.user", "1000:1000"});

    const fs::path oracle = d / "oracle";
    tool({"umoci", "unpack", "--image", ref, oracle.string()});
    oracle_rootfs = oracle / "rootfs";

    oci_archive = d / "skopeo-oci.tar";
    docker_archive = d / "skopeo-docker.tar";
    tool({"skopeo", "copy", "oci:" + ref, "oci-archive:" + oci_archive.string()});
    tool({"skopeo", "copy", "oci:" + ref, "docker-archive:" + docker_archive.string() + ":crumble/test:t"});

    // podman, with storage of its own (nothing in /var/lib/containers)
    const std::vector<std::string> podman = {"podman", "--root", (d / "podman/root").string(), "--runroot", (d / "podman/run").string(),
                                             "--storage-driver", "vfs", "--events-backend", "none"};
    auto with = [&](std::vector<std::string> args) {
      std::vector<std::string> argv = podman;
      argv.insert(argv.end(), args.begin(), args.end());
      return argv;
    };
    const std::string loaded = tool(with({"load", "-q", "-i", oci_archive.string()}));
    const auto at = loaded.find("sha256:");
    if (at == std::string::npos) throw std::runtime_error("podman load said: " + loaded);
    const std::string id = loaded.substr(at + 7, 64);
    podman_oci_archive = d / "podman-oci.tar";
    podman_docker_archive = d / "podman-docker.tar";
    tool(with({"save", "-q", "--format", "oci-archive", "-o", podman_oci_archive.string(), id}));
    tool(with({"save", "-q", "--format", "docker-archive", "-o", podman_docker_archive.string(), id}));
  }
};

// --- hand-made images -------------------------------------------------------------------------

// One tar entry; type: 'f' file, 'd' directory, 'l' symlink, 'h' hardlink, 'c' char device (1, 3),
// 'w' char device 0/0 (an overlayfs whiteout), 'b' block device, 'p' FIFO.
struct TarEntry {
  std::string name;
  char type = 'f';
  std::string data;  // a file's contents
  std::string link;  // a symlink's or hardlink's target
  int mode = 0644;
  int uid = 0, gid = 0;
};

inline TarEntry file_entry(std::string name, std::string data, int mode = 0644, int uid = 0, int gid = 0) {
  return {std::move(name), 'f', std::move(data), "", mode, uid, gid};
}
inline TarEntry dir_entry(std::string name, int mode = 0755) { return {std::move(name), 'd', "", "", mode, 0, 0}; }
inline TarEntry symlink_entry(std::string name, std::string target) { return {std::move(name), 'l', "", std::move(target), 0777, 0, 0}; }
inline TarEntry hardlink_entry(std::string name, std::string target) { return {std::move(name), 'h', "", std::move(target), 0644, 0, 0}; }
inline TarEntry node_entry(std::string name, char type) { return {std::move(name), type, "", "", 0644, 0, 0}; }

// Opens the archive writer `a` to append everything it writes to `out`.
inline void open_into_string(struct archive* a, std::string& out) {
  archive_write_open(a, &out, nullptr,
                     [](struct archive*, void* self, const void* buf, size_t n) -> la_ssize_t {
                       static_cast<std::string*>(self)->append(static_cast<const char*>(buf), n);
                       return static_cast<la_ssize_t>(n);
                     },
                     nullptr);
}

// A tar (pax) of the entries, written by libarchive exactly as given (no name is cleaned).
inline std::string make_tar(const std::vector<TarEntry>& entries) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_in_last_block(a, 1);
  open_into_string(a, out);
  for (const auto& t : entries) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.name.c_str());
    archive_entry_set_uid(e, t.uid);
    archive_entry_set_gid(e, t.gid);
    archive_entry_set_mtime(e, 1700000000, 0);
    switch (t.type) {
      case 'd': archive_entry_set_filetype(e, AE_IFDIR); break;
      case 'l': archive_entry_set_filetype(e, AE_IFLNK); archive_entry_set_symlink(e, t.link.c_str()); break;
      case 'h': archive_entry_set_filetype(e, AE_IFREG); archive_entry_set_hardlink(e, t.link.c_str()); break;
      case 'c': archive_entry_set_filetype(e, AE_IFCHR); archive_entry_set_rdev(e, makedev(1, 3)); break;
      case 'w': archive_entry_set_filetype(e, AE_IFCHR); archive_entry_set_rdev(e, makedev(0, 0)); break;
      case 'b': archive_entry_set_filetype(e, AE_IFBLK); archive_entry_set_rdev(e, makedev(7, 0)); break;
      case 'p': archive_entry_set_filetype(e, AE_IFIFO); break;
      default: archive_entry_set_filetype(e, AE_IFREG); archive_entry_set_size(e, static_cast<la_int64_t>(t.data.size()));
    }
    archive_entry_set_perm(e, static_cast<mode_t>(t.mode));
    if (archive_write_header(a, e) != ARCHIVE_OK) throw std::runtime_error(std::string("make_tar: ") + archive_error_string(a));
    if (t.type == 'f' && !t.data.empty()) archive_write_data(a, t.data.data(), t.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// Bytes compressed with libarchive's gzip or zstd filter ("gzip", "zstd").
inline std::string compress(const std::string& data, const std::string& filter = "gzip") {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_raw(a);
  if (filter == "zstd") archive_write_add_filter_zstd(a);
  else archive_write_add_filter_gzip(a);
  archive_write_set_bytes_in_last_block(a, 1);
  open_into_string(a, out);
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "data");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
  archive_write_header(a, e);
  archive_write_data(a, data.data(), data.size());
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

inline std::string digest_of(const std::string& bytes) { return "sha256:" + crumble::container::sha256_hex(bytes); }

// Stores a blob in a layout; returns its descriptor.
inline json put_blob(const fs::path& layout, const std::string& bytes, const std::string& media_type) {
  const std::string digest = digest_of(bytes);
  write_file(layout / "blobs/sha256" / digest.substr(7), bytes);
  return json{{"mediaType", media_type}, {"digest", digest}, {"size", bytes.size()}};
}

// One image of a hand-made layout: its layers (uncompressed tars; stored gzip, zstd or plain) and
// the config's architecture and defaults.
struct ManifestSpec {
  std::vector<std::string> layers;
  std::string compression = "gzip";  // "gzip", "zstd" or "none"
  std::string architecture = "amd64";
  json config = json{{"Env", {"PATH=/bin"}}, {"Cmd", {"/bin/sh"}}};
};

// Writes the spec's layers, config and manifest into the layout; returns the manifest's descriptor.
inline json put_manifest(const fs::path& layout, const ManifestSpec& spec) {
  json layers = json::array(), diff_ids = json::array();
  for (const auto& tar : spec.layers) {
    diff_ids.push_back(digest_of(tar));
    if (spec.compression == "none") layers.push_back(put_blob(layout, tar, "application/vnd.oci.image.layer.v1.tar"));
    else layers.push_back(put_blob(layout, compress(tar, spec.compression), "application/vnd.oci.image.layer.v1.tar+" + spec.compression));
  }
  const json config{{"architecture", spec.architecture}, {"os", "linux"}, {"config", spec.config}, {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  const json manifest{{"schemaVersion", 2},
                      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                      {"config", put_blob(layout, config.dump(), "application/vnd.oci.image.config.v1+json")},
                      {"layers", layers}};
  return put_blob(layout, manifest.dump(), "application/vnd.oci.image.manifest.v1+json");
}

inline void put_index(const fs::path& layout, const json& manifests) {
  write_file(layout / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  write_file(layout / "index.json", json{{"schemaVersion", 2}, {"manifests", manifests}}.dump());
}

// A layout of one image.
inline fs::path make_layout(const fs::path& layout, const ManifestSpec& spec) {
  put_index(layout, json::array({put_manifest(layout, spec)}));
  return layout;
}

// A tar file of the given members (name -> bytes; a value starting "->" makes a symlink).
inline void make_archive(const fs::path& tar_file, const std::vector<std::pair<std::string, std::string>>& members) {
  std::vector<TarEntry> entries;
  for (const auto& [name, bytes] : members) {
    entries.push_back(bytes.starts_with("->") ? symlink_entry(name, bytes.substr(2)) : file_entry(name, bytes));
  }
  write_file(tar_file, make_tar(entries));
}

// Every file under `root` (not the root itself): "type mode uid:gid size target-or-sha256", by path.
inline std::map<std::string, std::string> tree(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0) throw std::runtime_error("lstat " + it->path().string());
    std::string d;
    char mode[16];
    std::snprintf(mode, sizeof mode, "%05o", static_cast<unsigned>(st.st_mode & 07777));
    if (S_ISDIR(st.st_mode)) d = std::string("dir ") + mode;
    else if (S_ISLNK(st.st_mode)) d = "symlink -> " + fs::read_symlink(it->path()).string();
    else if (S_ISFIFO(st.st_mode)) d = std::string("fifo ") + mode;
    else if (S_ISREG(st.st_mode)) d = std::string("file ") + mode + " " + std::to_string(st.st_size) + " " + crumble::container::sha256_file(it->path()).substr(0, 16);
    else d = "other";
    d += " " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
    out[it->path().lexically_relative(root).string()] = d;
  }
  return out;
}

}  // namespace crumble::test
