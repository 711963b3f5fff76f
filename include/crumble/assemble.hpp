// SPDX-License-Identifier: Apache-2.0
// crumble/assemble.hpp — the front door: IR program in, machine code out.
//
//   code::Image img = crumble::assemble<crumble::arch::amd64>(program);      // run time
//   constexpr auto img = crumble::assemble<crumble::arch::amd64>([] { return program(); });
//   std::vector<std::uint8_t> elf = crumble::executable<crumble::arch::amd64>(program);
//   constexpr auto elf = crumble::executable<crumble::arch::amd64>([] { return program(); });
//
// One code path serves both. At compile time the program is given as a function (a lambda
// without captures) so it can be built inside constant evaluation. A std::array needs its size
// before it is filled, and lowering is most of the cost, so the program is lowered once, into
// arrays of a fixed capacity (64 KiB of image, 1024 relocations: a constexpr variable,
// evaluated once), and the result is a copy of exactly the bytes used. Only a program that
// outgrows them is built a second time: its nodes are counted (ir/program_size.hpp) for a
// generous bound on its image, and it is lowered into arrays of that bound. One that outgrows
// even that (more than ~12 bytes of code per node) falls back to lowering twice more: once to
// learn the size (the counting pass, which lays out without encoding), once into an array of
// that size (the filling pass). Tests assert the bytes equal the run-time result.
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <iterator>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "code/buffer.hpp"
#include "code/piece.hpp"
#include "elf.hpp"
#include "ir/nodes.hpp"
#include "ir/program_size.hpp"
#include "lower.hpp"

