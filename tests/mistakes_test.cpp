// SPDX-License-Identifier: Apache-2.0
// Each mistake is reported at run time as crumble::compile_error with its errc and a message
// that names the offending thing.
#include <catch2/catch.hpp>

#include "mistakes.hpp"

using crumble::compile_error;

TEST_CASE("mistakes are reported at run time with a typed error") {
  for (const auto& row : crumble::test::mistakes::rows) {
    DYNAMIC_SECTION(row.name) {
      auto program = row.make();
      try {
        crumble::assemble<crumble::arch::amd64>(program);
        FAIL("no error for " << row.name);
      } catch (const compile_error& e) {
        CHECK(e.code() == row.code);
        CHECK(std::string(e.what()).rfind(std::string(crumble::to_string(row.code)), 0) == 0);
      }
    }
  }
}

TEST_CASE("messages name the offending item and function") {
  auto program = crumble::test::mistakes::undefined_variable();
  CHECK_THROWS_WITH(crumble::assemble<crumble::arch::amd64>(program),
                    "undefined variable: 'ghost' in main");
  auto labels = crumble::test::mistakes::undefined_label();
  CHECK_THROWS_WITH(crumble::assemble<crumble::arch::amd64>(labels), "undefined label: 'nowhere' in main");
}

TEST_CASE("ARM64 and RISC-V reject the syscalls the generic Linux table lacks, by name") {
  using namespace crumble::ir;
  for (Sys s : {Sys::open, Sys::dup2, Sys::fork, Sys::mkdir, Sys::mknod}) {
    Program p{{Function{"main", {}, {Return{syscall(s, {})}}}}};
    std::string name(crumble::ir::name(s));
    CHECK_THROWS_WITH(crumble::assemble<crumble::arch::arm64>(p),
                      "syscall not available on this architecture: '" + name + "' in arm64");
    CHECK_THROWS_WITH(crumble::assemble<crumble::arch::riscv64>(p),
                      "syscall not available on this architecture: '" + name + "' in riscv64");
    CHECK_NOTHROW(crumble::assemble<crumble::arch::amd64>(p));
  }
}
