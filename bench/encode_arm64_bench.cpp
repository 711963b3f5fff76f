// SPDX-License-Identifier: Apache-2.0
// encode_arm64_bench — the same AArch64 instruction stream encoded by crumble and asmjit.
//
// A stream of 10,000 instructions is generated once (fixed seed): mov xd,xm / movz / movk /
// add-sub xd,xn,#imm12 (some with lsl #12) and xd,xn,xm / and-orr-eor xd,xn,#bitmask /
// ldr-str with scaled unsigned offsets of 8, 16, 32 and 64 bits (ldrb/ldrh/ldr w/ldr x and
// strb/strh/str w/str x; bases x0..x30 and sp) / mul / sdiv / lsl-lsr xd,xn,#imm / cmp xn,#imm
// and cmp xn,xm. Data registers are x0..x30 (never sp or xzr). No labels.
//
// Both encoders walk the same std::vector<Ins> with the same switch, so the per-instruction
// dispatch cost is equal; only the encoder call differs. Each iteration rewinds its output
// (bytes.clear() / Assembler::setOffset(0)) and reuses the allocation.
//
//   crumble/buffer  code::Buffer<arch::arm64>::put(arm64::...)   (what the lowering does)
//   crumble/raw     arm64::...().word stored into a preallocated uint32_t array
//   asmjit          a64::Assembler over a CodeHolder (asmjit from libasmjit-dev, static lib)
//
// Before the benchmarks run, main() encodes every instruction with both encoders separately
// and compares the bytes; differences are counted per instruction kind and printed.
#include <benchmark/benchmark.h>

#include <crumble/arch/arm64/encoder.hpp>
#include <crumble/arch/arm64/target.hpp>
#include <crumble/code/buffer.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#if CRUMBLE_BENCH_HAVE_ASMJIT_A64
#if CRUMBLE_BENCH_ASMJIT_A64_H
#include <asmjit/a64.h>
#else
#include <asmjit/arm.h>  // asmjit before a64.h existed (Debian 12's 2022 snapshot): no Assembler in arm.h
#include <asmjit/arm/a64assembler.h>
#endif
#endif

namespace {

namespace a = crumble::arm64;

enum class K : std::uint8_t { mov_rr, movz, movk, addsub_ri, addsub_rr, logic_ri, load, store, mul, sdiv, shift, cmp_ri, cmp_rr };
constexpr const char* kind_name[] = {"mov x,x", "movz", "movk", "add/sub imm", "add/sub reg", "logic #bitmask", "ldr",
                                     "str", "mul", "sdiv", "lsl/lsr imm", "cmp imm", "cmp reg"};

struct Ins {
  K k;
  std::uint8_t d = 0, n = 0, m = 0;  // register numbers 0..30; 31 as a base means sp
  std::uint8_t op = 0;               // add/sub: 0 add, 1 sub; logic: 0 and, 1 orr, 2 eor; shift: 0 lsl, 1 lsr
  std::uint8_t size = 8;             // load/store access size in bytes
  std::uint8_t hw = 0;               // movz/movk halfword; add/sub imm: lsl #12
  std::uint64_t imm = 0;             // immediate or byte offset
};

// Bitmask immediates: a run of `ones` set bits rotated by `rot` in an element of `esize` bits,
// replicated to 64 bits.
std::uint64_t make_bitmask(unsigned esize, unsigned ones, unsigned rot) {
  std::uint64_t emask = esize == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << esize) - 1;
  std::uint64_t e = (std::uint64_t{1} << ones) - 1;
  if (rot) e = ((e >> rot) | (e << (esize - rot))) & emask;
  std::uint64_t v = 0;
  for (unsigned i = 0; i < 64; i += esize) v |= e << i;
  return v;
}

