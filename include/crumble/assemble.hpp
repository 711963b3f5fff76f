// SPDX-License-Identifier: Apache-2.0
// crumble/assemble.hpp — the front door: IR program in, machine code out.
//
//   code::Image img = crumble::assemble<crumble::arch::amd64>(program);      // run time
//   constexpr auto img = crumble::assemble<crumble::arch::amd64>([] { return program(); });
//   std::vector<std::uint8_t> elf = crumble::executable<crumble::arch::amd64>(program);
//   constexpr auto elf = crumble::executable<crumble::arch::amd64>([] { return program(); });
//
// One code path serves both. At compile time the program is given as a function (a lambda
// without captures) so it can be built inside constant evaluation; the size of the result is
// found by assembling once and reading the size (the counting pass), then the bytes are made
// again into a std::array of exactly that size (the filling pass). Tests assert the bytes equal
// the run-time result.
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "code/buffer.hpp"
#include "elf.hpp"
#include "ir/nodes.hpp"
#include "lower.hpp"

namespace crumble {

// A payload: code + read-only data, its relocation table and its bss.
template <class Target>
constexpr code::Image assemble(const ir::Program& p) {
  lower::Lowering<Target> l(p);
  l.lower_all();
  return l.buf.finish(l.entry());
}

// A static ELF64 executable that calls the first function as main(argc, argv, envp) and exits
// with its result.
template <class Target>
constexpr std::vector<std::uint8_t> executable(const ir::Program& p) {
  lower::Lowering<Target> l(p);
  l.lower_all();
  code::Label start = l.buf.new_label();
  l.buf.bind(start);
  Target::start_stub(l.buf, l.entry());
  return elf::file(l.buf.finish(start, elf::image_address), Target::elf_machine);
}

// The compile-time form of code::Image: fixed-size arrays, same fields.
template <std::size_t N, std::size_t R>
struct StaticImage {
  std::array<std::uint8_t, N> bytes{};
  std::array<std::uint32_t, R> relocs{};
  std::uint64_t bss_offset = 0, bss_size = 0, code_size = 0, entry = 0;
};

template <class F>
concept ProgramMaker = std::default_initializable<F> && std::is_invocable_r_v<ir::Program, F>;

template <class Target, ProgramMaker Make>
consteval auto assemble(Make) {
  constexpr auto n = [] {  // the counting pass: lower and lay out, but encode nothing
    const ir::Program p = Make{}();
    lower::Lowering<Target> l(p);
    l.lower_all();
    return std::pair{l.buf.image_size(), l.buf.relocs.size()};
  }();
  code::Image img = assemble<Target>(Make{}());
  StaticImage<n.first, n.second> out;
  std::copy(img.bytes.begin(), img.bytes.end(), out.bytes.begin());
  std::copy(img.relocs.begin(), img.relocs.end(), out.relocs.begin());
  out.bss_offset = img.bss_offset;
  out.bss_size = img.bss_size;
  out.code_size = img.code_size;
  out.entry = img.entry;
  return out;
}

template <class Target, ProgramMaker Make>
consteval auto executable(Make) {
  constexpr std::size_t n = [] {  // the counting pass, as for assemble
    const ir::Program p = Make{}();
    lower::Lowering<Target> l(p);
    l.lower_all();
    code::Label start = l.buf.new_label();
    l.buf.bind(start);
    Target::start_stub(l.buf, l.entry());
    return elf::image_offset + l.buf.image_size();
  }();
  std::array<std::uint8_t, n> out{};
  auto file = executable<Target>(Make{}());
  std::copy(file.begin(), file.end(), out.begin());
  return out;
}

}  // namespace crumble
