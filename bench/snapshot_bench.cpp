// SPDX-License-Identifier: Apache-2.0
// snapshot_bench — KVM snapshots of bare microVMs (crumble/vm/engine/kvm/bare.hpp: BareVm::save/restore,
// BareShell; crumble/vm/snapshot/format.hpp, kvm_state.hpp): restore to the first guest instruction, the cost of each
// page a restored guest touches first, save time, and how many restored VMs fit.
//
//   snapshot/first_exit/<how>/MiB   a program paused at getppid whose next action is exit_group:
//       how 0 "restore_new"    BareVm::restore into a new VM (KVM_CREATE_VM, vCPU, memory slot,
//                              map the memory file, load the vCPU state); no KVM_RUN
//       how 1 "restore_shell"  the same into a pooled BareShell (made ahead, not timed): MAP_FIXED
//                              the file over its RAM, load the state; no KVM_RUN
//       how 2 "new"            restore_new, then run(): KVM_RUN enters the guest, which exits at
//                              once (exit_group, one MMIO exit) — restore to first guest instruction
//                              plus one exit
//       how 3 "shell"          the same from a pooled shell
//       how 4 "run_only"       restored untimed into a new VM; only the run() to the exit is timed
//   snapshot/first_touch/<kind>/stride/K   a restored 256 MiB guest touches K pages (one 8-byte
//       access each, `stride` bytes apart) of 64 MiB saved non-zero ("data": in the memory file)
//       or 64 MiB of zero pages ("hole": holes in the sparse file), reading or writing, then
//       exits. Each iteration restores twice, K = 0 and K, into new VMs; the time is the K run's;
//       per_page_us = (t(K) - t(0)) / K, base_us = t(0) (restore + 5 exits).
//   snapshot/save/MiB_nonzero    BareVm::save of a paused 256 MiB guest with 0 or 64 MiB of
//       non-zero pages: scan for zero pages, write the sparse memory file, fsync, rename.
//   snapshot/density/N/W         N VMs restored from one snapshot (64 MiB guest, 16 MiB of it a
//       pattern), all alive at once, each having run until it wrote its own value into W pages
//       and read 256 pattern pages. Counters per VM: pss_KiB and rss_KiB (growth of this
//       process's /proc/self/smaps_rollup; Rss counts a shared page in every VM that maps it,
//       Pss divides it among them), avail_KiB (drop of MemAvailable: includes KVM's kernel-side
//       memory, but other processes on the machine move it too), kernel_KiB (growth of
//       SUnreclaim + PageTables + SecPageTables + KernelStack + VmallocUsed in /proc/meminfo: the
//       kernel memory KVM allocates, less disturbed by the page cache; system-wide all the same),
//       restore_ms (restore and run to the pause, per VM) and close_ms.
//       RLIMIT_NOFILE's soft limit is raised to the hard one (2 descriptors per VM).
//
// All times are wall time (UseManualTime: only the region named is timed). Without /dev/kvm the
// benchmarks report an error and skip.
#include <benchmark/benchmark.h>
#include <crumble/crumble.hpp>
#include <crumble/vm/engine/kvm/bare.hpp>
#include <crumble/vm/host/process.hpp>

#include <sys/resource.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>

