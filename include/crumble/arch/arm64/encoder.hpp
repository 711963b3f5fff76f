// SPDX-License-Identifier: Apache-2.0
// crumble/arch/arm64/encoder.hpp — AArch64 instruction encoder: one line per instruction form.
//
// Each form is written as its 32-bit pattern from the Arm ARM, bit 31 first: '0' and '1' are
// fixed bits, a letter is an operand field. The second string names the fields in argument
// order. add (shifted register) reads:
//
//   emit<"10001011ss0mmmmmiiiiiinnnnnddddd", "dnmsi">(d, n, m, shift, amount)
//
// The pattern is parsed at compile time (layout_of): every field's position and width come from
// the pattern, so encoding at run time is one range check and one shift per field, or-ed into the
// fixed bits. A value that does not fit its field is never truncated: as on every architecture,
// in constant evaluation it is a compile error naming the problem (a call of a non-constexpr
// function in crumble::diagnostic, e.g. value_does_not_fit_its_field), and at run time it throws
// crumble::compile_error with that errc (crumble/error.hpp).
// Fields are unsigned unless the operand is an Simm (two's complement, range -2^(w-1)..2^(w-1)-1).
//
// Registers: Gp names x0..x30, xzr and sp. Both xzr and sp encode as 31; which one a field means
// is fixed by the instruction, and the operand types say it: XReg is x0..x30 or xzr, XRegSp is
// x0..x30 or sp. Passing sp where xzr is meant (or the reverse) fails like an out-of-range value.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

#include "../../bytes.hpp"
#include "../../error.hpp"

namespace crumble::arm64 {

enum class Gp : std::uint8_t {
  x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15,
  x16, x17, x18, x19, x20, x21, x22, x23, x24, x25, x26, x27, x28, x29, x30,
  xzr, sp,
};

// Condition codes, numbered as in the cond field; inverting one flips bit 0.
enum class Cond : std::uint8_t { eq, ne, hs, lo, mi, pl, vs, vc, hi, ls, ge, lt, gt, le, al, nv };
constexpr Cond invert(Cond c) { return static_cast<Cond>(static_cast<std::uint8_t>(c) ^ 1); }

// Shift types of the shifted-register forms (ror exists only for the logical ones).
enum class Shift : std::uint8_t { lsl, lsr, asr, ror };

// Mistakes in a pattern itself, found while parsing it (so always at compile time). Deliberately
// not constexpr: calling one in constant evaluation is a compile error whose text names the
// mistake. A refused operand is reported as every encoder reports one (crumble/error.hpp).
namespace diagnostic {
inline void pattern_field_has_no_operand() {}
inline void operand_letter_not_in_pattern() {}
inline void pattern_field_bits_not_contiguous() {}
inline void pattern_has_a_bad_character() {}
}  // namespace diagnostic

namespace detail {

constexpr void fail(errc code) { crumble::detail::fail(code, {}, "an arm64 instruction"); }
constexpr void fail(errc code, std::int64_t value) { crumble::detail::fail_operand(code, "arm64", "operand", value); }

// A string literal as a template argument.
template <std::size_t N>
struct Bits {
  char text[N]{};
  static constexpr std::size_t size = N - 1;
  consteval Bits(const char (&s)[N]) {
    for (std::size_t i = 0; i < N; ++i) text[i] = s[i];
  }
};

struct Field {
  std::uint8_t lsb = 0, width = 0;
};
template <std::size_t K>
struct Layout {
  std::uint32_t fixed = 0;
  std::array<Field, K> fields{};
};

template <Bits P, Bits F>
consteval Layout<F.size> layout() {
  static_assert(P.size == 32, "an instruction pattern has 32 bits");
  Layout<F.size> l;
  for (int i = 0; i < 32; ++i) {
    const char c = P.text[i];
    if (c == '1') l.fixed |= 1u << (31 - i);
    if (c == '0' || c == '1') continue;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) diagnostic::pattern_has_a_bad_character();
    bool named = false;
    for (std::size_t k = 0; k < F.size; ++k) named = named || F.text[k] == c;
    if (!named) diagnostic::pattern_field_has_no_operand();
  }
  for (std::size_t k = 0; k < F.size; ++k) {
    int hi = -1, lo = -1, count = 0;
    for (int i = 0; i < 32; ++i)
      if (P.text[i] == F.text[k]) {
        if (hi < 0) hi = 31 - i;
        lo = 31 - i;
        ++count;
      }
    if (count == 0) diagnostic::operand_letter_not_in_pattern();
    if (hi - lo + 1 != count) diagnostic::pattern_field_bits_not_contiguous();
    l.fields[k] = Field{static_cast<std::uint8_t>(lo), static_cast<std::uint8_t>(count)};
  }
  return l;
}
// Parsed once per form.
template <Bits P, Bits F>
inline constexpr Layout<F.size> layout_of = layout<P, F>();

}  // namespace detail

