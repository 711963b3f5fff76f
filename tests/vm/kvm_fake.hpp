// SPDX-License-Identifier: Apache-2.0
// tests/vm/kvm_fake.hpp — a fake KVM that records: a kvm::Api (engine/kvm/kvm.hpp) that answers the
// ioctls a VM set-up, save and restore make, keeps each call with its decoded argument in order,
// and plays a host: its supported CPUID, its MSR index list, the MSRs KVM_SET_MSRS refuses, and
// what KVM_RUN exits with. Descriptors are real ones (/dev/null) so that the engine's owners close
// them as usual; kvm_run is anonymous memory, unmapped by the vCPU as usual.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <crumble/vm/engine/kvm/kvm.hpp>

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace crumble::test {

namespace kvm = crumble::vm::kvm;

class FakeKvm final : public kvm::Api {
 public:
  struct Call {
    std::string object;     // "kvm", "vm", "vcpu0", ...
    std::string request;    // "KVM_SET_TSS_ADDR", ...
    std::uint64_t value;    // the decoded argument: an address, flags, an id; 0 when none
    std::vector<std::pair<std::uint32_t, std::uint64_t>> msrs;  // KVM_SET_MSRS: those sent
    std::vector<kvm_cpuid_entry2> cpuid;                         // KVM_SET_CPUID2: the table
    kvm_userspace_memory_region slot{};                          // KVM_SET_USER_MEMORY_REGION
  };

  // The host played.
  std::vector<kvm_cpuid_entry2> supported_cpuid;
  std::vector<std::uint32_t> msr_index_list;
  std::set<std::uint32_t> refused_on_set;   // KVM_SET_MSRS stops at the first of these
  std::map<std::uint32_t, std::uint64_t> msr_values;  // what KVM_GET_MSRS answers (0 otherwise)
  bool cpuid_refused = false;               // KVM_SET_CPUID2 answers EINVAL
  // KVM_RUN, per vCPU index: each call fills kvm_run with the next exit (then HLT for ever).
  std::map<int, std::deque<std::function<void(kvm_run&)>>> exits;

  std::vector<Call> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  void forget() {
    std::lock_guard lock(mu_);
    calls_.clear();
  }
  // The index of the first call of `request` on `object` ("" for any) after `from`; -1 if none.
  long find(const std::string& request, const std::string& object = "", long from = 0) const {
    std::lock_guard lock(mu_);
    for (std::size_t i = static_cast<std::size_t>(from); i < calls_.size(); ++i)
      if (calls_[i].request == request && (object.empty() || calls_[i].object == object)) return static_cast<long>(i);
    return -1;
  }
  // The kvm_run page of a vCPU, as the engine sees it.
  kvm_run* run_of(int vcpu) { return runs_.at(vcpu); }

  int open(const char*) override { return new_fd("kvm"); }

  void* map_run(int vcpu_fd, std::size_t size) override {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) runs_[vcpu_index(vcpu_fd)] = static_cast<kvm_run*>(p);
    return p;
  }

  int ioctl(int fd, unsigned long req, std::uintptr_t arg) override {
    void* p = reinterpret_cast<void*>(arg);
    const std::string object = object_of(fd);
    Call c{object, name(req), 0, {}, {}, {}};
    int result = 0;
    switch (req) {
      case KVM_GET_API_VERSION: result = KVM_API_VERSION; break;
      case KVM_CHECK_EXTENSION: c.value = arg; result = (arg == KVM_CAP_USER_MEMORY || arg == KVM_CAP_EXT_CPUID) ? 1 : 0; break;
      case KVM_GET_VCPU_MMAP_SIZE: result = 3 * 4096; break;
      case KVM_CREATE_VM: {
        result = new_fd("vm");
        std::lock_guard lock(mu_);
        irqchip_.erase(result);  // a new VM has no irqchip
        break;
      }
      case KVM_CREATE_VCPU: {
        c.value = arg;
        result = new_fd("vcpu" + std::to_string(arg));
        std::lock_guard lock(mu_);
        cpuid_of_.erase(result);  // a new vCPU has no CPUID, whatever the vCPU that had this descriptor before had
        break;
      }
      case KVM_SET_TSS_ADDR: c.value = arg; break;
      case KVM_CREATE_PIT2: c.value = static_cast<kvm_pit_config*>(p)->flags; break;
      case KVM_IRQ_LINE: {
        const auto* l = static_cast<kvm_irq_level*>(p);
        c.value = (std::uint64_t{l->irq} << 32) | l->level;
        break;
      }
      case KVM_SET_USER_MEMORY_REGION: c.slot = *static_cast<kvm_userspace_memory_region*>(p); break;
      case KVM_GET_TSC_KHZ: result = 2'000'000; break;
      case KVM_GET_IRQCHIP:
      case KVM_GET_PIT2:
        if (!has_irqchip(fd)) return fail(c, ENXIO);
        break;
      case KVM_CREATE_IRQCHIP: {
        std::lock_guard lock(mu_);
        irqchip_.insert(fd);
        break;
      }
      case kvm::abi::get_supported_cpuid: {
        std::uint32_t room;
        std::memcpy(&room, p, 4);
        if (room < supported_cpuid.size()) return fail(c, E2BIG);
        const auto n = static_cast<std::uint32_t>(supported_cpuid.size());
        std::memcpy(p, &n, 4);
        std::memcpy(static_cast<std::uint8_t*>(p) + kvm::abi::cpuid2_header, supported_cpuid.data(), n * sizeof(kvm_cpuid_entry2));
        break;
      }
      case kvm::abi::get_msr_index_list: {
        std::uint32_t room;
        std::memcpy(&room, p, 4);
        const auto n = static_cast<std::uint32_t>(msr_index_list.size());
        std::memcpy(p, &n, 4);
        if (room < n) return fail(c, E2BIG);
        std::memcpy(static_cast<std::uint8_t*>(p) + 4, msr_index_list.data(), n * 4);
        break;
      }
      case kvm::abi::set_cpuid2: {
        std::uint32_t n;
        std::memcpy(&n, p, 4);
        c.cpuid.resize(n);
        std::memcpy(c.cpuid.data(), static_cast<std::uint8_t*>(p) + kvm::abi::cpuid2_header, n * sizeof(kvm_cpuid_entry2));
        if (cpuid_refused) return fail(c, EINVAL);
        std::lock_guard lock(mu_);
        cpuid_of_[fd] = c.cpuid;
        break;
      }
      case kvm::abi::get_cpuid2: {  // what KVM_SET_CPUID2 set; a fresh vCPU has none
        std::vector<kvm_cpuid_entry2> t;
        {
          std::lock_guard lock(mu_);
          t = cpuid_of_[fd];
        }
        std::uint32_t room;
        std::memcpy(&room, p, 4);
        if (room < t.size()) return fail(c, E2BIG);
        const auto n = static_cast<std::uint32_t>(t.size());
        std::memcpy(p, &n, 4);
        std::memcpy(static_cast<std::uint8_t*>(p) + kvm::abi::cpuid2_header, t.data(), n * sizeof(kvm_cpuid_entry2));
        break;
      }
      case kvm::abi::get_msrs:
      case kvm::abi::set_msrs: {
        std::uint32_t n;
        std::memcpy(&n, p, 4);
        auto* e = reinterpret_cast<kvm_msr_entry*>(static_cast<std::uint8_t*>(p) + kvm::abi::msrs_header);
        std::uint32_t done = 0;
        for (; done < n; ++done) {
          if (req == kvm::abi::set_msrs) {
            if (refused_on_set.count(e[done].index)) break;
            c.msrs.emplace_back(e[done].index, e[done].data);
            msr_values[e[done].index] = e[done].data;
          } else {
            const auto v = msr_values.find(e[done].index);
            e[done].data = v == msr_values.end() ? 0 : v->second;
          }
        }
        result = static_cast<int>(done);
        break;
      }
      case KVM_RUN: {
        kvm_run* run = runs_.at(vcpu_index(fd));
        if (run->immediate_exit) return fail(c, EINTR);
        auto& q = exits[vcpu_index(fd)];
        if (q.empty()) {
          run->exit_reason = KVM_EXIT_HLT;
        } else {
          q.front()(*run);
          q.pop_front();
        }
        break;
      }
      default: break;  // the rest (GET/SET of fixed-size state, CLOCK, LAPIC...) succeed as no-ops
    }
    std::lock_guard lock(mu_);
    calls_.push_back(std::move(c));
    return result;
  }

  static std::string name(unsigned long req) {
    static const std::map<unsigned long, const char*> names = {
        {KVM_GET_API_VERSION, "KVM_GET_API_VERSION"},   {KVM_CHECK_EXTENSION, "KVM_CHECK_EXTENSION"},
        {KVM_GET_VCPU_MMAP_SIZE, "KVM_GET_VCPU_MMAP_SIZE"}, {KVM_CREATE_VM, "KVM_CREATE_VM"},
        {KVM_CREATE_VCPU, "KVM_CREATE_VCPU"},           {KVM_SET_TSS_ADDR, "KVM_SET_TSS_ADDR"},
        {KVM_CREATE_IRQCHIP, "KVM_CREATE_IRQCHIP"},     {KVM_CREATE_PIT2, "KVM_CREATE_PIT2"},
        {KVM_IRQ_LINE, "KVM_IRQ_LINE"},                 {KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION"},
        {KVM_GET_TSC_KHZ, "KVM_GET_TSC_KHZ"},           {KVM_GET_IRQCHIP, "KVM_GET_IRQCHIP"},
        {KVM_SET_IRQCHIP, "KVM_SET_IRQCHIP"},           {KVM_GET_PIT2, "KVM_GET_PIT2"},
        {KVM_SET_PIT2, "KVM_SET_PIT2"},                 {KVM_GET_CLOCK, "KVM_GET_CLOCK"},
        {KVM_SET_CLOCK, "KVM_SET_CLOCK"},               {KVM_GET_REGS, "KVM_GET_REGS"},
        {KVM_SET_REGS, "KVM_SET_REGS"},                 {KVM_GET_SREGS, "KVM_GET_SREGS"},
        {KVM_SET_SREGS, "KVM_SET_SREGS"},               {KVM_GET_FPU, "KVM_GET_FPU"},
        {KVM_SET_FPU, "KVM_SET_FPU"},                   {KVM_GET_MP_STATE, "KVM_GET_MP_STATE"},
        {KVM_SET_MP_STATE, "KVM_SET_MP_STATE"},         {KVM_GET_XCRS, "KVM_GET_XCRS"},
        {KVM_SET_XCRS, "KVM_SET_XCRS"},                 {KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS"},
        {KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS"},       {KVM_GET_LAPIC, "KVM_GET_LAPIC"},
        {KVM_SET_LAPIC, "KVM_SET_LAPIC"},               {KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS"},
        {KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS"},   {KVM_KVMCLOCK_CTRL, "KVM_KVMCLOCK_CTRL"},
        {KVM_RUN, "KVM_RUN"},                           {kvm::abi::get_supported_cpuid, "KVM_GET_SUPPORTED_CPUID"},
        {kvm::abi::get_msr_index_list, "KVM_GET_MSR_INDEX_LIST"}, {kvm::abi::set_cpuid2, "KVM_SET_CPUID2"},
        {kvm::abi::get_cpuid2, "KVM_GET_CPUID2"},       {kvm::abi::get_msrs, "KVM_GET_MSRS"},
        {kvm::abi::set_msrs, "KVM_SET_MSRS"},           {kvm::abi::get_xsave, "KVM_GET_XSAVE"},
        {kvm::abi::set_xsave, "KVM_SET_XSAVE"},         {kvm::abi::get_xsave2, "KVM_GET_XSAVE2"}};
    const auto it = names.find(req);
    return it == names.end() ? "ioctl " + std::to_string(req) : it->second;
  }

 private:
  int fail(Call& c, int err) {
    c.value = static_cast<std::uint64_t>(err);
    {
      std::lock_guard lock(mu_);
      c.request += " (refused)";
      calls_.push_back(c);
    }
    errno = err;
    return -1;
  }
  int new_fd(const std::string& object) {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    std::lock_guard lock(mu_);
    objects_[fd] = object;
    return fd;
  }
  std::string object_of(int fd) const {
    std::lock_guard lock(mu_);
    const auto it = objects_.find(fd);
    return it == objects_.end() ? "?" : it->second;
  }
  bool has_irqchip(int vm_fd) const {
    std::lock_guard lock(mu_);
    return irqchip_.count(vm_fd) != 0;
  }
  int vcpu_index(int fd) const {
    const std::string o = object_of(fd);
    return o.rfind("vcpu", 0) == 0 ? std::stoi(o.substr(4)) : -1;
  }

  mutable std::mutex mu_;
  std::vector<Call> calls_;
  std::map<int, std::string> objects_;
  std::map<int, kvm_run*> runs_;
  std::map<int, std::vector<kvm_cpuid_entry2>> cpuid_of_;  // per vCPU descriptor
  std::set<int> irqchip_;  // the VM descriptors with an in-kernel irqchip
};

}  // namespace crumble::test
