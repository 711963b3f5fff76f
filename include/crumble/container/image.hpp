// SPDX-License-Identifier: Apache-2.0
// crumble/container/image.hpp — what an OCI or Docker image on the host says, read without
// unpacking it: which manifest fits the guest's architecture, its config (the run's defaults) and
// its layers in order. This runs on every `crumble run --image`, so it reads JSON only: the index,
// the manifest and the config (small blobs, whose digests are checked here because that is cheap);
// layers are named and sized, never hashed (unpack_image in layers.hpp verifies them).
//
// Three forms of an image on disk:
//   oci_layout      a directory: oci-layout, index.json, blobs/sha256/<hex> (umoci, skopeo oci:)
//   oci_archive     a tar of such a directory (`podman save --format oci-archive`,
//                   `skopeo copy ... oci-archive:`, and `docker save` since Docker 25)
//   docker_archive  a tar with manifest.json, the config `<hex>.json` and one tar per layer
//                   (`docker save`, `podman save --format docker-archive`, `skopeo copy ...
//                   docker-archive:`); podman 4.3 and skopeo 1.9 name layers `<diff_id hex>.tar`
//                   (with `<id>/layer.tar` symlinks to them), older docker `<id>/layer.tar` files,
//                   Docker 25 `blobs/sha256/<hex>`.
// An archive is read once with libarchive (any tar; gzip/zstd-compressed ones too): its small
// members (at most 4 MiB each, 64 MiB in all) stay in memory, the rest are only listed; nothing is
// extracted to disk here.
//
// Trust: an OCI index is not content-addressed, so the manifest digest it names is the root; the
// manifest names the config and the layers by digest, and the config names the layers' uncompressed
// contents (diff_ids). A docker-archive's manifest.json carries no digests: there the config's file
// name (`<hex>.json`, the image id) is its digest, and each layer is checked against its diff_id.
#pragma once

#include <crumble/container/errors.hpp>
#include <crumble/vm/host/fd.hpp>
#include <crumble/container/sha256.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crumble::container {

struct Layer {
  std::string digest;      // sha256:... of the blob as stored (compressed or not)
  std::string diff_id;     // sha256:... of the uncompressed tar (the config's rootfs.diff_ids)
  std::string media_type;  // as the manifest says (docker-archive: a plain tar's type)
  std::uint64_t size = 0;  // the blob's size in bytes
  // Where the blob lies: relative to the layout directory, or a member name inside the archive.
  std::string path;
};

// The image config's "config" object: the defaults of a run. Absent fields stay empty.
struct ImageConfig {
  std::vector<std::string> env, entrypoint, cmd;
  std::string working_dir, user, architecture, os, variant;
};

enum class ImageFormat { oci_layout, oci_archive, docker_archive };

struct Image {
  std::filesystem::path source;
  ImageFormat format = ImageFormat::oci_layout;
  // sha256:... of the manifest (docker-archive: of manifest.json's entry as we read it, that is
  // nlohmann's dump() of the entry; manifest.json itself has no digest)
  std::string manifest_digest;
  std::uint64_t manifest_size = 0;  // the manifest blob's size (OCI; 0 for a docker-archive)
  std::string config_digest;
  std::uint64_t config_size = 0;
  std::string config_path;          // like Layer::path
  ImageConfig config;
  std::vector<Layer> layers;        // bottom first

  // The unpacked root's cache key: the hex sha256 over the layers' digests in order, each
  // followed by '\n'. The same layers give the same root, whatever the manifest or config says.
  std::string root_key() const {
    Sha256 h;
    for (const auto& l : layers) {
      h.update(l.digest);
      h.update("\n");
    }
    return h.hex();
  }
};