// ---- operands -----------------------------------------------------------------------------
// The checks are in the member initialisers and the bodies empty: Clang counts every statement
// of constant evaluation against -fconstexpr-steps, and an operand is made for every register of
// every instruction (bench/README.md section 3).
namespace detail {
constexpr std::uint8_t refused_register(errc code) {
  fail(code);
  return 0;
}
}  // namespace detail
struct XReg {  // x0..x30, or xzr as 31
  std::uint8_t index;
  constexpr XReg(Gp r)
      : index(r == Gp::sp ? detail::refused_register(errc::sp_is_not_valid_in_this_operand)
                          : static_cast<std::uint8_t>(r)) {}
};
struct XRegSp {  // x0..x30, or sp as 31
  std::uint8_t index;
  constexpr XRegSp(Gp r)
      : index(r == Gp::sp    ? std::uint8_t{31}
              : r == Gp::xzr ? detail::refused_register(errc::xzr_is_not_valid_in_this_operand)
                             : static_cast<std::uint8_t>(r)) {}
};
struct Simm {  // a signed field
  std::int64_t value;
};

// One encoded instruction: the word and its little-endian bytes (for code::Buffer::put).
struct Inst {
  std::uint32_t word;
  std::uint8_t bytes[4]{};  // not std::array: no evaluated call per access in constant evaluation
  constexpr explicit Inst(std::uint32_t w)
      : word(w), bytes{static_cast<std::uint8_t>(w), static_cast<std::uint8_t>(w >> 8),
                       static_cast<std::uint8_t>(w >> 16), static_cast<std::uint8_t>(w >> 24)} {}
  constexpr const std::uint8_t* begin() const { return bytes; }
  constexpr const std::uint8_t* end() const { return bytes + 4; }
};

