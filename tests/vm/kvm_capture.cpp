// SPDX-License-Identifier: Apache-2.0
// tests/vm/kvm_capture.cpp — records what this host's KVM offers guests, for the test data in
// tests/vm/data/kvm/ (cpuid_test.cpp reads it): KVM_GET_SUPPORTED_CPUID as "cpuid" lines and
// KVM_GET_MSR_INDEX_LIST as "msr" lines, with the host's CPU and kernel in comments. A part KVM
// refuses is written as a comment saying so; with `--host-cpuid` the CPUID is the host's own
// (kvm::System::host_cpuid), which is also how the CPUID of another CPU model is recorded under
// qemu-x86_64 -cpu MODEL.
//
//   vm_kvm_capture > tests/vm/data/kvm/NAME.txt
//   qemu-x86_64 -cpu Icelake-Server vm_kvm_capture --host-cpuid > tests/vm/data/kvm/NAME.txt
#include <sys/utsname.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <crumble/vm/engine/kvm/cpuid.hpp>
#include <crumble/vm/engine/kvm/kvm.hpp>

namespace kvm = crumble::vm::kvm;

int main(int argc, char** argv) {
  const bool host = argc > 1 && std::strcmp(argv[1], "--host-cpuid") == 0;
  utsname u{};
  ::uname(&u);
  char model[49] = {};
  for (unsigned i = 0; i < 3; ++i) {
    unsigned r[4];
    __cpuid(0x80000002 + i, r[0], r[1], r[2], r[3]);
    std::memcpy(model + 16 * i, r, 16);
  }
  std::printf("# captured by tests/vm/kvm_capture.cpp\n# cpu: %s\n# kernel: %s %s\n", model, u.sysname, u.release);
  std::printf("# format: cpuid FUNCTION INDEX FLAGS EAX EBX ECX EDX | msr INDEX (hex)\n");
  std::vector<std::uint8_t> table;
  if (host) {
    std::printf("# cpuid: the host's own (CPUID instruction), not KVM_GET_SUPPORTED_CPUID\n");
    table = kvm::System::host_cpuid();
  } else {
    try {
      kvm::System sys;
      std::vector<std::uint8_t> probe(kvm::abi::cpuid2_header + 256 * sizeof(kvm_cpuid_entry2));
      const std::uint32_t room = 256;
      std::memcpy(probe.data(), &room, 4);
      if (::ioctl(sys.fd(), kvm::abi::get_supported_cpuid, probe.data()) < 0 && errno == EINVAL)
        std::printf("# cpuid: KVM_GET_SUPPORTED_CPUID refused (EINVAL); none recorded\n");
      else {
        std::printf("# cpuid: KVM_GET_SUPPORTED_CPUID\n");
        table = sys.supported_cpuid();
      }
      std::vector<std::uint32_t> list(1, 0);
      if (::ioctl(sys.fd(), kvm::abi::get_msr_index_list, list.data()) < 0 && errno == E2BIG) {
        list.resize(1 + list[0]);
        if (::ioctl(sys.fd(), kvm::abi::get_msr_index_list, list.data()) == 0) {
          std::printf("# msrs: KVM_GET_MSR_INDEX_LIST, %u entries, in KVM's order\n", list[0]);
          for (std::uint32_t i = 1; i <= list[0]; ++i) std::printf("msr %x\n", list[i]);
        }
      } else {
        std::printf("# msrs: KVM_GET_MSR_INDEX_LIST refused (%s)\n", std::strerror(errno));
      }
    } catch (const std::exception& e) {
      std::printf("# kvm: %s\n", e.what());
    }
  }
  if (!table.empty())
    for (const kvm_cpuid_entry2& e : kvm::cpuid::entries(table))
      std::printf("cpuid %x %x %x %08x %08x %08x %08x\n", e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx);
  return 0;
}
