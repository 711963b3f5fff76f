// SPDX-License-Identifier: Apache-2.0
// tests/vm/kvm_skip.hpp — /dev/kvm for a test, opened once; without it the test is skipped
// (exit 4, which ctest counts as skipped) with the reason, never passed.
#pragma once

#include <crumble/vm/engine/kvm/kvm.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace crumble::test {

inline const crumble::vm::kvm::System& kvm_or_skip() {
  static std::unique_ptr<crumble::vm::kvm::System> sys = [] {
    try {
      return std::make_unique<crumble::vm::kvm::System>();
    } catch (const crumble::vm::kvm::KvmUnavailable& e) {
      std::printf("SKIPPED: %s\n", e.what());
      std::exit(4);
    }
  }();
  return *sys;
}

}  // namespace crumble::test
