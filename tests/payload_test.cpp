// SPDX-License-Identifier: Apache-2.0
// Payloads: code assembled at run time, loaded at an arbitrary address by applying the
// relocation table, and called in this process. Checks that absolute addresses (functions,
// globals in bss, embedded bytes) are correct wherever the payload lands, that the
// constexpr and run-time images are identical, and that payloads and C code compiled by a real
// compiler call each other through the host ABI with more arguments than its registers hold
// (host_abi/callee.c: natively on AMD64; Clang's ARM64 and RISC-V code under qemu-user).
#include <catch2/catch.hpp>
#include <crumble/crumble.hpp>

#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sys/mman.h>

#include "runner.hpp"

extern "C" {
#include "host_abi/callee.c"
}

using namespace crumble::ir;

namespace {

// A loader like the guest init's: copy, zero bss, add the base to each relocated field.
struct Loaded {
  void* base = MAP_FAILED;
  std::size_t size = 0;
  Loaded(const crumble::code::Image& img) {
    size = img.bss_offset + crumble::code::align_up(img.bss_size, crumble::code::page_size);
    base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(base != MAP_FAILED);
    std::memcpy(base, img.bytes.data(), img.bytes.size());
    auto at = reinterpret_cast<std::uintptr_t>(base);
    for (std::uint32_t off : img.relocs) {
      REQUIRE(off + 8 <= img.bytes.size());
      std::uint64_t v;
      std::memcpy(&v, static_cast<char*>(base) + off, 8);
      v += at;
      std::memcpy(static_cast<char*>(base) + off, &v, 8);
    }
    REQUIRE(mprotect(base, img.bss_offset, PROT_READ | PROT_EXEC) == 0);
  }
  ~Loaded() { munmap(base, size); }
  template <class F>
  F entry(const crumble::code::Image& img) const {
    return reinterpret_cast<F>(static_cast<char*>(base) + img.entry);
  }
};

// counter() increments a global and returns the sum of its arguments, the string length of an
// embedded string and the result of a call through a function pointer.
constexpr Program relocating() {
  Var p{"p"}, n{"n"}, f{"f"};
  return Program{
      {
          Function{"entry", {"a", "b"}, {
              Assign{GlobalVar{"count"}, GlobalVar{"count"} + 1},
              Assign{p, cstr("twelve chars")}, Assign{n, 0},
              While{load(p + n, 0, 8) != 0, {Assign{n, n + 1}}},
              Assign{f, FuncAddr{"triple"}},
              Return{Var{"a"} + Var{"b"} + n + Call{f, {GlobalVar{"count"}}} * 1000},
          }},
          Function{"triple", {"x"}, {Return{Var{"x"} * 3}}},
      },
      {Global{"count", 8, 8}}};
}

}  // namespace

TEST_CASE("a payload with relocations runs wherever it is loaded") {
  auto img = crumble::assemble<crumble::arch::amd64>(relocating());
  REQUIRE(img.relocs.size() >= 3);  // global (twice), string, function
  REQUIRE(img.bss_size == 8);
  for (int load = 0; load < 3; ++load) {  // three loads land at three addresses
    Loaded l(img);
    auto fn = l.entry<long (*)(long, long)>(img);
    CHECK(fn(1, 2) == 1 + 2 + 12 + 3 * 1000);
    CHECK(fn(10, -20) == 10 - 20 + 12 + 6 * 1000);  // count is now 2: the bss persists
  }
}

TEST_CASE("constexpr and run-time payloads are identical") {
  constexpr auto fixed = crumble::assemble<crumble::arch::amd64>([] { return relocating(); });
  auto img = crumble::assemble<crumble::arch::amd64>(relocating());
  CHECK(std::vector<std::uint8_t>(fixed.bytes.begin(), fixed.bytes.end()) == img.bytes);
  CHECK(std::vector<std::uint32_t>(fixed.relocs.begin(), fixed.relocs.end()) == img.relocs);
  CHECK(fixed.bss_size == img.bss_size);
  CHECK(fixed.bss_offset == img.bss_offset);
  CHECK(fixed.entry == img.entry);
}

