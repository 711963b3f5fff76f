// SPDX-License-Identifier: Apache-2.0
// tests/container/image_test.cpp — read_image against images made by umoci, skopeo and podman (the
// oracles of the formats), hand-made indexes for several architectures, and bad images: each a
// clear ImageError naming the problem.
#include "make_images.hpp"

#include <crumble/container/image.hpp>
#include <crumble/container/sha256.hpp>

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>

using namespace crumble::container;
using namespace crumble::test;

namespace {

std::vector<std::string> diff_ids(const Image& img) {
  std::vector<std::string> out;
  for (const auto& l : img.layers) out.push_back(l.diff_id);
  return out;
}

}  // namespace

TEST_CASE("Sha256 agrees with sha256sum, in one update or many") {
  crumble::vm::TempDir dir("crumble-sha-");
  std::string data;
  for (int i = 0; i < 300000; ++i) data += static_cast<char>(i * 7);
  write_file(dir.path() / "f", data);
  const std::string want = tool({"sha256sum", (dir.path() / "f").string()}).substr(0, 64);
  CHECK(sha256_file(dir.path() / "f") == want);
  Sha256 h;
  for (std::size_t i = 0; i < data.size(); i += 4093) h.update(std::string_view(data).substr(i, 4093));
  CHECK(h.hex() == want);
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("digest strings: only sha256 with 64 lowercase hex digits is accepted") {
  const std::string hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  struct Case {
    std::string digest;
    const char* why;  // "" = valid
  };
  const Case cases[] = {
      {"sha256:" + hex, ""},
      {"sha512:" + hex, "only sha256"},
      {"md5:d41d8cd98f00b204e9800998ecf8427e", "only sha256"},
      {hex, "no algorithm"},
      {"sha256:" + hex.substr(1), "64 lowercase hex"},
      {"sha256:" + hex + "0", "64 lowercase hex"},
      {"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", "64 lowercase hex"},
      {"sha256:../../../../../../etc/passwd/../../../../../../../../../../../aaaaaaaa", "64 lowercase hex"},
      {"sha256:" + hex.substr(0, 62) + "/x", "64 lowercase hex"},
      {"", "no algorithm"},
  };
  for (const auto& c : cases) {
    INFO(c.digest);
    CHECK(is_sha256_digest(c.digest) == (*c.why == 0));
    const std::string msg = image_error([&] { digest_hex(c.digest, "the test"); });
    if (*c.why == 0) {
      CHECK(msg.empty());
      CHECK(digest_hex(c.digest) == hex);
    } else {
      CHECK_THAT(msg, Catch::Contains(c.why) && Catch::Contains("invalid digest") && Catch::Contains("in the test"));
    }
  }
  // control bytes in a digest are shown escaped, never raw
  CHECK_THAT(image_error([] { digest_hex("sha256:\x1b[2J"); }), Catch::Contains("\\x1b[2J"));
}

TEST_CASE("every form of one image reads as the same config and layers") {
  const auto& images = ToolImages::get();
  const Image layout = read_image(images.layout);
  CHECK(layout.format == ImageFormat::oci_layout);
  CHECK(layout.layers.size() == 3);
  CHECK(layout.config.env == std::vector<std::string>{"A=1", "B=two words"});
  CHECK(layout.config.entrypoint == std::vector<std::string>{"/bin/sh"});
  CHECK(layout.config.cmd == std::vector<std::string>{"-c", "echo hi"});
  CHECK(layout.config.working_dir == "/opq");
  CHECK(layout.config.user == "1000:1000");
  CHECK(layout.config.architecture == "amd64");
  CHECK(layout.config.os == "linux");
  for (const auto& l : layout.layers) {
    CHECK(l.media_type == "application/vnd.oci.image.layer.v1.tar+gzip");
    CHECK(l.size == std::filesystem::file_size(images.layout / l.path));
  }

  struct Case {
    std::filesystem::path path;
    ImageFormat format;
  };
  const Case cases[] = {
      {images.oci_archive, ImageFormat::oci_archive},
      {images.docker_archive, ImageFormat::docker_archive},
      {images.podman_oci_archive, ImageFormat::oci_archive},
      {images.podman_docker_archive, ImageFormat::docker_archive},
  };
  for (const auto& c : cases) {
    INFO(c.path);
    const Image img = read_image(c.path);
    CHECK(img.format == c.format);
    CHECK(img.source == c.path);
    CHECK(diff_ids(img) == diff_ids(layout));
    CHECK(img.config.env == layout.config.env);
    CHECK(img.config.entrypoint == layout.config.entrypoint);
    CHECK(img.config.cmd == layout.config.cmd);
    CHECK(img.config.working_dir == layout.config.working_dir);
    CHECK(img.config.user == layout.config.user);
    CHECK(img.config.architecture == "amd64");
    CHECK(is_sha256_digest(img.manifest_digest));
    CHECK(is_sha256_digest(img.config_digest));
    for (const auto& l : img.layers) CHECK(l.size > 0);
    if (c.format == ImageFormat::docker_archive) {
      // docker-archives hold uncompressed layers: the blob is the diff
      for (const auto& l : img.layers) CHECK(l.digest == l.diff_id);
    }
  }
  // skopeo's copy keeps the blobs: the same root key as the layout
  CHECK(read_image(images.oci_archive).root_key() == layout.root_key());
  CHECK(read_image(images.oci_archive).manifest_digest == layout.manifest_digest);
  CHECK(layout.root_key().size() == 64);
}

TEST_CASE("reading an image is cheap: JSON only, however large the layers") {
  const auto& images = ToolImages::get();
  for (const auto& p : {images.layout, images.oci_archive, images.docker_archive}) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 10; ++i) (void)read_image(p);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 10;
    std::printf("read_image(%s): %.2f ms\n", p.filename().c_str(), ms);
    CHECK(ms < 200);
  }
}

