// SPDX-License-Identifier: Apache-2.0
// See init_elf.hpp. The bytes are made while this file compiles (crumble::executable in constant
// evaluation), from headers make_init generates at build time.
#include "init_elf.hpp"

// The init runs on amd64 only: its headers alone (crumble.hpp adds two targets, ~0.4 s and ~35 MB).
#include <crumble/arch/amd64/target.hpp>
#include <crumble/assemble.hpp>

#include "crumble_init.hpp"
#include "crumble_init_fail6.hpp"

// Each init by function (whole, one init needs 2.4 M Clang steps, over its default of ~1 M), then
// the function that returns it. GCC frees what constant evaluation left behind (most of its peak
// memory) only when it finishes a function definition, so the function between the two inits
// keeps the first's garbage out of the second's peak: 689 -> 445 MB (bench/README §3).
namespace crumble::vm {
namespace {
constexpr auto init = crumble::executable<crumble::arch::amd64>(generated::init_program_by_function{});
}  // namespace

std::span<const std::uint8_t> init_elf() { return init; }

namespace {
constexpr auto failing = crumble::executable<crumble::arch::amd64>(generated::init_program_failing_phase_6_by_function{});
}  // namespace

std::span<const std::uint8_t> init_elf_failing_phase_6() { return failing; }
}  // namespace crumble::vm