namespace crumble {

// A payload: code + read-only data, its relocation table and its bss.
template <class Target>
constexpr code::Image assemble(const ir::Program& p) {
  lower::Lowering<Target> l(p);
  l.lower_all();
  return l.buf.finish(l.entry());
}

namespace assemble_detail {
// Appends the start stub that calls the entry function; the label to start at.
template <class Target>
constexpr code::Label add_start(lower::Lowering<Target>& l) {
  code::Label start = l.buf.new_label();
  l.buf.bind(start);
  Target::start_stub(l.buf, l.entry());
  return start;
}
// Lowers the program and appends the start stub. Shared by the run-time executable() and the
// constexpr ones, so all lower alike.
template <class Target>
constexpr code::Label lower_executable(lower::Lowering<Target>& l) {
  l.lower_all();
  return add_start(l);
}
}  // namespace assemble_detail

// A static ELF64 executable that calls the first function as main(argc, argv, envp) and exits
// with its result.
template <class Target>
constexpr std::vector<std::uint8_t> executable(const ir::Program& p) {
  lower::Lowering<Target> l(p);
  const code::Label start = assemble_detail::lower_executable(l);
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

namespace assemble_detail {

// An upper bound, for all programs we have measured, on the bytes and relocations an image can
// need: code per node (the corpus and the init need 2.7-9.2 bytes; spills and calls inside
// deep expressions are the most), per function (prologue, epilogue, parameter moves), printf's
// run-time routine (~1 KB) and every embedded byte. Too small only costs a second lowering.
struct Bound {
  std::size_t bytes, relocs;
};
constexpr Bound image_bound(const ir::ProgramSize& s) {
  return Bound{64 + 12 * s.nodes + 128 * s.functions + (s.printfs ? 4096 : 0) + s.embedded_bytes,
               16 + s.addresses};
}

// The capacity tried first, before the program is measured: building the program only once
// saves ~7 % of the memory of a constexpr assembly (init500, amd64); the init is 6.8 KB, the
// 548-statement program 15-18 KB. A larger program costs one lowering more.
inline constexpr Bound first_try{65536, 1024};

// An image made into arrays of a bound: `fits` says whether it did, `size`/`reloc_count` how
// much of them it used.
template <std::size_t N, std::size_t R>
struct BoundedImage {
  StaticImage<N, R> image;
  bool fits = false;
  std::size_t size = 0, reloc_count = 0;
};

// A loop over pointers, several elements per statement in constant evaluation (std::copy and
// operator[] add calls per element; Clang counts statements).
template <class E>
constexpr void copy_n(const E* from, std::size_t n, E* to) {
  code::pod_vector_detail::copy(from, from + n, to);
}

// The image of a lowered program made into arrays of a bound: the linked bytes go into the
// arrays without becoming a std::vector.
template <std::size_t N, std::size_t R, class Target>
constexpr BoundedImage<N, R> bounded_image(const lower::Lowering<Target>& l) {
  BoundedImage<N, R> out;
  const code::Linked img = l.buf.finish_linked(l.entry());
  if (img.bytes.size() > N || img.relocs.size() > R) return out;
  copy_n(img.bytes.data(), img.bytes.size(), out.image.bytes.data());
  copy_n(img.relocs.data(), img.relocs.size(), out.image.relocs.data());
  out.image.bss_offset = img.bss_offset;
  out.image.bss_size = img.bss_size;
  out.image.code_size = img.code_size;
  out.image.entry = img.entry;
  out.fits = true;
  out.size = img.bytes.size();
  out.reloc_count = img.relocs.size();
  return out;
}

// The image of p made into arrays of a bound. The buffer's bytes are reserved to the bound, so
// they never reallocate.
template <class Target, std::size_t N, std::size_t R>
constexpr BoundedImage<N, R> bounded(const ir::Program& p) {
  lower::Lowering<Target> l(p);
  l.buf.bytes.reserve(N);
  l.lower_all();
  return bounded_image<N, R>(l);
}

// The first n bytes and r relocations of `from`, other fields as they are.
template <std::size_t N, std::size_t R, std::size_t FN, std::size_t FR>
constexpr StaticImage<N, R> trimmed(const StaticImage<FN, FR>& from) {
  StaticImage<N, R> out;
  copy_n(from.bytes.data(), N, out.bytes.data());
  copy_n(from.relocs.data(), R, out.relocs.data());
  out.bss_offset = from.bss_offset;
  out.bss_size = from.bss_size;
  out.code_size = from.code_size;
  out.entry = from.entry;
  return out;
}

// The executable of a lowered program (`start`: its start stub) made into an array of Cap
// bytes, as executable(p) makes it; .second is its size, 0 when it does not fit. As
// bounded_image(): the bytes go into the array without becoming a std::vector.
template <std::size_t Cap, class Target>
constexpr std::pair<std::array<std::uint8_t, Cap>, std::size_t> executable_image(const lower::Lowering<Target>& l,
                                                                                code::Label start) {
  std::pair<std::array<std::uint8_t, Cap>, std::size_t> out{};
  const code::Linked img = l.buf.finish_linked(start, elf::image_address);
  const std::vector<std::uint8_t> head =
      elf::headers(img.entry, img.bytes.size(), img.bss_offset, img.bss_size, Target::elf_machine);
  if (head.size() + img.bytes.size() > Cap) return out;
  copy_n(head.data(), head.size(), out.first.data());
  copy_n(img.bytes.data(), img.bytes.size(), out.first.data() + head.size());
  out.second = head.size() + img.bytes.size();
  return out;
}

// The executable of p made into an array of Cap bytes (bytes reserved, as in bounded()).
template <class Target, std::size_t Cap>
constexpr std::pair<std::array<std::uint8_t, Cap>, std::size_t> executable_bounded(const ir::Program& p) {
  lower::Lowering<Target> l(p);
  l.buf.bytes.reserve(Cap);
  const code::Label start = lower_executable(l);
  return executable_image<Cap>(l, start);
}

// assemble() for a program over the first capacity.
template <class Target, ProgramMaker Make>
consteval auto sized(Make) {
  constexpr auto bound = assemble_detail::image_bound(ir::program_size(Make{}()));
  constexpr auto once = assemble_detail::bounded<Target, bound.bytes, bound.relocs>(Make{}());
  if constexpr (once.fits) {
    return assemble_detail::trimmed<once.size, once.reloc_count>(once.image);
  } else {
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
}

// executable() for a program over the first capacity.
template <class Target, ProgramMaker Make>
consteval auto executable_sized(Make) {
  constexpr auto bound = image_bound(ir::program_size(Make{}()));
  constexpr auto once = executable_bounded<Target, elf::image_offset + 256 + bound.bytes>(Make{}());
  if constexpr (once.second != 0) {
    std::array<std::uint8_t, once.second> out{};
    copy_n(once.first.data(), once.second, out.data());
    return out;
  } else {
    constexpr std::size_t n = [] {  // the counting pass
      const ir::Program p = Make{}();
      lower::Lowering<Target> l(p);
      lower_executable(l);
      return elf::image_offset + l.buf.image_size();
    }();
    std::array<std::uint8_t, n> out{};
    auto file = executable<Target>(Make{}());
    std::copy(file.begin(), file.end(), out.begin());
    return out;
  }
}

// The first lowering of assemble() and executable(), as variables of their own: each is then a
// constant expression evaluated once, apart from the function that reads it. A constexpr
// variable declared inside the consteval function would be evaluated again as part of that
// function's evaluation by Clang, so its steps (-fconstexpr-steps is per constant expression)
// would count twice, the lowering's and the copy's.
template <class Target, class Make>
inline constexpr auto first_image = bounded<Target, first_try.bytes, first_try.relocs>(Make{}());
template <class Target, class Make>
inline constexpr auto first_executable = executable_bounded<Target, elf::image_offset + first_try.bytes>(Make{}());

}  // namespace assemble_detail

template <class Target, ProgramMaker Make>
consteval auto assemble(Make m) {
  constexpr const auto& first = assemble_detail::first_image<Target, Make>;
  if constexpr (first.fits) {
    return assemble_detail::trimmed<first.size, first.reloc_count>(first.image);
  } else {
    return assemble_detail::sized<Target>(m);
  }
}

template <class Target, ProgramMaker Make>
consteval auto executable(Make) {
  // As for assemble: one lowering into an array of the first capacity, then (a larger program)
  // into one of a bound counted from the program, the counting and filling passes only when
  // that is too small too.
  constexpr const auto& first = assemble_detail::first_executable<Target, Make>;
  if constexpr (first.second != 0) {
    std::array<std::uint8_t, first.second> out{};
    assemble_detail::copy_n(first.first.data(), first.second, out.data());
    return out;
  } else {
    return assemble_detail::executable_sized<Target>(Make{});
  }
}

// ---- assembly by function ---------------------------------------------------------------------
//
// A program given function by function: the compilers bound the work of one constant
// expression (Clang's -fconstexpr-steps is 1,048,576 statements by default), and the forms above
// build and lower a whole program in one. Given by function, the functions are built and
// lowered a few at a time, each group in a constant expression of its own (code/piece.hpp), and
// a last one joins and links the pieces: the same bytes, and no limit to raise for programs of
// many functions (the join, which links the whole program, still grows with it).
//
//   P::function_names   the functions' names, in the program's order (an array of string_view)
//   P::globals()        the program's globals (std::vector<ir::Global>)
//   P::function(i)      function i, whole (named function_names[i])
//   P::function_nodes   optional: each function's IR nodes (ir::function_size), an array. Groups
//                       are consecutive functions of at most piece_nodes nodes in all; without
//                       it every function is a group of its own (each group costs the compiler
//                       a fixed ~20 ms: declaring every function again)
//
// crumble-rtg writes one beside each program (NAME_by_function, rtg/emit_cpp.hpp), so building
// a function builds nothing else. crumble::ByFunction<Make> makes one of any program maker; it
// builds the whole program for every group, so it pays when lowering, not building, is what a
// program costs. A group of more than piece_nodes is a function that large alone: the limits
// then bound that function.
template <class P>
concept ProgramByFunction = requires(std::size_t i) {
  { std::size(P::function_names) } -> std::convertible_to<std::size_t>;
  { std::span<const std::string_view>(P::function_names) };
  { P::globals() } -> std::same_as<std::vector<ir::Global>>;
  { P::function(i) } -> std::same_as<ir::Function>;
};

// About 300 Clang steps a node for building, lowering and destroying (bench/README.md §3): a
// group stays near 600 K of the 1,048,576 default. A function costs about as much as 8 nodes
// more (its frame, its per-function tables), so a group of many tiny functions is bounded too.
inline constexpr std::size_t piece_nodes = 2048;
inline constexpr std::size_t function_cost = 8;

template <ProgramMaker Make>
struct ByFunction {
  static constexpr std::size_t count = Make{}().functions.size();
  static constexpr auto function_names = [] {
    std::array<std::string_view, count> names;
    const ir::Program p = Make{}();
    for (std::size_t i = 0; i < count; ++i) names[i] = p.functions[i].name;
    return names;
  }();
  static constexpr auto function_nodes = [] {
    std::array<std::size_t, count> nodes{};
    const ir::Program p = Make{}();
    for (std::size_t i = 0; i < count; ++i) nodes[i] = ir::function_size(p.functions[i]).nodes;
    return nodes;
  }();
  static constexpr std::vector<ir::Global> globals() { return Make{}().globals; }
  static constexpr ir::Function function(std::size_t i) { return Make{}().functions[i]; }
};

namespace assemble_detail {

template <class P>
inline constexpr std::size_t function_count = std::size(P::function_names);

// Where each group of functions starts, and function_count<P> after the last.
template <class P>
constexpr std::size_t group_starts(std::size_t* out) {
  std::size_t groups = 0, nodes = 0;
  for (std::size_t i = 0; i < function_count<P>; ++i) {
    std::size_t n = piece_nodes;  // unknown: a group of its own
    if constexpr (requires { P::function_nodes[i]; })
      n = static_cast<std::size_t>(P::function_nodes[i]) + function_cost;
    if (i == 0 || nodes + n > piece_nodes) {
      if (out) out[groups] = i;
      ++groups;
      nodes = 0;
    }
    nodes += n;
  }
  if (out) out[groups] = function_count<P>;
  return groups;
}
template <class P>
inline constexpr std::size_t group_count = group_starts<P>(nullptr);
template <class P>
inline constexpr auto groups = [] {
  std::array<std::size_t, group_count<P> + 1> starts{};
  group_starts<P>(starts.data());
  return starts;
}();

// Group g of P's functions lowered alone; g == group_count<P>: printf's routines.
template <class Target, class P>
constexpr code::Piece lower_piece(std::size_t g) {
  lower::Lowering<Target> l(P::function_names, P::globals());
  const auto shared = static_cast<std::uint32_t>(l.buf.labels.size());  // the functions' labels
  if (g == group_count<P>) {
    l.lower_printf_runtime();
    return code::freeze(l.buf, shared, false);
  }
  bool uses_printf = false;
  for (std::size_t i = groups<P>[g]; i < groups<P>[g + 1]; ++i) {
    const ir::Function f = P::function(i);
    uses_printf = uses_printf || lower::Lowering<Target>::uses_printf(f.body);
    l.lower(f);
  }
  return code::freeze(l.buf, shared, uses_printf);
}
template <class Target, class P, std::size_t G>
inline constexpr code::Piece piece = lower_piece<Target, P>(G);

// The pieces as an array of pointers, not a fold over the groups: Clang nests a fold's operands
// and stops at 256.
template <class Target, class P, std::size_t... G>
constexpr std::array<const code::Piece*, sizeof...(G)> piece_list(std::index_sequence<G...>) {
  return {&piece<Target, P, G>...};
}
template <class Target, class P>
inline constexpr auto group_pieces = piece_list<Target, P>(std::make_index_sequence<group_count<P>>{});

template <class Target, class P>
constexpr bool pieces_fit() {
  for (const code::Piece* p : group_pieces<Target, P>)
    if (!p->fits) return false;
  return true;
}
// printf's routines are lowered (after every group, as Lowering::lower_all does) when a group
// uses them.
template <class Target, class P>
constexpr bool with_printf() {
  for (const code::Piece* p : group_pieces<Target, P>)
    if (p->uses_printf) return true;
  return false;
}

// Bounds for the joined image: every piece's bytes and read-only data, and each branch or call
// at 32 bytes (the longest form of any target is 12).
template <class Target, class P>
constexpr Bound joined_bound() {
  Bound b{64, 16};
  auto add = [&](const code::Piece& p) {
    b.bytes += p.byte_count + 32 * std::size_t{p.item_count} + p.rodata_size;
    b.relocs += p.reloc_count;
  };
  for (const code::Piece* p : group_pieces<Target, P>) add(*p);
  if constexpr (with_printf<Target, P>()) add(piece<Target, P, group_count<P>>);
  return b;
}

// Appends every piece to a Lowering made from P's names and globals, ready to link.
template <class Target, class P>
constexpr void join(lower::Lowering<Target>& l) {
  for (const code::Piece* p : group_pieces<Target, P>) code::append(l.buf, *p);
  if constexpr (with_printf<Target, P>()) {
    code::append(l.buf, piece<Target, P, group_count<P>>);
  } else {
    // Without Printf the whole program declares no printf routine, so naming one is naming an
    // undefined function; here it is declared (ids function_count<P>...) but never lowered.
    auto check = [](std::uint32_t id) {
      if (id >= function_count<P> && id < function_count<P> + std::size(ir::printf_runtime_names))
        detail::fail(errc::undefined_function, ir::printf_runtime_names[id - function_count<P>]);
    };
    for (const code::Item& i : l.buf.items) check(i.label);
    for (const code::Reloc& r : l.buf.relocs)
      if (r.section == code::Section::code) check(r.target);
  }
}

template <class Target, class P>
constexpr Bound joined_bytes = joined_bound<Target, P>();

template <class Target, class P>
inline constexpr auto joined_image = [] {
  constexpr Bound b = joined_bytes<Target, P>;
  lower::Lowering<Target> l(P::function_names, P::globals());
  l.buf.bytes.reserve(b.bytes);
  join<Target, P>(l);
  return bounded_image<b.bytes, b.relocs>(l);
}();

template <class Target, class P>
inline constexpr auto joined_executable = [] {
  constexpr std::size_t cap = elf::image_offset + 256 + joined_bytes<Target, P>.bytes;
  lower::Lowering<Target> l(P::function_names, P::globals());
  l.buf.bytes.reserve(cap);
  join<Target, P>(l);
  return executable_image<cap>(l, add_start(l));
}();

// P as one program maker: the fallback when a group outgrows its piece.
template <class P>
struct WholeProgram {
  constexpr ir::Program operator()() const {
    ir::Program p{{}, P::globals()};
    p.functions.reserve(function_count<P>);
    for (std::size_t i = 0; i < function_count<P>; ++i) p.functions.push_back(P::function(i));
    return p;
  }
};

}  // namespace assemble_detail

template <class Target, ProgramByFunction P>
consteval auto assemble(P) {
  if constexpr (!assemble_detail::pieces_fit<Target, P>()) {
    return assemble<Target>(assemble_detail::WholeProgram<P>{});
  } else {
    constexpr const auto& joined = assemble_detail::joined_image<Target, P>;
    static_assert(joined.fits, "crumble: (internal) the joined image outgrew its bound");
    return assemble_detail::trimmed<joined.size, joined.reloc_count>(joined.image);
  }
}

template <class Target, ProgramByFunction P>
consteval auto executable(P) {
  if constexpr (!assemble_detail::pieces_fit<Target, P>()) {
    return executable<Target>(assemble_detail::WholeProgram<P>{});
  } else {
    constexpr const auto& joined = assemble_detail::joined_executable<Target, P>;
    static_assert(joined.second != 0, "crumble: (internal) the joined executable outgrew its bound");
    std::array<std::uint8_t, joined.second> out{};
    assemble_detail::copy_n(joined.first.data(), joined.second, out.data());
    return out;
  }
}

}  // namespace crumble