TEST_CASE("an index with amd64 and arm64 manifests gives the one the guest needs") {
  crumble::vm::TempDir dir("crumble-img-");
  const auto lay = dir.path() / "multi";
  const std::string amd = make_tar({file_entry("amd64-file", "x")});
  const std::string arm = make_tar({file_entry("arm64-file", "y")});
  json m_amd = put_manifest(lay, {{amd}, "gzip", "amd64"});
  json m_arm = put_manifest(lay, {{arm}, "gzip", "arm64"});
  m_amd["platform"] = {{"architecture", "amd64"}, {"os", "linux"}};
  m_arm["platform"] = {{"architecture", "arm64"}, {"os", "linux"}, {"variant", "v8"}};
  json attestation = m_amd;
  attestation["platform"] = {{"architecture", "unknown"}, {"os", "unknown"}};
  put_index(lay, json::array({attestation, m_arm, m_amd}));

  struct Case {
    const char* arch;
    std::string manifest, diff_id, config_arch;
  };
  const Case cases[] = {
      {"amd64", m_amd["digest"], digest_of(amd), "amd64"},
      {"x86_64", m_amd["digest"], digest_of(amd), "amd64"},
      {"arm64", m_arm["digest"], digest_of(arm), "arm64"},
      {"aarch64", m_arm["digest"], digest_of(arm), "arm64"},
  };
  for (const auto& c : cases) {
    INFO(c.arch);
    const Image img = read_image(lay, c.arch);
    CHECK(img.manifest_digest == c.manifest);
    REQUIRE(img.layers.size() == 1);
    CHECK(img.layers[0].diff_id == c.diff_id);
    CHECK(img.config.architecture == c.config_arch);
  }
  CHECK_THAT(image_error([&] { read_image(lay, "riscv64"); }),
             Catch::Contains("no manifest for linux/riscv64") && Catch::Contains("linux/arm64") && Catch::Contains("linux/amd64"));

  // without platforms in the index, the configs decide
  const auto bare = dir.path() / "bare";
  put_index(bare, json::array({put_manifest(bare, {{arm}, "gzip", "arm64"}), put_manifest(bare, {{amd}, "gzip", "amd64"})}));
  CHECK(read_image(bare, "amd64").config.architecture == "amd64");
  CHECK(read_image(bare, "arm64").config.architecture == "arm64");
}

TEST_CASE("an image only for arm64 says which architecture it is for and which was wanted") {
  crumble::vm::TempDir dir("crumble-img-");
  const auto lay = make_layout(dir.path() / "arm", {{make_tar({file_entry("f", "x")})}, "gzip", "arm64"});
  const std::string msg = image_error([&] { read_image(lay, "amd64"); });
  CHECK_THAT(msg, Catch::Contains("is for linux/arm64") && Catch::Contains("not for linux/amd64") && Catch::Contains(lay.string()));
  CHECK(read_image(lay, "arm64").layers.size() == 1);
}

