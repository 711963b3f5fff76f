/* SPDX-License-Identifier: Apache-2.0 */
/* tests/vm/kvm_abi_c.c — the oracle for engine/kvm/abi.hpp: what a C compiler makes of
 * <linux/kvm.h>, which is what the kernel was built with. Compiled as C (an empty struct has size
 * 0 there), the request numbers and offsets below are the kernel's; kvm_abi_test.cpp compares
 * abi.hpp's with them. */
#include <linux/kvm.h>
#include <stddef.h>

const unsigned long crumble_c_get_msr_index_list = KVM_GET_MSR_INDEX_LIST;
const unsigned long crumble_c_get_supported_cpuid = KVM_GET_SUPPORTED_CPUID;
const unsigned long crumble_c_get_msrs = KVM_GET_MSRS;
const unsigned long crumble_c_set_msrs = KVM_SET_MSRS;
const unsigned long crumble_c_set_cpuid2 = KVM_SET_CPUID2;
const unsigned long crumble_c_get_cpuid2 = KVM_GET_CPUID2;
const unsigned long crumble_c_get_xsave = KVM_GET_XSAVE;
const unsigned long crumble_c_set_xsave = KVM_SET_XSAVE;
const unsigned long crumble_c_get_xsave2 = KVM_GET_XSAVE2;

const unsigned long crumble_c_cpuid2_entries = offsetof(struct kvm_cpuid2, entries);
const unsigned long crumble_c_msrs_entries = offsetof(struct kvm_msrs, entries);
const unsigned long crumble_c_msr_list_indices = offsetof(struct kvm_msr_list, indices);
const unsigned long crumble_c_xsave_size = sizeof(struct kvm_xsave);