namespace detail {
constexpr std::uint64_t operand(XReg r) { return r.index; }
constexpr std::uint64_t operand(XRegSp r) { return r.index; }
constexpr std::uint64_t operand(Cond c) { return static_cast<std::uint64_t>(c); }
constexpr std::uint64_t operand(Shift s) { return static_cast<std::uint64_t>(s); }
constexpr Simm operand(Simm s) { return s; }
template <std::integral I>
constexpr std::uint64_t operand(I v) {
  if constexpr (std::is_signed_v<I>)
    if (v < 0) fail(errc::value_does_not_fit_its_field, v);
  return static_cast<std::uint64_t>(v);
}

template <Field f>
constexpr std::uint32_t put(std::uint64_t v) {
  if (v >> f.width) fail(errc::value_does_not_fit_its_field, static_cast<std::int64_t>(v));
  return static_cast<std::uint32_t>(v) << f.lsb;
}
template <Field f>
constexpr std::uint32_t put(Simm s) {
  constexpr std::int64_t half = std::int64_t{1} << (f.width - 1);
  if (s.value < -half || s.value >= half) fail(errc::value_does_not_fit_its_field, s.value);
  return (static_cast<std::uint32_t>(s.value) & ((1u << f.width) - 1)) << f.lsb;
}

// An operand as a field value, made without a statement (a constructor with an empty body):
// `value` is the operand's bits, `is_signed` says whether the field is two's complement.
struct Arg {
  std::uint64_t value{};
  bool is_signed = false;
  constexpr Arg(XReg r) : value(r.index) {}
  constexpr Arg(XRegSp r) : value(r.index) {}
  constexpr Arg(Cond c) : value(static_cast<std::uint64_t>(c)) {}
  constexpr Arg(Shift s) : value(static_cast<std::uint64_t>(s)) {}
  constexpr Arg(Simm s) : value(static_cast<std::uint64_t>(s.value)), is_signed(true) {}
  // A negative integer for an unsigned field cannot fit: all ones fails the width check below.
  template <std::integral I>
  constexpr Arg(I v) : value(v < 0 ? ~std::uint64_t{0} : static_cast<std::uint64_t>(v)) {}
};
// The slow path, taken only when some operand does not fit: reports the first one, as put does.
template <Bits P, Bits F, std::size_t... I, class... A>
constexpr void refuse(std::index_sequence<I...>, const A&... a) {
  ((void)put<layout_of<P, F>.fields[I]>(operand(a)), ...);
}

// emit<P, F>(operands...) is a call of this object: one evaluated call and one statement for
// the whole instruction in constant evaluation (the field checks and shifts are one expression).
template <Bits P, Bits F, class Seq = std::make_index_sequence<F.size>>
struct Emit;
template <Bits P, Bits F, std::size_t... I>
struct Emit<P, F, std::index_sequence<I...>> {
  static constexpr Layout<F.size> l = layout_of<P, F>;
  // A field's mask and, for a signed field, half its range: -half <= value < half is
  // value + half < 2 * half (mod 2^64).
  static constexpr std::uint64_t mask[F.size + 1] = {((std::uint64_t{1} << l.fields[I].width) - 1)..., 0};
  static constexpr std::uint64_t half[F.size + 1] = {(std::uint64_t{1} << (l.fields[I].width - 1))..., 0};
  static constexpr std::uint8_t lsb[F.size + 1] = {l.fields[I].lsb..., 0};  // std::array's [] is a call
  template <class... A>
  constexpr Inst operator()(const A&... a) const {
    static_assert(sizeof...(A) == F.size, "one operand per field letter");
    const Arg v[F.size + 1] = {Arg(a)..., Arg(0)};
    return ((v[I].is_signed ? v[I].value + half[I] <= mask[I] : v[I].value <= mask[I]) && ...)
               ? Inst{(l.fixed | ... | ((static_cast<std::uint32_t>(v[I].value & mask[I])) << lsb[I]))}
               : (refuse<P, F>(std::index_sequence<I...>{}, a...), Inst{0});
  }
};
template <Bits P, Bits F = "">
inline constexpr Emit<P, F> emit{};

// A byte offset to a field counted in units of `scale` bytes.
constexpr Simm scaled(std::int64_t offset, int scale) {
  if (offset % scale) fail(errc::offset_is_not_a_multiple_of_its_scale, offset);
  return Simm{offset / scale};
}
constexpr std::uint64_t scaled_unsigned(std::int64_t offset, int scale) {
  if (offset < 0) fail(errc::value_does_not_fit_its_field, offset);
  if (offset % scale) fail(errc::offset_is_not_a_multiple_of_its_scale, offset);
  return static_cast<std::uint64_t>(offset / scale);
}
}  // namespace detail

using detail::emit;

// ---- bitmask immediates (and/orr/eor/ands) --------------------------------------------------
// A bitmask immediate is an element of 2, 4, 8, 16, 32 or 64 bits, replicated to fill 64 bits;
// the element is a run of 1..e-1 ones rotated right by immr. N:imms encodes the element size and
// the run length:  N=1 imms=ones-1 for e=64;  N=0 imms = 0b0xxxxx (32), 0b10xxxx (16),
// 0b110xxx (8), 0b1110xx (4), 0b11110x (2), with xx.. = ones-1. 0 and ~0 are not encodable.
struct BitImm {
  std::uint8_t n, immr, imms;
};

constexpr std::optional<BitImm> bitmask(std::uint64_t v) {
  if (v == 0 || v == ~std::uint64_t{0}) return std::nullopt;
  int e = 64;  // the smallest element that v replicates
  while (e > 2) {
    const int half = e / 2;
    const std::uint64_t m = (std::uint64_t{1} << half) - 1;
    if ((v & m) != ((v >> half) & m)) break;
    e = half;
  }
  const std::uint64_t mask = e == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << e) - 1;
  const std::uint64_t elem = v & mask;
  const int ones = std::popcount(elem);
  const std::uint64_t run = (std::uint64_t{1} << ones) - 1;  // ones < 64 here
  // r: how far elem must rotate right to bring its run of ones down to bit 0.
  int r;
  if ((elem & 1) == 0) {
    r = std::countr_zero(elem);
    if ((elem >> r) != run) return std::nullopt;
  } else {  // the run wraps around: its complement is one run of zeros in the middle
    const std::uint64_t zeros = ~elem & mask;
    const int tz = std::countr_zero(zeros);
    if ((zeros >> tz) != (std::uint64_t{1} << std::popcount(zeros)) - 1) return std::nullopt;
    r = tz + std::popcount(zeros);
  }
  const int immr = (e - r) % e;
  const int imms = ((~(e - 1) << 1) | (ones - 1)) & 0x3f;
  return BitImm{static_cast<std::uint8_t>(e == 64), static_cast<std::uint8_t>(immr), static_cast<std::uint8_t>(imms)};
}
constexpr bool is_bitmask_immediate(std::uint64_t v) { return bitmask(v).has_value(); }
// A 32-bit operation's immediate: the 32-bit value replicated, element at most 32 bits.
constexpr std::optional<BitImm> bitmask32(std::uint32_t v) {
  auto b = bitmask(std::uint64_t{v} << 32 | v);
  if (b && b->n) return std::nullopt;
  return b;
}
namespace detail {
constexpr BitImm need_bitmask(std::optional<BitImm> b, std::uint64_t v) {
  if (!b) fail(errc::not_a_bitmask_immediate, static_cast<std::int64_t>(v));
  return b ? *b : BitImm{};
}
}  // namespace detail