std::vector<Ins> make_stream(std::size_t count) {
  std::mt19937 rng(2026);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto reg = [&] { return static_cast<std::uint8_t>(pick(0, 30)); };
  std::vector<Ins> s;
  s.reserve(count);
  while (s.size() < count) {
    int r = pick(0, 99);
    Ins i{K::mov_rr};
    i.d = reg();
    i.n = reg();
    i.m = reg();
    if (r < 14) {
      i.k = K::mov_rr;
    } else if (r < 20) {
      i.k = K::movz;
      i.imm = static_cast<std::uint64_t>(pick(0, 0xffff));
      i.hw = static_cast<std::uint8_t>(pick(0, 3));
    } else if (r < 25) {
      i.k = K::movk;
      i.imm = static_cast<std::uint64_t>(pick(0, 0xffff));
      i.hw = static_cast<std::uint8_t>(pick(0, 3));
    } else if (r < 37) {
      i.k = K::addsub_ri;
      i.op = static_cast<std::uint8_t>(pick(0, 1));
      i.imm = static_cast<std::uint64_t>(pick(1, 4095));  // 0 would make asmjit's add/sub #0 a different alias question
      i.hw = pick(0, 9) == 0;                              // lsl #12
    } else if (r < 45) {
      i.k = K::addsub_rr;
      i.op = static_cast<std::uint8_t>(pick(0, 1));
    } else if (r < 53) {
      i.k = K::logic_ri;
      i.op = static_cast<std::uint8_t>(pick(0, 2));
      static constexpr unsigned sizes[] = {2, 4, 8, 16, 32, 64};
      unsigned esize = sizes[pick(0, 5)];
      i.imm = make_bitmask(esize, static_cast<unsigned>(pick(1, static_cast<int>(esize) - 1)),
                           static_cast<unsigned>(pick(0, static_cast<int>(esize) - 1)));
    } else if (r < 79) {
      i.k = r < 67 ? K::load : K::store;
      i.size = static_cast<std::uint8_t>(1 << pick(0, 3));
      i.n = static_cast<std::uint8_t>(pick(0, 31));  // 31: sp
      int slot = pick(0, 9) < 7 ? pick(0, 31) : pick(0, 4095);  // mostly small frames, some far offsets
      i.imm = static_cast<std::uint64_t>(slot) * i.size;
    } else if (r < 85) {
      i.k = K::mul;
    } else if (r < 87) {
      i.k = K::sdiv;
    } else if (r < 93) {
      i.k = K::shift;
      i.op = static_cast<std::uint8_t>(pick(0, 1));
      i.imm = static_cast<std::uint64_t>(pick(1, 63));
    } else if (r < 97) {
      i.k = K::cmp_ri;
      i.imm = static_cast<std::uint64_t>(pick(0, 4095));
    } else {
      i.k = K::cmp_rr;
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

inline a::Gp gp(std::uint8_t r) { return static_cast<a::Gp>(r); }
inline a::Gp base(std::uint8_t r) { return r == 31 ? a::Gp::sp : static_cast<a::Gp>(r); }

inline a::Inst crumble_encode(const Ins& i) {
  switch (i.k) {
    case K::mov_rr: return a::mov(gp(i.d), gp(i.m));
    case K::movz: return a::movz(gp(i.d), static_cast<std::uint32_t>(i.imm), i.hw);
    case K::movk: return a::movk(gp(i.d), static_cast<std::uint32_t>(i.imm), i.hw);
    case K::addsub_ri:
      return i.op ? a::sub(gp(i.d), gp(i.n), static_cast<std::uint32_t>(i.imm), i.hw)
                  : a::add(gp(i.d), gp(i.n), static_cast<std::uint32_t>(i.imm), i.hw);
    case K::addsub_rr: return i.op ? a::sub(gp(i.d), gp(i.n), gp(i.m)) : a::add(gp(i.d), gp(i.n), gp(i.m));
    case K::logic_ri:
      switch (i.op) {
        case 0: return a::and_(gp(i.d), gp(i.n), i.imm);
        case 1: return a::orr(gp(i.d), gp(i.n), i.imm);
        default: return a::eor(gp(i.d), gp(i.n), i.imm);
      }
    case K::load: {
      auto off = static_cast<std::int64_t>(i.imm);
      switch (i.size) {
        case 1: return a::ldrb(gp(i.d), base(i.n), off);
        case 2: return a::ldrh(gp(i.d), base(i.n), off);
        case 4: return a::ldr_w(gp(i.d), base(i.n), off);
        default: return a::ldr(gp(i.d), base(i.n), off);
      }
    }
    case K::store: {
      auto off = static_cast<std::int64_t>(i.imm);
      switch (i.size) {
        case 1: return a::strb(gp(i.d), base(i.n), off);
        case 2: return a::strh(gp(i.d), base(i.n), off);
        case 4: return a::str_w(gp(i.d), base(i.n), off);
        default: return a::str(gp(i.d), base(i.n), off);
      }
    }
    case K::mul: return a::mul(gp(i.d), gp(i.n), gp(i.m));
    case K::sdiv: return a::sdiv(gp(i.d), gp(i.n), gp(i.m));
    case K::shift:
      return i.op ? a::lsr(gp(i.d), gp(i.n), static_cast<unsigned>(i.imm))
                  : a::lsl(gp(i.d), gp(i.n), static_cast<unsigned>(i.imm));
    case K::cmp_ri: return a::subs(a::Gp::xzr, gp(i.n), static_cast<std::uint32_t>(i.imm));
    case K::cmp_rr: return a::subs(a::Gp::xzr, gp(i.n), gp(i.m));
  }
  return a::nop();
}

using Buf = crumble::code::Buffer<crumble::arch::arm64>;

void crumble_buffer_run(Buf& buf, const std::vector<Ins>& s) {
  buf.bytes.clear();
  for (const Ins& i : s) buf.put(crumble_encode(i));
}

std::size_t crumble_raw_run(std::uint32_t* out, const std::vector<Ins>& s) {
  std::uint32_t* p = out;
  for (const Ins& i : s) *p++ = crumble_encode(i).word;  // little-endian host: the same bytes
  return static_cast<std::size_t>(p - out) * 4;
}

void BM_crumble_buffer(benchmark::State& st) {
  const auto& s = stream();
  Buf buf;
  buf.bytes.reserve(4 * s.size());
  for (auto _ : st) {
    crumble_buffer_run(buf, s);
    benchmark::DoNotOptimize(buf.bytes.data());
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * s.size()));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * buf.bytes.size()));
}
BENCHMARK(BM_crumble_buffer)->Name("encode_arm64/crumble/buffer");

