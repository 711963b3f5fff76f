// SPDX-License-Identifier: Apache-2.0
// The guest's init as a static AMD64 executable, assembled at compile time (init_elf.cpp) from
// rtg/init/init.go. init_elf_failing(6) is the same init made to fail phase 6, for tests.
#pragma once

#include <cstdint>
#include <span>

namespace crumble::vm {
std::span<const std::uint8_t> init_elf();
std::span<const std::uint8_t> init_elf_failing_phase_6();
}  // namespace crumble::vm
