// SPDX-License-Identifier: Apache-2.0
// real_init.cpp -- the guest init, as crumble-rtg translates it (init_program_by_function in
// crumble_init.hpp, found on the include path), made into an executable in constant evaluation,
// the way a consumer's `constexpr auto exe = crumble::executable<Target>(P{})` does.
// compile_time_init.sh compiles this file against two inits: today's rtg/init/init.go and the
// frozen init_2026-12-04.go. Like init500.cpp, only the chosen target's headers are included.
//
//   CRUMBLE_CT_MODE=0  the headers and the program text, nothing evaluated (the baseline)
//   CRUMBLE_CT_MODE=2  the executable, in constant evaluation
//   CRUMBLE_CT_MAIN    a program that prints the init's size and checks the constant-evaluated
//                      executable against the one the same lowering makes at run time
#ifndef CRUMBLE_CT_ARCH
#define CRUMBLE_CT_ARCH amd64
#endif
#ifndef CRUMBLE_CT_MODE
#define CRUMBLE_CT_MODE 2
#endif
#if CRUMBLE_CT_MODE != 0 && CRUMBLE_CT_MODE != 2
#error "real_init.cpp: CRUMBLE_CT_MODE is 0 (the baseline) or 2 (the executable)"
#endif
#define CRUMBLE_CT_STR_(x) #x
#define CRUMBLE_CT_STR(x) CRUMBLE_CT_STR_(x)
#include CRUMBLE_CT_STR(crumble/arch/CRUMBLE_CT_ARCH/target.hpp)
#include <crumble/assemble.hpp>
#include "crumble_init.hpp"

using Init = crumble::vm::generated::init_program_by_function;

#if CRUMBLE_CT_MODE == 2
constexpr auto init_executable = crumble::executable<crumble::arch::CRUMBLE_CT_ARCH>(Init{});
static_assert(init_executable.size() > 0);
#endif

#ifdef CRUMBLE_CT_MAIN
#include <crumble/ir/program_size.hpp>

#include <algorithm>
#include <cstdio>

int main() {
  const crumble::ir::Program p = crumble::vm::generated::init_program();
  const auto size = crumble::ir::program_size(p);
  const auto exe = crumble::executable<crumble::arch::CRUMBLE_CT_ARCH>(p);
  std::printf("%zu IR nodes, %zu functions, %zu executable bytes\n", size.nodes, size.functions, exe.size());
#if CRUMBLE_CT_MODE == 2
  const bool same = std::equal(exe.begin(), exe.end(), init_executable.begin(), init_executable.end());
  std::printf("constexpr executable %s the run-time one\n", same ? "equals" : "DIFFERS FROM");
  return same ? 0 : 1;
#endif
}
#endif
