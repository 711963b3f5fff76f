// SPDX-License-Identifier: Apache-2.0
// crumble/code/pod_vector.hpp — PodVector<T>: the growable arrays of the code buffer (its
// bytes, items, labels and relocations), as cheap in constant evaluation as an array can be.
// ByteVector is PodVector<std::uint8_t>.
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
// Elements are trivially copyable (bytes and plain structs): storage from new T[n] is not
// value-initialised, every element is written before it is read.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace crumble::code {

namespace pod_vector_detail {
// Defined before the class: Clang 19 finds a member template used above its definition
// "undefined" in constant evaluation.
template <class It, class T>
constexpr void copy(It first, It last, T* to) {
  if (__builtin_is_constant_evaluated()) {  // std::is_constant_evaluated() without a call (Clang counts it)
    if constexpr (std::is_pointer_v<It>) {
      // Several elements per statement: Clang's -fconstexpr-steps counts statements, and the
      // image's bytes are copied a few times (each instruction put, the link, the result).
      for (; last - first >= 8; first += 8, to += 8)
        to[0] = static_cast<T>(first[0]), to[1] = static_cast<T>(first[1]), to[2] = static_cast<T>(first[2]),
        to[3] = static_cast<T>(first[3]), to[4] = static_cast<T>(first[4]), to[5] = static_cast<T>(first[5]),
        to[6] = static_cast<T>(first[6]), to[7] = static_cast<T>(first[7]);
      if (last - first >= 4)
        to[0] = static_cast<T>(first[0]), to[1] = static_cast<T>(first[1]), to[2] = static_cast<T>(first[2]),
        to[3] = static_cast<T>(first[3]), first += 4, to += 4;
    }
    for (; first != last; ++first) *to++ = static_cast<T>(*first);
  } else {
    std::copy(first, last, to);
  }
}
}  // namespace pod_vector_detail

template <class T>
class PodVector {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  constexpr PodVector() = default;
  constexpr PodVector(std::size_t n, const T& value) {  // n copies of value
    reserve(n);
    for (; n_ < n; ++n_) p_[n_] = value;
  }
  constexpr PodVector(const PodVector& o) { append(o.begin(), o.end()); }
  constexpr PodVector(PodVector&& o) noexcept : p_(o.p_), n_(o.n_), cap_(o.cap_) {
    o.p_ = nullptr;
    o.n_ = o.cap_ = 0;
  }
  constexpr PodVector& operator=(PodVector o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    std::swap(cap_, o.cap_);
    return *this;
  }
  constexpr ~PodVector() { delete[] p_; }

  constexpr std::size_t size() const { return n_; }
  constexpr bool empty() const { return n_ == 0; }
  constexpr std::size_t capacity() const { return cap_; }
  constexpr T* data() { return p_; }
  constexpr const T* data() const { return p_; }
  constexpr T* begin() { return p_; }
  constexpr T* end() { return p_ + n_; }
  constexpr const T* begin() const { return p_; }
  constexpr const T* end() const { return p_ + n_; }
  constexpr T& operator[](std::size_t i) { return p_[i]; }
  constexpr const T& operator[](std::size_t i) const { return p_[i]; }

  constexpr T& back() { return p_[n_ - 1]; }
  constexpr const T& back() const { return p_[n_ - 1]; }

  constexpr void clear() { n_ = 0; }
  constexpr void pop_back() { --n_; }
  constexpr void reserve(std::size_t c) {
    if (c <= cap_) return;
    T* q = new T[c];  // not value-initialised: every element is written before it is read
    pod_vector_detail::copy(p_, p_ + n_, q);
    delete[] p_;
    p_ = q;
    cap_ = c;
  }
  constexpr void push_back(const T& e) {
    if (n_ == cap_) grow(n_ + 1);
    p_[n_++] = e;
  }
  // Appends [first, last): pointers into bytes, or a std::vector's iterators.
  template <class It>
  constexpr void append(It first, It last) {
    const auto k = static_cast<std::size_t>(last - first);
    if (n_ + k > cap_) grow(n_ + k);
    pod_vector_detail::copy(first, last, p_ + n_);
    n_ += k;
  }
  // As std::vector's insert, for the one position the targets' encode_item uses: the end
  // (another is a mistake, refused: in constant evaluation it does not compile).
  template <class It>
  constexpr void insert(const T* at_end, It first, It last) {
    if (at_end != end()) throw std::logic_error("PodVector::insert: only at the end");
    append(first, last);
  }

  constexpr std::vector<T> to_vector() const { return std::vector<T>(begin(), end()); }
  friend constexpr bool operator==(const PodVector& a, const std::vector<T>& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  T* p_ = nullptr;
  std::size_t n_ = 0, cap_ = 0;

  constexpr void grow(std::size_t need) { reserve(std::max<std::size_t>({need, 2 * cap_, 64})); }
};

using ByteVector = PodVector<std::uint8_t>;

}  // namespace crumble::code
