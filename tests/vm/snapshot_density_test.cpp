// SPDX-License-Identifier: Apache-2.0
// tests/vm/snapshot_density_test.cpp — many bare microVMs restored from one snapshot at once.
//
// One program fills 16 MiB of its heap with a pattern and pauses; that VM is saved once. Then 100
// VMs are restored from the one file and kept alive together. Each writes its own value into 64
// pages of the pattern (copy-on-write), pauses, and once all 100 have written, reads its pages
// back and sums a word from every 4th pattern page. The oracle:
//   - every VM reads back only its own value (no VM sees another's writes), and the pattern
//     words next to them (copied with the page) and in 1024 other pages are what the program
//     wrote before the snapshot, summed on the host from the same formula;
//   - the snapshot's memory file is unchanged (MAP_PRIVATE: writes never reach it);
//   - the process's proportional set size (Pss, /proc/self/smaps_rollup) grows by well under
//     2 MiB per VM although each VM has 4 MiB of pattern pages mapped (counted in Rss): the
//     clean pages are the page cache's, shared by all, not copies.
// The figures (Pss and Rss growth per VM, and MemAvailable's drop, which includes KVM's
// kernel-side memory) are printed for the CI log.
#include <catch2/catch.hpp>
#include <crumble/crumble.hpp>
#include "kvm_skip.hpp"
#include <crumble/vm/engine/kvm/bare.hpp>
#include <crumble/vm/host/process.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

using namespace crumble::ir;

namespace {

using crumble::test::kvm_or_skip;

constexpr std::int64_t region = 16 << 20;    // the pattern: 16 MiB of the heap, every word written
constexpr std::int64_t write_pages = 64;     // pages each VM writes its value into...
constexpr std::int64_t write_stride = 64;    // ...every 64th page of the region
constexpr std::int64_t read_stride = 4;      // the read phase sums a word of every 4th page
constexpr std::uint64_t pattern_mul = 0x9e3779b97f4a7c15ull, pattern_xor = 0x0123456789abcdefull;
constexpr int vms = 100;

// Word i (8 bytes) of the region.
std::uint64_t pattern(std::uint64_t i) { return (i * pattern_mul) ^ pattern_xor; }

// Pauses (getppid, 110) once the pattern is written (the snapshot point) and again after the
// write phase; getpid (39) gives the VM its value (a handler the host registers per VM).
Program density_program() {
  Var heap{"heap"}, i{"i"}, id{"id"}, bad{"bad"}, sum{"sum"};
  return Program{{Function{"main", {}, {
      Assign{heap, Syscall{Sys::mmap, {Int64{0}, Int64{region}, Int64{3}, Int64{0x22}, Int64{-1}, Int64{0}}}},
      Assign{i, 0},
      While{i < region / 8, {
          store(heap + (i << 3), 0, 64, (i * Int64{static_cast<std::int64_t>(pattern_mul)}) ^ Int64{static_cast<std::int64_t>(pattern_xor)}),
          Assign{i, i + 1}}},
      Printf{"heap=%x\n", {heap}},
      Syscall{Sys::getppid, {}},  // pause 1: saved here
      Assign{id, syscall(Sys::getpid)},
      Assign{i, 0},
      While{i < write_pages, {store(heap + i * (write_stride * 4096), 0, 64, id), Assign{i, i + 1}}},
      Syscall{Sys::getppid, {}},  // pause 2: every VM has written
      Assign{bad, 0},
      Assign{i, 0},
      While{i < write_pages, {If{load(heap + i * (write_stride * 4096), 0, 64) != id, {Assign{bad, bad + 1}}}, Assign{i, i + 1}}},
      Assign{sum, 0},
      Assign{i, 0},
      While{i < region / 4096 / read_stride, {Assign{sum, sum + load(heap + i * (read_stride * 4096), 8, 64)}, Assign{i, i + 1}}},
      Printf{"id=%d bad=%d sum=%x\n", {id, bad, sum}},
      Return{0}}}}};
}

std::string expected_read_phase(int id) {
  std::uint64_t sum = 0;
  for (std::uint64_t p = 0; p < region / 4096 / read_stride; ++p) sum += pattern((p * read_stride * 4096 + 8) / 8);
  char b[128];
  std::snprintf(b, sizeof b, "id=%d bad=0 sum=%" PRIx64 "\n", id, sum);
  return b;
}

// KiB from /proc/self/smaps_rollup ("Rss:", "Pss:") or /proc/meminfo ("MemAvailable:").
std::uint64_t kib(const char* file, const std::string& field) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::stoull(line.substr(field.size()));
  return 0;
}
struct Usage {
  std::uint64_t rss, pss, available;
};
Usage usage() { return {kib("/proc/self/smaps_rollup", "Rss:"), kib("/proc/self/smaps_rollup", "Pss:"), kib("/proc/meminfo", "MemAvailable:")}; }

}  // namespace