// ---- moves --------------------------------------------------------------------------------
// mov xd, xm (orr xd, xzr, xm) and mov to/from sp (add xd, xn, #0).
constexpr Inst mov(XReg d, XReg m) { return emit<"10101010000mmmmm00000011111ddddd", "dm">(d, m); }
constexpr Inst mov_sp(XRegSp d, XRegSp n) { return emit<"1001000100000000000000nnnnnddddd", "dn">(d, n); }
// Move wide: imm16 << (16 * hw).
constexpr Inst movz(XReg d, std::uint32_t imm16, unsigned hw = 0) { return emit<"110100101hhiiiiiiiiiiiiiiiiddddd", "dih">(d, imm16, hw); }
constexpr Inst movn(XReg d, std::uint32_t imm16, unsigned hw = 0) { return emit<"100100101hhiiiiiiiiiiiiiiiiddddd", "dih">(d, imm16, hw); }
constexpr Inst movk(XReg d, std::uint32_t imm16, unsigned hw = 0) { return emit<"111100101hhiiiiiiiiiiiiiiiiddddd", "dih">(d, imm16, hw); }
// The 32-bit forms clear bits 63:32: movn wd gives 0x00000000_ffff_xxxx-like values in one go.
constexpr Inst movz_w(XReg d, std::uint32_t imm16, unsigned hw = 0) { return emit<"0101001010hiiiiiiiiiiiiiiiiddddd", "dih">(d, imm16, hw); }
constexpr Inst movn_w(XReg d, std::uint32_t imm16, unsigned hw = 0) { return emit<"0001001010hiiiiiiiiiiiiiiiiddddd", "dih">(d, imm16, hw); }

// ---- add/sub ------------------------------------------------------------------------------
// Immediate: imm12, optionally lsl #12 (lsl12 = 1). adds/subs write flags; cmp is subs xzr.
constexpr Inst add(XRegSp d, XRegSp n, std::uint32_t imm12, unsigned lsl12 = 0) { return emit<"100100010siiiiiiiiiiiinnnnnddddd", "dnis">(d, n, imm12, lsl12); }
constexpr Inst adds(XReg d, XRegSp n, std::uint32_t imm12, unsigned lsl12 = 0) { return emit<"101100010siiiiiiiiiiiinnnnnddddd", "dnis">(d, n, imm12, lsl12); }
constexpr Inst sub(XRegSp d, XRegSp n, std::uint32_t imm12, unsigned lsl12 = 0) { return emit<"110100010siiiiiiiiiiiinnnnnddddd", "dnis">(d, n, imm12, lsl12); }
constexpr Inst subs(XReg d, XRegSp n, std::uint32_t imm12, unsigned lsl12 = 0) { return emit<"111100010siiiiiiiiiiiinnnnnddddd", "dnis">(d, n, imm12, lsl12); }
// Shifted register: m shifted by amount (0..63); ror is reserved here.
namespace detail {
constexpr Shift arith_shift(Shift s) {
  if (s == Shift::ror) fail(errc::invalid_operand);
  return s;
}
}  // namespace detail
constexpr Inst add(XReg d, XReg n, XReg m, Shift s = Shift::lsl, unsigned amount = 0) { return emit<"10001011ss0mmmmmiiiiiinnnnnddddd", "dnmsi">(d, n, m, detail::arith_shift(s), amount); }
constexpr Inst sub(XReg d, XReg n, XReg m, Shift s = Shift::lsl, unsigned amount = 0) { return emit<"11001011ss0mmmmmiiiiiinnnnnddddd", "dnmsi">(d, n, m, detail::arith_shift(s), amount); }
constexpr Inst subs(XReg d, XReg n, XReg m, Shift s = Shift::lsl, unsigned amount = 0) { return emit<"11101011ss0mmmmmiiiiiinnnnnddddd", "dnmsi">(d, n, m, detail::arith_shift(s), amount); }
// Extended register with uxtx #0: the add/sub that takes sp as d or n and a register operand.
constexpr Inst add_ext(XRegSp d, XRegSp n, XReg m) { return emit<"10001011001mmmmm011000nnnnnddddd", "dnm">(d, n, m); }
constexpr Inst sub_ext(XRegSp d, XRegSp n, XReg m) { return emit<"11001011001mmmmm011000nnnnnddddd", "dnm">(d, n, m); }

