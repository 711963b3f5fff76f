// SPDX-License-Identifier: Apache-2.0
// encode_bench — the same AMD64 instruction stream encoded by crumble, asmjit and xbyak.
//
// A stream of 10,000 instructions is generated once (fixed seed): mov reg,reg / mov reg,imm /
// xor r32,r32 / add-sub-cmp-and-or-xor reg,imm and reg,reg / loads and stores [base+disp] of
// 8..64 bits / lea / imul / shl-shr-sar reg,imm / push / pop, over all 16 registers (rsp, rbp,
// r12, r13 as bases included: they need SIB bytes or explicit displacements). No labels.
//
// Every benchmark walks the same std::vector<Ins> with the same switch, so the per-instruction
// dispatch cost is equal for all; only the encoder call differs. Each iteration rewinds its
// output (clear()/setOffset(0)/reset()) and reuses the allocation, so no benchmark allocates in
// steady state.
//
//   crumble/buffer  code::Buffer<arch::amd64>::put(amd64::...)   (what the lowering does)
//   crumble/raw     amd64::...() into a preallocated byte array: 16-byte copy, advance by size
//   asmjit          x86::Assembler over a CodeHolder (asmjit from libasmjit-dev, static lib)
//   xbyak           Xbyak::CodeGenerator (header-only)
//
// Before the benchmarks run, main() encodes every instruction of the stream with each encoder
// separately and compares the bytes; differences are counted per instruction kind and printed
// (see README.md for why the encoders legitimately differ where they do).
#include <benchmark/benchmark.h>

#include <crumble/arch/amd64/encoder.hpp>
#include <crumble/arch/amd64/target.hpp>
#include <crumble/code/buffer.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#if CRUMBLE_BENCH_HAVE_ASMJIT
#include <asmjit/x86.h>
#endif
#if CRUMBLE_BENCH_HAVE_XBYAK
#define XBYAK_NO_OP_NAMES
#include <xbyak/xbyak.h>
#endif