TEST_CASE("snapshot density: 100 VMs from one snapshot at once share its clean pages and stay independent", "[vm][snapshot][density]") {
  kvm_or_skip();
  REQUIRE(std::ifstream("/proc/self/smaps_rollup").good());
  const auto img = crumble::assemble<crumble::arch::amd64>(density_program());
  crumble::vm::TempDir dir("crumble-density-");
  const auto file = dir.path() / "vm.snap";
  crumble::vm::BareOptions opt;
  opt.pause_syscall = 110;
  std::uint64_t heap = 0;
  {
    crumble::vm::BareVm vm(img, opt);
    REQUIRE_FALSE(vm.run());
    REQUIRE(std::sscanf(vm.result().out.c_str(), "heap=%" SCNx64, &heap) == 1);
    vm.save(file);
  }
  const auto mem_file = crumble::vm::snapshot::memory_path(file);
  // The written pages of the memory file, for the check that nothing reaches it.
  auto file_words = [&] {
    std::vector<std::uint64_t> w(write_pages);
    int fd = ::open(mem_file.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    for (std::int64_t i = 0; i < write_pages; ++i)
      REQUIRE(::pread(fd, &w[static_cast<std::size_t>(i)], 8, static_cast<off_t>(heap + i * write_stride * 4096)) == 8);
    ::close(fd);
    return w;
  };
  const auto before_words = file_words();
  for (std::int64_t i = 0; i < write_pages; ++i) REQUIRE(before_words[static_cast<std::size_t>(i)] == pattern(i * write_stride * 512));

  const Usage before = usage();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<crumble::vm::BareVm>> all;
  for (int k = 0; k < vms; ++k) {
    crumble::vm::BareOptions o = opt;
    const std::int64_t id = 1000 + k;
    o.syscalls[39] = [id](crumble::vm::kvm::Machine&, const crumble::vm::SyscallArgs&) { return id; };
    all.push_back(crumble::vm::BareVm::restore(file, o));
  }
  const Usage restored = usage();
  const auto t1 = std::chrono::steady_clock::now();
  for (auto& vm : all) REQUIRE_FALSE(vm->run());  // each writes its value, pauses
  const auto t2 = std::chrono::steady_clock::now();
  for (auto& vm : all) REQUIRE(vm->run());  // each reads back, sums the pattern, exits
  const auto t3 = std::chrono::steady_clock::now();
  const Usage peak = usage();  // all 100 alive, each with its written and read pages mapped

  char heap_line[64];
  std::snprintf(heap_line, sizeof heap_line, "heap=%" PRIx64 "\n", heap);
  for (int k = 0; k < vms; ++k) {
    INFO("VM " << k);
    CHECK(all[static_cast<std::size_t>(k)]->result().out == heap_line + expected_read_phase(1000 + k));
    CHECK(all[static_cast<std::size_t>(k)]->result().status == 0);
  }
  CHECK(file_words() == before_words);

  const auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  const double pss_per_vm = (static_cast<double>(peak.pss) - static_cast<double>(before.pss)) / vms;
  const double rss_per_vm = (static_cast<double>(peak.rss) - static_cast<double>(before.rss)) / vms;
  const double restored_pss_per_vm = (static_cast<double>(restored.pss) - static_cast<double>(before.pss)) / vms;
  const double available_per_vm = (static_cast<double>(before.available) - static_cast<double>(peak.available)) / vms;
  std::ostringstream report;
  report << "snapshot density: " << vms << " VMs from one snapshot (16 MiB pattern), all alive: Pss +" << pss_per_vm
         << " KiB per VM (just restored: +" << restored_pss_per_vm << " KiB), Rss +" << rss_per_vm
         << " KiB per VM (shared pages counted in every VM), MemAvailable -" << available_per_vm
         << " KiB per VM (includes KVM's kernel memory; other processes move it too); restore " << ms(t0, t1) / vms
         << " ms, write phase (64 CoW pages) " << ms(t1, t2) / vms << " ms, read phase (1024 pages) " << ms(t2, t3) / vms
         << " ms per VM";
  std::cout << report.str() << "\n";
  WARN(report.str());
  // Each VM's own pages: 64 written (CoW copies, 256 KiB), its stack and page tables, host-side
  // objects. The 1024 pattern pages each VM read (4 MiB) must not be copies: they are in Rss...
  CHECK(rss_per_vm > 3 * 1024);
  // ...but shared, so the proportional size per VM stays well under them (and under the
  // density target of 2 MiB per VM).
  CHECK(pss_per_vm < 2 * 1024);
  const auto t4 = std::chrono::steady_clock::now();
  all.clear();
  std::cout << "closing " << vms << " VMs: " << ms(t4, std::chrono::steady_clock::now()) / vms << " ms per VM\n";
}
