// SPDX-License-Identifier: Apache-2.0
// tests/rtg/go_compared_test.cpp — RTG programs whose expected behaviour is real Go's.
//
// Each go_compared/NAME.go pins one rule where the translator once differed from Go (found by
// the differential test, difftest_test.cpp): its stdout and exit status under Go 1.19 are
// NAME.out and NAME.status. The program is translated for each architecture and run (natively
// on AMD64, under qemu-user for ARM64 and RISC-V); a second test rebuilds the expectations with
// the Go toolchain (go_oracle.hpp), so the files cannot drift from what Go does.
#include <catch2/catch.hpp>
#include <crumble/crumble.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <sstream>

#include "../runner.hpp"
#include "go_oracle.hpp"
#include <crumble/rtg/translate.hpp>

namespace {

namespace fs = std::filesystem;
using namespace crumble;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Program {
  std::string name, source, out;
  int status;
};

std::vector<Program> programs() {
  std::vector<Program> all;
  for (const auto& entry : fs::directory_iterator(CRUMBLE_RTG_GO_COMPARED_DIR)) {
    if (entry.path().extension() != ".go") continue;
    fs::path base = entry.path();
    base.replace_extension();
    all.push_back({base.filename().string(), read(entry.path()), read(base.string() + ".out"),
                   std::stoi(read(base.string() + ".status"))});
  }
  std::sort(all.begin(), all.end(), [](const Program& a, const Program& b) { return a.name < b.name; });
  return all;
}

template <class Target>
void run_all(const char* arch, const test::RunOptions& options) {
  const std::vector<Program> all = programs();
  REQUIRE(all.size() >= 6);
  for (const Program& p : all) {
    INFO(p.name << " on " << arch);
    std::vector<std::uint8_t> elf;
    try {
      elf = executable<Target>(rtg::translate({p.name + ".go", p.source}, {.arch = arch}).program);
    } catch (const std::exception& e) {
      FAIL_CHECK("did not build:\n" << e.what());
      continue;
    }
    const test::RunResult got = test::run_elf(elf, options);
    INFO(got.describe());
    CHECK(test::escaped(got.out) == test::escaped(p.out));
    CHECK(got.exited);
    CHECK(got.status == p.status);
  }
}

}  // namespace

TEST_CASE("rtg programs behave as Go says: amd64", "[rtg][go]") {
#if defined(__x86_64__)
  run_all<arch::amd64>("amd64", {});
#else
  run_all<arch::amd64>("amd64", test::emulated("qemu-x86_64"));
#endif
}
TEST_CASE("rtg programs behave as Go says: arm64", "[rtg][go]") { run_all<arch::arm64>("arm64", test::emulated("qemu-aarch64")); }
TEST_CASE("rtg programs behave as Go says: riscv64", "[rtg][go]") {
  run_all<arch::riscv64>("riscv64", test::emulated("qemu-riscv64"));
}

TEST_CASE("rtg go_compared expectations are what Go 1.19 does", "[rtg][go][oracle]") {
  auto oracle = rtg_test::GoOracle::find(CRUMBLE_GO, CRUMBLE_RTG_GO_SHIM, CRUMBLE_RTG_GO_WORK);
  if (!oracle) {
    std::cout << "SKIPPED: the go toolchain is not installed (apt-get install golang-go; scripts/setup.sh does)\n";
    std::exit(4);
  }
  const std::vector<Program> all = programs();
  std::vector<std::string> sources;
  for (const Program& p : all) sources.push_back(p.source);
  const std::vector<rtg_test::GoResult> got = oracle->run(sources);
  REQUIRE(got.size() == all.size());
  for (std::size_t k = 0; k < all.size(); ++k) {
    INFO(all[k].name << ": " << got[k].build_log << got[k].run.describe());
    REQUIRE(got[k].built);
    CHECK(test::escaped(got[k].run.out) == test::escaped(all[k].out));
    CHECK(got[k].run.exited);
    CHECK(got[k].run.status == all[k].status);
  }
}
