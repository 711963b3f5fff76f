// SPDX-License-Identifier: Apache-2.0
// crumble/code/name_table.hpp — NameTable: names to numbers in constant time, in constant
// evaluation as well as at run time.
//
// The lowering looks names up all the time: every variable use finds its home, every call its
// function's label, every embedded string an earlier copy of itself. Linear lists made that
// O(names) per lookup, so a program's cost grew with the square of its function count (a
// 100k-node program lowered at half the rate of a 10k-node one, a 1M-node one at a sixth).
// This is an open-addressing hash table (FNV-1a, linear probing, at most half full) over
// a code::PodVector, so the one lowering keeps its single code path for both kinds of evaluation;
// the bytes produced do not depend on it, only the cost of finding things.
//
// The table refers to the names, it does not copy them (the IR's strings outlive the
// lowering). clear() is O(1): slots carry the generation they were written in, so the
// per-function tables (homes, labels, buffers) are emptied for each function without
// touching their storage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include "pod_vector.hpp"

namespace crumble::code {

class NameTable {
 public:
  static constexpr std::uint32_t none = std::numeric_limits<std::uint32_t>::max();

  // The value stored for name, or `none`.
  constexpr std::uint32_t find(std::string_view name) const {
    if (count_ == 0) return none;
    const std::uint32_t h = hash(name);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.gen != gen_) return none;
      if (s.hash == h && same(s.name, name)) return s.value;
    }
  }
  constexpr bool contains(std::string_view name) const { return find(name) != none; }

  // Adds name -> value. A name already present keeps its first value and false is returned,
  // which is how callers detect duplicates.
  constexpr bool insert(std::string_view name, std::uint32_t value) {
    if (2 * (count_ + 1) > slots_.size()) grow();
    const std::uint32_t h = hash(name);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.gen != gen_) {
        s = Slot{name, value, h, gen_};
        ++count_;
        return true;
      }
      if (s.hash == h && same(s.name, name)) return false;
    }
  }

  // Room for n names without growing (each growth rehashes every name).
  constexpr void reserve(std::size_t n) {
    std::size_t slots = 16;
    while (slots < 2 * n) slots *= 2;
    if (slots > slots_.size()) rehash(slots);
  }

  constexpr void clear() {
    count_ = 0;
    if (++gen_ == 0) {  // after 2^32 clears: slots of generation 0 would look current
      for (Slot& s : slots_) s.gen = 0;
      gen_ = 1;
    }
  }
  constexpr std::size_t size() const { return count_; }

 private:
  struct Slot {
    std::string_view name;
    std::uint32_t value = 0;
    std::uint32_t hash = 0;
    std::uint32_t gen = 0;  // occupied in the current generation when equal to gen_
  };
  PodVector<Slot> slots_;
  std::uint32_t gen_ = 1;
  std::uint32_t count_ = 0;

  // Both over pointers, several characters per statement: in constant evaluation string_view's
  // == compares through char_traits, two calls per character, and Clang's -fconstexpr-steps
  // counts statements; a name is hashed and compared at every use.
  static constexpr std::uint32_t hash(std::string_view s) {
    using u = unsigned char;
    constexpr std::uint32_t prime = 16777619u;
    std::uint32_t h = 2166136261u;
    const char *p = s.data(), *end = p + s.size();
    for (; end - p >= 4; p += 4)
      h = (((((((h ^ u(p[0])) * prime) ^ u(p[1])) * prime) ^ u(p[2])) * prime) ^ u(p[3])) * prime;
    for (; p != end; ++p) h = (h ^ u(*p)) * prime;
    return h;
  }
  static constexpr bool same(std::string_view a, std::string_view b) {
    if (!__builtin_is_constant_evaluated()) return a == b;  // memcmp
    if (a.size() != b.size()) return false;
    const char *p = a.data(), *q = b.data(), *end = p + a.size();
    for (; end - p >= 4; p += 4, q += 4)
      if (p[0] != q[0] || p[1] != q[1] || p[2] != q[2] || p[3] != q[3]) return false;
    for (; p != end; ++p, ++q)
      if (*p != *q) return false;
    return true;
  }

  constexpr void grow() { rehash(slots_.empty() ? 16 : 2 * slots_.size()); }
  constexpr void rehash(std::size_t slots) {
    PodVector<Slot> old = std::move(slots_);
    slots_ = PodVector<Slot>(slots, Slot{});
    const std::size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.gen != gen_) continue;
      std::size_t i = s.hash & mask;
      while (slots_[i].gen == gen_) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }
};

}  // namespace crumble::code