// ---- logical ------------------------------------------------------------------------------
constexpr Inst and_(XReg d, XReg n, XReg m, Shift s = Shift::lsl, unsigned amount = 0) { return emit<"10001010ss0mmmmmiiiiiinnnnnddddd", "dnmsi">(d, n, m, s, amount); }
constexpr Inst orr(XReg d, XReg n, XReg m, Shift s = Shift::lsl, unsigned amount = 0) { return emit<"10101010ss0mmmmmiiiiiinnnnnddddd", "dnmsi">(d, n, m, s, amount); }
constexpr Inst eor(XReg d, XReg n, XReg m, Shift s = Shift::lsl, unsigned amount = 0) { return emit<"11001010ss0mmmmmiiiiiinnnnnddddd", "dnmsi">(d, n, m, s, amount); }
// Bitmask immediates; `v` must satisfy is_bitmask_immediate.
constexpr Inst and_(XRegSp d, XReg n, std::uint64_t v) { auto b = detail::need_bitmask(bitmask(v), v); return emit<"100100100Nrrrrrrssssssnnnnnddddd", "dnNrs">(d, n, b.n, b.immr, b.imms); }
constexpr Inst orr(XRegSp d, XReg n, std::uint64_t v) { auto b = detail::need_bitmask(bitmask(v), v); return emit<"101100100Nrrrrrrssssssnnnnnddddd", "dnNrs">(d, n, b.n, b.immr, b.imms); }
constexpr Inst eor(XRegSp d, XReg n, std::uint64_t v) { auto b = detail::need_bitmask(bitmask(v), v); return emit<"110100100Nrrrrrrssssssnnnnnddddd", "dnNrs">(d, n, b.n, b.immr, b.imms); }
constexpr Inst ands(XReg d, XReg n, std::uint64_t v) { auto b = detail::need_bitmask(bitmask(v), v); return emit<"111100100Nrrrrrrssssssnnnnnddddd", "dnNrs">(d, n, b.n, b.immr, b.imms); }
// orr wd, wn, #v (32-bit; clears bits 63:32 of d).
constexpr Inst orr_w(XRegSp d, XReg n, std::uint32_t v) { auto b = detail::need_bitmask(bitmask32(v), v); return emit<"0011001000rrrrrrssssssnnnnnddddd", "dnrs">(d, n, b.immr, b.imms); }

// ---- multiply, divide, shifts ---------------------------------------------------------------
constexpr Inst madd(XReg d, XReg n, XReg m, XReg a) { return emit<"10011011000mmmmm0aaaaannnnnddddd", "dnma">(d, n, m, a); }  // a + n*m
constexpr Inst msub(XReg d, XReg n, XReg m, XReg a) { return emit<"10011011000mmmmm1aaaaannnnnddddd", "dnma">(d, n, m, a); }  // a - n*m
constexpr Inst mul(XReg d, XReg n, XReg m) { return madd(d, n, m, Gp::xzr); }
constexpr Inst udiv(XReg d, XReg n, XReg m) { return emit<"10011010110mmmmm000010nnnnnddddd", "dnm">(d, n, m); }
constexpr Inst sdiv(XReg d, XReg n, XReg m) { return emit<"10011010110mmmmm000011nnnnnddddd", "dnm">(d, n, m); }
// Variable shifts use m modulo 64.
constexpr Inst lslv(XReg d, XReg n, XReg m) { return emit<"10011010110mmmmm001000nnnnnddddd", "dnm">(d, n, m); }
constexpr Inst lsrv(XReg d, XReg n, XReg m) { return emit<"10011010110mmmmm001001nnnnnddddd", "dnm">(d, n, m); }
constexpr Inst asrv(XReg d, XReg n, XReg m) { return emit<"10011010110mmmmm001010nnnnnddddd", "dnm">(d, n, m); }
// Bitfield moves; immediate shifts are their aliases.
constexpr Inst sbfm(XReg d, XReg n, unsigned immr, unsigned imms) { return emit<"1001001101rrrrrrssssssnnnnnddddd", "dnrs">(d, n, immr, imms); }
constexpr Inst ubfm(XReg d, XReg n, unsigned immr, unsigned imms) { return emit<"1101001101rrrrrrssssssnnnnnddddd", "dnrs">(d, n, immr, imms); }
namespace detail {
constexpr unsigned shift_amount(unsigned s) {
  if (s > 63) fail(errc::value_does_not_fit_its_field, s);
  return s;
}
}  // namespace detail
constexpr Inst lsl(XReg d, XReg n, unsigned s) { s = detail::shift_amount(s); return ubfm(d, n, (64 - s) & 63, 63 - s); }
constexpr Inst lsr(XReg d, XReg n, unsigned s) { return ubfm(d, n, detail::shift_amount(s), 63); }
constexpr Inst asr(XReg d, XReg n, unsigned s) { return sbfm(d, n, detail::shift_amount(s), 63); }
constexpr Inst ubfx(XReg d, XReg n, unsigned lsb, unsigned width) { return ubfm(d, n, lsb, lsb + width - 1); }

