// SPDX-License-Identifier: Apache-2.0
// tests/rtg/difftest_test.cpp — differential testing of crumble-rtg against the Go toolchain.
//
// Random well-typed programs (program_generator.hpp) are built by Go 1.19 with its optimiser
// off (go_oracle.hpp) and translated by the RTG front end for AMD64, ARM64 and RISC-V; each
// translation runs (AMD64 natively, the others under qemu-user) and must print exactly what
// the Go binary prints and exit with the same status. A program Go or RTG refuses is a failure
// too: the generator promises programs valid in both.
//
// ctest runs a fixed set of seeds. scripts/rtg-difftest.sh runs many more through the same test
// with the environment:
//   CRUMBLE_RTG_DIFFTEST_SEEDS=FIRST:COUNT  the seeds (default 1:24)
//   CRUMBLE_RTG_DIFFTEST_KEEP=DIR           where each disagreeing program is written, with the outputs
// and it prints one line "difftest: N programs, S s, P programs/s, D disagreements" at the end.
#include <catch2/catch.hpp>
#include <crumble/crumble.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "../runner.hpp"
#include "go_oracle.hpp"
#include "program_generator.hpp"
#include <crumble/rtg/translate.hpp>

namespace {

using namespace crumble;

struct Seeds {
  std::uint64_t first = 1, count = 24;
};
Seeds seeds() {
  Seeds s;
  if (const char* e = std::getenv("CRUMBLE_RTG_DIFFTEST_SEEDS")) {
    std::string v = e;
    auto colon = v.find(':');
    s.first = std::stoull(v.substr(0, colon));
    if (colon != std::string::npos) s.count = std::stoull(v.substr(colon + 1));
  }
  return s;
}

// What one translation did, or why it did not run.
struct Outcome {
  std::string error;  // translation or assembly refused it
  test::RunResult run;
};

template <class Target>
Outcome rtg_run(const std::string& source, const char* arch, const test::RunOptions& options) {
  Outcome o;
  try {
    o.run = test::run_elf(executable<Target>(rtg::translate({"difftest.go", source}, {.arch = arch}).program), options);
  } catch (const std::exception& e) {
    o.error = e.what();
  }
  return o;
}

std::string first_difference(const std::string& a, const std::string& b) {
  std::size_t line = 1, at = 0;
  while (at < a.size() && at < b.size() && a[at] == b[at]) line += a[at++] == '\n';
  auto line_of = [&](const std::string& s) {
    std::size_t start = s.rfind('\n', at ? at - 1 : 0);
    start = start == std::string::npos || at == 0 ? 0 : start + 1;
    return test::escaped(s.substr(start, s.find('\n', at) - start));
  };
  return "line " + std::to_string(line) + ":\n  go:  " + line_of(a) + "\n  rtg: " + line_of(b);
}

void keep(const std::string& dir, std::uint64_t seed, const std::string& source, const std::string& report) {
  if (dir.empty()) return;
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/seed-" + std::to_string(seed) + ".go") << source;
  std::ofstream(dir + "/seed-" + std::to_string(seed) + ".txt") << report;
}

}  // namespace

TEST_CASE("rtg difftest: the generator is deterministic per seed and reaches every feature", "[rtg][difftest]") {
  CHECK(rtg_test::ProgramGenerator(7).program() == rtg_test::ProgramGenerator(7).program());
  CHECK(rtg_test::ProgramGenerator(7).program() != rtg_test::ProgramGenerator(8).program());
  std::set<std::string> reached;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    rtg_test::ProgramGenerator g(seed);
    (void)g.program();
    reached.insert(g.features.begin(), g.features.end());
  }
  for (const char* f : {"op +", "op -", "op *", "op /", "op %", "op &", "op |", "op ^", "op &^", "op <<", "op >>",
                        "op ==", "op !=", "op <", "op <=", "op >", "op >=", "op &&", "op ||", "op !", "unary -",
                        "unary ^", "unary +", "conversion", "boundary constant", "untyped constant shifted at run time",
                        "call in expression", "call of a program function", "call statement", "buffer", "buffer read",
                        "buffer store", "buffer op=", "buffer byte in a tuple assignment", "tuple assignment",
                        "discarded value", ":=", "var x T = e", "declaration of two names", "local constant",
                        "const a, b = v, outer", "op=", "++/--", "if", "if with init", "else if", "for", "for condition with calls",
                        "break/continue", "goto", "block", "early return", "named result", "unnamed parameters",
                        "byte", "rune", "embedded bytes", "runtime.Load of embedded bytes"}) {
    INFO(f);
    CHECK(reached.count(f));
  }
}

