// SPDX-License-Identifier: Apache-2.0
// tests/host_abi/callee.c — functions a payload calls through the host's C ABI, with more
// parameters than the ABI's argument registers (16 and 9: past 6 on AMD64, past 8 on ARM64 and
// RISC-V) of every integer width and sign. payload_test.cpp compiles this file into itself with
// the host compiler (AMD64) and, for ARM64 and RISC-V, uses the bytes Clang made of it for
// those targets (tests/CMakeLists.txt); the results of direct calls from C++ are the oracle.
//
// Each parameter is folded in after the conversion its type implies, and some are compared as
// the narrow type, so a caller that hands a narrow value over extended the wrong way (or not at
// all where the ABI asks for it: RISC-V wants 32-bit values sign-extended) changes the result.
// No branches on tables, no calls, no globals: the compiled bytes are position-independent.
#include <stdint.h>

#define CRUMBLE_MIX(r, v) ((r) * 31u + (uint64_t)(v))

int64_t host_abi_mix16(int8_t a, uint8_t b, int16_t c, uint16_t d, int32_t e, uint32_t f, int64_t g, uint64_t h,
                       int8_t i, uint8_t j, int16_t k, uint16_t l, int32_t m, uint32_t n, int64_t o, uint64_t p) {
  uint64_t r = (uint64_t)a;
  r = CRUMBLE_MIX(r, b);
  r = CRUMBLE_MIX(r, c);
  r = CRUMBLE_MIX(r, d);
  r = CRUMBLE_MIX(r, e);
  r = CRUMBLE_MIX(r, f);
  r = CRUMBLE_MIX(r, g);
  r = CRUMBLE_MIX(r, h);
  r = CRUMBLE_MIX(r, i);
  r = CRUMBLE_MIX(r, j);
  r = CRUMBLE_MIX(r, k);
  r = CRUMBLE_MIX(r, l);
  r = CRUMBLE_MIX(r, m);
  r = CRUMBLE_MIX(r, n);
  r = CRUMBLE_MIX(r, o);
  r = CRUMBLE_MIX(r, p);
  r += (uint64_t)(f > 0x7fffffffu) + 2u * (n < 16u) + 4u * (j > 127) + 8u * (i < 0) + 16u * (l > 0x8000) +
       32u * (m < -5) + 64u * (k > 300) + 128u * ((uint32_t)(n + f) < f);
  return (int64_t)r;
}

int64_t host_abi_mix9(uint32_t a, int8_t b, uint16_t c, int32_t d, uint8_t e, int16_t f, uint64_t g, int64_t h,
                      uint32_t i) {
  uint64_t r = (uint64_t)a;
  r = CRUMBLE_MIX(r, b);
  r = CRUMBLE_MIX(r, c);
  r = CRUMBLE_MIX(r, d);
  r = CRUMBLE_MIX(r, e);
  r = CRUMBLE_MIX(r, f);
  r = CRUMBLE_MIX(r, g);
  r = CRUMBLE_MIX(r, h);
  r = CRUMBLE_MIX(r, i);
  r += (uint64_t)(i > 0x80000000u) + 2u * (a < 7u) + 4u * (i * 3u < a);
  return (int64_t)r;
}

#undef CRUMBLE_MIX
