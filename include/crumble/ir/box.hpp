// SPDX-License-Identifier: Apache-2.0
// crumble/ir/box.hpp — an owning, deep-copying pointer that works in constant evaluation.
//
// IR nodes hold their children by value semantics; a child of the same recursive type needs
// indirection. std::unique_ptr is constexpr only from C++23 and does not copy, so Box does
// both: it is never null once constructed from a value, and copying copies the child.
#pragma once

#include <type_traits>
#include <utility>

namespace crumble::ir {

template <class T>
class Box {
 public:
  // Implicit from anything a T can be made of, so Op{k, Var{"x"}, 1} reads naturally.
  template <class U>
    requires(!std::is_same_v<std::remove_cvref_t<U>, Box> && std::is_constructible_v<T, U>)
  constexpr Box(U&& value) : p_(new T(std::forward<U>(value))) {}
  constexpr Box(const Box& o) : p_(new T(*o.p_)) {}
  constexpr Box(Box&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  constexpr Box& operator=(Box o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  constexpr ~Box() { delete p_; }

  constexpr const T& operator*() const { return *p_; }
  constexpr const T* operator->() const { return p_; }
  constexpr T& operator*() { return *p_; }
  constexpr T* operator->() { return p_; }

 private:
  T* p_;
};

}  // namespace crumble::ir