void BM_crumble_raw(benchmark::State& st) {
  const auto& s = stream();
  std::vector<std::uint32_t> out(s.size());
  std::size_t n = 0;
  for (auto _ : st) {
    n = crumble_raw_run(out.data(), s);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * s.size()));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * n));
}
BENCHMARK(BM_crumble_raw)->Name("encode_arm64/crumble/raw");

// ---- asmjit -------------------------------------------------------------------------------
#if CRUMBLE_BENCH_HAVE_ASMJIT_A64

namespace aj = asmjit::a64;

inline aj::Gp aj_x(std::uint8_t r) { return asmjit::arm::x(r); }
inline aj::Gp aj_w(std::uint8_t r) { return asmjit::arm::w(r); }
inline aj::Gp aj_base(std::uint8_t r) { return r == 31 ? aj::Gp(aj::sp) : aj::Gp(asmjit::arm::x(r)); }

inline void asmjit_encode(aj::Assembler& as, const Ins& i) {
  using asmjit::Imm;
  switch (i.k) {
    case K::mov_rr: as.mov(aj_x(i.d), aj_x(i.m)); break;
    case K::movz: as.movz(aj_x(i.d), Imm(i.imm), Imm(16 * i.hw)); break;
    case K::movk: as.movk(aj_x(i.d), Imm(i.imm), Imm(16 * i.hw)); break;
    case K::addsub_ri: {
      // asmjit takes the whole value and picks lsl #12 itself when the low 12 bits are zero.
      Imm v(i.hw ? i.imm << 12 : i.imm);
      if (i.op) as.sub(aj_x(i.d), aj_x(i.n), v);
      else as.add(aj_x(i.d), aj_x(i.n), v);
      break;
    }
    case K::addsub_rr:
      if (i.op) as.sub(aj_x(i.d), aj_x(i.n), aj_x(i.m));
      else as.add(aj_x(i.d), aj_x(i.n), aj_x(i.m));
      break;
    case K::logic_ri:
      switch (i.op) {
        case 0: as.and_(aj_x(i.d), aj_x(i.n), Imm(i.imm)); break;
        case 1: as.orr(aj_x(i.d), aj_x(i.n), Imm(i.imm)); break;
        default: as.eor(aj_x(i.d), aj_x(i.n), Imm(i.imm)); break;
      }
      break;
    case K::load: {
      auto m = asmjit::arm::ptr(aj_base(i.n), static_cast<std::int32_t>(i.imm));
      switch (i.size) {
        case 1: as.ldrb(aj_w(i.d), m); break;
        case 2: as.ldrh(aj_w(i.d), m); break;
        case 4: as.ldr(aj_w(i.d), m); break;
        default: as.ldr(aj_x(i.d), m); break;
      }
      break;
    }
    case K::store: {
      auto m = asmjit::arm::ptr(aj_base(i.n), static_cast<std::int32_t>(i.imm));
      switch (i.size) {
        case 1: as.strb(aj_w(i.d), m); break;
        case 2: as.strh(aj_w(i.d), m); break;
        case 4: as.str(aj_w(i.d), m); break;
        default: as.str(aj_x(i.d), m); break;
      }
      break;
    }
    case K::mul: as.mul(aj_x(i.d), aj_x(i.n), aj_x(i.m)); break;
    case K::sdiv: as.sdiv(aj_x(i.d), aj_x(i.n), aj_x(i.m)); break;
    case K::shift:
      if (i.op) as.lsr(aj_x(i.d), aj_x(i.n), Imm(i.imm));
      else as.lsl(aj_x(i.d), aj_x(i.n), Imm(i.imm));
      break;
    case K::cmp_ri: as.cmp(aj_x(i.n), Imm(i.imm)); break;
    case K::cmp_rr: as.cmp(aj_x(i.n), aj_x(i.m)); break;
  }
}