namespace image_detail {

inline constexpr std::uint64_t max_json_blob = 4u << 20;    // an index, manifest or config
inline constexpr std::uint64_t max_kept_total = 64u << 20;  // small archive members kept in memory

using nlohmann::json;

// A member name as a clean relative path ("./blobs//x" -> "blobs/x"); empty when it is absolute,
// has a ".." component, or names the root. Archive member names are only ever looked up, never
// used as host paths, but an escaping name must not alias a legitimate one.
inline std::string clean_member_name(std::string_view name) {
  if (name.starts_with('/')) return {};
  std::string out;
  std::size_t i = 0;
  while (i <= name.size()) {
    std::size_t j = name.find('/', i);
    if (j == std::string_view::npos) j = name.size();
    std::string_view c = name.substr(i, j - i);
    if (c == "..") return {};
    if (!c.empty() && c != ".") {
      if (!out.empty()) out += '/';
      out += c;
    }
    i = j + 1;
  }
  return out;
}

// One member of an image archive: what the tar header says, and its bytes when it is small.
struct Member {
  enum Kind { file, symlink, hardlink, other } kind = other;
  std::uint64_t size = 0;
  std::string link;  // a symlink's target or a hardlink's target member
  std::optional<std::string> data;
};

struct ArchiveCloser {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchiveReader = std::unique_ptr<struct archive, ArchiveCloser>;

// Only the decompressors built into libarchive. With archive_read_support_filter_all a stream in a
// format it has no library for (lrzip, lzop, grzip) is piped through an external program found on
// PATH — run as root on untrusted data, and during an unpack (chrooted into the new root) that
// program would be the image's own. A filter that is not built in (ARCHIVE_WARN) is refused.
inline void support_builtin_filters(struct archive* a) {
  for (auto filter : {archive_read_support_filter_gzip, archive_read_support_filter_zstd, archive_read_support_filter_xz,
                      archive_read_support_filter_bzip2})
    if (filter(a) != ARCHIVE_OK)
      throw ImageError("this libarchive lacks a built-in gzip, zstd, xz or bzip2 decompressor (it would run an external program)");
}

inline ArchiveReader open_tar(const std::filesystem::path& path) {
  ArchiveReader a(archive_read_new());
  if (!a) throw ImageError("libarchive: out of memory");
  support_builtin_filters(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    const char* msg = archive_error_string(a.get());
    if (archive_errno(a.get()) == EILSEQ)  // libarchive's ARCHIVE_ERRNO_FILE_FORMAT on Linux
      throw ImageError("not an image: " + path.string() + " is not a tar archive (" + (msg ? msg : "?") + ")");
    throw ImageError("cannot read image " + path.string() + ": " + (msg ? msg : "?"));
  }
  return a;
}

inline std::string read_member_data(struct archive* a, const std::filesystem::path& path, const std::string& name, std::uint64_t size) {
  std::string data;
  data.resize(size);
  std::size_t got = 0;
  while (got < size) {
    la_ssize_t n = archive_read_data(a, data.data() + got, size - got);
    if (n < 0) throw ImageError("cannot read " + name + " in image " + path.string() + ": " + archive_error_string(a));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got != size) throw ImageError("image " + path.string() + ": " + name + " is truncated");
  return data;
}

// Where an image's files are: a layout directory, or an archive's listed members.
class Store {
 public:
  static Store directory(const std::filesystem::path& root) {
    Store s;
    s.path_ = root;
    s.is_dir_ = true;
    return s;
  }

  // One pass over the archive; small members kept (see max_kept_total), the rest listed.
  static Store archive(const std::filesystem::path& path) {
    Store s;
    s.path_ = path;
    auto a = open_tar(path);
    std::uint64_t kept = 0;
    bool any = false;
    for (;;) {
      struct archive_entry* e = nullptr;
      const int r = archive_read_next_header(a.get(), &e);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) {
        if (!any) throw ImageError("not an image: " + path.string() + " is not a tar archive (" + archive_error_string(a.get()) + ")");
        throw ImageError("cannot read image " + path.string() + ": " + archive_error_string(a.get()));
      }
      any = true;
      const char* raw = archive_entry_pathname(e);
      const std::string name = clean_member_name(raw ? raw : "");
      if (name.empty()) continue;
      Member m;
      if (const char* hl = archive_entry_hardlink(e)) {
        m.kind = Member::hardlink;
        m.link = clean_member_name(hl);
      } else if (archive_entry_filetype(e) == AE_IFLNK) {
        m.kind = Member::symlink;
        const char* t = archive_entry_symlink(e);
        m.link = t ? t : "";
      } else if (archive_entry_filetype(e) == AE_IFREG) {
        m.kind = Member::file;
        m.size = archive_entry_size_is_set(e) && archive_entry_size(e) > 0 ? static_cast<std::uint64_t>(archive_entry_size(e)) : 0;
        if (m.size <= max_json_blob && kept + m.size <= max_kept_total) {
          m.data = read_member_data(a.get(), path, name, m.size);
          kept += m.size;
        }
      }
      s.members_[name] = std::move(m);
    }
    if (!any) throw ImageError("not an image: " + path.string() + " is an empty archive");
    return s;
  }

