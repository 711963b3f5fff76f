// SPDX-License-Identifier: Apache-2.0
// rtg_bench — how long the RTG front end takes (spec: "RTG compilation ~10 ms"; our target:
// under 2 ms for an init program's source).
//
//   translate/<file>        source text -> ir::Program (lex, parse, type-check, fold)
//   to_elf_amd64/<file>     the same, then lowered and encoded into a static AMD64 executable
//   emit_header/<file>      the same translation, then printed as the C++ header crumble_add_rtg writes
//
// Files: the init-shaped sample (examples/rtg/init_demo.go) and the largest corpus program
// (tests/rtg/corpus/compare_imm.go, 545 lines). The source is read once, outside the timing.
#include <benchmark/benchmark.h>
#include <crumble/crumble.hpp>

#include <fstream>
#include <sstream>

#include <crumble/rtg/emit_cpp.hpp>
#include <crumble/rtg/translate.hpp>

namespace {

struct Input {
  const char* name;
  std::string path;
  crumble::rtg::Options options;
};

const Input inputs[] = {
    {"init_demo", CRUMBLE_SOURCE_DIR "/examples/rtg/init_demo.go",
     {.arch = "amd64", .defines = {"VERBOSE"}, .config = {{"mailbox", "0xf0000000"}, {"mailbox_size", "4096"}}}},
    {"compare_imm", CRUMBLE_SOURCE_DIR "/tests/rtg/corpus/compare_imm.go", {}},
};

crumble::rtg::Source load(const Input& in) {
  std::ifstream f(in.path);
  std::ostringstream s;
  s << f.rdbuf();
  if (s.str().empty()) throw std::runtime_error("cannot read " + in.path);
  return {in.path, s.str()};
}

void translate(benchmark::State& state, const Input& in) {
  const auto src = load(in);
  for (auto _ : state) {
    auto t = crumble::rtg::translate(src, in.options);
    benchmark::DoNotOptimize(t.program.functions.data());
  }
  state.counters["lines"] = static_cast<double>(std::count(src.text.begin(), src.text.end(), '\n'));
  state.counters["bytes/s"] = benchmark::Counter(static_cast<double>(src.text.size()), benchmark::Counter::kIsIterationInvariantRate);
}

void to_elf(benchmark::State& state, const Input& in) {
  const auto src = load(in);
  std::size_t size = 0;
  for (auto _ : state) {
    auto t = crumble::rtg::translate(src, in.options);
    auto elf = crumble::executable<crumble::arch::amd64>(t.program);
    size = elf.size();
    benchmark::DoNotOptimize(elf.data());
  }
  state.counters["elf_bytes"] = static_cast<double>(size);
}

void emit_header(benchmark::State& state, const Input& in) {
  const auto src = load(in);
  for (auto _ : state) {
    auto t = crumble::rtg::translate(src, in.options);
    auto text = crumble::rtg::emit_cpp(t.program, {});
    benchmark::DoNotOptimize(text.data());
  }
}

const bool registered = [] {
  for (const Input& in : inputs) {
    benchmark::RegisterBenchmark((std::string("translate/") + in.name).c_str(), translate, in)->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark((std::string("to_elf_amd64/") + in.name).c_str(), to_elf, in)->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark((std::string("emit_header/") + in.name).c_str(), emit_header, in)->Unit(benchmark::kMicrosecond);
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