// ---- loads and stores ----------------------------------------------------------------------
// Unsigned offset, scaled by the access size: 0 <= offset <= 4095 * size, a multiple of size.
// 8/16/32-bit loads zero-extend (ldrb/ldrh/ldr w write the w register, clearing 63:32) or
// sign-extend to 64 bits (ldrsb/ldrsh/ldrsw x).
namespace detail {
template <int Size>
constexpr std::uint64_t uoff(std::int64_t offset) { return scaled_unsigned(offset, Size); }
}  // namespace detail
constexpr Inst strb(XReg t, XRegSp n, std::int64_t off = 0)   { return emit<"0011100100iiiiiiiiiiiinnnnnttttt", "tni">(t, n, detail::uoff<1>(off)); }
constexpr Inst ldrb(XReg t, XRegSp n, std::int64_t off = 0)   { return emit<"0011100101iiiiiiiiiiiinnnnnttttt", "tni">(t, n, detail::uoff<1>(off)); }
constexpr Inst ldrsb(XReg t, XRegSp n, std::int64_t off = 0)  { return emit<"0011100110iiiiiiiiiiiinnnnnttttt", "tni">(t, n, detail::uoff<1>(off)); }
constexpr Inst strh(XReg t, XRegSp n, std::int64_t off = 0)   { return emit<"0111100100iiiiiiiiiiiinnnnnttttt", "tni">(t, n, detail::uoff<2>(off)); }
constexpr Inst ldrh(XReg t, XRegSp n, std::int64_t off = 0)   { return emit<"0111100101iiiiiiiiiiiinnnnnttttt", "tni">(t, n, detail::uoff<2>(off)); }
constexpr Inst ldrsh(XReg t, XRegSp n, std::int64_t off = 0)  { return emit<"0111100110iiiiiiiiiiiinnnnnttttt", "tni">(t, n, detail::uoff<2>(off)); }
constexpr Inst str_w(XReg t, XRegSp n, std::int64_t off = 0)  { return emit<"1011100100iiiiiiiiiiiinnnnnttttt", "tni">(t, n, detail::uoff<4>(off)); }
constexpr Inst ldr_w(XReg t, XRegSp n, std::int64_t off = 0)  { return emit<"1011100101iiiiiiiiiiiinnnnnttttt", "tni">(t, n, detail::uoff<4>(off)); }
constexpr Inst ldrsw(XReg t, XRegSp n, std::int64_t off = 0)  { return emit<"1011100110iiiiiiiiiiiinnnnnttttt", "tni">(t, n, detail::uoff<4>(off)); }
constexpr Inst str(XReg t, XRegSp n, std::int64_t off = 0)    { return emit<"1111100100iiiiiiiiiiiinnnnnttttt", "tni">(t, n, detail::uoff<8>(off)); }
constexpr Inst ldr(XReg t, XRegSp n, std::int64_t off = 0)    { return emit<"1111100101iiiiiiiiiiiinnnnnttttt", "tni">(t, n, detail::uoff<8>(off)); }
// Unscaled signed offset: -256 <= offset <= 255.
constexpr Inst sturb(XReg t, XRegSp n, std::int64_t off)  { return emit<"00111000000iiiiiiiii00nnnnnttttt", "tni">(t, n, Simm{off}); }
constexpr Inst ldurb(XReg t, XRegSp n, std::int64_t off)  { return emit<"00111000010iiiiiiiii00nnnnnttttt", "tni">(t, n, Simm{off}); }
constexpr Inst ldursb(XReg t, XRegSp n, std::int64_t off) { return emit<"00111000100iiiiiiiii00nnnnnttttt", "tni">(t, n, Simm{off}); }
constexpr Inst sturh(XReg t, XRegSp n, std::int64_t off)  { return emit<"01111000000iiiiiiiii00nnnnnttttt", "tni">(t, n, Simm{off}); }
constexpr Inst ldurh(XReg t, XRegSp n, std::int64_t off)  { return emit<"01111000010iiiiiiiii00nnnnnttttt", "tni">(t, n, Simm{off}); }
constexpr Inst ldursh(XReg t, XRegSp n, std::int64_t off) { return emit<"01111000100iiiiiiiii00nnnnnttttt", "tni">(t, n, Simm{off}); }
constexpr Inst stur_w(XReg t, XRegSp n, std::int64_t off) { return emit<"10111000000iiiiiiiii00nnnnnttttt", "tni">(t, n, Simm{off}); }
constexpr Inst ldur_w(XReg t, XRegSp n, std::int64_t off) { return emit<"10111000010iiiiiiiii00nnnnnttttt", "tni">(t, n, Simm{off}); }
constexpr Inst ldursw(XReg t, XRegSp n, std::int64_t off) { return emit<"10111000100iiiiiiiii00nnnnnttttt", "tni">(t, n, Simm{off}); }
constexpr Inst stur(XReg t, XRegSp n, std::int64_t off)   { return emit<"11111000000iiiiiiiii00nnnnnttttt", "tni">(t, n, Simm{off}); }
constexpr Inst ldur(XReg t, XRegSp n, std::int64_t off)   { return emit<"11111000010iiiiiiiii00nnnnnttttt", "tni">(t, n, Simm{off}); }
// Register offset [n, m] (option lsl, no scaling): any displacement held in m.
constexpr Inst strb(XReg t, XRegSp n, XReg m)  { return emit<"00111000001mmmmm011010nnnnnttttt", "tnm">(t, n, m); }
constexpr Inst ldrb(XReg t, XRegSp n, XReg m)  { return emit<"00111000011mmmmm011010nnnnnttttt", "tnm">(t, n, m); }
constexpr Inst ldrsb(XReg t, XRegSp n, XReg m) { return emit<"00111000101mmmmm011010nnnnnttttt", "tnm">(t, n, m); }
constexpr Inst strh(XReg t, XRegSp n, XReg m)  { return emit<"01111000001mmmmm011010nnnnnttttt", "tnm">(t, n, m); }
constexpr Inst ldrh(XReg t, XRegSp n, XReg m)  { return emit<"01111000011mmmmm011010nnnnnttttt", "tnm">(t, n, m); }
constexpr Inst ldrsh(XReg t, XRegSp n, XReg m) { return emit<"01111000101mmmmm011010nnnnnttttt", "tnm">(t, n, m); }
constexpr Inst str_w(XReg t, XRegSp n, XReg m) { return emit<"10111000001mmmmm011010nnnnnttttt", "tnm">(t, n, m); }
constexpr Inst ldr_w(XReg t, XRegSp n, XReg m) { return emit<"10111000011mmmmm011010nnnnnttttt", "tnm">(t, n, m); }
constexpr Inst ldrsw(XReg t, XRegSp n, XReg m) { return emit<"10111000101mmmmm011010nnnnnttttt", "tnm">(t, n, m); }
constexpr Inst str(XReg t, XRegSp n, XReg m)   { return emit<"11111000001mmmmm011010nnnnnttttt", "tnm">(t, n, m); }
constexpr Inst ldr(XReg t, XRegSp n, XReg m)   { return emit<"11111000011mmmmm011010nnnnnttttt", "tnm">(t, n, m); }
// Literal: the 64-bit word at pc + offset (±1 MiB, a multiple of 4).
constexpr Inst ldr_literal(XReg t, std::int64_t off) { return emit<"01011000iiiiiiiiiiiiiiiiiiittttt", "ti">(t, detail::scaled(off, 4)); }
// Pairs, offset scaled by 8 (-512..504): signed offset, pre-index ([n, #o]!), post-index ([n], #o).
constexpr Inst stp(XReg t, XReg u, XRegSp n, std::int64_t off)      { return emit<"1010100100iiiiiiiuuuuunnnnnttttt", "tuni">(t, u, n, detail::scaled(off, 8)); }
constexpr Inst stp_pre(XReg t, XReg u, XRegSp n, std::int64_t off)  { return emit<"1010100110iiiiiiiuuuuunnnnnttttt", "tuni">(t, u, n, detail::scaled(off, 8)); }
constexpr Inst stp_post(XReg t, XReg u, XRegSp n, std::int64_t off) { return emit<"1010100010iiiiiiiuuuuunnnnnttttt", "tuni">(t, u, n, detail::scaled(off, 8)); }
constexpr Inst ldp(XReg t, XReg u, XRegSp n, std::int64_t off)      { return emit<"1010100101iiiiiiiuuuuunnnnnttttt", "tuni">(t, u, n, detail::scaled(off, 8)); }
constexpr Inst ldp_pre(XReg t, XReg u, XRegSp n, std::int64_t off)  { return emit<"1010100111iiiiiiiuuuuunnnnnttttt", "tuni">(t, u, n, detail::scaled(off, 8)); }
constexpr Inst ldp_post(XReg t, XReg u, XRegSp n, std::int64_t off) { return emit<"1010100011iiiiiiiuuuuunnnnnttttt", "tuni">(t, u, n, detail::scaled(off, 8)); }

