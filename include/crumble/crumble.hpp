// SPDX-License-Identifier: Apache-2.0
// crumble/crumble.hpp — everything needed to build IR programs and assemble them.
#pragma once

#include "arch/amd64/target.hpp"
#include "arch/arm64/target.hpp"
#include "arch/riscv64/target.hpp"
#include "assemble.hpp"
#include "ir/build.hpp"
#include "ir/nodes.hpp"