namespace {

using namespace crumble::ir;
namespace kvm = crumble::vm::kvm;
using Clock = std::chrono::steady_clock;

bool have_kvm() {
  static const bool ok = [] {
    try {
      crumble::vm::BareShell::system();
      return true;
    } catch (const kvm::KvmUnavailable& e) {
      std::fprintf(stderr, "snapshot_bench: SKIPPED: %s\n", e.what());
      return false;
    }
  }();
  return ok;
}

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

crumble::vm::TempDir& temp() {
  static crumble::vm::TempDir dir("crumble-snapshot-bench-");
  return dir;
}

// Runs `img` to its first pause (getppid) and saves it as `name`, once.
const std::filesystem::path& saved(const std::string& name, const Program& p, std::uint64_t memory) {
  static std::map<std::string, std::filesystem::path> files;
  auto& f = files[name];
  if (f.empty()) {
    crumble::vm::BareOptions o;
    o.memory = memory;
    o.pause_syscall = 110;
    o.timeout = std::chrono::seconds(60);
    crumble::vm::BareVm vm(crumble::assemble<crumble::arch::amd64>(p), o);
    if (vm.run()) throw std::runtime_error("the program did not pause");
    f = temp().path() / (name + ".snap");
    vm.save(f);
  }
  return f;
}

crumble::vm::BareOptions run_options() {
  crumble::vm::BareOptions o;
  o.pause_syscall = 110;
  o.timeout = std::chrono::seconds(60);
  return o;
}

// ---- restore to the first guest instruction ----------------------------------------------------

const Program pause_then_exit{{Function{"main", {}, {Syscall{Sys::getppid, {}}, Syscall{Sys::exit_group, {7}}, Return{7}}}}};

void first_exit(benchmark::State& state) {
  if (!have_kvm()) return state.SkipWithError("no /dev/kvm");
  const int how = static_cast<int>(state.range(0));
  const std::uint64_t memory = static_cast<std::uint64_t>(state.range(1)) << 20;
  const auto& file = saved("first_exit" + std::to_string(state.range(1)), pause_then_exit, memory);
  const bool shell = how == 1 || how == 3, run = how >= 2;
  std::vector<std::unique_ptr<crumble::vm::BareShell>> pool;
  for (auto _ : state) {
    if (shell && pool.empty())
      for (int i = 0; i < 50; ++i) pool.push_back(std::make_unique<crumble::vm::BareShell>(memory));  // the pool: not timed
    std::unique_ptr<crumble::vm::BareShell> s;
    if (shell) s = std::move(pool.back()), pool.pop_back();
    std::unique_ptr<crumble::vm::BareVm> vm;
    auto t0 = Clock::now();
    if (how == 4) {
      vm = crumble::vm::BareVm::restore(file, run_options());
      t0 = Clock::now();
    } else {
      vm = crumble::vm::BareVm::restore(file, run_options(), std::move(s));
    }
    const bool done = run ? vm->run() : true;
    const auto t1 = Clock::now();
    if (!done || (run && vm->result().status != 7)) return state.SkipWithError("the restored program did not exit with 7");
    state.SetIterationTime(seconds(t0, t1));
    vm.reset();  // not timed (manual time): closing a VM's descriptors
  }
}
BENCHMARK(first_exit)->Name("snapshot/first_exit/restore_new")->Args({0, 64})->Args({0, 256})->Iterations(200)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(first_exit)->Name("snapshot/first_exit/restore_shell")->Args({1, 64})->Args({1, 256})->Iterations(200)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(first_exit)->Name("snapshot/first_exit/new")->Args({2, 64})->Args({2, 256})->Iterations(200)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(first_exit)->Name("snapshot/first_exit/shell")->Args({3, 64})->Args({3, 256})->Iterations(200)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(first_exit)->Name("snapshot/first_exit/run_only")->Args({4, 64})->Args({4, 256})->Iterations(200)->UseManualTime()->Unit(benchmark::kMicrosecond);

// ---- the cost of each page touched first after a restore ----------------------------------------

constexpr std::int64_t touch_region = 64 << 20;

// Two 64 MiB regions: "data" (word 0 of each page non-zero: in the memory file) and "hole" (all
// zero: holes). After the pause the host's handlers say what to do: getpid K pages, gettid the
// stride, sync 1 for the hole region, uname 1 for writes. The status is the sum read, low 7 bits.
Program touch_program() {
  Var data{"data"}, hole{"hole"}, i{"i"}, k{"k"}, stride{"stride"}, p{"p"}, s{"s"}, write{"write"};
  auto region = [] { return Syscall{Sys::mmap, {Int64{0}, Int64{touch_region}, Int64{3}, Int64{0x22}, Int64{-1}, Int64{0}}}; };
  return Program{{Function{"main", {}, {
      Assign{data, region()},
      Assign{hole, region()},
      Assign{i, 0},
      While{i < touch_region / 4096, {store(data + (i << 12), 0, 64, i + 1), Assign{i, i + 1}}},
      Syscall{Sys::getppid, {}},  // saved here
      Assign{k, syscall(Sys::getpid)},
      Assign{stride, syscall(Sys::gettid)},
      Assign{p, data},
      If{syscall(Sys::sync) != 0, {Assign{p, hole}}},
      Assign{write, syscall(Sys::uname)},
      Assign{s, 0},
      Assign{i, 0},
      If{write != 0,
         {While{i < k, {store(p, 0, 64, i), Assign{p, p + stride}, Assign{i, i + 1}}}},
         {While{i < k, {Assign{s, s + load(p, 0, 64)}, Assign{p, p + stride}, Assign{i, i + 1}}}}},
      Return{s & 0x7f}}}}};
}

// kind: 0 read data, 1 write data, 2 read hole, 3 write hole.
void first_touch(benchmark::State& state) {
  if (!have_kvm()) return state.SkipWithError("no /dev/kvm");
  const int kind = static_cast<int>(state.range(0));
  const std::int64_t stride = state.range(1), k = state.range(2);
  if (k * stride > touch_region) return state.SkipWithError("K pages at this stride do not fit the region");
  const auto& file = saved("touch", touch_program(), 256 << 20);
  auto options = [&](std::int64_t pages) {
    auto o = run_options();
    o.syscalls[39] = [pages](kvm::Machine&, const crumble::vm::SyscallArgs&) { return pages; };
    o.syscalls[186] = [stride](kvm::Machine&, const crumble::vm::SyscallArgs&) { return stride; };
    o.syscalls[162] = [kind](kvm::Machine&, const crumble::vm::SyscallArgs&) { return std::int64_t{kind >= 2}; };
    o.syscalls[63] = [kind](kvm::Machine&, const crumble::vm::SyscallArgs&) { return std::int64_t{kind % 2}; };
    return o;
  };
  std::int64_t want = 0;  // the data word of page n is n + 1
  if (kind == 0)
    for (std::int64_t i = 0; i < k; ++i) want += i * stride / 4096 + 1;
  auto timed = [&](std::int64_t pages, int status) {
    const auto t0 = Clock::now();
    auto vm = crumble::vm::BareVm::restore(file, options(pages));
    const bool done = vm->run();
    const auto t1 = Clock::now();
    if (!done || vm->result().status != status) throw std::runtime_error("wrong result");
    return seconds(t0, t1);
  };
  double base = 0, extra = 0;
  try {
    for (auto _ : state) {
      const double t0 = timed(0, 0), tk = timed(k, static_cast<int>(want & 0x7f));
      base += t0;
      extra += tk - t0;
      state.SetIterationTime(tk);
    }
  } catch (const std::exception& e) {
    return state.SkipWithError(e.what());
  }
  state.counters["base_us"] = benchmark::Counter(base * 1e6, benchmark::Counter::kAvgIterations);
  if (k) state.counters["per_page_us"] = benchmark::Counter(extra * 1e6 / static_cast<double>(k), benchmark::Counter::kAvgIterations);
}
BENCHMARK(first_touch)->Name("snapshot/first_touch/read_data")->ArgNames({"", "stride", "K"})->Args({0, 4096, 1024})->Args({0, 65536, 1024})
    ->Iterations(30)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(first_touch)->Name("snapshot/first_touch/write_data")->ArgNames({"", "stride", "K"})->Args({1, 4096, 1024})->Args({1, 65536, 1024})
    ->Iterations(30)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(first_touch)->Name("snapshot/first_touch/read_hole")->ArgNames({"", "stride", "K"})->Args({2, 4096, 1024})->Args({2, 65536, 1024})
    ->Iterations(30)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(first_touch)->Name("snapshot/first_touch/write_hole")->ArgNames({"", "stride", "K"})->Args({3, 4096, 1024})->Args({3, 65536, 1024})
    ->Iterations(30)->UseManualTime()->Unit(benchmark::kMicrosecond);

// ---- save ----------------------------------------------------------------------------------------

void save(benchmark::State& state) {
  if (!have_kvm()) return state.SkipWithError("no /dev/kvm");
  const std::int64_t nonzero = state.range(0) << 20;
  Var heap{"heap"}, i{"i"};
  Block body;
  if (nonzero) {
    body.push_back(Assign{heap, Syscall{Sys::mmap, {Int64{0}, Int64{nonzero}, Int64{3}, Int64{0x22}, Int64{-1}, Int64{0}}}});
    body.push_back(Assign{i, 0});
    body.push_back(While{i < nonzero / 8, {store(heap + (i << 3), 0, 64, i + 1), Assign{i, i + 1}}});
  }
  body.push_back(Syscall{Sys::getppid, {}});
  body.push_back(Return{0});
  crumble::vm::BareOptions o = run_options();
  o.memory = 256 << 20;
  crumble::vm::BareVm vm(crumble::assemble<crumble::arch::amd64>(Program{{Function{"main", {}, body}}}), o);
  if (vm.run()) return state.SkipWithError("the program did not pause");
  const auto file = temp().path() / ("save" + std::to_string(state.range(0)) + ".snap");
  for (auto _ : state) {
    const auto t0 = Clock::now();
    vm.save(file);
    state.SetIterationTime(seconds(t0, Clock::now()));
  }
  struct stat st {};
  if (::stat(crumble::vm::snapshot::memory_path(file).c_str(), &st) == 0)
    state.counters["file_MiB_on_disk"] = static_cast<double>(st.st_blocks) * 512 / (1 << 20);
}
BENCHMARK(save)->Name("snapshot/save/256MiB")->ArgName("MiB_nonzero")->Arg(0)->Arg(64)->Iterations(10)->UseManualTime()->Unit(benchmark::kMillisecond);

// ---- density -------------------------------------------------------------------------------------

constexpr std::int64_t density_pattern = 16 << 20;

// 16 MiB of pattern, saved; after the restore getpid gives the VM's value, which it writes into W
// pages (gettid gives W, every 64th page); it reads one word of every 16th pattern page (256
// pages) and pauses: the VM stays alive there.
Program density_program() {
  Var heap{"heap"}, i{"i"}, id{"id"}, w{"w"}, s{"s"};
  return Program{{Function{"main", {}, {
      Assign{heap, Syscall{Sys::mmap, {Int64{0}, Int64{density_pattern}, Int64{3}, Int64{0x22}, Int64{-1}, Int64{0}}}},
      Assign{i, 0},
      While{i < density_pattern / 8, {store(heap + (i << 3), 0, 64, (i * Int64{0x9e3779b9}) ^ 0x5555), Assign{i, i + 1}}},
      Syscall{Sys::getppid, {}},  // saved here
      Assign{id, syscall(Sys::getpid)},
      Assign{w, syscall(Sys::gettid)},
      Assign{i, 0},
      While{i < w, {store(heap + i * (64 * 4096), 0, 64, id), Assign{i, i + 1}}},
      Assign{s, 0},
      Assign{i, 0},
      While{i < density_pattern / 4096 / 16, {Assign{s, s + load(heap + i * (16 * 4096), 8, 64)}, Assign{i, i + 1}}},
      Syscall{Sys::getppid, {}},  // alive here
      Assign{s, 0},
      If{load(heap, 0, 64) != id, {Assign{s, 1}}},
      Return{s}}}}};
}

std::map<std::string, double> memory_kib() {
  std::map<std::string, double> m;
  for (const char* f : {"/proc/self/smaps_rollup", "/proc/meminfo"}) {
    std::ifstream in(f);
    std::string line;
    while (std::getline(in, line)) {  // "Key:   123 kB"; smaps_rollup's first line is the range
      const auto colon = line.find(':');
      if (colon == std::string::npos || line.find_first_of("0123456789", colon) == std::string::npos) continue;
      m[line.substr(0, colon + 1)] = std::strtod(line.c_str() + colon + 1, nullptr);
    }
  }
  return m;
}

void density(benchmark::State& state) {
  if (!have_kvm()) return state.SkipWithError("no /dev/kvm");
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::int64_t w = state.range(1);
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  if (nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  const auto& file = saved("density", density_program(), 64 << 20);
  double pss = 0, rss = 0, avail = 0, kernel_kib = 0, restore_s = 0, close_s = 0;
  std::size_t reached = 0;
  for (auto _ : state) {
    std::vector<std::unique_ptr<crumble::vm::BareVm>> vms;
    vms.reserve(n);
    auto before = memory_kib();
    const auto t0 = Clock::now();
    try {
      for (std::size_t k = 0; k < n; ++k) {
        auto o = run_options();
        const auto id = static_cast<std::int64_t>(k + 1);
        o.syscalls[39] = [id](kvm::Machine&, const crumble::vm::SyscallArgs&) { return id; };
        o.syscalls[186] = [w](kvm::Machine&, const crumble::vm::SyscallArgs&) { return w; };
        auto vm = crumble::vm::BareVm::restore(file, o);
        if (vm->run()) throw std::runtime_error("VM " + std::to_string(k) + " exited instead of pausing");
        vms.push_back(std::move(vm));
      }
    } catch (const std::exception& e) {
      reached = vms.size();
      vms.clear();
      return state.SkipWithError(("failed after " + std::to_string(reached) + " VMs: " + e.what()).c_str());
    }
    const auto t1 = Clock::now();
    auto after = memory_kib();
    // Each finishes: it must still see its own value in the page it wrote (W > 0).
    if (w > 0)
      for (auto& vm : vms)
        if (!vm->run() || vm->result().status != 0) return state.SkipWithError("a VM saw another's write");
    const auto t2 = Clock::now();
    vms.clear();
    const auto t3 = Clock::now();
    const double d = static_cast<double>(n);
    pss += (after["Pss:"] - before["Pss:"]) / d;
    rss += (after["Rss:"] - before["Rss:"]) / d;
    avail += (before["MemAvailable:"] - after["MemAvailable:"]) / d;
    auto kernel = [](std::map<std::string, double>& m) {
      return m["SUnreclaim:"] + m["PageTables:"] + m["SecPageTables:"] + m["KernelStack:"] + m["VmallocUsed:"];
    };
    kernel_kib += (kernel(after) - kernel(before)) / d;
    restore_s += seconds(t0, t1) / d;
    close_s += seconds(t2, t3) / d;
    state.SetIterationTime(seconds(t0, t1));
  }
  state.counters["pss_KiB"] = benchmark::Counter(pss, benchmark::Counter::kAvgIterations);
  state.counters["rss_KiB"] = benchmark::Counter(rss, benchmark::Counter::kAvgIterations);
  state.counters["avail_KiB"] = benchmark::Counter(avail, benchmark::Counter::kAvgIterations);
  state.counters["kernel_KiB"] = benchmark::Counter(kernel_kib, benchmark::Counter::kAvgIterations);
  state.counters["restore_ms"] = benchmark::Counter(restore_s * 1e3, benchmark::Counter::kAvgIterations);
  state.counters["close_ms"] = benchmark::Counter(close_s * 1e3, benchmark::Counter::kAvgIterations);
}
BENCHMARK(density)->Name("snapshot/density")->ArgNames({"N", "W"})->Args({100, 16})->Args({500, 16})->Args({1000, 16})->Args({1000, 0})
    ->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
// Past 1000 the cost per VM climbs steeply here (see bench/README.md); run on request:
// --benchmark_filter=density_large (and leave it out with --benchmark_filter=-density_large).
BENCHMARK(density)->Name("snapshot/density_large")->ArgNames({"N", "W"})->Args({2000, 16})->Args({4000, 16})
    ->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