struct AsmjitSession {
  asmjit::CodeHolder code;
  aj::Assembler as;
  AsmjitSession() {
    asmjit::Environment env(asmjit::Arch::kAArch64);
    code.init(env);
    code.attach(&as);
  }
  std::size_t size() { return code.textSection()->buffer().size(); }
  const std::uint8_t* data() { return code.textSection()->buffer().data(); }
};

void BM_asmjit(benchmark::State& st) {
  const auto& s = stream();
  AsmjitSession j;
  for (const Ins& i : s) asmjit_encode(j.as, i);  // grow the section buffer once
  for (auto _ : st) {
    j.as.setOffset(0);
    for (const Ins& i : s) asmjit_encode(j.as, i);
    benchmark::DoNotOptimize(j.data());
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * s.size()));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * j.as.offset()));
}
BENCHMARK(BM_asmjit)->Name("encode_arm64/asmjit");

#endif

// ---- byte-for-byte check --------------------------------------------------------------------

#if CRUMBLE_BENCH_HAVE_ASMJIT_A64
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
  char b[112];
  std::snprintf(b, sizeof b, "%s d=%d n=%d m=%d op=%d size=%d hw=%d imm=%#llx", kind_name[static_cast<int>(i.k)], i.d,
                i.n, i.m, i.op, i.size, i.hw, static_cast<unsigned long long>(i.imm));
  return b;
}
#endif

void check() {
  const auto& s = stream();
  Buf buf;
  crumble_buffer_run(buf, s);
  std::vector<std::uint32_t> raw(s.size());
  raw.resize(crumble_raw_run(raw.data(), s) / 4);
  if (buf.bytes.size() != 4 * raw.size() || std::memcmp(buf.bytes.data(), raw.data(), buf.bytes.size()) != 0)
    std::printf("check: crumble/raw and crumble/buffer DIFFER\n");
#if CRUMBLE_BENCH_HAVE_ASMJIT_A64
  AsmjitSession whole;
  for (const Ins& i : s) asmjit_encode(whole.as, i);
  std::printf("check crumble vs asmjit a64, whole stream (crumble %zu B, asmjit %zu B): %s\n", buf.bytes.size(),
              whole.size(),
              whole.size() == buf.bytes.size() && std::memcmp(whole.data(), buf.bytes.data(), whole.size()) == 0
                  ? "identical"
                  : "different (see per-instruction summary)");
  std::map<int, std::pair<int, int>> per_kind;  // kind -> (differ, total)
  std::map<int, std::string> example;
  std::size_t same = 0;
  for (const Ins& i : s) {
    a::Inst c = crumble_encode(i);
    AsmjitSession j;
    asmjit_encode(j.as, i);  // an instruction asmjit rejects emits nothing (size 0)
    bool eq = j.size() == 4 && std::memcmp(j.data(), c.begin(), 4) == 0;
    auto& [differ, total] = per_kind[static_cast<int>(i.k)];
    ++total;
    if (eq) {
      ++same;
    } else {
      ++differ;
      if (!example.count(static_cast<int>(i.k)))
        example[static_cast<int>(i.k)] =
            describe(i) + ": crumble " + hex(c.begin(), 4) + " | asmjit " + (j.size() ? hex(j.data(), j.size()) : "(error)");
    }
  }
  std::printf("check crumble vs asmjit a64: %zu/%zu instructions identical\n", same, s.size());
  for (auto& [k, dt] : per_kind)
    std::printf("  %-15s %5d instructions, %5d differ%s%s\n", kind_name[k], dt.second, dt.first,
                dt.first ? ", e.g. " : "", dt.first ? example[k].c_str() : "");
#else
  std::printf("asmjit a64: not built (asmjit/a64.h not found by CMake)\n");
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
