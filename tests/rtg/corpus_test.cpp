// SPDX-License-Identifier: Apache-2.0
// tests/rtg/corpus_test.cpp — the program corpus written in RTG (corpus/NAME.go) behaves exactly
// like the C++-built IR corpus (tests/corpus): each file is translated at run time with the RTG
// front end, assembled for each architecture and run (natively on AMD64, under qemu-user for
// ARM64 and RISC-V); its stdout and exit status must equal NAME_expected(), the host-computed
// expectation of the C++ corpus. One ctest test per program and architecture.
#include <catch2/catch.hpp>
#include <crumble/crumble.hpp>

#include <fstream>
#include <sstream>

#include "../corpus/corpus.hpp"
#include "../runner.hpp"
#include <crumble/rtg/translate.hpp>

namespace crumble::rtg_test {

inline std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string corpus_file(std::string_view name) { return std::string(CRUMBLE_RTG_CORPUS_DIR) + "/" + std::string(name) + ".go"; }

template <class Target>
void check(std::string_view name, const corpus::Expected& want, const char* arch, const test::RunOptions& opt) {
  std::vector<std::uint8_t> elf;
  try {
    rtg::Translation t = rtg::translate_file(corpus_file(name), rtg::Options{.arch = arch});
    elf = crumble::executable<Target>(t.program);
  } catch (const std::exception& e) {
    FAIL("RTG program " << name << " did not build for " << arch << ":\n" << e.what());
  }
  const test::RunResult got = test::run_elf(elf, opt);
  INFO("RTG program " << name << " on " << arch << ": " << got.describe());
  REQUIRE(got.error.empty());
  CHECK(test::escaped(got.out) == test::escaped(want.out));
  CHECK(got.exited);
  CHECK(got.status == want.status);
}

inline test::RunOptions native() {
#if defined(__x86_64__)
  return {};
#else
  return test::RunOptions{{"qemu-x86_64"}};
#endif
}

}  // namespace crumble::rtg_test

#define CRUMBLE_RTG_CASE(name)                                                                                 \
  TEST_CASE("rtg corpus/amd64: " #name, "[rtg][corpus][amd64]") {                                             \
    crumble::rtg_test::check<crumble::arch::amd64>(#name, crumble::corpus::name##_expected(), "amd64",        \
                                                   crumble::rtg_test::native());                               \
  }                                                                                                            \
  TEST_CASE("rtg corpus/arm64: " #name, "[rtg][corpus][arm64]") {                                             \
    crumble::rtg_test::check<crumble::arch::arm64>(#name, crumble::corpus::name##_expected(), "arm64",        \
                                                   crumble::test::emulated("qemu-aarch64"));                   \
  }                                                                                                            \
  TEST_CASE("rtg corpus/riscv64: " #name, "[rtg][corpus][riscv64]") {                                         \
    crumble::rtg_test::check<crumble::arch::riscv64>(#name, crumble::corpus::name##_expected(), "riscv64",    \
                                                     crumble::test::emulated("qemu-riscv64"));                 \
  }
CRUMBLE_CORPUS(CRUMBLE_RTG_CASE)

// Not in the C++ corpus: nested ifs five deep inside loops, with break and continue at several
// depths (the original implementation got this wrong). Expected trace and status beside it.
TEST_CASE("rtg corpus: nested ifs at depth 5 inside loops", "[rtg][corpus]") {
  using namespace crumble::rtg_test;
  crumble::corpus::Expected want{read(std::string(CRUMBLE_RTG_CORPUS_DIR) + "/nested_if_loops.out"),
                                 std::stoi(read(std::string(CRUMBLE_RTG_CORPUS_DIR) + "/nested_if_loops.status"))};
  REQUIRE(!want.out.empty());
  check<crumble::arch::amd64>("nested_if_loops", want, "amd64", native());
  check<crumble::arch::arm64>("nested_if_loops", want, "arm64", crumble::test::emulated("qemu-aarch64"));
  check<crumble::arch::riscv64>("nested_if_loops", want, "riscv64", crumble::test::emulated("qemu-riscv64"));
}
