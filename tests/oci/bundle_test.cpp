// SPDX-License-Identifier: Apache-2.0
// oci/bundle.hpp: config.json as the runtime reads it — what it takes, and every problem named by
// its JSON path (no VM needed).
#include <catch2/catch.hpp>
#include <crumble/oci/bundle.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
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
  REQUIRE(b.ignored.size() == 1);
  CHECK_THAT(b.ignored[0], Contains("mounts"));
  fs::remove_all(dir);
}

TEST_CASE("oci bundle: a host namespace to join is accepted and said not to be applied, with the rest of linux") {
  const fs::path dir = bundle(R"({"root":{"path":"rootfs"},)" + ok_process +
                              R"(,"linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/run/netns/x"}]}})");
  const crumble::oci::Bundle b = crumble::oci::read_bundle(dir);
  REQUIRE(b.ignored.size() == 2);
  CHECK_THAT(b.ignored[0], Contains("linux.namespaces[1].path (network \"/run/netns/x\")"));
  CHECK_THAT(b.ignored[1], Contains("linux ("));
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
