// SPDX-License-Identifier: Apache-2.0
// See init_elf.hpp. The bytes are made while this file compiles (crumble::executable in constant
// evaluation), from headers make_init generates at build time.
#include "init_elf.hpp"

#include <crumble/crumble.hpp>

#include "crumble_init.hpp"
#include "crumble_init_fail6.hpp"

namespace crumble::vm {
namespace {
constexpr auto init = crumble::executable<crumble::arch::amd64>([] { return generated::init_program(); });
constexpr auto failing = crumble::executable<crumble::arch::amd64>([] { return generated::init_program_failing_phase_6(); });
}  // namespace

std::span<const std::uint8_t> init_elf() { return init; }
std::span<const std::uint8_t> init_elf_failing_phase_6() { return failing; }
}  // namespace crumble::vm