namespace {

namespace x = crumble::amd64;

enum class K : std::uint8_t { mov_rr, mov_ri, zero, alu_ri, alu_rr, load, store, lea, imul_rr, imul_rri, shift, push, pop };
constexpr const char* kind_name[] = {"mov r,r",  "mov r,imm", "xor r32,r32", "alu r,imm", "alu r,r", "load",
                                     "store",    "lea",       "imul r,r",    "imul r,r,imm", "shift r,imm",
                                     "push",     "pop"};

struct Ins {
  K k;
  std::uint8_t a = 0, b = 0;  // register numbers (0 = rax ... 15 = r15); for memory forms b is the base
  std::uint8_t op = 0;        // alu: x::Alu; shift: x::Shift
  std::uint8_t width = 64;    // load/store width
  bool sign = false;          // load: sign-extend
  std::int64_t imm = 0;       // immediate or displacement
};

std::vector<Ins> make_stream(std::size_t n, std::uint32_t seed = 12345) {
  std::mt19937 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto reg = [&] { return static_cast<std::uint8_t>(pick(0, 15)); };
  auto disp = [&]() -> std::int64_t {
    switch (pick(0, 3)) {
      case 0: return 0;
      case 1: return pick(-128, 127);
      case 2: return 8 * pick(0, 15);
      default: return pick(-100000, 100000);
    }
  };
  auto imm32 = [&]() -> std::int64_t { return pick(0, 1) ? pick(-128, 127) : pick(-2000000000, 2000000000); };
  constexpr x::Alu alus[] = {x::Alu::add, x::Alu::sub, x::Alu::cmp, x::Alu::and_, x::Alu::or_, x::Alu::xor_};
  constexpr x::Shift shifts[] = {x::Shift::shl, x::Shift::shr, x::Shift::sar};
  constexpr int widths[] = {8, 16, 32, 64};
  // Weights per kind, in percent.
  std::discrete_distribution<int> kind({16, 9, 3, 16, 8, 14, 10, 5, 3, 3, 4, 4, 5});
  std::vector<Ins> s;
  s.reserve(n);
  while (s.size() < n) {
    Ins i{static_cast<K>(kind(rng))};
    i.a = reg();
    i.b = reg();
    switch (i.k) {
      case K::mov_ri:
        switch (pick(0, 3)) {
          case 0: i.imm = pick(1, 1000); break;                                          // mov r32, imm32
          case 1: i.imm = std::int64_t{0x80000000} + pick(0, 0x7ffffff); break;          // mov r32, imm32 (>= 2^31)
          case 2: i.imm = pick(-1000000, -1); break;                                     // mov r64, simm32
          default: i.imm = static_cast<std::int64_t>((std::uint64_t{rng()} << 32) | rng() | (1ull << 62)); // movabs
        }
        break;
      case K::alu_ri: i.op = static_cast<std::uint8_t>(alus[pick(0, 5)]); i.imm = imm32(); break;
      case K::alu_rr: i.op = static_cast<std::uint8_t>(alus[pick(0, 5)]); break;
      case K::load: i.width = widths[pick(0, 3)]; i.sign = i.width != 64 && pick(0, 1); i.imm = disp(); break;
      case K::store: i.width = widths[pick(0, 3)]; i.imm = disp(); break;
      case K::lea: i.imm = disp(); break;
      case K::imul_rri: i.imm = imm32(); break;
      case K::shift: i.op = static_cast<std::uint8_t>(shifts[pick(0, 2)]); i.imm = pick(1, 63); break;
      default: break;
    }
    s.push_back(i);
  }
  return s;
}

const std::vector<Ins>& stream() {
  static const std::vector<Ins> s = make_stream(10000);
  return s;
}

// ---- crumble ------------------------------------------------------------------------------

inline x::Gp gp(std::uint8_t r) { return static_cast<x::Gp>(r); }

inline x::Inst crumble_encode(const Ins& i) {
  switch (i.k) {
    case K::mov_rr: return x::mov(gp(i.a), gp(i.b));
    case K::mov_ri: return x::mov(gp(i.a), i.imm);
    case K::zero: return x::zero(gp(i.a));
    case K::alu_ri: return x::alu(static_cast<x::Alu>(i.op), gp(i.a), static_cast<std::int32_t>(i.imm));
    case K::alu_rr: return x::alu(static_cast<x::Alu>(i.op), gp(i.a), gp(i.b));
    case K::load: return x::load(gp(i.a), {gp(i.b), static_cast<std::int32_t>(i.imm)}, i.width, i.sign);
    case K::store: return x::store({gp(i.b), static_cast<std::int32_t>(i.imm)}, gp(i.a), i.width);
    case K::lea: return x::lea(gp(i.a), {gp(i.b), static_cast<std::int32_t>(i.imm)});
    case K::imul_rr: return x::imul(gp(i.a), gp(i.b));
    case K::imul_rri: return x::imul(gp(i.a), gp(i.b), static_cast<std::int32_t>(i.imm));
    case K::shift: return x::shift(static_cast<x::Shift>(i.op), gp(i.a), static_cast<std::uint8_t>(i.imm));
    case K::push: return x::push(gp(i.a));
    case K::pop: return x::pop(gp(i.a));
  }
  return {};
}

using Buf = crumble::code::Buffer<crumble::arch::amd64>;

void crumble_buffer_run(Buf& buf, const std::vector<Ins>& s) {
  buf.bytes.clear();
  for (const Ins& i : s) buf.put(crumble_encode(i));
}

// Writes into a preallocated array with room for 16 bytes past the end: copy the whole Inst
// array (fixed size, so a couple of moves), advance by its size.
std::size_t crumble_raw_run(std::uint8_t* out, const std::vector<Ins>& s) {
  std::uint8_t* p = out;
  for (const Ins& i : s) {
    x::Inst e = crumble_encode(i);
    std::memcpy(p, e.bytes, sizeof e.bytes);
    p += e.size;
  }
  return static_cast<std::size_t>(p - out);
}

void BM_crumble_buffer(benchmark::State& st) {
  const auto& s = stream();
  Buf buf;
  buf.bytes.reserve(16 * s.size());
  for (auto _ : st) {
    crumble_buffer_run(buf, s);
    benchmark::DoNotOptimize(buf.bytes.data());
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * s.size()));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * buf.bytes.size()));
}
BENCHMARK(BM_crumble_buffer)->Name("encode/crumble/buffer");

void BM_crumble_raw(benchmark::State& st) {
  const auto& s = stream();
  std::vector<std::uint8_t> out(16 * s.size() + 16);
  std::size_t n = 0;
  for (auto _ : st) {
    n = crumble_raw_run(out.data(), s);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * s.size()));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * n));
}
BENCHMARK(BM_crumble_raw)->Name("encode/crumble/raw");

