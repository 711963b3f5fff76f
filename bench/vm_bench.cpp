// SPDX-License-Identifier: Apache-2.0
// vm_bench — microVMs under the QEMU engine (software emulation on hosts without VMX/SVM).
//
//   boot/crumble_to_ready   Session constructed until init signals ready (kernel + init phases 1-7),
//                           then shut down (shutdown not timed)
//   boot/plain_qemu         the same QEMU command line, kernel and busybox initramfs, with an init
//                           that powers off at once: time until QEMU exits — the peer: what booting
//                           this kernel costs without crumble's init and protocol
//   session/true_cold       what `crumble run -- /bin/true` does in-process: a Session booted cold
//                           (no snapshot), the command, shutdown
//   session/true_snapshot   the same from a late snapshot in the cache (restore, reseed, command,
//                           shutdown); the snapshot is made before timing starts
//   roundtrip/true          one `/bin/true` command on a booted VM (fork, execve, wait4, reply)
//   roundtrip/payload       one payload call (copy, relocate, call, reply) on a booted VM
//
// Needs the cached kernel (crumble kernel fetch) and qemu-system-x86_64; skips with a message.
#include <benchmark/benchmark.h>
#include <crumble/crumble.hpp>
#include <crumble/vm/session.hpp>

#include <iostream>


namespace {

using namespace crumble::ir;

constexpr Expr K(std::uint64_t v) { return Int64{static_cast<std::int64_t>(v)}; }

bool have_kernel() {
  if (crumble::vm::cached_kernel()) return true;
  std::cerr << "vm_bench: SKIPPED: no cached kernel (run `crumble kernel fetch`)\n";
  return false;
}

void boot_crumble(benchmark::State& state) {
  if (!have_kernel()) return state.SkipWithError("no kernel");
  crumble::vm::SessionConfig cfg;
  cfg.snapshot = crumble::vm::SnapshotMode::off;
  for (auto _ : state) {
    std::optional<crumble::vm::Session> vm;
    vm.emplace(cfg);
    state.PauseTiming();
    vm.reset();
    state.ResumeTiming();
  }
}

void boot_plain_qemu(benchmark::State& state) {
  if (!have_kernel()) return state.SkipWithError("no kernel");
  Program poweroff{{Function{"main", {}, {
      Syscall{Sys::reboot, {K(0xfee1dead), Int64{672274793}, K(0x4321fedc), Int64{0}}},
      Return{0}}}}};
  auto init = crumble::executable<crumble::arch::amd64>(poweroff);
  crumble::vm::InitramfsSpec spec;
  spec.init = init;
  crumble::vm::QemuOptions q;
  q.kernel = crumble::vm::cached_kernel()->image;
  q.initramfs = crumble::vm::build_initramfs(spec);
  for (auto _ : state) {
    crumble::vm::QemuMachine m(q);
    auto until = crumble::vm::Clock::now() + std::chrono::seconds(60);
    while (m.running() && crumble::vm::Clock::now() < until) std::this_thread::sleep_for(std::chrono::microseconds(200));
    if (m.running()) state.SkipWithError("QEMU did not power off within 60 s");
  }
}

void session_true(benchmark::State& state) {
  if (!have_kernel()) return state.SkipWithError("no kernel");
  crumble::vm::TempDir snapshots("crumble-bench-");
  crumble::vm::SessionConfig cfg;
  cfg.snapshot = state.range(0) ? crumble::vm::SnapshotMode::late : crumble::vm::SnapshotMode::off;
  cfg.snapshot_dir = snapshots.path();
  if (state.range(0)) crumble::vm::Session prime(cfg);  // boots cold and saves the snapshot
  for (auto _ : state) {
    crumble::vm::Session vm(cfg);
    if (vm.run({"/bin/true"}).status() != 0) state.SkipWithError("true failed");
    if (state.range(0) && !vm.restored()) state.SkipWithError(("not restored: " + vm.snapshot_note()).c_str());
    vm.shutdown();
  }
}

crumble::vm::Session* booted() {
  static std::optional<crumble::vm::Session> vm;
  if (!vm) {
    crumble::vm::SessionConfig cfg;
    cfg.snapshot = crumble::vm::SnapshotMode::off;
    vm.emplace(cfg);
  }
  return &*vm;
}

void roundtrip_true(benchmark::State& state) {
  if (!have_kernel()) return state.SkipWithError("no kernel");
  auto* vm = booted();
  for (auto _ : state) {
    auto r = vm->run({"/bin/true"});
    if (r.status() != 0) state.SkipWithError("true failed");
  }
}

void roundtrip_payload(benchmark::State& state) {
  if (!have_kernel()) return state.SkipWithError("no kernel");
  auto* vm = booted();
  Program p{{Function{"f", {}, {Return{Int64{42}}}}}};
  auto img = crumble::assemble<crumble::arch::amd64>(p);
  for (auto _ : state) benchmark::DoNotOptimize(vm->call(img));
}

}  // namespace

BENCHMARK(boot_crumble)->Name("boot/crumble_to_ready")->Iterations(5)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(boot_plain_qemu)->Name("boot/plain_qemu")->Iterations(5)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(session_true)->Name("session/true_cold")->Arg(0)->Iterations(5)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(session_true)->Name("session/true_snapshot")->Arg(1)->Iterations(10)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(roundtrip_true)->Name("roundtrip/true")->Iterations(50)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(roundtrip_payload)->Name("roundtrip/payload")->Iterations(200)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