  bool is_dir() const { return is_dir_; }
  const std::filesystem::path& path() const { return path_; }

  // The regular file a name leads to, following the archive's symlinks and hardlinks (at most 8,
  // never out of the archive's root); empty when there is none.
  std::string resolve(const std::string& name) const {
    if (is_dir_) return name;
    std::string cur = clean_member_name(name);
    for (int hops = 0; hops < 8 && !cur.empty(); ++hops) {
      auto it = members_.find(cur);
      if (it == members_.end()) return {};
      const Member& m = it->second;
      if (m.kind == Member::file) return cur;
      if (m.kind == Member::hardlink) cur = m.link;
      else if (m.kind == Member::symlink) {
        if (m.link.starts_with('/')) return {};
        const auto slash = cur.rfind('/');
        const std::string dir = slash == std::string::npos ? "" : cur.substr(0, slash + 1);
        cur = clean_lexically(dir + m.link);
      } else {
        return {};
      }
    }
    return {};
  }

  bool exists(const std::string& name) const {
    if (is_dir_) {
      struct stat st;
      return ::stat((path_ / name).c_str(), &st) == 0;
    }
    return !resolve(name).empty();
  }

  // The size of a regular file (resolved), or nothing.
  std::optional<std::uint64_t> size(const std::string& name) const {
    if (is_dir_) {
      struct stat st;
      if (::stat((path_ / name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
      return static_cast<std::uint64_t>(st.st_size);
    }
    const std::string r = resolve(name);
    if (r.empty()) return std::nullopt;
    return members_.at(r).size;
  }

  // A small file's bytes (at most `limit`); `what` names it in errors.
  std::string read(const std::string& name, std::uint64_t limit, const std::string& what) const {
    if (is_dir_) return read_dir_file(path_ / name, limit, what);
    const std::string r = resolve(name);
    if (r.empty()) throw ImageError("image " + path_.string() + ": " + what + " (" + name + ") is missing from the archive");
    const Member& m = members_.at(r);
    if (m.size > limit) throw ImageError("image " + path_.string() + ": " + what + " (" + r + ") is too large (" + std::to_string(m.size) + " bytes)");
    if (m.data) return *m.data;
    // Not kept in the first pass (the archive had many small members): read it again.
    auto a = open_tar(path_);
    struct archive_entry* e = nullptr;
    while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
      const char* raw = archive_entry_pathname(e);
      if (clean_member_name(raw ? raw : "") == r) return read_member_data(a.get(), path_, r, m.size);
    }
    throw ImageError("image " + path_.string() + ": " + what + " (" + r + ") could not be read again");
  }

 private:
  static std::string clean_lexically(const std::string& p) {
    std::vector<std::string> parts;
    std::size_t i = 0;
    while (i <= p.size()) {
      std::size_t j = p.find('/', i);
      if (j == std::string::npos) j = p.size();
      std::string c = p.substr(i, j - i);
      if (c == "..") {
        if (parts.empty()) return {};
        parts.pop_back();
      } else if (!c.empty() && c != ".") {
        parts.push_back(c);
      }
      i = j + 1;
    }
    std::string out;
    for (const auto& c : parts) out += (out.empty() ? "" : "/") + c;
    return out;
  }

  static std::string read_dir_file(const std::filesystem::path& p, std::uint64_t limit, const std::string& what) {
    // O_NONBLOCK: a FIFO put in place of a blob must not hang us
    const vm::Fd owned(::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    const int fd = owned.get();
    if (fd < 0) {
      if (errno == ENOENT) throw ImageError("image " + p.parent_path().string() + ": " + what + " (" + p.string() + ") is missing");
      throw ImageError("cannot read " + what + " " + p.string() + ": " + std::strerror(errno));
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) throw ImageError("cannot read " + what + " " + p.string() + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw ImageError("cannot read " + what + " " + p.string() + ": not a regular file");
    if (static_cast<std::uint64_t>(st.st_size) > limit)
      throw ImageError(what + " " + p.string() + " is too large (" + std::to_string(st.st_size) + " bytes)");
    std::string data(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (got < data.size()) {
      const ssize_t n = ::read(fd, data.data() + got, data.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw ImageError("cannot read " + what + " " + p.string() + ": " + std::strerror(errno));
      if (n == 0) break;
      got += static_cast<std::size_t>(n);
    }
    data.resize(got);
    return data;
  }

  std::filesystem::path path_;
  bool is_dir_ = false;
  std::map<std::string, Member> members_;
};

inline json parse_json(const std::string& text, const std::string& what) {
  try {
    json j = json::parse(text);
    if (!j.is_object() && !j.is_array()) throw ImageError(what + " is not a JSON object");
    return j;
  } catch (const json::exception& e) {
    throw ImageError(what + " is not valid JSON: " + e.what());
  }
}

// A string field, or "" when absent or null; anything else is an error naming the field.
inline std::string str_field(const json& j, const char* key, const std::string& what) {
  if (!j.is_object()) throw ImageError(what + " is not a JSON object");
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_string()) throw ImageError(what + ": \"" + key + "\" is not a string");
  return it->get<std::string>();
}

inline std::vector<std::string> str_list(const json& j, const char* key, const std::string& what) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) throw ImageError(what + ": \"" + key + "\" is not a list of strings");
  for (const auto& v : *it) {
    if (!v.is_string()) throw ImageError(what + ": \"" + key + "\" is not a list of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

inline std::uint64_t size_field(const json& desc, const std::string& what) {
  auto it = desc.find("size");
  if (it == desc.end() || !it->is_number_integer() || it->get<std::int64_t>() < 0) throw ImageError(what + ": the descriptor has no valid \"size\"");
  return it->get<std::uint64_t>();
}

// GOARCH names; the kernel's names are accepted too.
inline std::string normalize_arch(std::string_view a) {
  if (a == "x86_64" || a == "x86-64") return "amd64";
  if (a == "aarch64") return "arm64";
  return std::string(a);
}

inline bool is_index_type(std::string_view t) {
  return t == "application/vnd.oci.image.index.v1+json" || t == "application/vnd.docker.distribution.manifest.list.v2+json";
}
inline bool is_manifest_type(std::string_view t) {
  return t == "application/vnd.oci.image.manifest.v1+json" || t == "application/vnd.docker.distribution.manifest.v2+json";
}
inline bool is_layer_type(std::string_view t) {
  return (t.starts_with("application/vnd.oci.image.layer.") || t.starts_with("application/vnd.docker.image.rootfs.")) &&
         !t.ends_with("+encrypted");
}

// Reads an image's OCI JSON; shared by the layout and the archive, which differ only in the Store.
class OciReader {
 public:
  OciReader(const Store& store, std::string arch) : store_(store), arch_(std::move(arch)) {}

  Image read(ImageFormat format) {
    const std::string where = "image " + store_.path().string();
    if (!store_.exists("index.json")) {
      if (store_.is_dir()) throw ImageError("not an image: " + store_.path().string() + " has no index.json (not an OCI image layout)");
      throw ImageError("not an image: " + store_.path().string() + " has no index.json");
    }
    if (store_.exists("oci-layout")) {
      json lay = parse_json(store_.read("oci-layout", max_json_blob, "oci-layout"), where + ": oci-layout");
      if (!lay.is_object() || !lay.contains("imageLayoutVersion"))
        throw ImageError(where + ": oci-layout has no imageLayoutVersion");
    }
    json index = parse_json(store_.read("index.json", max_json_blob, "index.json"), where + ": index.json");
    std::vector<json> candidates;
    collect(index, where + ": index.json", candidates, 0);
    if (candidates.empty()) throw ImageError(where + " has no image manifest");

    // Descriptors that name their platform are chosen by it; the rest by their config.
    std::vector<std::string> seen;
    for (int pass = 0; pass < 2; ++pass) {
      for (const json& d : candidates) {
        const bool has_platform = d.contains("platform") && d["platform"].is_object();
        if ((pass == 0) != has_platform) continue;
        if (has_platform) {
          const std::string os = str_field(d["platform"], "os", where + ": platform");
          const std::string arch = normalize_arch(str_field(d["platform"], "architecture", where + ": platform"));
          if (os == "unknown" || arch == "unknown") continue;  // attestations, not images
          seen.push_back(os + "/" + arch);
          if ((!os.empty() && os != "linux") || arch != arch_) continue;
        }
        Image img = load(d, format, where);
        const std::string arch = normalize_arch(img.config.architecture);
        if (!has_platform) seen.push_back((img.config.os.empty() ? "linux" : img.config.os) + "/" + (arch.empty() ? "?" : arch));
        if (!arch.empty() && arch != arch_) continue;
        if (!img.config.os.empty() && img.config.os != "linux") continue;
        return img;
      }
    }
    std::string list;
    for (const auto& s : seen) list += (list.empty() ? "" : ", ") + s;
    if (seen.size() == 1)
      throw PlatformError(where + " is for " + list + ", not for linux/" + arch_ + " (the guest's architecture)", seen);
    throw PlatformError(where + " has no manifest for linux/" + arch_ + " (it has: " + list + ")", seen);
  }

 private:
  // The image manifests an index leads to, nested indexes followed (4 deep at most).
  void collect(const json& index, const std::string& what, std::vector<json>& out, int depth) {
    if (depth > 4) throw ImageError(what + ": indexes nested too deep");
    if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array())
      throw ImageError(what + " has no \"manifests\" list");
    for (const json& d : index["manifests"]) {
      if (!d.is_object()) throw ImageError(what + ": a manifest descriptor is not an object");
      const std::string type = str_field(d, "mediaType", what);
      const std::string digest = str_field(d, "digest", what);
      digest_hex(digest, what);
      if (is_index_type(type)) {
        const std::string nested = what + " -> index " + digest;
        collect(parse_json(blob(d, nested), nested), nested, out, depth + 1);
      } else if (is_manifest_type(type) || type.empty()) {
        out.push_back(d);
      }
    }
  }

  // A small blob's bytes, checked against its descriptor's digest and size.
  std::string blob(const json& desc, const std::string& what) {
    const std::string digest = str_field(desc, "digest", what);
    const std::string hex(digest_hex(digest, what));
    const std::uint64_t size = size_field(desc, what);
    if (size > max_json_blob) throw ImageError(what + " is too large (" + std::to_string(size) + " bytes)");
    const std::string data = store_.read("blobs/sha256/" + hex, max_json_blob, what);
    if (data.size() != size)
      throw ImageError(what + ": blob " + digest + " has " + std::to_string(data.size()) + " bytes, its descriptor says " + std::to_string(size));
    if (sha256_hex(data) != hex) throw ImageError(what + ": blob " + digest + " does not match its digest (sha256 " + sha256_hex(data) + ")");
    return data;
  }

  Image load(const json& desc, ImageFormat format, const std::string& where) {
    Image img;
    img.source = store_.path();
    img.format = format;
    img.manifest_digest = str_field(desc, "digest", where);
    img.manifest_size = size_field(desc, where + ": manifest " + img.manifest_digest);
    const std::string mwhat = where + ": manifest " + img.manifest_digest;
    json m = parse_json(blob(desc, mwhat), mwhat);
    const std::string mtype = str_field(m, "mediaType", mwhat);
    if (is_index_type(mtype) || m.contains("manifests")) throw ImageError(mwhat + " is an index, but its descriptor says it is a manifest");
    if (!m.contains("config") || !m["config"].is_object()) throw ImageError(mwhat + " has no \"config\"");
    const json& cdesc = m["config"];
    const std::string ctype = str_field(cdesc, "mediaType", mwhat + ": config");
    if (ctype != "application/vnd.oci.image.config.v1+json" && ctype != "application/vnd.docker.container.image.v1+json")
      throw ImageError(mwhat + " is not a container image (config media type \"" + ctype + "\")");
    img.config_digest = str_field(cdesc, "digest", mwhat + ": config");
    const std::string cwhat = where + ": config " + img.config_digest;
    const std::string ctext = blob(cdesc, cwhat);
    img.config_size = ctext.size();
    img.config_path = "blobs/sha256/" + std::string(digest_hex(img.config_digest));
    const std::vector<std::string> diff_ids = parse_config(parse_json(ctext, cwhat), cwhat, img.config);

    if (!m.contains("layers") || !m["layers"].is_array()) throw ImageError(mwhat + " has no \"layers\" list");
    const json& layers = m["layers"];
    if (layers.size() != diff_ids.size())
      throw ImageError(mwhat + " has " + std::to_string(layers.size()) + " layers, its config names " + std::to_string(diff_ids.size()) + " diff_ids");
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const json& l = layers[i];
      const std::string lwhat = mwhat + ": layer " + std::to_string(i + 1);
      Layer layer;
      layer.digest = str_field(l, "digest", lwhat);
      layer.path = "blobs/sha256/" + std::string(digest_hex(layer.digest, lwhat));
      layer.diff_id = diff_ids[i];
      layer.media_type = str_field(l, "mediaType", lwhat);
      if (!is_layer_type(layer.media_type)) throw ImageError(lwhat + ": media type \"" + layer.media_type + "\" is not a layer we can unpack");
      layer.size = size_field(l, lwhat);
      const auto on_disk = store_.size(layer.path);
      if (!on_disk) throw ImageError(lwhat + ": blob " + layer.digest + " is missing");
      if (*on_disk != layer.size)
        throw ImageError(lwhat + ": blob " + layer.digest + " has " + std::to_string(*on_disk) + " bytes, its descriptor says " + std::to_string(layer.size));
      img.layers.push_back(std::move(layer));
    }
    return img;
  }

 public:
  // The run's defaults from the config; returns its rootfs.diff_ids (validated).
  static std::vector<std::string> parse_config(const json& c, const std::string& what, ImageConfig& out) {
    if (!c.is_object()) throw ImageError(what + " is not a JSON object");
    out.architecture = str_field(c, "architecture", what);
    out.os = str_field(c, "os", what);
    out.variant = str_field(c, "variant", what);
    if (auto it = c.find("config"); it != c.end() && !it->is_null()) {
      if (!it->is_object()) throw ImageError(what + ": \"config\" is not an object");
      out.env = str_list(*it, "Env", what);
      out.entrypoint = str_list(*it, "Entrypoint", what);
      out.cmd = str_list(*it, "Cmd", what);
      out.working_dir = str_field(*it, "WorkingDir", what);
      out.user = str_field(*it, "User", what);
    }
    if (!c.contains("rootfs") || !c["rootfs"].is_object()) throw ImageError(what + " has no \"rootfs\"");
    std::vector<std::string> ids = str_list(c["rootfs"], "diff_ids", what + ": rootfs");
    for (const auto& id : ids) digest_hex(id, what + ": rootfs.diff_ids");
    return ids;
  }

 private:
  const Store& store_;
  std::string arch_;
};

// "<hex>.tar", "<hex>.json" or "blobs/sha256/<hex>": the hex a member's name claims, else "".
inline std::string hex_in_name(const std::string& name) {
  std::string base = name;
  if (name.starts_with("blobs/sha256/")) base = name.substr(13);
  else if (name.find('/') != std::string::npos) return {};
  else if (const auto dot = base.rfind('.'); dot != std::string::npos) base = base.substr(0, dot);
  return is_sha256_hex(base) ? base : std::string();
}

inline Image read_docker_archive(const Store& store, const std::string& arch) {
  const std::string where = "image " + store.path().string();
  json manifest = parse_json(store.read("manifest.json", max_json_blob, "manifest.json"), where + ": manifest.json");
  if (!manifest.is_array() || manifest.empty()) throw ImageError(where + ": manifest.json is not a non-empty list");
  std::vector<std::string> seen;
  for (const json& entry : manifest) {
    const std::string ewhat = where + ": manifest.json";
    const std::string config_name = str_field(entry, "Config", ewhat);
    if (config_name.empty()) throw ImageError(ewhat + ": an entry has no \"Config\"");
    const std::string config_member = store.resolve(config_name);
    if (config_member.empty()) throw ImageError(ewhat + ": the config " + config_name + " is missing from the archive");
    const std::string cwhat = where + ": config " + config_name;
    const std::string ctext = store.read(config_member, max_json_blob, "config " + config_name);
    const std::string actual = sha256_hex(ctext);
    if (const std::string claimed = hex_in_name(config_member); !claimed.empty() && claimed != actual)
      throw ImageError(cwhat + " does not match its digest (sha256 " + actual + ")");
    Image img;
    img.source = store.path();
    img.format = ImageFormat::docker_archive;
    img.manifest_digest = sha256_digest(sha256_hex(entry.dump()));
    img.config_digest = sha256_digest(actual);
    img.config_size = ctext.size();
    img.config_path = config_member;
    const auto diff_ids = OciReader::parse_config(parse_json(ctext, cwhat), cwhat, img.config);
    const std::string a = normalize_arch(img.config.architecture);
    seen.push_back((img.config.os.empty() ? "linux" : img.config.os) + "/" + (a.empty() ? "?" : a));
    if ((!a.empty() && a != arch) || (!img.config.os.empty() && img.config.os != "linux")) continue;
    const auto names = str_list(entry, "Layers", ewhat);
    if (names.size() != diff_ids.size())
      throw ImageError(ewhat + " lists " + std::to_string(names.size()) + " layers, the config names " + std::to_string(diff_ids.size()) + " diff_ids");
    for (std::size_t i = 0; i < names.size(); ++i) {
      Layer l;
      l.path = store.resolve(names[i]);
      if (l.path.empty()) throw ImageError(ewhat + ": layer " + names[i] + " is missing from the archive");
      l.diff_id = diff_ids[i];
      // The name's hex is the blob's digest when it has one; an old `<id>/layer.tar` is an
      // uncompressed tar, whose digest is its diff_id. unpack_image checks both.
      const std::string hex = hex_in_name(l.path);
      l.digest = hex.empty() ? l.diff_id : sha256_digest(hex);
      l.media_type = "application/vnd.docker.image.rootfs.diff.tar";
      l.size = *store.size(l.path);
      img.layers.push_back(std::move(l));
    }
    return img;
  }
  std::string list;
  for (const auto& s : seen) list += (list.empty() ? "" : ", ") + s;
  if (seen.size() == 1) throw PlatformError(where + " is for " + list + ", not for linux/" + arch + " (the guest's architecture)", seen);
  throw PlatformError(where + " has no image for linux/" + arch + " (it has: " + list + ")", seen);
}

}  // namespace image_detail

// Reads the image at `path` (an OCI layout directory, an OCI archive or a docker-archive) for a
// guest of `architecture` (GOARCH names: amd64, arm64, riscv64). An index with several manifests
// gives the one for linux/<architecture>; an image only for another architecture is an ImageError
// naming both. Every problem (missing, unreadable, not an image, malformed JSON, a bad digest) is
// an ImageError naming the path and the part at fault.
inline Image read_image(const std::filesystem::path& path, std::string_view architecture = "amd64") {
  namespace d = image_detail;
  const std::string arch = d::normalize_arch(architecture);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) throw ImageError("image " + path.string() + " does not exist");
    throw ImageError("cannot read image " + path.string() + ": " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) return d::OciReader(d::Store::directory(path), arch).read(ImageFormat::oci_layout);
  if (!S_ISREG(st.st_mode)) throw ImageError("cannot read image " + path.string() + ": not a regular file or directory");
  if (::access(path.c_str(), R_OK) != 0) throw ImageError("cannot read image " + path.string() + ": " + std::strerror(errno));
  const d::Store store = d::Store::archive(path);
  if (store.exists("index.json")) return d::OciReader(store, arch).read(ImageFormat::oci_archive);
  if (store.exists("manifest.json")) return d::read_docker_archive(store, arch);
  throw ImageError("not an image: " + path.string() + " is an archive without index.json or manifest.json");
}

}  // namespace crumble::container