// ---- asmjit -------------------------------------------------------------------------------
#if CRUMBLE_BENCH_HAVE_ASMJIT
namespace aj = asmjit::x86;

inline asmjit::x86::Mem aj_mem(int width, std::uint8_t base, std::int64_t disp) {
  auto d = static_cast<std::int32_t>(disp);
  switch (width) {
    case 8: return aj::byte_ptr(aj::gpq(base), d);
    case 16: return aj::word_ptr(aj::gpq(base), d);
    case 32: return aj::dword_ptr(aj::gpq(base), d);
    default: return aj::qword_ptr(aj::gpq(base), d);
  }
}
inline asmjit::x86::Gp aj_reg(int width, std::uint8_t r) {
  switch (width) {
    case 8: return aj::gpb(r);
    case 16: return aj::gpw(r);
    case 32: return aj::gpd(r);
    default: return aj::gpq(r);
  }
}

inline void asmjit_encode(aj::Assembler& a, const Ins& i) {
  const aj::Gp ra = aj::gpq(i.a), rb = aj::gpq(i.b);
  switch (i.k) {
    case K::mov_rr: a.mov(ra, rb); break;
    // asmjit keeps the operand size it is given: mov(gpq, imm) is 7 bytes (C7) for imm < 2^31 and
    // 10 (movabs) up to 2^32. crumble and xbyak pick the 5-byte mov r32, imm32 (zero-extends) for
    // 0 < imm < 2^32; asking asmjit for gpd there gives the same bytes, so the work is the same.
    case K::mov_ri:
      if (i.imm > 0 && i.imm <= 0xffffffff) a.mov(aj::gpd(i.a), i.imm);
      else a.mov(ra, i.imm);
      break;
    case K::zero: a.xor_(aj::gpd(i.a), aj::gpd(i.a)); break;
    case K::alu_ri:
    case K::alu_rr: {
      asmjit::Operand src = i.k == K::alu_ri ? asmjit::Operand(asmjit::Imm(i.imm)) : asmjit::Operand(rb);
      switch (static_cast<x::Alu>(i.op)) {
        case x::Alu::add: a.emit(aj::Inst::kIdAdd, ra, src); break;
        case x::Alu::sub: a.emit(aj::Inst::kIdSub, ra, src); break;
        case x::Alu::cmp: a.emit(aj::Inst::kIdCmp, ra, src); break;
        case x::Alu::and_: a.emit(aj::Inst::kIdAnd, ra, src); break;
        case x::Alu::or_: a.emit(aj::Inst::kIdOr, ra, src); break;
        case x::Alu::xor_: a.emit(aj::Inst::kIdXor, ra, src); break;
      }
      break;
    }
    case K::load: {
      aj::Mem m = aj_mem(i.width, i.b, i.imm);
      if (i.width == 64) a.mov(ra, m);
      else if (i.width == 32) i.sign ? a.movsxd(ra, m) : a.mov(aj::gpd(i.a), m);
      else i.sign ? a.movsx(ra, m) : a.movzx(aj::gpd(i.a), m);
      break;
    }
    case K::store: a.mov(aj_mem(i.width, i.b, i.imm), aj_reg(i.width, i.a)); break;
    case K::lea: a.lea(ra, aj::ptr(rb, static_cast<std::int32_t>(i.imm))); break;
    case K::imul_rr: a.imul(ra, rb); break;
    case K::imul_rri: a.imul(ra, rb, i.imm); break;
    case K::shift:
      switch (static_cast<x::Shift>(i.op)) {
        case x::Shift::shl: a.shl(ra, i.imm); break;
        case x::Shift::shr: a.shr(ra, i.imm); break;
        case x::Shift::sar: a.sar(ra, i.imm); break;
      }
      break;
    case K::push: a.push(ra); break;
    case K::pop: a.pop(ra); break;
  }
}

struct AsmjitSession {
  asmjit::CodeHolder code;
  aj::Assembler a;
  AsmjitSession() {
    asmjit::Environment env(asmjit::Arch::kX64);
    code.init(env);
    code.attach(&a);
  }
  std::size_t size() { return code.textSection()->buffer().size(); }
  const std::uint8_t* data() { return code.textSection()->buffer().data(); }
};

