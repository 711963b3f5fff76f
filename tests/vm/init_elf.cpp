// SPDX-License-Identifier: Apache-2.0
// See init_elf.hpp. The bytes are made while this file compiles (crumble::executable in constant
// evaluation), from headers make_init generates at build time.
#include "init_elf.hpp"

#include <crumble/crumble.hpp>

#include "crumble_init.hpp"
#include "crumble_init_fail6.hpp"

namespace crumble::vm {
namespace {
// By function (crumble/assemble.hpp): a few functions per constant expression, so both compilers'
// default limits suffice; whole, the init takes Clang 2.4 M steps of its 1 M default.
constexpr auto init = crumble::executable<crumble::arch::amd64>(generated::init_program_by_function{});
constexpr auto failing = crumble::executable<crumble::arch::amd64>(generated::init_program_failing_phase_6_by_function{});
}  // namespace

std::span<const std::uint8_t> init_elf() { return init; }
std::span<const std::uint8_t> init_elf_failing_phase_6() { return failing; }
}  // namespace crumble::vm
