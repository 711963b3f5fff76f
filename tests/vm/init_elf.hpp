// SPDX-License-Identifier: Apache-2.0
// tests/vm/init_elf.hpp — the guest init assembled in constant evaluation (init_elf.cpp) from
// rtg/init/init.go: the oracle for the package's default init, which make_init assembles at build
// time (the bytes must be the same); and the same init made to fail phase 6, for tests.
#pragma once

#include <cstdint>
#include <span>

namespace crumble::vm {
std::span<const std::uint8_t> init_elf();
std::span<const std::uint8_t> init_elf_failing_phase_6();
}  // namespace crumble::vm