// ---- the host ABI with stack-passed arguments ---------------------------------------------

namespace {

// A C parameter: its width and whether its type is signed.
struct CParam {
  int width;
  Extend sign;
};
constexpr Extend S = Extend::sign, U = Extend::zero;
constexpr std::array<CParam, 16> mix16_params{{{8, S}, {8, U}, {16, S}, {16, U}, {32, S}, {32, U}, {64, S}, {64, U},
                                               {8, S}, {8, U}, {16, S}, {16, U}, {32, S}, {32, U}, {64, S}, {64, U}}};
constexpr std::array<CParam, 9> mix9_params{{{32, U}, {8, S}, {16, U}, {32, S}, {8, U}, {16, S}, {64, U}, {64, S}, {32, U}}};

// Raw 64-bit words whose low bits are the arguments; the upper bits are junk the caller must
// not pass on where the ABI says how they look. Edge rows first, then pseudo-random ones.
std::vector<std::array<std::uint64_t, 16>> raw_rows() {
  std::vector<std::array<std::uint64_t, 16>> rows;
  std::array<std::uint64_t, 16> r{};
  for (std::uint64_t edge : {0x0ull, 0xffffffffffffffffull, 0x8000000080008080ull, 0x7fffffff7fff7f7full,
                             0xdeadbeef80000000ull, 0x123456780000ff80ull}) {
    r.fill(edge);
    rows.push_back(r);
  }
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int n = 0; n < 24; ++n) {
    for (auto& v : r) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      v = x;
    }
    rows.push_back(r);
  }
  return rows;
}

template <std::size_t N>
std::int64_t oracle(const std::array<std::uint64_t, 16>& w) {
  if constexpr (N == 16) {
    return host_abi_mix16(static_cast<int8_t>(w[0]), static_cast<uint8_t>(w[1]), static_cast<int16_t>(w[2]),
                          static_cast<uint16_t>(w[3]), static_cast<int32_t>(w[4]), static_cast<uint32_t>(w[5]),
                          static_cast<int64_t>(w[6]), w[7], static_cast<int8_t>(w[8]), static_cast<uint8_t>(w[9]),
                          static_cast<int16_t>(w[10]), static_cast<uint16_t>(w[11]), static_cast<int32_t>(w[12]),
                          static_cast<uint32_t>(w[13]), static_cast<int64_t>(w[14]), w[15]);
  } else {
    return host_abi_mix9(static_cast<uint32_t>(w[0]), static_cast<int8_t>(w[1]), static_cast<uint16_t>(w[2]),
                         static_cast<int32_t>(w[3]), static_cast<uint8_t>(w[4]), static_cast<int16_t>(w[5]), w[6],
                         static_cast<int64_t>(w[7]), static_cast<uint32_t>(w[8]));
  }
}

// The call's arguments: word k of the row at `words`, made what parameter k's type needs.
template <std::size_t N>
std::vector<Expr> host_args(const Expr& words, const std::array<CParam, N>& params) {
  std::vector<Expr> args;
  for (std::size_t k = 0; k < N; ++k)
    args.push_back(host_arg(load(words, static_cast<std::int64_t>(8 * k), 64), params[k].width, params[k].sign));
  return args;
}

// call(f, words): the payload calls the C function f with the row at `words`.
template <std::size_t N>
Program calls_host(const std::array<CParam, N>& params) {
  return Program{{Function{"call", {"f", "words"}, {Return{Call{Var{"f"}, host_args(Var{"words"}, params)}}}}}};
}

}  // namespace

