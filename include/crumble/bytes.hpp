// SPDX-License-Identifier: Apache-2.0
// crumble/bytes.hpp — little-endian integers in byte buffers: the one set of helpers.
//
// ELF files, ACPI tables, boot_params, kernel headers, snapshot sections and the init protocol are
// all little-endian byte layouts. Every reader and writer goes through these, so the byte order
// and the widths are written once. They are constexpr (the ELF writer runs in constant
// evaluation); compilers turn the shifts into single loads and stores.
//
//   std::uint32_t v = le::load<std::uint32_t>(p);   le::store<std::uint16_t>(p, 0x1234);
//   le::load_n(p, 4);  le::store_n(p, v, 2);        le::append(vec, v, 8);
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace crumble::le {

// The first `bytes` (1-8) bytes at p as an unsigned little-endian number.
constexpr std::uint64_t load_n(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Writes the low `bytes` (1-8) bytes of v at p, least significant first.
constexpr void store_n(std::uint8_t* p, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

template <std::unsigned_integral T>
constexpr T load(const std::uint8_t* p) {
  return static_cast<T>(load_n(p, sizeof(T)));
}

template <std::unsigned_integral T>
constexpr void store(std::uint8_t* p, T v) {
  store_n(p, v, sizeof(T));
}

// Appends the low `bytes` bytes of v to out.
constexpr void append(std::vector<std::uint8_t>& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// Writes the low `bytes` bytes of v at out[at], growing out when it is too short.
constexpr void put(std::vector<std::uint8_t>& out, std::size_t at, std::uint64_t v, int bytes) {
  // resize(n, 0), not resize(n): libstdc++ 12's resize(n) is no constant expression under Clang.
  if (out.size() < at + static_cast<std::size_t>(bytes)) out.resize(at + static_cast<std::size_t>(bytes), 0);
  store_n(out.data() + at, v, bytes);
}

}  // namespace crumble::le