void BM_asmjit(benchmark::State& st) {
  const auto& s = stream();
  AsmjitSession j;
  for (const Ins& i : s) asmjit_encode(j.a, i);  // grow the section buffer once
  for (auto _ : st) {
    j.a.setOffset(0);
    for (const Ins& i : s) asmjit_encode(j.a, i);
    benchmark::DoNotOptimize(j.data());
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * s.size()));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * j.a.offset()));
}
BENCHMARK(BM_asmjit)->Name("encode/asmjit");
#endif

// ---- xbyak --------------------------------------------------------------------------------
#if CRUMBLE_BENCH_HAVE_XBYAK
inline const Xbyak::AddressFrame& xb_frame(Xbyak::CodeGenerator& g, int width) {
  switch (width) {
    case 8: return g.byte;
    case 16: return g.word;
    case 32: return g.dword;
    default: return g.qword;
  }
}
inline Xbyak::Reg xb_reg(int width, std::uint8_t r) {
  switch (width) {
    case 8: return Xbyak::Reg8(r, r >= 4 && r < 8);  // spl bpl sil dil need REX, not ah ch dh bh
    case 16: return Xbyak::Reg16(r);
    case 32: return Xbyak::Reg32(r);
    default: return Xbyak::Reg64(r);
  }
}

inline void xbyak_encode(Xbyak::CodeGenerator& g, const Ins& i) {
  const Xbyak::Reg64 ra(i.a), rb(i.b);
  const int disp = static_cast<int>(i.imm);
  switch (i.k) {
    case K::mov_rr: g.mov(ra, rb); break;
    case K::mov_ri: g.mov(ra, static_cast<std::uint64_t>(i.imm)); break;
    case K::zero: g.xor_(Xbyak::Reg32(i.a), Xbyak::Reg32(i.a)); break;
    case K::alu_ri: {
      const std::uint32_t v = static_cast<std::uint32_t>(i.imm);
      switch (static_cast<x::Alu>(i.op)) {
        case x::Alu::add: g.add(ra, v); break;
        case x::Alu::sub: g.sub(ra, v); break;
        case x::Alu::cmp: g.cmp(ra, v); break;
        case x::Alu::and_: g.and_(ra, v); break;
        case x::Alu::or_: g.or_(ra, v); break;
        case x::Alu::xor_: g.xor_(ra, v); break;
      }
      break;
    }
    case K::alu_rr:
      switch (static_cast<x::Alu>(i.op)) {
        case x::Alu::add: g.add(ra, rb); break;
        case x::Alu::sub: g.sub(ra, rb); break;
        case x::Alu::cmp: g.cmp(ra, rb); break;
        case x::Alu::and_: g.and_(ra, rb); break;
        case x::Alu::or_: g.or_(ra, rb); break;
        case x::Alu::xor_: g.xor_(ra, rb); break;
      }
      break;
    case K::load: {
      Xbyak::Address m = xb_frame(g, i.width)[rb + disp];
      if (i.width == 64) g.mov(ra, m);
      else if (i.width == 32) i.sign ? g.movsxd(ra, m) : g.mov(Xbyak::Reg32(i.a), m);
      else i.sign ? g.movsx(ra, m) : g.movzx(Xbyak::Reg32(i.a), m);
      break;
    }
    case K::store: g.mov(xb_frame(g, i.width)[rb + disp], xb_reg(i.width, i.a)); break;
    case K::lea: g.lea(ra, g.ptr[rb + disp]); break;
    case K::imul_rr: g.imul(ra, rb); break;
    case K::imul_rri: g.imul(ra, rb, static_cast<int>(i.imm)); break;
    case K::shift:
      switch (static_cast<x::Shift>(i.op)) {
        case x::Shift::shl: g.shl(ra, static_cast<int>(i.imm)); break;
        case x::Shift::shr: g.shr(ra, static_cast<int>(i.imm)); break;
        case x::Shift::sar: g.sar(ra, static_cast<int>(i.imm)); break;
      }
      break;
    case K::push: g.push(ra); break;
    case K::pop: g.pop(ra); break;
  }
}

// Allocated, but never mprotect'ed to RWX: the code is not run.
struct XbyakGen : Xbyak::CodeGenerator {
  XbyakGen() : Xbyak::CodeGenerator(1 << 20, Xbyak::DontSetProtectRWE) {}
};

