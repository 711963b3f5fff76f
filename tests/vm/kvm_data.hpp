// SPDX-License-Identifier: Apache-2.0
// tests/vm/kvm_data.hpp — reads the recorded host tables in tests/vm/data/kvm/ (written by
// kvm_capture.cpp, or by hand from Linux's sources where no machine of ours has the host):
// "cpuid FUNCTION INDEX FLAGS EAX EBX ECX EDX" and "msr INDEX" lines, hex; '#' starts a comment.
#pragma once

#include <linux/kvm.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace crumble::test {

struct HostTables {
  std::vector<kvm_cpuid_entry2> cpuid;
  std::vector<std::uint32_t> msrs;
};

inline HostTables read_host_tables(const std::string& name) {
  const std::string path = std::string(CRUMBLE_SOURCE_DIR) + "/tests/vm/data/kvm/" + name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  HostTables t;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string kind;
    l >> kind;
    l >> std::hex;
    if (kind == "cpuid") {
      kvm_cpuid_entry2 e{};
      l >> e.function >> e.index >> e.flags >> e.eax >> e.ebx >> e.ecx >> e.edx;
      if (!l) throw std::runtime_error(path + ": bad line: " + line);
      t.cpuid.push_back(e);
    } else if (kind == "msr") {
      std::uint32_t i;
      l >> i;
      if (!l) throw std::runtime_error(path + ": bad line: " + line);
      t.msrs.push_back(i);
    }
  }
  return t;
}

}  // namespace crumble::test
