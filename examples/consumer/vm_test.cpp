// SPDX-License-Identifier: Apache-2.0
// An embedded test binary: Catch2 tests that run their subject inside a microVM. One Session is
// shared by the test cases (a boot, or a restore from the snapshot cache, costs more than a command).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <crumble/vm/run.hpp>
#include <crumble/vm/session.hpp>

namespace {
crumble::vm::Session& guest() {
  static crumble::vm::Session vm({});
  return vm;
}
}  // namespace

TEST_CASE("a command's output and status come back from the guest") {
  struct Case {
    std::vector<std::string> argv;
    std::string out;
    int status;
  } cases[] = {
      {{"echo", "hello", "guest"}, "hello guest\n", 0},
      {{"sh", "-c", "printf %s $((6 * 7)); exit 3"}, "42", 3},
      {{"cat", "/proc/sys/kernel/ostype"}, "Linux\n", 0},
      {{"no-such-command"}, "", 127},
  };
  for (const Case& c : cases) {
    INFO(c.argv[0]);
    const crumble::vm::CommandResult r = guest().run(c.argv);
    CHECK(r.out == c.out);
    CHECK(r.status() == c.status);
  }
}

TEST_CASE("the guest is its own machine: pid 1 is crumble's init") {
  CHECK(guest().run({"readlink", "/proc/1/exe"}).out == "/init\n");
}

TEST_CASE("crumble::vm::run boots, runs one command and powers off") {
  const crumble::vm::CommandResult r = crumble::vm::run({"sh", "-c", "echo one-call; exit 5"});
  CHECK(r.out == "one-call\n");
  CHECK(r.status() == 5);
}