TEST_CASE("an index that points to a nested index (as skopeo may write) is followed") {
  crumble::vm::TempDir dir("crumble-img-");
  const auto lay = dir.path() / "nested";
  const std::string tar = make_tar({file_entry("f", "x")});
  json m = put_manifest(lay, {{tar}});
  const json inner{{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.index.v1+json"}, {"manifests", json::array({m})}};
  put_index(lay, json::array({put_blob(lay, inner.dump(), "application/vnd.oci.image.index.v1+json")}));
  const Image img = read_image(lay);
  // get<std::string>(): Clang's C++20 rewritten comparisons find no string == json here.
  CHECK(img.manifest_digest == m["digest"].get<std::string>());
  CHECK(img.layers.at(0).diff_id == digest_of(tar));
}

TEST_CASE("docker-archives: <id>/layer.tar files (older docker) and symlinks to <hex>.tar") {
  crumble::vm::TempDir dir("crumble-img-");
  const std::string tar1 = make_tar({file_entry("one", "1")}), tar2 = make_tar({file_entry("two", "2")});
  const json config{{"architecture", "amd64"}, {"os", "linux"}, {"config", {{"Cmd", {"/two"}}}},
                    {"rootfs", {{"type", "layers"}, {"diff_ids", {digest_of(tar1), digest_of(tar2)}}}}};
  const std::string chex = digest_of(config.dump()).substr(7);
  const std::string l2hex = digest_of(tar2).substr(7);
  const auto file = dir.path() / "old-docker.tar";
  make_archive(file, {{"aaaa/layer.tar", tar1},
                      {l2hex + ".tar", tar2},
                      {"bbbb/layer.tar", "->../" + l2hex + ".tar"},
                      {chex + ".json", config.dump()},
                      {"manifest.json", json::array({{{"Config", chex + ".json"}, {"RepoTags", {"x:y"}}, {"Layers", {"aaaa/layer.tar", "bbbb/layer.tar"}}}}).dump()}});
  const Image img = read_image(file);
  CHECK(img.format == ImageFormat::docker_archive);
  REQUIRE(img.layers.size() == 2);
  CHECK(img.layers[0].path == "aaaa/layer.tar");
  CHECK(img.layers[0].digest == digest_of(tar1));
  CHECK(img.layers[1].path == l2hex + ".tar");  // the symlink, resolved
  CHECK(img.layers[1].size == tar2.size());
  CHECK(img.config_digest == "sha256:" + chex);
  CHECK(img.config.cmd == std::vector<std::string>{"/two"});
}

TEST_CASE("bad images are ImageErrors that name the problem") {
  crumble::vm::TempDir dir("crumble-img-");
  const auto base = dir.path();
  const std::string tar = make_tar({file_entry("f", "x")});
  // A good layout to break in one place each.
  auto good = [&](const std::string& name) { return make_layout(base / name, {{tar}}); };
  auto manifest_of = [](const std::filesystem::path& lay) {
    return lay / "blobs/sha256" / json::parse(read_file(lay / "index.json"))["manifests"][0]["digest"].get<std::string>().substr(7);
  };
  auto set_index_digest = [](const std::filesystem::path& lay, const std::string& digest) {
    json idx = json::parse(read_file(lay / "index.json"));
    idx["manifests"][0]["digest"] = digest;
    write_file(lay / "index.json", idx.dump());
  };
  const std::string zeros(64, '0');

  struct Case {
    const char* name;
    std::function<std::filesystem::path()> make;
    std::vector<std::string> says;
  };
  const Case cases[] = {
      {"missing path", [&] { return base / "nothing-here"; }, {"does not exist", "nothing-here"}},
      {"a FIFO (must not hang)", [&] { ::mkfifo((base / "fifo").c_str(), 0600); return base / "fifo"; }, {"not a regular file"}},
      {"a text file", [&] { write_file(base / "text", "hello, not an image\n"); return base / "text"; }, {"not an image", "not a tar archive"}},
      {"an empty file", [&] { write_file(base / "empty", ""); return base / "empty"; }, {"not an image"}},
      {"a tar of other things", [&] { make_archive(base / "other.tar", {{"README", "hi"}}); return base / "other.tar"; },
       {"not an image", "without index.json or manifest.json"}},
      {"a directory without index.json", [&] { std::filesystem::create_directories(base / "emptydir"); return base / "emptydir"; },
       {"not an image", "no index.json"}},
      {"index.json unreadable (a directory)", [&] { auto l = good("idxdir"); std::filesystem::remove(l / "index.json");
         std::filesystem::create_directory(l / "index.json"); return l; }, {"index.json", "not a regular file"}},
      {"index.json malformed", [&] { auto l = good("badjson"); write_file(l / "index.json", "{\"manifests\": [}"); return l; },
       {"index.json is not valid JSON"}},
      {"index.json without manifests", [&] { auto l = good("nomani"); write_file(l / "index.json", "{}"); return l; }, {"no \"manifests\""}},
      {"manifest digest of another algorithm", [&] { auto l = good("md5"); set_index_digest(l, "md5:" + zeros.substr(0, 32)); return l; },
       {"invalid digest \"md5:", "only sha256"}},
      {"manifest digest escaping blobs/", [&] { auto l = good("escape"); set_index_digest(l, "sha256:../../../../etc/passwd"); return l; },
       {"invalid digest \"sha256:../../../../etc/passwd\""}},
      {"manifest blob missing", [&] { auto l = good("nomblob"); std::filesystem::remove(manifest_of(l)); return l; }, {"is missing"}},
      {"manifest blob not matching its digest", [&] { auto l = good("mmod"); auto m = manifest_of(l); auto t = read_file(m);
         t[t.size() - 2] = ' '; write_file(m, t); return l; }, {"does not match its digest"}},
      {"manifest blob malformed (digest right)", [&] { auto l = good("mjson");
         put_index(l, json::array({put_blob(l, "{not json", "application/vnd.oci.image.manifest.v1+json")})); return l; },
       {"manifest sha256:", "is not valid JSON"}},
      {"not a container image (an artifact)", [&] { auto l = base / "artifact";
         const json m{{"schemaVersion", 2}, {"config", put_blob(l, "{}", "application/vnd.cncf.helm.config.v1+json")}, {"layers", json::array()}};
         put_index(l, json::array({put_blob(l, m.dump(), "application/vnd.oci.image.manifest.v1+json")})); return l; },
       {"not a container image", "helm"}},
      {"a layer blob missing", [&] { auto l = good("nolayer"); const json m = json::parse(read_file(manifest_of(l)));
         std::filesystem::remove(l / "blobs/sha256" / m["layers"][0]["digest"].get<std::string>().substr(7)); return l; },
       {"layer 1", "is missing"}},
      {"a layer's size not as described", [&] { auto l = good("lsize"); const json m = json::parse(read_file(manifest_of(l)));
         const auto p = l / "blobs/sha256" / m["layers"][0]["digest"].get<std::string>().substr(7);
         write_file(p, read_file(p) + "extra"); return l; }, {"layer 1", "its descriptor says"}},
      {"a docker-archive with malformed manifest.json", [&] { make_archive(base / "d1.tar", {{"manifest.json", "[{"}}); return base / "d1.tar"; },
       {"manifest.json is not valid JSON"}},
      {"a docker-archive whose config is missing", [&] { make_archive(base / "d2.tar", {{"manifest.json", R"([{"Config":"x.json","Layers":[]}])"}});
         return base / "d2.tar"; }, {"config x.json is missing"}},
      {"a docker-archive config not matching its name", [&] { const std::string c = R"({"architecture":"amd64","rootfs":{"diff_ids":[]}})";
         make_archive(base / "d3.tar", {{zeros + ".json", c}, {"manifest.json", "[{\"Config\":\"" + zeros + ".json\",\"Layers\":[]}]"}});
         return base / "d3.tar"; }, {"does not match its digest"}},
      {"a docker-archive layer symlink escaping the archive", [&] { const std::string c = R"({"architecture":"amd64","rootfs":{"diff_ids":["sha256:)" + zeros + R"("]}})";
         make_archive(base / "d4.tar", {{"l/layer.tar", "->../../../etc/passwd"}, {"c.json", c},
                                        {"manifest.json", R"([{"Config":"c.json","Layers":["l/layer.tar"]}])"}});
         return base / "d4.tar"; }, {"layer l/layer.tar is missing"}},
      {"a config with a bad diff_id", [&] { auto l = base / "baddiff";
         const json c{{"architecture", "amd64"}, {"rootfs", {{"diff_ids", {"sha256:nothex"}}}}};
         const json m{{"schemaVersion", 2}, {"config", put_blob(l, c.dump(), "application/vnd.oci.image.config.v1+json")},
                      {"layers", {put_blob(l, tar, "application/vnd.oci.image.layer.v1.tar")}}};
         put_index(l, json::array({put_blob(l, m.dump(), "application/vnd.oci.image.manifest.v1+json")})); return l; },
       {"invalid digest \"sha256:nothex\"", "diff_ids"}},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const auto path = c.make();
    const std::string msg = image_error([&] { read_image(path); });
    INFO(msg);
    REQUIRE(!msg.empty());
    for (const auto& s : c.says) CHECK_THAT(msg, Catch::Contains(s));
  }
}
