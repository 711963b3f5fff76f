// SPDX-License-Identifier: Apache-2.0
// bare_bench — bare microVMs (crumble/vm/engine/kvm/bare.hpp) and the KVM exits under them (crumble/vm/engine/kvm/kvm.hpp).
//
//   bare/create_run/MiB         run_bare on a program that just returns: VM created (memory slot,
//                               vCPU, page tables), entered at CPL3, one exit (exit_group), destroyed
//   bare/machine_only/MiB       the same without running: kvm::Machine + vCPU created and destroyed
//   peer/spawn_elf              the same program as a static Linux ELF: posix_spawn + waitpid
//   bare/syscalls/N             a program making N getpid syscalls in a loop, in a fresh VM each
//                               time; the per_syscall counter is wall time / N (VM creation included,
//                               under 1 % of it at N = 10,000)
//   kvm/mmio_read/0/N           a raw kvm::Machine (made once): a CPL3 loop reading an MMIO address
//                               N times, each an exit to the host handler and back (per_exit)
//   kvm/mmio_write/1/N          the same, writing
//   kvm/mmio_write_after_exit/2/N  writing, the handler setting rax through Vcpu::after_exit as
//                               run_bare does for each syscall's result
//   peer/host_getpid            the host's own getpid syscall
//   snapshot/restore_new/MiB    BareVm::restore of a paused VM's snapshot into a new VM (create
//                               the VM, vCPU and memory slot, map the memory file, load the state)
//   snapshot/restore_shell/MiB  the same into a VM made ahead of time (BareShell, not timed): map
//                               the memory file over its RAM (MAP_FIXED) and load the state
//
// Without /dev/kvm the benchmarks report an error and skip.
#include <benchmark/benchmark.h>
#include <crumble/crumble.hpp>
#include <crumble/vm/engine/kvm/bare.hpp>

#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <crumble/vm/host/process.hpp>

extern char** environ;

namespace {

using namespace crumble::ir;
namespace kvm = crumble::vm::kvm;
namespace bare = crumble::vm::bare;
namespace bare_detail = crumble::vm::bare_detail;

const kvm::System* kvm_system() {
  static const kvm::System* sys = [] () -> const kvm::System* {
    try {
      return new kvm::System();
    } catch (const kvm::KvmUnavailable& e) {
      std::fprintf(stderr, "bare_bench: SKIPPED: %s\n", e.what());
      return nullptr;
    }
  }();
  return sys;
}

const Program just_return{{Function{"main", {}, {Return{7}}}}};

void create_run(benchmark::State& state) {
  if (!kvm_system()) return state.SkipWithError("no KVM");
  const auto image = crumble::assemble<crumble::arch::amd64>(just_return);
  crumble::vm::BareOptions opt;
  opt.memory = static_cast<std::uint64_t>(state.range(0)) << 20;
  for (auto _ : state) {
    auto r = crumble::vm::run_bare(image, opt);
    if (r.status != 7) return state.SkipWithError("wrong status");
  }
}
BENCHMARK(create_run)->Name("bare/create_run")->ArgName("MiB")->Arg(8)->Arg(64)->Arg(256)->UseRealTime()->Unit(benchmark::kMicrosecond);

void machine_only(benchmark::State& state) {
  if (!kvm_system()) return state.SkipWithError("no KVM");
  const auto bytes = static_cast<std::uint64_t>(state.range(0)) << 20;
  for (auto _ : state) {
    kvm::Machine m(*kvm_system(), bytes);
    benchmark::DoNotOptimize(&m.add_vcpu());
  }
}
BENCHMARK(machine_only)->Name("bare/machine_only")->ArgName("MiB")->Arg(8)->Arg(64)->Arg(256)->UseRealTime()->Unit(benchmark::kMicrosecond);

void spawn_elf(benchmark::State& state) {
  const auto elf = crumble::executable<crumble::arch::amd64>(just_return);
  char path[] = "/tmp/crumble-bare-bench-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) return state.SkipWithError("mkstemp failed");
  bool ok = ::write(fd, elf.data(), elf.size()) == static_cast<ssize_t>(elf.size()) && ::fchmod(fd, 0755) == 0;
  ::close(fd);
  if (!ok) return state.SkipWithError("cannot write the ELF");
  char* argv[] = {path, nullptr};
  for (auto _ : state) {
    pid_t pid;
    if (::posix_spawn(&pid, path, nullptr, nullptr, argv, environ) != 0) {
      state.SkipWithError("posix_spawn failed");
      break;
    }
    int ws = 0;
    ::waitpid(pid, &ws, 0);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 7) {
      state.SkipWithError("wrong status");
      break;
    }
  }
  ::unlink(path);
}
BENCHMARK(spawn_elf)->Name("peer/spawn_elf")->UseRealTime()->Unit(benchmark::kMicrosecond);