void BM_xbyak(benchmark::State& st) {
  const auto& s = stream();
  XbyakGen g;
  for (auto _ : st) {
    g.reset();
    for (const Ins& i : s) xbyak_encode(g, i);
    benchmark::DoNotOptimize(g.getCode());
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * s.size()));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * g.getSize()));
}
BENCHMARK(BM_xbyak)->Name("encode/xbyak");
#endif

// ---- byte-for-byte check --------------------------------------------------------------------

std::string hex(const std::uint8_t* p, std::size_t n) {
  std::string s;
  char b[4];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(b, sizeof b, i ? " %02x" : "%02x", p[i]);
    s += b;
  }
  return s;
}

std::string describe(const Ins& i) {
  char b[96];
  std::snprintf(b, sizeof b, "%s a=%d b=%d op=%d w=%d sign=%d imm=%lld", kind_name[static_cast<int>(i.k)], i.a, i.b,
                i.op, i.width, i.sign, static_cast<long long>(i.imm));
  return b;
}

// Compares crumble's encoding of every instruction with a peer's; prints a summary per kind.
template <class Encode>
void compare(const char* peer, const std::vector<Ins>& s, Encode peer_encode) {
  std::map<int, std::pair<int, int>> per_kind;  // kind -> (differ, total)
  std::map<int, std::string> example;
  std::size_t same = 0, crumble_bytes = 0, peer_bytes = 0;
  for (const Ins& i : s) {
    x::Inst c = crumble_encode(i);
    std::vector<std::uint8_t> p = peer_encode(i);
    crumble_bytes += c.size;
    peer_bytes += p.size();
    bool eq = p.size() == c.size && std::equal(p.begin(), p.end(), c.begin());
    auto& [differ, total] = per_kind[static_cast<int>(i.k)];
    ++total;
    if (eq) {
      ++same;
    } else {
      ++differ;
      if (!example.count(static_cast<int>(i.k)))
        example[static_cast<int>(i.k)] =
            describe(i) + ": crumble " + hex(c.begin(), c.size) + " | " + peer + " " + hex(p.data(), p.size());
    }
  }
  std::printf("check crumble vs %s: %zu/%zu instructions identical; code size crumble %zu B, %s %zu B\n", peer, same,
              s.size(), crumble_bytes, peer, peer_bytes);
  for (auto& [k, dt] : per_kind)
    if (dt.first)
      std::printf("  %-13s %5d of %5d differ, e.g. %s\n", kind_name[k], dt.first, dt.second, example[k].c_str());
}

void check() {
  const auto& s = stream();
  // The whole stream through both crumble paths must agree.
  Buf buf;
  crumble_buffer_run(buf, s);
  std::vector<std::uint8_t> raw(16 * s.size() + 16);
  raw.resize(crumble_raw_run(raw.data(), s));
  if (raw != buf.bytes) std::printf("check: crumble/raw and crumble/buffer DIFFER\n");
#if CRUMBLE_BENCH_HAVE_ASMJIT
  {
    AsmjitSession whole;
    for (const Ins& i : s) asmjit_encode(whole.a, i);
    std::printf("check crumble vs asmjit, whole stream: %s\n",
                whole.size() == buf.bytes.size() && std::memcmp(whole.data(), buf.bytes.data(), whole.size()) == 0
                    ? "identical"
                    : "different (see per-instruction summary)");
    compare("asmjit", s, [](const Ins& i) {
      AsmjitSession j;
      asmjit_encode(j.a, i);
      return std::vector<std::uint8_t>(j.data(), j.data() + j.size());
    });
  }
#else
  std::printf("asmjit: not built (not found by CMake)\n");
#endif
#if CRUMBLE_BENCH_HAVE_XBYAK
  {
    XbyakGen whole;
    for (const Ins& i : s) xbyak_encode(whole, i);
    std::printf("check crumble vs xbyak, whole stream: %s\n",
                whole.getSize() == buf.bytes.size() && std::memcmp(whole.getCode(), buf.bytes.data(), whole.getSize()) == 0
                    ? "identical"
                    : "different (see per-instruction summary)");
    XbyakGen g;
    compare("xbyak", s, [&g](const Ins& i) {
      g.reset();
      xbyak_encode(g, i);
      return std::vector<std::uint8_t>(g.getCode(), g.getCode() + g.getSize());
    });
  }
#else
  std::printf("xbyak: not built (not found by CMake)\n");
#endif
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  check();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
