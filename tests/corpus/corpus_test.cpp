// SPDX-License-Identifier: Apache-2.0
// tests/corpus/corpus_test.cpp — every corpus program, assembled at run time for each
// architecture and run: natively on AMD64, under qemu-aarch64 / qemu-riscv64 otherwise. The
// expected output is the same for all three.
//
// One TEST_CASE per program ("corpus/amd64: NAME"), so ctest lists and reports each one. The
// check is target-generic: check_program<Target>(row, options) builds the ELF with
// crumble::executable<Target> and runs it with RunOptions::prefix as the emulator command, so an
// ARM64 or RISC-V variant is the same macro with another Target and prefix {"qemu-aarch64"}.
#include <catch2/catch.hpp>
#include <crumble/crumble.hpp>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <unistd.h>

#include "corpus.hpp"
#include "../runner.hpp"

namespace crumble::corpus {
using test::emulated;
using test::run_elf;
using test::RunOptions;
using test::RunResult;
using test::escaped;

template <class Target>
void check_program(const Row& row, const RunOptions& opt) {
  const Expected want = row.expect();
  std::vector<std::uint8_t> elf;
  try {
    elf = crumble::executable<Target>(row.make());
  } catch (const crumble::compile_error& e) {
    FAIL("crumble rejected " << row.name << ": " << e.what());
  }
  const RunResult got = run_elf(elf, opt);
  INFO("program " << row.name << " (" << elf.size() << " bytes of ELF): " << got.describe());
  REQUIRE(got.error.empty());
  CHECK(escaped(got.out) == escaped(want.out));
  CHECK(got.exited);
  CHECK(got.status == want.status);
}

// AMD64 programs run natively on an x86-64 host.
inline RunOptions amd64_options() {
#if defined(__x86_64__)
  return RunOptions{};
#else
  return RunOptions{{"qemu-x86_64"}};
#endif
}

}  // namespace crumble::corpus

#define CRUMBLE_CORPUS_FOREIGN_CASE(target, emulator, name)                                                      \
  TEST_CASE("corpus/" #target ": " #name, "[corpus][" #target "]") {                                           \
    crumble::corpus::check_program<crumble::arch::target>(                                                        \
        crumble::corpus::Row{#name, &crumble::corpus::name, &crumble::corpus::name##_expected},                 \
        crumble::corpus::emulated(emulator));                                                                   \
  }
#define CRUMBLE_CORPUS_ARM64_CASE(name) CRUMBLE_CORPUS_FOREIGN_CASE(arm64, "qemu-aarch64", name)
#define CRUMBLE_CORPUS_RISCV64_CASE(name) CRUMBLE_CORPUS_FOREIGN_CASE(riscv64, "qemu-riscv64", name)
CRUMBLE_CORPUS(CRUMBLE_CORPUS_ARM64_CASE)
CRUMBLE_CORPUS(CRUMBLE_CORPUS_RISCV64_CASE)

#define CRUMBLE_CORPUS_AMD64_CASE(name)                                                                          \
  TEST_CASE("corpus/amd64: " #name, "[corpus][amd64]") {                                                        \
    crumble::corpus::check_program<crumble::arch::amd64>(                                                       \
        crumble::corpus::Row{#name, &crumble::corpus::name, &crumble::corpus::name##_expected},                 \
        crumble::corpus::amd64_options());                                                                      \
  }
CRUMBLE_CORPUS(CRUMBLE_CORPUS_AMD64_CASE)

TEST_CASE("corpus: table", "[corpus]") {
  const auto& rows = crumble::corpus::rows();
  std::set<std::string_view> names;
  for (const auto& r : rows) CHECK(names.insert(r.name).second);
  CHECK(rows.size() >= 45);
}

// The runner itself: a hanging program is killed at the limit, a crash is reported as a signal.
TEST_CASE("corpus runner: kills a program that runs past its limit", "[corpus][runner]") {
  using namespace crumble::ir;
  Program hang{{Function{"main", {}, {While{IsZero{Int64{0}}, {}}, Return{0}}}}};
  auto opt = crumble::corpus::amd64_options();
  opt.timeout_ms = 300;
  auto r = crumble::corpus::run_elf(crumble::executable<crumble::arch::amd64>(hang), opt);
  INFO(r.describe());
  CHECK(r.error.empty());
  CHECK(r.timed_out);
  CHECK_FALSE(r.exited);
}

TEST_CASE("corpus runner: reports a program killed by a signal", "[corpus][runner]") {
  using namespace crumble::ir;
  Program crash{{Function{"main", {}, {Printf{"%s\n", {cstr("before")}}, Return{load(Int64{0}, 0, 64)}}}}};
  auto r = crumble::corpus::run_elf(crumble::executable<crumble::arch::amd64>(crash), crumble::corpus::amd64_options());
  INFO(r.describe());
  CHECK(r.error.empty());
  CHECK_FALSE(r.timed_out);
  CHECK_FALSE(r.exited);
  CHECK(r.signal == SIGSEGV);
  CHECK(r.out == "before\n");
}