void syscalls(benchmark::State& state) {
  if (!kvm_system()) return state.SkipWithError("no KVM");
  const std::int64_t n = state.range(0);
  Var i{"i"}, s{"s"};
  Program p{{Function{"main", {}, {
      While{i < n, {Assign{s, s + syscall(Sys::getpid)}, Assign{i, i + 1}}},
      Return{s & 0xff},
  }}}};
  const auto image = crumble::assemble<crumble::arch::amd64>(p);
  crumble::vm::BareOptions opt;
  opt.memory = 8 << 20;
  opt.timeout = std::chrono::seconds(60);
  for (auto _ : state) {
    auto r = crumble::vm::run_bare(image, opt);
    if (r.status != (n & 0xff)) return state.SkipWithError("wrong status");
  }
  if (n > 0) state.counters["per_syscall"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(syscalls)->Name("bare/syscalls")->Arg(0)->Arg(1000)->Arg(10000)->UseRealTime()->Unit(benchmark::kMillisecond);

// mov rbx, 0x3fe00000 (the doorbell page: no memory behind it); mov ecx, N;
// loop: mov eax, [rbx]  (or mov [rbx], eax); dec ecx; jnz loop; mov [rbx+8], eax (done); jmp .
std::vector<std::uint8_t> mmio_loop(bool write, std::uint32_t n) {
  std::vector<std::uint8_t> c{0x48, 0xbb, 0x00, 0x00, 0xe0, 0x3f, 0x00, 0x00, 0x00, 0x00, 0xb9};
  for (int k = 0; k < 4; ++k) c.push_back(static_cast<std::uint8_t>(n >> (8 * k)));
  if (write) c.insert(c.end(), {0x89, 0x03});
  else c.insert(c.end(), {0x8b, 0x03});
  c.insert(c.end(), {0xff, 0xc9, 0x75, 0xfa, 0x89, 0x43, 0x08, 0xeb, 0xfe});
  return c;
}

// mode 0: reads; 1: writes; 2: writes whose handler changes a register through Vcpu::after_exit
// (what run_bare does for every syscall: one more KVM_RUN with immediate_exit, GET_REGS, SET_REGS).
void mmio(benchmark::State& state) {
  if (!kvm_system()) return state.SkipWithError("no KVM");
  const int mode = static_cast<int>(state.range(0));
  const auto n = static_cast<std::uint32_t>(state.range(1));
  kvm::Machine m(*kvm_system(), 8 << 20);
  bare_detail::build_system(m);
  const auto code = mmio_loop(mode != 0, n);
  std::memcpy(m.memory() + bare::image, code.data(), code.size());
  kvm::Vcpu& cpu = m.add_vcpu();
  std::uint64_t exits = 0;
  cpu.on_mmio = [&](kvm::MmioExit& e) {
    ++exits;
    if (e.write && e.address == bare::doorbell + 8) cpu.stop();
    else if (!e.write) e.data[0] = 1;
    else if (mode == 2)
      cpu.after_exit([&cpu] {
        kvm_regs r = cpu.regs();
        r.rax = 1;
        cpu.set_regs(r);
      });
  };
  for (auto _ : state) {
    bare_detail::enter_user_mode(cpu, bare::image, (8 << 20) - 64, 0, 0, 0);
    cpu.run(std::chrono::steady_clock::now() + std::chrono::seconds(60));
  }
  if (exits != static_cast<std::uint64_t>(state.iterations()) * (n + 1)) state.SkipWithError("wrong number of exits");
  state.counters["per_exit"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(mmio)->Name("kvm/mmio_read")->Args({0, 1000})->Args({0, 10000})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(mmio)->Name("kvm/mmio_write")->Args({1, 10000})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(mmio)->Name("kvm/mmio_write_after_exit")->Args({2, 10000})->UseRealTime()->Unit(benchmark::kMillisecond);

void host_getpid(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(::syscall(SYS_getpid));
}
BENCHMARK(host_getpid)->Name("peer/host_getpid")->Unit(benchmark::kNanosecond);

}  // namespace

// A paused VM saved once per memory size; restores are timed up to the first instruction
// (no run), which is what the snapshot issue asks for.
const std::filesystem::path& saved_snapshot(std::uint64_t mib) {
  static std::map<std::uint64_t, std::filesystem::path> files;
  auto& f = files[mib];
  if (f.empty()) {
    static crumble::vm::TempDir dir("crumble-bench-snap-");
    f = dir.path() / ("vm" + std::to_string(mib) + ".snap");
    crumble::vm::BareOptions o;
    o.memory = mib << 20;
    o.pause_syscall = 39;  // getpid
    crumble::vm::BareVm vm(crumble::assemble<crumble::arch::amd64>(Program{{Function{"main", {}, {Syscall{Sys::getpid, {}}, Return{7}}}}}), o);
    vm.run();
    vm.save(f);
  }
  return f;
}

void restore(benchmark::State& state) {
  if (!kvm_system()) return state.SkipWithError("no /dev/kvm");
  const bool shell = state.range(0) == 1;
  const std::uint64_t mib = static_cast<std::uint64_t>(state.range(1));
  const auto& file = saved_snapshot(mib);
  crumble::vm::BareOptions o;
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<crumble::vm::BareShell> s;
    if (shell) s = std::make_unique<crumble::vm::BareShell>(mib << 20);
    state.ResumeTiming();
    auto vm = crumble::vm::BareVm::restore(file, o, std::move(s));
    state.PauseTiming();
    vm.reset();
    state.ResumeTiming();
  }
}
BENCHMARK(restore)->Name("snapshot/restore_new")->Args({0, 64})->Args({0, 256})->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(restore)->Name("snapshot/restore_shell")->Args({1, 64})->Args({1, 256})->UseRealTime()->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
