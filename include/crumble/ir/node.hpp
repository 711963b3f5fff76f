// SPDX-License-Identifier: Apache-2.0
// crumble/ir/node.hpp — NodeOf<Kinds...>: owns exactly one node of one of several kinds.
//
// It plays the role of std::variant<Kinds...> for the IR, without a union: GCC 12's constant
// evaluator spends exponential time (minutes, then runs out of memory) copying and moving
// std::variant alternatives that hold non-trivial members, which is what IR nodes are. Here
// the node lives on the heap behind one pointer to a small holder with a virtual clone (C++20
// allows virtual calls in constant evaluation); `index` says which kind it is, so access is a
// comparison and a static_cast. Copying clones the node; moving moves the pointer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace crumble::ir {

namespace node_detail {
struct HolderBase {
  constexpr virtual ~HolderBase() = default;
  constexpr virtual HolderBase* clone() const = 0;
};
template <class T>
struct Holder final : HolderBase {
  T value;
  template <class U>
  constexpr explicit Holder(U&& v) : value(std::forward<U>(v)) {}
  constexpr ~Holder() override {}
  constexpr HolderBase* clone() const override { return new Holder(value); }
};
}  // namespace node_detail

template <class... Kinds>
class NodeOf {
 public:
  template <class T>
  static constexpr std::size_t index_of = [] {
    std::size_t i = 0, found = sizeof...(Kinds);
    ((std::is_same_v<T, Kinds> ? (found = i, ++i) : ++i), ...);
    return found;
  }();
  template <class T>
  static constexpr bool holds_kind = index_of<std::remove_cvref_t<T>> < sizeof...(Kinds);

  template <class T>
    requires holds_kind<T>
  constexpr NodeOf(T&& value)
      : node_(new node_detail::Holder<std::remove_cvref_t<T>>(std::forward<T>(value))),
        index_(index_of<std::remove_cvref_t<T>>) {}
  constexpr NodeOf(const NodeOf& o) : node_(o.node_->clone()), index_(o.index_) {}
  constexpr NodeOf(NodeOf&& o) noexcept : node_(std::exchange(o.node_, nullptr)), index_(o.index_) {}
  constexpr NodeOf& operator=(NodeOf o) noexcept {
    std::swap(node_, o.node_);
    std::swap(index_, o.index_);
    return *this;
  }
  constexpr ~NodeOf() { delete node_; }

  constexpr std::size_t index() const { return index_; }
  template <class T>
  constexpr bool holds() const { return index_ == index_of<T>; }
  template <class T>
  constexpr const T* get_if() const {
    return holds<T>() ? &static_cast<const node_detail::Holder<T>*>(node_)->value : nullptr;
  }

  // Calls f with the node, as its own type.
  template <class F>
  constexpr decltype(auto) visit(F&& f) const { return visit_at<0, Kinds...>(f); }

 private:
  node_detail::HolderBase* node_;
  std::uint8_t index_;

  template <std::size_t I, class K, class... Rest, class F>
  constexpr decltype(auto) visit_at(F& f) const {
    if constexpr (sizeof...(Rest) == 0) {
      return f(static_cast<const node_detail::Holder<K>*>(node_)->value);
    } else {
      if (index_ == I) return f(static_cast<const node_detail::Holder<K>*>(node_)->value);
      return visit_at<I + 1, Rest...>(f);
    }
  }
};

}  // namespace crumble::ir