#if defined(__x86_64__)
TEST_CASE("a payload calls host C functions of 16 and 9 mixed-width parameters") {
  const auto rows = raw_rows();
  auto check = [&](auto n, void* fn, const auto& params) {
    constexpr std::size_t N = decltype(n)::value;
    auto img = crumble::assemble<crumble::arch::amd64>(calls_host(params));
    Loaded l(img);
    auto call = l.entry<std::int64_t (*)(void*, const std::uint64_t*)>(img);
    for (const auto& row : rows) {
      INFO(N << " parameters, row starting " << row[0]);
      CHECK(call(fn, row.data()) == oracle<N>(row));
    }
  };
  check(std::integral_constant<std::size_t, 16>{}, reinterpret_cast<void*>(&host_abi_mix16), mix16_params);
  check(std::integral_constant<std::size_t, 9>{}, reinterpret_cast<void*>(&host_abi_mix9), mix9_params);
}

// The other way: compiled C++ calls a payload function of 16 parameters, 10 of them on the
// stack, three of them narrow (read through ir::narrow, as the ABI leaves their upper bits
// unspecified).
TEST_CASE("host C++ calls a payload function of 16 parameters, narrow ones among them") {
  std::vector<std::string_view> names{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p"};
  Expr mix = Var{"a"};
  for (std::size_t k = 1; k < 16; ++k) {
    Expr v = Var{names[k]};
    if (k == 9) v = narrow(Var{names[k]}, 8, Extend::zero);     // uint8_t
    if (k == 12) v = narrow(Var{names[k]}, 16, Extend::sign);   // int16_t
    if (k == 15) v = narrow(Var{names[k]}, 32, Extend::zero);   // uint32_t
    mix = std::move(mix) * 31 + std::move(v);
  }
  auto img = crumble::assemble<crumble::arch::amd64>(Program{{Function{"mix", names, {Return{mix}}}}});
  Loaded l(img);
  using Fn = std::int64_t (*)(std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                              std::int64_t, std::int64_t, std::int64_t, std::uint8_t, std::int64_t, std::int64_t,
                              std::int16_t, std::int64_t, std::int64_t, std::uint32_t);
  auto fn = l.entry<Fn>(img);
  for (const auto& w : raw_rows()) {
    std::array<std::int64_t, 16> v{};
    for (std::size_t k = 0; k < 16; ++k) v[k] = static_cast<std::int64_t>(w[k]);
    // What the payload must compute: the narrow ones as their C types hold them.
    std::uint64_t want = static_cast<std::uint64_t>(v[0]);
    for (std::size_t k = 1; k < 16; ++k) {
      std::uint64_t x = static_cast<std::uint64_t>(v[k]);
      if (k == 9) x = static_cast<std::uint8_t>(x);
      if (k == 12) x = static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<std::int16_t>(x)));
      if (k == 15) x = static_cast<std::uint32_t>(x);
      want = want * 31 + x;
    }
    CHECK(fn(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], static_cast<std::uint8_t>(v[9]), v[10], v[11],
             static_cast<std::int16_t>(v[12]), v[13], v[14], static_cast<std::uint32_t>(v[15])) ==
          static_cast<std::int64_t>(want));
  }
}
#endif

