// SPDX-License-Identifier: Apache-2.0
// crumble/code/byte_vector.hpp — ByteVector: the growable byte array the code buffer writes
// into, as cheap in constant evaluation as a byte array can be.
//
// In GCC's constant evaluator every std::vector<std::uint8_t>::push_back or range insert goes
// through libstdc++'s allocator traits and construct_at, about 235 evaluated operations per
// byte even with the capacity reserved; stores into memory from `new std::uint8_t[n]` cost
// about 70, and far less memory (every evaluated call allocates, and nothing is freed until the
// whole constant expression is done). The lowering writes each byte of code twice (emitted,
// then linked), so this is most of what a constexpr assembly spends on bytes. At run time the
// copies are std::copy (memmove), as std::vector's.
//
// Only what the buffer needs: append at the end, read, clear. Growth doubles the capacity.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace crumble::code {

namespace byte_vector_detail {
// Defined before the class: Clang 19 finds a member template used above its definition
// "undefined" in constant evaluation.
template <class It>
constexpr void copy(It first, It last, std::uint8_t* to) {
  if (std::is_constant_evaluated())
    for (; first != last; ++first) *to++ = static_cast<std::uint8_t>(*first);
  else
    std::copy(first, last, to);
}
}  // namespace byte_vector_detail

class ByteVector {
 public:
  constexpr ByteVector() = default;
  constexpr ByteVector(const ByteVector& o) { append(o.begin(), o.end()); }
  constexpr ByteVector(ByteVector&& o) noexcept : p_(o.p_), n_(o.n_), cap_(o.cap_) {
    o.p_ = nullptr;
    o.n_ = o.cap_ = 0;
  }
  constexpr ByteVector& operator=(ByteVector o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    std::swap(cap_, o.cap_);
    return *this;
  }
  constexpr ~ByteVector() { delete[] p_; }

  constexpr std::size_t size() const { return n_; }
  constexpr bool empty() const { return n_ == 0; }
  constexpr std::size_t capacity() const { return cap_; }
  constexpr std::uint8_t* data() { return p_; }
  constexpr const std::uint8_t* data() const { return p_; }
  constexpr std::uint8_t* begin() { return p_; }
  constexpr std::uint8_t* end() { return p_ + n_; }
  constexpr const std::uint8_t* begin() const { return p_; }
  constexpr const std::uint8_t* end() const { return p_ + n_; }
  constexpr std::uint8_t& operator[](std::size_t i) { return p_[i]; }
  constexpr std::uint8_t operator[](std::size_t i) const { return p_[i]; }

  constexpr void clear() { n_ = 0; }
  constexpr void reserve(std::size_t c) {
    if (c <= cap_) return;
    auto* q = new std::uint8_t[c];  // not value-initialised: every byte is written before it is read
    byte_vector_detail::copy(p_, p_ + n_, q);
    delete[] p_;
    p_ = q;
    cap_ = c;
  }
  constexpr void push_back(std::uint8_t b) {
    if (n_ == cap_) grow(n_ + 1);
    p_[n_++] = b;
  }
  // Appends [first, last): pointers into bytes, or a std::vector's iterators.
  template <class It>
  constexpr void append(It first, It last) {
    const auto k = static_cast<std::size_t>(last - first);
    if (n_ + k > cap_) grow(n_ + k);
    byte_vector_detail::copy(first, last, p_ + n_);
    n_ += k;
  }
  // As std::vector's insert, for the one position the targets' encode_item uses: the end.
  template <class It>
  constexpr void insert([[maybe_unused]] const std::uint8_t* at_end, It first, It last) {
    append(first, last);
  }

  constexpr std::vector<std::uint8_t> to_vector() const { return std::vector<std::uint8_t>(begin(), end()); }
  friend constexpr bool operator==(const ByteVector& a, const std::vector<std::uint8_t>& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  std::uint8_t* p_ = nullptr;
  std::size_t n_ = 0, cap_ = 0;

  constexpr void grow(std::size_t need) { reserve(std::max<std::size_t>({need, 2 * cap_, 64})); }
};

}  // namespace crumble::code
