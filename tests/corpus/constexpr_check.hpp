// tests/corpus/constexpr_check.hpp — the compile-time half of the corpus tests.
//
// For a corpus program, crumble::executable<amd64>([] { return NAME(); }) runs entirely in
// constant evaluation; the test asserts its bytes equal the run-time result. The corpus is split
// over several translation units (constexpr_test_1..4.cpp, one part each) because every program
// costs seconds of compiler time.
#pragma once

#include <catch2/catch.hpp>
#include <crumble/crumble.hpp>

#include <algorithm>
#include <array>
#include <string_view>

#include "corpus.hpp"

namespace crumble::corpus {

// Programs kept out of the constexpr tests, by name: a program crumble rejects (a known bug)
// would be a compile error here rather than one failing test, so list it until it assembles at
// run time again (its corpus_test case keeps failing meanwhile). Empty: every program is in.
inline constexpr std::array<std::string_view, 0> not_constexpr{};
constexpr bool constexpr_enabled(std::string_view name) {
  return std::find(not_constexpr.begin(), not_constexpr.end(), name) == not_constexpr.end();
}

template <bool Enabled, class Make>
void check_constexpr(std::string_view name, Make make) {
  if constexpr (Enabled) {
    static constexpr auto bytes = crumble::executable<crumble::arch::amd64>(Make{});
    const std::vector<std::uint8_t> runtime = crumble::executable<crumble::arch::amd64>(make());
    INFO(name << ": " << bytes.size() << " bytes at compile time, " << runtime.size() << " at run time");
    CHECK(bytes.size() == runtime.size());
    CHECK(std::equal(bytes.begin(), bytes.end(), runtime.begin(), runtime.end()));
  } else {
    WARN(name << " is left out of the constexpr test (see not_constexpr in constexpr_check.hpp)");
  }
}

}  // namespace crumble::corpus

#define CRUMBLE_CORPUS_CONSTEXPR_CASE(name)                                                                  \
  TEST_CASE("corpus/constexpr/amd64: " #name, "[corpus][constexpr][amd64]") {                               \
    crumble::corpus::check_constexpr<crumble::corpus::constexpr_enabled(#name)>(                            \
        #name, [] { return crumble::corpus::name(); });                                                     \
  }
