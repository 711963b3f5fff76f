// SPDX-License-Identifier: Apache-2.0
// tests/rtg/header_test.cpp — the C++ headers crumble-rtg writes rebuild the program exactly.
//
// Every corpus program is translated twice: at build time by crumble_add_rtg into a header
// (corpus_headers.hpp includes them all), and here at run time by the front end. Both IR
// programs must assemble to the same bytes on every architecture. The samples are also
// assembled in constant evaluation from their headers, as a user of crumble_add_rtg would, and
// must equal the run-time result byte for byte.
#include <catch2/catch.hpp>
#include <crumble/crumble.hpp>

#include "corpus_headers.hpp"
#include "rtg_sample_hello.hpp"
#include "rtg_sample_hello_arm64.hpp"
#include "rtg_sample_init_demo.hpp"
#include <crumble/rtg/translate.hpp>

namespace {

template <class Target>
void same_bytes(const crumble::ir::Program& from_header, const std::string& file, const crumble::rtg::Options& opt) {
  crumble::rtg::Translation t = crumble::rtg::translate_file(file, opt);
  CHECK(crumble::executable<Target>(from_header) == crumble::executable<Target>(t.program));
}

}  // namespace

#define CRUMBLE_RTG_HEADER_CASE(name)                                                                       \
  TEST_CASE("rtg header: " #name, "[rtg][header]") {                                                        \
    const std::string file = CRUMBLE_RTG_CORPUS_DIR "/" #name ".go";                                      \
    const crumble::ir::Program p = crumble::rtg::corpus::name();                                           \
    same_bytes<crumble::arch::amd64>(p, file, {});                                                         \
  }
CRUMBLE_RTG_HEADER_PROGRAMS(CRUMBLE_RTG_HEADER_CASE)

namespace {
constexpr auto hello_amd64 = crumble::executable<crumble::arch::amd64>([] { return crumble::rtg::samples::hello(); });
constexpr auto hello_arm64 = crumble::executable<crumble::arch::arm64>([] { return crumble::rtg::samples::hello_arm64(); });
constexpr auto init_demo_payload = crumble::assemble<crumble::arch::riscv64>([] { return crumble::rtg::samples::init_demo(); });
// The same programs by function (NAME_by_function: each group of functions lowered in a constant
// expression of its own).
constexpr auto hello_amd64_by_function = crumble::executable<crumble::arch::amd64>(crumble::rtg::samples::hello_by_function{});
constexpr auto init_demo_by_function = crumble::assemble<crumble::arch::riscv64>(crumble::rtg::samples::init_demo_by_function{});
}  // namespace

TEST_CASE("rtg header: samples assemble at compile time to the run-time bytes", "[rtg][header][constexpr]") {
  const std::string dir = CRUMBLE_RTG_SAMPLES_DIR;
  auto rt_amd64 = crumble::executable<crumble::arch::amd64>(crumble::rtg::translate_file(dir + "/hello.go").program);
  CHECK(std::vector<std::uint8_t>(hello_amd64.begin(), hello_amd64.end()) == rt_amd64);

  auto rt_arm64 = crumble::executable<crumble::arch::arm64>(
      crumble::rtg::translate_file(dir + "/hello.go", {.arch = "arm64"}).program);
  CHECK(std::vector<std::uint8_t>(hello_arm64.begin(), hello_arm64.end()) == rt_arm64);

  crumble::rtg::Options opt{.arch = "amd64", .defines = {"VERBOSE"}, .config = {{"mailbox", "0xf0000000"}, {"mailbox_size", "4096"}}};
  auto payload = crumble::assemble<crumble::arch::riscv64>(crumble::rtg::translate_file(dir + "/init_demo.go", opt).program);
  CHECK(std::vector<std::uint8_t>(init_demo_payload.bytes.begin(), init_demo_payload.bytes.end()) == payload.bytes);
  CHECK(init_demo_payload.entry == payload.entry);

  CHECK(std::vector<std::uint8_t>(hello_amd64_by_function.begin(), hello_amd64_by_function.end()) == rt_amd64);
  CHECK(std::vector<std::uint8_t>(init_demo_by_function.bytes.begin(), init_demo_by_function.bytes.end()) == payload.bytes);
  CHECK(std::vector<std::uint32_t>(init_demo_by_function.relocs.begin(), init_demo_by_function.relocs.end()) == payload.relocs);
  CHECK(init_demo_by_function.entry == payload.entry);
}