// ---- branches -----------------------------------------------------------------------------
// Offsets are bytes from this instruction, multiples of 4: b/bl ±128 MiB, the rest ±1 MiB.
constexpr Inst b(std::int64_t off)              { return emit<"000101iiiiiiiiiiiiiiiiiiiiiiiiii", "i">(detail::scaled(off, 4)); }
constexpr Inst bl(std::int64_t off)             { return emit<"100101iiiiiiiiiiiiiiiiiiiiiiiiii", "i">(detail::scaled(off, 4)); }
constexpr Inst b(Cond c, std::int64_t off)      { return emit<"01010100iiiiiiiiiiiiiiiiiii0cccc", "ci">(c, detail::scaled(off, 4)); }
constexpr Inst cbz(XReg t, std::int64_t off)    { return emit<"10110100iiiiiiiiiiiiiiiiiiittttt", "ti">(t, detail::scaled(off, 4)); }
constexpr Inst cbnz(XReg t, std::int64_t off)   { return emit<"10110101iiiiiiiiiiiiiiiiiiittttt", "ti">(t, detail::scaled(off, 4)); }
constexpr Inst br(XReg n)                       { return emit<"1101011000011111000000nnnnn00000", "n">(n); }
constexpr Inst blr(XReg n)                      { return emit<"1101011000111111000000nnnnn00000", "n">(n); }
constexpr Inst ret(XReg n = Gp::x30)            { return emit<"1101011001011111000000nnnnn00000", "n">(n); }
// adr: pc + offset (±1 MiB, any byte); the offset is split into immlo (l) and immhi (h).
constexpr Inst adr(XReg d, std::int64_t off)    { return emit<"0ll10000hhhhhhhhhhhhhhhhhhhddddd", "dlh">(d, static_cast<std::uint64_t>(off & 3), Simm{off >> 2}); }

// ---- system -------------------------------------------------------------------------------
constexpr Inst svc(std::uint32_t imm16)     { return emit<"11010100000iiiiiiiiiiiiiiii00001", "i">(imm16); }
constexpr Inst brk(std::uint32_t imm16)     { return emit<"11010100001iiiiiiiiiiiiiiii00000", "i">(imm16); }
constexpr Inst nop()                        { return emit<"11010101000000110010000000011111">(); }
constexpr Inst dsb_ish()                    { return emit<"11010101000000110011101110011111">(); }  // CRm = 1011: inner shareable
constexpr Inst isb()                        { return emit<"11010101000000110011111111011111">(); }
constexpr Inst dc_cvau(XReg t)              { return emit<"110101010000101101111011001ttttt", "t">(t); }  // sys #3, c7, c11, #1
constexpr Inst ic_ivau(XReg t)              { return emit<"110101010000101101110101001ttttt", "t">(t); }  // sys #3, c7, c5, #1
constexpr Inst mrs_ctr_el0(XReg t)          { return emit<"110101010011101100000000001ttttt", "t">(t); }  // op0=3 op1=3 c0 c0 op2=1

}  // namespace crumble::arm64
