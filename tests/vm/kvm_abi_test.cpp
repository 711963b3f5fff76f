// SPDX-License-Identifier: Apache-2.0
// tests/vm/kvm_abi_test.cpp — engine/kvm/abi.hpp against a C compiler's reading of <linux/kvm.h>
// (kvm_abi_c.c): every request number whose size field encodes a variable-length structure, and
// where each structure's array starts, must be the kernel's. The C++ reading of the same header
// is printed beside them: with Linux 6.1's headers it differs (the empty struct of
// __DECLARE_FLEX_ARRAY is 1 byte in C++), which is why abi.hpp exists.
#include <catch2/catch.hpp>
#include <crumble/vm/engine/kvm/abi.hpp>

#include <cstddef>
#include <cstdio>

extern "C" {
extern const unsigned long crumble_c_get_msr_index_list, crumble_c_get_supported_cpuid, crumble_c_get_msrs, crumble_c_set_msrs,
    crumble_c_set_cpuid2, crumble_c_get_cpuid2, crumble_c_get_xsave, crumble_c_set_xsave, crumble_c_get_xsave2;
extern const unsigned long crumble_c_cpuid2_entries, crumble_c_msrs_entries, crumble_c_msr_list_indices, crumble_c_xsave_size;
}

namespace abi = crumble::vm::kvm::abi;

TEST_CASE("kvm abi: the request numbers are the kernel's, as C spells them", "[vm][kvm][abi]") {
  struct Row {
    const char* name;
    unsigned long ours, c, cxx_header;
  };
  for (const Row& r : {Row{"KVM_GET_MSR_INDEX_LIST", abi::get_msr_index_list, crumble_c_get_msr_index_list, KVM_GET_MSR_INDEX_LIST},
                       Row{"KVM_GET_SUPPORTED_CPUID", abi::get_supported_cpuid, crumble_c_get_supported_cpuid, KVM_GET_SUPPORTED_CPUID},
                       Row{"KVM_GET_MSRS", abi::get_msrs, crumble_c_get_msrs, KVM_GET_MSRS},
                       Row{"KVM_SET_MSRS", abi::set_msrs, crumble_c_set_msrs, KVM_SET_MSRS},
                       Row{"KVM_SET_CPUID2", abi::set_cpuid2, crumble_c_set_cpuid2, KVM_SET_CPUID2},
                       Row{"KVM_GET_CPUID2", abi::get_cpuid2, crumble_c_get_cpuid2, KVM_GET_CPUID2},
                       Row{"KVM_GET_XSAVE", abi::get_xsave, crumble_c_get_xsave, KVM_GET_XSAVE},
                       Row{"KVM_SET_XSAVE", abi::set_xsave, crumble_c_set_xsave, KVM_SET_XSAVE},
                       Row{"KVM_GET_XSAVE2", abi::get_xsave2, crumble_c_get_xsave2, KVM_GET_XSAVE2}}) {
    INFO(r.name);
    std::printf("%-24s abi.hpp %#lx  C %#lx  <linux/kvm.h> in C++ %#lx%s\n", r.name, r.ours, r.c, r.cxx_header,
                r.cxx_header == r.c ? "" : "  (wrong)");
    CHECK(r.ours == r.c);
  }
}

TEST_CASE("kvm abi: each structure's array starts where the kernel puts it", "[vm][kvm][abi]") {
  struct Row {
    const char* name;
    std::size_t ours;
    unsigned long c;
  };
  for (const Row& r : {Row{"kvm_cpuid2.entries", abi::cpuid2_header, crumble_c_cpuid2_entries},
                       Row{"kvm_msrs.entries", abi::msrs_header, crumble_c_msrs_entries},
                       Row{"kvm_msr_list.indices", abi::msr_list_header, crumble_c_msr_list_indices},
                       Row{"sizeof(kvm_xsave)", abi::xsave_size, crumble_c_xsave_size}}) {
    INFO(r.name);
    CHECK(r.ours == r.c);
  }
  // MsrBuffer lays out a kvm_msrs as the kernel reads it: the count, the padding, the entries.
  abi::MsrBuffer m(3);
  CHECK(m.bytes.size() == crumble_c_msrs_entries + 3 * sizeof(kvm_msr_entry));
  CHECK(reinterpret_cast<std::uint8_t*>(m.entries()) - m.bytes.data() == static_cast<std::ptrdiff_t>(crumble_c_msrs_entries));
  std::uint32_t n;
  __builtin_memcpy(&n, m.bytes.data(), 4);
  CHECK(n == 3);
}