// ARM64 and RISC-V: the program maps Clang's code for the C function into executable memory,
// calls it with each row and prints the results; the host's own build of the same C is the oracle.
namespace {

std::string host_abi_code(const char* fn, const char* arch) {
  const std::string dir = CRUMBLE_HOST_ABI_DIR;
  if (dir.empty()) {
    std::fprintf(stderr, "SKIPPED: no Clang to cross-compile tests/host_abi/callee.c (see tests/CMakeLists.txt)\n");
    std::exit(4);
  }
  std::ifstream in(dir + "/" + fn + "_" + arch + ".bin", std::ios::binary);
  std::string code{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  REQUIRE(!code.empty());
  return code;
}

template <std::size_t N>
Program foreign_caller(std::string_view code, const std::vector<std::array<std::uint64_t, 16>>& rows,
                       const std::array<CParam, N>& params) {
  Var p{"p"}, i{"i"};
  BufferAddr words{"words"};
  Block body{
      Assign{p, syscall(Sys::mmap, {0, 65536, 7, 0x22, -1, 0})},  // PROT_READ|WRITE|EXEC, MAP_PRIVATE|ANONYMOUS
      If{uge(p, -4096), {Printf{"mmap failed %d\n", {p}}, Return{1}}},
      While{i < static_cast<std::int64_t>(code.size()), {store(p + i, 0, 8, load(Embed{code} + i, 0, 8)), Assign{i, i + 1}}},
      CacheFlush{p, static_cast<std::int64_t>(code.size())},
      InstructionBarrier{},
  };
  for (const auto& row : rows) {
    for (std::size_t k = 0; k < N; ++k)
      body.push_back(store(words, static_cast<std::int64_t>(8 * k), 64, Int64{static_cast<std::int64_t>(row[k])}));
    body.push_back(Printf{"%d\n", {Call{p, host_args(words, params)}}});
  }
  return Program{{Function{"main", {}, std::move(body), {Buffer{"words", 8 * 16}}}}};
}

template <class Target, std::size_t N>
void check_foreign(const char* fn, const char* arch, const char* emulator, const std::array<CParam, N>& params) {
  const auto options = crumble::test::emulated(emulator);
  const std::string code = host_abi_code(fn, arch);
  const auto rows = raw_rows();
  std::string want;
  for (const auto& row : rows) want += std::to_string(oracle<N>(row)) + "\n";
  const auto got = crumble::test::run_elf(crumble::executable<Target>(foreign_caller(code, rows, params)), options);
  INFO(fn << " on " << arch << ": " << got.describe());
  REQUIRE(got.error.empty());
  CHECK(got.out == want);
  CHECK(got.status == 0);
}

}  // namespace

TEST_CASE("an ARM64 payload calls Clang-built C functions of 16 and 9 mixed-width parameters") {
  check_foreign<crumble::arch::arm64>("host_abi_mix16", "arm64", "qemu-aarch64", mix16_params);
  check_foreign<crumble::arch::arm64>("host_abi_mix9", "arm64", "qemu-aarch64", mix9_params);
}

TEST_CASE("a RISC-V payload calls Clang-built C functions of 16 and 9 mixed-width parameters") {
  check_foreign<crumble::arch::riscv64>("host_abi_mix16", "riscv64", "qemu-riscv64", mix16_params);
  check_foreign<crumble::arch::riscv64>("host_abi_mix9", "riscv64", "qemu-riscv64", mix9_params);
}

namespace {
// Constants that need the longest load sequence on RISC-V (8 instructions), each returned:
// ~36 bytes of code per 2 nodes, over the bound the constexpr assemble guesses from the node
// count (assemble.hpp), so it must fall back to the counting and filling passes.
constexpr Program over_bound() {
  Function f{"main"};
  for (std::int64_t i = 0; i < 64; ++i) f.body.push_back(Return{Int64{0x1234'5678'9abc'def1 + (i << 33)}});
  return Program{{f}};
}
// The same bytes as at run time for one program under the bound and one over it, per target.
template <class Target, class Make>
void same_as_run_time(Make make, bool over) {
  constexpr auto bound = crumble::assemble_detail::image_bound(crumble::ir::program_size(Make{}()));
  constexpr auto fixed = crumble::assemble<Target>(Make{});
  auto img = crumble::assemble<Target>(make());
  CHECK((img.bytes.size() > bound.bytes) == over);
  CHECK(std::vector<std::uint8_t>(fixed.bytes.begin(), fixed.bytes.end()) == img.bytes);
  CHECK(std::vector<std::uint32_t>(fixed.relocs.begin(), fixed.relocs.end()) == img.relocs);
  CHECK(fixed.code_size == img.code_size);
  CHECK(fixed.entry == img.entry);
}
}  // namespace

TEST_CASE("constexpr assembly over its size bound falls back to two passes, same bytes") {
  same_as_run_time<crumble::arch::riscv64>([] { return over_bound(); }, true);
  same_as_run_time<crumble::arch::amd64>([] { return relocating(); }, false);
  same_as_run_time<crumble::arch::arm64>([] { return relocating(); }, false);
}
