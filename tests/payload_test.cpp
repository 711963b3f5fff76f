// SPDX-License-Identifier: Apache-2.0
// Payloads: code assembled at run time, loaded at an arbitrary address by applying the
// relocation table, and called in this process. Checks that absolute addresses (functions,
// globals in bss, embedded bytes) are correct wherever the payload lands, and that the
// constexpr and run-time images are identical.
#include <catch2/catch.hpp>
#include <crumble/crumble.hpp>

#include <cstring>
#include <sys/mman.h>

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
