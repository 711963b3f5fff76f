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

// 16 arguments and parameters are taken on every target (past the registers, on the stack); 17
// are refused, naming the callee and the caller, or the function.
TEST_CASE("calls and functions take 16 arguments, not 17, on every target") {
  using namespace crumble::ir;
  auto program = [](std::size_t args, std::size_t params) {
    static constexpr std::string_view names[17] = {"a", "b", "c", "d", "e", "f", "g", "h", "i",
                                                   "j", "k", "l", "m", "n", "o", "p", "q"};
    return Program{{Function{"main", {}, {Return{call("f", std::vector<Expr>(args, Expr{1}))}}},
                    Function{"f", std::vector<std::string_view>(names, names + params), {Return{7}}}}};
  };
  auto each_target = [](const Program& p, auto check) {
    check([&] { crumble::assemble<crumble::arch::amd64>(p); });
    check([&] { crumble::assemble<crumble::arch::arm64>(p); });
    check([&] { crumble::assemble<crumble::arch::riscv64>(p); });
  };
  each_target(program(16, 16), [](auto assemble) { CHECK_NOTHROW(assemble()); });
  each_target(program(17, 16), [](auto assemble) {
    CHECK_THROWS_WITH(assemble(), "a call or function takes at most 16 arguments: 'f' in main");
  });
  each_target(program(16, 17), [](auto assemble) {
    CHECK_THROWS_WITH(assemble(), "a call or function takes at most 16 arguments: 'f'");
  });
}
