// SPDX-License-Identifier: Apache-2.0
// tests/vm/guest_skip.hpp — what the tests that boot Linux need, and what they measure: the cached
// guest kernel and QEMU (without either the test is skipped, exit 4, with the reason, never
// passed), and this process's resident set.
#pragma once

#include <crumble/vm/guest/kernel.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>

namespace crumble::test {

// The cached kernel; the test is skipped without it or without qemu-system-x86_64.
inline crumble::vm::GuestKernel guest_kernel_or_skip() {
  std::optional<crumble::vm::GuestKernel> k;
  try {
    k = crumble::vm::cached_kernel();
  } catch (const std::exception&) {
  }
  if (!k) {
    std::cout << "SKIPPED: no cached kernel (run `crumble kernel fetch`)\n";
    std::exit(4);
  }
  if (std::system("command -v qemu-system-x86_64 > /dev/null 2>&1") != 0) {
    std::cout << "SKIPPED: qemu-system-x86_64 not found (apt-get install qemu-system-x86)\n";
    std::exit(4);
  }
  return *k;
}

// The resident set of this process now, from /proc/self/statm (bytes).
inline std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  unsigned long pages = 0, resident = 0;
  if (f) {
    if (std::fscanf(f, "%lu %lu", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace crumble::test