TEST_CASE("rtg difftest: random programs do what Go does on amd64 and arm64 and riscv64", "[rtg][difftest][go]") {
  auto oracle = rtg_test::GoOracle::find(CRUMBLE_GO, CRUMBLE_RTG_GO_SHIM, CRUMBLE_RTG_GO_WORK);
  if (!oracle) {
    std::cout << "SKIPPED: the go toolchain is not installed (apt-get install golang-go; scripts/setup.sh does)\n";
    std::exit(4);
  }
#if defined(__x86_64__)
  const test::RunOptions amd64{};
#else
  const test::RunOptions amd64 = test::emulated("qemu-x86_64");
#endif
  const test::RunOptions arm64 = test::emulated("qemu-aarch64"), riscv64 = test::emulated("qemu-riscv64");
  const char* keep_env = std::getenv("CRUMBLE_RTG_DIFFTEST_KEEP");
  const std::string keep_dir = keep_env ? keep_env : "";
  const Seeds s = seeds();
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t disagreements = 0;
  constexpr std::uint64_t batch = 32;  // programs per go build
  for (std::uint64_t first = s.first; first < s.first + s.count; first += batch) {
    const std::uint64_t n = std::min(batch, s.first + s.count - first);
    std::vector<std::string> sources;
    for (std::uint64_t k = 0; k < n; ++k) sources.push_back(rtg_test::ProgramGenerator(first + k).program());
    const std::vector<rtg_test::GoResult> go = oracle->run(sources);
    for (std::uint64_t k = 0; k < n; ++k) {
      const std::uint64_t seed = first + k;
      const std::string& src = sources[k];
      INFO("seed " << seed << "\n" << src);
      std::string report;
      if (!go[k].built) {
        report = "Go refused the program:\n" + go[k].build_log;
      } else {
        const test::RunResult& want = go[k].run;
        struct Arch {
          const char* name;
          Outcome got;
        };
        const Arch archs[] = {{"amd64", rtg_run<arch::amd64>(src, "amd64", amd64)},
                              {"arm64", rtg_run<arch::arm64>(src, "arm64", arm64)},
                              {"riscv64", rtg_run<arch::riscv64>(src, "riscv64", riscv64)}};
        if (!want.exited) report += "the Go binary did not exit normally: " + want.describe() + "\n";
        for (const Arch& a : archs) {
          if (!a.got.error.empty()) report += std::string(a.name) + ": crumble-rtg refused it:\n" + a.got.error;
          else if (a.got.run.out != want.out) report += std::string(a.name) + ": output differs at " + first_difference(want.out, a.got.run.out) + "\n";
          else if (a.got.run.exited != want.exited || a.got.run.status != want.status)
            report += std::string(a.name) + ": " + a.got.run.describe() + ", Go's " + want.describe() + "\n";
        }
      }
      if (!report.empty()) {
        ++disagreements;
        keep(keep_dir, seed, src, report);
      }
      CHECK(report == "");
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "difftest: " << s.count << " programs, " << secs << " s, " << static_cast<double>(s.count) / secs
            << " programs/s, " << disagreements << " disagreements\n";
}
